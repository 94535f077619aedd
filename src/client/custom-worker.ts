/**
 * The job pack of a job run by a custom {@link Worker} (the original's `Job.run` calling
 * `Worker.jobdict/jobenvs/jobhome` and `jobdata`). The worker's hooks give the job dict
 * fields, environment, extra job home files and the fields its node-side instances receive;
 * this module adds what every TypeScript job needs: the expanded inputs, the worker runtime
 * (`jobdict.worker`), the worker's module bundled with esbuild, `requiredFiles` and
 * `requiredModules`, and the jobdata naming the class.
 *
 * Defaults, as the original's base `Worker.jobdict`: one map task per input, no reduce
 * (`nr_reduces` 1, or for a job without map over `dir://` inputs, one per partition label);
 * inputs expanded as for classic jobs (`tag://` → blobs; `dir://` → data files when there is
 * a map phase). The job's own `jobenvs` option wins over the worker's `jobEnvs`.
 *
 * @example
 * const built = await buildWorkerJobPack(new LineStats(), { input: ['raw://a b'] }, { settings });
 * await disco.submit(built.pack);
 */
import { DiscoError } from '../common/errors.js';
import {
  encodeParams,
  JOBDATA_VERSION,
  type JobData,
  JobDataSchema,
  WORKER_MODULE_PATH,
  WORKER_PATH,
  WORKER_RUNTIME_VERSION,
} from '../protocol/jobdata.js';
import { encodeJobPack, type JobDict, JobDictSchema, type JobEnvs } from '../protocol/jobpack.js';
import { prefixError } from '../protocol/names.js';
import type { Worker, WorkerHomeFile, WorkerJob } from '../worker/worker-base.js';
import {
  bundleJobModule,
  externalPackages,
  importJobModule,
  modulePath,
  requiredPackageEntries,
} from './bundle.js';
import {
  ddfsTagExpander,
  expandInputs,
  httpIndexReader,
  isPartitioned,
  reducesFromIndexes,
} from './inputs.js';
import { type JobOptions, normalizeOptions, schedulerDict } from './job-options.js';
import {
  buildJobHome,
  type JobHomeFile,
  requiredFileEntries,
  requiredModuleEntries,
  workerRuntime,
} from './jobhome.js';
import {
  type BuildContext,
  type BuiltJobPack,
  DEFAULT_SORT_BUFFER_SIZE,
  DEFAULT_STATUS_INTERVAL,
} from './jobpack-builder.js';

type WorkerClass = (abstract new (...args: never[]) => Worker) & { module?: string | URL; name: string };

/** True for something usable as a job's `worker` (an instance of a `Worker` subclass). */
export function isWorker(v: unknown): v is Worker {
  if (typeof v !== 'object' || v === null) return false;
  const w = v as Record<string, unknown>;
  // Duck-typed: a job module imported through a client bundle may see another copy of the class.
  return typeof w.run === 'function' && typeof w.jobDict === 'function' && typeof w.jobData === 'function';
}

/** The export path of the worker's class in its module: `[name]`, found by identity, else by name. */
function exportPathOf(ns: Readonly<Record<string, unknown>>, cls: WorkerClass, file: string): string[] {
  for (const [k, v] of Object.entries(ns)) if (v === cls && k !== 'default') return [k];
  if (ns.default === cls) return ['default'];
  // The same class seen through another module instance (e.g. a client bundle of the file).
  const byName = ns[cls.name];
  if (typeof byName === 'function' && byName.name === cls.name) return [cls.name];
  const exported = Object.keys(ns).filter((k) => typeof ns[k] === 'function');
  throw new DiscoError(
    `worker class ${cls.name} is not exported by ${file} (exported: ${exported.join(', ') || 'nothing'}); ` +
      "export it, and set its `static module = import.meta.url` (or the job's `module`) to the module that does",
  );
}

function homeFile(f: WorkerHomeFile, cls: string): JobHomeFile {
  if (!f || typeof f.name !== 'string' || (typeof f.data !== 'string' && !(f.data instanceof Uint8Array)))
    throw new DiscoError(`${cls}.jobHome() must return { name, data: string | Uint8Array } entries`);
  return { name: f.name, data: typeof f.data === 'string' ? Buffer.from(f.data) : f.data, mode: f.mode };
}

function checkEnvs(envs: unknown, cls: string): Record<string, string> {
  if (envs === null || typeof envs !== 'object')
    throw new DiscoError(`${cls}.jobEnvs() must return an object`);
  for (const [k, v] of Object.entries(envs)) {
    if (typeof v !== 'string')
      throw new DiscoError(`${cls}.jobEnvs(): ${k} must be a string, got ${typeof v}`);
  }
  return envs as Record<string, string>;
}

