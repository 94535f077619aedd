/**
 * Gzip-compressed inputs (the original's `gzip_reader`, `gzip_line_reader`): a byte source
 * that decompresses another one as it is read, synchronously and in bounded memory, as the
 * worker's readers need.
 *
 * Node's zlib only decompresses synchronously in one piece (`gunzipSync`), which would hold a
 * whole input in memory, so the inflating is pako's (a port of zlib), driven through its
 * zlib-style API as one would drive zlib itself. Like `gzip`/`zcat` (and Python's `GzipFile`)
 * it reads every member of a multi-member file, ignores zero padding after the last member,
 * and checks each member's CRC-32 and length: corrupt or truncated data is a `DataError`
 * naming the input.
 *
 * @example
 * // job options: lines of gzipped inputs
 * { input: ['/data/log-1.gz'], mapReader: gzipLineReader }
 * // or decompress in the stream chain, then use any reader
 * { mapInputStream: [taskInputStream, gzipReader], mapReader: (s, size, url) => reReader(/(\w+);/, s, size, url) }
 */
import {
  Z_BUF_ERROR,
  Z_NO_FLUSH,
  Z_OK,
  Z_STREAM_END,
  ZStream,
  zlibInflate,
  zlibInflateInit2,
  zlibInflateReset,
} from 'pako';
import { DataError } from '../../common/errors.js';
import type { ByteSource } from '../../protocol/record-stream.js';
import { msg } from '../context.js';
import { InputStream, requireInputStream } from './input-stream.js';

/** Compressed bytes read from the source at a time. */
const INPUT_CHUNK = 64 * 1024;
/** zlib `windowBits` for gzip-wrapped data only (15-bit window + 16). */
const GZIP_WINDOW_BITS = 16 + 15;

/** Where the decompressor is in the file. */
type GunzipState = 'before-member' | 'in-member' | 'after-member' | 'eof';

/** Decompresses a gzip byte source as it is read (see module docs). */
export class GunzipSource implements ByteSource {
  private readonly strm = new ZStream();
  private state: GunzipState = 'before-member';
  private srcEof = false;
  /** Compressed bytes consumed from the source before the current input chunk. */
  private consumedBefore = 0;
  /** The error to throw at the next read (see {@link readInto}). */
  private failure: DataError | null = null;
  /** Bytes written by the current {@link inflateInto} call so far. */
  private produced = 0;

  constructor(
    private readonly src: ByteSource,
    private readonly url = '',
  ) {
    const status = zlibInflateInit2(this.strm, GZIP_WINDOW_BITS);
    if (status !== Z_OK) throw new Error(`cannot start a gzip decompressor (zlib status ${status})`);
    this.strm.input = new Uint8Array(0);
    this.strm.next_in = 0;
    this.strm.avail_in = 0;
  }

  read(n: number): Buffer {
    const buf = Buffer.allocUnsafe(n);
    const got = this.readInto(buf, 0, n);
    return got === n ? buf : buf.subarray(0, got);
  }

  /**
   * Fills `buf[off, off + n)` unless the data ends first; returns the bytes written. When the
   * data turns out corrupt, what was decompressed before is returned first, and the error
   * thrown by the next call.
   */
  readInto(buf: Buffer, off: number, n: number): number {
    if (this.failure) throw this.failure;
    let done = 0;
    try {
      done = this.inflateInto(buf, off, n);
    } catch (e) {
      this.state = 'eof';
      if (!(e instanceof DataError) || this.produced === 0) throw e;
      this.failure = e;
      done = this.produced;
    }
    this.produced = 0;
    return done;
  }

