/**
 * External merge sort of `[key, value]` records for `sort: true` jobs (replacing the
 * original's `sort -z` over a temporary file). Memory is bounded whatever the input size:
 *
 * 1. records are buffered until they take `bufferSize` bytes, then sorted (stable, by
 *    `compareKeys`) and spilled to a run file in the record format;
 * 2. runs are merged with a tournament tree, at most `fanIn` at a time (when there are more,
 *    groups of consecutive runs are merged first, just enough for one final merge), ties
 *    broken by run order — so the whole sort is stable.
 *
 * Input that fits in the buffer is sorted in memory and never touches the disk. Run files
 * live in `tmpDir` and are removed as soon as they are merged (and when the caller stops
 * early).
 *
 * This module drives the sort (when to spill, which runs to merge first); the buffer is
 * sort-buffer.ts, run files run-files.ts, the merge merger.ts, key prefixes key-prefix.ts.
 *
 * String keys (the common case) take a fast path. The buffer holds such records encoded, as
 * they will be written (see {@link SortBuffer}: compact, outside the JavaScript heap, and a
 * spill is a copy of bytes). Each key gets a number that orders like the key's first bytes
 * (`utf8Prefix` of key-prefix.ts); the buffer is sorted by a native sort of 64-bit numbers made
 * of the prefix and the record's index, and only records with equal prefixes are compared in
 * full (bytewise, as UTF-8 orders like UTF-16 below U+D000). The merge compares a prefix of the
 * decoded keys first too (`keyPrefix` of key-prefix.ts). Records are what the record format
 * gives back (as after any spill), in the order of `compareKeys`. Buffer keys (what external
 * programs give) take the same path: held encoded, prefixed by their first bytes
 * (`bytesPrefix` of key-prefix.ts) and compared bytewise, as `compareKeys` orders them. Buffers
 * with other keys (or with both strings and Buffers) hold objects and sort with `compareKeys`.
 *
 * Records may come as their bytes ({@link EncodedRecord}: a reduce's record-format inputs, read
 * by `readEncodedRecords`): such records with string or Buffer keys are copied into the buffer
 * as they are (a string key's bytes must be well-formed UTF-8 to be compared as bytes) and
 * decoded only once sorted (as the merge reads runs back, or from the buffer when nothing was
 * spilled); others are decoded as they come.
 *
 * @example
 * for (const [k, v] of externalSort(records, { bufferSize: 64 << 20, tmpDir })) ...
 */
import { unlinkSync } from 'node:fs';
import path from 'node:path';
import { EncodedRecord, type KV } from '../../protocol/record-stream.js';
import { Merger } from './merger.js';
import { commonKind, type KeyKind, type RecordSource, type Run, writeRun } from './run-files.js';
import { SortBuffer } from './sort-buffer.js';

export interface ExternalSortOptions {
  /**
   * Bytes of records held in memory before spilling a run: encoded records count their bytes
   * plus their index entries, records held as objects an estimate of their decoded size.
   */
  bufferSize: number;
  /** Where run files go. */
  tmpDir: string;
  /** Most runs merged at once (bounds open files and merge memory). Default {@link DEFAULT_FAN_IN}. */
  fanIn?: number;
  /** Told the number of runs after each spill (for progress messages). */
  onSpill?: (runs: number) => void;
  /** Filled in as the sort goes (for progress and benchmarks). */
  stats?: SortStats;
}

/** What a sort did. */
export interface SortStats {
  records: number;
  /** Run files written (merge passes included). */
  runs: number;
  /** Bytes written to run files (merge passes included). */
  bytesSpilled: number;
  /** Merge passes over run files (the final merge included; 0 when nothing was spilled). */
  mergePasses: number;
}

/**
 * Runs merged at once by default: 2 GiB through a 16 MiB buffer make about 160 runs, merged in
 * one pass (each run is then read in hunks of `bufferSize / 512`, 32 KiB).
 */
export const DEFAULT_FAN_IN = 256;

let runCounter = 0;

/** Sort `records` by key (see module docs); yields `[key, value]` pairs in order. */
export function* externalSort(
  records: Iterable<readonly [unknown, unknown] | EncodedRecord>,
  opts: ExternalSortOptions,
): Generator<KV> {
  const fanIn = Math.max(2, opts.fanIn ?? DEFAULT_FAN_IN);
  const stats = opts.stats ?? { records: 0, runs: 0, bytesSpilled: 0, mergePasses: 0 };
  // Run hunks (and the slices they are decoded in) small enough that `fanIn` runs being
  // merged hold about the buffer size.
  const hunkBytes = Math.min(1 << 20, Math.max(8 << 10, Math.floor(opts.bufferSize / fanIn / 2)));
  const sliceBytes = Math.max(4 << 10, hunkBytes >> 2);
  const live = new Set<string>();
  const newRun = () => {
    const p = path.join(opts.tmpDir, `sort-run-${process.pid}-${++runCounter}`);
    live.add(p);
    return p;
  };
  const drop = (p: string) => {
    live.delete(p);
    try {
      unlinkSync(p);
    } catch {
      // already removed
    }
  };
  const spill = (records: RecordSource, keys: KeyKind): Run => {
    stats.runs++;
    const file = newRun();
    stats.bytesSpilled += writeRun(records, file, hunkBytes);
    return { file, keys };
  };
  try {
    let objects = false;
    let buf: SortBuffer | null = new SortBuffer(opts.bufferSize, objects);
    const runs: Run[] = [];
    for (const rec of records) {
      if (rec instanceof EncodedRecord) buf.addRecord(rec);
      else buf.add(rec[0], rec[1]);
      stats.records++;
      if (buf.bytes >= opts.bufferSize) {
        objects = buf.objects;
        runs.push(spill(buf.source(buf.order()), buf.runKind));
        buf.reset(objects);
        opts.onSpill?.(runs.length);
      }
    }
    if (runs.length === 0) {
      const last = buf;
      buf = null;
      yield* last.records(last.order());
      return;
    }
    if (buf.n > 0) runs.push(spill(buf.source(buf.order()), buf.runKind));
    buf = null;
    // Too many runs for one merge: merge groups of consecutive runs (ties go by run order, so
    // the sort stays stable), just enough of them for the final merge to take at most `fanIn`
    // — only part of the data is written again (all of it when a sweep over the runs is not
    // enough, which starts another).
    let at = runs.length;
    while (runs.length > fanIn) {
      const size = Math.min(fanIn, runs.length - fanIn + 1);
      if (at + size > runs.length) {
        at = 0;
        stats.mergePasses++;
      }
      const group = runs.slice(at, at + size);
      const merger = new Merger(group, drop, sliceBytes);
      try {
        runs.splice(at, size, spill(merger, commonKind(group)));
      } finally {
        merger.close();
      }
      at++;
    }
    stats.mergePasses++;
    const merger = new Merger(runs, drop, sliceBytes);
    try {
      for (;;) {
        if (!merger.advance()) break;
        yield [merger.key, merger.value];
      }
    } finally {
      merger.close();
    }
  } finally {
    for (const p of [...live]) drop(p);
  }
}
