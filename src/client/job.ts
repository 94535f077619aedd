/**
 * A Disco job, as the client sees it (the original's `disco.job.Job` with the classic
 * worker). Give the job functions and options as an object, or write a subclass whose static
 * members (or instance members) are the job functions and default options — like the
 * original's `class WordCount(Job)` with `map`/`reduce` methods and `partitions = 2`.
 * `run()` builds the job pack, submits it, and leaves the master's job name in `name`; the
 * job methods of {@link Disco} (`wait`, `results`, `events`, …) are available on the job.
 *
 * Options are looked up in this order (the original's `getitem`): the arguments of `run()`,
 * the options given to the constructor, members of the instance (fields, methods), static
 * members of the class. A subclass's default name (job name prefix) is its class name.
 *
 * @example
 * export class WordCount extends Job {
 *   static module = import.meta.url;   // functions travel as exports of this module
 *   static *map(line: string) { for (const w of line.split(/\s+/)) if (w) yield [w, 1]; }
 *   static *reduce(iter: Iterable<[string, number]>) {
 *     for (const [w, counts] of kvgroup(sorted(iter))) yield [w, sum(counts)];
 *   }
 * }
 * const job = await new WordCount().run({ input: ['http://example.com/text.txt'] });
 * for await (const [w, n] of job.resultIterator(await job.wait())) console.log(w, n);
 */

import type { Settings } from '../common/settings.js';
import type { JobPack } from '../protocol/jobpack.js';
import type { EventsOptions, JobInfo, JobStatus, ProfileStatsOptions, WaitOptions } from './disco.js';
import { Disco } from './disco.js';
import type { JobEvent } from './events.js';
import {
  canonicalOptionName,
  JOB_OPTION_NAMES,
  type JobOptionName,
  type JobOptions,
  normalizeOptions,
  SNAKE_ALIASES,
} from './job-options.js';
import type { BuiltJobPack } from './jobpack-builder.js';
import type { ProfileStats } from './profile-stats.js';
import type { ResultIteratorOptions } from './result-iterator.js';

/** Constructor options: job options plus where the job runs. */
export interface JobInit extends JobOptions {
  /** The master: a {@link Disco}, or its address. */
  master?: string | Disco;
  /** Settings for a new {@link Disco} (when `master` is not a Disco). */
  settings?: Settings | Record<string, string>;
}

export class Job {
  /** Before `run()`: the name prefix; after: the job's name on the master. */
  name: string;
  readonly #disco: Disco;
  readonly #init: JobOptions;

  /**
   * @param init job options, or just the name (of an existing job, to follow it, or the
   *   prefix for a new one)
   */
  constructor(init: JobInit | string = {}) {
    const { master, settings, ...rest } = typeof init === 'string' ? { name: init } : init;
    this.#disco = master instanceof Disco ? master : new Disco({ master, settings });
    this.#init = normalizeOptions(rest, 'Job');
    this.name = this.#init.name ?? (this.constructor as { name: string }).name;
  }

  /** The master this job runs on. */
  get disco(): Disco {
    return this.#disco;
  }

  /** The job's effective options: `args` over constructor options over members (see class docs). */
  jobOptions(args: JobOptions = {}): JobOptions {
    const run = normalizeOptions(args, 'run()') as Record<string, unknown>;
    const init = this.#init as Record<string, unknown>;
    const self = this as unknown as Record<string, unknown>;
    const statics =
      this.constructor === Job ? null : (this.constructor as unknown as Record<string, unknown>);
    const out: Record<string, unknown> = {};
    for (const key of JOB_OPTION_NAMES) {
      if (key === 'name' || key === 'prefix' || key === 'nrReduces') continue;
      let v = run[key] !== undefined ? run[key] : init[key];
      if (v === undefined) v = memberOption(self, key, true);
      if (v === undefined && statics) v = memberOption(statics, key, false);
      if (v !== undefined) out[key] = v;
    }
    // A plain Job run by a custom worker is named after the worker's class.
    const worker =
      this.constructor === Job ? (out.worker as { constructor: { name: string } } | undefined) : undefined;
    out.name = run.name ?? init.name ?? (worker ?? this).constructor.name;
    return out as JobOptions;
  }

  /** Build this job's pack without submitting it (for inspection and tests). */
  async build(args: JobOptions = {}): Promise<BuiltJobPack> {
    // Loaded on first use, so that commands that only query the master start fast.
    const { buildJobPack } = await import('./jobpack-builder.js');
    return buildJobPack(this.jobOptions(args), {
      settings: this.#disco.settings,
      master: this.#disco.master,
    });
  }

  /** Submit the job; resolves with this job, whose `name` is now the master's job name. */
  async run(args: JobOptions = {}): Promise<this> {
    const built = await this.build(args);
    this.name = await this.#disco.submit(built.pack);
    return this;
  }

  /** {@link Disco.wait} for this job. */
  wait(opts?: WaitOptions): Promise<string[]> {
    return this.#disco.wait(this.name, opts);
  }

  /** {@link Disco.results} for this job: `[status, results]`. */
  results(opts?: { timeout?: number; signal?: AbortSignal }): Promise<[JobStatus, string[]]> {
    return this.#disco.results(this.name, opts);
  }

  events(opts?: EventsOptions): AsyncGenerator<JobEvent> {
    return this.#disco.events(this.name, opts);
  }

  rawevents(opts?: { offset?: number }): Promise<Buffer> {
    return this.#disco.rawevents(this.name, opts);
  }

  jobinfo(): Promise<JobInfo> {
    return this.#disco.jobinfo(this.name);
  }

  jobpack(): Promise<JobPack> {
    return this.#disco.jobpack(this.name);
  }

  mapresults(): Promise<string[]> {
    return this.#disco.mapresults(this.name);
  }

  kill(): Promise<void> {
    return this.#disco.kill(this.name);
  }

  purge(): Promise<void> {
    return this.#disco.purge(this.name);
  }

  clean(): Promise<void> {
    return this.#disco.clean(this.name);
  }

  /** {@link Disco.oobList}: keys this job's tasks stored with `put`. */
  oobList(): Promise<string[]> {
    return this.#disco.oobList(this.name);
  }

  /** {@link Disco.oobGet}: the value this job's tasks stored under `key`. */
  oobGet(key: string): Promise<Buffer> {
    return this.#disco.oobGet(this.name, key);
  }

  /** {@link Disco.profileStats}: this job's task profiles (run with `profile: true`) as one table. */
  profileStats(opts?: ProfileStatsOptions): Promise<ProfileStats> {
    return this.#disco.profileStats(this.name, opts);
  }

  /** Iterate records of result URLs, with this job's master and settings. */
  resultIterator<K = unknown, V = unknown>(
    urls: readonly (string | readonly string[])[],
    opts?: ResultIteratorOptions,
  ): AsyncGenerator<[K, V]> {
    return this.#disco.resultIterator<K, V>(urls, opts);
  }
}

/**
 * A class or instance member giving option `key`, under its name or one of the original's
 * snake_case names (`static map_reader = …`, with a deprecation warning). Members `Job`
 * itself defines (`run`, `wait`, …) are not options.
 */
function memberOption(holder: Record<string, unknown>, key: JobOptionName, instance: boolean): unknown {
  const names = [
    key,
    ...Object.keys(SNAKE_ALIASES).filter((s) => SNAKE_ALIASES[s] === key && s !== 'nrReduces'),
  ];
  for (const k of names) {
    if (instance && k in Job.prototype) continue;
    const v = holder[k];
    if (v === undefined) continue;
    if (k !== key) canonicalOptionName(k);
    return v;
  }
  return undefined;
}
