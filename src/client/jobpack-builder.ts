/**
 * Builds the job pack of a classic TypeScript job (wire spec §2): the jobdict the master
 * reads (§2.2, computed as the original classic worker does), jobenvs, the job home ZIP
 * (worker runtime, bundled job module, required files) and the jobdata JSON the TypeScript
 * worker reads (`src/protocol/jobdata.ts`).
 *
 * @example
 * const built = await buildJobPack(
 *   { name: 'WordCount', input: ['raw://a b a'], map, reduce, partitions: 2 },
 *   { settings: loadSettings() },
 * );
 * await disco.submit(built.pack);
 */
import os from 'node:os';
import { DiscoError } from '../common/errors.js';
import type { Settings } from '../common/settings.js';
import {
  encodeParams,
  type FunctionRef,
  JOB_FUNCTION_NAMES,
  JOB_MODULE_PATH,
  JOBDATA_VERSION,
  type JobData,
  JobDataSchema,
  type JobFunctionName,
  WORKER_API_NAMES,
  WORKER_PATH,
  WORKER_RUNTIME_VERSION,
} from '../protocol/jobdata.js';
import { encodeJobPack, type JobDict, type JobEnvs, type JobInput } from '../protocol/jobpack.js';
import { prefixError } from '../protocol/names.js';
import {
  bundleJobModule,
  externalPackages,
  importJobModule,
  modulePath,
  requiredPackageEntries,
} from './bundle.js';
import { externalJobParts } from './external.js';
import { type FunctionRefContext, functionRef } from './function-ref.js';
import {
  ddfsTagExpander,
  expandInputs,
  httpIndexReader,
  type IndexReader,
  isPartitioned,
  reducesFromIndexes,
  type TagExpander,
} from './inputs.js';
import { type JobOptions, normalizeOptions, schedulerDict } from './job-options.js';
import {
  buildJobHome,
  type JobHomeFile,
  requiredFileEntries,
  requiredModuleEntries,
  workerRuntime,
} from './jobhome.js';

/** Default of `sortBufferSize`: memory for the in-memory part of the reduce-side sort. */
export const DEFAULT_SORT_BUFFER_SIZE = 64 * 1024 * 1024;
/** Default of `statusInterval` (the original's). */
export const DEFAULT_STATUS_INTERVAL = 100_000;

export interface BuildContext {
  settings: Settings;
  /** Master URL (for `dir://` URLs without host). */
  master?: string;
  /** How to read `dir://` index files (default: HTTP at the node's DISCO_PORT). */
  readIndex?: IndexReader;
  /** How to expand `tag://` inputs (default: ask the DDFS master). */
  expandTag?: TagExpander;
  /** The worker runtime's bytes (default: this package's `dist/worker.js`). */
  workerRuntime?: () => Uint8Array;
}

export interface BuiltJobPack {
  pack: Buffer;
  jobdict: JobDict;
  jobenvs: JobEnvs;
  jobdata: JobData;
  /** Names of the files in the job home. */
  files: string[];
}

/** `'256M'`, `'1G'`, `'10%'`, `65536` → bytes. */
export function parseByteSize(v: number | string): number {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v <= 0) throw new DiscoError(`sortBufferSize must be positive, got ${v}`);
    return Math.floor(v);
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt%]?)b?\s*$/i.exec(v);
  if (!m)
    throw new DiscoError(
      `sortBufferSize ${JSON.stringify(v)}: expected bytes, or a number with K, M, G or %`,
    );
  const n = Number(m[1]);
  const unit = m[2].toLowerCase();
  const bytes =
    unit === '%'
      ? (os.totalmem() * n) / 100
      : n * 1024 ** (unit === '' ? 0 : unit === 'k' ? 1 : unit === 'm' ? 2 : unit === 'g' ? 3 : 4);
  if (bytes < 1) throw new DiscoError(`sortBufferSize ${JSON.stringify(v)} is too small`);
  return Math.floor(bytes);
}

let apiNamesCache: Map<unknown, string> | null = null;

/** The client's copies of the worker API functions (identity → name), from the public index. */
async function workerApiNames(): Promise<Map<unknown, string>> {
  if (apiNamesCache) return apiNamesCache;
  const map = new Map<unknown, string>();
  try {
    const lib = (await import('../index.js')) as Record<string, unknown>;
    for (const n of WORKER_API_NAMES) if (typeof lib[n] === 'function') map.set(lib[n], n);
  } catch {
    // Without the index (partial builds) functions are sent as source.
  }
  apiNamesCache = map;
  return map;
}

/** The deprecated `nrMaps` as a `max_cores` limit (see `JobOptions.nrMaps`). */
function limitByNrMaps<S extends { max_cores?: number }>(scheduler: S, nrMaps: number | undefined): S {
  if (nrMaps === undefined) return scheduler;
  const n = Number(nrMaps);
  if (!Number.isInteger(n) || n <= 0)
    throw new DiscoError(`nrMaps must be a positive integer, got ${nrMaps}`);
  return { ...scheduler, max_cores: Math.min(scheduler.max_cores ?? n, n) };
}

function checkCount(v: unknown, what: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new DiscoError(`${what} must be a non-negative integer, got ${v}`);
  return n;
}

