/**
 * The internal record format (documented in docs/record-format.md): a stream of hunks, each
 * a 14-byte little-endian header `<BBIQ>` — `0x80 + version`, compressed flag (1 = zlib),
 * CRC32 of the uncompressed body, body length — then the body. A hunk is flushed past
 * {@link HUNK_SIZE} uncompressed bytes; a hunk of length 0 (or EOF) ends the stream.
 *
 * Version 1 bodies are Python pickles (the original classic worker); this project writes
 * version 2: each record is two MessagePack values, key then value. Concatenated streams are
 * valid streams (the shuffle appends map outputs). Everything here is synchronous: workers
 * run one task per process and block on their own disk reads.
 *
 * Speed (this is every task's data path): the writer encodes strings, numbers, booleans,
 * nil and Buffers itself, straight into the hunk buffer, byte for byte as msgpackr would (anything else
 * goes through msgpackr); readers check a hunk whole (CRC), then decode it a slice of records
 * at a time ({@link HunkReader}) into buffers they reuse.
 *
 * @example
 * const w = new RecordWriter((b) => chunks.push(b));
 * w.write('hello', 1); w.close();
 * for (const [k, v] of readRecords(new BufferSource(Buffer.concat(chunks)))) ...
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import zlib from 'node:zlib';
import type { Packr } from 'msgpackr';
import { DataError } from '../common/errors.js';

export const HUNK_HEADER = 14;
export const HUNK_SIZE = 1024 * 1024;
export const RECORD_VERSION = 2;
/** Refuse hunks bigger than this (a corrupt length field must not allocate gigabytes). */
const MAX_HUNK = 256 * 1024 * 1024;

export type KV = [key: unknown, value: unknown];

/** The MessagePack codecs of records: `packr`, and `viewPackr` (see {@link unpackDetached}). */
interface Packrs {
  packr: Packr;
  viewPackr: Packr;
}

let packrs: Packrs | undefined;

/**
 * msgpackr, loaded on first use: it costs about 20 ms of a process's start, and writers of
 * strings and Buffers (`ddfs push`, `chunk`) never need it, nor do commands that read no
 * records (`ddfs cat`, `ls`). Loaded synchronously, as the codec is: through the bundles'
 * `require` (the worker bundle has msgpackr bundled in place of this call), or under
 * vitest, whose ES modules have none, through one of this module's own.
 */
function loadPackrs(): Packrs {
  const { Packr } = (
    typeof require === 'function' ? require('msgpackr') : createRequire(import.meta.url)('msgpackr')
  ) as typeof import('msgpackr');
  return {
    // `copyBuffers`: decoded binary values are copies, never views of the hunk they came from
    // (a small value must not keep a whole hunk alive, and readers reuse their hunk buffers).
    packr: new Packr({ useRecords: false, moreTypes: true, variableMapSize: true, copyBuffers: true }),
    // The same options, but binary values are views of what is decoded.
    viewPackr: new Packr({ useRecords: false, moreTypes: true, variableMapSize: true }),
  };
}

/** Encode one value as MessagePack (shared so readers and writers agree on options). */
export function packValue(v: unknown): Buffer {
  packrs ??= loadPackrs();
  return packrs.packr.pack(v);
}

/** Decode every MessagePack value in `body`. */
export function unpackValues(body: Uint8Array): unknown[] {
  packrs ??= loadPackrs();
  return packrs.packr.unpackMultiple(body) as unknown[];
}

/**
 * Largest piece of decoded bytes binary values may share (as Node's own pool shares 8 KiB
 * slabs between small Buffers): a kept value holds at most that much memory.
 */
export const DETACHED_BYTES = 8 * 1024;

/**
 * Decode every MessagePack value in `bytes[start, end)` — whole values, at most about
 * {@link DETACHED_BYTES} (more only for one big record) — into a copy of its own: binary
 * values are Buffers viewing that copy. The same values as {@link unpackValues}, with one
 * allocation per piece instead of one per binary value (about twice as fast for small ones).
 */
