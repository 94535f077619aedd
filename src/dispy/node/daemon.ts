/**
 * dispynode: the daemon that runs jobs of dispy computations on one machine.
 *
 * It serves one client program at a time (a `JobCluster` process or a `dispyscheduler`), which
 * may have several computations here. For each computation it keeps a directory with the
 * transferred files, runs `setup` once, then runs jobs — function jobs in reused worker
 * processes (see `worker-pool.ts`, each job in a fresh scope), program jobs as child
 * processes — never more at once than its CPUs. Results go back on the client's connection
 * and stay here until the client acknowledges them: if the client vanishes, they are written
 * to disk and handed over later (`recover`, used by reconnecting clients and
 * `faultRecoverJobs`). A computation whose client stays away for `zombieInterval` minutes is
 * cleaned up.
 *
 * Parts (each gets what it uses, not the daemon): `client-sessions.ts` (connections and their
 * requests), `computation-lifecycle.ts` (compute, setup, CPUs, close and cleanup),
 * `job-runner.ts` (the job queue, running jobs, worker messages, results), `recovery.ts`
 * (clients that went away, `recover`, acknowledgements, zombies), `file-transfer.ts` (files
 * from the client and `dispySendFile`), `occupancy.ts` (which client holds the node, `--serve`),
 * `announcer.ts` (UDP discovery), with the shared records in `computation.ts` and
 * `session.ts`. This file wires them, checks for a previous node at start-up, keeps the state
 * file and stops the node.
 *
 * Concurrency: one event loop owns all state. Invariants: the runner's `running` = number of
 * jobs in state `running` ≤ `cpus`; a computation's running jobs ≤ its allotted CPUs; a job is
 * in exactly one of the queue (waiting) or running, and its result is delivered once per
 * connection and kept until acknowledged.
 *
 * @example
 * const node = new DispyNodeDaemon({ ipAddr: '127.0.0.1', nodePort: 0, cpus: 2, secret: 's' });
 * await node.start();
 * console.log(node.port);
 * await node.stop();
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Logger, pino } from 'pino';
import { isAlive } from '../../common/process-alive.js';
import { primaryAddress } from '../discovery/addresses.js';
import type { NodeInfo } from '../protocol/messages.js';
import { type Listener, listen } from '../protocol/transport.js';
import { NodeAnnouncer } from './announcer.js';
import { ClientSessions } from './client-sessions.js';
import type { NodeComp } from './computation.js';
import { ComputationLifecycle } from './computation-lifecycle.js';
import { FileTransfer } from './file-transfer.js';
import { JobRunner } from './job-runner.js';
import { Occupancy } from './occupancy.js';
import { type NodeOptions, nodeRoot, type ResolvedNodeOptions, resolveNodeOptions } from './options.js';
import { Recovery } from './recovery.js';
import { killLeftovers, readStateFile, writeStateFile } from './state-file.js';
import { defaultWorkerScript, WorkerPool } from './worker-pool.js';

/** A running dispynode. */
export class DispyNodeDaemon {
  readonly opts: ResolvedNodeOptions;
  /** Changes at every start: clients can tell a restarted node from a reconnected one. */
  readonly instance = randomBytes(8).toString('hex');
  readonly root: string;
  readonly log: Logger;
  private listener: Listener | null = null;
  private pool: WorkerPool | null = null;
  private readonly comps = new Map<string, NodeComp>();
  private readonly occupancy: Occupancy;
  private readonly runner: JobRunner;
  private readonly lifecycle: ComputationLifecycle;
  private readonly sessions: ClientSessions;
  private readonly announcer: NodeAnnouncer;
  private stateFile = '';
  private stateTimer: NodeJS.Timeout | null = null;
  private stopping: Promise<void> | null = null;
  private readonly stopWaiters: (() => void)[] = [];
  private hasStopped = false;

  constructor(options: NodeOptions = {}, log?: Logger) {
    this.opts = resolveNodeOptions(options);
    this.root = nodeRoot(this.opts.destPathPrefix);
    this.log = log ?? pino({ name: 'dispynode', level: 'silent' });
    const o = this.opts;
    const ipAddr = () => this.ipAddr;
    const pool = () => this.pool;
    const isStopping = () => this.stopping !== null;
    const files = new FileTransfer({ maxFileSize: o.maxFileSize });
    this.occupancy = new Occupancy({
      comps: this.comps,
      serve: o.serve,
      log: this.log,
      stop: () => void this.stop(),
    });
    const occupancy = this.occupancy;
    this.runner = new JobRunner({
      options: o,
      ipAddr,
      pool,
      saveState: () => this.saveState(),
      isStopping,
      log: this.log,
      sendFile: (comp, w, m) => void files.sendFromJob(comp, w, m),
      checkFree: () => occupancy.checkFree(),
    });
    const runner = this.runner;
    this.lifecycle = new ComputationLifecycle({
      comps: this.comps,
      options: o,
      ipAddr,
      root: this.root,
      pool,
      runner,
      occupancy,
      isStopping,
      log: this.log,
    });
    const lifecycle = this.lifecycle;
    const recovery = new Recovery({
      comps: this.comps,
      zombieInterval: o.zombieInterval,
      busy: () => runner.running,
      closeComputation: (comp, terminate) => lifecycle.close(comp, terminate),
      log: this.log,
    });
    this.sessions = new ClientSessions({
      comps: this.comps,
      lifecycle,
      runner,
      recovery,
      files,
      occupancy,
      info: () => this.info(),
      log: this.log,
    });
    this.announcer = new NodeAnnouncer({
      options: o,
      port: () => this.port,
      ipAddr,
      holder: () => occupancy.holder(),
      log: this.log,
    });
  }

