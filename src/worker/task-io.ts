/**
 * The {@link TaskIO} a {@link Worker}'s `run` receives, built on the worker protocol client,
 * and {@link runWorkerTask}: one task of any worker, start to finish — `run`, then report
 * the outputs `io` opened (`OUTPUT` each, or save them to DDFS with `save: true`) before the
 * caller sends `DONE`; on failure drop them. The classic worker reports its own outputs and
 * opens none here.
 *
 * Everything is lazy: the input list (`INPUT ""`), the params, the task directory are only
 * fetched, decoded or chosen when `run` asks — the classic worker does all that itself, so
 * routing it through here adds a few object allocations per task and nothing else.
 *
 * @example
 * await runWorkerTask(worker, client, taskInfo, job);
 * client.done();
 */
import { DataError, JobError } from '../common/errors.js';
import type { InputEntry, TaskInfo } from '../protocol/worker-protocol.js';
import { setTaskContext } from './context.js';
import { expandInputs, isPartitioned, readInputs } from './inputs.js';
import { openTaskOob } from './oob.js';
import { OutputFactory } from './output-set.js';
import { type ByteSink, RecordOutput, type TaskOutput } from './outputs.js';
import type { ProtocolClient } from './protocol-client.js';
import { type OpenedInput, openChain } from './readers/chain.js';
import type { InputStream } from './readers/input-stream.js';
import { type OpenContext, openUrl, taskOpenContext } from './readers/open-url.js';
import { refusePartitionedSave, reportOutputs } from './save.js';
import type { LoadedJob } from './task.js';
import { makeTaskPaths, type TaskPaths } from './task-paths.js';
import { decodeJobParams } from './user-code.js';
import type {
  TaskIO,
  Worker,
  WorkerInput,
  WorkerOutput,
  WorkerReadOptions,
  WorkerTask,
} from './worker-base.js';

/** The protocol client behind an `io` (for the classic worker, which speaks it directly). */
const clients = new WeakMap<TaskIO, ProtocolClient>();

/** The protocol client behind `io` (built-in workers only; see the module docs). */
export function protocolOf(io: TaskIO): ProtocolClient {
  const c = clients.get(io);
  if (!c) throw new JobError('this TaskIO was not created by the worker runtime');
  return c;
}

/**
 * An output's writer: records (`add`) and raw bytes (`write`). The record stream's end
 * marker is written only when records were, so an output of raw bytes holds exactly those.
 */
class MixedOutput {
  private records: RecordOutput | null = null;

  constructor(private readonly file: ByteSink) {}

  add(key: unknown, value: unknown): void {
    this.records ??= new RecordOutput(this.file);
    this.records.add(key, value);
  }

  write(data: string | Uint8Array): void {
    if (this.records) this.records.write(data);
    else this.file.write(data);
  }

  close(): void {
    this.records?.close();
  }
}

class ProtocolTaskIO implements TaskIO {
  private entries: InputEntry[] | null = null;
  private inputList: WorkerInput[] | null = null;
  private paramsValue: { v: unknown } | null = null;
  private pathsValue: TaskPaths | null = null;
  private outs: OutputFactory | null = null;
  private readonly wrapped = new Map<string | null, WorkerOutput>();
  private readonly opened = new Set<{ close(): void }>();
  /** How the task's URLs are opened (also used for OOB values). */
  readonly openCtx: OpenContext;

  constructor(
    private readonly client: ProtocolClient,
    private readonly info: TaskInfo,
    private readonly job: LoadedJob,
  ) {
    this.openCtx = taskOpenContext(info, () => this.paths.tmp);
  }

  private get rawInputs(): InputEntry[] {
    this.entries ??= this.client.inputs();
    return this.entries;
  }

  private get paths(): TaskPaths {
    this.pathsValue ??= makeTaskPaths(this.job.jobhome, this.info.mode, this.info.taskid);
    return this.pathsValue;
  }

  get inputs(): readonly WorkerInput[] {
    this.inputList ??= this.rawInputs.map(([id, , replicas]) => ({ id, urls: replicas.map(([, u]) => u) }));
    return this.inputList;
  }

  get params(): unknown {
    this.paramsValue ??= { v: decodeJobParams(this.job.data.params) };
    return this.paramsValue.v;
  }

  get tmpDir(): string {
    return this.paths.tmp;
  }

