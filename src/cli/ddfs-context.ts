/**
 * What every `ddfs` subcommand works with: the `disco` command line's context (settings from
 * the environment, the settings file, `-s` and `-m`; job name shortcuts) plus a {@link DDFS}
 * client carrying the `-t` token, raw output with back-pressure (for `cat`), standard input
 * lines and the stream progress bars are drawn on.
 *
 * @example
 * const ctx = new DdfsContext({ master: 'http://localhost:8989', token: 'secret' });
 * await ctx.ddfs.list('data:');
 */
import readline from 'node:readline';
import { DDFS } from '../ddfs/client/ddfs.js';
import type { ProgressStream } from '../ddfs/client/progress.js';
import { CLI_RETRY, CliContext, type GlobalOptions, type Io, processIo } from './context.js';
import { OutputClosed } from './raw-output.js';

export interface DdfsGlobalOptions extends GlobalOptions {
  /** Token for every tag request (the original's `-t`: both DDFS_READ_TOKEN and DDFS_WRITE_TOKEN). */
  token?: string;
}

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

export class DdfsContext extends CliContext {
  private ddfsClient: DDFS | null = null;

  constructor(
    override readonly options: DdfsGlobalOptions = {},
    readonly ddfsIo: DdfsIo = ddfsProcessIo,
  ) {
    super(options, ddfsIo);
  }

  /** The DDFS client for the configured master (short retries, as the `disco` command). */
  get ddfs(): DDFS {
    this.ddfsClient ??= new DDFS(this.options.master, {
      settings: this.settings,
      token: this.options.token,
      retry: CLI_RETRY,
    });
    return this.ddfsClient;
  }

  get progressStream(): ProgressStream | undefined {
    return this.ddfsIo.progress;
  }

  /** Raw output. */
  async write(b: Buffer): Promise<void> {
    await this.writeFast(b);
  }

  /** Raw output; a promise only when the caller must wait (back-pressure). */
  writeFast(b: Buffer): void | Promise<void> {
    if (this.ddfsIo.write) return this.ddfsIo.write(b);
    this.io.out(b.toString('utf8').replace(/\n$/, ''));
  }

  /** Raw output through the stream; resolves once the stream has passed it all on. */
  writeFlushed(b: Buffer): Promise<void> {
    if (this.ddfsIo.fd === undefined) return this.write(b);
    return new Promise((resolve, reject) => {
      process.stdout.write(b, (e) => {
        if (!e) resolve();
        else reject((e as NodeJS.ErrnoException).code === 'EPIPE' ? new OutputClosed() : e);
      });
    });
  }

  /**
   * The descriptor raw output may be written to directly: standard output's, once the stream
   * has handed all it was given to the system (so bytes stay in order); else null.
   */
  outputFd(): number | null {
    const fd = this.ddfsIo.fd;
    if (fd === undefined || process.stdout.writableLength > 0) return null;
    return fd;
  }

  /** Standard input, one entry per non-empty line. */
  async stdinLines(): Promise<string[]> {
    const out: string[] = [];
    if (!this.ddfsIo.stdin) return out;
    for await (const line of this.ddfsIo.stdin()) if (line.trim()) out.push(line);
    return out;
  }
}
