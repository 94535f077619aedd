/**
 * The options of a classic job (the original's job dict keyword arguments, in camelCase).
 * The original's snake_case names (`map_reader`, `nr_reduces`, `merge_partitions`, …) are
 * still accepted, with a one-time deprecation warning per name.
 *
 * @example
 * const opts = normalizeOptions({ input: ['raw://a'], map_reader: reader, nr_reduces: 4 });
 * // { input: ['raw://a'], mapReader: reader, partitions: 4 } (+ DeprecationWarning once per name)
 */
import { DiscoError } from '../common/errors.js';
import type { Worker } from '../worker/worker-base.js';
import type { ExternalProgram } from './external.js';

/**
 * A job function (map, reduce, reader, …). Typed loosely on purpose: each kind has its own
 * signature (`map(entry, params)`, `reduce(iter, params)`, `partition(key, n, params)`, …).
 */
export type JobFunction = (...args: never[]) => unknown;

/** An input: a URL, or a list of replica URLs of the same data. */
export type JobInputSpec = string | readonly string[];

/** One `requiredModules` entry: a package name, a local path, or `[package name, local path]`. */
export type RequiredModule = string | readonly [name: string, path: string];

/** Scheduler options (`jobdict.scheduler`). */
export interface SchedulerOptions {
  /** Run at most this many tasks of the job at once. */
  maxCores?: number;
  /** Always run tasks where their input is. */
  forceLocal?: boolean;
  /** Never run tasks where their input is. */
  forceRemote?: boolean;
}

