/**
 * The map phase of a classic task (wire spec §6.2, the original's `Worker.map`): read every
 * input entry (with replica fail-over), call `map(entry, params)`, label each `[key, value]`
 * with `partition(key, partitions, params)` (default: a stable hash), pass it through the
 * per-partition `combiner` when there is one, and write it to that partition's output.
 *
 * Combiner semantics (as the original): `combiner(key, value, buffer, false, params)` for every
 * record, with one `buffer` (a `Map`) per partition; after the last entry,
 * `combiner(null, null, buffer, true, params)` once per partition. Only what the combiner
 * returns (an iterable of pairs, or nothing) is written.
 *
 * @example
 * const outputs = runMap(run); // then OUTPUT [rel, 'part', label] for each
 */
import { JobError } from '../common/errors.js';
import { defaultPartition } from './func.js';
import { expandInputs, readInput } from './inputs.js';
import type { TaskOutput } from './outputs.js';
import type { StreamFunction } from './readers/chain.js';
import { pairsOf } from './results.js';
import { StatusIterator } from './status.js';
import type { TaskRun } from './task-run.js';

/** The partition label of `key`, checked (a NaN or missing label would lose records). */
function labelOf(
  partition: (key: unknown, n: number, params: unknown) => unknown,
  key: unknown,
  n: number,
  params: unknown,
): string {
  const p = partition(key, n, params);
  if (p === null || p === undefined || (typeof p === 'number' && !Number.isFinite(p)))
    throw new TypeError(`partition() returned ${String(p)} for key ${JSON.stringify(key) ?? String(key)}`);
  return String(p);
}

/** Run the map phase; returns the outputs written (not yet closed). */
export function runMap(run: TaskRun): TaskOutput[] {
  const { fns, params, data } = run;
  const map = fns.map;
  if (!map) throw new JobError('this job has no map function');
  const partitions = data.partitions;
  const partition = (fns.partition ?? defaultPartition) as (
    key: unknown,
    n: number,
    params: unknown,
  ) => unknown;
  const combiner = fns.combiner ?? null;

  const inputs = expandInputs(run.inputs, { proto: run.proto, ctx: run.openCtx, label: null });
  const streams = (fns.mapInputStream ?? []) as StreamFunction[];
  const reader = fns.mapReader as StreamFunction | null | undefined;
  function* allEntries(): Generator<unknown> {
    for (const input of inputs)
      yield* readInput(input, run.proto, (url) => run.openInput(url, streams, reader));
  }
  const entries = new StatusIterator(
    allEntries(),
    data.statusInterval,
    (n) => `${n} entries mapped`,
    run.msg,
  );

  fns.mapInit?.(entries, params);
  const buffers = new Map<string | null, Map<unknown, unknown>>();
  for (const entry of entries) {
    for (const [key, value] of pairsOf(map(entry, params), 'map')) {
      const label = partitions > 0 ? labelOf(partition, key, partitions, params) : null;
      if (combiner) {
        let buf = buffers.get(label);
        if (!buf) {
          buf = new Map();
          buffers.set(label, buf);
        }
        const produced = combiner(key, value, buf, false, params);
        if (produced !== undefined && produced !== null) {
          const out = run.outputs.get(label);
          for (const rec of pairsOf(produced, 'combiner')) out.add(rec[0], rec[1]);
        }
      } else run.outputs.get(label).add(key, value);
    }
  }
  for (const [label, buf] of buffers) {
    const produced = combiner?.(null, null, buf, true, params);
    if (produced === undefined || produced === null) continue;
    const out = run.outputs.get(label);
    for (const rec of pairsOf(produced, 'combiner')) out.add(rec[0], rec[1]);
  }
  return run.outputs.list();
}
