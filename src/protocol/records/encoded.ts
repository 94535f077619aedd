/**
 * Records of a record stream as their MessagePack bytes, for consumers that keep records
 * encoded (the external sort copies them into its buffer as they are and decodes them once
 * sorted): each hunk is checked as {@link readRecords} checks it, then walked by
 * {@link scanValues}, one {@link EncodedRecord} moved on from record to record.
 */
import { DataError } from '../../common/errors.js';
import type { ByteSource } from './byte-source.js';
import { DETACHED_BYTES, unpackRange } from './codec.js';
import type { KV } from './format.js';
import { HunkReader, type ReadOptions, SLICE_BYTES, unpackWholeHunk } from './hunk-reader.js';
import { openRecordStream } from './reader.js';
import { scanValues, valueStarts } from './value-scanner.js';

/**
 * One record of a record stream as its MessagePack bytes: the key is `buf[start, valueAt)`,
 * the value `buf[valueAt, end)`. {@link readEncodedRecords} gives the same object for every
 * record, moved on; its bytes are valid until the iterator's next step.
 */
export class EncodedRecord {
  buf: Buffer = Buffer.alloc(0);
  start = 0;
  valueAt = 0;
  end = 0;

  constructor(private readonly owner: EncodedRecordIterator) {}

  /**
   * The record decoded. Its iterator gives decoded `[key, value]` pairs from then on (a
   * consumer that decodes one record will decode the others too).
   */
  decode(): KV {
    return this.owner.decodeCurrent();
  }
}

/**
 * The records of a record stream as {@link readRecords} reads them, checked alike, but given
 * as their bytes ({@link EncodedRecord}, one object moved on from record to record) for
 * consumers that keep records encoded (the external sort). Hunks with extension types, and
 * version 0 files, give decoded `[key, value]` pairs instead, as does every record after one
 * was decoded through {@link EncodedRecord.decode}.
 *
 * @example
 * for (const r of readEncodedRecords(new FileSource(file))) {
 *   if (r instanceof EncodedRecord) keep(r.buf.subarray(r.start, r.end));
 *   else keepPair(r);
 * }
 */
export function readEncodedRecords(
  src: ByteSource,
  opts: ReadOptions = {},
): IterableIterator<EncodedRecord | KV> {
  return new EncodedRecordIterator(src, opts);
}

class EncodedRecordIterator implements IterableIterator<EncodedRecord | KV> {
  private hunks: HunkReader | null = null;
  private old: Iterator<KV> | null = null;
  private readonly record = new EncodedRecord(this);
  private readonly starts = valueStarts();
  /** The hunk whose records are given, the next one's index, and how many it holds. */
  private body: Buffer | null = null;
  private r = 0;
  private records = 0;
  /** Decoded values (key, value, ...) still to give. */
  private vals: unknown[] = [];
  private vi = 0;
  /** A record was decoded: decode the others too (a slice at a time). */
  private decoding = false;
  private done = false;

  constructor(
    private readonly src: ByteSource,
    private readonly opts: ReadOptions,
  ) {}

  next(): IteratorResult<EncodedRecord | KV> {
    for (;;) {
      const vals = this.vals;
      const vi = this.vi;
      if (vi < vals.length) {
        this.vi = vi + 2;
        return { value: [vals[vi], vals[vi + 1]], done: false };
      }
      const body = this.body;
      if (body !== null && this.r < this.records) {
        if (this.decoding) {
          this.decodeSlice(body);
          continue;
        }
        const at = this.starts.at;
        const k = 2 * this.r++;
        const rec = this.record;
        rec.buf = body;
        rec.start = at[k];
        rec.valueAt = at[k + 1];
        rec.end = at[k + 2];
        return { value: rec, done: false };
      }
      if (this.done) return { value: undefined, done: true };
      if (this.old) return this.old.next();
      this.body = null;
      try {
        if (!this.hunks) {
          const stream = openRecordStream(this.src, this.opts);
          if (!(stream instanceof HunkReader)) {
            this.old = stream;
            continue;
          }
          this.hunks = stream;
        }
        const next = this.hunks.nextBody();
        if (next === null) {
          this.done = true;
          continue;
        }
        if (!scanValues(next, this.starts)) {
          // Extension types (or bytes that are not MessagePack): msgpackr reads it all at once.
          this.vals = unpackWholeHunk(next, this.opts);
          this.vi = 0;
          continue;
        }
        if (this.starts.count % 2 !== 0)
          throw new DataError('corrupt hunk: odd number of values', this.opts.url);
        this.body = next;
        this.r = 0;
        this.records = this.starts.count / 2;
      } catch (e) {
        this.done = true;
        this.body = null;
        this.vals = [];
        throw e;
      }
    }
  }

  /** The record last given, decoded; from now on records are given decoded. */
  decodeCurrent(): KV {
    this.decoding = true;
    const rec = this.record;
    const vals = unpackRange(rec.buf, rec.start, rec.end, this.starts.binary);
    return [vals[0], vals[1]];
  }

  /** Decode the next records of `body`, about a slice's worth (as {@link HunkReader} does). */
  private decodeSlice(body: Buffer): void {
    const at = this.starts.at;
    const binary = this.starts.binary;
    const limit = binary ? DETACHED_BYTES : (this.opts.sliceBytes ?? SLICE_BYTES);
    const from = at[2 * this.r];
    let e = this.r + 1;
    while (e < this.records && at[2 * e + 2] - from <= limit) e++;
    const to = at[2 * e];
    this.vals = unpackRange(body, from, to, binary);
    this.vi = 0;
    this.r = e;
  }

  return(): IteratorResult<EncodedRecord | KV> {
    this.done = true;
    this.body = null;
    this.vals = [];
    this.old?.return?.();
    return { value: undefined, done: true };
  }

  [Symbol.iterator](): this {
    return this;
  }
}