/** Build a job pack from job options (camelCase; old snake_case names are accepted). */
export async function buildJobPack(rawOptions: JobOptions, ctx: BuildContext): Promise<BuiltJobPack> {
  const o = normalizeOptions(rawOptions);
  // A custom Worker builds its own pack (loaded on first use: most jobs are classic).
  if (o.worker !== undefined)
    return (await import('./custom-worker.js')).buildWorkerJobPack(o.worker, o, ctx);
  const prefix = o.name ?? 'Job';
  const perr = prefixError(prefix);
  if (perr) throw new DiscoError(`job name: ${perr}`);
  const hasMap = o.map !== undefined && o.map !== null;
  const hasReduce = o.reduce !== undefined && o.reduce !== null;
  if (!hasMap && !hasReduce) throw new DiscoError('a job needs a map or a reduce function');
  const ext = externalJobParts(o);

  // -- inputs and nr_reduces (the classic worker's rules) --
  const readIndex =
    ctx.readIndex ?? httpIndexReader({ discoPort: ctx.settings.get('DISCO_PORT'), master: ctx.master });
  const input: JobInput[] = await expandInputs(o.input ?? [], readIndex, {
    partition: hasMap ? undefined : false,
    tags: ctx.expandTag ?? ddfsTagExpander({ settings: ctx.settings, master: ctx.master }),
  });
  const partitions = o.partitions === null ? 0 : checkCount(o.partitions ?? 1, 'partitions');
  let nrReduces: number;
  if (hasMap) nrReduces = partitions || 1;
  else if (isPartitioned(input)) nrReduces = await reducesFromIndexes(input, readIndex);
  else nrReduces = 1;
  if (o.mergePartitions) nrReduces = 1;

  // -- job functions --
  const ctxRefs: FunctionRefContext = { apiNames: await workerApiNames() };
  let entry: string | null = null;
  if (o.module !== undefined) {
    entry = modulePath(o.module);
    ctxRefs.moduleExports = await importJobModule(entry);
  }
  const functions: Partial<Record<JobFunctionName, FunctionRef | FunctionRef[]>> = {};
  let usesModule = false;
  const note = (r: FunctionRef) => {
    if ('export' in r) usesModule = true;
    return r;
  };
  const bag = o as Record<string, unknown>;
  for (const name of JOB_FUNCTION_NAMES) {
    const v = bag[name];
    // An explicit null reader means "no reader: iterate the stream as it is" (the worker's rule).
    if (v === null && (name === 'mapReader' || name === 'reduceReader')) functions[name] = { source: 'null' };
    if (v === undefined || v === null) continue;
    const extRef = ext.refs[name];
    if (extRef) {
      functions[name] = extRef;
      continue;
    }
    functions[name] = Array.isArray(v)
      ? v.map((f, i) => note(functionRef(f, ctxRefs, `${name}[${i}]`)))
      : note(functionRef(v, ctxRefs, name));
  }

  // -- job home --
  const files: JobHomeFile[] = [
    { name: WORKER_PATH, data: (ctx.workerRuntime ?? workerRuntime)(), mode: 0o755 },
  ];
  if (usesModule && entry) {
    files.push({
      name: JOB_MODULE_PATH,
      data: await bundleJobModule(entry, externalPackages(o.requiredModules)),
    });
  }
  files.push(...requiredFileEntries(o.requiredFiles), ...requiredModuleEntries(o.requiredModules));
  files.push(...(await requiredPackageEntries(o.requiredModules)));
  files.push(...ext.files);
  const jobhome = await buildJobHome(files);

  // -- jobdata, jobdict, jobenvs --
  const reduceStyle =
    o.reduceStyle ?? (hasReduce && typeof o.reduce === 'function' && o.reduce.length >= 3 ? 'out' : 'iter');
  const jobdata = JobDataSchema.parse({
    version: JOBDATA_VERSION,
    module: usesModule ? JOB_MODULE_PATH : null,
    functions,
    // Functions in params travel as source (API helpers by name), checked here: a bound or
    // built-in function would only fail on the workers.
    params: encodeParams(o.params === undefined ? {} : o.params, undefined, (fn) => {
      const ref = functionRef(fn, { apiNames: ctxRefs.apiNames }, 'a function in params');
      return 'source' in ref ? ref.source : fn.toString();
    }),
    partitions,
    mergePartitions: Boolean(o.mergePartitions),
    sort: Boolean(o.sort),
    sortBufferSize: parseByteSize(o.sortBufferSize ?? o.memSortLimit ?? DEFAULT_SORT_BUFFER_SIZE),
    statusInterval: checkCount(o.statusInterval ?? DEFAULT_STATUS_INTERVAL, 'statusInterval'),
    save: Boolean(o.save),
    profile: Boolean(o.profile),
    reduceStyle,
    extra: { ...o.extra },
    extParams: ext.extParams,
  } satisfies JobData);
  const jobdict: JobDict = {
    input,
    worker: WORKER_PATH,
    'map?': hasMap,
    'reduce?': hasReduce,
    nr_reduces: nrReduces,
    prefix,
    scheduler: limitByNrMaps(schedulerDict(o.scheduler), o.nrMaps),
    owner: o.owner ?? ctx.settings.get('DISCO_JOB_OWNER'),
    ts_worker: WORKER_RUNTIME_VERSION,
  };
  const jobenvs: JobEnvs = { LD_LIBRARY_PATH: 'lib', ...o.jobenvs };
  const pack = encodeJobPack({ jobdict, jobenvs, jobhome, jobdata: Buffer.from(JSON.stringify(jobdata)) });
  return { pack, jobdict, jobenvs, jobdata, files: files.map((f) => f.name) };
}