/** Everything a classic job can be given (by `Job.run`, `Disco.newJob`, or on a `Job` subclass). */
export interface JobOptions {
  /** Inputs: `http://`, `disco://`, `dir://`, `tag://`, `raw://`, `file://` URLs or plain paths. */
  input?: readonly JobInputSpec[];
  /** A function, or an external program: `external(['./cmap', ...])` (docs/external.md). */
  map?: JobFunction | ExternalProgram;
  /** A function, or an external program: `external(['./creduce', ...])` (docs/external.md). */
  reduce?: JobFunction | ExternalProgram;
  combiner?: JobFunction;
  partition?: JobFunction;
  /** Number of partitions (reduce tasks) of map output; 0/null = no partitioning. Default 1. */
  partitions?: number | null;
  /** @deprecated use `partitions` */
  nrReduces?: number;
  /**
   * @deprecated the original 0.2's `nr_maps`, "the number of parallel map operations". There
   * is one map task per input (as since the original 0.3), so this becomes the closest limit
   * there is, `scheduler.maxCores`: the most tasks of the job running at once, which limits
   * the reduce tasks too. Given both, the smaller limit applies.
   */
  nrMaps?: number;
  mergePartitions?: boolean;
  sort?: boolean;
  /** Memory for sorting: bytes, or a string like `'256M'`, `'1G'`, `'10%'` (of this machine's memory). */
  sortBufferSize?: number | string;
  /**
   * @deprecated the original 0.2's `mem_sort_limit`, the largest input sorted in memory
   * (bytes). Becomes `sortBufferSize`, which is that here: the sort works in memory up to it
   * and spills sorted runs to disk past it. Ignored when `sortBufferSize` is given.
   */
  memSortLimit?: number | string;
  /** Passed to every job function; functions inside are sent as source. */
  params?: unknown;
  mapInit?: JobFunction;
  reduceInit?: JobFunction;
  /** Turns an input stream into map entries; `null` = iterate the stream as it is. */
  mapReader?: JobFunction | null;
  /** Turns an input stream into reduce entries; `null` = iterate the stream as it is. */
  reduceReader?: JobFunction | null;
  mapInputStream?: JobFunction | readonly JobFunction[];
  reduceInputStream?: JobFunction | readonly JobFunction[];
  mapOutputStream?: JobFunction | readonly JobFunction[];
  reduceOutputStream?: JobFunction | readonly JobFunction[];
  /** @deprecated since the original 0.3; use output streams */
  mapWriter?: JobFunction;
  /** @deprecated since the original 0.3; use output streams */
  reduceWriter?: JobFunction;
  /** Report "N items mapped/reduced" every N items (0 = never). Default 100000. */
  statusInterval?: number;
  profile?: boolean;
  /** Save results in DDFS (tag `disco:job:results:<job>`). */
  save?: boolean;
  scheduler?: SchedulerOptions;
  /** Shown as the job's owner (default DISCO_JOB_OWNER). */
  owner?: string;
  /** Job name prefix (the master appends `@<timestamp>`). */
  name?: string;
  /** Alias of `name`. */
  prefix?: string;
  /** Files copied into the job home under `lib/`: paths, or a `{ name: contents }` map. */
  requiredFiles?: readonly string[] | Readonly<Record<string, string | Uint8Array>>;
  /**
   * Code the job needs besides what its module imports (the module's local imports and npm
   * dependencies are found and bundled without being named here):
   * - a package name (`'sharp'`): left out of the bundle, must be installed on the nodes;
   * - a local file or directory (a path starting with `.` or `/`): copied under `lib/`, where
   *   job functions can `require('./lib/<name>')`;
   * - `[name, path]`: the module at `path` is sent as package `name`, so that
   *   `require(name)` (functions sent as source) and `import … from name` (the job module)
   *   work on nodes that do not have it. A file is compiled with its imports into one
   *   CommonJS file (TypeScript too); a directory is copied as the package.
   */
  requiredModules?: readonly RequiredModule[];
  /** Path or `file:` URL of the module holding the job functions (usually `import.meta.url`). */
  module?: string | URL;
  /** `reduce(iter, params)` yields results ('iter'); `reduce(iter, out, params)` calls out.add ('out'). Default: by arity. */
  reduceStyle?: 'iter' | 'out';
  /** Extra environment variables for the worker. */
  jobenvs?: Readonly<Record<string, string>>;
  /** Extra values for custom workers or jobs (`jobdata.extra`). */
  extra?: Readonly<Record<string, unknown>>;
  /**
   * Parameters for external programs, written first on their stdin: a string as it is, or a
   * dictionary of strings netstring-encoded (what `read_parameters()` of ext/disco.c reads).
   */
  extParams?: string | Readonly<Record<string, string>>;
  /**
   * A custom worker (an instance of a `Worker` subclass) runs the tasks instead of the
   * classic worker; the classic options (map, reduce, readers, …) are then the worker's
   * business (docs/custom-workers.md).
   */
  worker?: Worker;
}

/** Option names, camelCase. */
export const JOB_OPTION_NAMES = [
  'input',
  'map',
  'reduce',
  'combiner',
  'partition',
  'partitions',
  'nrReduces',
  'nrMaps',
  'mergePartitions',
  'sort',
  'sortBufferSize',
  'memSortLimit',
  'params',
  'mapInit',
  'reduceInit',
  'mapReader',
  'reduceReader',
  'mapInputStream',
  'reduceInputStream',
  'mapOutputStream',
  'reduceOutputStream',
  'mapWriter',
  'reduceWriter',
  'statusInterval',
  'profile',
  'save',
  'scheduler',
  'owner',
  'name',
  'prefix',
  'requiredFiles',
  'requiredModules',
  'module',
  'reduceStyle',
  'jobenvs',
  'extra',
  'extParams',
  'worker',
] as const satisfies readonly (keyof JobOptions)[];

export type JobOptionName = (typeof JOB_OPTION_NAMES)[number];

const CAMEL = new Set<string>(JOB_OPTION_NAMES);

