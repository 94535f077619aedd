/**
 * Computations on a dispynode from arrival to clean-up: `compute` (CPUs allotted, a directory
 * made, files already there reported), `setup` (once all files are in: the computation's
 * `setup` runs in a worker, workers are warmed for all allotted CPUs, jobs may start), CPU
 * changes, and closing (jobs waited for or stopped, `cleanup` run, files deleted).
 *
 * A node serves one client at a time: a computation from another client is refused while the
 * node is held (idle leftovers of clients that went away are closed to make room).
 *
 * @example
 * const lifecycle = new ComputationLifecycle({ comps, options, root, pool: () => pool, runner, occupancy, isStopping, log });
 * await lifecycle.compute(session, computeMessage);
 * await lifecycle.setup(comp, setupMessage);
 * await lifecycle.close(comp, false);
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { safeJoin } from '../../common/fs-atomic.js';
import type { HandlerResult } from '../protocol/connection.js';
import { ReplyError } from '../protocol/connection.js';
import type { MessageOf } from '../protocol/messages.js';
import { type NodeComp, workerLoadMessage } from './computation.js';
import { FileSink } from './file-sink.js';
import type { JobRunner } from './job-runner.js';
import type { Occupancy } from './occupancy.js';
import type { ResolvedNodeOptions } from './options.js';
import { ResultStore } from './result-store.js';
import { type Session, startPulses } from './session.js';
import type { WorkerPool } from './worker-pool.js';

export interface ComputationLifecycleDeps {
  /** Every computation; `compute` adds to it, `close` removes from it. */
  comps: Map<string, NodeComp>;
  options: Pick<ResolvedNodeOptions, 'cpus' | 'maxFileSize' | 'maxOutput' | 'name'>;
  /** The node's address, as workers report it. */
  ipAddr: () => string;
  /** Where clients' directories go. */
  root: string;
  /** The worker pool (made when the node starts). */
  pool: () => WorkerPool | null;
  runner: JobRunner;
  occupancy: Occupancy;
  isStopping: () => boolean;
  log: Logger;
}

export class ComputationLifecycle {
  private readonly comps: Map<string, NodeComp>;
  private readonly runner: JobRunner;
  private readonly log: Logger;

  constructor(private readonly deps: ComputationLifecycleDeps) {
    this.comps = deps.comps;
    this.runner = deps.runner;
    this.log = deps.log;
  }

  /** A computation from the session's client: CPUs allotted, its directory made. */
  async compute(s: Session, m: MessageOf<'compute'>): Promise<HandlerResult> {
    if (this.deps.isStopping()) throw new ReplyError('the node is shutting down', 'busy');
    const { options, occupancy } = this.deps;
    const spec = m.spec;
    const holder = occupancy.holder();
    if (holder !== null && holder !== s.clientId) {
      throw new ReplyError(`node ${options.name} is busy with another client`, 'busy');
    }
    if (this.comps.has(spec.computeId)) throw new ReplyError(`computation ${spec.computeId} exists already`);
    // Idle leftovers of clients that went away make room for the new client.
    for (const c of [...this.comps.values()]) {
      if (c.clientId !== s.clientId && !c.session && c.jobs.size === 0 && c.unacked.size === 0) {
        await this.close(c, true);
      }
    }
    const cpus = this.allot(m.cpus);
    const clientDir = safeJoin(this.deps.root, sanitize(`client-${s.address}`))!;
    let dir: string;
    let ownDir = true;
    if (spec.destPath) {
      const d = safeJoin(clientDir, spec.destPath.replace(/^\/+/, ''));
      if (!d) throw new ReplyError(`invalid destPath ${spec.destPath}`);
      dir = d;
      ownDir = false;
      await fs.mkdir(dir, { recursive: true });
    } else {
      await fs.mkdir(clientDir, { recursive: true });
      dir = await fs.mkdtemp(path.join(clientDir, `${sanitize(spec.computeId).slice(0, 24)}_`));
    }
    if (options.maxFileSize > 0) {
      const big = spec.files.find((f) => f.size > options.maxFileSize);
      if (big) {
        if (ownDir) await fs.rm(dir, { recursive: true, force: true });
        throw new ReplyError(
          `file ${big.path} (${big.size} bytes) exceeds the node's max_file_size of ${options.maxFileSize} bytes`,
        );
      }
    }
    const have: string[] = [];
    for (const f of spec.files) {
      const p = safeJoin(dir, f.path);
      if (!p) throw new ReplyError(`invalid file path ${f.path}`);
      const st = await fs.stat(p).catch(() => null);
      if (st?.isFile() && st.size === f.size && Math.abs(st.mtimeMs - f.mtimeMs) < 1000) have.push(f.path);
    }
    const comp: NodeComp = {
      spec,
      clientId: s.clientId,
      dir,
      ownDir,
      session: s,
      cpus,
      running: 0,
      state: 'files',
      setupArgs: undefined,
      shared: spec.data ? [spec.data] : [],
      setupWorker: null,
      idle: [],
      loading: 0,
      jobs: new Map(),
      unacked: new Map(),
      stored: new ResultStore(path.join(dir, '.dispy-results'), this.log),
      files: new FileSink(dir, options.maxFileSize),
      zombieTimer: null,
      jobsDone: 0,
      cpuTime: 0,
      idleWaiters: [],
    };
    this.comps.set(spec.computeId, comp);
    s.comps.add(spec.computeId);
    occupancy.markBusy();
    startPulses(s, spec.pulseInterval, () => this.runner.running);
    this.log.info(`computation ${spec.name} (${spec.computeId}) from ${s.address}: ${cpus} CPUs, dir ${dir}`);
    return { cpus, have, dir };
  }

