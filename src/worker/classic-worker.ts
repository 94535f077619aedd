/**
 * The classic worker as a {@link Worker}: map and reduce tasks of the classic job functions
 * (`map`, `reduce`, readers, streams, combiner, partition, sort, save — see `task.ts`). It
 * is the worker of every job without a `worker` option.
 *
 * Its `run` is the classic task, which speaks the worker protocol itself (pipelined inputs,
 * deferred messages, cached replica lists) rather than through `io`: that is the hot path of
 * jobs with tens of thousands of tasks, and it keeps its per-task cost (the runtime calls
 * `runTask` directly for it, without `io`'s set-up). Its client side is
 * `buildJobPack` (`src/client/jobpack-builder.ts`), which computes the job dict, environment,
 * job home and jobdata together (the input expansion decides `nr_reduces`; the functions
 * decide whether the job module is bundled), so it does not override the hooks one by one.
 *
 * @example
 * await runWorkerTask(new ClassicWorker(), client, taskInfo, job); // what the runtime does for classic jobs
 */
import { runTask } from './task.js';
import { protocolOf } from './task-io.js';
import { type TaskIO, Worker, type WorkerTask } from './worker-base.js';

export class ClassicWorker extends Worker {
  override run(task: WorkerTask, io: TaskIO): Promise<void> {
    return runTask(protocolOf(io), task.info);
  }
}
