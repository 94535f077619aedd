/**
 * The client interface to a Disco master (the original's `disco.core.Disco`, wire spec §1.2):
 * submit job packs, wait for jobs, read their results and events, and manage jobs, nodes and
 * the cluster configuration. Works against this project's master and the original one.
 *
 * @example
 * const disco = new Disco();                        // DISCO_MASTER from the settings
 * const job = await disco.newJob({ name: 'Count', input: ['raw://a b a'], map, reduce });
 * const results = await disco.wait(job.name, { show: true });
 * for await (const [word, n] of disco.resultIterator(results)) console.log(word, n);
 */
import { CommError, DiscoError, JobError } from '../common/errors.js';
import { loadSettings, Settings } from '../common/settings.js';
import type { DDFS, PulledBlob } from '../ddfs/client/ddfs.js';
import { blobName } from '../ddfs/names.js';
import type { JobInput, JobPack } from '../protocol/jobpack.js';
import { jobOobTag, profileKeyPrefix } from '../protocol/names.js';
import type { NodeInfo } from '../protocol/nodeinfo.js';
import { EventMonitor, eventFormat } from './event-monitor.js';
import { type JobEvent, parseEventLines, sliceFromOffset } from './events.js';
import { DEFAULT_RETRY, type HttpResponse, type RetryPolicy, request, sleep } from './http.js';
import { Job } from './job.js';
import type { JobListEntry } from './job-history.js';
import type { JobOptions } from './job-options.js';
import type { ProfileSortKey, ProfileStats } from './profile-stats.js';
import { JobProgress } from './progress-bar.js';
import type { ResultIteratorOptions } from './result-iterator.js';

export type { NodeInfo } from '../protocol/nodeinfo.js';

/** Job status as `get_results` reports it. */
export type JobStatus = 'active' | 'dead' | 'ready' | 'unknown job';

/** `[jobname, [status, results]]`, one element of a multi-job `results` answer. */
export type JobResultEntry = [name: string, state: [status: JobStatus, results: string[]]];

/** Anything naming a job: its name, or an object with a `name` (a {@link Job}). */
export type JobRef = string | { readonly name: string };

/** The master's description of a job (`/disco/ctrl/jobinfo`, wire spec §7.2). */
export interface JobInfo {
  timestamp: string;
  active: 'active' | 'dead' | 'ready' | 'initializing';
  /** Map tasks: waiting, running, done, failed. */
  mapi: [number, number, number, number];
  /** Reduce tasks: waiting, running, done, failed. */
  redi: [number, number, number, number];
  reduce: boolean;
  results: string[];
  inputs: JobInput[];
  worker: string;
  hosts: string[];
  owner: string;
}

/** The cluster configuration table: `[hostspec, cores]` rows (both strings). */
export type ConfigTable = [hostspec: string, cores: string][];

export interface DiscoOptions {
  /** Master address: `http://host:port`, `disco://host`, or `host[:port]`. Default DISCO_MASTER. */
  master?: string;
  /** Settings, or explicit setting values (default: environment and settings file). */
  settings?: Settings | Record<string, string>;
  /** Retry policy for 503 answers and connection errors. */
  retry?: RetryPolicy;
  /** Time limit of one ordinary request in ms (default 60 s). */
  timeoutMs?: number;
}

export interface WaitOptions {
  /**
   * Print events while waiting: `true`/any string for colour (plain text when not on a
   * terminal), `'nocolor'`, `'json'`, or false. Default: the DISCO_EVENTS setting.
   */
  show?: boolean | string;
  /** Milliseconds between status requests (each is a long poll; default 2000). */
  pollInterval?: number;
  /**
   * Show a progress bar (phase, tasks done/total, rate) on standard error while waiting —
   * only on a terminal, and not together with `show`.
   */
  progress?: boolean;
  /** Give up after this many ms with `JobError('Timeout')`. */
  timeout?: number;
  /** Delete the job's records on the master once it has ended (deprecated in the original). */
  clean?: boolean;
  signal?: AbortSignal;
}