export function unpackDetached(bytes: Uint8Array, start: number, end: number): unknown[] {
  const own = Buffer.allocUnsafeSlow(end - start);
  own.set(bytes.subarray(start, end));
  packrs ??= loadPackrs();
  return packrs.viewPackr.unpackMultiple(own) as unknown[];
}

/**
 * A growing buffer of MessagePack values. Strings, numbers, booleans, null and Buffers are
 * encoded here, byte for byte as msgpackr encodes them (see {@link encodeString},
 * {@link encodeBinary}); anything else by msgpackr.
 */
export class PackBuffer {
  buf: Buffer;
  /** Bytes used. */
  off = 0;

  constructor(initial = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  /** Append one value. */
  pack(v: unknown): void {
    switch (typeof v) {
      case 'string':
        this.room(v.length * 3 + 5);
        this.off = encodeString(this.buf, this.off, v);
        return;
      case 'number':
        this.room(9);
        this.off = encodeNumber(this.buf, this.off, v);
        return;
      case 'boolean':
        this.room(1);
        this.buf[this.off++] = v ? 0xc3 : 0xc2;
        return;
      case 'object':
        if (v === null) {
          this.room(1);
          this.buf[this.off++] = 0xc0;
          return;
        }
        // Node Buffers (what external programs and binary readers give) are bin8/16/32, as
        // msgpackr writes them; other typed arrays are msgpackr's typed-array extension.
        if ((v as { constructor?: unknown }).constructor === Buffer && v instanceof Uint8Array) {
          this.room(v.length + 5);
          this.off = encodeBinary(this.buf, this.off, v);
          return;
        }
        break;
    }
    const b = packValue(v);
    this.append(b, 0, b.length);
  }

  /** Append bytes `src[start, end)` (values encoded elsewhere). */
  append(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.room(n);
    const buf = this.buf;
    let o = this.off;
    if (n <= 32) for (let i = start; i < end; i++) buf[o++] = src[i];
    else {
      // A plain view: a Buffer's `subarray` costs more (it builds a Buffer).
      buf.set(new Uint8Array(src.buffer, src.byteOffset + start, n), o);
      o += n;
    }
    this.off = o;
  }

  /** Make sure `n` more bytes fit. */
  room(n: number): void {
    if (this.off + n > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.off + n));
      this.buf.copy(bigger, 0, 0, this.off);
      this.buf = bigger;
    }
  }
}

/** Streams records into hunks; `sink` receives finished hunks (header + body). */
export class RecordWriter {
  private readonly body: PackBuffer;
  private readonly hunkSize: number;
  /** Bytes handed to the sink so far. */
  bytesOut = 0;
  records = 0;

  /**
   * @param opts.hunkSize start a new hunk past this many body bytes (default {@link HUNK_SIZE};
   *   smaller hunks are for files only this implementation reads, e.g. sort runs)
   */
  constructor(
    private readonly sink: (hunk: Buffer) => void,
    private readonly opts: { compress?: boolean; level?: number; hunkSize?: number } = {},
  ) {
    this.hunkSize = opts.hunkSize ?? HUNK_SIZE;
    this.body = new PackBuffer(this.hunkSize + 64 * 1024);
  }

  write(key: unknown, value: unknown): void {
    const body = this.body;
    body.pack(key);
    body.pack(value);
    this.records++;
    if (body.off > this.hunkSize) this.flush();
  }

  /** Write one record already encoded: its key and value are the bytes `src[start, end)`. */
  writeEncoded(src: Uint8Array, start: number, end: number): void {
    const body = this.body;
    body.append(src, start, end);
    this.records++;
    if (body.off > this.hunkSize) this.flush();
  }

  /** Write the buffered records as one hunk (no-op when empty). */
  flush(): void {
    const body = this.body;
    if (body.off === 0) return;
    this.emit(body.buf.subarray(0, body.off));
    body.off = 0;
  }

  /** Flush and write the terminating empty hunk. */
  close(): void {
    this.flush();
    this.emit(Buffer.alloc(0), true);
  }