  private inflateInto(buf: Buffer, off: number, n: number): number {
    const strm = this.strm;
    let done = 0;
    this.produced = 0;
    while (done < n && this.state !== 'eof') {
      if (strm.avail_in === 0 && !this.refill()) {
        if (this.state === 'in-member')
          throw new DataError(
            `truncated gzip data: the input ended inside a member (after ${this.consumedBefore} compressed bytes)`,
            this.url,
          );
        this.state = 'eof';
        break;
      }
      if (this.state !== 'in-member' && !this.startMember()) continue;
      // Inflate straight into the caller's buffer (zlib keeps its own window of past output).
      strm.output = buf as Uint8Array<ArrayBuffer>;
      strm.next_out = off + done;
      strm.avail_out = n - done;
      const status = zlibInflate(strm, Z_NO_FLUSH);
      done = strm.next_out - off;
      this.produced = done;
      // Drop the reference to the caller's buffer: it is theirs again.
      strm.output = EMPTY;
      strm.next_out = 0;
      strm.avail_out = 0;
      if (status === Z_STREAM_END) this.state = 'after-member';
      else if (status !== Z_OK && status !== Z_BUF_ERROR) {
        throw new DataError(
          `corrupt gzip data: ${strm.msg || `zlib status ${status}`} (near compressed byte ${this.position()})`,
          this.url,
        );
      }
    }
    return done;
  }

  /** Offset in the compressed input of the next byte to decompress. */
  private position(): number {
    return this.consumedBefore + this.strm.next_in;
  }

  /** Read the next compressed chunk; false at the end of the source. */
  private refill(): boolean {
    if (this.srcEof) return false;
    const strm = this.strm;
    this.consumedBefore += strm.input.length;
    const chunk = this.src.read(INPUT_CHUNK);
    if (chunk.length === 0) {
      this.srcEof = true;
      strm.input = EMPTY;
      strm.next_in = 0;
      strm.avail_in = 0;
      return false;
    }
    strm.input = chunk;
    strm.next_in = 0;
    strm.avail_in = chunk.length;
    return true;
  }

  /**
   * Between members: skip zero padding; anything else starts a member (checked by zlib: data
   * that is not gzip fails with "incorrect header check"). False when the chunk held only
   * padding.
   */
  private startMember(): boolean {
    const strm = this.strm;
    const input = strm.input;
    let i = strm.next_in;
    const end = i + strm.avail_in;
    if (this.state === 'after-member') {
      while (i < end && input[i] === 0) i++;
      strm.avail_in -= i - strm.next_in;
      strm.next_in = i;
      if (i === end) return false;
      zlibInflateReset(strm);
    }
    this.state = 'in-member';
    return true;
  }

  /** The underlying source is closed by whoever opened it (the stream chain). */
  close(): void {
    this.state = 'eof';
  }
}

const EMPTY: Uint8Array<ArrayBuffer> = new Uint8Array(0);

/**
 * `gzipReader(stream, size, url, params)` — an input stream function that decompresses a
 * gzip stream: returns `[stream, null, url]`, the decompressed stream (its size is not known
 * in advance, so null, where the original passed the compressed size on). Use it in
 * `mapInputStream` before a reader, or as `mapReader` to read the decompressed lines.
 *
 * @example
 * { mapInputStream: [taskInputStream, gzipReader], mapReader: chainReader } // gzipped records
 */
export function gzipReader(
  stream: unknown,
  _size: number | null = null,
  url = '',
  _params?: unknown,
): [InputStream, null, string] {
  const s = requireInputStream(stream, null, url, 'gzipReader');
  return [new InputStream(new GunzipSource(s, url), null, url), null, url];
}

/**
 * `gzipLineReader(stream, size, url, params)` — a reader yielding the text lines of a gzip
 * stream (without their `\n` / `\r\n`). As in the original, it yields as many lines as it
 * can: when the data turns out corrupt or truncated it reports the error as a task message
 * and stops, instead of failing the task. Use {@link gzipReader} when corrupt data must fail.
 *
 * @example
 * { input: ['/logs/day-1.gz', '/logs/day-2.gz'], mapReader: gzipLineReader, map }
 */
export function* gzipLineReader(
  stream: unknown,
  size: number | null = null,
  url = '',
  params?: unknown,
): Generator<string> {
  const [s] = gzipReader(stream, size, url, params);
  const lines = s.lines();
  for (;;) {
    let next: IteratorResult<string>;
    try {
      next = lines.next();
    } catch (e) {
      if (!(e instanceof DataError)) throw e;
      msg(`gzipLineReader: ${e.message}`);
      return;
    }
    if (next.done) return;
    yield next.value;
  }
}