export interface EventsOptions {
  /** Start at this byte offset of the events file (an event's `offset` resumes after it). */
  offset?: number;
  /** Keep reading until the job has ended. */
  follow?: boolean;
  /** With `follow`, ms between reads (default 1000). */
  pollInterval?: number;
  signal?: AbortSignal;
}

/** Options of {@link Disco.profileStats}. */
export interface ProfileStatsOptions {
  /** Only the map or the reduce tasks' profiles (default: all). */
  mode?: 'map' | 'reduce' | '';
  /** Table order: total (cumulative) time or self time (default cumulative). */
  sortBy?: ProfileSortKey;
  /** Rows `print()`/`toString()` show by default (default: all). */
  limit?: number;
  /** Also write the merged profile to this `.cpuprofile` file (opens in Chrome DevTools). */
  save?: string;
}

/** `disco://host[:port]`, `host[:port]` or `http(s)://…` → `http(s)://host:port`. */
export function masterUrl(master: string, port: number | string): string {
  const m = master.trim().replace(/\/+$/, '');
  if (/^https?:\/\//i.test(m)) return m;
  const hostPort = m.replace(/^disco:\/\//i, '');
  if (!hostPort) throw new DiscoError(`invalid master address ${JSON.stringify(master)}`);
  return /:\d+$/.test(hostPort) ? `http://${hostPort}` : `http://${hostPort}:${port}`;
}

/**
 * Master and nodes of a cluster share DISCO_PORT (the nodes' data port). When the master
 * address is given explicitly with a port and DISCO_PORT is set nowhere, that port is the
 * best guess for reading `disco://` and `dir://` data, rather than the default 8989.
 */
function withDataPort(settings: Settings, o: DiscoOptions): Settings {
  if (!o.master) return settings;
  const explicit = o.settings && !(o.settings instanceof Settings) ? o.settings.DISCO_PORT : undefined;
  if (explicit !== undefined || process.env.DISCO_PORT !== undefined) return settings;
  const m = /^https?:\/\/[^/]+:(\d+)$/.exec(masterUrl(o.master, settings.get('DISCO_PORT')));
  if (!m || settings.get('DISCO_PORT') !== '8989' || m[1] === '8989') return settings;
  return settings.with({ DISCO_PORT: m[1] });
}

/** Job names go into query strings unencoded by the original; keep `@` and `:` readable. */
function q(name: string): string {
  return encodeURIComponent(name).replace(/%40/g, '@').replace(/%3A/gi, ':');
}

function nameOf(job: JobRef | JobResultEntry): string {
  if (typeof job === 'string') return job;
  if (Array.isArray(job)) return job[0];
  return (job as { name: string }).name;
}

/** How long `wait` keeps trying a master that does not answer. */
const MAX_UNREACHABLE_MS = 60_000;

/** The terminal events of a job, after which nothing more is logged. */
const FINAL_EVENT = /^(READY|ERROR: Job failed|WARN: Job killed)/;

/** Interface to a Disco master. */
export class Disco {
  /** The master's HTTP address, e.g. `http://localhost:8989`. */
  readonly master: string;
  readonly settings: Settings;
  private readonly retry: RetryPolicy;
  private readonly timeoutMs: number;

  constructor(master?: string | DiscoOptions) {
    const o: DiscoOptions = typeof master === 'string' ? { master } : (master ?? {});
    const settings =
      o.settings instanceof Settings ? o.settings : o.settings ? loadSettings(o.settings) : loadSettings();
    this.master = masterUrl(o.master ?? settings.get('DISCO_MASTER'), settings.get('DISCO_PORT'));
    this.settings = withDataPort(settings, o);
    this.retry = o.retry ?? DEFAULT_RETRY;
    this.timeoutMs = o.timeoutMs ?? 60_000;
  }

  toString(): string {
    return `Disco master at ${this.master}`;
  }

  /**
   * A request to the master (`path` starts with `/`). With a body it is a POST. `offset`
   * asks for the bytes from there on (`Range: bytes=offset-`).
   */
  async request(
    path: string,
    opts: {
      body?: string | Uint8Array;
      offset?: number;
      timeoutMs?: number;
      idempotent?: boolean;
      signal?: AbortSignal;
    } = {},
  ): Promise<HttpResponse> {
    const headers: Record<string, string> = {};
    if (opts.offset) headers.range = `bytes=${opts.offset}-`;
    try {
      return await request(`${this.master}${path}`, {
        body: opts.body,
        headers,
        timeoutMs: opts.timeoutMs ?? this.timeoutMs,
        retry: this.retry,
        idempotent: opts.idempotent,
        signal: opts.signal,
      });
    } catch (e) {
      if (e instanceof CommError && e.status === 0) {
        throw new CommError(`${e.reason}: is the Disco master running at ${this.master}?`, e.url, 0);
      }
      throw e;
    }
  }

  private async json<T>(path: string, body?: unknown, timeoutMs?: number): Promise<T> {
    const res = await this.request(path, {
      body: body === undefined ? undefined : JSON.stringify(body),
      timeoutMs,
    });
    try {
      return JSON.parse(res.body.toString('utf8')) as T;
    } catch {
      throw new CommError(
        `the master sent invalid JSON: ${res.body.subarray(0, 200).toString()}`,
        res.url,
        res.status,
      );
    }
  }

  /** Submit a job pack; resolves with the job's name. Throws {@link JobError} if the master refuses it. */
  async submit(jobpack: Uint8Array): Promise<string> {
    const res = await this.request('/disco/job/new', {
      body: jobpack,
      idempotent: false,
      timeoutMs: 120_000,
    });
    let reply: unknown;
    try {
      reply = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw new JobError(
        `Failed to submit jobpack: unexpected reply ${res.body.subarray(0, 200).toString()}`,
      );
    }
    if (!Array.isArray(reply) || reply.length < 2) {
      throw new JobError(`Failed to submit jobpack: unexpected reply ${JSON.stringify(reply)}`);
    }
    if (reply[0] !== 'ok') throw new JobError(`Failed to submit jobpack: ${reply[1]}`);
    return String(reply[1]);
  }

  /** Build a job pack from `options`, submit it, and return the running {@link Job}. */
  newJob(options: JobOptions): Promise<Job> {
    return new Job({ master: this, name: options.name ?? options.prefix }).run(options);
  }

  /** The cluster configuration table. */
  config(): Promise<ConfigTable>;
  /** Replace the cluster configuration table. */
  config(table: ConfigTable): Promise<undefined>;
  async config(table?: ConfigTable): Promise<ConfigTable | undefined> {
    if (table === undefined) return this.getConfig();
    await this.setConfig(table);
    return undefined;
  }

  getConfig(): Promise<ConfigTable> {
    return this.json<ConfigTable>('/disco/ctrl/load_config_table');
  }

  async setConfig(table: ConfigTable): Promise<void> {
    let reply: unknown;
    try {
      reply = await this.json<unknown>('/disco/ctrl/save_config_table', table);
    } catch (e) {
      // The master answers 400 with a JSON string explaining what is wrong with the table.
      if (e instanceof CommError && e.status === 400) throw new DiscoError(jsonStringOr(commText(e)));
      throw e;
    }
    if (reply !== 'table saved!')
      throw new DiscoError(typeof reply === 'string' ? reply : JSON.stringify(reply));
  }

  /** The master's version string. */
  masterVersion(): Promise<string> {
    return this.json<string>('/disco/version');
  }

  nodeinfo(): Promise<Record<string, NodeInfo>> {
    return this.json('/disco/ctrl/nodeinfo');
  }

  /** Jobs, newest first: `[start unix seconds, status, name]`. */
  joblist(): Promise<JobListEntry[]> {
    return this.json('/disco/ctrl/joblist');
  }

  /** Stop running tasks on `node`. */
  async blacklist(node: string): Promise<void> {
    await this.json('/disco/ctrl/blacklist', node);
  }

  /** Allow tasks on `node` again. */
  async whitelist(node: string): Promise<void> {
    await this.json('/disco/ctrl/whitelist', node);
  }

  /** Kill a job; it is dead when this resolves. */
  async kill(job: JobRef): Promise<void> {
    await this.json('/disco/ctrl/kill_job', nameOf(job));
  }

  /** Forget a job's records on the master (its data stays; deprecated, use {@link purge}). */
  async clean(job: JobRef): Promise<void> {
    await this.json('/disco/ctrl/clean_job', nameOf(job));
  }

  /** Delete a job's records and data. */
  async purge(job: JobRef): Promise<void> {
    await this.json('/disco/ctrl/purge_job', nameOf(job));
  }

  /** The job pack a job was submitted with. */
  async jobpack(job: JobRef): Promise<JobPack> {
    const res = await this.request(`/disco/ctrl/parameters?name=${q(nameOf(job))}`);
    const { decodeJobPack } = await import('../protocol/jobpack.js');
    return decodeJobPack(res.body);
  }

  /** @deprecated the original 0.2/0.3 name of {@link jobpack} */
  jobspec(job: JobRef): Promise<JobPack> {
    return this.jobpack(job);
  }

  jobinfo(job: JobRef): Promise<JobInfo> {
    return this.json(`/disco/ctrl/jobinfo?name=${q(nameOf(job))}`);
  }

  /** Results of the map phase (available once it has finished). */
  mapresults(job: JobRef): Promise<string[]> {
    return this.json(`/disco/ctrl/get_mapresults?name=${q(nameOf(job))}`);
  }

  /** The raw events file from byte `offset` on. */
  async rawevents(job: JobRef, opts: { offset?: number; signal?: AbortSignal } = {}): Promise<Buffer> {
    const offset = opts.offset ?? 0;
    const res = await this.request(`/disco/ctrl/rawevents?name=${q(nameOf(job))}`, {
      offset,
      signal: opts.signal,
    });
    return sliceFromOffset(res.status, res.body, offset);
  }

  /**
   * A job's events, oldest first. Each carries the offset to resume from; with `follow`
   * the iterator keeps reading until the job has ended.
   */
  async *events(job: JobRef, opts: EventsOptions = {}): AsyncGenerator<JobEvent> {
    const name = nameOf(job);
    const poll = opts.pollInterval ?? 1000;
    let offset = opts.offset ?? 0;
    let ended = false;
    let sawFinal = false;
    let tailReads = 0;
    for (;;) {
      const data = await this.rawevents(name, { offset, signal: opts.signal });
      const { events, next } = parseEventLines(data, offset);
      offset = next;
      for (const ev of events) {
        if (FINAL_EVENT.test(ev.message)) sawFinal = true;
        yield ev;
      }
      if (!opts.follow) return;
      if (ended) {
        // The master may write the last events a little after the job ends (the original
        // flushes every 2 s): read a few more times until the final event shows up.
        if (sawFinal || ++tailReads > 3) return;
        await sleep(poll, opts.signal);
        continue;
      }
      const t0 = Date.now();
      let status: JobStatus;
      try {
        [status] = await this.results(name, { timeout: poll, signal: opts.signal });
      } catch (e) {
        if (!(e instanceof CommError)) throw e;
        status = 'active';
      }
      if (status === 'unknown job') return;
      if (status !== 'active') ended = true;
      else if (Date.now() - t0 < poll / 2) await sleep(poll - (Date.now() - t0), opts.signal);
    }
  }

  /** Status and results of one job, waiting up to `timeout` ms for it to end. */
  results(job: JobRef, opts?: { timeout?: number; signal?: AbortSignal }): Promise<[JobStatus, string[]]>;
  /**
   * Several jobs: waits up to `timeout` ms for at least one to end, then returns the jobs
   * that are not active and those still active (feed the latter back in to wait again).
   */
  results(
    jobs: readonly (JobRef | JobResultEntry)[],
    opts?: { timeout?: number; signal?: AbortSignal },
  ): Promise<[inactive: JobResultEntry[], active: JobResultEntry[]]>;
  async results(
    jobs: JobRef | readonly (JobRef | JobResultEntry)[],
    opts: { timeout?: number; signal?: AbortSignal } = {},
  ): Promise<[JobStatus, string[]] | [JobResultEntry[], JobResultEntry[]]> {
    const timeout = opts.timeout ?? 2000;
    const single = !Array.isArray(jobs);
    const names = single ? [nameOf(jobs as JobRef)] : (jobs as (JobRef | JobResultEntry)[]).map(nameOf);
    const res = await this.request('/disco/ctrl/get_results', {
      body: JSON.stringify([timeout, names]),
      timeoutMs: timeout + 30_000,
      signal: opts.signal,
    });
    const reply = JSON.parse(res.body.toString('utf8')) as JobResultEntry[];
    if (single) {
      const hit = reply.find((r) => r[0] === names[0]) ?? reply[0];
      return hit ? [hit[1][0], hit[1][1] ?? []] : ['unknown job', []];
    }
    const inactive: JobResultEntry[] = [];
    const active: JobResultEntry[] = [];
    for (const r of reply) (r[1][0] === 'active' ? active : inactive).push(r);
    return [inactive, active];
  }

  /**
   * Wait until a job ends; resolves with its result URLs, rejects with
   * {@link JobError} (`Status dead`, `Status unknown job`, `Timeout`).
   */
  async wait(job: JobRef, opts: WaitOptions = {}): Promise<string[]> {
    const name = nameOf(job);
    const pollInterval = opts.pollInterval ?? 2000;
    const format = eventFormat(opts.show ?? this.settings.get('DISCO_EVENTS'), process.stderr);
    const monitor = format ? new EventMonitor(this, name, format) : null;
    const bar = opts.progress && !monitor ? JobProgress.forSink(process.stderr, name) : null;
    const poll = bar ? Math.min(pollInterval, 1000) : pollInterval;
    const start = Date.now();
    let unreachableSince: number | null = null;
    try {
      for (;;) {
        let status: JobStatus;
        let results: string[] = [];
        try {
          [status, results] = await this.results(name, { timeout: poll, signal: opts.signal });
          unreachableSince = null;
        } catch (e) {
          // Like the original, a master that is unreachable for a while (e.g. restarting)
          // counts as "still active"; one that stays away for a minute ends the wait.
          if (!(e instanceof CommError) || (e.status !== 0 && e.status < 500)) throw e;
          unreachableSince ??= Date.now();
          if (Date.now() - unreachableSince > MAX_UNREACHABLE_MS) throw e;
          await sleep(Math.min(poll, 1000), opts.signal);
          status = 'active';
        }
        if (monitor) await monitor.refresh().catch(() => undefined);
        if (bar && status === 'active')
          await this.jobinfo(name).then(
            (info) => bar.update(info),
            () => undefined,
          );
        if (status === 'ready') return results;
        if (status !== 'active') throw new JobError(`Status ${status}`, name);
        if (opts.timeout !== undefined && Date.now() - start > opts.timeout)
          throw new JobError('Timeout', name);
      }
    } finally {
      bar?.clear();
      if (opts.clean) await this.clean(name).catch(() => undefined);
    }
  }

  /** A DDFS client for this master's DDFS, with this client's settings. */
  async ddfs(): Promise<DDFS> {
    // Loaded on first use: most commands never touch DDFS.
    const { DDFS } = await import('../ddfs/client/ddfs.js');
    return new DDFS(this.master, { settings: this.settings, retry: this.retry });
  }

  /** The replica sets of a job's OOB tag; a clear error when it has none. */
  private async oobUrls(ddfs: DDFS, name: string): Promise<string[][]> {
    try {
      return await ddfs.urls(jobOobTag(name));
    } catch (e) {
      throw noOobTag(e, name);
    }
  }

  /**
   * The blobs of a job's OOB tag whose names pass `wanted`, newest first; the error of
   * {@link Disco.oobUrls} when the job has no such tag. One tag fetch: an error before any
   * name was offered to `wanted` is the tag's, later ones are the blobs'.
   */
  private async *oobBlobs(
    ddfs: DDFS,
    name: string,
    wanted: (key: string) => boolean,
  ): AsyncGenerator<PulledBlob> {
    let listed = false;
    const blobfilter = (key: string) => {
      listed = true;
      return wanted(key);
    };
    try {
      yield* ddfs.pull(jobOobTag(name), { blobfilter });
    } catch (e) {
      throw listed ? e : noOobTag(e, name);
    }
  }

  /**
   * The keys of a job's out-of-band results (what its tasks stored with `put`), sorted.
   *
   * @example
   * for (const key of await disco.oobList(job)) console.log(key);
   */
  async oobList(job: JobRef): Promise<string[]> {
    const ddfs = await this.ddfs();
    const urls = await this.oobUrls(ddfs, nameOf(job));
    return [...new Set(urls.filter((set) => set.length > 0).map((set) => blobName(set[0])))].sort();
  }

  /**
   * The out-of-band value a task of `job` stored under `key` (the newest one when several
   * tasks stored it).
   *
   * @example
   * const stats = JSON.parse((await disco.oobGet(job, 'stats-0')).toString('utf8'));
   */
  async oobGet(job: JobRef, key: string): Promise<Buffer> {
    const name = nameOf(job);
    const ddfs = await this.ddfs();
    for await (const blob of this.oobBlobs(ddfs, name, (n) => n === key)) return blob.read();
    throw new DiscoError(
      `job ${name} has no out-of-band result ${JSON.stringify(key)} (disco oob list ${name} lists them)`,
    );
  }

  /**
   * The task profiles of a job run with `profile: true`, merged into one table of functions
   * with their self and total (cumulative) time — the original's `profile_stats`.
   *
   * @example
   * const stats = await disco.profileStats(job, { mode: 'map', sortBy: 'self', save: 'map.cpuprofile' });
   * stats.print({ limit: 15 });
   */
  async profileStats(job: JobRef, opts: ProfileStatsOptions = {}): Promise<ProfileStats> {
    const name = nameOf(job);
    const mode = opts.mode ?? '';
    if (mode !== '' && mode !== 'map' && mode !== 'reduce')
      throw new DiscoError(
        `profileStats: mode must be 'map', 'reduce' or '' (all), got ${JSON.stringify(mode)}`,
      );
    const prefix = profileKeyPrefix(mode);
    const { ProfileStats, parseCpuProfile } = await import('./profile-stats.js');
    const ddfs = await this.ddfs();
    const seen = new Set<string>();
    const profiles = [];
    const sources: string[] = [];
    for await (const blob of this.oobBlobs(ddfs, name, (n) => n.startsWith(prefix))) {
      // Newest first: a key stored twice (a retried task) counts once, as its newest value.
      if (seen.has(blob.name)) continue;
      seen.add(blob.name);
      const text = (await blob.read()).toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new DiscoError(`out-of-band result ${blob.name} of job ${name} is not a JSON profile`);
      }
      profiles.push(parseCpuProfile(json, `out-of-band result ${blob.name}`));
      sources.push(blob.name);
    }
    if (profiles.length === 0)
      throw new DiscoError(
        `job ${name} has no profile data${mode ? ` for its ${mode} phase` : ''}: was it run with profile: true?`,
      );
    const stats = new ProfileStats(profiles, { sortBy: opts.sortBy, limit: opts.limit, sources });
    if (opts.save) {
      const { writeFile } = await import('node:fs/promises');
      await writeFile(opts.save, JSON.stringify(stats.merged()));
    }
    return stats;
  }

  /** `resultIterator` with this master's settings. */
  async *resultIterator<K = unknown, V = unknown>(
    urls: readonly (string | readonly string[])[],
    opts: ResultIteratorOptions = {},
  ): AsyncGenerator<[K, V]> {
    // Loaded on first use: the record decoder (msgpackr) is not needed by most commands.
    const { resultIterator } = await import('./result-iterator.js');
    yield* resultIterator<K, V>(urls, { settings: this.settings, master: this.master, ...opts });
  }
}

/** `e`, or the clear error for a job without an OOB tag when `e` is the tag's 404. */
function noOobTag(e: unknown, name: string): unknown {
  if (e instanceof CommError && e.status === 404)
    return new DiscoError(
      `job ${name} has no out-of-band results (unknown job, or none of its tasks called put())`,
    );
  return e;
}

/** The server's text of a CommError (its message without the URL suffix). */
function commText(e: CommError): string {
  const suffix = ` (${e.url})`;
  return e.url && e.message.endsWith(suffix) ? e.message.slice(0, -suffix.length) : e.message;
}

function jsonStringOr(text: string): string {
  try {
    const v = JSON.parse(text);
    return typeof v === 'string' ? v : text;
  } catch {
    return text;
  }
}
