/**
 * The input and output of the `ddfs` command: {@link Io} plus raw bytes to standard output
 * (with back-pressure), standard input lines and the stream progress bars are drawn on. Apart
 * from the command context so that the entry module loads no client before a command runs.
 *
 * @example
 * await main(['node', 'ddfs', 'ls'], { ...ddfsProcessIo, out: (t) => lines.push(t) });
 */
import readline from 'node:readline';
import type { ProgressStream } from '../ddfs/client/progress.js';
import { type Io, processIo } from './io.js';

/** Output and input of the `ddfs` command (replaceable in tests). */
export interface DdfsIo extends Io {
  /** Raw bytes to standard output; resolves when more may be written. */
  write?: (b: Buffer) => Promise<void> | void;
  /**
   * Standard output's file descriptor, when `write` goes to the process's own standard output:
   * `cat` of a local file then writes to it directly (see raw-output.ts), the stream used only
   * when the descriptor would block.
   */
  fd?: number;
  /** Lines of standard input. */
  stdin?: () => AsyncIterable<string>;
  /** Where progress bars go (drawn only if it is a TTY). */
  progress?: ProgressStream;
}

/**
 * Bytes stdout may hold before a writer waits: far above its 16 KiB high-water mark, so a
 * stream of 64 KiB socket reads does not stop and restart the source after every chunk.
 */
const STDOUT_BUFFER = 1 << 20;

/** Write to stdout, waiting for `drain` once more than {@link STDOUT_BUFFER} is queued. */
function writeStdout(b: Buffer): Promise<void> | void {
  process.stdout.write(b);
  if (process.stdout.writableLength <= STDOUT_BUFFER) return;
  return new Promise((resolve, reject) => {
    const done = (e?: Error) => {
      process.stdout.off('drain', ok);
      process.stdout.off('error', done);
      if (e) reject(e);
      else resolve();
    };
    const ok = () => done();
    process.stdout.once('drain', ok);
    process.stdout.once('error', done);
  });
}

export const ddfsProcessIo: DdfsIo = {
  ...processIo,
  write: writeStdout,
  fd: 1,
  stdin: () => readline.createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY }),
  progress: process.stderr,
};
