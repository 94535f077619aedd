/**
 * Decoded records of a record stream (docs/record-format.md), in either format a stream may
 * be in: hunks (read by {@link HunkReader}, a slice at a time), or version 0 text netstrings.
 *
 * @example
 * for (const [k, v] of readRecords(new BufferSource(bytes))) ...
 */
import { type ByteSource, readFully } from './byte-source.js';
import { HUNK_HEADER, type KV } from './format.js';
import { HunkReader, type ReadOptions } from './hunk-reader.js';
import { readOldNetstrings } from './old-netstring.js';

/**
 * The reader of a stream's records, by its first byte: its hunks, or — below 0x80, Disco's
 * oldest format — its version 0 netstrings. Reads the first header.
 */
export function openRecordStream(src: ByteSource, opts: ReadOptions): HunkReader | Iterator<KV> {
  const header = readFully(src, HUNK_HEADER);
  if (header.length > 0 && header[0] < 0x80) return readOldNetstrings(src, header, opts);
  return new HunkReader(src, opts, header);
}

/**
 * Decode every record of a record stream (possibly several concatenated streams), lazily:
 * nothing is read before the first record is asked for.
 */
export function readRecords(src: ByteSource, opts: ReadOptions = {}): IterableIterator<KV> {
  return new RecordIterator(src, opts);
}

class RecordIterator implements IterableIterator<KV> {
  private hunks: HunkReader | null = null;
  private old: Iterator<KV> | null = null;
  private vals: unknown[] = [];
  private i = 0;
  private done = false;

  constructor(
    private readonly src: ByteSource,
    private readonly opts: ReadOptions,
  ) {}

  next(): IteratorResult<KV> {
    for (;;) {
      const vals = this.vals;
      const i = this.i;
      if (i < vals.length) {
        this.i = i + 2;
        return { value: [vals[i], vals[i + 1]], done: false };
      }
      if (this.done) return { value: undefined, done: true };
      if (this.old) return this.old.next();
      try {
        if (!this.hunks) {
          const stream = openRecordStream(this.src, this.opts);
          if (!(stream instanceof HunkReader)) {
            this.old = stream;
            continue;
          }
          this.hunks = stream;
        }
        const next = this.hunks.next();
        this.vals = next ?? [];
        this.i = 0;
        if (next === null) this.done = true;
      } catch (e) {
        this.done = true;
        this.vals = [];
        throw e;
      }
    }
  }

  return(): IteratorResult<KV> {
    this.done = true;
    this.vals = [];
    this.old?.return?.();
    return { value: undefined, done: true };
  }

  [Symbol.iterator](): this {
    return this;
  }
}
