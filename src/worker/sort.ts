/**
 * External merge sort of `[key, value]` records for `sort: true` jobs (replacing the
 * original's `sort -z` over a temporary file). Memory is bounded whatever the input size:
 *
 * 1. records are buffered until their estimated size reaches `bufferSize` bytes, then sorted
 *    (stable, by `compareKeys`) and spilled to a run file in the record format;
 * 2. runs are merged with a binary heap, at most `fanIn` at a time (several passes when there
 *    are more), ties broken by run order — so the whole sort is stable.
 *
 * Input that fits in the buffer is sorted in memory and never touches the disk. Run files
 * live in `tmpDir` and are removed as soon as they are merged (and when the caller stops
 * early).
 *
 * @example
 * for (const [k, v] of externalSort(records, { bufferSize: 64 << 20, tmpDir })) ...
 */
import { closeSync, openSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { FileSource, type KV, RecordWriter, readRecords } from '../protocol/record-stream.js';
import { MinHeap } from './heap.js';
import { compareKeys, estimateSize } from './key-order.js';

export interface ExternalSortOptions {
  /** Bytes of (estimated) decoded records held in memory before spilling a run. */
  bufferSize: number;
  /** Where run files go. */
  tmpDir: string;
  /** Most runs merged at once (bounds open files and merge memory). Default 64. */
  fanIn?: number;
  /** Told the number of runs after each spill (for progress messages). */
  onSpill?: (runs: number) => void;
}

/** Estimated per-record overhead beyond key and value (the pair array, references). */
const RECORD_OVERHEAD = 40;

let runCounter = 0;

const byKey = (a: KV, b: KV) => compareKeys(a[0], b[0]);

/** Sort `records` by key (see module docs); yields `[key, value]` pairs in order. */
export function* externalSort(
  records: Iterable<readonly [unknown, unknown]>,
  opts: ExternalSortOptions,
): Generator<KV> {
  const fanIn = Math.max(2, opts.fanIn ?? 64);
  // Hunks small enough that `fanIn` open runs stay within about the buffer size.
  const hunkBytes = Math.min(1 << 20, Math.max(16 << 10, Math.floor(opts.bufferSize / fanIn)));
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
  try {
    let buf: KV[] = [];
    let est = 0;
    let runs: string[] = [];
    for (const rec of records) {
      const kv: KV = [rec[0], rec[1]];
      buf.push(kv);
      est += RECORD_OVERHEAD + estimateSize(kv[0]) + estimateSize(kv[1]);
      if (est >= opts.bufferSize) {
        runs.push(writeRun(buf.sort(byKey), newRun(), hunkBytes));
        buf = [];
        est = 0;
        opts.onSpill?.(runs.length);
      }
    }
    buf.sort(byKey);
    if (runs.length === 0) {
      yield* buf;
      return;
    }
    if (buf.length > 0) runs.push(writeRun(buf, newRun(), hunkBytes));
    buf = [];
    while (runs.length > fanIn) {
      const next: string[] = [];
      for (let i = 0; i < runs.length; i += fanIn) {
        const group = runs.slice(i, i + fanIn);
        if (group.length === 1) {
          next.push(group[0]);
          continue;
        }
        next.push(writeRun(mergeRuns(group, drop), newRun(), hunkBytes));
      }
      runs = next;
    }
    yield* mergeRuns(runs, drop);
  } finally {
    for (const p of [...live]) drop(p);
  }
}

/** Write sorted records to a run file; returns its path. */
function writeRun(records: Iterable<KV>, file: string, hunkBytes: number): string {
  const fd = openSync(file, 'w');
  try {
    const w = new RecordWriter(
      (hunk) => {
        let off = 0;
        while (off < hunk.length) off += writeSync(fd, hunk, off, hunk.length - off);
      },
      { compress: false },
    );
    let pending = 0;
    for (const [k, v] of records) {
      w.write(k, v);
      pending += RECORD_OVERHEAD + estimateSize(k) + estimateSize(v);
      if (pending >= hunkBytes) {
        w.flush();
        pending = 0;
      }
    }
    w.close();
  } finally {
    closeSync(fd);
  }
  return file;
}

interface Head {
  kv: KV;
  run: number;
  it: Iterator<KV>;
}

/** K-way merge of sorted run files (stable: equal keys come in run order); removes each run once read. */
function* mergeRuns(runs: string[], drop: (p: string) => void): Generator<KV> {
  const sources: (FileSource | null)[] = runs.map((p) => new FileSource(p));
  const heap = new MinHeap<Head>((a, b) => compareKeys(a.kv[0], b.kv[0]) || a.run - b.run);
  const finish = (i: number) => {
    sources[i]?.close();
    sources[i] = null;
    drop(runs[i]);
  };
  try {
    sources.forEach((src, i) => {
      const it = readRecords(src as FileSource, { url: runs[i] });
      const first = it.next();
      if (first.done) finish(i);
      else heap.push({ kv: first.value, run: i, it });
    });
    while (heap.size > 0) {
      const top = heap.peek() as Head;
      const kv = top.kv;
      const next = top.it.next();
      if (next.done) {
        heap.pop();
        finish(top.run);
      } else heap.replaceTop({ kv: next.value, run: top.run, it: top.it });
      yield kv;
    }
  } finally {
    sources.forEach((s, i) => {
      if (s) finish(i);
    });
  }
}