  read(
    which?: WorkerInput | readonly WorkerInput[],
    opts: WorkerReadOptions = {},
  ): IterableIterator<unknown> {
    const all = this.rawInputs;
    let entries = all;
    if (which !== undefined) {
      const ids = new Set((Array.isArray(which) ? which : [which as WorkerInput]).map((i) => i.id));
      entries = all.filter(([id]) => ids.has(id));
      if (entries.length !== ids.size)
        throw new JobError(`io.read: no such input of this task (ids ${[...ids].join(', ')})`);
    }
    const label =
      opts.label !== undefined
        ? opts.label
        : this.info.mode === 'reduce' && isPartitioned(all)
          ? String(this.info.taskid)
          : null;
    const inputs = expandInputs(entries, { proto: this.client, ctx: this.openCtx, label });
    const streams = opts.inputStream ?? [];
    const params = opts.params !== undefined ? opts.params : this.params;
    return readInputs(inputs, this.client, (url) =>
      this.track(openChain(url, this.openStream, streams, opts.reader, params)),
    );
  }

  open(url: string): InputStream {
    const s = this.openStream(url);
    this.opened.add(s);
    return s;
  }

  private readonly openStream = (url: string): InputStream => openUrl(url, this.openCtx);

  private track(o: OpenedInput): OpenedInput {
    this.opened.add(o);
    return {
      entries: o.entries,
      close: () => {
        this.opened.delete(o);
        o.close();
      },
    };
  }

  output(label: string | number | null = null): WorkerOutput {
    const key = label === null ? null : String(label);
    if (key !== null && !/^[\w.-]+$/.test(key))
      throw new JobError(
        `io.output: a label is letters, digits, '_', '.' or '-', got ${JSON.stringify(key)}`,
      );
    const hit = this.wrapped.get(key);
    if (hit) return hit;
    this.outs ??= new OutputFactory({
      jobhome: this.job.jobhome,
      paths: this.paths,
      streams: [],
      writer: (stream: unknown) => new MixedOutput(stream as ByteSink),
      params: undefined,
    });
    const out: TaskOutput = this.outs.get(key);
    const sink = out.sink as MixedOutput;
    const w: WorkerOutput = {
      label: key,
      path: out.abs,
      add: (k, v) => sink.add(k, v),
      write: (d) => sink.write(d),
    };
    this.wrapped.set(key, w);
    return w;
  }

  msg(text: string): void {
    this.client.msg(String(text));
  }

  err(message: string): never {
    throw new JobError(message);
  }

  dataErr(message: string, url?: string): never {
    throw new DataError(message, url);
  }

  /** Close and report the outputs (or save them to DDFS). */
  finish(): void {
    if (!this.outs) return;
    // Refused before the outputs are moved into place: `abort` then drops them.
    refusePartitionedSave(
      this.info.mode,
      this.job,
      this.outs.list().some((o) => o.type === 'part'),
    );
    this.outs.closeAll();
    reportOutputs(this.client, this.info, this.job, this.outs.list());
  }

  /** The task failed: drop the outputs. */
  abort(): void {
    this.outs?.abortAll();
  }

  /** Release what the task holds (either way). */
  cleanup(): void {
    for (const o of this.opened) {
      try {
        o.close();
      } catch {
        // best effort: the task is over
      }
    }
    this.opened.clear();
    this.pathsValue?.cleanup();
  }
}

/** The {@link WorkerTask} view of a `TASK` reply. */
function workerTask(info: TaskInfo, job: LoadedJob): WorkerTask {
  return {
    mode: info.mode,
    taskId: info.taskid,
    jobName: info.jobname,
    host: info.host,
    master: info.master,
    jobHome: job.jobhome,
    jobDict: job.pack.jobdict,
    info,
  };
}

/** Run one task with `worker` (see module docs). Throws on failure, after dropping the outputs. */
export async function runWorkerTask(
  worker: Worker,
  client: ProtocolClient,
  info: TaskInfo,
  job: LoadedJob,
): Promise<void> {
  const io = new ProtocolTaskIO(client, info, job);
  clients.set(io, client);
  // thisInputs() asks for the inputs only when called.
  setTaskContext({
    task: info,
    get inputs() {
      return io.inputs.map((i) => i.urls);
    },
  });
  // put()/get() work in custom workers as in classic tasks (tag updated once, at the end).
  const oob = openTaskOob({ master: info.master, jobname: info.jobname, ctx: io.openCtx });
  try {
    await worker.run(workerTask(info, job), io);
    oob.flush();
    io.finish();
  } catch (e) {
    oob.flushQuietly();
    io.abort();
    throw e;
  } finally {
    oob.close();
    io.cleanup();
    setTaskContext(null);
  }
}
