/**
 * The input side of `DDFS.chunk`: what turns an input's bytes into what the chunker reads.
 * {@link ByteTransform}s (the original's `input_stream`, e.g. {@link gunzipInput}) rewrite the
 * bytes first; a {@link RecordReader} then makes records of them for `chunkRecords`, while
 * text lines (the default) go to `chunkLines` as bytes: buffers, or a {@link ByteReader}
 * that reads straight into the chunker's memory ({@link fileReader}: a local file is read
 * into the chunk it becomes, without a copy), cut there into blocks of whole lines
 * ({@link lineBlocks}).
 *
 * @example
 * const bytes = transformed(Readable.from(input), url, [gunzipInput]);
 * for await (const [line] of lineRecords(bytes)) console.log(line);
 */

import { closeSync, openSync, readSync } from 'node:fs';
import { pipeline, Readable } from 'node:stream';
import zlib from 'node:zlib';
import type { KV } from '../../protocol/record-stream.js';

/**
 * Turns an input's bytes into records: `[key, value]` pairs (anything else is stored as
 * `[item, null]` by `DDFS.chunk`).
 */
export type RecordReader = (
  input: AsyncIterable<Buffer>,
  url: string,
) => AsyncIterable<unknown> | Iterable<unknown>;

/**
 * Transforms an input's bytes before its records are read (the original's `input_stream`),
 * e.g. decompression. Applied in order; the result may yield Buffers, byte arrays or strings.
 */
export type ByteTransform = (
  input: AsyncIterable<Buffer>,
  url: string,
) => AsyncIterable<Buffer | Uint8Array | string>;

/** A {@link ByteTransform} that gunzips its input (`ddfs chunk -T gunzip`). */
export const gunzipInput: ByteTransform = (input) => {
  const z = zlib.createGunzip();
  // Errors of either side end the iteration of `z` with that error.
  pipeline(Readable.from(input), z, () => undefined);
  return z;
};

/** Apply {@link ByteTransform}s in order, checking what each one returns. */
export async function* transformed(
  input: AsyncIterable<Buffer>,
  url: string,
  transforms: readonly ByteTransform[],
): AsyncGenerator<Buffer> {
  let cur: AsyncIterable<Buffer> = input;
  for (const [i, f] of transforms.entries()) {
    const out = f(cur, url) as unknown;
    if (out === null || typeof out !== 'object' || !(Symbol.asyncIterator in out))
      throw new TypeError(
        `input stream function ${i + 1} (${f.name || 'anonymous'}) returned ${out === null ? 'null' : typeof out}, expected an async iterable of bytes (e.g. a Readable)`,
      );
    cur = asBuffers(out as AsyncIterable<unknown>, i + 1);
  }
  yield* cur;
}

async function* asBuffers(src: AsyncIterable<unknown>, n: number): AsyncGenerator<Buffer> {
  for await (const b of src) {
    if (Buffer.isBuffer(b)) yield b;
    else if (b instanceof Uint8Array) yield Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    else if (typeof b === 'string') yield Buffer.from(b, 'utf8');
    else throw new TypeError(`input stream function ${n} yielded ${typeof b}; yield Buffers or strings`);
  }
}

/**
 * One record per line, `[line, null]`, the line decoded as UTF-8 without its `\n` (a last line
 * without newline counts too). `DDFS.chunk` does the same faster with `chunkLines`.
 */
export async function* lineRecords(input: AsyncIterable<Buffer>): AsyncGenerator<KV> {
  let rest: Buffer = Buffer.alloc(0);
  for await (const chunk of input) {
    let buf = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
    let nl = buf.indexOf(0x0a);
    while (nl >= 0) {
      yield [buf.subarray(0, nl).toString('utf8'), null];
      buf = buf.subarray(nl + 1);
      nl = buf.indexOf(0x0a);
    }
    rest = Buffer.from(buf);
  }
  if (rest.length > 0) yield [rest.toString('utf8'), null];
}

