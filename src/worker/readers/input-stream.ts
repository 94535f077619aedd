/**
 * The stream object job functions see: what the original calls an `InputStream`, a file-like
 * object handed through the `mapInputStream`/`reduceInputStream` chain to the reader.
 * Synchronous: `read(n)` blocks on local disk (remote data was downloaded to a local file
 * first). Iterating it yields text lines; {@link InputStream.peek} lets a reader look at the
 * first bytes without consuming them (record streams are recognised by their first byte).
 *
 * @example
 * const s = InputStream.fromBytes(Buffer.from('a\nb\n'), 'raw://a\nb\n');
 * [...s]; // ['a', 'b']
 */
import { BufferSource, type ByteSource } from '../../protocol/record-stream.js';
import { splitLines } from './lines.js';

export class InputStream implements ByteSource, Iterable<string> {
  private head: Buffer | null = null;
  private closed = false;

  /**
   * @param src where the bytes come from
   * @param size total size in bytes when known (the original passes `None` otherwise)
   * @param url the input's URL, for messages and for the next function in the chain
   * @param onClose called once by {@link close} (e.g. removes a downloaded temporary file)
   */
  constructor(
    private readonly src: ByteSource,
    readonly size: number | null,
    readonly url: string,
    private readonly onClose?: () => void,
  ) {}

  /** A stream over bytes in memory (`raw://` data, strings returned by stream functions). */
  static fromBytes(data: Uint8Array | string, url: string): InputStream {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    return new InputStream(new BufferSource(bytes), bytes.length, url);
  }

  /** Up to `n` bytes; all remaining bytes when `n` is omitted. Empty at end of stream. */
  read(n?: number): Buffer {
    if (n === undefined) {
      const parts: Buffer[] = [];
      for (;;) {
        const b = this.read(1024 * 1024);
        if (b.length === 0) break;
        parts.push(b);
      }
      return parts.length === 1 ? parts[0] : Buffer.concat(parts);
    }
    if (this.head) {
      const h = this.head;
      if (h.length <= n) {
        this.head = null;
        return h;
      }
      this.head = h.subarray(n);
      return h.subarray(0, n);
    }
    return this.src.read(n);
  }

  /** Read up to `n` bytes into `buf` at `off`; returns how many (0 at end of stream). */
  readInto(buf: Buffer, off: number, n: number): number {
    if (this.head || typeof this.src.readInto !== 'function') {
      const b = this.read(n);
      b.copy(buf, off);
      return b.length;
    }
    return this.src.readInto(buf, off, n);
  }

  /** The next `n` bytes (fewer at end of stream) without consuming them. */
  peek(n: number): Buffer {
    const have = this.head ?? Buffer.alloc(0);
    if (have.length >= n) return have.subarray(0, n);
    const parts = [have];
    let got = have.length;
    while (got < n) {
      const b = this.src.read(n - got);
      if (b.length === 0) break;
      parts.push(b);
      got += b.length;
    }
    this.head = Buffer.concat(parts, got);
    return this.head.subarray(0, Math.min(n, got));
  }

  /** The remaining bytes as text lines, without their `\n` / `\r\n` terminators. */
  lines(): IterableIterator<string> {
    return splitLines(this);
  }

  [Symbol.iterator](): Iterator<string> {
    return this.lines();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.src.close?.();
    } finally {
      this.onClose?.();
    }
  }
}

/** True for objects that can be read like a byte source. */
export function isByteSource(v: unknown): v is ByteSource {
  return typeof v === 'object' && v !== null && typeof (v as ByteSource).read === 'function';
}

function toBuffer(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (v === null || v === undefined) return Buffer.alloc(0);
  throw new TypeError(`read() returned ${typeof v}, expected bytes or a string`);
}

/**
 * View what a stream function returned as an {@link InputStream}: our own streams as they
 * are, strings and bytes as in-memory streams, and any object with a `read(n)` method through
 * an adapter. Null for anything else (e.g. an iterable of entries).
 */
export function asInputStream(v: unknown, size: number | null, url: string): InputStream | null {
  if (v instanceof InputStream) return v;
  if (typeof v === 'string' || v instanceof Uint8Array) return InputStream.fromBytes(v, url);
  if (isByteSource(v)) {
    // The adapter does not close `v`: whoever opened it (the stream chain) does.
    const src = v;
    return new InputStream({ read: (n: number) => toBuffer(src.read(n)) }, size, url);
  }
  return null;
}

/**
 * {@link asInputStream} for a reader that can only read bytes: anything that is not a byte
 * stream is a TypeError naming the reader.
 *
 * @example
 * const s = requireInputStream(stream, size, url, 'netstrReader');
 */
export function requireInputStream(
  v: unknown,
  size: number | null,
  url: string,
  readerName: string,
): InputStream {
  const s = asInputStream(v, size, url);
  if (!s) throw new TypeError(`${readerName}: ${typeof v} is not a readable stream`);
  return s;
}