/** The original's names that differ from ours (and our own deprecated alias `nrReduces`). */
export const SNAKE_ALIASES: Readonly<Record<string, JobOptionName>> = {
  nr_reduces: 'partitions',
  nrReduces: 'partitions',
  nr_maps: 'nrMaps',
  mem_sort_limit: 'memSortLimit',
  merge_partitions: 'mergePartitions',
  sort_buffer_size: 'sortBufferSize',
  map_init: 'mapInit',
  reduce_init: 'reduceInit',
  map_reader: 'mapReader',
  reduce_reader: 'reduceReader',
  map_input_stream: 'mapInputStream',
  reduce_input_stream: 'reduceInputStream',
  map_output_stream: 'mapOutputStream',
  reduce_output_stream: 'reduceOutputStream',
  map_writer: 'mapWriter',
  reduce_writer: 'reduceWriter',
  status_interval: 'statusInterval',
  required_files: 'requiredFiles',
  required_modules: 'requiredModules',
  ext_params: 'extParams',
};

const warned = new Set<string>();

/** Emit the deprecation warning for an old option name, once per process. */
export function warnDeprecated(old: string, now: string): void {
  if (warned.has(old)) return;
  warned.add(old);
  process.emitWarning(`job option '${old}' is deprecated; use '${now}'`, 'DeprecationWarning');
}

/** Deprecated options that live on as another option (see their TSDoc): what replaces them. */
const REPLACED_OPTIONS: Readonly<Partial<Record<JobOptionName, string>>> = {
  nrMaps: 'scheduler.maxCores',
  memSortLimit: 'sortBufferSize',
  // Deprecated by the seeds (0.3 writers, 0.4 init functions) but still honoured as they were.
  mapWriter: 'mapOutputStream (a function ending the chain with add(key, value))',
  reduceWriter: 'reduceOutputStream (a function ending the chain with add(key, value))',
  mapInit: 'mapInputStream or mapReader',
  reduceInit: 'reduceInputStream or reduceReader',
};

/** The camelCase name for `key`, warning about old names; null if not a job option. */
export function canonicalOptionName(key: string): JobOptionName | null {
  const alias = SNAKE_ALIASES[key];
  const name = alias ?? (CAMEL.has(key) ? (key as JobOptionName) : null);
  const replacement = name === null ? undefined : REPLACED_OPTIONS[name];
  if (replacement) warnDeprecated(key, replacement);
  else if (alias) warnDeprecated(key, alias);
  return name;
}

/**
 * Options with old names translated. Unknown keys are refused, because a misspelt option
 * (`partitons: 4`) would otherwise be silently ignored.
 */
export function normalizeOptions(raw: object | undefined, where = 'job options'): JobOptions {
  const out: Record<string, unknown> = {};
  if (!raw) return out;
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    const name = canonicalOptionName(k);
    if (!name) throw new DiscoError(`unknown ${where} key '${k}'`);
    out[name] = v;
  }
  if (out.prefix !== undefined && out.name === undefined) out.name = out.prefix;
  delete out.prefix;
  return out as JobOptions;
}

/** `jobdict.scheduler` from the camelCase options (snake_case keys accepted as well). */
export function schedulerDict(s: SchedulerOptions | Readonly<Record<string, unknown>> | undefined): {
  max_cores?: number;
  force_local?: boolean;
  force_remote?: boolean;
} {
  if (!s) return {};
  const r = s as Record<string, unknown>;
  const out: { max_cores?: number; force_local?: boolean; force_remote?: boolean } = {};
  const maxCores = r.maxCores ?? r.max_cores;
  const forceLocal = r.forceLocal ?? r.force_local;
  const forceRemote = r.forceRemote ?? r.force_remote;
  if (maxCores !== undefined) {
    const n = Number(maxCores);
    if (!Number.isInteger(n) || n <= 0) throw new DiscoError(`scheduler maxCores must be a positive integer`);
    out.max_cores = n;
  }
  if (forceLocal !== undefined) out.force_local = Boolean(forceLocal);
  if (forceRemote !== undefined) out.force_remote = Boolean(forceRemote);
  return out;
}
