/**
 * Blocking writes of a whole buffer to a file descriptor. `writeSync` may write less than it
 * was given (a signal, a full disk partition, a pipe), so every caller loops until all is
 * written. Descriptors that can be non-blocking (the worker's stdout, a CLI's stdout) need
 * their own loop that decides what to do on `EAGAIN` (`ProtocolClient.writeAll` waits and
 * retries, `cli/raw-output.ts` hands the rest back); this one is for files.
 *
 * @example
 * writeAllSync(fd, Buffer.from('hello\n'));
 * writeAllSync(fd, chunk, 0, bytesRead);   // the first bytesRead bytes of a reused buffer
 */
import { writeSync } from 'node:fs';

/** Write `buf[off, off + len)` to `fd`, however many `writeSync` calls that takes. */
export function writeAllSync(fd: number, buf: Uint8Array, off = 0, len = buf.length - off): void {
  const end = off + len;
  while (off < end) off += writeSync(fd, buf, off, end - off);
}
