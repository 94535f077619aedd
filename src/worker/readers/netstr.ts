/**
 * The version 0 record format of Disco 0.2 (the original's `netstr_reader`, `netstr_writer`,
 * `old_netstr_reader`): text netstrings, one record per line,
 *
 *     <len(key)> SP <key> SP <len(value)> SP <value> LF
 *
 * where the lengths are the decimal byte lengths of the UTF-8 key and value. Keys and values
 * may hold any bytes (spaces and newlines included): the lengths delimit them. Files
 * concatenate (the shuffle appends map outputs). The record readers (`chainReader`,
 * `discoInputStream`) also read this format: a stream whose first byte is below `0x80` is
 * version 0.
 *
 * Reading is streaming with bounded memory (a field is held whole, nothing more), and checks
 * the framing: a malformed length, a missing separator or an input ending inside a record is
 * a `DataError` naming the input and the byte offset.
 *
 * @example
 * // a map-only job writing netstrings, and a job reading them back
 * { map, mapWriter: netstrWriter, partitions: null }
 * { input: results, mapReader: netstrReader, map: ([k, v]) => [[k, v]] }
 */
import { DataError } from '../../common/errors.js';
import { encodeNetstring } from '../../protocol/external.js';
import type { ByteSource } from '../../protocol/record-stream.js';
import { type ByteSink, requireByteSink } from '../outputs.js';
import { requireInputStream } from './input-stream.js';

/** Bytes read from the source at a time. */
const CHUNK = 64 * 1024;
/** A length longer than this many digits is corrupt (as in the original: 10 digits and the space). */
const MAX_LENGTH_DIGITS = 10;
/** Refuse fields bigger than this (a corrupt length must not allocate gigabytes). */
export const MAX_NETSTRING_FIELD = 256 * 1024 * 1024;

const SPACE = 0x20;
const NEWLINE = 0x0a;

/** Options of {@link readNetstrings}. */
export interface NetstringReadOptions {
  /** For error messages. */
  url?: string;
  /** Bytes to read (when known): reading stops there, and an input ending before it is truncated. */
  size?: number | null;
  /** Bytes already read from the source, which come first. */
  head?: Uint8Array;
}

/**
 * The records of a version 0 stream as raw `[key, value]` bytes. The buffers are views that
 * stay valid (they are never overwritten), but may share memory with their neighbours.
 */
export function* readNetstrings(
  src: ByteSource,
  opts: NetstringReadOptions = {},
): Generator<[Buffer, Buffer]> {
  const r = new NetstringScanner(src, opts);
  for (;;) {
    if (!r.more()) {
      r.checkSize();
      return;
    }
    const key = r.field(SPACE, 'key');
    const value = r.field(NEWLINE, 'value');
    yield [key, value];
  }
}

/** A cursor over the bytes of a version 0 stream. */
class NetstringScanner {
  private buf: Buffer;
  private pos = 0;
  /** Stream offset of `buf[0]`. */
  private base = 0;
  /** Bytes taken from the source (including `head`). */
  private total: number;
  private eof = false;
  private readonly limit: number | null;
  private readonly url: string | undefined;

  constructor(
    private readonly src: ByteSource,
    opts: NetstringReadOptions,
  ) {
    this.buf = opts.head && opts.head.length > 0 ? Buffer.from(opts.head) : Buffer.alloc(0);
    this.total = this.buf.length;
    this.limit = opts.size !== null && opts.size !== undefined && opts.size >= 0 ? opts.size : null;
    this.url = opts.url;
  }

  /** True when bytes remain to be read. */
  more(): boolean {
    return this.pos < this.buf.length || this.fill(1);
  }

  /** An input that ended before its announced size is truncated. */
  checkSize(): void {
    if (this.limit !== null && this.total < this.limit)
      throw new DataError(`truncated input: expected ${this.limit} bytes, got ${this.total}`, this.url);
  }

  /** One field: its length, a space, its bytes, then `sep`. */
  field(sep: number, what: string): Buffer {
    const at = this.offset();
    const len = this.length(what);
    const data = this.take(len);
    if (data.length < len)
      throw new DataError(
        `truncated input: the ${what} at byte ${at} announces ${len} bytes, the input ended after ${data.length}`,
        this.url,
      );
    if (!this.fill(1))
      throw new DataError(`truncated input: the ${what} at byte ${at} has no terminator`, this.url);
    const got = this.buf[this.pos];
    if (got !== sep)
      throw new DataError(
        `corrupt input: the ${what} at byte ${at} is followed by byte 0x${got.toString(16)}, ` +
          `expected ${sep === SPACE ? 'a space' : 'a newline'}`,
        this.url,
      );
    this.pos++;
    return data;
  }

  private offset(): number {
    return this.base + this.pos;
  }

  /** A decimal length and the space after it. */
  private length(what: string): number {
    const at = this.offset();
    this.fill(MAX_LENGTH_DIGITS + 1);
    const buf = this.buf;
    const end = Math.min(buf.length, this.pos + MAX_LENGTH_DIGITS + 1);
    let n = 0;
    let i = this.pos;
    while (i < end && buf[i] >= 0x30 && buf[i] <= 0x39) n = n * 10 + (buf[i++] - 0x30);
    if (i === end && end === buf.length && end - this.pos <= MAX_LENGTH_DIGITS)
      throw new DataError(`truncated input: the ${what} length at byte ${at} is cut short`, this.url);
    if (i === end || i === this.pos || buf[i] !== SPACE)
      throw new DataError(`corrupt input: cannot parse the ${what} length at byte ${at}`, this.url);
    if (n > MAX_NETSTRING_FIELD)
      throw new DataError(
        `corrupt input: the ${what} at byte ${at} announces ${n} bytes (more than ${MAX_NETSTRING_FIELD})`,
        this.url,
      );
    this.pos = i + 1;
    return n;
  }

