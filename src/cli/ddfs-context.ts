/**
 * What every `ddfs` subcommand works with: settings from the environment, the settings file,
 * `-s` and `-m`; a {@link DDFS} client carrying the `-t` token; raw output with back-pressure
 * (for `cat`), standard input lines and the stream progress bars are drawn on; and, for job
 * names (`-j`), the `disco` command line's context.
 *
 * @example
 * const ctx = new DdfsContext({ master: 'http://localhost:8989', token: 'secret' });
 * await ctx.ddfs.list('data:');
 */
import { DDFS } from '../ddfs/client/ddfs.js';
import type { ProgressStream } from '../ddfs/client/progress.js';
import { CLI_RETRY, CommandContext, type GlobalOptions } from './command-context.js';
import type { CliContext } from './context.js';
import { type DdfsIo, ddfsProcessIo } from './ddfs-io.js';
import { OutputClosed, writeUntilBlockedSync } from './raw-output.js';

export interface DdfsGlobalOptions extends GlobalOptions {
  /** Token for every tag request (the original's `-t`: both DDFS_READ_TOKEN and DDFS_WRITE_TOKEN). */
  token?: string;
}

export class DdfsContext extends CommandContext {
  private ddfsClient: DDFS | null = null;
  private discoContext: CliContext | null = null;

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

  /**
   * The `disco` command line's context (its client, job name shortcuts), for `-j`: loaded
   * only then, as no other `ddfs` command talks to the job side of the master.
   */
  async jobContext(): Promise<CliContext> {
    const { CliContext } = await import('./context.js');
    this.discoContext ??= new CliContext(this.options, this.io);
    return this.discoContext;
  }

  get progressStream(): ProgressStream | undefined {
    return this.ddfsIo.progress;
  }

  /** Raw output. */
  async write(b: Buffer): Promise<void> {
    await this.writeFast(b);
  }

  /**
   * Raw output; a promise only when the caller must wait (back-pressure). Written straight to
   * standard output's descriptor while it takes the bytes (a stream write per 64 KiB piece
   * costs more than the copy); what it does not take goes through the stream.
   */
  writeFast(b: Buffer): void | Promise<void> {
    const fd = this.outputFd();
    if (fd !== null) {
      const rest = writeUntilBlockedSync(fd, b);
      return rest.length > 0 ? this.writeFlushed(rest) : undefined;
    }
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
