/**
 * dispyscheduler toward nodes: sets computations up on nodes (or reconnects to them after a
 * restart or a lost connection), sends jobs where the {@link SchedulerState} places them,
 * takes the nodes' messages (results, provisional results, file transfers, rejections), and
 * declares nodes dead (their jobs resubmitted when `reentrant`, else ended `Abandoned`).
 *
 * To nodes the scheduler is one client (one identity, `identity()`), so every computation may
 * use a node at once; each computation has its own {@link NodeLink} per node.
 *
 * @example
 * const nodeSide = new NodeSide({ sched, computations, directory, xfers, options, identity: () => id, isStopping: () => false, log });
 * await nodeSide.attachAll(node); // a node was found
 * nodeSide.dispatch();            // after jobs were submitted
 */
import type { Logger } from 'pino';
import { errorMessage } from '../../common/errors.js';
import { type LinkHandler, NodeLink } from '../client/node-link.js';
import { isWildcard } from '../discovery/addresses.js';
import { RemoteError } from '../protocol/connection.js';
import { DEAD_PULSES, jobsInFlight } from '../protocol/constants.js';
import type { Message, NodeReport } from '../protocol/messages.js';
import {
  computeIdOfKey,
  hostSpec,
  jobKey,
  type SchedCluster,
  statsOf,
  uidOfKey,
  wakeIfIdle,
} from './computation.js';
import type { FileTransferRelay } from './file-transfer-relay.js';
import type { NodeDirectory, NodeEntry } from './node-directory.js';
import type { ResolvedSchedulerOptions } from './options.js';
import { saveRecord } from './persistence.js';
import type { SchedulerState } from './policy.js';
import { deliver, madeResult } from './result-delivery.js';

export interface NodeSideDeps {
  sched: SchedulerState;
  computations: ReadonlyMap<string, SchedCluster>;
  directory: NodeDirectory;
  xfers: FileTransferRelay;
  options: Pick<ResolvedSchedulerOptions, 'nodeSecret' | 'nodeCertfile' | 'nodeKeyfile' | 'pulseInterval'>;
  /** The scheduler's identity toward nodes (known once it has started). */
  identity: () => string;
  isStopping: () => boolean;
  log: Logger;
}

export class NodeSide {
  private readonly sched: SchedulerState;
  private readonly computations: ReadonlyMap<string, SchedCluster>;
  private readonly directory: NodeDirectory;
  private readonly log: Logger;

  constructor(private readonly deps: NodeSideDeps) {
    this.sched = deps.sched;
    this.computations = deps.computations;
    this.directory = deps.directory;
    this.log = deps.log;
  }

  /** A node was found: let the scheduler use it and attach every computation there. */
  async attachAll(n: NodeEntry): Promise<void> {
    this.sched.addNode(n.key, jobsInFlight(n.info.cpus));
    await Promise.all([...this.computations.values()].map((c) => this.attach(c, n)));
  }

  /** A computation was admitted: attach it on the nodes known, and look for the ones it names. */
  useNodesFor(c: SchedCluster): void {
    for (const n of this.directory.nodes.values()) void this.attach(c, n);
    void this.directory.discover(
      c.allocs.map((a) => hostSpec({ host: a.alloc.host, port: a.alloc.port })).filter((h) => !isWildcard(h)),
    );
  }

  /**
   * Use a node for a scheduled computation: reconnect if the computation may have been set up
   * there before (after a restart — whose record may lag behind — or a lost node), otherwise
   * set it up.
   */
  attach(c: SchedCluster, n: NodeEntry): Promise<void> {
    if (c.state !== 'scheduled' || c.links.has(n.key)) return c.attaching.get(n.key) ?? Promise.resolve();
    let p = c.attaching.get(n.key);
    if (!p) {
      const before = c.restored || c.nodeKeys.has(n.key);
      p = (before ? this.reattach(c, n) : this.ensureLink(c, n)).finally(() => c.attaching.delete(n.key));
      c.attaching.set(n.key, p);
    }
    return p;
  }

  /** Reconnect a restored computation to the nodes it was set up on. */
  async reattachAll(c: SchedCluster): Promise<void> {
    await Promise.allSettled(
      [...c.nodeKeys].map(async (key) => {
        const { host, port } = this.directory.parseHost(key);
        await this.directory.probe(host, port);
        const n = this.directory.nodes.get(key);
        if (n) await this.attach(c, n);
        else this.log.warn(`${c.spec.name}: node ${key} is not reachable; its jobs there are not known yet`);
      }),
    );
  }

