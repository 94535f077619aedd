/**
 * dispyscheduler: shares nodes between several client programs (`SharedJobCluster`s). To
 * nodes it is one client (one identity, so all its computations may use a node at once); to
 * clients it is what nodes are to a `JobCluster`: it receives computations, files and jobs,
 * and sends back results, provisional results, files and pulses. Which job runs where is
 * decided by the pure {@link SchedulerState} with the chosen policy.
 *
 * Separate secrets and TLS material for the node side and the client side. Results are kept
 * until the client acknowledges them; a client that vanished gets them with `recover`
 * (reconnecting `SharedJobCluster` or `faultRecoverJobs`); after `zombieInterval` minutes its
 * computations are closed.
 *
 * Concurrency: one event loop owns all state; the scheduler state is only changed from here.
 *
 * @example
 * const s = new DispyScheduler({ nodes: ['127.0.0.1:51348'], port: 0, ipAddr: '127.0.0.1' });
 * await s.start();
 */
import dns from 'node:dns/promises';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Logger, pino } from 'pino';
import { errorMessage, ProtocolError } from '../../common/errors.js';
import { safeJoin } from '../../common/fs-atomic.js';
import type { LocalFile } from '../client/computation.js';
import { NodeAllocate } from '../client/dispy-node.js';
import { newId } from '../client/identity.js';
import { type LinkHandler, NodeLink } from '../client/node-link.js';
import { broadcastAddresses, isIpv4, isWildcard } from '../discovery/addresses.js';
import { UdpEndpoint } from '../discovery/udp.js';
import { describeArgs, type MonitorCluster, type MonitorJob, type MonitorNode } from '../monitor/model.js';
import { FileSink } from '../node/file-sink.js';
import { decodeData } from '../protocol/codec.js';
import type { Connection, HandlerResult } from '../protocol/connection.js';
import { ReplyError } from '../protocol/connection.js';
import {
  DEAD_PULSES,
  DEFAULT_NODE_PORT,
  DEFAULT_PULSE_INTERVAL,
  DEFAULT_SCHEDULER_PORT,
  DISPY_PROTOCOL_VERSION,
  jobsInFlight,
} from '../protocol/constants.js';
import {
  type ComputeSpec,
  type JobResult,
  type Message,
  type MessageOf,
  type NodeAllocSpec,
  type NodeInfo,
  NodeInfoSchema,
  type NodeReport,
} from '../protocol/messages.js';
import { connect, type Listener, listen, type PeerIdentity } from '../protocol/transport.js';
import { type PolicyName, SchedulerState } from './policy.js';

export interface SchedulerOptions {
  /** Nodes for all computations: hosts, `host:port`, wildcards (default `['*']`). */
  nodes?: string[];
  ipAddr?: string;
  extIpAddr?: string;
  /** Port clients connect to (default 51349; 0 = any). */
  port?: number;
  /** Port nodes serve on (default 51348). */
  nodePort?: number;
  nodeSecret?: string;
  nodeCertfile?: string;
  nodeKeyfile?: string;
  clusterSecret?: string;
  clusterCertfile?: string;
  clusterKeyfile?: string;
  /** Seconds between pulses (to clients; asked of nodes); dead after 5 × this. Default 10. */
  pulseInterval?: number;
  /** Seconds between repeated node discovery (0 = only at start). */
  pingInterval?: number;
  /** Minutes after which computations of a vanished client are closed. */
  zombieInterval?: number;
  destPathPrefix?: string;
  maxFileSize?: number;
  policy?: PolicyName;
  /** Force `cleanup` of every computation's files on the nodes. */
  cleanupNodes?: boolean;
  discovery?: boolean;
  broadcast?: string[];
  /** Delete files a previous scheduler left under `destPathPrefix`. */
  clean?: boolean;
  log?: Logger;
}

interface ClientSession {
  conn: Connection;
  clientId: string;
  address: string;
  clusters: Set<string>;
  pulseTimer: NodeJS.Timeout | null;
}

interface SchedJob {
  uid: number;
  args: Uint8Array;
  timeout: number;
  pinned?: string;
}

interface NodeStats {
  jobsDone: number;
  cpuTime: number;
  busy: number;
}

