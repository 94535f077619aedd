/**
 * The reduce phase of a classic task (wire spec §6.2, the original's `Worker.reduce`).
 *
 * Inputs: when every input is a `dir://` index (the map results), each index is read and only
 * the lines labelled with this task's partition (its task id) are kept — all lines when
 * `mergePartitions` is set; other inputs (a reduce-only job's inputs) are read as they are.
 * Entries come through `reduceInputStream` and `reduceReader` (default: record streams
 * decoded, text read as lines), in input order, or sorted by key with `sort: true` (external
 * merge sort, bounded memory; the default reader then gives record streams' records as bytes,
 * decoded once, after the sort). Then `reduceInit(entries, params)` and either
 * `reduce(entries, params)` returning/yielding pairs (`reduceStyle: 'iter'`) or
 * `reduce(entries, out, params)` calling `out.add(k, v)` (`'out'`). One output, always.
 *
 * @example
 * const [output] = runReduce(run); // then OUTPUT [rel, 'disco', '0']
 */
import { JobError } from '../common/errors.js';
import { EncodedRecord, RECORD_VERSION, readEncodedRecords } from '../protocol/record-stream.js';
import { externalProgramOf } from './external/program-function.js';
import { runExternalReduce } from './external/run-external.js';
import { expandInputs, isPartitioned, readInputs } from './inputs.js';
import type { TaskOutput } from './outputs.js';
import { autoReader, peekRecordVersion, type StreamFunction } from './readers/chain.js';
import { asInputStream } from './readers/input-stream.js';
import { asPair, pairsOf } from './results.js';
import { externalSort, type SortStats } from './sort/external-sort.js';
import { StatusIterator } from './status.js';
import type { TaskRun } from './task-run.js';

/**
 * The default reader ({@link autoReader}), except that record streams give their records as
 * bytes ({@link EncodedRecord}), which the sort keeps as they are: never decoded before the
 * reduce iterates over them.
 */
function encodedRecordReader(stream: unknown, size: number | null, url: string): Iterable<unknown> {
  const s = asInputStream(stream, size, url);
  if (s === null) return autoReader(stream, size, url);
  return peekRecordVersion(s) === RECORD_VERSION ? readEncodedRecords(s, { url }) : autoReader(s, size, url);
}

/** Run the reduce phase; returns the output written (not yet closed). */
export function runReduce(run: TaskRun): TaskOutput[] {
  const { fns, params, data } = run;
  const reduce = fns.reduce;
  if (!reduce) throw new JobError('this job has no reduce function');

  const label = isPartitioned(run.inputs) && !data.mergePartitions ? String(run.task.taskid) : null;
  const inputs = expandInputs(run.inputs, { proto: run.proto, ctx: run.openCtx, label });
  const streams = (fns.reduceInputStream ?? []) as StreamFunction[];
  const reader = fns.reduceReader as StreamFunction | null | undefined;
  // The sort keeps records encoded: with the default reader, it takes them as bytes.
  const inputReader = data.sort && reader === undefined ? encodedRecordReader : reader;
  const allEntries = () => readInputs(inputs, run.proto, (url) => run.openInput(url, streams, inputReader));

  let source: Iterator<unknown> = allEntries();
  const sortStats: SortStats = { records: 0, runs: 0, bytesSpilled: 0, mergePasses: 0 };
  if (data.sort) {
    let told = false;
    const unsorted = source;
    const pairs: IterableIterator<[unknown, unknown] | EncodedRecord> = {
      next() {
        const r = unsorted.next();
        if (r.done) return r;
        const e = r.value;
        if (e instanceof EncodedRecord || (Array.isArray(e) && e.length === 2))
          return r as IteratorResult<[unknown, unknown] | EncodedRecord>;
        return { value: asPair(e, 'the reduce reader (sort: true)'), done: false };
      },
      [Symbol.iterator]() {
        return pairs;
      },
    };
    source = externalSort(pairs, {
      bufferSize: data.sortBufferSize,
      tmpDir: run.paths.tmp,
      stats: sortStats,
      onSpill: () => {
        if (told) return;
        told = true;
        run.msg(
          `Sorting: input exceeds the sort buffer (${data.sortBufferSize} bytes), merging sorted runs from disk`,
        );
      },
    });
  }
  const entries = new StatusIterator(source, data.statusInterval, (n) => `${n} entries reduced`, run.msg);

  // The output exists even when there is nothing to reduce (the original opens it first).
  const out = run.outputs.get(null);
  fns.reduceInit?.(entries, params);
  const external = externalProgramOf(reduce);
  if (external) runExternalReduce(run, external, entries, out);
  else if (data.reduceStyle === 'out') reduce(entries, out.sink, params);
  else for (const [k, v] of pairsOf(reduce(entries, params), 'reduce')) out.add(k, v);
  if (sortStats.runs > 0)
    run.msg(
      `Sorted ${sortStats.records} entries: ${sortStats.runs} runs, ` +
        `${(sortStats.bytesSpilled / 1048576).toFixed(1)} MiB spilled to disk (${sortStats.bytesSpilled} bytes), ` +
        `${sortStats.mergePasses} merge passes`,
    );
  return run.outputs.list();
}