  /** The computation's figures on a node, for the client and the monitor. */
  report(c: SchedCluster, n: NodeEntry, link?: NodeLink): NodeReport {
    const st = c.stats.get(n.key);
    return {
      ipAddr: n.info.ipAddr,
      port: n.port,
      name: n.info.name,
      cpus: link?.cpus ?? this.sched.allotment(n.key, c.computeId),
      busy: st?.busy ?? 0,
      jobsDone: st?.jobsDone ?? 0,
      cpuTime: st?.cpuTime ?? 0,
      tx: link?.tx ?? 0,
      rx: link?.rx ?? 0,
      updateTime: Date.now() / 1000,
    };
  }

  /** Send the jobs the scheduler state places now. */
  dispatch(): void {
    for (const a of this.sched.next()) {
      const c = this.computations.get(a.cluster);
      const uid = uidOfKey(a.uid);
      const job = c?.jobs.get(uid);
      const link = c?.links.get(a.node);
      if (!c || !job || !link?.sendJob(uid, job.args, job.timeout)) {
        this.sched.done(a.uid);
        if (c && job)
          this.sched.resubmit({
            uid: a.uid,
            cluster: a.cluster,
            ...(job.pinned ? { pinned: job.pinned } : {}),
          });
        continue;
      }
      const st = c.stats.get(a.node);
      if (st) st.busy++;
      c.session?.conn.send({
        t: 'running',
        computeId: c.computeId,
        uid,
        ipAddr: link.info?.ipAddr ?? link.opts.host,
        startTime: Date.now() / 1000,
      });
    }
  }

  /** Cancel a job: a queued one ends `Cancelled` here; a running one is stopped on its node. */
  cancelJob(c: SchedCluster, uid: number): 'queued' | 'running' | 'unknown' {
    const key = jobKey(c.computeId, uid);
    const where = this.sched.cancel(key);
    if (where === 'queued') {
      c.jobs.delete(uid);
      deliver(c, madeResult(c, uid, 'Cancelled'), true);
      wakeIfIdle(c);
    } else if (where === 'running') {
      const node = this.sched.nodeOf(key);
      if (node) c.links.get(node)?.cancel(uid);
    }
    return where;
  }

  /** Declare dead the nodes not heard from for {@link DEAD_PULSES} pulses. */
  checkLiveness(): void {
    const now = Date.now();
    const limit = DEAD_PULSES * this.deps.options.pulseInterval * 1000;
    for (const c of this.computations.values()) {
      for (const link of [...c.links.values()]) {
        if ((link.state === 'ready' || link.state === 'lost') && now - link.lastHeard > limit) {
          this.nodeDead(c, link, `no message for ${((now - link.lastHeard) / 1000).toFixed(1)} s`);
        }
      }
    }
  }

  private newLink(c: SchedCluster, n: NodeEntry): NodeLink {
    const o = this.deps.options;
    return new NodeLink({
      host: n.host,
      port: n.port,
      secret: o.nodeSecret,
      role: 'scheduler',
      clientId: this.deps.identity(),
      spec: c.nodeSpec,
      files: c.localFiles,
      handler: this.linkHandler(c),
      certfile: o.nodeCertfile || undefined,
      keyfile: o.nodeKeyfile || undefined,
    });
  }

  private linkHandler(c: SchedCluster): LinkHandler {
    return {
      onMessage: (link, m) => this.onNodeMessage(c, link, m),
      onLost: (link) => this.onLost(c, link),
    };
  }

  /** The link is ready: let the scheduler use it and tell the client. */
  private linkReady(c: SchedCluster, n: NodeEntry, link: NodeLink): void {
    this.sched.addNode(n.key, jobsInFlight(n.info.cpus));
    this.sched.allot(n.key, c.computeId, jobsInFlight(link.cpus));
    statsOf(c, n.key);
    c.session?.conn.send({
      t: 'node',
      computeId: c.computeId,
      status: 'Initialized',
      node: this.report(c, n, link),
    });
  }