interface SchedCluster {
  computeId: string;
  token: string;
  spec: ComputeSpec;
  nodeSpec: ComputeSpec;
  allocs: { alloc: NodeAllocate; setupArgs?: Uint8Array }[];
  session: ClientSession | null;
  files: FileSink;
  localFiles: LocalFile[];
  state: 'files' | 'scheduled' | 'closing' | 'closed';
  links: Map<string, NodeLink>;
  jobs: Map<number, SchedJob>;
  unacked: Map<number, JobResult>;
  stats: Map<string, NodeStats>;
  zombieTimer: NodeJS.Timeout | null;
  idleWaiters: (() => void)[];
  reentrant: boolean;
  submitted: number;
}

interface NodeEntry {
  key: string;
  host: string;
  port: number;
  info: NodeInfo;
}

export class DispyScheduler {
  readonly log: Logger;
  private readonly o: Required<
    Omit<SchedulerOptions, 'log' | 'ipAddr' | 'extIpAddr' | 'broadcast' | 'clean'>
  > &
    Pick<SchedulerOptions, 'ipAddr' | 'extIpAddr' | 'broadcast'>;
  private readonly id = `scheduler-${newId(8)}`;
  private readonly sched: SchedulerState;
  private listener: Listener | null = null;
  private udp: UdpEndpoint | null = null;
  private readonly clusters = new Map<string, SchedCluster>();
  private readonly sessions = new Set<ClientSession>();
  private readonly nodes = new Map<string, NodeEntry>();
  private readonly tried = new Map<string, string>();
  private readonly probing = new Set<string>();
  private readonly xfers = new Map<number, { link: NodeLink; xferId: number }>();
  private nextXfer = 1;
  private timers: NodeJS.Timeout[] = [];
  private readonly root: string;
  private stopping = false;
  private readonly clean: boolean;

  constructor(opts: SchedulerOptions = {}) {
    this.clean = opts.clean ?? false;
    this.o = {
      nodes: opts.nodes ?? ['*'],
      ipAddr: opts.ipAddr,
      extIpAddr: opts.extIpAddr,
      port: opts.port ?? DEFAULT_SCHEDULER_PORT,
      nodePort: opts.nodePort ?? DEFAULT_NODE_PORT,
      nodeSecret: opts.nodeSecret ?? '',
      nodeCertfile: opts.nodeCertfile ?? '',
      nodeKeyfile: opts.nodeKeyfile ?? '',
      clusterSecret: opts.clusterSecret ?? '',
      clusterCertfile: opts.clusterCertfile ?? '',
      clusterKeyfile: opts.clusterKeyfile ?? '',
      pulseInterval: opts.pulseInterval ?? DEFAULT_PULSE_INTERVAL,
      pingInterval: opts.pingInterval ?? 0,
      zombieInterval: opts.zombieInterval ?? 60,
      destPathPrefix: opts.destPathPrefix ?? os.tmpdir(),
      maxFileSize: opts.maxFileSize ?? 0,
      policy: opts.policy ?? 'earliest-job',
      cleanupNodes: opts.cleanupNodes ?? false,
      discovery: opts.discovery ?? true,
      broadcast: opts.broadcast,
    };
    this.log = opts.log ?? pino({ name: 'dispyscheduler', level: 'silent' });
    this.sched = new SchedulerState(this.o.policy);
    this.root = path.join(this.o.destPathPrefix, 'dispy', 'scheduler');
  }

  get port(): number {
    return this.listener?.port ?? 0;
  }

