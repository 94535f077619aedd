/**
 * What chunking is asked for and what it hands out, shared by the ways chunks are built
 * (chunk-writer.ts, lines-in-memory.ts): {@link ChunkerOptions} and their defaults, the
 * {@link Chunk}s yielded (started by {@link startChunk}, failed by {@link withCleanup} when
 * chunking stops), and the sizes derived from the chunk size (hunks, blocks of text, arenas).
 *
 * Memory: chunks of up to `memoryLimit` (default {@link MAX_MEMORY_CHUNK}) are built in memory
 * (chunk-memory.ts), about (uploads in flight + 1) × `chunkSize`, arenas reused from chunk to
 * chunk (`DDFS.chunk` starts a chunk once at most one earlier chunk is still uploading: two
 * arenas of the chunk size plus ~5 MiB, about 140 MiB with the default 64 MiB). Larger chunks
 * are written to temporary files instead and handed out once complete: one file at a time
 * being built, and the uploads read them back.
 *
 * @example
 * const memory = chunkMemoryPool(16 << 20); // to share between inputs
 * const opts: ChunkerOptions = { chunkSize: 16 << 20, memory, compression: 1 };
 */

import fs from 'node:fs/promises';
import { HUNK_SIZE } from '../../protocol/record-stream.js';
import type { BlobSource } from './blob-put.js';
import { ChunkMemoryPool, type MemoryChunk } from './chunk-memory.js';

/** The original's default chunk size: 64 MiB. */
export const DEFAULT_CHUNK_SIZE = 64 * 1024 * 1024;
/**
 * Default zlib level of chunk hunks: 0, not compressed. The original compressed chunks (zlib
 * level 2); zlib, even at level 1, runs at a fraction of disk speed (`bench/ddfs.ts`), so
 * chunking is I/O-bound only without it. `compression: 1..9` trades speed for space.
 */
export const DEFAULT_CHUNK_COMPRESSION = 0;

/**
 * Chunks of at most this size (`chunkSize`) are built in memory and streamed to the nodes
 * as they are built; larger ones are written to temporary files first (memory for two such
 * chunks would be too much).
 */
export const MAX_MEMORY_CHUNK = 256 * 1024 * 1024;

/** Size and records of a complete chunk. */
export interface ChunkInfo {
  /** Bytes as stored (the record stream, end hunk included). */
  size: number;
  records: number;
}

/**
 * A chunk of an input. In memory (the default) it is handed out as soon as it is started,
 * and its `source` streams the chunk while it is being built; in a file, once complete.
 */
export interface Chunk {
  /** Index of the chunk within its input (0, 1, ...). */
  index: number;
  /**
   * The chunk's bytes for uploads, as often as needed (retries, replicas): each `open`
   * replays the chunk from its start (and follows it while it is built; a stream of a chunk
   * whose building fails fails too), or a file.
   */
  source: BlobSource;
  /** Resolves once the chunk is complete; rejects if its building failed. */
  done: Promise<ChunkInfo>;
  /** Once every upload of the chunk has ended: frees its memory or removes its file. */
  release(): Promise<void>;
}

/** Options of `chunkRecords` and `chunkLines` (chunker.ts). */
export interface ChunkerOptions {
  chunkSize?: number;
  /**
   * Chunks larger than this are built in files (default {@link MAX_MEMORY_CHUNK}), in
   * `dir`, which is then required.
   */
  memoryLimit?: number;
  /** Directory for chunk files. */
  dir?: string;
  prefix?: string;
  /** Arenas for chunks in memory, to share between inputs (default: one pool per call). */
  memory?: ChunkMemoryPool;
  /** zlib level of the hunks, 0 = not compressed (default {@link DEFAULT_CHUNK_COMPRESSION}). */
  compression?: number;
  /**
   * `chunkLines`: worker threads building hunks (default: one per core beyond two, at
   * most 4; 0 = on this thread). Small inputs never start any.
   */
  encoders?: number;
}

/** Are chunks of these options built in memory (else in files, in `dir`)? */
export function chunksInMemory(opts: Pick<ChunkerOptions, 'chunkSize' | 'memoryLimit'>): boolean {
  return (opts.chunkSize ?? DEFAULT_CHUNK_SIZE) <= (opts.memoryLimit ?? MAX_MEMORY_CHUNK);
}

