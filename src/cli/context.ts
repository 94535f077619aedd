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
import { type JobListEntry, resolveJobName } from '../client/job-history.js';
import { DiscoError } from '../common/errors.js';
import { CLI_RETRY, CommandContext } from './command-context.js';

export class CliContext extends CommandContext {
  private client: Disco | null = null;
  private jobs: Promise<JobListEntry[]> | null = null;

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
