/**
 * `Worker`: the base class for a new kind of worker (the original's `disco.worker.Worker`).
 * A subclass says, on the client, what its job pack holds — {@link Worker.jobDict},
 * {@link Worker.jobEnvs}, {@link Worker.jobHome} (files of the job home) and
 * {@link Worker.jobData} (what reaches the nodes) — and, on the nodes, how one task runs:
 * {@link Worker.run}`(task, io)`. The worker protocol stays out of sight: `io` hands out the
 * task's inputs (replica URL lists, or their entries with replica fail-over), opens outputs
 * and reports them, sends messages, and `io.err` / `io.dataErr` end the task the way the
 * protocol means (`FATAL`: the job fails; `ERROR`: the task is retried elsewhere).
 *
 * How a custom worker travels: the class must be exported from a module (`static module =
 * import.meta.url`, or the job's `module` option). The client bundles that module into the
 * job home (`lib/worker.mjs`) and records the export and the worker's fields in the jobdata.
 * The job's `jobdict.worker` is the usual TypeScript runtime, which on the node imports the
 * module, creates a fresh instance per task (fields restored), and calls `run`. The classic
 * worker is one such `Worker` (`ClassicWorker`, whose `run` is the classic map/reduce task);
 * jobs without a `worker` option use it.
 *
 * One class for both sides, because a subclass is written once and used in both places:
 * the client-side hooks are plain methods without I/O of their own (the client machinery
 * expands inputs, bundles, zips), so the worker's copy of this module stays small.
 *
 * Design choices:
 * - The worker's own enumerable fields travel (the original pickles the whole Worker): they
 *   are set on the node's instance *after* its constructor, so class field initialisers do
 *   not overwrite them. Use `#private` fields for client-only state.
 * - Custom workers run in the same runtime as classic jobs, so they share the node's warm
 *   worker pool (pre-started and parked processes). A worker whose `jobEnvs` must be in place
 *   when Node starts (e.g. `NODE_OPTIONS`) returns false from {@link Worker.warmStart}: its
 *   tasks then run in processes started from the job home with that environment (which may
 *   still serve several tasks of the job).
 * - `run` may be async; inputs are read synchronously (the classic readers' interface), so
 *   a stream chain behaves the same in a custom worker, a classic job and `resultIterator`.
 *
 * @example
 * export class UpperCase extends Worker {
 *   static module = import.meta.url;
 *   override run(task: WorkerTask, io: TaskIO) {
 *     const out = io.output();
 *     for (const line of io.read()) out.add(task.taskId, String(line).toUpperCase());
 *   }
 * }
 * const job = await new Job({ worker: new UpperCase(), input: ['raw://hello'] }).run();
 */
import type { JobInputSpec, JobOptions } from '../client/job-options.js';
import type { JobDict } from '../protocol/jobpack.js';
import type { TaskInfo } from '../protocol/worker-protocol.js';
import type { StreamFunction } from './readers/chain.js';
import type { InputStream } from './readers/input-stream.js';

/** The job being built, as the client-side hooks see it. */
export interface WorkerJob {
  /** The job name prefix. */
  readonly name: string;
  /** The inputs as given (`dir://` and `tag://` not yet expanded). */
  readonly input: readonly JobInputSpec[];
  /** Every option of the job (run() arguments over constructor options over class members). */
  readonly options: Readonly<JobOptions>;
}

/**
 * Job dict fields a worker sets: any of the master's (`map?`, `reduce?`, `nr_reduces`,
 * `input`, `scheduler`, …) and fields of its own, which the master keeps and the worker
 * reads back from `task.jobDict`.
 */
export type WorkerJobDict = Partial<JobDict> & Record<string, unknown>;

/** A file a worker adds to the job home (a path relative to it, `/`-separated). */
export interface WorkerHomeFile {
  name: string;
  data: string | Uint8Array;
  /** Permission bits (default 0o644). */
  mode?: number;
}

/** The task a worker runs. */
export interface WorkerTask {
  readonly mode: 'map' | 'reduce';
  /** Map: the input's index; reduce: the partition. */
  readonly taskId: number;
  readonly jobName: string;
  /** The node running the task. */
  readonly host: string;
  /** The master's URL. */
  readonly master: string;
  /** The job home (the process's working directory). */
  readonly jobHome: string;
  /** The job dict, with the worker's own fields. */
  readonly jobDict: Readonly<JobDict> & Readonly<Record<string, unknown>>;
  /** The `TASK` reply as the node sent it. */
  readonly info: Readonly<TaskInfo>;
}

/** One input of a task: its replica URLs, best first. */
export interface WorkerInput {
  /** The master's input id. */
  readonly id: number;
  readonly urls: readonly string[];
}

