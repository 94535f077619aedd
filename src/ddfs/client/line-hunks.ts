/**
 * Text lines to record hunks off the main thread, for `ddfs chunk`: a block of whole lines
 * becomes one hunk of records `[line, null]` (docs/record-format.md) — header, CRC-32 and,
 * when asked for, zlib compression included — in worker threads, so that building records
 * (the CPU-bound part of chunking, about 1 s of CPU per GiB of short lines) runs beside the
 * reading, writing and uploading done by the main thread.
 *
 * Memory: a block travels in a **work buffer** that holds its text at the end and receives
 * the records in front of it, in place (a record never outgrows its line by more than the
 * line's length, so the records never overtake the text still to encode). The buffer moves
 * to the worker and back without copying, and is used again for a later block once its hunk
 * is written ({@link LineHunk.release}): no memory is allocated per block.
 *
 * On this thread, work buffers live in WebAssembly memory and are encoded by
 * line-records-wasm.ts (5 times faster than {@link encodeLineHunk}'s JavaScript loop, which
 * makes two native calls per line); such buffers cannot move to workers.
 *
 * The encoder is shipped to the workers as source text (`eval` workers): the project has no
 * separate worker file to load, neither from `dist/` nor when tests run the TypeScript
 * sources. {@link encodeLineHunk} therefore uses nothing from outside its own body but its
 * arguments and globals; the same function runs on the main thread when no worker is wanted.
 *
 * @example
 * const pool = new LineHunkPool({ level: 0, capacity: 1 << 20 });
 * pool.startWorkers(2);
 * const work = pool.take();
 * const n = work.write('a\nb\n', pool.inputAt(work));
 * const hunk = await pool.encode(work, n); // { bytes, records: 2, raw: 6, release }
 * hunk.release();
 * await pool.close();
 */
import { isUtf8 } from 'node:buffer';
import os from 'node:os';
import { type MessagePort, Worker } from 'node:worker_threads';
import zlib from 'node:zlib';
import { crc32 } from '../../common/crc32.js';
import { type LineRecordEncoder, lineRecordEncoder } from './line-records-wasm.js';

/** One encoded hunk. */
export interface LineHunk {
  /** The hunk as stored: header and body. */
  bytes: Buffer;
  records: number;
  /** Uncompressed body size. */
  raw: number;
  /** Give the block's work buffer back once `bytes` is no longer needed. */
  release(): void;
}

/** What {@link encodeLineHunk} needs from Node (passed in: it may not refer to imports). */
export interface EncoderLib {
  crc32(data: Uint8Array): number;
  deflateSync(data: Uint8Array, opts: { level: number }): Buffer;
  isUtf8(data: Uint8Array): boolean;
}

/**
 * {@link EncoderLib} of this thread: common/crc32.ts's CRC, in place in WebAssembly work
 * buffers (line-records-wasm.ts sets their memories up for it).
 */
export const LIB: EncoderLib = { crc32, deflateSync: zlib.deflateSync, isUtf8 };

/** Hunk header size (record-stream.ts `HUNK_HEADER`; repeated: the encoder is self-contained). */
const HEADER = 14;

/** Where a work buffer of `size` bytes holds its block's text. */
export function inputOffset(size: number): number {
  return size - Math.floor((size - HEADER - 16) / 3);
}

/** A work buffer size for blocks of up to `capacity` bytes of text. */
export function workBufferSize(capacity: number): number {
  return HEADER + 16 + 3 * capacity;
}

/**
 * Records `[line, null]` for the lines of `work[at, at + length)` (ending just after a `\n`,
 * `at` = {@link inputOffset}), written as one hunk of record format version 2 at `start` of
 * `work` (default 0) — or, compressed or not UTF-8, into a new buffer. Lines that are not
 * valid UTF-8 are decoded (with replacement characters) and encoded again, as `lineRecords`
 * does. Self-contained (see the module comment): it uses only its arguments and globals.
 * `fast`: the WebAssembly encoder whose memory `work` is (line-records-wasm.ts), for valid
 * UTF-8 text. The records must never overtake the text still to encode: with `start` past 0
 * (lines-in-memory.ts, a chunk's arena), the text lies past room for twice its length and more.
 */
