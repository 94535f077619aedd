/**
 * One worker process and the node's side of worker protocol 1.0 with it (wire spec §3.2–§3.7).
 *
 * Messages are decoded as bytes arrive and handled strictly one after another, so replies go
 * out in the order of the requests even when one reply is delayed by the MSG throttle. The
 * throttle itself looks at *arrival* times (taken when a message is decoded), which is what
 * makes a pipelined flood fatal. After `DONE`, `ERROR` or `FATAL` the worker is never answered
 * again and is killed — except a worker that announced `"reuse": true` in `WORKER`: after
 * `DONE` it may ask `TASK ""` again and then waits, idle, for the next task of the same job
 * (the {@link SessionListener.idle} callback hands it to the pool). A worker that asked for
 * `"pipeline": true` (and was granted it in the `OK`) gets no replies to `MSG` and `OUTPUT`,
 * and every `TASK` reply is followed by the task's `INPUT ""` reply in the same write
 * (src/protocol/worker-protocol.ts).
 *
 * Failure mapping (the master turns `error` into a retry and `fatal` into a job failure):
 * broken framing → collect up to 100 KiB more output for ≤ 10 s, then error
 * `Worker died. Last words:\n…`; invalid JSON, unknown type or bad payload → fatal; no output
 * within 30 s → error; a message started but unfinished for 30 s → error; exit before the end
 * of the task → error `Worker crashed! (exit code: N)`.
 *
 * Concurrency: a session is owned by the task runner; only the runner calls
 * {@link WorkerSession.assign} and {@link WorkerSession.kill}, only the session calls its
 * listener, and each listener callback about a task is made at most once per task.
 */
import type { ChildProcess } from 'node:child_process';
import { errorMessage, ProtocolError } from '../common/errors.js';
import { formatDuration } from '../common/time.js';
import type { TaskSpec } from '../protocol/control.js';
import {
  encodeFrame,
  FrameDecoder,
  PIPELINE_ACCEPTED,
  parseWorkerMessage,
  type TaskInfo,
  type WorkerMessage,
} from '../protocol/worker-protocol.js';
import type { TaskInputs } from './task-inputs.js';
import { OutputRefused, type TaskOutputs } from './task-outputs.js';
import { MsgThrottle } from './throttle.js';
import { killWorkerGroup, type LaunchSpec, spawnWorker } from './worker-launch.js';

/** Everything a session needs to serve one task attempt. */
export interface TaskContext {
  spec: TaskSpec;
  /** The TASK reply (§3.4). */
  info: TaskInfo;
  inputs: TaskInputs;
  outputs: TaskOutputs;
  /** When the task was given to the worker (ms since the epoch). */
  startedAt: number;
}

/** What a session reports. Task callbacks come at most once per task. */
export interface SessionListener {
  /** A formatted task event (`MSG: [map:0] …`, `DONE: [map:0] …`). */
  event(task: TaskContext, message: string): void;
  done(task: TaskContext, results: string[], durationMs: number): void;
  failed(task: TaskContext, kind: 'error' | 'fatal', message: string): void;
  /** The worker asked `TASK ""` and holds no task: it may be given one with `assign`. */
  idle(session: WorkerSession): void;
  /** The process has ended; called exactly once, after any task callback. */
  gone(session: WorkerSession): void;
}

/** Protocol timeouts (§3.2, §3.6); tests shorten them. */
export interface SessionTimeouts {
  /** No output at all this long after spawn → error. */
  firstOutputMs: number;
  /** A message started but not finished this long → error. */
  stuckMs: number;
  /** How long to collect last words after broken framing. */
  lastWordsMs: number;
  /** How much to collect as last words. */
  lastWordsBytes: number;
  /** A reusable worker that neither asks for a task nor exits this long after DONE is killed. */
  reuseWaitMs: number;
}

/** The original's limits (§3.2, §3.6). */
export const DEFAULT_SESSION_TIMEOUTS: SessionTimeouts = {
  firstOutputMs: 30_000,
  stuckMs: 30_000,
  lastWordsMs: 10_000,
  lastWordsBytes: 100 * 1024,
  reuseWaitMs: 30_000,
};

/** Decoded messages waiting to be handled before the worker's output is paused (backpressure). */
const QUEUE_HIGH = 1000;
const QUEUE_LOW = 100;

/** How much of a crashed worker's unparsed output goes into the failure message. */
const CRASH_TAIL_BYTES = 4096;

type Item =
  | { kind: 'message'; msg: WorkerMessage; delayMs: number }
  | { kind: 'fatal'; message: string }
  | { kind: 'garbage' }
  | { kind: 'exit'; status: string };