  /**
   * Reconnect to a node that has the computation: collect the results it kept and adopt the
   * jobs it still runs. A node that no longer knows the computation gets it set up afresh.
   */
  private async reattach(c: SchedCluster, n: NodeEntry): Promise<void> {
    const link = this.newLink(c, n);
    c.links.set(n.key, link);
    try {
      const r = await link.reconnect();
      if (c.state !== 'scheduled') {
        await link.close(true).catch(() => undefined);
        c.links.delete(n.key);
        return;
      }
      this.linkReady(c, n, link);
      const st = statsOf(c, n.key);
      for (const uid of [...r.running, ...r.queued]) {
        if (c.jobs.has(uid)) continue;
        c.jobs.set(uid, { uid, args: new Uint8Array(0), timeout: 0, recovered: true });
        this.sched.adopt(jobKey(c.computeId, uid), c.computeId, n.key);
        st.busy++;
      }
      for (const res of r.results) this.onNodeMessage(c, link, { t: 'result', ...res });
      this.log.info(
        `computation ${c.spec.name} reattached on ${n.key}: ${r.results.length} results, ${r.running.length + r.queued.length} jobs running there`,
      );
      this.dispatch();
    } catch (e) {
      c.links.delete(n.key);
      link.destroy();
      if (e instanceof RemoteError && e.code === 'unknown') {
        if (c.nodeKeys.has(n.key))
          this.log.warn(`node ${n.key} no longer has ${c.spec.name} (restarted?): setting it up again`);
        c.nodeKeys.delete(n.key);
        saveRecord(c, this.log);
        await this.ensureLink(c, n);
        return;
      }
      this.directory.tried.set(n.key, `${c.spec.name}: ${errorMessage(e)}`);
      this.log.warn(`computation ${c.spec.name} not reattached on ${n.key}: ${errorMessage(e)}`);
    }
  }

  private async ensureLink(c: SchedCluster, n: NodeEntry): Promise<void> {
    if (c.links.has(n.key) || c.state !== 'scheduled') return;
    const match = c.allocs.find(
      (a) => a.alloc.matches(n.info.ipAddr, n.info.name) || a.alloc.matches(n.host, n.info.name),
    );
    if (!match) return;
    const cpus = match.alloc.allocate(n.info.ipAddr, n.info.name, n.info.cpus, n.info.platform);
    if (cpus <= 0) return;
    const link = this.newLink(c, n);
    c.links.set(n.key, link);
    try {
      await link.connect();
      const allotted = await link.setUp(cpus, match.setupArgs);
      if (c.state !== 'scheduled') {
        await link.close(true).catch(() => undefined);
        return;
      }
      c.nodeKeys.add(n.key);
      saveRecord(c, this.log);
      this.linkReady(c, n, link);
      this.log.info(`computation ${c.spec.name} set up on ${n.key} with ${allotted} CPUs`);
      this.dispatch();
    } catch (e) {
      c.links.delete(n.key);
      link.destroy();
      this.directory.tried.set(n.key, `${c.spec.name}: ${errorMessage(e)}`);
      this.log.warn(`computation ${c.spec.name} not set up on ${n.key}: ${errorMessage(e)}`);
    }
  }

  private onNodeMessage(c: SchedCluster, link: NodeLink, m: Message): void {
    switch (m.t) {
      case 'result': {
        if (m.computeId !== c.computeId) return;
        const key = jobKey(c.computeId, m.uid);
        if (this.sched.nodeOf(key) === link.key) this.sched.done(key);
        if (!c.jobs.delete(m.uid)) {
          // Sent again after a reconnect: still waiting for the client's acknowledgement.
          if (c.unacked.has(m.uid)) c.ackTo.set(m.uid, link);
          // After a restart the scheduler cannot tell a result the client has from one it never
          // got: the client ignores duplicates.
          else if (c.restored) {
            c.ackTo.set(m.uid, link);
            deliver(c, { ...m, computeId: c.computeId });
          } else link.ack(m.uid);
          return;
        }
        const st = c.stats.get(link.key);
        if (st) {
          st.busy = Math.max(0, st.busy - 1);
          st.jobsDone++;
          st.cpuTime += Math.max(0, m.endTime - m.startTime);
        }
        // The node keeps the result until the client has acknowledged it (see `acknowledged`).
        c.ackTo.set(m.uid, link);
        deliver(c, { ...m, computeId: c.computeId });
        wakeIfIdle(c);
        this.dispatch();
        return;
      }
      case 'provisional':
        c.session?.conn.send({ ...m, computeId: c.computeId });
        return;
      case 'xfer': {
        // Chunks of one transfer keep one id toward the client.
        const id = this.deps.xfers.idFor(link, m.xferId);
        if (!c.session) {
          link.conn?.send({
            t: 'xferDone',
            computeId: m.computeId,
            xferId: m.xferId,
            ok: false,
            error: 'client gone',
          });
          return;
        }
        c.session.conn.send({ ...m, computeId: c.computeId, xferId: id });
        return;
      }
      case 'reject': {
        const key = jobKey(c.computeId, m.uid);
        this.sched.done(key);
        const job = c.jobs.get(m.uid);
        if (job)
          this.sched.resubmit({
            uid: key,
            cluster: c.computeId,
            ...(job.pinned ? { pinned: job.pinned } : {}),
          });
        this.nodeDead(c, link, `the node lost the computation (${m.reason})`);
        return;
      }
      case 'closed':
        this.nodeDead(c, link, m.reason);
        return;
      default:
        return;
    }
  }

