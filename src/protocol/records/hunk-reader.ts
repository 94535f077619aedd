/**
 * Reads the hunks of a record stream (docs/record-format.md), checking each as the format
 * says — version, length, zlib, CRC-32, an even number of values — and gives their records a
 * slice of decoded values at a time, or their bodies whole. Hunks are read into buffers the
 * reader reuses.
 *
 * @example
 * const hunks = new HunkReader(new FileSource(file), { url: file });
 * for (let vals = hunks.next(); vals !== null; vals = hunks.next())
 *   for (let i = 0; i < vals.length; i += 2) use(vals[i], vals[i + 1]);
 */
import zlib from 'node:zlib';
import { crc32 } from '../../common/crc32.js';
import { DataError } from '../../common/errors.js';
import { type ByteSource, readFully } from './byte-source.js';
import { DETACHED_BYTES, unpackRange, unpackValues } from './codec.js';
import { HUNK_HEADER, MAX_HUNK, RECORD_VERSION } from './format.js';
import { sliceRecords } from './value-scanner.js';

export interface ReadOptions {
  /** Skip hunks whose CRC does not match instead of failing (the original's `ignore_corrupt`). */
  ignoreCorrupt?: boolean;
  /** Name for error messages. */
  url?: string;
  /** Bytes of a hunk decoded at a time (default 64 KiB; see {@link HunkReader}). */
  sliceBytes?: number;
}

/**
 * The records of a record stream (possibly several concatenated streams), a slice at a time:
 * each {@link next} returns decoded values — key, value, key, value… — of whole records of the
 * next hunk, checked as `docs/record-format.md` says. A hunk (1 MiB or more decoded) is checked
 * whole, then decoded about 64 KiB at a time, so that a reader holds little decoded data at
 * once and most of it dies young (the garbage collector's cheap case). Hunks with binary
 * values are decoded {@link DETACHED_BYTES} at a time instead, each piece copied once and its
 * binary values views of that copy ({@link unpackDetached}), never of the reader's buffers.
 * For readers that walk records by index (the external sort's merge) without a pair per record.
 */
export class HunkReader {
  private header: Buffer | null = null;
  /** The hunk being read in slices (see {@link sliceRecords}), and where its slices start. */
  private body: Buffer | null = null;
  private cuts: number[] = [];
  private cut = 0;
  /** The hunk holds binary values: its slices are decoded detached (see {@link unpackDetached}). */
  private binary = false;
  /** Reused read buffers (see {@link readBytes}). */
  private headerBuf = Buffer.allocUnsafe(HUNK_HEADER);
  private rawBuf = Buffer.allocUnsafe(0);

  constructor(
    private readonly src: ByteSource,
    private readonly opts: ReadOptions = {},
    first?: Buffer,
  ) {
    if (first) this.header = first;
  }

  /** The values of the next slice of records; null at the end of the data. */
  next(): unknown[] | null {
    const { opts } = this;
    if (this.body !== null) {
      const vals = this.nextSlice();
      if (vals !== null) return vals;
    }
    for (;;) {
      const body = this.nextBody();
      if (body === null) return null;
      let cuts = sliceRecords(body, opts.sliceBytes ?? SLICE_BYTES);
      if (cuts?.binary && (opts.sliceBytes ?? SLICE_BYTES) > DETACHED_BYTES)
        cuts = sliceRecords(body, DETACHED_BYTES);
      if (cuts === null) {
        const vals = unpackWholeHunk(body, opts);
        if (vals.length > 0) return vals;
        continue;
      }
      if (cuts.odd) throw new DataError('corrupt hunk: odd number of values', opts.url);
      this.body = body;
      this.cuts = cuts.at;
      this.binary = cuts.binary;
      this.cut = 0;
      const vals = this.nextSlice();
      if (vals !== null) return vals;
    }
  }

  /**
   * The next hunk's body, checked and uncompressed (never empty); null at the end of the data.
   * It may be one of the reader's own buffers: valid until the next call. For readers that
   * take records as bytes ({@link readEncodedRecords}); not to be mixed with {@link next}.
   */
  nextBody(): Buffer | null {
    const { opts } = this;
    for (;;) {
      const header = this.header ?? this.readBytes(HUNK_HEADER, true);
      this.header = null;
      if (header.length === 0) return null;
      if (header.length < HUNK_HEADER) throw new DataError('truncated hunk header', opts.url);
      const version = header[0] - 0x80;
      const compressed = header[1];
      const crc = header.readUInt32LE(2);
      const len = Number(header.readBigUInt64LE(6));
      if (version === 1)
        throw new DataError(
          'record stream written by the Python worker (pickle, version 1): not readable by the TypeScript worker',
          opts.url,
        );
      if (version !== RECORD_VERSION)
        throw new DataError(`unknown record stream version ${version}`, opts.url);
      if (len > MAX_HUNK) throw new DataError(`corrupt hunk: length ${len} exceeds ${MAX_HUNK}`, opts.url);
      // A zero-length hunk terminates one stream; another may follow (concatenated partitions).
      if (len === 0) continue;
      const raw = this.readBytes(len, false);
      if (raw.length < len)
        throw new DataError(`truncated hunk: expected ${len} bytes, got ${raw.length}`, opts.url);
      let body: Buffer;
      try {
        // A corrupt or hostile body must not inflate to gigabytes.
        body = compressed ? zlib.inflateSync(raw, { maxOutputLength: MAX_HUNK }) : raw;
      } catch (e) {
        if (opts.ignoreCorrupt) continue;
        throw new DataError(`corrupt hunk: ${(e as Error).message}`, opts.url);
      }
      if (body.length === 0) continue;
      if (crc32(body) !== crc) {
        if (opts.ignoreCorrupt) continue;
        throw new DataError('corrupt hunk: checksum mismatch', opts.url);
      }
      return body;
    }
  }

  /**
   * Read `n` bytes (fewer only at EOF) into one of the reader's own buffers when the source
   * can (the previous contents are no longer needed by then), else as `readFully` does.
   */
  private readBytes(n: number, header: boolean): Buffer {
    const src = this.src;
    if (typeof src.readInto !== 'function') return readFully(src, n);
    let buf = header ? this.headerBuf : this.rawBuf;
    if (buf.length < n) {
      buf = Buffer.allocUnsafe(Math.max(n, 2 * buf.length));
      if (header) this.headerBuf = buf;
      else this.rawBuf = buf;
    }
    let got = 0;
    while (got < n) {
      const r = src.readInto(buf, got, n - got);
      if (r <= 0) break;
      got += r;
    }
    return buf.subarray(0, got);
  }

  /** The values of the next slice of the current hunk; null when it is used up. */
  private nextSlice(): unknown[] | null {
    const cuts = this.cuts;
    const body = this.body;
    if (body === null || this.cut + 1 >= cuts.length) {
      this.body = null;
      return null;
    }
    const from = cuts[this.cut];
    const to = cuts[++this.cut];
    return unpackRange(body, from, to, this.binary);
  }
}

/** Bytes of a hunk's body decoded at a time (see {@link HunkReader}). */
export const SLICE_BYTES = 64 * 1024;

/**
 * Every value of a hunk's body that {@link sliceRecords} cannot walk (extension types, or
 * bytes that are not MessagePack), decoded by msgpackr at once; a data error when they are an
 * odd number.
 */
export function unpackWholeHunk(body: Buffer, opts: ReadOptions): unknown[] {
  const vals = unpackValues(body);
  if (vals.length % 2 !== 0) throw new DataError('corrupt hunk: odd number of values', opts.url);
  return vals;
}