/** A worker process speaking protocol 1.0 with this node. */
export class WorkerSession {
  readonly child: ChildProcess;
  /** The job whose code this process runs or ran (null: a generic worker that ran none). */
  job: string | null = null;
  /** The current (or just finished) task. */
  task: TaskContext | null = null;
  /** The worker announced `"reuse": true`. */
  reusable = false;
  /**
   * The worker asked for (and was granted) the `pipeline` extension: no replies to `MSG` and
   * `OUTPUT`, and the `INPUT ""` reply pushed after every `TASK` reply.
   */
  pipeline = false;
  /** The pid the worker reported in `WORKER` (informational; kills use the process group). */
  workerPid: number | null = null;

  private handshakeDone = false;
  /** The current task ended: the worker must not be answered about it any more. */
  private taskOver = false;
  /** A `TASK` request waits for an answer (idle worker). */
  private taskRequested = false;
  private killed = false;
  private exitQueued = false;
  private gotOutput = false;
  private decoding = true;
  private readonly decoder = new FrameDecoder();
  private throttle = new MsgThrottle();
  private readonly queue: Item[] = [];
  private draining = false;
  private lastWords: { chunks: Buffer[]; size: number; done: Promise<void>; finish: () => void } | null =
    null;
  private firstOutputTimer: NodeJS.Timeout | null = null;
  private stuckTimer: NodeJS.Timeout | null = null;
  private reuseTimer: NodeJS.Timeout | null = null;
  private lastWordsTimer: NodeJS.Timeout | null = null;

  constructor(
    launch: LaunchSpec,
    private readonly listener: SessionListener,
    private readonly timeouts: SessionTimeouts = DEFAULT_SESSION_TIMEOUTS,
  ) {
    this.child = spawnWorker(launch);
    this.child.stdin?.on('error', () => {
      // EPIPE after the worker died: its exit is reported through 'close'.
    });
    this.child.stdout?.on('data', (chunk: Buffer) => this.onData(chunk));
    // stderr is merged into stdout by the launcher; anything here comes from the shell itself.
    this.child.stderr?.on('data', (chunk: Buffer) => this.onData(chunk));
    this.child.on('exit', () => {
      // Orphaned children may hold the pipe open; take them down so 'close' follows.
      killWorkerGroup(this.child);
    });
    this.child.on('close', (code, signal) => this.queueExit(code === null ? String(signal) : String(code)));
    this.child.on('error', (e) => this.queueExit(`spawn failed: ${e.message}`));
    this.firstOutputTimer = setTimeout(
      () =>
        this.abort(
          'error',
          `Worker did not send its PID in ${Math.round(this.timeouts.firstOutputMs / 1000)} seconds`,
        ),
      this.timeouts.firstOutputMs,
    );
  }

  /** OS pid of the worker (the process group id). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Waiting for a task (asked `TASK ""`, holds none). */
  get idle(): boolean {
    return this.taskRequested && !this.killed;
  }

  /**
   * A reusable worker of `job` that finished its task and will ask for the next (it has sent
   * `DONE`, not yet `TASK ""`): it may be {@link assign}ed the next task right away.
   */
  awaitingNext(job: string): boolean {
    return (
      this.reusable &&
      !this.killed &&
      this.job === job &&
      this.task !== null &&
      this.taskOver &&
      !this.taskRequested
    );
  }

  /**
   * Give the worker a task: answered now if it is waiting in `TASK`, else when it asks.
   * A process that ran one job's code is never given another job's task.
   */
  assign(task: TaskContext): void {
    if (this.killed) throw new Error('cannot assign a task to a killed worker');
    if (this.task && !this.taskOver) throw new Error('worker is busy');
    if (this.job !== null && this.job !== task.spec.job)
      throw new Error(`worker of job ${this.job} cannot run job ${task.spec.job}`);
    this.job = task.spec.job;
    this.task = task;
    this.taskOver = false;
    this.throttle = new MsgThrottle();
    task.startedAt = Date.now();
    this.clearTimer('reuseTimer');
    if (this.taskRequested) {
      this.taskRequested = false;
      this.replyTask(task);
    }
  }

  /** SIGKILL the worker's process group; nothing more is reported about its task. */
  kill(): void {
    if (this.task && !this.taskOver) {
      this.taskOver = true;
      void this.task.outputs.abandon();
    }
    this.taskRequested = false;
    this.killed = true;
    // Whoever waits for last words must not wait for a process that is being killed.
    this.lastWords?.finish();
    this.clearTimers();
    killWorkerGroup(this.child);
  }

  // ------------------------------------------------------------------ input side