  async start(): Promise<void> {
    if (this.clean) await fs.rm(this.root, { recursive: true, force: true });
    await fs.mkdir(this.root, { recursive: true });
    this.listener = await listen({
      host: this.o.ipAddr,
      port: this.o.port,
      secret: this.o.clusterSecret,
      role: 'scheduler',
      name: os.hostname(),
      certfile: this.o.clusterCertfile || undefined,
      keyfile: this.o.clusterKeyfile || undefined,
      info: () => ({ kind: 'dispyscheduler', policy: this.o.policy, nodes: this.nodes.size }),
      onConnection: (conn, peer) => this.onClient(conn, peer),
      onRefused: (addr, reason) => this.log.warn(`refused client ${addr}: ${reason}`),
    });
    if (this.o.discovery && this.o.nodes.some(isWildcard)) {
      this.udp = await UdpEndpoint.open({
        port: 0,
        onDatagram: (d, from) => {
          if (d.t !== 'pong' || d.v !== DISPY_PROTOCOL_VERSION) return;
          const host = d.ipAddr || from.address;
          if (!this.o.nodes.some((p) => new NodeAllocate(p.split(':')[0]).matches(host, d.name))) return;
          void this.probe(host, d.port);
        },
      }).catch((e: Error) => {
        this.log.warn(`UDP discovery unavailable: ${e.message}`);
        return null;
      });
    }
    await this.discover(this.o.nodes);
    const live = setInterval(() => this.checkLiveness(), Math.max(50, (this.o.pulseInterval * 1000) / 2));
    live.unref();
    this.timers.push(live);
    if (this.o.pingInterval > 0) {
      const ping = setInterval(() => void this.discover(this.o.nodes), this.o.pingInterval * 1000);
      ping.unref();
      this.timers.push(ping);
    }
    this.log.info(`dispyscheduler serving clients on ${this.listener.host}:${this.port} (${this.o.policy})`);
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.udp?.close();
    const closing = this.listener?.close();
    await Promise.all(
      [...this.clusters.values()].map((c) => this.closeCluster(c, true).catch(() => undefined)),
    );
    for (const s of this.sessions) {
      if (s.pulseTimer) clearInterval(s.pulseTimer);
      s.conn.close();
    }
    await closing;
  }

  // --- nodes ----------------------------------------------------------------------------

  private parseHost(spec: string): { host: string; port: number } {
    const m = /^(.*):(\d+)$/.exec(spec);
    return m ? { host: m[1], port: Number(m[2]) } : { host: spec, port: this.o.nodePort };
  }

  /** Find nodes: explicit ones are probed over TCP, wildcards by broadcast. */
  private async discover(specs: string[]): Promise<void> {
    let broadcast = false;
    await Promise.all(
      specs.map(async (spec) => {
        const { host, port } = this.parseHost(spec);
        if (isWildcard(host)) {
          broadcast = true;
          return;
        }
        let address = host;
        if (!isIpv4(host)) {
          try {
            address = (await dns.lookup(host, { family: 4 })).address;
          } catch (e) {
            this.tried.set(host, `cannot resolve: ${errorMessage(e)}`);
            return;
          }
        }
        void this.probe(address, port);
      }),
    );
    if (broadcast && this.udp) {
      const to = this.o.broadcast ?? broadcastAddresses(this.o.ipAddr);
      if (to.length) {
        this.udp.send(
          {
            t: 'ping',
            v: DISPY_PROTOCOL_VERSION,
            replyAddr: '',
            replyPort: this.udp.port,
            clientId: this.id,
          },
          this.o.nodePort,
          to,
        );
      }
    }
  }

  /** Learn a node's CPUs and name, then set up every scheduled computation there. */
  private async probe(host: string, port: number): Promise<void> {
    const key = `${host}:${port}`;
    if (this.nodes.has(key) || this.probing.has(key) || this.stopping) return;
    this.probing.add(key);
    try {
      const { conn, info } = await connect({
        host,
        port,
        secret: this.o.nodeSecret,
        role: 'scheduler',
        clientId: this.id,
        certfile: this.o.nodeCertfile || undefined,
        keyfile: this.o.nodeKeyfile || undefined,
        label: `node ${key}`,
      });
      conn.close();
      const ni = NodeInfoSchema.parse(info);
      this.nodes.set(key, { key, host, port, info: ni });
      this.sched.addNode(key, jobsInFlight(ni.cpus));
      this.tried.set(key, 'found');
      for (const c of this.clusters.values())
        if (c.state === 'scheduled') void this.ensureLink(c, this.nodes.get(key)!);
    } catch (e) {
      this.tried.set(key, errorMessage(e));
    } finally {
      this.probing.delete(key);
    }
  }

