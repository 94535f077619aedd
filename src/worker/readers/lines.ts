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
import type { ByteSource } from '../../protocol/record-stream.js';

/** Bytes read per `read()` call. */
export const LINE_CHUNK = 64 * 1024;

function decodeLine(b: Buffer): string {
  const end = b.length > 0 && b[b.length - 1] === 0x0d ? b.length - 1 : b.length;
  return b.toString('utf8', 0, end);
}

/** Yield the lines of `src` (see module docs), reading `chunkSize` bytes at a time. */
export function* splitLines(src: ByteSource, chunkSize = LINE_CHUNK): Generator<string> {
  // Pieces of a line that started in an earlier chunk; joined once its end is found, so a
  // very long line costs O(length), not O(length²).
  let parts: Buffer[] = [];
  for (;;) {
    const chunk = src.read(chunkSize);
    if (chunk.length === 0) break;
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) {
        if (start < chunk.length) parts.push(chunk.subarray(start));
        break;
      }
      let line = chunk.subarray(start, nl);
      if (parts.length > 0) {
        parts.push(line);
        line = Buffer.concat(parts);
        parts = [];
      }
      start = nl + 1;
      yield decodeLine(line);
    }
  }
  if (parts.length > 0) {
    const rest = Buffer.concat(parts);
    if (rest.length > 0) yield decodeLine(rest);
  }
}