/** Build the job pack of a job whose tasks `worker` runs (see module docs). */
export async function buildWorkerJobPack(
  worker: Worker,
  rawOptions: JobOptions,
  ctx: BuildContext,
): Promise<BuiltJobPack> {
  if (!isWorker(worker))
    throw new DiscoError('the job option `worker` must be an instance of a class extending Worker');
  const o = normalizeOptions(rawOptions);
  const cls = worker.constructor as WorkerClass;
  const prefix = o.name ?? 'Job';
  const perr = prefixError(prefix);
  if (perr) throw new DiscoError(`job name: ${perr}`);
  const job: WorkerJob = { name: prefix, input: o.input ?? [], options: o };

  // -- the worker's module: bundled for the nodes, the class found among its exports --
  const moduleRef = cls.module ?? o.module;
  if (moduleRef === undefined) {
    throw new DiscoError(
      `the worker class ${cls.name} must travel as an export of its module: ` +
        `add \`static module = import.meta.url\` to the class (or give the job its \`module\`)`,
    );
  }
  const entry = modulePath(moduleRef);
  const exportPath = exportPathOf(await importJobModule(entry), cls, entry);

  // -- job dict --
  const fields = { ...(await worker.jobDict(job)) };
  const hasMap = fields['map?'] ?? true;
  const hasReduce = fields['reduce?'] ?? false;
  const readIndex =
    ctx.readIndex ?? httpIndexReader({ discoPort: ctx.settings.get('DISCO_PORT'), master: ctx.master });
  const input =
    fields.input ??
    (await expandInputs(o.input ?? [], readIndex, {
      partition: hasMap ? undefined : false,
      tags: ctx.expandTag ?? ddfsTagExpander({ settings: ctx.settings, master: ctx.master }),
    }));
  const nrReduces =
    fields.nr_reduces ?? (!hasMap && isPartitioned(input) ? await reducesFromIndexes(input, readIndex) : 1);
  const runtimeWorker = fields.worker === undefined || fields.worker === WORKER_PATH;
  const dict: Record<string, unknown> = {
    prefix,
    owner: o.owner ?? ctx.settings.get('DISCO_JOB_OWNER'),
    scheduler: schedulerDict(o.scheduler),
    worker: WORKER_PATH,
    ...fields,
    input,
    'map?': hasMap,
    'reduce?': hasReduce,
    nr_reduces: nrReduces,
  };
  if (runtimeWorker && worker.warmStart) dict.ts_worker = WORKER_RUNTIME_VERSION;
  else delete dict.ts_worker;
  const checked = JobDictSchema.safeParse(dict);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new DiscoError(`${cls.name}.jobDict(): ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const jobdict = checked.data as JobDict;
  if (prefixError(jobdict.prefix)) throw new DiscoError(`job name: ${prefixError(jobdict.prefix)}`);

  // -- environment, job home --
  const jobenvs: JobEnvs = { ...checkEnvs(await worker.jobEnvs(job), cls.name), ...o.jobenvs };
  const extraFiles = (await worker.jobHome(job)).map((f) => homeFile(f, cls.name));
  const files: JobHomeFile[] = [
    { name: WORKER_PATH, data: (ctx.workerRuntime ?? workerRuntime)(), mode: 0o755 },
    { name: WORKER_MODULE_PATH, data: await bundleJobModule(entry, externalPackages(o.requiredModules)) },
    ...requiredFileEntries(o.requiredFiles),
    ...requiredModuleEntries(o.requiredModules),
    ...(await requiredPackageEntries(o.requiredModules)),
    ...extraFiles,
  ];
  const jobhome = await buildJobHome(files);

  // -- jobdata: the classic fields at their defaults, plus the worker --
  let encodedFields: unknown;
  try {
    encodedFields = encodeParams(await worker.jobData(job));
  } catch (e) {
    throw new DiscoError(`${cls.name}.jobData(): ${(e as Error).message}`);
  }
  const jobdata = JobDataSchema.parse({
    version: JOBDATA_VERSION,
    module: null,
    functions: {},
    params: encodeParams(o.params === undefined ? {} : o.params),
    partitions: 0,
    mergePartitions: false,
    sort: false,
    sortBufferSize: DEFAULT_SORT_BUFFER_SIZE,
    statusInterval: DEFAULT_STATUS_INTERVAL,
    save: Boolean(o.save),
    profile: false,
    reduceStyle: 'iter',
    extra: { ...o.extra },
    worker: { module: WORKER_MODULE_PATH, export: exportPath, fields: encodedFields },
  } satisfies JobData);
  const pack = encodeJobPack({ jobdict, jobenvs, jobhome, jobdata: Buffer.from(JSON.stringify(jobdata)) });
  return { pack, jobdict, jobenvs, jobdata, files: files.map((f) => f.name) };
}
