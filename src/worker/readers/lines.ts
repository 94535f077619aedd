/**
 * Splitting a byte source into text lines, the default way map entries are read from plain
 * inputs. Lines are split on `\n` before decoding (a UTF-8 multi-byte sequence never contains
 * that byte), so lines and characters may straddle chunk boundaries freely.
 *
 * Entries are the lines without their terminator (`\n` or `\r\n`); a last line without a
 * terminator is still an entry, and a final terminator does not add an empty one.
 *
 * @example
 * [...splitLines(new BufferSource(Buffer.from('a\nb\r\nc')))]; // ['a', 'b', 'c']
 */
import { isAscii } from 'node:buffer';
import type { ByteSource } from '../../protocol/record-stream.js';

/** Bytes read per `read()` call. */
export const LINE_CHUNK = 64 * 1024;

/** Node's native slicers (present on every `Buffer`, not in its type declarations). */
interface Slicers {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}

/** The text of `b[start, end)` without a final `\r`; `ascii`: the bytes are known to be ASCII. */
function decodeLine(b: Buffer, start: number, end: number, ascii: boolean): string {
  if (end > start && b[end - 1] === 0x0d) end--;
  // ASCII is its own Latin-1 decoding, and the Latin-1 slicer is the cheapest one.
  return ascii
    ? (b as unknown as Slicers).latin1Slice(start, end)
    : (b as unknown as Slicers).utf8Slice(start, end);
}

const EMPTY = Buffer.alloc(0);

/**
 * The lines of `src` (see module docs), reading `chunkSize` bytes at a time. A plain iterator
 * rather than a generator: it is on the per-entry path of every text input.
 */
export function splitLines(src: ByteSource, chunkSize = LINE_CHUNK): IterableIterator<string> {
  return new LineSplitter(src, chunkSize);
}

class LineSplitter implements IterableIterator<string> {
  private chunk: Buffer = EMPTY;
  private pos = 0;
  private ascii = true;
  /**
   * Pieces of a line that started in an earlier chunk; joined once its end is found, so a
   * very long line costs O(length), not O(length²).
   */
  private parts: Buffer[] = [];
  private eof = false;
  /** The buffer chunks are read into, when the source can read into one (else null). */
  private own: Buffer | null = null;

  constructor(
    private readonly src: ByteSource,
    private readonly chunkSize: number,
  ) {}

  next(): IteratorResult<string> {
    for (;;) {
      const chunk = this.chunk;
      const from = this.pos;
      const nl = chunk.indexOf(0x0a, from);
      if (nl >= 0) {
        this.pos = nl + 1;
        if (this.parts.length === 0) return { value: decodeLine(chunk, from, nl, this.ascii), done: false };
        this.parts.push(chunk.subarray(from, nl));
        return { value: this.joinParts(), done: false };
      }
      if (from < chunk.length) {
        // The reused buffer is about to be overwritten: keep a copy.
        const piece = chunk.subarray(from);
        this.parts.push(this.own === null ? piece : Buffer.from(piece));
      }
      this.chunk = EMPTY;
      this.pos = 0;
      if (this.eof) return { value: undefined, done: true };
      const next = this.read();
      if (next.length === 0) {
        this.eof = true;
        // What is left is a last line without its terminator (never empty: only non-empty
        // pieces are kept across chunks).
        if (this.parts.length > 0) return { value: this.joinParts(), done: false };
        return { value: undefined, done: true };
      }
      this.chunk = next;
      this.ascii = isAscii(next);
    }
  }

  /** The next chunk: into the reused buffer when the source can, else a new one. */
  private read(): Buffer {
    const src = this.src;
    if (typeof src.readInto !== 'function') return src.read(this.chunkSize);
    this.own ??= Buffer.allocUnsafe(this.chunkSize);
    const n = src.readInto(this.own, 0, this.chunkSize);
    return this.own.subarray(0, n);
  }

  private joinParts(): string {
    const line = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts);
    this.parts = [];
    return decodeLine(line, 0, line.length, false);
  }

  [Symbol.iterator](): this {
    return this;
  }
}
