/**
 * The jobdata section of a job pack built by the TypeScript client (the Python client puts a
 * pickle there). UTF-8 JSON, validated by the worker. User code arrives two ways:
 *
 * - `{ source }`: a function's source text (`fn.toString()`), evaluated by the worker in a
 *   scope that holds every name of {@link WORKER_API_NAMES} (so `kvgroup(...)` just works);
 * - `{ export: ['WordCount', 'map'] }`: a member of the job module, bundled by the client
 *   with esbuild into the job home at {@link JOB_MODULE_PATH}. Imports of the `disco-ts`
 *   package inside it resolve to the worker's API object `globalThis.__discoWorkerApi`.
 *
 * Values in `params` are JSON where functions are encoded as `{"$fn": "<source>"}` and
 * `undefined`/special numbers as `{"$undef":1}`, `{"$num":"NaN"}`.
 */
import { z } from 'zod';

export const JOBDATA_VERSION = 1;
/** Where the client puts the bundled job module inside the job home. */
export const JOB_MODULE_PATH = 'lib/job.mjs';
/** Where the client puts a custom `Worker`'s bundled module inside the job home. */
export const WORKER_MODULE_PATH = 'lib/worker.mjs';
/** Where the client puts the worker runtime inside the job home (jobdict.worker). */
export const WORKER_PATH = 'disco-worker.mjs';
/** Global through which a job module reaches the worker API. */
export const WORKER_API_GLOBAL = '__discoWorkerApi';

/**
 * An external program (docs/external.md) as a map or reduce: `program` in the job home's
 * directory `dir` (`ext/map` or `ext/reduce`), with its supporting files beside it.
 */
export const ExternalProgramRefSchema = z.object({
  dir: z.enum(['ext/map', 'ext/reduce']),
  program: z
    .string()
    .min(1)
    .refine((n) => !/[/\\\0]/.test(n) && n !== '.' && n !== '..', 'must be a plain file name'),
});
export type ExternalProgramRef = z.infer<typeof ExternalProgramRefSchema>;

export const FunctionRefSchema = z.union([
  z.object({ source: z.string() }),
  z.object({ export: z.array(z.string()).min(1) }),
  z.object({ external: ExternalProgramRefSchema }),
]);
export type FunctionRef = z.infer<typeof FunctionRefSchema>;

/** Job functions a classic job may define (camelCase of the original's names). */
export const JOB_FUNCTION_NAMES = [
  'map',
  'mapInit',
  'mapReader',
  'mapInputStream',
  'mapOutputStream',
  'mapWriter',
  'reduce',
  'reduceInit',
  'reduceReader',
  'reduceInputStream',
  'reduceOutputStream',
  'reduceWriter',
  'combiner',
  'partition',
] as const;
export type JobFunctionName = (typeof JOB_FUNCTION_NAMES)[number];

export const JobDataSchema = z.object({
  version: z.literal(JOBDATA_VERSION),
  /** Path of the bundled job module in the job home, if any. */
  module: z.string().nullable(),
  functions: z.record(z.enum(JOB_FUNCTION_NAMES), z.union([FunctionRefSchema, z.array(FunctionRefSchema)])),
  /** Encoded params (see module docs). */
  params: z.unknown(),
  partitions: z.number().int().nonnegative(),
  mergePartitions: z.boolean(),
  sort: z.boolean(),
  sortBufferSize: z.number().int().positive(),
  statusInterval: z.number().int().nonnegative(),
  save: z.boolean(),
  profile: z.boolean(),
  /** The reduce signature: 'iter' = `reduce(iter, params)` (generator), 'out' = `reduce(iter, out, params)`. */
  reduceStyle: z.enum(['iter', 'out']),
  /** Extra options a custom worker or job may read. */
  extra: z.record(z.string(), z.unknown()),
  /** Written first on an external program's stdin (`extParams`, dictionaries netstring-encoded); absent = none. */
  extParams: z.string().optional(),
  /**
   * A custom `Worker` runs the tasks (absent: the classic worker): the class is the member
   * `export` of the bundled module at `module` (in the job home), and `fields` (encoded as
   * params are) are assigned to each task's fresh instance.
   */
  worker: z
    .object({ module: z.string(), export: z.array(z.string()).min(1), fields: z.unknown() })
    .optional(),
});
export type JobData = z.infer<typeof JobDataSchema>;