export function encodeLineHunk(
  work: Uint8Array,
  at: number,
  length: number,
  level: number,
  lib: EncoderLib,
  fast?: (p: number, end: number, o: number) => [end: number, records: number],
  start = 0,
): { bytes: Uint8Array; records: number; raw: number } {
  const H = 14;
  const buf = Buffer.from(work.buffer, work.byteOffset, work.byteLength);
  const input = buf.subarray(at, at + length);
  const valid = lib.isUtf8(input);
  // Not UTF-8: a decoded line may grow 3 times (replacement characters): a new buffer.
  const out = valid ? buf : Buffer.allocUnsafeSlow(H + 6 * length + 16);
  const first = valid ? start : 0;
  let o = first + H;
  let records = 0;
  const header = (n: number) => {
    if (n < 32) out[o++] = 0xa0 | n;
    else if (n < 0x100) {
      out[o++] = 0xd9;
      out[o++] = n;
    } else if (n < 0x10000) {
      out[o++] = 0xda;
      out.writeUInt16BE(n, o);
      o += 2;
    } else {
      out[o++] = 0xdb;
      out.writeUInt32BE(n, o);
      o += 4;
    }
  };
  if (valid && fast && length > 0 && buf[at + length - 1] === 0x0a) {
    // The encoder works on addresses in its memory.
    const base = work.byteOffset;
    const [end, n] = fast(base + at, base + at + length, base + o);
    o = end - base;
    records = n;
  } else if (valid) {
    // In place: one native copy per line (`copyWithin`, twice as fast as `Buffer#copy`).
    for (let p = at; p < at + length; ) {
      const nl = buf.indexOf(0x0a, p);
      const n = nl - p;
      header(n);
      buf.copyWithin(o, p, nl);
      o += n;
      buf[o++] = 0xc0;
      records++;
      p = nl + 1;
    }
  } else {
    for (let p = 0; p < length; ) {
      const nl = input.indexOf(0x0a, p);
      const line = Buffer.from(input.toString('utf8', p, nl));
      header(line.length);
      o += line.copy(out, o);
      out[o++] = 0xc0;
      records++;
      p = nl + 1;
    }
  }
  const raw = o - first - H;
  const body = out.subarray(first + H, o);
  const crc = lib.crc32(body);
  let bytes = out.subarray(first, o);
  let compressed = 0;
  if (level > 0) {
    const z = lib.deflateSync(body, { level });
    bytes = Buffer.allocUnsafeSlow(H + z.length);
    z.copy(bytes, H);
    compressed = 1;
  }
  bytes[0] = 0x82;
  bytes[1] = compressed;
  bytes.writeUInt32LE(crc, 2);
  bytes.writeBigUInt64LE(BigInt(bytes.length - H), 6);
  return { bytes, records, raw };
}

interface Job {
  id: number;
  work: ArrayBuffer;
  at: number;
  length: number;
  level: number;
}

interface Done {
  id: number;
  work: ArrayBuffer;
  /** The hunk: in `work` (`[0, end)`) or its own buffer. */
  own?: Uint8Array;
  end?: number;
  records?: number;
  raw?: number;
  error?: string;
}

/** The body of an encoding worker (shipped as source, with {@link encodeLineHunk}). */
function workerMain(parentPort: MessagePort, lib: EncoderLib): void {
  parentPort.on('message', (m: Job) => {
    const work = new Uint8Array(m.work);
    try {
      const r = encodeLineHunk(work, m.at, m.length, m.level, lib);
      const inWork = r.bytes.buffer === m.work;
      const done: Done = inWork
        ? { id: m.id, work: m.work, end: r.bytes.byteLength, records: r.records, raw: r.raw }
        : { id: m.id, work: m.work, own: r.bytes, records: r.records, raw: r.raw };
      const moved = inWork ? [m.work] : [m.work, r.bytes.buffer as ArrayBuffer];
      parentPort.postMessage(done, moved);
    } catch (e) {
      parentPort.postMessage({ id: m.id, work: m.work, error: String((e as Error)?.stack ?? e) }, [m.work]);
    }
  });
}

/**
 * The worker's program: the two functions' text, called with Node's modules. The `require`
 * calls are in this string on purpose — bundlers rewrite `require` in code they see, and an
 * eval worker has only the real one.
 */
const WORKER_SOURCE = `${encodeLineHunk.toString()}
(${workerMain.toString()})(require('node:worker_threads').parentPort, {
  crc32: require('node:zlib').crc32,
  deflateSync: require('node:zlib').deflateSync,
  isUtf8: require('node:buffer').isUtf8,
});`;

/** Options of {@link LineHunkPool}. */
export interface LineHunkPoolOptions {
  /** zlib level of the hunks (0: not compressed). */
  level: number;
  /** Usual block size (bytes of text); larger blocks get work buffers of their own. */
  capacity: number;
  /**
   * Work buffers in WebAssembly memory, encoded there by line-records-wasm.ts (default
   * true; off, or without WebAssembly SIMD, the JavaScript encoder). Such buffers cannot
   * move to worker threads: they are encoded on this thread, and only taken while no
   * worker runs.
   */
  wasm?: boolean;
}

/**
 * Worker threads wanted by default for hunks of zlib `level`: uncompressed, one per core
 * beyond two, at most 4 — with two cores the main thread (reading, writing, uploading) and
 * the receiving node already use both, and a worker only adds its cost (measured: ~10 % more
 * CPU, no gain in time). Compressed, at least two: deflate is then nearly all the work, and
 * two workers nearly halve the time even on two cores (256 MiB at level 1: 4.6 → 2.6 s).
 */