  private emit(body: Buffer, terminator = false): void {
    const compress = this.opts.compress !== false && !terminator;
    const out = compress ? zlib.deflateSync(body, { level: this.opts.level ?? 1 }) : body;
    const header = Buffer.allocUnsafe(HUNK_HEADER);
    header[0] = 0x80 + RECORD_VERSION;
    header[1] = compress ? 1 : 0;
    header.writeUInt32LE(terminator ? 0 : zlib.crc32(body), 2);
    header.writeBigUInt64LE(BigInt(out.length), 6);
    this.bytesOut += HUNK_HEADER + out.length;
    this.sink(Buffer.concat([header, out]));
  }
}

/** Node's native UTF-8 writer (on every `Buffer`, not in its type declarations). */
interface Utf8Writer {
  utf8Write(s: string, offset: number, length?: number): number;
}

/**
 * Write `s` as a MessagePack string at `off` (room for `s.length * 3 + 5` bytes is there);
 * returns the new offset. The same bytes as msgpackr (other languages read them; records must
 * not depend on which path wrote them): the smallest header for the UTF-8 length, and — as
 * msgpackr does — strings under 64 UTF-16 units encoded by the loop below, in which a lone
 * surrogate becomes its 3-byte form, longer ones by Node's encoder (lone surrogates: U+FFFD).
 */
export function encodeString(buf: Buffer, off: number, s: string): number {
  const len = s.length;
  // The header is written after the text, whose UTF-8 length is not known yet: guess its size
  // from the UTF-16 length, and move the text when the guess was short.
  const guess = len < 0x20 ? 1 : len < 0x100 ? 2 : len < 0x10000 ? 3 : 5;
  let n: number;
  if (len < 0x40) {
    let p = off + guess;
    for (let i = 0; i < len; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) buf[p++] = c;
      else if (c < 0x800) {
        buf[p++] = (c >> 6) | 0xc0;
        buf[p++] = (c & 0x3f) | 0x80;
      } else if ((c & 0xfc00) === 0xd800 && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        c = 0x10000 + ((c & 0x03ff) << 10) + (s.charCodeAt(i + 1) & 0x03ff);
        i++;
        buf[p++] = (c >> 18) | 0xf0;
        buf[p++] = ((c >> 12) & 0x3f) | 0x80;
        buf[p++] = ((c >> 6) & 0x3f) | 0x80;
        buf[p++] = (c & 0x3f) | 0x80;
      } else {
        buf[p++] = (c >> 12) | 0xe0;
        buf[p++] = ((c >> 6) & 0x3f) | 0x80;
        buf[p++] = (c & 0x3f) | 0x80;
      }
    }
    n = p - off - guess;
  } else n = (buf as unknown as Utf8Writer).utf8Write(s, off + guess, buf.length - off - guess);
  if (n < 0x20) {
    buf[off++] = 0xa0 | n;
  } else if (n < 0x100) {
    if (guess < 2) buf.copyWithin(off + 2, off + 1, off + 1 + n);
    buf[off++] = 0xd9;
    buf[off++] = n;
  } else if (n < 0x10000) {
    if (guess < 3) buf.copyWithin(off + 3, off + guess, off + guess + n);
    buf[off++] = 0xda;
    buf[off++] = n >> 8;
    buf[off++] = n & 0xff;
  } else {
    if (guess < 5) buf.copyWithin(off + 5, off + guess, off + guess + n);
    buf[off++] = 0xdb;
    buf.writeUInt32BE(n, off);
    off += 4;
  }
  return off + n;
}

/**
 * Write the bytes `b` as MessagePack binary at `off` (room for `b.length + 5` bytes is there);
 * returns the new offset. The bytes msgpackr writes for a Buffer: the smallest of bin8, bin16
 * and bin32.
 */
export function encodeBinary(buf: Buffer, off: number, b: Uint8Array): number {
  const n = b.length;
  if (n < 0x100) {
    buf[off++] = 0xc4;
    buf[off++] = n;
  } else if (n < 0x10000) {
    buf[off++] = 0xc5;
    buf[off++] = n >> 8;
    buf[off++] = n & 0xff;
  } else {
    buf[off++] = 0xc6;
    buf.writeUInt32BE(n, off);
    off += 4;
  }
  // Short values (keys, counts) byte by byte: cheaper than a native call.
  if (n <= 16) for (let i = 0; i < n; i++) buf[off + i] = b[i];
  else buf.set(b, off);
  return off + n;
}