/** How {@link TaskIO.read} turns inputs into entries. */
export interface WorkerReadOptions {
  /**
   * `reader(stream, size, url, params)` → entries. Default: record streams are decoded to
   * `[key, value]`, anything else is read as text lines. `null`: iterate the stream as it is.
   */
  reader?: StreamFunction | null;
  /** `fn(stream, size, url, params)` applied in order before the reader. */
  inputStream?: readonly StreamFunction[];
  /** Passed to `reader` and `inputStream` (default: the job's `params`). */
  params?: unknown;
  /**
   * Of `dir://` inputs (an earlier phase's outputs), read only the data labelled so. Default:
   * in a reduce task whose inputs are all `dir://`, its own partition; else every label.
   * `null`: every label.
   */
  label?: string | null;
}

/** An output file of a task, reported to the master when `run` returns. */
export interface WorkerOutput {
  /** The partition label (null: the task's single, unpartitioned output). */
  readonly label: string | null;
  /** Absolute path of the file (complete only after `run` returns). */
  readonly path: string;
  /** Append a record (the record format: `resultIterator` and `chainReader` read it). */
  add(key: unknown, value: unknown): void;
  /** Append raw bytes (pending records are written first). */
  write(data: string | Uint8Array): void;
}

/** What a running task offers its worker: the worker protocol, without the protocol. */
export interface TaskIO {
  /** The task's inputs. */
  readonly inputs: readonly WorkerInput[];
  /** The job's `params` (a fresh copy per task). */
  readonly params: unknown;
  /** A directory for temporary files, removed when the task ends. */
  readonly tmpDir: string;
  /**
   * Entries of `inputs` (default: all of the task's), read with replica fail-over: a replica
   * that fails to open or read is replaced by the next, skipping what was already delivered.
   * `dir://` inputs are read as the data files they list, `tag://` inputs as their blobs.
   */
  read(inputs?: WorkerInput | readonly WorkerInput[], opts?: WorkerReadOptions): IterableIterator<unknown>;
  /** Open one URL (`raw://`, `file://`, `disco://`, `http://`, …) as a byte stream; closed when the task ends. */
  open(url: string): InputStream;
  /**
   * The output for partition `label`, opened on first use (label given: a partition of map
   * output for the reduce phase; none: the task's single output).
   */
  output(label?: string | number | null): WorkerOutput;
  /** Send a message to the master (shown in the job's events; at most 5 per second, the rest wait). */
  msg(text: string): void;
  /** Fail the job with `message` (`FATAL`). */
  err(message: string): never;
  /** Fail this task with a data error (`ERROR`): the master retries it, elsewhere if it can. */
  dataErr(message: string, url?: string): never;
}

/** A module path or `file:` URL. */
export type ModuleRef = string | URL;

/**
 * Subclasses name the module that exports them with `static module = import.meta.url`
 * (a {@link ModuleRef}; without it, the job's `module` option is used). The client bundles
 * that module for the nodes. It is not declared here, so that subclasses need no `override`.
 */
export abstract class Worker {
  /** Job dict fields (see {@link WorkerJobDict}); default: one map task per input, no reduce. */
  jobDict(_job: WorkerJob): WorkerJobDict | Promise<WorkerJobDict> {
    return {};
  }

  /** Environment variables for the worker (the job's `jobenvs` option wins over them). */
  jobEnvs(_job: WorkerJob): Record<string, string> | Promise<Record<string, string>> {
    return {};
  }

  /** Extra files for the job home (besides the runtime, the worker's module and `requiredFiles`). */
  jobHome(_job: WorkerJob): readonly WorkerHomeFile[] | Promise<readonly WorkerHomeFile[]> {
    return [];
  }

  /**
   * What the node's instance receives (assigned to it before each task): by default this
   * worker's own enumerable fields. Values are JSON, plus functions (sent as source), `Map`,
   * `Set`, `Date`, `undefined` and non-finite numbers.
   */
  jobData(_job: WorkerJob): Record<string, unknown> | Promise<Record<string, unknown>> {
    return { ...(this as object) } as Record<string, unknown>;
  }

  /** Whether the job's tasks may run in the node's warm worker processes (see module docs). */
  get warmStart(): boolean {
    return true;
  }

  /** Run one task (on a node). Throw to fail it; `io.err`/`io.dataErr` choose how. */
  abstract run(task: WorkerTask, io: TaskIO): void | Promise<void>;
}

// esbuild may rename the class in bundles; its name shows in messages.
Object.defineProperty(Worker, 'name', { value: 'Worker' });
