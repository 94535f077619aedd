/**
 * What every command of the `disco` and `ddfs` command lines starts from: the global options,
 * the settings they select (environment, settings file, `--settings`, `--master`) and the
 * output streams. The clients come with the programs' own contexts ({@link CliContext},
 * {@link DdfsContext}), so that a command loads only the client it uses.
 *
 * @example
 * const ctx = new CommandContext({ master: 'http://localhost:8989' });
 * ctx.settings.get('DISCO_MASTER'); // 'http://localhost:8989'
 */
import type { RetryPolicy } from '../client/http.js';
import { loadSettings, type Settings } from '../common/settings.js';
import { type Io, processIo } from './io.js';

export interface GlobalOptions {
  /** Master address (overrides DISCO_MASTER). */
  master?: string;
  /** Settings file (overrides DISCO_SETTINGS_FILE). */
  settings?: string;
  verbose?: boolean;
}

/** Retries of the command line's requests: short, so that a stopped master is reported quickly. */
export const CLI_RETRY: RetryPolicy = { retries: 3, baseDelayMs: 200, maxDelayMs: 1000 };

export class CommandContext {
  readonly settings: Settings;

  constructor(
    readonly options: GlobalOptions = {},
    readonly io: Io = processIo,
  ) {
    if (options.settings) process.env.DISCO_SETTINGS_FILE = options.settings;
    const explicit: Record<string, string> = {};
    if (options.master) explicit.DISCO_MASTER = options.master;
    this.settings = loadSettings(explicit);
  }
}
