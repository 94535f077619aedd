/**
 * Chunks held in memory while they upload (`ddfs chunk`): a chunk's hunks are copied, as
 * they are built, into one **arena** (a buffer of about the chunk size) and streamed at once to
 * every upload of the chunk; each {@link MemoryChunk.open} replays the hunks from the start
 * and then follows the chunk as it grows, so a retry on another node re-sends the chunk from
 * memory while it is still being built. No temporary file is written or read back.
 *
 * Memory: an arena goes back to its {@link ChunkMemoryPool} once the chunk is complete and
 * released (every upload of it acknowledged or given up), and the next chunk reuses it: no new
 * memory (nor page faults) per chunk. `DDFS.chunk` starts a chunk once at most one earlier
 * chunk is still uploading, so about (uploads in flight + 1) × chunk size is held at most.
 * A hunk that does not fit in the arena (a single line of many MiB) gets a buffer of its own.
 *
 * @example
 * const pool = chunkMemoryPool(64 << 20); // chunk-options.ts
 * const chunk = new MemoryChunk(pool);
 * const upload = putBlob(url, chunk.source); // streams what is written, as it is written
 * chunk.write([hunk]);
 * chunk.close(); // the upload ends with the last hunk
 * await upload;
 * chunk.release();
 */
import { Readable } from 'node:stream';
import type { BlobSource } from './blob-put.js';
import { type LineRecordEncoder, lineRecordEncoder } from './line-records-wasm.js';

/** A chunk's memory: the chunk's bytes from 0 on, then room for the text to encode. */
export interface Arena {
  buffer: Buffer;
  /** Where the room for text starts (the chunk's bytes stay below). */
  textAt: number;
  /** The WebAssembly line encoder working on `buffer` (line-records-wasm.ts), if any. */
  encoder: LineRecordEncoder | null;
}

/**
 * Arenas of one size, reused from chunk to chunk: in WebAssembly memory when it can be had,
 * so that lines are encoded straight into the chunk (lines-in-memory.ts). Free arenas are
 * kept until the pool is dropped (one pool per `DDFS.chunk` call).
 */
export class ChunkMemoryPool {
  private readonly free: Arena[] = [];
  /** Arenas allocated so far (tests check it stays small whatever the input size). */
  allocated = 0;
  readonly size: number;

  /**
   * `chunkBytes`: room for a chunk; `textBytes`: room for the text of one block of lines;
   * `wasm`: false for plain buffers (lines are then encoded by JavaScript).
   */
  constructor(
    readonly chunkBytes: number,
    readonly textBytes: number,
    private readonly wasm = true,
  ) {
    this.size = chunkBytes + textBytes;
  }

  take(): Arena {
    const a = this.free.pop();
    if (a) return a;
    this.allocated++;
    const encoder = this.wasm ? lineRecordEncoder(this.size) : null;
    // Untouched pages cost nothing until written.
    const buffer = encoder?.buffer ?? Buffer.allocUnsafeSlow(this.size);
    return { buffer, textAt: this.chunkBytes, encoder };
  }

  give(a: Arena): void {
    if (this.free.length < 4) this.free.push(a);
  }
}

/** A stream of a chunk's hunks: the ones written so far, then each new one as it comes. */
class ChunkStream extends Readable {
  /** Index of the next part to push. */
  next = 0;
  finished = false;

  constructor(private readonly chunk: MemoryChunk) {
    // The parts are already in memory: the stream holds references, never copies.
    super({ highWaterMark: 1 << 20 });
  }

  override _read(): void {
    this.chunk.feed(this);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.chunk.forget(this);
    cb(err);
  }
}

/** One chunk's stored bytes (header and body of each hunk, then the end hunk), in memory. */
export class MemoryChunk {
  /** Taken at the first write: `DDFS.chunk` may first wait for an earlier chunk's arena. */
  private arena: Arena | null = null;
  /** Bytes of the arena in use. */
  private used = 0;
  /** What has been written, in order: slices of the arena, or buffers of their own. */
  private readonly parts: Buffer[] = [];
  private readonly streams = new Set<ChunkStream>();
  private state: 'building' | 'complete' | 'failed' = 'building';
  private error: Error | null = null;
  private released = false;
  /** Bytes written so far. */
  written = 0;