  /** The connection to a node dropped: reconnect (every second at most) and reconcile its jobs. */
  private onLost(c: SchedCluster, link: NodeLink): void {
    this.sched.allot(link.key, c.computeId, 0);
    void (async () => {
      while (c.links.get(link.key) === link && link.state === 'lost' && !this.deps.isStopping()) {
        await new Promise((r) => setTimeout(r, Math.min(1000, this.deps.options.pulseInterval * 1000)));
        if (c.links.get(link.key) !== link || link.state !== 'lost') return;
        try {
          const r = await link.reconnect();
          if (!r.sameInstance) return this.nodeDead(c, link, 'the node was restarted');
          const known = new Set([...r.running, ...r.queued]);
          for (const res of r.results) {
            known.add(res.uid);
            this.onNodeMessage(c, link, { t: 'result', ...res });
          }
          for (const key of this.sched.runningOn(link.key)) {
            if (!key.startsWith(`${c.computeId}/`)) continue;
            const uid = uidOfKey(key);
            if (!known.has(uid)) this.jobLost(c, link.key, uid, 'the node lost it');
          }
          this.sched.allot(link.key, c.computeId, jobsInFlight(link.cpus));
          this.dispatch();
          return;
        } catch {
          link.state = 'lost';
        }
      }
    })();
  }

  private jobLost(c: SchedCluster, nodeKey: string, uid: number, why: string): void {
    const key = jobKey(c.computeId, uid);
    this.sched.done(key);
    const job = c.jobs.get(uid);
    if (!job) return;
    if (c.reentrant && !job.pinned && !job.recovered) {
      this.sched.resubmit({ uid: key, cluster: c.computeId });
    } else {
      c.jobs.delete(uid);
      deliver(c, madeResult(c, uid, 'Abandoned', `node ${nodeKey}: ${why}`, nodeKey.split(':')[0]), true);
    }
  }

  private nodeDead(c: SchedCluster, link: NodeLink, reason: string): void {
    if (c.links.get(link.key) !== link) return;
    this.log.warn(`node ${link.key} presumed dead for ${c.spec.name}: ${reason}`);
    c.links.delete(link.key);
    link.destroy();
    const n = this.directory.nodes.get(link.key);
    // The node is gone for everybody: forget it (it is found again if it comes back).
    this.directory.forget(link.key);
    if (n)
      c.session?.conn.send({ t: 'node', computeId: c.computeId, status: 'Dead', node: this.report(c, n) });
    for (const other of this.computations.values()) {
      const l = other.links.get(link.key);
      if (other !== c && l) this.nodeDead(other, l, reason);
    }
    const lost = this.sched.removeNode(link.key);
    for (const a of lost) {
      const cl = this.computations.get(a.cluster);
      if (cl) this.jobLost(cl, link.key, uidOfKey(a.uid), `presumed dead: ${reason}`);
    }
    for (const key of this.sched.pinnedTo(link.key)) {
      const cl = this.computations.get(computeIdOfKey(key));
      this.sched.cancel(key);
      if (cl) this.jobLost(cl, link.key, uidOfKey(key), 'node gone');
    }
    this.directory.tried.set(link.key, `dead: ${reason}`);
    this.dispatch();
  }
}
