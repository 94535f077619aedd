/**
 * The map phase of a classic task (wire spec §6.2, the original's `Worker.map`): read every
 * input entry (with replica fail-over), call `map(entry, params)`, label each `[key, value]`
 * with `partition(key, partitions, params)` (default: a stable hash), pass it through the
 * per-partition `combiner` when there is one, and write it to that partition's output.
 *
 * Combiner semantics (as the original): `combiner(key, value, buffer, false, params)` for every
 * record, with one `buffer` (a `Map`) per partition; after the last entry,
 * `combiner(null, null, buffer, true, params)` once per partition. Only what the combiner
 * returns (an iterable of pairs, or nothing) is written. The built-in `sumCombiner` has a
 * faster equivalent with bounded memory (see `combine.ts`).
 *
 * @example
 * const outputs = runMap(run); // then OUTPUT [rel, 'part', label] for each
 */
import { JobError } from '../common/errors.js';
import { makeMapSink } from './combine.js';
import { BinaryMapSink, canWriteBinary } from './external/binary-map-sink.js';
import { externalProgramOf } from './external/program-function.js';
import { runExternalMap } from './external/run-external.js';
import { expandInputs, readInputs } from './inputs.js';
import type { TaskOutput } from './outputs.js';
import type { StreamFunction } from './readers/chain.js';
import { asPair, itemsOf } from './results.js';
import { StatusIterator } from './status.js';
import type { TaskRun } from './task-run.js';

type PairSink = { add(key: unknown, value: unknown): void };

/** Hand every pair of what `map` returned to `sink` (arrays without an iterator). */
function addPairs(produced: unknown, sink: PairSink): void {
  if (Array.isArray(produced)) {
    for (let i = 0; i < produced.length; i++) {
      const x: unknown = produced[i];
      const p = Array.isArray(x) && x.length === 2 ? x : asPair(x, 'map');
      sink.add(p[0], p[1]);
    }
    return;
  }
  for (const x of itemsOf(produced, 'map')) {
    const p = Array.isArray(x) && x.length === 2 ? x : asPair(x, 'map');
    sink.add(p[0], p[1]);
  }
}

/** Run the map phase; returns the outputs written (not yet closed). */
export function runMap(run: TaskRun): TaskOutput[] {
  const { fns, params, data } = run;
  const map = fns.map;
  if (!map) throw new JobError('this job has no map function');

  const inputs = expandInputs(run.inputs, { proto: run.proto, ctx: run.openCtx, label: null });
  const streams = (fns.mapInputStream ?? []) as StreamFunction[];
  const reader = fns.mapReader as StreamFunction | null | undefined;
  const allEntries = () => readInputs(inputs, run.proto, (url) => run.openInput(url, streams, reader));
  const entries = new StatusIterator(
    allEntries(),
    data.statusInterval,
    (n) => `${n} entries mapped`,
    run.msg,
  );

  const partitions = Math.max(data.partitions, 0);
  const sink = makeMapSink({
    outputs: run.outputs,
    partitions,
    partition: fns.partition as Parameters<typeof makeMapSink>[0]['partition'],
    combiner: fns.combiner as Parameters<typeof makeMapSink>[0]['combiner'],
    params,
  });
  fns.mapInit?.(entries, params);
  const external = externalProgramOf(map);
  // Results only written out (no combiner, default partition) go to the outputs as bytes.
  if (external)
    runExternalMap(
      run,
      external,
      entries,
      canWriteBinary(fns) ? new BinaryMapSink(run.outputs, partitions) : sink,
    );
  else for (const entry of entries) addPairs(map(entry, params), sink);
  sink.finish();
  return run.outputs.list();
}
