/**
 * CRC-32 of hunks on a worker thread, for `ddfs chunk` (lines-in-memory.ts): the main thread encodes
 * lines into a chunk's memory, shared with the worker (a WebAssembly memory backed by a
 * SharedArrayBuffer), and goes on with the next hunk while the worker computes the CRC of the
 * last one (zlib's, about 0.3 s per GiB: a quarter of the main thread's work). With two
 * cores, the other one runs the receiving node, which leaves it time for this.
 *
 * The worker is shipped as source text (`eval`), as line-hunks.ts's encoders are.
 *
 * @example
 * const crcs = new CrcWorker();
 * const crc = await crcs.crc(memory, start, end); // memory: a SharedArrayBuffer
 * await crcs.close();
 */
import { Worker } from 'node:worker_threads';

/**
 * The worker: memories arrive once each (`{ id, memory }`), then jobs (`{ job, id, start, end }`);
 * `{ drop: id }` lets a memory go.
 */
const SOURCE = `const { parentPort } = require('node:worker_threads');
const { crc32 } = require('node:zlib');
const memories = new Map();
parentPort.on('message', (m) => {
  if (m.memory) return void memories.set(m.id, new Uint8Array(m.memory));
  if (m.drop !== undefined) return void memories.delete(m.drop);
  try {
    parentPort.postMessage({ job: m.job, crc: crc32(memories.get(m.id).subarray(m.start, m.end)) });
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
  error?: string;
}

/** A worker thread computing CRC-32s (zlib's) of ranges of shared memories. */
export class CrcWorker {
  private readonly worker: Worker;
  /** Memories sent to the worker, oldest first. */
  private readonly ids = new Map<SharedArrayBuffer, number>();
  private nextId = 0;
  private nextJob = 0;
  private readonly waiting = new Map<number, { resolve(crc: number): void; reject(e: Error): void }>();
  private failed: Error | null = null;

  constructor() {
    this.worker = new Worker(SOURCE, { eval: true });
    // Only jobs keep the process alive (see crc).
    this.worker.unref();
    this.worker.on('message', (m: Reply) => {
      const p = this.waiting.get(m.job);
      if (!p) return;
      this.waiting.delete(m.job);
      if (this.waiting.size === 0) this.worker.unref();
      if (m.error !== undefined) p.reject(new Error(`CRC worker: ${m.error}`));
      else p.resolve(m.crc ?? 0);
    });
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => this.fail(new Error(`the CRC worker exited with code ${code}`)));
  }

  /** CRC-32 of `memory[start, end)`, which must not change until this resolves. */
  crc(memory: SharedArrayBuffer, start: number, end: number): Promise<number> {
    if (this.failed) return Promise.reject(this.failed);
    let id = this.ids.get(memory);
    if (id === undefined) {
      if (this.ids.size >= MEMORIES_KEPT) {
        // Jobs on it already sent are done before the worker reads this (messages keep order).
        const [oldest, drop] = this.ids.entries().next().value as [SharedArrayBuffer, number];
        this.ids.delete(oldest);
        this.worker.postMessage({ drop });
      }
      id = this.nextId++;
      this.ids.set(memory, id);
      this.worker.postMessage({ id, memory });
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
