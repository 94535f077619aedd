/**
 * Cuts a record stream's bytes, as they arrive in chunks of any size, into whole hunks (header
 * and stored body), for readers that check and decode a hunk at a time while the rest of the
 * stream is still on its way (`ddfs xcat`, the result iterator over HTTP). Only the framing is
 * looked at here; each hunk is checked by whoever `onHunk` hands it to (the record reader).
 *
 * @example
 * const cutter = new HunkCutter(url, () => new DataError('not hunks', url), (h) => hunks.push(h));
 * for await (const chunk of chunks) cutter.feed(chunk);
 * cutter.finish();
 */
import { DataError } from '../../common/errors.js';
import { HUNK_HEADER, MAX_HUNK } from './format.js';

/** Whole hunks of a stream fed in chunks, each handed to `onHunk` (see the module's comment). */
export class HunkCutter {
  private parts: Buffer[] = [];
  private size = 0;
  private first = true;

  /**
   * @param url Named in errors.
   * @param notHunks The error for bytes below 0x80 where a hunk header is expected: at the
   *   stream's start (`atStart`, known from its first byte, before any hunk is handed on) the
   *   stream is in another format; later it is corrupt.
   * @param onHunk Called with each whole hunk; it may be a view of a fed chunk.
   */
  constructor(
    private readonly url: string,
    private readonly notHunks: (atStart: boolean) => Error,
    private readonly onHunk: (hunk: Buffer) => void,
  ) {}

  /** The next bytes of the stream: the hunks they complete handed on at once. */
  feed(b: Buffer): void {
    if (b.length === 0) return;
    if (this.first) {
      if (b[0] < 0x80) throw this.notHunks(true);
      this.first = false;
    }
    this.parts.push(b);
    this.size += b.length;
    let cut = false;
    while (this.size >= HUNK_HEADER) {
      const head = this.parts[0].length >= HUNK_HEADER ? this.parts[0] : this.join();
      if (head[0] < 0x80) throw this.notHunks(false);
      const len = Number(head.readBigUInt64LE(6));
      if (len > MAX_HUNK) throw new DataError(`corrupt hunk: length ${len} exceeds ${MAX_HUNK}`, this.url);
      if (this.size < HUNK_HEADER + len) break;
      this.onHunk(this.take(HUNK_HEADER + len));
      cut = true;
    }
    // The tail of a chunk hunks were cut from is copied, so that the chunk (up to 10 MiB
    // from the result iterator) is freed while the next one is fetched.
    if (cut && this.parts.length === 1) this.parts[0] = Buffer.from(this.parts[0]);
  }

  /**
   * The end of the stream: bytes left (a truncated hunk) are handed on as one, for the reader
   * checking it to report them as it reports a truncated stream.
   */
  finish(): void {
    if (this.size > 0) this.onHunk(this.take(this.size));
  }

  /** The first `n` bytes held (copied only when they span pieces). */
  private take(n: number): Buffer {
    const first = this.parts[0].length >= n ? this.parts[0] : this.join();
    const out = first.subarray(0, n);
    if (first.length === n) this.parts.shift();
    else this.parts[0] = first.subarray(n);
    this.size -= n;
    return out;
  }

  /** All the bytes held, as one piece. */
  private join(): Buffer {
    const all = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.size);
    this.parts = [all];
    return all;
  }
}
