/**
 * Where a chunk's hunks go as they are written (chunk-writer.ts): a {@link MemorySink} into
 * the chunk's memory (chunk-memory.ts), from which its uploads stream the hunks while the
 * chunk is built, or a {@link FileSink} into a temporary file for chunks too large for memory.
 *
 * @example
 * const sink = new FileSink('/tmp/chunk-0');
 * await sink.write([hunkHeader(false, zlib.crc32(body), body.length), body]);
 * await sink.write([hunkHeader(false, 0, 0)]); // the end of the record stream
 * await sink.close();
 */

import fs from 'node:fs/promises';
import type { MemoryChunk } from './chunk-memory.js';

/** Where a chunk's bytes go, in order. */
export interface HunkSink {
  /** Append these buffers; they may be reused once this returns (or resolves). */
  write(parts: readonly Buffer[]): void | Promise<void>;
  close(): void | Promise<void>;
  /** Building failed: drop what was written. */
  abort(error: Error): Promise<void>;
}

/** A chunk file. */
export class FileSink implements HunkSink {
  private readonly fh: Promise<fs.FileHandle>;

  constructor(readonly file: string) {
    this.fh = fs.open(file, 'w');
    this.fh.catch(() => undefined);
  }

  /** One `writev`, continued after a short write. */
  async write(parts: readonly Buffer[]): Promise<void> {
    const fh = await this.fh;
    let rest = parts;
    while (rest.length > 0) {
      let n = (await fh.writev(rest as Buffer[])).bytesWritten;
      while (rest.length > 0 && n >= rest[0].length) {
        n -= rest[0].length;
        rest = rest.slice(1);
      }
      if (rest.length > 0 && n > 0) rest = [rest[0].subarray(n), ...rest.slice(1)];
    }
  }

  async close(): Promise<void> {
    await (await this.fh).close();
  }

  async abort(): Promise<void> {
    await (await this.fh.catch(() => null))?.close().catch(() => undefined);
    await fs.rm(this.file, { force: true });
  }
}

/** The sink of a chunk in memory. */
export class MemorySink implements HunkSink {
  constructor(readonly chunk: MemoryChunk) {}

  write(parts: readonly Buffer[]): void {
    this.chunk.write(parts);
  }

  close(): void {
    this.chunk.close();
  }

  async abort(error: Error): Promise<void> {
    this.chunk.fail(error);
  }
}