/**
 * Throw a clear error for options chunking cannot work with: a `compression` that is not a
 * zlib level (zlib would reject it later, hunk by hunk), a `chunkSize` that is not a positive
 * size, or a shared `memory` pool whose arenas are too small for the chunks.
 */
export function checkChunkerOptions(opts: ChunkerOptions): void {
  const { compression, chunkSize } = opts;
  if (compression !== undefined && !(Number.isInteger(compression) && compression >= 0 && compression <= 9))
    throw new RangeError(`compression must be a zlib level 0-9, got ${compression}`);
  if (chunkSize !== undefined && !(Number.isSafeInteger(chunkSize) && chunkSize > 0))
    throw new RangeError(`chunkSize must be a positive number of bytes, got ${chunkSize}`);
  const { memory } = opts;
  if (memory && chunksInMemory(opts)) {
    const needed = chunkMemoryPool(chunkSize ?? DEFAULT_CHUNK_SIZE, false);
    if (memory.chunkBytes < needed.chunkBytes || memory.textBytes < needed.textBytes)
      throw new RangeError(
        `memory pool too small for chunks of ${chunkSize ?? DEFAULT_CHUNK_SIZE} bytes: ` +
          `use chunkMemoryPool(chunkSize) (arenas of ${memory.size} bytes, ${needed.size} needed)`,
      );
  }
}

/** Hunk size (uncompressed) for chunks of `limit` bytes. */
export function hunkSizeFor(limit: number): number {
  // Chunks smaller than a few hunks: cut hunks early, or a chunk could never be smaller
  // than one 1 MiB hunk (the original's granularity).
  return limit < 4 * HUNK_SIZE ? Math.max(1024, Math.floor(limit / 4)) : HUNK_SIZE;
}

/** Text of a block of lines: a block's records are a little larger: a bit below a hunk. */
export function blockSizeFor(hunk: number): number {
  return Math.max(512, Math.floor(hunk * 0.95));
}

/**
 * Memory for chunks of `chunkSize` bytes: a chunk is closed once past its limit, so it holds
 * at most one hunk more (records of a block of text: up to twice the text, all lines empty) —
 * two to also cover hunks still in compression when it was measured; then the text of a block.
 * `wasm`: false for plain buffers (the JavaScript line encoder, as without WebAssembly).
 */
export function chunkMemoryPool(chunkSize = DEFAULT_CHUNK_SIZE, wasm = true): ChunkMemoryPool {
  const hunk = hunkSizeFor(chunkSize);
  return new ChunkMemoryPool(chunkSize + 2 * (2 * hunk + 64 * 1024), blockSizeFor(hunk) + 64, wasm);
}

/** A chunk just started: the {@link Chunk} to hand out, and what settles its `done`. */
export interface StartedChunk {
  chunk: Chunk;
  /** Resolve `done` (with the chunk's info then), or reject it with `error`. */
  settle(error?: Error): void;
}

/**
 * Start chunk `index`, built in `where` (its memory, or a file's path); `info` gives its size
 * and records once it is complete.
 */
export function startChunk(index: number, where: MemoryChunk | string, info: () => ChunkInfo): StartedChunk {
  let settle!: (error?: Error) => void;
  const done = new Promise<ChunkInfo>((resolve, reject) => {
    settle = (e) => (e ? reject(e) : resolve(info()));
  });
  // The consumer may never look: a failure is not an unhandled rejection.
  done.catch(() => undefined);
  const chunk: Chunk =
    typeof where === 'string'
      ? { index, done, source: { file: where }, release: () => fs.rm(where, { force: true }) }
      : { index, done, source: where.source, release: async () => where.release() };
  return { chunk, settle };
}

/**
 * `body`'s chunks, then `cleanup` whatever the outcome (completed, failed, or stopped by the
 * consumer), given the error a chunk still under construction fails with.
 */
export async function* withCleanup<T>(
  body: AsyncGenerator<T>,
  cleanup: (error: Error) => Promise<void>,
): AsyncGenerator<T> {
  let failure: Error | null = null;
  try {
    yield* body;
  } catch (e) {
    failure = e instanceof Error ? e : new Error(String(e));
    throw e;
  } finally {
    await cleanup(failure ?? new Error('chunking stopped before the end of the input'));
  }
}