  /** All files are in: run the computation's `setup`, warm its workers, let its jobs start. */
  async setup(comp: NodeComp, m: MessageOf<'setup'>): Promise<HandlerResult> {
    if (comp.state !== 'files') throw new ReplyError('setup was done already');
    if (comp.files.incomplete.length > 0) {
      throw new ReplyError(`files incomplete: ${comp.files.incomplete.join(', ')}`);
    }
    comp.state = 'setup';
    comp.setupArgs = m.setupArgs;
    try {
      if (comp.spec.kind === 'program') {
        const prog = safeJoin(comp.dir, comp.spec.entry);
        if (!prog || !existsSync(prog)) throw new Error(`program ${comp.spec.entry} was not transferred`);
      } else {
        if (comp.spec.setup) {
          const w = await this.runner.loadWorker(comp);
          const reply = w.next('setupDone');
          w.send({ t: 'setup', fn: comp.spec.setup, ...(m.setupArgs ? { args: m.setupArgs } : {}) });
          const r = await reply;
          if (!r?.ok)
            throw new Error(
              `setup failed on node ${this.deps.options.name}: ${r?.error ?? 'the worker died'}`,
            );
          if (r.globals) comp.shared = [...comp.shared, r.globals];
          comp.setupWorker = w;
          comp.idle.push(w);
        }
        // Warm workers for all allotted CPUs, so the first jobs do not wait for processes.
        const more: Promise<void>[] = [];
        for (let i = comp.idle.length; i < comp.cpus; i++) more.push(this.runner.addWorker(comp));
        await Promise.all(more);
        if (comp.idle.length === 0) throw new Error('no worker process could load the computation');
      }
    } catch (e) {
      const msg = (e as Error).message;
      void this.close(comp, true);
      throw new ReplyError(msg, 'setup');
    }
    comp.state = 'ready';
    this.runner.pump();
    return {};
  }

  /** The client changes the computation's CPUs (`requested` ≤ 0: all but that many). */
  setCpus(comp: NodeComp, requested: number): HandlerResult {
    comp.cpus = this.allot(requested);
    this.runner.pump();
    return { cpus: comp.cpus };
  }

  /** Close a computation: stop or wait for its jobs, run cleanup, delete its files. */
  async close(comp: NodeComp, terminate: boolean): Promise<void> {
    if (comp.state === 'closed') return;
    if (comp.state === 'closing') {
      if (terminate)
        for (const j of [...comp.jobs.values()])
          this.runner.stopJob(j, 'Terminated: the computation was closed');
      await new Promise<void>((r) => (comp.jobs.size === 0 ? r() : comp.idleWaiters.push(r)));
      return;
    }
    comp.state = 'closing';
    if (comp.zombieTimer) clearTimeout(comp.zombieTimer);
    if (terminate) {
      for (const j of [...comp.jobs.values()])
        this.runner.stopJob(j, 'Terminated: the computation was closed');
    }
    if (comp.jobs.size > 0) await new Promise<void>((r) => comp.idleWaiters.push(r));
    await comp.files.close();
    await comp.stored.settled();
    if (comp.spec.cleanupFn && comp.spec.kind === 'function' && !this.deps.isStopping()) {
      try {
        const { name, maxOutput } = this.deps.options;
        const w =
          comp.setupWorker?.state === 'idle'
            ? comp.setupWorker
            : await this.deps
                .pool()!
                .load(workerLoadMessage(comp, { name, ipAddr: this.deps.ipAddr(), maxOutput }));
        const reply = w.next('cleanupDone');
        w.send({
          t: 'cleanup',
          fn: comp.spec.cleanupFn,
          ...(comp.setupArgs ? { args: comp.setupArgs } : {}),
        });
        const r = await reply;
        if (!r?.ok) this.log.warn(`cleanup of ${comp.spec.name} failed: ${r?.error ?? 'worker died'}`);
      } catch (e) {
        this.log.warn(`cleanup of ${comp.spec.name} failed: ${(e as Error).message}`);
      }
    }
    await this.deps.pool()?.retire(comp.spec.computeId);
    comp.idle = [];
    if (comp.spec.cleanup) {
      if (comp.ownDir) await fs.rm(comp.dir, { recursive: true, force: true });
      else {
        for (const f of comp.spec.files) {
          const p = safeJoin(comp.dir, f.path);
          if (p) await fs.rm(p, { force: true });
        }
        await fs.rm(path.join(comp.dir, '.dispy-results'), { recursive: true, force: true });
      }
    }
    comp.state = 'closed';
    this.comps.delete(comp.spec.computeId);
    comp.session?.comps.delete(comp.spec.computeId);
    this.log.info(`computation ${comp.spec.name} (${comp.spec.computeId}) closed`);
    if (!this.deps.isStopping())
      this.deps.pool()?.prestart(Math.max(0, this.deps.options.cpus - this.loadedWorkers()));
    this.deps.occupancy.checkFree();
  }

  private allot(requested: number): number {
    const { cpus } = this.deps.options;
    const n = requested > 0 ? Math.min(requested, cpus) : cpus + requested;
    if (n <= 0) throw new ReplyError(`no CPUs left for the computation (asked ${requested} of ${cpus})`);
    return n;
  }

  private loadedWorkers(): number {
    let n = 0;
    for (const c of this.comps.values()) n += this.deps.pool()!.of(c.spec.computeId).length;
    return n;
  }
}

function sanitize(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]/g, '_');
}
