/**
 * Where readers take bytes from: a synchronous source (workers run one task per process and
 * block on their own disk reads), over a buffer or a file (or a byte range of one).
 *
 * @example
 * const src = new FileSource(file, 0, 1 << 20);
 * const header = readFully(src, 14);
 * src.close();
 */
import { closeSync, openSync, readSync } from 'node:fs';

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
