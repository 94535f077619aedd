/**
 * Which {@link Worker} runs a job's tasks: the class named by `jobdata.worker` (a custom
 * worker, from the job's bundled worker module), else the {@link ClassicWorker}. The module
 * is imported once per job per process (with the worker API in place, so its `disco-ts`
 * imports resolve); each task gets a fresh instance with the fields the client sent, so no
 * task sees what an earlier task of a reused process left on the instance.
 *
 * @example
 * const worker = await workerForJob(await loadJob(task.jobfile));
 * await runWorkerTask(worker, client, task, job);
 */
import path from 'node:path';
import { JobError } from '../common/errors.js';
import { decodeParams } from '../protocol/jobdata.js';
import { ClassicWorker } from './classic-worker.js';
import type { LoadedJob } from './task.js';
import { compileFunction, importJobModule } from './user-code.js';
import { Worker } from './worker-base.js';

type WorkerClass = new () => Worker;

const classic = new ClassicWorker();
/** The custom worker class of the last job this process loaded. */
let cached: { jobfile: string; cls: WorkerClass } | null = null;

function isWorkerClass(v: unknown): v is WorkerClass {
  return typeof v === 'function' && v.prototype instanceof Worker;
}

async function workerClass(job: LoadedJob, spec: { module: string; export: string[] }): Promise<WorkerClass> {
  if (cached && cached.jobfile === job.jobfile) return cached.cls;
  const where = `${spec.module}: ${spec.export.join('.')}`;
  const mod = await importJobModule(path.join(job.jobhome, spec.module));
  let v: unknown = mod;
  for (const name of spec.export) {
    v =
      v !== null && (typeof v === 'object' || typeof v === 'function')
        ? (v as Record<string, unknown>)[name]
        : undefined;
  }
  if (v === undefined) throw new JobError(`the job's worker module has no ${where}`);
  if (!isWorkerClass(v)) throw new JobError(`${where} is not a class extending Worker`);
  cached = { jobfile: job.jobfile, cls: v };
  return v;
}

/** The worker for one task of `job` (see module docs). */
export async function workerForJob(job: LoadedJob): Promise<Worker> {
  const spec = job.data.worker;
  if (!spec) return classic;
  const cls = await workerClass(job, spec);
  let worker: Worker;
  try {
    worker = new cls();
  } catch (e) {
    throw new JobError(`cannot create the job's worker ${cls.name}: ${(e as Error).message ?? e}`);
  }
  const fields = decodeParams(spec.fields, compileFunction);
  if (fields !== null && typeof fields === 'object') Object.assign(worker, fields);
  return worker;
}
