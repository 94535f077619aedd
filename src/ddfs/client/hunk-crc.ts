/**
 * CRC-32 of hunks on a worker thread, for `ddfs chunk` (lines-in-memory.ts): the main thread encodes
 * lines into a chunk's memory, shared with the worker (a WebAssembly memory backed by a
 * SharedArrayBuffer), and goes on with the next hunk while the worker computes the CRC of the
 * last one. The worker runs common/crc32.ts's WebAssembly module on that memory, in a scratch
 * area of its own in it (line-records-wasm.ts leaves one): the compiled module and the memory
 * are posted to it (neither code nor bytes are copied). Measured, 1 MiB hunks of a 64 MiB
 * memory: 0.18 s per GiB, zlib's CRC (the fallback without WebAssembly SIMD) 0.32 s.
 *
 * The worker is shipped as source text (`eval`), as line-hunks.ts's encoders are.
 *
 * @example
 * const crcs = new CrcWorker();
 * const crc = await crcs.crc(encoder, start, end); // encoder: { memory, crcScratch } (line-records-wasm.ts)
 * await crcs.close();
 */
import { Worker } from 'node:worker_threads';
import { CRC_SCRATCH, crc32Module } from '../../common/crc32.js';

/** A shared WebAssembly memory and where in it the worker's CRC may keep its scratch area. */
export interface CrcArena {
  memory: { buffer: ArrayBuffer };
  crcScratch: number;
}

/**
 * The worker: the CRC module first (`{ module }`, null without WebAssembly SIMD), memories
 * once each (`{ id, memory, scratch }`), then jobs (`{ job, id, start, end }`); `{ drop: id }`
 * lets a memory go. A memory's CRC function is the module's on it, or zlib's.
 */
const SOURCE = `const { parentPort } = require('node:worker_threads');
const { crc32 } = require('node:zlib');
let module = null;
const memories = new Map();
const crcOf = (memory, scratch) => {
  try {
    const x = new WebAssembly.Instance(module, { env: { memory } }).exports;
    x.init(scratch);
    const f = (start, end) => x.crc(start, end - start, 0, scratch) >>> 0;
    f.wasm = true;
    return f;
  } catch {
    const bytes = new Uint8Array(memory.buffer);
    return (start, end) => crc32(bytes.subarray(start, end));
  }
};
parentPort.on('message', (m) => {
  if (m.module !== undefined) return void (module = m.module);
  if (m.memory) return void memories.set(m.id, crcOf(m.memory, m.scratch));
  if (m.drop !== undefined) return void memories.delete(m.drop);
  try {
    const f = memories.get(m.id);
    parentPort.postMessage({ job: m.job, crc: f(m.start, m.end), wasm: f.wasm === true });
  } catch (e) {
    parentPort.postMessage({ job: m.job, error: String((e && e.stack) || e) });
  }
});`;

/**
 * Memories the worker holds at most: the oldest is dropped beyond (a chunk's arena is used a
 * while, then goes back to a pool of a few, or is collected); sent again if used again.
 */
const MEMORIES_KEPT = 8;

interface Reply {
  job: number;
  crc?: number;
  /** Computed by the WebAssembly module (else by zlib). */
  wasm?: boolean;
  error?: string;
}

/** Jobs done by CRC workers of this process: by the WebAssembly module, by zlib (for tests). */
export const crcWorkerStats = { wasm: 0, zlib: 0 };

/** A worker thread computing CRC-32s (zlib's) of ranges of shared WebAssembly memories. */
export class CrcWorker {
  private readonly worker: Worker;
  /** Memories sent to the worker, oldest first. */
  private readonly ids = new Map<CrcArena['memory'], number>();
  private nextId = 0;
  private nextJob = 0;
  private readonly waiting = new Map<number, { resolve(crc: number): void; reject(e: Error): void }>();
  private failed: Error | null = null;

  constructor() {
    this.worker = new Worker(SOURCE, { eval: true });
    this.worker.postMessage({ module: crc32Module() });
    // Only jobs keep the process alive (see crc).
    this.worker.unref();
    this.worker.on('message', (m: Reply) => {
      const p = this.waiting.get(m.job);
      if (!p) return;
      this.waiting.delete(m.job);
      if (this.waiting.size === 0) this.worker.unref();
      if (m.error !== undefined) return p.reject(new Error(`CRC worker: ${m.error}`));
      crcWorkerStats[m.wasm ? 'wasm' : 'zlib']++;
      p.resolve(m.crc ?? 0);
    });
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => this.fail(new Error(`the CRC worker exited with code ${code}`)));
  }

  /** CRC-32 of `arena.memory[start, end)`, which must not change until this resolves. */
  crc(arena: CrcArena, start: number, end: number): Promise<number> {
    const memory = arena.memory;
    if (this.failed) return Promise.reject(this.failed);
    // The data lies below the scratch areas (this thread's, then the worker's: crc32.ts).
    if (!(start >= 0 && start <= end && end <= arena.crcScratch - CRC_SCRATCH))
      return Promise.reject(new RangeError(`CRC range [${start}, ${end}) outside the arena's data`));
    let id = this.ids.get(memory);
    if (id === undefined) {
      if (this.ids.size >= MEMORIES_KEPT) {
        // Jobs on it already sent are done before the worker reads this (messages keep order).
        const [oldest, drop] = this.ids.entries().next().value as [CrcArena['memory'], number];
        this.ids.delete(oldest);
        this.worker.postMessage({ drop });
      }
      id = this.nextId++;
      this.ids.set(memory, id);
      this.worker.postMessage({ id, memory, scratch: arena.crcScratch });
    }
    const job = this.nextJob++;
    if (this.waiting.size === 0) this.worker.ref();
    return new Promise((resolve, reject) => {
      this.waiting.set(job, { resolve, reject });
      this.worker.postMessage({ job, id, start, end });
    });
  }

  private fail(e: Error): void {
    this.failed ??= e;
    for (const p of this.waiting.values()) p.reject(this.failed);
    this.waiting.clear();
  }

  async close(): Promise<void> {
    this.failed ??= new Error('CRC worker closed');
    this.ids.clear();
    await this.worker.terminate();
  }
}