/** Write `v` as msgpackr writes numbers (integers in the smallest form, others as float64). */
export function encodeNumber(buf: Buffer, off: number, v: number): number {
  if (v >>> 0 === v) {
    if (v < 0x80) buf[off++] = v;
    else if (v < 0x100) {
      buf[off++] = 0xcc;
      buf[off++] = v;
    } else if (v < 0x10000) {
      buf[off++] = 0xcd;
      buf[off++] = v >> 8;
      buf[off++] = v & 0xff;
    } else {
      buf[off++] = 0xce;
      buf.writeUInt32BE(v, off);
      off += 4;
    }
  } else if (v >> 0 === v) {
    if (v >= -0x20) buf[off++] = 0x100 + v;
    else if (v >= -0x80) {
      buf[off++] = 0xd0;
      buf[off++] = v + 0x100;
    } else if (v >= -0x8000) {
      buf[off++] = 0xd1;
      buf.writeInt16BE(v, off);
      off += 2;
    } else {
      buf[off++] = 0xd2;
      buf.writeInt32BE(v, off);
      off += 4;
    }
  } else {
    buf[off++] = 0xcb;
    buf.writeDoubleBE(v, off);
    off += 8;
  }
  return off;
}

/** A synchronous byte source. `read(n)` returns up to n bytes; an empty buffer means EOF. */
export interface ByteSource {
  read(n: number): Buffer;
  /**
   * Optional: read up to `n` bytes into `buf` at `off`; returns how many (0 at EOF). Lets a
   * reader reuse its buffers instead of allocating one per read.
   */
  readInto?(buf: Buffer, off: number, n: number): number;
  close?(): void;
}

export class BufferSource implements ByteSource {
  private pos = 0;
  constructor(private readonly data: Uint8Array) {}
  read(n: number): Buffer {
    const end = Math.min(this.data.length, this.pos + n);
    const b = Buffer.from(this.data.buffer, this.data.byteOffset + this.pos, end - this.pos);
    this.pos = end;
    return b;
  }
}

/** Reads a file (or a byte range of it) with blocking reads. */
export class FileSource implements ByteSource {
  private fd: number;
  private pos: number;
  private readonly end: number;
  constructor(file: string, start = 0, end = Number.POSITIVE_INFINITY) {
    this.fd = openSync(file, 'r');
    this.pos = start;
    this.end = end;
  }
  read(n: number): Buffer {
    const want = Math.min(n, this.end - this.pos);
    if (want <= 0) return Buffer.alloc(0);
    const b = Buffer.allocUnsafe(want);
    const got = readSync(this.fd, b, 0, want, this.pos);
    this.pos += got;
    return got === want ? b : b.subarray(0, got);
  }
  readInto(buf: Buffer, off: number, n: number): number {
    const want = Math.min(n, this.end - this.pos);
    if (want <= 0) return 0;
    const got = readSync(this.fd, buf, off, want, this.pos);
    this.pos += got;
    return got;
  }
  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** Read exactly n bytes (fewer only at EOF). */
export function readFully(src: ByteSource, n: number): Buffer {
  const first = src.read(n);
  if (first.length === n || first.length === 0) return first;
  const parts = [first];
  let got = first.length;
  while (got < n) {
    const b = src.read(n - got);
    if (b.length === 0) break;
    parts.push(b);
    got += b.length;
  }
  return Buffer.concat(parts, got);
}

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
        // Extension types (or bytes that are not MessagePack): msgpackr reads it all at once.
        const vals = unpackValues(body);
        if (vals.length % 2 !== 0) throw new DataError('corrupt hunk: odd number of values', opts.url);
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
        body = compressed ? zlib.inflateSync(raw) : raw;
      } catch (e) {
        if (opts.ignoreCorrupt) continue;
        throw new DataError(`corrupt hunk: ${(e as Error).message}`, opts.url);
      }
      if (body.length === 0) continue;
      if (zlib.crc32(body) !== crc) {
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
    return this.binary ? unpackDetached(body, from, to) : unpackValues(body.subarray(from, to));
  }
}

