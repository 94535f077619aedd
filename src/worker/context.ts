/**
 * The task context: what `thisPartition()`, `thisHost()`, `thisMaster()`, `thisInputs()`,
 * `thisName()` and `msg()` answer inside job functions. One context per task, replaced at
 * every task start and cleared at its end, so a reused worker process never shows a function
 * the previous task's state.
 *
 * @example
 * function map(line: string) {
 *   return [[`${thisHost()}:${thisPartition()}`, line]];
 * }
 */
import { DiscoError } from '../common/errors.js';
import type { TaskInfo } from '../protocol/worker-protocol.js';

/** What the current task exposes to job functions. */
export interface TaskContext {
  readonly task: TaskInfo;
  /** URLs of each task input (its replicas), as the master listed them. */
  readonly inputs: readonly (readonly string[])[];
}

let current: TaskContext | null = null;
let sink: ((text: string) => void) | null = null;

/** Make `ctx` the current task (null between tasks). */
export function setTaskContext(ctx: TaskContext | null): void {
  current = ctx;
}

/** Where `msg()` and captured console output go (the protocol client's `MSG`). */
export function setMessageSink(fn: ((text: string) => void) | null): void {
  sink = fn;
}

function ctx(what: string): TaskContext {
  if (!current) throw new DiscoError(`${what}() is only available inside a running task`);
  return current;
}

/**
 * For a map task, the task id (one per input, `0..maps-1`); for a reduce task, the
 * partition it reduces (`0..partitions-1`).
 */
export function thisPartition(): number {
  return ctx('thisPartition').task.taskid;
}

/** Name of the node running this task. */
export function thisHost(): string {
  return ctx('thisHost').task.host;
}

/** The master's URL, e.g. `http://master:8989`. */
export function thisMaster(): string {
  return ctx('thisMaster').task.master;
}

/** The task's inputs: one list of replica URLs per input. */
export function thisInputs(): string[][] {
  return ctx('thisInputs').inputs.map((r) => [...r]);
}

/** The job's name. */
export function thisName(): string {
  return ctx('thisName').task.jobname;
}

/** The current task's TASK message, or null outside a task (for helpers that open URLs). */
export function currentTask(): TaskInfo | null {
  return current?.task ?? null;
}

/** Send `text` to the master as a task message (shown in the job's events). */
export function msg(text: unknown): void {
  const t = typeof text === 'string' ? text : String(text);
  // Outside a worker process (a job function tried locally) there is no master to tell.
  if (sink) sink(t);
  else console.log(t);
}