  /** The TCP port served (useful with `nodePort: 0`). */
  get port(): number {
    return this.listener?.port ?? 0;
  }

  /** The address clients should use for this node. */
  get ipAddr(): string {
    const bound = this.opts.ipAddr && this.opts.ipAddr !== '0.0.0.0' ? this.opts.ipAddr : undefined;
    return this.opts.extIpAddr ?? bound ?? primaryAddress();
  }

  /** What the node tells clients about itself. */
  info(): NodeInfo {
    return {
      instance: this.instance,
      name: this.opts.name,
      ipAddr: this.ipAddr,
      port: this.port,
      cpus: this.opts.cpus,
      availCpus: this.opts.cpus - this.runner.running,
      platform: `${os.platform()}-${os.arch()} node ${process.version}`,
      busyWith: this.occupancy.holder() ?? '',
      maxFileSize: this.opts.maxFileSize,
    };
  }

  async start(): Promise<void> {
    if (this.opts.serve === 0) throw new Error('--serve 0: nothing to serve');
    await fs.mkdir(this.root, { recursive: true });
    this.stateFile = path.join(this.root, `dispynode-${this.opts.nodePort}.json`);
    await this.checkPrevious();
    this.pool = new WorkerPool({
      script: this.opts.workerScript || defaultWorkerScript(),
      env: { ...process.env },
      cwd: this.root,
      log: this.log,
      graceMs: this.opts.cancelGrace * 1000,
    });
    this.pool.prestart(this.opts.cpus);
    this.listener = await listen({
      host: this.opts.ipAddr,
      port: this.opts.nodePort,
      secret: this.opts.secret,
      role: 'node',
      name: this.opts.name,
      certfile: this.opts.certfile,
      keyfile: this.opts.keyfile,
      info: () => this.info(),
      onConnection: (conn, peer) => this.sessions.onConnection(conn, peer),
      onRefused: (addr, reason) => this.log.warn(`refused connection from ${addr}: ${reason}`),
    });
    if (this.opts.nodePort === 0) {
      this.stateFile = path.join(this.root, `dispynode-${this.port}.json`);
    }
    this.saveState();
    if (this.opts.discovery) await this.announcer.start();
    this.log.info(
      `dispynode ${this.opts.name} serving ${this.ipAddr}:${this.port} with ${this.opts.cpus} CPUs`,
    );
  }

  /** Resolves when the node has stopped (e.g. after `--serve` clients). */
  stopped(): Promise<void> {
    if (this.hasStopped) return Promise.resolve();
    return new Promise((resolve) => this.stopWaiters.push(resolve));
  }

  /** Stop: running jobs are terminated, clients told, workers stopped. */
  stop(): Promise<void> {
    if (!this.stopping) this.stopping = this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.announcer.close();
    const listenerClosed = this.listener?.close();
    for (const comp of this.comps.values()) {
      comp.session?.conn.send({
        t: 'closed',
        computeId: comp.spec.computeId,
        reason: 'the node is shutting down',
      });
    }
    const waits: Promise<void>[] = this.runner.terminatePrograms();
    waits.push(this.pool?.close() ?? Promise.resolve());
    await Promise.all(waits);
    for (const comp of this.comps.values()) {
      if (comp.zombieTimer) clearTimeout(comp.zombieTimer);
      await comp.files.close();
    }
    this.sessions.closeAll();
    await listenerClosed;
    if (this.stateTimer) clearTimeout(this.stateTimer);
    await fs.rm(this.stateFile, { force: true });
    this.hasStopped = true;
    for (const w of this.stopWaiters.splice(0)) w();
  }

  /** A state file left by a node that did not stop cleanly: refuse to start, or (`--clean`) kill its leftovers. */
  private async checkPrevious(): Promise<void> {
    const prev = readStateFile(this.stateFile);
    if (!prev) return;
    if (prev.pid !== process.pid && isAlive(prev.pid)) {
      throw new Error(
        `another dispynode (pid ${prev.pid}) serves port ${this.opts.nodePort} with ${this.root}; stop it first`,
      );
    }
    if (!this.opts.clean) {
      throw new Error(
        `a previous dispynode (pid ${prev.pid}) did not shut down cleanly (${this.stateFile}); ` +
          `start with --clean to kill its leftover processes and delete its files`,
      );
    }
    const killed = killLeftovers(prev);
    if (killed.length) this.log.warn(`--clean: killed leftover processes ${killed.join(', ')}`);
    for (const e of await fs.readdir(this.root))
      await fs.rm(path.join(this.root, e), { recursive: true, force: true });
  }

  /** Record the node's processes (soon, coalesced), so a later `--clean` start can kill leftovers. */
  private saveState(): void {
    if (this.stateTimer) return;
    this.stateTimer = setTimeout(() => {
      this.stateTimer = null;
      if (this.stopping) return;
      writeStateFile(this.stateFile, {
        pid: process.pid,
        instance: this.instance,
        root: this.root,
        workers: this.pool?.pids() ?? [],
        programs: this.runner.programPids(),
      });
    }, 50);
  }
}

/** Start a node (convenience for tests and embedding). */
export async function startDispyNode(opts: NodeOptions = {}, log?: Logger): Promise<DispyNodeDaemon> {
  const n = new DispyNodeDaemon(opts, log);
  await n.start();
  return n;
}
