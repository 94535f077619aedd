/**
 * dispyscheduler: shares nodes between several client programs (`SharedJobCluster`s). To
 * nodes it is one client (one identity, so all its computations may use a node at once); to
 * clients it is what nodes are to a `JobCluster`: it receives computations, files and jobs,
 * and sends back results, provisional results, files and pulses. Which job runs where is
 * decided by the pure {@link SchedulerState} with the chosen policy.
 *
 * Separate secrets and TLS material for the node side and the client side. Results are kept
 * until the client acknowledges them (and only then acknowledged to the node, so a node keeps
 * each result until the client has it); a client that vanished gets them with `recover`
 * (reconnecting `SharedJobCluster` or `faultRecoverJobs`); after `zombieInterval` minutes its
 * computations are closed. Results the client is not there to take are written to disk.
 *
 * Restarts: each computation's record, files and undelivered results live under
 * `<destPathPrefix>/dispy/scheduler/<computeId>/` (see `cluster-record.ts`). A scheduler that
 * stops (or crashes) and starts again without `--clean` restores its computations, reconnects
 * to their nodes (collecting results of jobs that finished meanwhile and adopting jobs still
 * running) and serves the clients when they reconnect.
 *
 * `exclusive` computations run only while no other computation runs, and keep others waiting
 * while they run; waiting computations are admitted first come, first served.
 *
 * Parts (each gets what it uses, not the daemon): `client-side.ts` (client connections and
 * requests, zombies), `node-side.ts` (links to nodes, dispatch, node results and deaths),
 * `node-directory.ts` (finding nodes), `admission.ts` (`exclusive` rules), `result-delivery.ts`
 * (results kept until acknowledged), `persistence.ts` + `cluster-record.ts` (records on disk,
 * restore), `file-transfer-relay.ts` (`dispySendFile` through the scheduler), `computation.ts`
 * (the in-memory computation), `monitor-view.ts`. This file wires them and closes computations.
 *
 * Concurrency: one event loop owns all state; the scheduler state ({@link SchedulerState}) and
 * the computations map are changed only by these parts, never from elsewhere.
 *
 * @example
 * const s = new DispyScheduler({ nodes: ['127.0.0.1:51348'], port: 0, ipAddr: '127.0.0.1' });
 * await s.start();
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Logger, pino } from 'pino';
import { newId } from '../client/identity.js';
import type { MonitorCluster } from '../monitor/model.js';
import { type Listener, listen } from '../protocol/transport.js';
import { Admission } from './admission.js';
import { ClientSide } from './client-side.js';
import { schedulerIdentity } from './cluster-record.js';
import { type ComputationSettings, jobKey, type SchedCluster, uidOfKey } from './computation.js';
import { FileTransferRelay } from './file-transfer-relay.js';
import { monitorView } from './monitor-view.js';
import { NodeDirectory } from './node-directory.js';
import { NodeSide } from './node-side.js';
import { type ResolvedSchedulerOptions, resolveSchedulerOptions, type SchedulerOptions } from './options.js';
import { loadSavedComputations } from './persistence.js';
import { SchedulerState } from './policy.js';
import { storeUnacked } from './result-delivery.js';

export type { SchedulerOptions } from './options.js';

export class DispyScheduler {
  readonly log: Logger;
  private readonly o: ResolvedSchedulerOptions;
  /** Identity toward nodes (kept across restarts under the root). */
  private id = `scheduler-${newId(8)}`;
  private readonly sched: SchedulerState;
  private listener: Listener | null = null;
  private readonly computations = new Map<string, SchedCluster>();
  private readonly settings: ComputationSettings;
  private readonly directory: NodeDirectory;
  private readonly nodeSide: NodeSide;
  private readonly admission: Admission;
  private readonly clients: ClientSide;
  private timers: NodeJS.Timeout[] = [];
  private readonly root: string;
  private stopping = false;
  private readonly clean: boolean;

  constructor(opts: SchedulerOptions = {}) {
    this.clean = opts.clean ?? false;
    this.o = resolveSchedulerOptions(opts);
    this.log = opts.log ?? pino({ name: 'dispyscheduler', level: 'silent' });
    this.sched = new SchedulerState(this.o.policy);
    this.root = path.join(this.o.destPathPrefix, 'dispy', 'scheduler');
    this.settings = {
      pulseInterval: this.o.pulseInterval,
      cleanupNodes: this.o.cleanupNodes,
      maxFileSize: this.o.maxFileSize,
      log: this.log,
    };
    const identity = () => this.id;
    const isStopping = () => this.stopping;
    const xfers = new FileTransferRelay();
    this.directory = new NodeDirectory(this.o, {
      identity,
      isStopping,
      onFound: (n) => this.nodeSide.attachAll(n),
      log: this.log,
    });
    this.nodeSide = new NodeSide({
      sched: this.sched,
      computations: this.computations,
      directory: this.directory,
      xfers,
      options: this.o,
      identity,
      isStopping,
      log: this.log,
    });
    this.admission = new Admission({
      computations: () => this.computations.values(),
      onAdmitted: (c) => {
        if (c.toldWaiting) c.session?.conn.send({ t: 'scheduled', computeId: c.computeId });
        this.nodeSide.useNodesFor(c);
      },
    });
    this.clients = new ClientSide({
      sched: this.sched,
      computations: this.computations,
      directory: this.directory,
      nodeSide: this.nodeSide,
      admission: this.admission,
      xfers,
      root: this.root,
      settings: this.settings,
      options: this.o,
      log: this.log,
      isStopping,
      closeComputation: (c, terminate) => this.closeComputation(c, terminate),
    });
  }

  get port(): number {
    return this.listener?.port ?? 0;
  }

  async start(): Promise<void> {
    if (this.clean) await fs.rm(this.root, { recursive: true, force: true });
    await fs.mkdir(this.root, { recursive: true });
    this.id = await schedulerIdentity(this.root);
    const restored = await this.restoreComputations();
    this.listener = await listen({
      host: this.o.ipAddr,
      port: this.o.port,
      secret: this.o.clusterSecret,
      role: 'scheduler',
      name: os.hostname(),
      certfile: this.o.clusterCertfile || undefined,
      keyfile: this.o.clusterKeyfile || undefined,
      info: () => ({ kind: 'dispyscheduler', policy: this.o.policy, nodes: this.directory.nodes.size }),
      onConnection: (conn, peer) => this.clients.onClient(conn, peer),
      onRefused: (addr, reason) => this.log.warn(`refused client ${addr}: ${reason}`),
    });
    await this.directory.openUdp();
    const found = this.directory.discover(this.o.nodes);
    for (const c of restored) {
      // Until its nodes (those on record and the configured ones) are reattached, a reconnecting
      // client waits: it must not take jobs still running there for lost.
      c.restoring = Promise.all([this.nodeSide.reattachAll(c), found]).then(() => {
        c.restoring = null;
      });
    }
    const live = setInterval(
      () => this.nodeSide.checkLiveness(),
      Math.max(50, (this.o.pulseInterval * 1000) / 2),
    );
    live.unref();
    this.timers.push(live);
    if (this.o.pingInterval > 0) {
      const ping = setInterval(() => void this.directory.discover(this.o.nodes), this.o.pingInterval * 1000);
      ping.unref();
      this.timers.push(ping);
    }
    this.log.info(`dispyscheduler serving clients on ${this.listener.host}:${this.port} (${this.o.policy})`);
  }

  /**
   * Stop serving. Computations are not closed: their records, files and undelivered results
   * stay on disk and their nodes keep running their jobs, so a scheduler started again (without
   * `--clean`) takes them up; otherwise nodes close them after their zombie interval.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.directory.close();
    const closing = this.listener?.close();
    for (const c of this.computations.values()) {
      if (c.zombieTimer) clearTimeout(c.zombieTimer);
      storeUnacked(c);
      for (const l of c.links.values()) l.destroy();
    }
    this.clients.closeAll();
    await Promise.all(
      [...this.computations.values()].map(async (c) => {
        await c.stored.settled();
        await c.saving;
        await c.files.close();
      }),
    );
    await closing;
  }

  /** For the monitor page: every cluster with its nodes and running jobs. */
  monitorStatus(): MonitorCluster[] {
    return monitorView(this.computations.values(), {
      nodes: this.directory.nodes,
      sched: this.sched,
      report: (c, n, link) => this.nodeSide.report(c, n, link),
    });
  }

  /** For the monitor page: cancel a job of any cluster. */
  monitorCancel(computeId: string, uid: number): boolean {
    const c = this.computations.get(computeId);
    if (!c?.jobs.has(uid)) return false;
    return this.nodeSide.cancelJob(c, uid) !== 'unknown';
  }

  /**
   * Take up the computations a previous scheduler left (see the module docs): they wait for
   * admission in the order they were created, and are closed if no client comes for them.
   */
  private async restoreComputations(): Promise<SchedCluster[]> {
    const out = await loadSavedComputations(this.root, this.settings, this.log);
    for (const c of out) {
      this.computations.set(c.computeId, c);
      this.sched.addCluster(c.computeId);
    }
    out.sort((a, b) => a.created - b.created);
    for (const c of out) {
      this.admission.enqueue(c);
      this.clients.armZombie(c);
      this.log.info(
        `restored computation ${c.spec.name} (${c.computeId}) with nodes ${[...c.nodeKeys].join(', ')}`,
      );
    }
    this.admission.admit();
    return out;
  }

  /**
   * Close a computation (client's `close`, or a zombie): queued jobs are dropped, running ones
   * are waited for (or stopped with `terminate`), then it is closed on its nodes and its files
   * are deleted; waiting computations may be admitted then.
   */
  private async closeComputation(c: SchedCluster, terminate: boolean): Promise<void> {
    if (c.state === 'closed') return;
    if (c.state !== 'closing') {
      c.state = 'closing';
      if (c.zombieTimer) clearTimeout(c.zombieTimer);
      for (const uid of this.sched.removeCluster(c.computeId)) c.jobs.delete(uidOfKey(uid));
    }
    if (terminate) {
      for (const [uid] of c.jobs) {
        const node = this.sched.nodeOf(jobKey(c.computeId, uid));
        if (node) c.links.get(node)?.cancel(uid);
      }
    }
    if (c.jobs.size > 0) {
      await new Promise<void>((r) => {
        c.idleWaiters.push(r);
        // Nodes that died meanwhile never answer: do not wait for them forever.
        setTimeout(r, terminate ? 15_000 : 24 * 3600_000).unref();
      });
    }
    await Promise.all([...c.links.values()].map((l) => l.close(terminate).catch(() => undefined)));
    c.links.clear();
    await c.files.close();
    c.state = 'closed';
    await c.saving;
    await c.stored.settled();
    await fs.rm(c.files.dir, { recursive: true, force: true });
    this.computations.delete(c.computeId);
    c.session?.clusters.delete(c.computeId);
    this.log.info(`computation ${c.spec.name} (${c.computeId}) closed`);
    this.admission.admit();
  }
}
