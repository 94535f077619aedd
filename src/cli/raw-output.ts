/**
 * Raw bytes to a file descriptor (standard output of `ddfs cat`) with blocking `write(2)`s
 * instead of a Node stream: no queue, no promise and no allocation per chunk, and a local file
 * copied through one reused buffer, which is what makes `ddfs cat` on a blob's own node as fast
 * as `cat`. A descriptor that would block (a non-blocking pipe or terminal) is reported to the
 * caller, which goes on through the stream; a reader that went away (EPIPE) ends the command
 * quietly, as a closed pipe does with the stream.
 *
 * @example
 * const rest = writeUntilBlockedSync(1, Buffer.from('hello\n')); // rest: bytes not written (EAGAIN)
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { CliExit } from './io.js';

/** The reader of standard output went away (EPIPE): stop, with status 0 and no message. */
export class OutputClosed extends CliExit {
  constructor() {
    super('', 0);
  }
}

/** Bytes per read of a local file: large enough that the system calls cost nothing. */
const COPY_BUFFER = 1 << 20;
let copyBuffer: Buffer | null = null;

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code;
}

/**
 * Write all of `b` to `fd`; returns what could not be written because `fd` would block
 * (empty when all was written). A closed reader throws {@link OutputClosed}.
 */
export function writeUntilBlockedSync(fd: number, b: Buffer): Buffer {
  let off = 0;
  while (off < b.length) {
    try {
      off += writeSync(fd, b, off, b.length - off);
    } catch (e) {
      if (errno(e) === 'EAGAIN') return b.subarray(off);
      if (errno(e) === 'EPIPE') throw new OutputClosed();
      throw e;
    }
  }
  return b.subarray(b.length);
}

/**
 * Copy `file` from byte `start` to `fd` with blocking reads and writes. Returns null when done, or, when `fd`
 * would block, the bytes read but not written and the file offset to go on from (the caller
 * continues asynchronously). `onBytes` hears of each piece written.
 */
export function copyFileToFdSync(
  file: string,
  fd: number,
  onBytes: (n: number) => void,
  start = 0,
): { pending: Buffer; next: number } | null {
  copyBuffer ??= Buffer.allocUnsafe(COPY_BUFFER);
  const buf = copyBuffer;
  const src = openSync(file, 'r');
  try {
    for (let pos = start; ; ) {
      const n = readSync(src, buf, 0, buf.length, pos);
      if (n === 0) return null;
      pos += n;
      const rest = writeUntilBlockedSync(fd, buf.subarray(0, n));
      onBytes(n - rest.length);
      // The buffer is reused: what is left is copied for the asynchronous writer.
      if (rest.length > 0) return { pending: Buffer.from(rest), next: pos };
    }
  } finally {
    closeSync(src);
  }
}
