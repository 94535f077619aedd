/**
 * The external sort's run files: sorted records spilled in the record format (uncompressed,
 * in hunks small enough for many runs to be merged at once), written by {@link writeRun} and
 * read back a record at a time by a {@link RunCursor}.
 *
 * @example
 * const bytes = writeRun(buf.source(buf.order()), file, 32 << 10);
 * const c = new RunCursor(0, new FileSource(file), file, 'string', 8 << 10);
 * while (c.advance()) use(c.key, c.value);
 */
import { closeSync, openSync } from 'node:fs';
import { writeAllSync } from '../../common/fd-write.js';
import { type FileSource, HunkReader, RecordWriter } from '../../protocol/record-stream.js';
import { bytesPrefix, keyPrefix } from './key-prefix.js';

/** What the keys of encoded records are (a sort buffer, a run file): one kind at a time. */
export type KeyKind = 'string' | 'binary' | 'mixed';

/** A run file on disk. */
export interface Run {
  file: string;
  /** Every key in it is a string, every key a Buffer, or anything. */
  keys: KeyKind;
}

/** The kind of the keys of all `runs`. */
export function commonKind(runs: Run[]): KeyKind {
  const k = runs.length > 0 ? runs[0].keys : 'mixed';
  return runs.every((r) => r.keys === k) ? k : 'mixed';
}

/**
 * Records in order, one at a time (`advance()` false at the end); or, for records already
 * encoded, `writeTo(writer)` (false at the end).
 */
export interface RecordSource {
  key: unknown;
  value: unknown;
  advance(): boolean;
  writeTo?(w: RecordWriter): boolean;
}

/** Write sorted records to a run file (uncompressed record format); returns the bytes written. */
export function writeRun(records: RecordSource, file: string, hunkBytes: number): number {
  const fd = openSync(file, 'w');
  try {
    const w = new RecordWriter((hunk) => writeAllSync(fd, hunk), { compress: false, hunkSize: hunkBytes });
    if (records.writeTo) while (records.writeTo(w));
    else while (records.advance()) w.write(records.key, records.value);
    w.close();
    return w.bytesOut;
  } finally {
    closeSync(fd);
  }
}

/** One run being merged: its current record. */
export class RunCursor {
  key: unknown = undefined;
  value: unknown = undefined;
  /** {@link keyPrefix} or {@link bytesPrefix} of the key (string or binary runs only). */
  prefix = 0;
  done = false;
  private vals: unknown[] = [];
  private i = 0;
  private readonly hunks: HunkReader;

  constructor(
    readonly index: number,
    private readonly src: FileSource,
    url: string,
    private readonly keys: KeyKind,
    sliceBytes: number,
  ) {
    this.hunks = new HunkReader(src, { url, sliceBytes });
  }

  /** Move to the next record; false (and `done`) at the end. */
  advance(): boolean {
    if (this.i >= this.vals.length) {
      const next = this.done ? null : this.hunks.next();
      if (next === null) {
        this.done = true;
        this.vals = [];
        this.key = undefined;
        this.value = undefined;
        return false;
      }
      this.vals = next;
      this.i = 0;
    }
    const k = this.vals[this.i];
    this.key = k;
    this.value = this.vals[this.i + 1];
    this.i += 2;
    if (this.keys === 'string') this.prefix = keyPrefix(k as string);
    else if (this.keys === 'binary') this.prefix = bytesPrefix(k as Buffer, 0, (k as Buffer).length);
    return true;
  }

  close(): void {
    this.src.close();
  }
}