/** Bytes of a hunk's body decoded at a time (see {@link HunkReader}). */
const SLICE_BYTES = 64 * 1024;

/**
 * Where each MessagePack value of a hunk's body starts (see {@link scanValues}): `at[0, count)`,
 * then `at[count]` the body's length. Reused from hunk to hunk (`at` grows as needed).
 */
export interface ValueStarts {
  at: Int32Array;
  count: number;
  /** Some value is or holds binary data. */
  binary: boolean;
}

/** New, empty {@link ValueStarts}. */
export function valueStarts(): ValueStarts {
  return { at: new Int32Array(4096), count: 0, binary: false };
}

/**
 * Find where each top-level MessagePack value of `b` starts, into `into`, walking the
 * structure without decoding it. False when `b` holds extension types (msgpackr's extensions
 * may span the value after them) or is not valid MessagePack.
 *
 * @example
 * const starts = valueStarts();
 * if (scanValues(body, starts)) for (let i = 0; i < starts.count; i += 2) ... // record i / 2
 */
export function scanValues(b: Uint8Array, into: ValueStarts): boolean {
  const end = b.length;
  let at = into.at;
  let count = 0;
  let pos = 0;
  let binary = false;
  while (pos < end) {
    if (count + 1 >= at.length) {
      const bigger = new Int32Array(at.length * 2);
      bigger.set(at);
      at = bigger;
      into.at = at;
    }
    at[count++] = pos;
    // One top-level value, with whatever it contains.
    let pending = 1;
    while (pending > 0) {
      if (pos >= end) return false;
      const t = b[pos];
      pending--;
      if (t < 0x80 || t >= 0xe0) pos += 1;
      else if (t < 0x90) {
        pending += 2 * (t & 0x0f);
        pos += 1;
      } else if (t < 0xa0) {
        pending += t & 0x0f;
        pos += 1;
      } else if (t < 0xc0) pos += 1 + (t & 0x1f);
      else {
        switch (t) {
          case 0xc0:
          case 0xc2:
          case 0xc3:
            pos += 1;
            break;
          case 0xcc:
          case 0xd0:
            pos += 2;
            break;
          case 0xcd:
          case 0xd1:
            pos += 3;
            break;
          case 0xca:
          case 0xce:
          case 0xd2:
            pos += 5;
            break;
          case 0xcb:
          case 0xcf:
          case 0xd3:
            pos += 9;
            break;
          case 0xc4:
          case 0xd9:
            if (t === 0xc4) binary = true;
            if (pos + 1 >= end) return false;
            pos += 2 + b[pos + 1];
            break;
          case 0xc5:
          case 0xda:
            if (t === 0xc5) binary = true;
            if (pos + 2 >= end) return false;
            pos += 3 + ((b[pos + 1] << 8) | b[pos + 2]);
            break;
          case 0xc6:
          case 0xdb:
            if (t === 0xc6) binary = true;
            if (pos + 4 >= end) return false;
            pos += 5 + u32(b, pos + 1);
            break;
          case 0xdc:
            if (pos + 2 >= end) return false;
            pending += (b[pos + 1] << 8) | b[pos + 2];
            pos += 3;
            break;
          case 0xdd:
            if (pos + 4 >= end) return false;
            pending += u32(b, pos + 1);
            pos += 5;
            break;
          case 0xde:
            if (pos + 2 >= end) return false;
            pending += 2 * ((b[pos + 1] << 8) | b[pos + 2]);
            pos += 3;
            break;
          case 0xdf:
            if (pos + 4 >= end) return false;
            pending += 2 * u32(b, pos + 1);
            pos += 5;
            break;
          default:
            // Extensions (0xc7-0xc9, 0xd4-0xd8) and the unused 0xc1.
            return false;
        }
      }
    }
  }
  if (pos > end) return false;
  at[count] = end;
  into.count = count;
  into.binary = binary;
  return true;
}

