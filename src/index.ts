/**
 * disco-ts: the public API. A client for Disco masters (submit jobs, wait, read results),
 * the `Job` class for writing jobs, and the helpers job functions use (`kvgroup`, `sorted`,
 * readers, …) — the very implementations the TypeScript worker runs, so a job function
 * behaves the same in a task and in a local test.
 *
 * Inside a job module bundled for the workers, imports of this package resolve to the
 * worker's API (see `src/client/bundle.ts`): the task functions (`thisPartition`, `msg`, …)
 * only work there.
 *
 * @example
 * import { Job, kvgroup, sorted, sum, resultIterator } from 'disco-ts';
 * const job = await new Job({
 *   input: ['raw://to be or not to be'],
 *   map: (line: string) => line.split(' ').map((w) => [w, 1]),
 *   *reduce(iter: Iterable<[string, number]>) {
 *     for (const [w, ns] of kvgroup(sorted(iter))) yield [w, sum(ns)];
 *   },
 * }).run();
 * for await (const [w, n] of resultIterator(await job.wait())) console.log(w, n);
 */

// Client
export {
  type ConfigTable,
  Disco,
  type DiscoOptions,
  type EventsOptions,
  type JobInfo,
  type JobRef,
  type JobResultEntry,
  type JobStatus,
  masterUrl,
  type NodeInfo,
  type ProfileStatsOptions,
  type WaitOptions,
} from './client/disco.js';
export type { JobEvent } from './client/events.js';
export { ExternalProgram, external } from './client/external.js';
export { CHUNK_SIZE, DEFAULT_RETRY, type RetryPolicy } from './client/http.js';
export { Job, type JobInit } from './client/job.js';
export { isJobShortcut, type JobListEntry, resolveJobName, resolveJobRef } from './client/job-history.js';
export type { JobFunction, JobInputSpec, JobOptions, SchedulerOptions } from './client/job-options.js';
export { type BuiltJobPack, buildJobPack } from './client/jobpack-builder.js';
export {
  type CpuProfile,
  type FunctionStat,
  mergeProfiles,
  type ProfileSortKey,
  ProfileStats,
  parseCpuProfile,
} from './client/profile-stats.js';
export { classicIterator, type ResultIteratorOptions, resultIterator } from './client/result-iterator.js';
// Errors and settings
export { CommError, DataError, DiscoError, JobError, ProtocolError } from './common/errors.js';
export { loadSettings, Settings } from './common/settings.js';
export {
  canonizeTag,
  DDFS,
  type DDFSOptions,
  InvalidTag,
  isTag,
  type TagObject,
} from './ddfs/client/ddfs.js';
// dispy: run functions and programs on many machines (docs/dispy.md).
export * from './dispy/index.js';
// Job-function helpers (shared with the worker)
export { dataErr, err } from './worker/api.js';
export { msg, thisHost, thisInputs, thisMaster, thisName, thisPartition } from './worker/context.js';
export {
  chainReader,
  defaultPartition,
  kvgroup,
  makeRangePartition,
  mapLineReader,
  nopMap,
  nopReduce,
  notifier,
  type Output,
  type PartitionFunction,
  sorted,
  sum,
  sumCombiner,
  sumReduce,
} from './worker/func.js';
export { get, MAX_OOB_PUTS, put } from './worker/oob.js';
export { Params } from './worker/params.js';
// Readers, writers and streams (docs/worker-helpers.md)
export { gzipLineReader, gzipReader } from './worker/readers/gzip.js';
export type { InputStream } from './worker/readers/input-stream.js';
export {
  type NetstringOutput,
  netstrReader,
  netstrWriter,
  oldNetstrReader,
} from './worker/readers/netstr.js';
export { objectReader, objectWriter } from './worker/readers/object.js';
export { reReader } from './worker/readers/re.js';
export { jobname, parseDir } from './worker/result-urls.js';
export {
  discoInputStream,
  discoOutputStream,
  ignoreCorruptInputStream,
  type OutputStream,
  taskInputStream,
  taskOutputStream,
} from './worker/streams.js';
// Custom workers (docs/custom-workers.md)
export {
  type ModuleRef,
  type TaskIO,
  Worker,
  type WorkerHomeFile,
  type WorkerInput,
  type WorkerJob,
  type WorkerJobDict,
  type WorkerOutput,
  type WorkerReadOptions,
  type WorkerTask,
} from './worker/worker-base.js';
