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
  type WaitOptions,
} from './client/disco.js';
export type { JobEvent } from './client/events.js';
export { CHUNK_SIZE, DEFAULT_RETRY, type RetryPolicy } from './client/http.js';
export { Job, type JobInit } from './client/job.js';
export { isJobShortcut, type JobListEntry, resolveJobName, resolveJobRef } from './client/job-history.js';
export type { JobFunction, JobInputSpec, JobOptions, SchedulerOptions } from './client/job-options.js';
export { type BuiltJobPack, buildJobPack } from './client/jobpack-builder.js';
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
  mapLineReader,
  nopMap,
  nopReduce,
  type Output,
  sorted,
  sum,
  sumCombiner,
  sumReduce,
} from './worker/func.js';
export { Params } from './worker/params.js';
