/**
 * Everything one running task needs, built fresh for each task by `task.ts` and handed to
 * the map and reduce phases. Nothing in it outlives the task.
 *
 * @example
 * const outputs = run.mode === 'map' ? runMap(run) : runReduce(run);
 */
import type { JobData } from '../protocol/jobdata.js';
import type { JobDict } from '../protocol/jobpack.js';
import type { InputEntry, TaskInfo } from '../protocol/worker-protocol.js';
import type { ReplicaProtocol } from './inputs.js';
import type { OutputFactory } from './output-set.js';
import type { OpenedInput, StreamFunction } from './readers/chain.js';
import type { OpenContext } from './readers/open-url.js';
import type { TaskPaths } from './task-paths.js';
import type { JobFunctions } from './user-code.js';

export interface TaskRun {
  task: TaskInfo;
  jobhome: string;
  jobdict: JobDict;
  data: JobData;
  fns: JobFunctions;
  /** This task's own copy of the job's params. */
  params: unknown;
  paths: TaskPaths;
  /** The master's input list (`INPUT ""`). */
  inputs: InputEntry[];
  /** Replica fail-over messages (`INPUT`, `INPUT_ERR`). */
  proto: ReplicaProtocol;
  /** Where URLs are opened from (this node, data roots, temporary directory). */
  openCtx: OpenContext;
  /**
   * Send a task message (`MSG`); `droppable` ones are skipped rather than delayed by the rate
   * limit; `defer`red ones may wait to go out with the next protocol message.
   */
  msg(text: string, opts?: { droppable?: boolean; defer?: boolean }): void;
  /** Open one input URL through the stream chain; the task closes whatever is left open. */
  openInput(
    url: string,
    streams: readonly StreamFunction[],
    reader: StreamFunction | null | undefined,
  ): OpenedInput;
  /** The task's outputs (opened lazily, aborted if the task fails). */
  outputs: OutputFactory;
}