/**
 * Names a job module may import from `disco-ts` and that function sources may use freely.
 * The worker's API object provides each of them.
 */
export const WORKER_API_NAMES = [
  'Job',
  'Params',
  'kvgroup',
  'sorted',
  'sum',
  'defaultPartition',
  'nopMap',
  'nopReduce',
  'sumCombiner',
  'sumReduce',
  'mapLineReader',
  'chainReader',
  'reReader',
  'gzipReader',
  'gzipLineReader',
  'netstrReader',
  'netstrWriter',
  'oldNetstrReader',
  'objectReader',
  'objectWriter',
  'discoInputStream',
  'ignoreCorruptInputStream',
  'discoOutputStream',
  'taskInputStream',
  'taskOutputStream',
  'makeRangePartition',
  'notifier',
  'parseDir',
  'jobname',
  'thisPartition',
  'thisHost',
  'thisMaster',
  'thisInputs',
  'thisName',
  'msg',
  'err',
  'dataErr',
  'external',
  'DataError',
  'JobError',
  'Worker',
  'put',
  'get',
  'MAX_OOB_PUTS',
  'DiscoError',
] as const;

/**
 * Encode a params value to JSON-safe form (functions become their source: `source(fn)`, by
 * default `fn.toString()`; the client passes a checker that refuses what cannot travel).
 */
export function encodeParams(
  v: unknown,
  seen = new Set<unknown>(),
  source: (fn: (...args: never[]) => unknown) => string = (fn) => fn.toString(),
): unknown {
  if (typeof v === 'function') return { $fn: source(v as (...args: never[]) => unknown) };
  if (v === undefined) return { $undef: 1 };
  if (typeof v === 'number' && !Number.isFinite(v)) return { $num: String(v) };
  if (typeof v === 'bigint') return { $bigint: v.toString() };
  if (v === null || typeof v !== 'object') return v;
  if (seen.has(v)) throw new TypeError('params contain a cycle; pass plain data');
  seen.add(v);
  try {
    if (Array.isArray(v)) return v.map((x) => encodeParams(x, seen, source));
    if (v instanceof Date) return { $date: v.toISOString() };
    if (v instanceof Map)
      return { $map: [...v].map(([k, x]) => [encodeParams(k, seen, source), encodeParams(x, seen, source)]) };
    if (v instanceof Set) return { $set: [...v].map((x) => encodeParams(x, seen, source)) };
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = encodeParams(x, seen, source);
    const proto = Object.getPrototypeOf(v);
    if (proto && proto !== Object.prototype && proto.constructor?.name === 'Params') return { $params: out };
    return out;
  } finally {
    seen.delete(v);
  }
}

/** Decode params; `makeFunction` turns a source text into a function (the worker's evaluator). */
export function decodeParams(
  v: unknown,
  makeFunction: (source: string) => unknown,
  makeParams: (fields: Record<string, unknown>) => unknown = (f) => f,
): unknown {
  const rec = (x: unknown): unknown => decodeParams(x, makeFunction, makeParams);
  if (x_isArray(v)) return v.map(rec);
  if (v === null || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 1) {
    if (typeof o.$fn === 'string') return makeFunction(o.$fn);
    if (o.$undef === 1) return undefined;
    if (typeof o.$num === 'string') return Number(o.$num);
    if (typeof o.$bigint === 'string') return BigInt(o.$bigint);
    if (typeof o.$date === 'string') return new Date(o.$date);
    if (Array.isArray(o.$map))
      return new Map((o.$map as [unknown, unknown][]).map(([k, x]) => [rec(k), rec(x)]));
    if (Array.isArray(o.$set)) return new Set((o.$set as unknown[]).map(rec));
    if (o.$params && typeof o.$params === 'object') {
      const fields: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(o.$params as object)) fields[k] = rec(x);
      return makeParams(fields);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(o)) out[k] = rec(x);
  return out;
}

function x_isArray(v: unknown): v is unknown[] {
  return Array.isArray(v);
}

/**
 * Version of the TypeScript worker runtime, put in `jobdict.ts_worker` by the client. A node
 * whose own runtime has the same version may run the job's tasks in its warm, reusable worker
 * processes instead of spawning the job home's copy.
 */
export const WORKER_RUNTIME_VERSION = 'disco-ts-worker/1';