  /** The next `n` bytes (fewer at the end of the input). Long fields are read straight into their own buffer. */
  private take(n: number): Buffer {
    const have = this.buf.length - this.pos;
    if (have >= n || n <= CHUNK) {
      this.fill(n);
      const end = Math.min(this.buf.length, this.pos + n);
      const out = this.buf.subarray(this.pos, end);
      this.pos = end;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    this.buf.copy(out, 0, this.pos);
    let got = have;
    while (got < n) {
      const b = this.readSource(n - got);
      if (b.length === 0) break;
      b.copy(out, got);
      got += b.length;
    }
    this.base += this.buf.length;
    this.buf = Buffer.alloc(0);
    this.pos = 0;
    return got === n ? out : out.subarray(0, got);
  }

  /** Make at least `n` unread bytes available if the input has them; false if it has fewer. */
  private fill(n: number): boolean {
    while (this.buf.length - this.pos < n) {
      if (this.eof) return false;
      const b = this.readSource(Math.max(CHUNK, n));
      if (b.length === 0) {
        this.eof = true;
        return false;
      }
      const rest = this.buf.subarray(this.pos);
      this.base += this.pos;
      this.buf = rest.length > 0 ? Buffer.concat([rest, b]) : b;
      this.pos = 0;
    }
    return true;
  }

  /** Up to `n` bytes from the source, never past the announced size. */
  private readSource(n: number): Buffer {
    const want = this.limit === null ? n : Math.min(n, this.limit - this.total);
    if (want <= 0) return Buffer.alloc(0);
    const b = this.src.read(want);
    this.total += b.length;
    return b;
  }
}

/**
 * `netstrReader(stream, size, url, params)` — a reader for version 0 streams: yields
 * `[key, value]` as text (UTF-8). What {@link netstrWriter} wrote reads back as strings.
 *
 * @example
 * [...netstrReader('3 abc 5 hello\n')]; // [['abc', 'hello']]
 */
export function* netstrReader(
  stream: unknown,
  size: number | null = null,
  url = '',
  _params?: unknown,
): Generator<[string, string]> {
  for (const [k, v] of readNetstrings(requireInputStream(stream, size, url, 'netstrReader'), { url, size }))
    yield [k.toString('utf8'), v.toString('utf8')];
}

/**
 * `oldNetstrReader(stream, size, url, head)` — the 0.4 name of {@link netstrReader}, with
 * the original's optional `head`: bytes already read from the stream (e.g. by a reader that
 * looked at the first byte), read first. As a reader in a job, `head` receives the job's
 * params, and is ignored unless it is a `Uint8Array`.
 *
 * @example
 * [...oldNetstrReader(' abc 1 x\n', null, 'u', Buffer.from('3'))]; // [['abc', 'x']]
 */
export function* oldNetstrReader(
  stream: unknown,
  size: number | null = null,
  url = '',
  head?: unknown,
): Generator<[string, string]> {
  // Only bytes: as a reader in a chain this argument is the job's params, which may be text.
  const h = head instanceof Uint8Array ? head : undefined;
  const src = requireInputStream(stream, size, url, 'oldNetstrReader');
  for (const [k, v] of readNetstrings(src, { url, size, head: h }))
    yield [k.toString('utf8'), v.toString('utf8')];
}

/** A key or value as netstring text (see {@link netstrWriter}). */
export function netstringField(v: unknown, what: string): Buffer {
  switch (typeof v) {
    case 'string':
      return Buffer.from(v, 'utf8');
    case 'number':
    case 'bigint':
    case 'boolean':
      return Buffer.from(String(v), 'utf8');
    case 'undefined':
      return Buffer.alloc(0);
    case 'object':
      if (v === null) return Buffer.alloc(0);
      if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      break;
  }
  throw new TypeError(
    `netstrWriter writes text, but the ${what} is ${v === null ? 'null' : typeof v === 'object' ? (v.constructor?.name ?? 'an object') : typeof v}: ` +
      'use objectWriter (and objectReader) for structured values, or turn it into text (JSON.stringify)',
  );
}

/** The writer returned by {@link netstrWriter}. */
export class NetstringOutput {
  constructor(
    private readonly stream: ByteSink,
    private readonly encodeField: (v: unknown, what: string) => Uint8Array = netstringField,
  ) {}

  add(key: unknown, value: unknown): void {
    this.stream.write(encodeNetstring(this.encodeField(key, 'key'), this.encodeField(value, 'value')));
  }

  /** Raw bytes (the original's deprecated `write`). */
  write(data: Uint8Array | string): void {
    this.stream.write(data);
  }

  /** Nothing is buffered here; the stream under it is closed by the output chain. */
  close(): void {}
}

/**
 * `netstrWriter(stream, partition, url, params)` — a writer (`mapWriter`/`reduceWriter`, or
 * the last function of an output stream chain) producing version 0 records. Keys and values
 * are written as text: strings as they are, bytes as they are, numbers, bigints and booleans
 * as `String(v)`, `null`/`undefined` as the empty string. Other objects are refused (use
 * `objectWriter`). Read the output with {@link netstrReader}.
 *
 * @example
 * { map, mapWriter: netstrWriter, partitions: null } // map output as '3 abc 5 hello\n' lines
 */
export function netstrWriter(
  stream: unknown,
  _partition?: unknown,
  _url?: unknown,
  _params?: unknown,
): NetstringOutput {
  return new NetstringOutput(requireByteSink(stream, 'netstrWriter'));
}
