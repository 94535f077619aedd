/**
 * The worker API: every name of `WORKER_API_NAMES` (src/protocol/jobdata.ts). Function
 * sources from the job pack are evaluated with these names in scope, and a bundled job
 * module's `disco-ts` imports resolve to this object (through `globalThis.__discoWorkerApi`).
 *
 * @example
 * // inside a job function's source:
 * (iter, params) => { for (const [w, cs] of kvgroup(sorted(iter))) msg(`${w}: ${sum(cs)}`); return []; }
 */
import { external } from '../client/external.js';
import { DataError, DiscoError, JobError } from '../common/errors.js';
import type { WORKER_API_NAMES } from '../protocol/jobdata.js';
import { msg, thisHost, thisInputs, thisMaster, thisName, thisPartition } from './context.js';
import {
  chainReader,
  defaultPartition,
  kvgroup,
  makeRangePartition,
  mapLineReader,
  nopMap,
  nopReduce,
  notifier,
  sorted,
  sum,
  sumCombiner,
  sumReduce,
} from './func.js';
import { Job } from './job-base.js';
import { get, MAX_OOB_PUTS, put } from './oob.js';
import { Params } from './params.js';
import { gzipLineReader, gzipReader } from './readers/gzip.js';
import { netstrReader, netstrWriter, oldNetstrReader } from './readers/netstr.js';
import { objectReader, objectWriter } from './readers/object.js';
import { reReader } from './readers/re.js';
import { jobname, parseDir } from './result-urls.js';
import {
  discoInputStream,
  discoOutputStream,
  ignoreCorruptInputStream,
  taskInputStream,
  taskOutputStream,
} from './streams.js';
import { Worker } from './worker-base.js';

export type WorkerApiName = (typeof WORKER_API_NAMES)[number];

/** Stop the whole job with `message` (the worker sends `FATAL`). */
export function err(message: string): never {
  throw new JobError(message);
}

/** Fail this task with a data error (the worker sends `ERROR`; the task is retried elsewhere). */
export function dataErr(message: string, url?: string): never {
  throw new DataError(message, url);
}

/** The API object (one per process: its functions read the current task's context). */
export const workerApi = {
  Job,
  Params,
  kvgroup,
  sorted,
  sum,
  defaultPartition,
  nopMap,
  nopReduce,
  sumCombiner,
  sumReduce,
  mapLineReader,
  chainReader,
  reReader,
  gzipReader,
  gzipLineReader,
  netstrReader,
  netstrWriter,
  oldNetstrReader,
  objectReader,
  objectWriter,
  discoInputStream,
  ignoreCorruptInputStream,
  discoOutputStream,
  taskInputStream,
  taskOutputStream,
  makeRangePartition,
  notifier,
  parseDir,
  jobname,
  thisPartition,
  thisHost,
  thisMaster,
  thisInputs,
  thisName,
  msg,
  err,
  dataErr,
  external,
  DataError,
  JobError,
  Worker,
  put,
  get,
  MAX_OOB_PUTS,
  DiscoError,
} satisfies Record<WorkerApiName, unknown>;

export type WorkerApi = typeof workerApi;