  private report(c: SchedCluster, n: NodeEntry, link?: NodeLink): NodeReport {
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

  private async ensureLink(c: SchedCluster, n: NodeEntry): Promise<void> {
    if (c.links.has(n.key) || c.state !== 'scheduled') return;
    const match = c.allocs.find(
      (a) => a.alloc.matches(n.info.ipAddr, n.info.name) || a.alloc.matches(n.host, n.info.name),
    );
    if (!match) return;
    const cpus = match.alloc.allocate(n.info.ipAddr, n.info.name, n.info.cpus, n.info.platform);
    if (cpus <= 0) return;
    const link = new NodeLink({
      host: n.host,
      port: n.port,
      secret: this.o.nodeSecret,
      role: 'scheduler',
      clientId: this.id,
      spec: c.nodeSpec,
      files: c.localFiles,
      handler: this.linkHandler(c),
      certfile: this.o.nodeCertfile || undefined,
      keyfile: this.o.nodeKeyfile || undefined,
    });
    c.links.set(n.key, link);
    try {
      await link.connect();
      const allotted = await link.setUp(cpus, match.setupArgs);
      if (c.state !== 'scheduled') {
        await link.close(true).catch(() => undefined);
        return;
      }
      this.sched.addNode(n.key, jobsInFlight(n.info.cpus));
      this.sched.allot(n.key, c.computeId, jobsInFlight(allotted));
      c.stats.set(n.key, c.stats.get(n.key) ?? { jobsDone: 0, cpuTime: 0, busy: 0 });
      c.session?.conn.send({
        t: 'node',
        computeId: c.computeId,
        status: 'Initialized',
        node: this.report(c, n, link),
      });
      this.log.info(`computation ${c.spec.name} set up on ${n.key} with ${allotted} CPUs`);
      this.dispatch();
    } catch (e) {
      c.links.delete(n.key);
      link.destroy();
      this.tried.set(n.key, `${c.spec.name}: ${errorMessage(e)}`);
      this.log.warn(`computation ${c.spec.name} not set up on ${n.key}: ${errorMessage(e)}`);
    }
  }

  private linkHandler(c: SchedCluster): LinkHandler {
    return {
      onMessage: (link, m) => this.onNodeMessage(c, link, m),
      onLost: (link) => this.onLost(c, link),
    };
  }

  private jobKey(c: SchedCluster, uid: number): string {
    return `${c.computeId}/${uid}`;
  }

  private dispatch(): void {
    for (const a of this.sched.next()) {
      const c = this.clusters.get(a.cluster);
      const uid = Number(a.uid.slice(a.uid.lastIndexOf('/') + 1));
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

  private onNodeMessage(c: SchedCluster, link: NodeLink, m: Message): void {
    switch (m.t) {
      case 'result': {
        if (m.computeId !== c.computeId) return;
        link.ack(m.uid);
        const key = this.jobKey(c, m.uid);
        if (this.sched.nodeOf(key) === link.key) this.sched.done(key);
        if (!c.jobs.delete(m.uid)) return;
        const st = c.stats.get(link.key);
        if (st) {
          st.busy = Math.max(0, st.busy - 1);
          st.jobsDone++;
          st.cpuTime += Math.max(0, m.endTime - m.startTime);
        }
        this.deliver(c, { ...m, computeId: c.computeId });
        if (c.jobs.size === 0) for (const w of c.idleWaiters.splice(0)) w();
        this.dispatch();
        return;
      }
      case 'provisional':
        c.session?.conn.send({ ...m, computeId: c.computeId });
        return;
      case 'xfer': {
        // Chunks of one transfer keep one id toward the client.
        const id = this.xferIdFor(link, m.xferId);
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
        const key = this.jobKey(c, m.uid);
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

  private readonly xferIds = new Map<string, number>();
  private xferIdFor(link: NodeLink, nodeXfer: number): number {
    const k = `${link.key}/${nodeXfer}`;
    let id = this.xferIds.get(k);
    if (id === undefined) {
      id = this.nextXfer++;
      this.xferIds.set(k, id);
    }
    this.xfers.set(id, { link, xferId: nodeXfer });
    return id;
  }

  private deliver(c: SchedCluster, r: JobResult): void {
    c.unacked.set(r.uid, r);
    if (c.session && !c.session.conn.closed) c.session.conn.send({ t: 'result', ...r });
  }

  // --- liveness ---------------------------------------------------------------------------

  private checkLiveness(): void {
    const now = Date.now();
    const limit = DEAD_PULSES * this.o.pulseInterval * 1000;
    for (const c of this.clusters.values()) {
      for (const link of [...c.links.values()]) {
        if ((link.state === 'ready' || link.state === 'lost') && now - link.lastHeard > limit) {
          this.nodeDead(c, link, `no message for ${((now - link.lastHeard) / 1000).toFixed(1)} s`);
        }
      }
    }
  }

  private onLost(c: SchedCluster, link: NodeLink): void {
    this.sched.allot(link.key, c.computeId, 0);
    void (async () => {
      while (c.links.get(link.key) === link && link.state === 'lost' && !this.stopping) {
        await new Promise((r) => setTimeout(r, Math.min(1000, this.o.pulseInterval * 1000)));
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
            const uid = Number(key.slice(key.lastIndexOf('/') + 1));
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
    const key = this.jobKey(c, uid);
    this.sched.done(key);
    const job = c.jobs.get(uid);
    if (!job) return;
    if (c.reentrant && !job.pinned) {
      this.sched.resubmit({ uid: key, cluster: c.computeId });
    } else {
      c.jobs.delete(uid);
      const now = Date.now() / 1000;
      this.deliver(c, {
        computeId: c.computeId,
        uid,
        status: 'Abandoned',
        stdout: '',
        stderr: '',
        exception: `node ${nodeKey}: ${why}`,
        startTime: now,
        endTime: now,
        ipAddr: nodeKey.split(':')[0],
      });
    }
  }

  private nodeDead(c: SchedCluster, link: NodeLink, reason: string): void {
    if (c.links.get(link.key) !== link) return;
    this.log.warn(`node ${link.key} presumed dead for ${c.spec.name}: ${reason}`);
    c.links.delete(link.key);
    link.destroy();
    const n = this.nodes.get(link.key);
    // The node is gone for everybody: forget it (it is found again if it comes back).
    this.nodes.delete(link.key);
    if (n)
      c.session?.conn.send({ t: 'node', computeId: c.computeId, status: 'Dead', node: this.report(c, n) });
    for (const other of this.clusters.values()) {
      const l = other.links.get(link.key);
      if (other !== c && l) this.nodeDead(other, l, reason);
    }
    const lost = this.sched.removeNode(link.key);
    for (const a of lost) {
      const cl = this.clusters.get(a.cluster);
      if (cl)
        this.jobLost(
          cl,
          link.key,
          Number(a.uid.slice(a.uid.lastIndexOf('/') + 1)),
          `presumed dead: ${reason}`,
        );
    }
    for (const key of this.sched.pinnedTo(link.key)) {
      const cl = this.clusters.get(key.slice(0, key.lastIndexOf('/')));
      this.sched.cancel(key);
      if (cl) this.jobLost(cl, link.key, Number(key.slice(key.lastIndexOf('/') + 1)), 'node gone');
    }
    this.tried.set(link.key, `dead: ${reason}`);
    this.dispatch();
  }

  // --- clients ----------------------------------------------------------------------------

  private onClient(conn: Connection, peer: PeerIdentity): void {
    const s: ClientSession = {
      conn,
      clientId: peer.clientId,
      address: peer.address,
      clusters: new Set(),
      pulseTimer: null,
    };
    this.sessions.add(s);
    s.pulseTimer = setInterval(
      () => conn.send({ t: 'pulse', busy: this.sched.running(), time: Date.now() / 1000 }),
      this.o.pulseInterval * 1000,
    );
    s.pulseTimer.unref();
    conn.onMessage((m) => this.handle(s, m));
    conn.onClose(() => this.detach(s));
  }

  private detach(s: ClientSession): void {
    this.sessions.delete(s);
    if (s.pulseTimer) clearInterval(s.pulseTimer);
    for (const id of s.clusters) {
      const c = this.clusters.get(id);
      if (!c || c.session !== s) continue;
      c.session = null;
      c.zombieTimer = setTimeout(() => void this.closeCluster(c, true), this.o.zombieInterval * 60_000);
      c.zombieTimer.unref();
    }
  }

  private own(s: ClientSession, computeId: string): SchedCluster {
    const c = this.clusters.get(computeId);
    if (!c || c.state === 'closed') throw new ReplyError(`unknown computation ${computeId}`, 'unknown');
    if (c.session !== s)
      throw new ReplyError(`computation ${computeId} belongs to another connection`, 'owner');
    return c;
  }

  private handle(s: ClientSession, m: Message): HandlerResult | Promise<HandlerResult> {
    switch (m.t) {
      case 'compute':
        return this.compute(s, m);
      case 'file':
        return this.own(s, m.computeId)
          .files.chunk(m)
          .then((r) => ({ received: r.received }));
      case 'schedule':
        return this.schedule(s, m);
      case 'job':
        return this.job(s, m);
      case 'cancel':
        return this.cancel(s, m);
      case 'close':
        return this.closeCluster(this.own(s, m.computeId), m.terminate).then(() => ({}));
      case 'recover':
        return this.recover(s, m);
      case 'ack': {
        const c = this.clusters.get(m.computeId);
        if (c && c.session === s) for (const u of m.uids) c.unacked.delete(u);
        return;
      }
      case 'status':
        return this.status(this.own(s, m.computeId));
      case 'allocateNode': {
        const c = this.own(s, m.computeId);
        c.allocs.unshift(...m.nodes.map((n) => this.toAlloc(n)));
        void this.discover(m.nodes.map((n) => (n.port ? `${n.host}:${n.port}` : n.host)));
        for (const n of this.nodes.values()) void this.ensureLink(c, n);
        return { ok: 0 };
      }
      case 'discover': {
        this.own(s, m.computeId);
        void this.discover(m.nodes.map((n) => (n.port ? `${n.host}:${n.port}` : n.host)));
        return { ok: 0 };
      }
      case 'deallocateNode': {
        const c = this.own(s, m.computeId);
        const key = this.nodeKeyOf(m.node);
        if (!key) return { ok: -1 };
        this.sched.allot(key, c.computeId, 0);
        return { ok: 0 };
      }
      case 'closeNode':
        return this.closeNode(this.own(s, m.computeId), m.node, m.terminate);
      case 'setCpus':
        return this.setCpus(this.own(s, m.computeId), m.node ?? '', m.cpus);
      case 'jobs': {
        const c = this.own(s, m.computeId);
        const key = m.node ? this.nodeKeyOf(m.node) : undefined;
        if (!key) return { uids: [] };
        return {
          uids: this.sched
            .runningOn(key)
            .filter((k) => k.startsWith(`${c.computeId}/`))
            .map((k) => Number(k.slice(k.lastIndexOf('/') + 1))),
        };
      }
      case 'sendFile':
        return this.sendFile(this.own(s, m.computeId), m);
      case 'xferDone': {
        const x = this.xfers.get(m.xferId);
        if (!x) return;
        this.xfers.delete(m.xferId);
        this.xferIds.delete(`${x.link.key}/${x.xferId}`);
        x.link.conn?.send({ ...m, computeId: x.link.opts.spec.computeId, xferId: x.xferId });
        return;
      }
      case 'pulse':
        return;
      case 'error':
        this.log.warn(`client ${s.address}: ${m.message}`);
        return;
      default:
        throw new ProtocolError(`dispyscheduler does not handle '${m.t}' messages`);
    }
  }

  private toAlloc(n: NodeAllocSpec): { alloc: NodeAllocate; setupArgs?: Uint8Array } {
    return {
      alloc: new NodeAllocate(n.host, { cpus: n.cpus, ...(n.port ? { port: n.port } : {}) }),
      ...(n.setupArgs ? { setupArgs: n.setupArgs } : {}),
    };
  }

  private nodeKeyOf(node: string): string | undefined {
    if (this.nodes.has(node)) return node;
    for (const n of this.nodes.values())
      if (n.info.ipAddr === node || n.info.name === node || n.host === node) return n.key;
    return undefined;
  }

  private async compute(s: ClientSession, m: MessageOf<'compute'>): Promise<HandlerResult> {
    if (this.stopping) throw new ReplyError('the scheduler is shutting down', 'busy');
    const spec = m.spec;
    if (this.clusters.has(spec.computeId))
      throw new ReplyError(`computation ${spec.computeId} exists already`);
    const dir = safeJoin(this.root, spec.computeId.replace(/[^A-Za-z0-9_-]/g, '_'))!;
    await fs.mkdir(dir, { recursive: true });
    const c: SchedCluster = {
      computeId: spec.computeId,
      token: spec.token,
      spec,
      nodeSpec: {
        ...spec,
        token: newId(16),
        pulseInterval: this.o.pulseInterval,
        cleanup: spec.cleanup || this.o.cleanupNodes,
      },
      allocs: (m.nodes ?? [{ host: '*', cpus: 0 }]).map((n) => this.toAlloc(n)),
      session: s,
      files: new FileSink(dir, this.o.maxFileSize),
      localFiles: spec.files.map((f) => ({ ...f, abs: safeJoin(dir, f.path) ?? path.join(dir, '_invalid') })),
      state: 'files',
      links: new Map(),
      jobs: new Map(),
      unacked: new Map(),
      stats: new Map(),
      zombieTimer: null,
      idleWaiters: [],
      reentrant: spec.reentrant ?? false,
      submitted: 0,
    };
    for (const f of spec.files)
      if (!safeJoin(dir, f.path)) throw new ReplyError(`invalid file path ${f.path}`);
    this.clusters.set(c.computeId, c);
    s.clusters.add(c.computeId);
    this.log.info(`computation ${spec.name} (${spec.computeId}) from ${s.address}`);
    return { cpus: 0, have: [] };
  }

  private schedule(s: ClientSession, m: MessageOf<'schedule'>): HandlerResult {
    const c = this.own(s, m.computeId);
    if (c.files.incomplete.length) throw new ReplyError(`files incomplete: ${c.files.incomplete.join(', ')}`);
    c.state = 'scheduled';
    this.sched.addCluster(c.computeId);
    for (const n of this.nodes.values()) void this.ensureLink(c, n);
    void this.discover(
      c.allocs
        .map((a) => (a.alloc.port ? `${a.alloc.host}:${a.alloc.port}` : a.alloc.host))
        .filter((h) => !isWildcard(h)),
    );
    return {};
  }

  private job(s: ClientSession, m: MessageOf<'job'>): HandlerResult {
    const c = this.clusters.get(m.computeId);
    if (!c || c.session !== s || c.state !== 'scheduled') {
      s.conn.send({
        t: 'reject',
        computeId: m.computeId,
        uid: m.uid,
        reason: 'unknown computation',
        retry: false,
      });
      return;
    }
    if (c.jobs.has(m.uid) || c.unacked.has(m.uid)) return;
    let pinned: string | undefined;
    if (m.node) {
      pinned = this.nodeKeyOf(m.node);
      if (!pinned) {
        const now = Date.now() / 1000;
        this.deliver(c, {
          computeId: c.computeId,
          uid: m.uid,
          status: 'Abandoned',
          stdout: '',
          stderr: '',
          exception: `node ${m.node} is not known to the scheduler`,
          startTime: now,
          endTime: now,
          ipAddr: '',
        });
        return;
      }
    }
    c.submitted++;
    c.jobs.set(m.uid, { uid: m.uid, args: m.args, timeout: m.timeout ?? 0, ...(pinned ? { pinned } : {}) });
    this.sched.submit({ uid: this.jobKey(c, m.uid), cluster: c.computeId, ...(pinned ? { pinned } : {}) });
    this.dispatch();
  }

  private cancel(s: ClientSession, m: MessageOf<'cancel'>): HandlerResult {
    const c = this.own(s, m.computeId);
    const key = this.jobKey(c, m.uid);
    const where = this.sched.cancel(key);
    if (where === 'queued') {
      c.jobs.delete(m.uid);
      const now = Date.now() / 1000;
      this.deliver(c, {
        computeId: c.computeId,
        uid: m.uid,
        status: 'Cancelled',
        stdout: '',
        stderr: '',
        startTime: now,
        endTime: now,
        ipAddr: '',
      });
      if (c.jobs.size === 0) for (const w of c.idleWaiters.splice(0)) w();
    } else if (where === 'running') {
      const node = this.sched.nodeOf(key);
      if (node) c.links.get(node)?.cancel(m.uid);
    }
  }

  private async recover(s: ClientSession, m: MessageOf<'recover'>): Promise<HandlerResult> {
    const c = this.clusters.get(m.computeId);
    if (!c || c.state === 'closed') throw new ReplyError(`unknown computation ${m.computeId}`, 'unknown');
    if (c.token !== m.token) throw new ReplyError('wrong computation token', 'auth');
    if (c.session && c.session !== s) c.session.clusters.delete(c.computeId);
    c.session = s;
    s.clusters.add(c.computeId);
    if (c.zombieTimer) clearTimeout(c.zombieTimer);
    c.zombieTimer = null;
    const running: number[] = [];
    const queued: number[] = [];
    for (const uid of c.jobs.keys()) {
      (this.sched.stateOf(this.jobKey(c, uid)) === 'running' ? running : queued).push(uid);
    }
    return { results: [...c.unacked.values()], running, queued };
  }

  private status(c: SchedCluster): HandlerResult {
    const nodes: NodeReport[] = [];
    for (const [key, link] of c.links) {
      const n = this.nodes.get(key);
      if (n && link.state === 'ready') nodes.push(this.report(c, n, link));
    }
    return {
      nodes,
      pending: c.jobs.size,
      tried: [...this.tried].map(([k, v]) => `${k}: ${v}`),
    };
  }

  private async closeNode(c: SchedCluster, node: string, terminate: boolean): Promise<HandlerResult> {
    const key = this.nodeKeyOf(node);
    const link = key ? c.links.get(key) : undefined;
    if (!key || !link) return { ok: -1 };
    this.sched.allot(key, c.computeId, 0);
    c.links.delete(key);
    await link.close(terminate).catch(() => undefined);
    const n = this.nodes.get(key);
    if (n)
      c.session?.conn.send({ t: 'node', computeId: c.computeId, status: 'Closed', node: this.report(c, n) });
    return { ok: 0 };
  }

  private async setCpus(c: SchedCluster, node: string, cpus: number): Promise<HandlerResult> {
    const key = this.nodeKeyOf(node);
    const link = key ? c.links.get(key) : undefined;
    if (!key || !link) return { cpus: -1 };
    const n = await link.setCpus(cpus);
    this.sched.allot(key, c.computeId, jobsInFlight(n));
    this.dispatch();
    return { cpus: n };
  }

  private async sendFile(c: SchedCluster, m: MessageOf<'sendFile'>): Promise<HandlerResult> {
    const r = await c.files.chunk(m);
    if (!r.complete) return { received: r.received };
    const key = m.node ? this.nodeKeyOf(m.node) : undefined;
    const link = key ? c.links.get(key) : undefined;
    if (!link) throw new ReplyError(`node ${m.node ?? '?'} is not used by this computation`);
    const st = await fs.stat(r.file);
    await link.sendFile(
      { abs: r.file, path: m.path, size: st.size, mtimeMs: st.mtimeMs, mode: st.mode & 0o777 },
      'sendFile',
    );
    return { received: r.received };
  }

  /** For the monitor page: every cluster with its nodes and running jobs. */
  monitorStatus(): MonitorCluster[] {
    return [...this.clusters.values()].map((c) => {
      const nodes: MonitorNode[] = [];
      for (const [key, link] of c.links) {
        const n = this.nodes.get(key);
        if (n) nodes.push(this.report(c, n, link));
      }
      const jobs: MonitorJob[] = [];
      for (const j of c.jobs.values()) {
        const node = this.sched.nodeOf(this.jobKey(c, j.uid));
        if (!node) continue;
        let args = '';
        try {
          const a = decodeData(j.args);
          args = describeArgs(Array.isArray(a) ? a : [a]);
        } catch {
          args = '?';
        }
        jobs.push({
          uid: j.uid,
          id: String(j.uid),
          status: 'Running',
          node: node.split(':')[0],
          startTime: null,
          args,
        });
      }
      return {
        computeId: c.computeId,
        name: c.spec.name,
        submitted: c.submitted,
        done: c.submitted - c.jobs.size,
        pending: c.jobs.size,
        nodes,
        jobs,
      };
    });
  }

  /** For the monitor page: cancel a job of any cluster. */
  monitorCancel(computeId: string, uid: number): boolean {
    const c = this.clusters.get(computeId);
    if (!c?.jobs.has(uid)) return false;
    const key = this.jobKey(c, uid);
    const where = this.sched.cancel(key);
    if (where === 'queued') {
      c.jobs.delete(uid);
      const now = Date.now() / 1000;
      this.deliver(c, {
        computeId,
        uid,
        status: 'Cancelled',
        stdout: '',
        stderr: '',
        startTime: now,
        endTime: now,
        ipAddr: '',
      });
    } else if (where === 'running') {
      const node = this.sched.nodeOf(key);
      if (node) c.links.get(node)?.cancel(uid);
    }
    return where !== 'unknown';
  }

  private async closeCluster(c: SchedCluster, terminate: boolean): Promise<void> {
    if (c.state === 'closed') return;
    if (c.state !== 'closing') {
      c.state = 'closing';
      if (c.zombieTimer) clearTimeout(c.zombieTimer);
      for (const uid of this.sched.removeCluster(c.computeId)) {
        c.jobs.delete(Number(uid.slice(uid.lastIndexOf('/') + 1)));
      }
    }
    if (terminate) {
      for (const [uid] of c.jobs) {
        const node = this.sched.nodeOf(this.jobKey(c, uid));
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
    await fs.rm(c.files.dir, { recursive: true, force: true });
    c.state = 'closed';
    this.clusters.delete(c.computeId);
    c.session?.clusters.delete(c.computeId);
    this.log.info(`computation ${c.spec.name} (${c.computeId}) closed`);
  }
}