  /** What uploads read: `size` is known (Content-Length) once the chunk is complete. */
  readonly source: BlobSource;

  constructor(private readonly pool: ChunkMemoryPool) {
    const chunk = this;
    this.source = {
      open: () => chunk.open(),
      get size() {
        return chunk.state === 'complete' ? chunk.written : undefined;
      },
    };
  }

  /** The chunk's arena (taken from the pool at the first call). */
  memory(): Arena {
    this.arena ??= this.pool.take();
    return this.arena;
  }

  /** Where the next bytes go in the arena. */
  get end(): number {
    return this.used;
  }

  /** How many bytes fit in the arena from {@link end} on (before the room for text). */
  room(): number {
    return this.memory().textAt - this.used;
  }

  /** Append one hunk (its parts, copied: the caller may reuse them at once). */
  write(parts: readonly Buffer[]): void {
    let n = 0;
    for (const p of parts) n += p.length;
    if (n === 0) return;
    // Before memory(): a complete chunk's arena may be back in the pool (a new one is not).
    this.checkBuilding();
    const arena = this.memory().buffer;
    const fits = n <= this.room();
    const out = fits ? arena.subarray(this.used, this.used + n) : Buffer.allocUnsafeSlow(n);
    let o = 0;
    for (const p of parts) o += p.copy(out, o);
    this.append(out, fits ? n : 0);
  }

  /** Append the `n` bytes written at {@link end} of the arena (lines encoded in place). */
  commit(n: number): void {
    this.checkBuilding();
    if (n > this.room()) throw new Error('hunk past the chunk memory');
    this.append(this.memory().buffer.subarray(this.used, this.used + n), n);
  }

  private checkBuilding(): void {
    if (this.state !== 'building') throw new Error(`chunk is ${this.state}`);
  }

  private append(part: Buffer, arenaBytes: number): void {
    this.used += arenaBytes;
    this.parts.push(part);
    this.written += part.length;
    for (const s of this.streams) this.feed(s);
  }

  /** All hunks are written: every stream ends after the last one. */
  close(): void {
    if (this.state !== 'building') return;
    this.state = 'complete';
    for (const s of this.streams) this.feed(s);
    this.recycle();
  }

  /**
   * Building failed: every stream fails with `error`, so that no upload ends as if the
   * chunk were complete (a node keeps no blob of a request that did not end).
   */
  fail(error: Error): void {
    if (this.state !== 'building') return;
    this.state = 'failed';
    this.error = error;
    for (const s of this.streams) this.feed(s);
    this.recycle();
  }

  /** No upload needs the chunk any more: its arena goes back to the pool once it is complete. */
  release(): void {
    this.released = true;
    for (const s of this.streams) s.destroy();
    this.recycle();
  }

  private recycle(): void {
    if (!this.released || this.state === 'building') return;
    if (this.arena) this.pool.give(this.arena);
    this.arena = null;
    this.parts.length = 0;
  }

  /** A stream of the chunk from its first byte. */
  open(): Readable {
    const s = new ChunkStream(this);
    if (this.released) s.destroy(new Error('chunk already released'));
    else this.streams.add(s);
    return s;
  }

  /** Push what `s` has not had yet (the stream buffers references, whatever its demand). */
  feed(s: ChunkStream): void {
    if (s.finished || s.destroyed) return;
    while (s.next < this.parts.length) s.push(this.parts[s.next++]);
    if (this.state === 'complete') {
      s.finished = true;
      this.streams.delete(s);
      s.push(null);
    } else if (this.state === 'failed') {
      s.finished = true;
      s.destroy(this.error ?? new Error('chunk failed'));
    }
  }

  forget(s: ChunkStream): void {
    this.streams.delete(s);
  }
}
