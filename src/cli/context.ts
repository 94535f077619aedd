/**
 * What every `disco` subcommand works with: the settings (environment, settings file,
 * `--settings`, `--master`), a {@link Disco} client made on first use, job name shortcuts
 * (`@`, `@?text`) resolved against the master's job list, and output streams.
 *
 * @example
 * const ctx = new CliContext({ master: 'http://localhost:8989' });
 * const name = await ctx.jobName('@?WordCount');
 */
import { Disco } from '../client/disco.js';
import type { RetryPolicy } from '../client/http.js';
import { type JobListEntry, resolveJobName } from '../client/job-history.js';
import { DiscoError } from '../common/errors.js';
import { loadSettings, type Settings } from '../common/settings.js';

export interface GlobalOptions {
  /** Master address (overrides DISCO_MASTER). */
  master?: string;
  /** Settings file (overrides DISCO_SETTINGS_FILE). */
  settings?: string;
  verbose?: boolean;
}

/** Output sinks (replaceable in tests). */
export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

export const processIo: Io = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
};

/** Retries of the command line's requests: short, so that a stopped master is reported quickly. */
export const CLI_RETRY: RetryPolicy = { retries: 3, baseDelayMs: 200, maxDelayMs: 1000 };

/** Exit status for "not running" (LSB convention, `disco status`). */
export const EXIT_NOT_RUNNING = 3;

/** An error that ends the command with a given exit status and a one-line message. */
export class CliExit extends Error {
  constructor(
    message: string,
    readonly code = 1,
  ) {
    super(message);
  }
}

export class CliContext {
  readonly settings: Settings;
  private client: Disco | null = null;
  private jobs: Promise<JobListEntry[]> | null = null;

  constructor(
    readonly options: GlobalOptions = {},
    readonly io: Io = processIo,
  ) {
    if (options.settings) process.env.DISCO_SETTINGS_FILE = options.settings;
    const explicit: Record<string, string> = {};
    if (options.master) explicit.DISCO_MASTER = options.master;
    this.settings = loadSettings(explicit);
  }

  /**
   * The client for the configured master. Commands give up on an unreachable master after
   * about a second and a half (the library default retries for half a minute).
   */
  get disco(): Disco {
    this.client ??= new Disco({ settings: this.settings, master: this.options.master, retry: CLI_RETRY });
    return this.client;
  }

  /** Resolve `@` / `@?text` (the job list is fetched once per command). */
  jobName(ref: string): Promise<string> {
    if (!ref) throw new DiscoError('a job name is required');
    return resolveJobName(ref, () => {
      this.jobs ??= this.disco.joblist();
      return this.jobs;
    });
  }
}