/**
 * Bytes read straight into `chunkLines`'s buffers — for a local file, no copy from a
 * read buffer: `read` puts up to `length` bytes at `offset` of `into` and says how many (0 at
 * the end); `close` is called once chunking ends.
 */
export interface ByteReader {
  read(into: Buffer, offset: number, length: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * A local file as a {@link ByteReader}; `onBytes` counts what is read. The reads block this
 * thread: from the page cache a read is a copy of about 1 MiB (~0.15 ms), cheaper than a
 * thread-pool read and without its latency, which nothing could overlap (the bytes go where
 * they are encoded next).
 *
 * @example
 * for await (const c of chunkLines(fileReader('./big.log'), {})) uploads.push(upload(c));
 */
export function fileReader(file: string, onBytes?: (n: number) => void): ByteReader {
  let fd: number | null = null;
  return {
    async read(into, offset, length) {
      fd ??= openSync(file, 'r');
      const n = readSync(fd, into, offset, length, null);
      onBytes?.(n);
      return n;
    },
    async close() {
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}

/** The input of `chunkLines`: buffers (which it copies), or a reader into its own. */
export type LineInput = AsyncIterable<Buffer> | ByteReader;

const EMPTY = Buffer.alloc(0);

/** Input as a {@link ByteReader} (buffers are copied from). */
export function asReader(input: LineInput): ByteReader {
  if (!(Symbol.asyncIterator in input)) return input;
  const it = input[Symbol.asyncIterator]();
  let cur: Buffer = EMPTY;
  let from = 0;
  return {
    async read(into, offset, length) {
      while (from >= cur.length) {
        const r = await it.next();
        if (r.done) return 0;
        cur = r.value;
        from = 0;
      }
      const n = Math.min(length, cur.length - from);
      cur.copy(into, offset, from, from + n);
      from += n;
      return n;
    },
    async close() {
      await it.return?.();
    },
  };
}

/** Text being cut into blocks of lines: `work[at, at + len)`, room for `cap` bytes from `at`. */
export interface LineText {
  work: Buffer;
  at: number;
  cap: number;
  len: number;
}

/** Move `t`'s text from its byte `from` on to `dest[destAt, destAt + destCap)`. */
export function moveLineText(t: LineText, from: number, dest: Buffer, destAt: number, destCap: number): void {
  t.work.copy(dest, destAt, t.at + from, t.at + t.len);
  t.len -= from;
  t.work = dest;
  t.at = destAt;
  t.cap = destCap;
}

/**
 * Cut `input` into blocks of whole lines, read straight into `t`: each time `t` is full,
 * `send(n)` takes its first `n` bytes (whole lines) and leaves the rest in `t`, or, when one
 * line fills it, `grow(capacity)` moves the text to a larger buffer. A last line without
 * newline gets one. What `send` yields is yielded.
 *
 * @example
 * const t = { work: Buffer.alloc(1 << 20), at: 0, cap: 1 << 20, len: 0 };
 * yield* lineBlocks(fileReader(file), t, send, (cap) => moveLineText(t, 0, Buffer.alloc(cap), 0, cap));
 */
export async function* lineBlocks<T>(
  input: ByteReader,
  t: LineText,
  send: (n: number) => AsyncGenerator<T>,
  grow: (capacity: number) => void,
): AsyncGenerator<T> {
  for (;;) {
    if (t.len === t.cap) {
      // Only this block's text: before `t.at` lie other bytes (a chunk, in an arena).
      const nl = t.work.subarray(t.at, t.at + t.len).lastIndexOf(0x0a);
      // One line longer than a block: a larger buffer for all of it.
      if (nl < 0) grow(2 * t.cap);
      else yield* send(nl + 1);
      continue;
    }
    const n = await input.read(t.work, t.at + t.len, t.cap - t.len);
    if (n === 0) break;
    t.len += n;
  }
  if (t.len > 0) {
    if (t.work[t.at + t.len - 1] !== 0x0a) {
      if (t.len === t.cap) grow(t.cap + 1);
      t.work[t.at + t.len++] = 0x0a;
    }
    yield* send(t.len);
  }
}
