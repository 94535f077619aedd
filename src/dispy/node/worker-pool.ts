/**
 * Worker processes of a dispynode for function computations.
 *
 * A worker starts generic (pre-started, so process start-up stays off the job path), is then
 * bound to one computation for the rest of its life (`load`), and runs that computation's jobs
 * one at a time. Isolation invariant: a process that ran computation A's code only ever runs
 * A's jobs; it is killed when A closes, when a job is cancelled on it, or when a job tainted
 * its built-ins.
 *
 * Concurrency: owned by the node daemon; all calls come from its event loop.
 *
 * @example
 * const pool = new WorkerPool({ script, env, prestart: 2, log });
 * const w = await pool.loaded(comp.id, loadMsg);
 * w.run(jobMsg, (reply) => ...);
 */
import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { PACKAGE_ROOT } from '../../common/settings.js';
import { type FromWorker, FromWorkerSchema, type ToWorker } from '../protocol/worker-protocol.js';
import { terminateProcess } from './terminate.js';

export type WorkerState = 'starting' | 'generic' | 'loading' | 'idle' | 'busy' | 'dead';

/** Default location of the worker script: the built bundle. */
export function defaultWorkerScript(): string {
  return path.join(PACKAGE_ROOT, 'dist', 'dispy-worker.js');
}

export class WorkerHandle {
  state: WorkerState = 'starting';
  computeId: string | null = null;
  /** uid of the job it runs. */
  jobUid: number | null = null;
  /** uid of the job sent ahead, waiting in the worker until its current job ends. */
  nextUid: number | null = null;
  /** Set when the node stops this worker on purpose (cancel, close). */
  stopping = false;
  private listeners: ((m: FromWorker) => void)[] = [];
  private exitListeners: ((code: number | null, signal: string | null) => void)[] = [];
  private readyWaiters: ((ok: boolean) => void)[] = [];

  constructor(
    readonly proc: ChildProcess,
    log: Logger,
  ) {
    proc.on('message', (raw) => {
      const parsed = FromWorkerSchema.safeParse(raw);
      if (!parsed.success) {
        log.warn({ pid: proc.pid }, `invalid message from worker: ${parsed.error.message}`);
        return;
      }
      const m = parsed.data;
      if (m.t === 'ready') {
        this.state = 'generic';
        for (const w of this.readyWaiters.splice(0)) w(true);
        return;
      }
      for (const l of [...this.listeners]) l(m);
    });
    // 'close' (not 'exit'): every IPC message the worker sent has been delivered by then.
    proc.on('close', (code, signal) => {
      this.state = 'dead';
      for (const w of this.readyWaiters.splice(0)) w(false);
      for (const l of this.exitListeners.splice(0)) l(code, signal);
    });
    proc.on('error', (e) => log.warn({ pid: proc.pid }, `worker process error: ${e.message}`));
    const relay = (stream: NodeJS.ReadableStream | null, level: 'info' | 'warn') =>
      stream?.on('data', (d: Buffer) => log[level]({ pid: proc.pid }, `worker: ${d.toString().trimEnd()}`));
    relay(proc.stdout, 'info');
    relay(proc.stderr, 'warn');
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  send(msg: ToWorker): void {
    if (this.state === 'dead' || !this.proc.connected) return;
    this.proc.send(msg);
  }

  on(fn: (m: FromWorker) => void): () => void {
    this.listeners.push(fn);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== fn);
    };
  }

  onExit(fn: (code: number | null, signal: string | null) => void): void {
    if (this.state === 'dead') queueMicrotask(() => fn(this.proc.exitCode, this.proc.signalCode));
    else this.exitListeners.push(fn);
  }

  /** Resolves true once the worker said `ready` (false if it died first). */
  ready(): Promise<boolean> {
    if (this.state !== 'starting') return Promise.resolve(this.state !== 'dead');
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  /** Wait for one message of type `t` (or the worker's death). */
  next<T extends FromWorker['t']>(t: T): Promise<Extract<FromWorker, { t: T }> | null> {
    return new Promise((resolve) => {
      let off = () => {};
      const onExit = () => {
        off();
        resolve(null);
      };
      off = this.on((m) => {
        if (m.t !== t) return;
        off();
        resolve(m as Extract<FromWorker, { t: T }>);
      });
      this.onExit(onExit);
    });
  }

  /** SIGINT → SIGTERM → SIGKILL; resolves when it has exited. */
  stop(graceMs: number): Promise<void> {
    this.stopping = true;
    if (this.state === 'dead') return Promise.resolve();
    return terminateProcess(this.proc, { graceMs });
  }
}

export interface WorkerPoolOptions {
  script: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  log: Logger;
  graceMs: number;
}

export class WorkerPool {
  readonly all = new Set<WorkerHandle>();
  private closed = false;

  constructor(private readonly opts: WorkerPoolOptions) {
    if (!existsSync(opts.script)) {
      throw new Error(`dispy worker script ${opts.script} not found (run \`npm run build\`)`);
    }
  }

  /** Start a generic worker. */
  spawn(): WorkerHandle {
    const proc = fork(this.opts.script, [], {
      cwd: this.opts.cwd,
      env: this.opts.env,
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      execArgv: ['--no-warnings', '--enable-source-maps'],
    });
    const w = new WorkerHandle(proc, this.opts.log);
    this.all.add(w);
    w.onExit(() => this.all.delete(w));
    return w;
  }

  /** Keep `n` generic workers (started or starting) around. */
  prestart(n: number): void {
    if (this.closed) return;
    let generic = 0;
    for (const w of this.all) if (w.computeId === null && w.state !== 'dead') generic++;
    for (; generic < n; generic++) this.spawn();
  }

  /** A generic worker (pre-started if possible), waiting until it is ready. */
  async takeGeneric(): Promise<WorkerHandle> {
    for (const w of this.all) {
      if (w.computeId === null && (w.state === 'generic' || w.state === 'starting')) {
        w.computeId = '(reserved)';
        if (await w.ready()) return w;
      }
    }
    const w = this.spawn();
    w.computeId = '(reserved)';
    if (!(await w.ready())) throw new Error('a dispy worker process failed to start');
    return w;
  }

  /** Load `msg`'s computation into a fresh worker; resolves with the idle, loaded worker. */
  async load(msg: Extract<ToWorker, { t: 'load' }>): Promise<WorkerHandle> {
    const w = await this.takeGeneric();
    w.computeId = msg.computeId;
    w.state = 'loading';
    const reply = w.next('loaded');
    w.send(msg);
    const r = await reply;
    if (!r?.ok) {
      void w.stop(this.opts.graceMs);
      throw new Error(r?.error ?? 'the worker died while loading the computation');
    }
    w.state = 'idle';
    return w;
  }

  /** Workers bound to a computation. */
  of(computeId: string): WorkerHandle[] {
    return [...this.all].filter((w) => w.computeId === computeId && w.state !== 'dead');
  }

  /** Stop every worker of a computation. */
  async retire(computeId: string): Promise<void> {
    await Promise.all(this.of(computeId).map((w) => w.stop(this.opts.graceMs)));
  }

  /** Stop everything (node shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.all].map((w) => w.stop(this.opts.graceMs)));
  }

  pids(): number[] {
    return [...this.all].map((w) => w.pid).filter((p): p is number => p !== undefined);
  }
}