  private onData(chunk: Buffer): void {
    if (!this.gotOutput) {
      this.gotOutput = true;
      this.clearTimer('firstOutputTimer');
    }
    if (this.lastWords) {
      this.collectLastWords(chunk);
      return;
    }
    if (!this.decoding || this.killed) return;
    const arrival = Date.now();
    // Feed the decoder line by line: frames end with '\n', so frames completed before a
    // broken one are still handled (e.g. DONE followed by noise from an exiting process).
    let start = 0;
    while (start < chunk.length && this.decoding) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl < 0 ? chunk.length : nl + 1;
      let frames: ReturnType<FrameDecoder['push']>;
      try {
        frames = this.decoder.push(chunk.subarray(start, end));
      } catch (e) {
        this.decoding = false;
        if (e instanceof ProtocolError && /^invalid JSON/.test(e.message)) {
          this.enqueue({ kind: 'fatal', message: `Payload is not valid JSON: ${e.message}` });
        } else {
          this.startLastWords(Buffer.concat([this.decoder.pending, chunk.subarray(end)]));
          this.enqueue({ kind: 'garbage' });
        }
        break;
      }
      for (const f of frames) {
        let msg: WorkerMessage;
        try {
          msg = parseWorkerMessage(f);
        } catch (e) {
          this.decoding = false;
          this.enqueue({ kind: 'fatal', message: errorMessage(e) });
          break;
        }
        let delayMs = 0;
        if (msg.type === 'MSG' && this.task && !this.taskOver) {
          const verdict = this.throttle.push(arrival);
          if (verdict.kind === 'fatal') {
            // The flood is judged on arrival, ahead of the queued replies ("ignoring replies").
            this.decoding = false;
            this.abort('fatal', verdict.message);
            return;
          }
          if (verdict.kind === 'delay') delayMs = verdict.ms;
        }
        this.enqueue({ kind: 'message', msg, delayMs });
      }
      start = end;
    }
    this.updateStuckTimer();
  }

  private updateStuckTimer(): void {
    if (this.decoding && this.decoder.midMessage && !this.killed) {
      this.stuckTimer ??= setTimeout(
        () => this.abort('error', 'Worker stuck in the middle of a message'),
        this.timeouts.stuckMs,
      );
    } else {
      this.clearTimer('stuckTimer');
    }
  }

  private startLastWords(initial: Buffer): void {
    let finish = () => {};
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    this.lastWords = { chunks: [], size: 0, done, finish };
    this.clearTimer('stuckTimer');
    this.lastWordsTimer = setTimeout(finish, this.timeouts.lastWordsMs);
    this.collectLastWords(initial);
  }

  private collectLastWords(chunk: Buffer): void {
    const lw = this.lastWords!;
    const room = this.timeouts.lastWordsBytes - lw.size;
    if (room <= 0) return;
    const part = chunk.subarray(0, room);
    lw.chunks.push(part);
    lw.size += part.length;
    if (lw.size >= this.timeouts.lastWordsBytes) lw.finish();
  }

  private queueExit(status: string): void {
    if (this.exitQueued) return;
    this.exitQueued = true;
    this.clearTimers();
    this.lastWords?.finish();
    this.enqueue({ kind: 'exit', status });
  }

  // ------------------------------------------------------------------ handling

  private enqueue(item: Item): void {
    this.queue.push(item);
    if (this.queue.length > QUEUE_HIGH) this.child.stdout?.pause();
    void this.drain();
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queue.length > 0) {
        const item = this.queue.shift()!;
        if (this.queue.length < QUEUE_LOW && this.child.stdout?.isPaused()) this.child.stdout.resume();
        if (item.kind === 'exit') {
          this.onExit(item.status);
          continue;
        }
        if (this.killed) continue;
        try {
          await this.process(item);
        } catch (e) {
          this.abort('error', `Node failed to handle a worker message: ${errorMessage(e)}`);
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private async process(item: Exclude<Item, { kind: 'exit' }>): Promise<void> {
    switch (item.kind) {
      case 'fatal':
        this.abort('fatal', item.message);
        return;
      case 'garbage': {
        const lw = this.lastWords!;
        await lw.done;
        this.clearTimer('lastWordsTimer');
        const text = Buffer.concat(lw.chunks).toString('utf8');
        this.abort('error', `Worker died. Last words:\n${text}`);
        return;
      }
      case 'message':
        await this.handle(item.msg, item.delayMs);
    }
  }

  private async handle(msg: WorkerMessage, delayMs: number): Promise<void> {
    if (!this.handshakeDone) {
      if (msg.type !== 'WORKER')
        return this.abort('fatal', `Expected WORKER as the first message, got ${msg.type}`);
      if (msg.body.version !== '1.0')
        return this.abort('fatal', `Invalid worker version: ${JSON.stringify(msg.body.version)}`);
      this.handshakeDone = true;
      this.workerPid = msg.body.pid;
      this.reusable = msg.body.reuse === true;
      this.pipeline = msg.body.pipeline === true;
      this.reply('OK', this.pipeline ? PIPELINE_ACCEPTED : 'ok');
      return;
    }
    const task = this.task;
    if (msg.type === 'TASK') {
      if (task && !this.taskOver) {
        this.replyTask(task);
        return;
      }
      if (task && !this.reusable) return this.kill();
      // A generic pre-started worker, or a reusable one after DONE: it waits for work.
      this.task = null;
      this.taskRequested = true;
      this.clearTimer('reuseTimer');
      this.listener.idle(this);
      return;
    }
    // Without a live task there is nobody to answer for (and after the end, never answer).
    if (!task || this.taskOver) return this.kill();
    const where = `[${task.spec.mode}:${task.spec.taskid}]`;
    switch (msg.type) {
      case 'WORKER':
        return this.abort('fatal', 'Worker sent WORKER twice');
      case 'MSG':
        this.listener.event(task, `MSG: ${where} ${msg.body}`);
        // A pipeline worker waits for no reply (it paces itself; a flood is still fatal).
        if (this.pipeline) return;
        if (delayMs > 0) await sleep(delayMs);
        if (this.task === task && !this.taskOver) this.reply('OK', 'ok');
        return;
      case 'INPUT':
        this.reply('INPUT', task.inputs.reply(msg.body));
        return;
      case 'INPUT_ERR': {
        const r = task.inputs.fail(msg.body[0], msg.body[1]);
        if (!r) return this.abort('fatal', `INPUT_ERR for unknown input ${msg.body[0]}`);
        this.reply(r.type, r.body);
        return;
      }
      case 'OUTPUT':
        try {
          await task.outputs.add(msg.body);
        } catch (e) {
          if (e instanceof OutputRefused) return this.abort('fatal', e.message);
          return this.abort('error', `Writing the results file failed: ${errorMessage(e)}`);
        }
        if (this.task === task && !this.taskOver && !this.pipeline) this.reply('OK', 'ok');
        return;
      case 'PING':
        this.reply('OK', 'pong');
        return;
      case 'DONE':
        return this.finish(task, where);
      case 'ERROR':
        return this.abort('error', msg.body);
      case 'FATAL':
        return this.abort('fatal', msg.body);
    }
  }

  private async finish(task: TaskContext, where: string): Promise<void> {
    this.taskOver = true;
    let results: string[];
    try {
      results = await task.outputs.close();
    } catch (e) {
      this.listener.failed(task, 'error', `Closing the results file failed: ${errorMessage(e)}`);
      this.kill();
      return;
    }
    if (this.killed) return;
    const ms = Date.now() - task.startedAt;
    // Armed first: the listener may hand this worker its next task at once (assign clears it).
    if (this.reusable) this.reuseTimer = setTimeout(() => this.kill(), this.timeouts.reuseWaitMs);
    this.listener.event(task, `DONE: ${where} Task finished in ${formatDuration(ms)}`);
    this.listener.done(task, results, ms);
    if (!this.reusable) this.kill();
  }

  /** End the current task (if any) with a failure, then kill the worker. */
  private abort(kind: 'error' | 'fatal', message: string): void {
    if (this.killed) return;
    const task = this.task;
    if (task && !this.taskOver) {
      this.taskOver = true;
      void task.outputs.abandon();
      this.listener.failed(task, kind, message);
    }
    this.kill();
  }

  private onExit(status: string): void {
    const task = this.task;
    if (task && !this.taskOver && !this.killed) {
      this.taskOver = true;
      void task.outputs.abandon();
      const tail = this.decoder.pending.subarray(-CRASH_TAIL_BYTES).toString('utf8');
      const msg = `Worker crashed! (exit code: ${status})${tail.trim() ? `\nLast output:\n${tail}` : ''}`;
      this.listener.failed(task, 'error', msg);
    }
    this.killed = true;
    this.taskRequested = false;
    this.clearTimers();
    this.listener.gone(this);
  }

  // ------------------------------------------------------------------ output side

  private reply(type: string, body: unknown): void {
    this.write(encodeFrame(type, body));
  }

  /** The TASK reply; for a pipeline worker followed by its `INPUT ""` reply, in one write. */
  private replyTask(task: TaskContext): void {
    const frame = encodeFrame('TASK', task.info);
    this.write(this.pipeline ? Buffer.concat([frame, encodeFrame('INPUT', task.inputs.reply(''))]) : frame);
  }

  private write(bytes: Buffer): void {
    const stdin = this.child.stdin;
    if (this.killed || !stdin || stdin.destroyed) return;
    stdin.write(bytes);
  }

  private clearTimer(name: 'firstOutputTimer' | 'stuckTimer' | 'reuseTimer' | 'lastWordsTimer'): void {
    const t = this[name];
    if (t) clearTimeout(t);
    this[name] = null;
  }

  private clearTimers(): void {
    this.clearTimer('firstOutputTimer');
    this.clearTimer('stuckTimer');
    this.clearTimer('reuseTimer');
    this.clearTimer('lastWordsTimer');
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