export function defaultEncoders(level = 0): number {
  const cores = os.availableParallelism();
  return level > 0 ? Math.max(2, Math.min(4, cores)) : Math.max(0, Math.min(4, cores - 2));
}

/**
 * Encodes blocks of lines into hunks, on worker threads or (without workers) on this one.
 * Take a work buffer ({@link take}), put the text at {@link inputAt}, {@link encode} it: the
 * buffer belongs to the pool from then on. Results come back in the order given.
 */
export class LineHunkPool {
  private readonly workers: Worker[] = [];
  private readonly waiting = new Map<number, { resolve(h: LineHunk): void; reject(e: Error): void }>();
  private readonly free: Buffer[] = [];
  /** The WebAssembly encoders of work buffers that have one (see {@link LineHunkPoolOptions.wasm}). */
  private readonly fast = new WeakMap<ArrayBufferLike, LineRecordEncoder>();
  private readonly size: number;
  private next = 0;
  private failed: Error | null = null;

  constructor(private readonly opts: LineHunkPoolOptions) {
    this.size = workBufferSize(opts.capacity);
  }

  /**
   * Encode on `n` worker threads from now on (default {@link defaultEncoders}); without
   * this call, or with 0, blocks are encoded on this thread.
   */
  startWorkers(n = defaultEncoders(this.opts.level)): void {
    for (let i = this.workers.length; i < n; i++) {
      const w = new Worker(WORKER_SOURCE, { eval: true });
      w.unref();
      w.on('message', (m: Done) => this.done(m));
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => {
        if (code !== 0) this.fail(new Error(`a line encoding worker exited with code ${code}`));
      });
      this.workers.push(w);
    }
  }

  /** Does this pool use worker threads? */
  get threaded(): boolean {
    return this.workers.length > 0;
  }

  /** A work buffer for up to `capacity` bytes of text (default: the pool's block size). */
  take(capacity = this.opts.capacity): Buffer {
    if (capacity <= this.opts.capacity) return this.free.pop() ?? this.newWork();
    return Buffer.allocUnsafeSlow(workBufferSize(capacity));
  }

  private newWork(): Buffer {
    if ((this.opts.wasm ?? true) && !this.threaded) {
      const enc = lineRecordEncoder(this.size);
      if (enc) {
        this.fast.set(enc.buffer.buffer, enc);
        return enc.buffer;
      }
    }
    return Buffer.allocUnsafeSlow(this.size);
  }

  /** Where the text goes in `work`. */
  inputAt(work: Buffer): number {
    return inputOffset(work.length);
  }

  /** How much text `work` can hold. */
  capacityOf(work: Buffer): number {
    return work.length - inputOffset(work.length);
  }

  /** Encode the `length` bytes of whole lines at {@link inputAt} of `work` (taken from {@link take}). */
  encode(work: Buffer, length: number): Promise<LineHunk> {
    if (this.failed) return Promise.reject(this.failed);
    const at = this.inputAt(work);
    const fast = this.fast.get(work.buffer);
    if (this.workers.length === 0 || fast) {
      const r = encodeLineHunk(work, at, length, this.opts.level, LIB, fast?.encode);
      return Promise.resolve({ ...r, bytes: r.bytes as Buffer, release: () => this.giveBack(work) });
    }
    const id = this.next++;
    const w = this.workers[id % this.workers.length];
    return new Promise<LineHunk>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      const job: Job = { id, work: work.buffer as ArrayBuffer, at, length, level: this.opts.level };
      w.postMessage(job, [job.work]);
    });
  }

  private done(m: Done): void {
    const p = this.waiting.get(m.id);
    if (!p) return;
    this.waiting.delete(m.id);
    const work = Buffer.from(m.work);
    if (m.error !== undefined) {
      this.giveBack(work);
      p.reject(new Error(`encoding lines failed: ${m.error}`));
      return;
    }
    const bytes = m.own
      ? Buffer.from(m.own.buffer, m.own.byteOffset, m.own.byteLength)
      : work.subarray(0, m.end);
    p.resolve({ bytes, records: m.records ?? 0, raw: m.raw ?? 0, release: () => this.giveBack(work) });
  }

  private giveBack(work: Buffer): void {
    // Buffers in WebAssembly memory cannot move to workers: dropped once workers run.
    if (this.threaded && this.fast.has(work.buffer)) return;
    if (work.length === this.size && this.free.length < 64) this.free.push(work);
  }

  private fail(e: Error): void {
    this.failed ??= e;
    for (const p of this.waiting.values()) p.reject(e);
    this.waiting.clear();
  }

  async close(): Promise<void> {
    this.failed ??= new Error('line encoder closed');
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }
}