/** The value starts {@link sliceRecords} works with (used at once, never kept). */
const sliceScratch = valueStarts();

/**
 * Where to cut a hunk's body into slices of whole records of about `sliceBytes` each, a bigger
 * record alone (the offsets, first 0, last the body's length), whether it holds an odd number
 * of values, and whether it holds binary values. Null when {@link scanValues} finds the body
 * is not plain MessagePack.
 */
export function sliceRecords(
  b: Uint8Array,
  sliceBytes: number,
): { at: number[]; odd: boolean; binary: boolean } | null {
  if (!scanValues(b, sliceScratch)) return null;
  const { at: starts, count, binary } = sliceScratch;
  const end = b.length;
  const at = [0];
  let sliceStart = 0;
  for (let v = 2; v <= count; v += 2) {
    const recordStart = starts[v - 2];
    const pos = starts[v];
    // A record of a slice's size or more gets a slice of its own (small values decoded with
    // it do not share its memory, see `unpackDetached`).
    if (pos - recordStart >= sliceBytes && recordStart > sliceStart) at.push(recordStart);
    if (pos - sliceStart >= sliceBytes && pos < end) {
      at.push(pos);
      sliceStart = pos;
    }
  }
  at.push(end);
  return { at, odd: (count & 1) === 1, binary };
}

function u32(b: Uint8Array, i: number): number {
  return ((b[i] << 24) >>> 0) + ((b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]);
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
          const header = readFully(this.src, HUNK_HEADER);
          if (header.length > 0 && header[0] < 0x80) {
            this.old = readOldNetstrings(this.src, header, this.opts);
            continue;
          }
          this.hunks = new HunkReader(this.src, this.opts, header);
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
          const header = readFully(this.src, HUNK_HEADER);
          if (header.length > 0 && header[0] < 0x80) {
            this.old = readOldNetstrings(this.src, header, this.opts);
            continue;
          }
          this.hunks = new HunkReader(this.src, this.opts, header);
        }
        const next = this.hunks.nextBody();
        if (next === null) {
          this.done = true;
          continue;
        }
        if (!scanValues(next, this.starts)) {
          // Extension types (or bytes that are not MessagePack): msgpackr reads it all at once.
          const all = unpackValues(next);
          if (all.length % 2 !== 0) throw new DataError('corrupt hunk: odd number of values', this.opts.url);
          this.vals = all;
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
    const vals = this.starts.binary
      ? unpackDetached(rec.buf, rec.start, rec.end)
      : unpackValues(rec.buf.subarray(rec.start, rec.end));
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
    this.vals = binary ? unpackDetached(body, from, to) : unpackValues(body.subarray(from, to));
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

/** Version 0: `"<len(k)> <k> <len(v)> <v>\n"` text netstrings (`old_netstr_reader`). */
function* readOldNetstrings(src: ByteSource, head: Buffer, opts: ReadOptions): Generator<KV> {
  let buf = head;
  const more = () => {
    const b = src.read(65536);
    if (b.length > 0) buf = Buffer.concat([buf, b]);
    return b.length > 0;
  };
  const readField = (): Buffer | null => {
    let sp = buf.indexOf(0x20);
    while (sp < 0) {
      if (!more()) return null;
      sp = buf.indexOf(0x20);
    }
    const len = Number(buf.subarray(0, sp).toString('latin1'));
    if (!Number.isInteger(len) || len < 0) throw new DataError('corrupt netstring length', opts.url);
    while (buf.length < sp + 1 + len + 1) if (!more()) throw new DataError('truncated netstring', opts.url);
    const field = buf.subarray(sp + 1, sp + 1 + len);
    buf = buf.subarray(sp + 1 + len + 1);
    return field;
  };
  for (;;) {
    if (buf.length === 0 && !more()) return;
    const k = readField();
    if (k === null) return;
    const v = readField();
    if (v === null) throw new DataError('truncated netstring record', opts.url);
    yield [k.toString('utf8'), v.toString('utf8')];
  }
}
