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
import { ResultStore } from '../node/result-store.js';
import { decodeData } from '../protocol/codec.js';
import type { Connection, HandlerResult } from '../protocol/connection.js';
import { RemoteError, ReplyError } from '../protocol/connection.js';
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
import { readClusterRecord, schedulerIdentity, writeClusterRecord } from './cluster-record.js';
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
  /** Found running on a node after a restart (its arguments are not known here: never resubmitted). */
  recovered?: boolean;
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
  /** `allocs` as received (for the record on disk). */
  allocSpecs: NodeAllocSpec[];
  session: ClientSession | null;
  files: FileSink;
  localFiles: LocalFile[];
  /** `waiting`: held back by an `exclusive` rule (jobs queue, nothing is set up on nodes). */
  state: 'files' | 'waiting' | 'scheduled' | 'closing' | 'closed';
  exclusive: boolean;
  /** The client was told it waits: it gets a `scheduled` event when admitted. */
  toldWaiting: boolean;
  created: number;
  links: Map<string, NodeLink>;
  /** Nodes where the computation was set up (kept on disk for a restart). */
  nodeKeys: Set<string>;
  /** Attachments to nodes in progress. */
  attaching: Map<string, Promise<void>>;
  /** Restored from disk: until its nodes are reattached, `recover` waits for this. */
  restoring: Promise<void> | null;
  restored: boolean;
  jobs: Map<number, SchedJob>;
  unacked: Map<number, JobResult>;
  /** The node link to acknowledge a result on once the client acknowledged it. */
  ackTo: Map<number, NodeLink>;
  /** Results on disk while the client is away (and results the scheduler made itself). */
  stored: ResultStore;
  /** Writes of the record, in order. */
  saving: Promise<void>;
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
  /** Identity toward nodes (kept across restarts under the root). */
  private id = `scheduler-${newId(8)}`;
  private readonly sched: SchedulerState;
  private listener: Listener | null = null;
  private udp: UdpEndpoint | null = null;
  private readonly clusters = new Map<string, SchedCluster>();
  private readonly sessions = new Set<ClientSession>();
  private readonly nodes = new Map<string, NodeEntry>();
  private readonly tried = new Map<string, string>();
  private readonly probing = new Map<string, Promise<void>>();
  /** Computations held back by `exclusive` rules, first come first. */
  private waiting: SchedCluster[] = [];
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
    this.id = await schedulerIdentity(this.root);
    const restored = await this.restoreClusters();
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
        secret: this.o.nodeSecret,
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
    const found = this.discover(this.o.nodes);
    for (const c of restored) {
      // Until its nodes (those on record and the configured ones) are reattached, a reconnecting
      // client waits: it must not take jobs still running there for lost.
      c.restoring = Promise.all([this.reattachAll(c), found]).then(() => {
        c.restoring = null;
      });
    }
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

  /**
   * Stop serving. Computations are not closed: their records, files and undelivered results
   * stay on disk and their nodes keep running their jobs, so a scheduler started again (without
   * `--clean`) takes them up; otherwise nodes close them after their zombie interval.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.udp?.close();
    const closing = this.listener?.close();
    for (const c of this.clusters.values()) {
      if (c.zombieTimer) clearTimeout(c.zombieTimer);
      for (const r of c.unacked.values()) c.stored.save(r);
      for (const l of c.links.values()) l.destroy();
    }
    for (const s of this.sessions) {
      if (s.pulseTimer) clearInterval(s.pulseTimer);
      s.conn.close();
    }
    await Promise.all(
      [...this.clusters.values()].map(async (c) => {
        await c.stored.settled();
        await c.saving;
        await c.files.close();
      }),
    );
    await closing;
  }

  /** Take up the computations a previous scheduler left (see the module docs). */
  private async restoreClusters(): Promise<SchedCluster[]> {
    const out: SchedCluster[] = [];
    for (const e of await fs.readdir(this.root, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const dir = path.join(this.root, e.name);
      const rec = await readClusterRecord(dir);
      if (!rec || this.clusters.has(rec.spec.computeId)) {
        this.log.warn(`removing ${dir}: no readable computation record (a client that never scheduled?)`);
        await fs.rm(dir, { recursive: true, force: true });
        continue;
      }
      const c = this.newCluster(rec.spec, dir, null, {
        allocs: rec.allocs,
        exclusive: rec.exclusive,
        nodeToken: rec.nodeToken,
        created: rec.created,
      });
      c.restored = true;
      c.toldWaiting = true;
      for (const k of rec.nodes) c.nodeKeys.add(k);
      this.clusters.set(c.computeId, c);
      this.sched.addCluster(c.computeId);
      out.push(c);
    }
    out.sort((a, b) => a.created - b.created);
    for (const c of out) {
      c.state = 'waiting';
      this.waiting.push(c);
      this.armZombie(c);
      this.log.info(
        `restored computation ${c.spec.name} (${c.computeId}) with nodes ${[...c.nodeKeys].join(', ')}`,
      );
    }
    this.admit();
    return out;
  }

  /** Reconnect a restored computation to the nodes it was set up on. */
  private async reattachAll(c: SchedCluster): Promise<void> {
    await Promise.allSettled(
      [...c.nodeKeys].map(async (key) => {
        const { host, port } = this.parseHost(key);
        await this.probe(host, port);
        const n = this.nodes.get(key);
        if (n) await this.attach(c, n);
        else this.log.warn(`${c.spec.name}: node ${key} is not reachable; its jobs there are not known yet`);
      }),
    );
  }

  private saveRecord(c: SchedCluster): void {
    const rec = {
      v: 1 as const,
      spec: c.spec,
      nodeToken: c.nodeSpec.token,
      allocs: c.allocSpecs,
      nodes: [...c.nodeKeys],
      exclusive: c.exclusive,
      created: c.created,
    };
    c.saving = c.saving
      .then(() => (c.state === 'closed' ? undefined : writeClusterRecord(c.files.dir, rec)))
      .catch((e: Error) => this.log.warn(`cannot save the record of ${c.spec.name}: ${e.message}`));
  }

  // --- nodes ----------------------------------------------------------------------------

  private parseHost(spec: string): { host: string; port: number } {
    const m = /^(.*):(\d+)$/.exec(spec);
    return m ? { host: m[1], port: Number(m[2]) } : { host: spec, port: this.o.nodePort };
  }

  /**
   * Find nodes: explicit ones are probed over TCP, wildcards by broadcast. Resolves when the
   * explicit ones have been probed (and the computations attached there).
   */
  private async discover(specs: string[]): Promise<void> {
    let broadcast = false;
    const probes: Promise<void>[] = [];
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
        probes.push(this.probe(address, port));
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
    await Promise.all(probes);
  }

  /**
   * Learn a node's CPUs and name, then attach every scheduled computation there. Resolves when
   * that is done (concurrent calls for one node share the work).
   */
  private probe(host: string, port: number): Promise<void> {
    const key = `${host}:${port}`;
    if (this.nodes.has(key) || this.stopping) return Promise.resolve();
    let p = this.probing.get(key);
    if (!p) {
      p = this.doProbe(host, port).finally(() => this.probing.delete(key));
      this.probing.set(key, p);
    }
    return p;
  }

  private async doProbe(host: string, port: number): Promise<void> {
    const key = `${host}:${port}`;
    let n: NodeEntry;
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
      n = { key, host, port, info: NodeInfoSchema.parse(info) };
    } catch (e) {
      this.tried.set(key, errorMessage(e));
      return;
    }
    this.nodes.set(key, n);
    this.sched.addNode(key, jobsInFlight(n.info.cpus));
    this.tried.set(key, 'found');
    await Promise.all([...this.clusters.values()].map((c) => this.attach(c, n)));
  }

  /**
   * Use a node for a scheduled computation: reconnect if the computation may have been set up
   * there before (after a restart — whose record may lag behind — or a lost node), otherwise
   * set it up.
   */
  private attach(c: SchedCluster, n: NodeEntry): Promise<void> {
    if (c.state !== 'scheduled' || c.links.has(n.key)) return c.attaching.get(n.key) ?? Promise.resolve();
    let p = c.attaching.get(n.key);
    if (!p) {
      const before = c.restored || c.nodeKeys.has(n.key);
      p = (before ? this.reattach(c, n) : this.ensureLink(c, n)).finally(() => c.attaching.delete(n.key));
      c.attaching.set(n.key, p);
    }
    return p;
  }

  private newLink(c: SchedCluster, n: NodeEntry): NodeLink {
    return new NodeLink({
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
  }

  private statsOf(c: SchedCluster, key: string): NodeStats {
    let st = c.stats.get(key);
    if (!st) {
      st = { jobsDone: 0, cpuTime: 0, busy: 0 };
      c.stats.set(key, st);
    }
    return st;
  }

  /** The link is ready: let the scheduler use it and tell the client. */
  private linkReady(c: SchedCluster, n: NodeEntry, link: NodeLink): void {
    this.sched.addNode(n.key, jobsInFlight(n.info.cpus));
    this.sched.allot(n.key, c.computeId, jobsInFlight(link.cpus));
    this.statsOf(c, n.key);
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
      const st = this.statsOf(c, n.key);
      for (const uid of [...r.running, ...r.queued]) {
        if (c.jobs.has(uid)) continue;
        c.jobs.set(uid, { uid, args: new Uint8Array(0), timeout: 0, recovered: true });
        this.sched.adopt(this.jobKey(c, uid), c.computeId, n.key);
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
        this.saveRecord(c);
        await this.ensureLink(c, n);
        return;
      }
      this.tried.set(n.key, `${c.spec.name}: ${errorMessage(e)}`);
      this.log.warn(`computation ${c.spec.name} not reattached on ${n.key}: ${errorMessage(e)}`);
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
      this.saveRecord(c);
      this.linkReady(c, n, link);
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
        const key = this.jobKey(c, m.uid);
        if (this.sched.nodeOf(key) === link.key) this.sched.done(key);
        if (!c.jobs.delete(m.uid)) {
          // Sent again after a reconnect: still waiting for the client's acknowledgement.
          if (c.unacked.has(m.uid)) c.ackTo.set(m.uid, link);
          // After a restart the scheduler cannot tell a result the client has from one it never
          // got: the client ignores duplicates.
          else if (c.restored) {
            c.ackTo.set(m.uid, link);
            this.deliver(c, { ...m, computeId: c.computeId });
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

  /**
   * Hand a result to the client (kept until it acknowledges). Results the client is not there
   * to take, and results the scheduler made itself (`made`: no node holds them), go to disk.
   */
  private deliver(c: SchedCluster, r: JobResult, made = false): void {
    c.unacked.set(r.uid, r);
    const conn = c.session?.conn;
    if (conn && !conn.closed) {
      conn.send({ t: 'result', ...r });
      if (made) c.stored.save(r);
    } else c.stored.save(r);
  }

  /** The client has a result: forget it here, and let the node that ran the job forget it too. */
  private acknowledged(c: SchedCluster, uid: number): void {
    c.unacked.delete(uid);
    c.stored.drop(uid);
    const link = c.ackTo.get(uid);
    if (link) {
      c.ackTo.delete(uid);
      link.ack(uid);
    }
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
    if (c.reentrant && !job.pinned && !job.recovered) {
      this.sched.resubmit({ uid: key, cluster: c.computeId });
    } else {
      c.jobs.delete(uid);
      this.deliver(
        c,
        this.madeResult(c, uid, 'Abandoned', `node ${nodeKey}: ${why}`, nodeKey.split(':')[0]),
        true,
      );
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
      for (const r of c.unacked.values()) c.stored.save(r);
      this.armZombie(c);
    }
  }

  /** Close a computation whose client stays away for `zombieInterval` minutes. */
  private armZombie(c: SchedCluster): void {
    if (c.zombieTimer) clearTimeout(c.zombieTimer);
    c.zombieTimer = null;
    if (this.stopping) return;
    c.zombieTimer = setTimeout(() => {
      c.zombieTimer = null;
      if (c.session) return;
      this.log.warn(`computation ${c.spec.name} (${c.computeId}): its client stayed away; closing it`);
      void this.closeCluster(c, true);
    }, this.o.zombieInterval * 60_000);
    c.zombieTimer.unref();
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
        if (c && c.session === s) for (const u of m.uids) this.acknowledged(c, u);
        return;
      }
      case 'status':
        return this.status(this.own(s, m.computeId));
      case 'allocateNode': {
        const c = this.own(s, m.computeId);
        c.allocs.unshift(...m.nodes.map((n) => this.toAlloc(n)));
        c.allocSpecs.unshift(...m.nodes);
        if (c.state !== 'files') this.saveRecord(c);
        void this.discover(m.nodes.map((n) => (n.port ? `${n.host}:${n.port}` : n.host)));
        for (const n of this.nodes.values()) void this.attach(c, n);
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
    for (const f of spec.files)
      if (!safeJoin(this.root, f.path)) throw new ReplyError(`invalid file path ${f.path}`);
    const dir = safeJoin(this.root, spec.computeId.replace(/[^A-Za-z0-9_-]/g, '_'))!;
    await fs.mkdir(dir, { recursive: true });
    const c = this.newCluster(spec, dir, s, {
      allocs: m.nodes ?? [{ host: '*', cpus: 0 }],
      exclusive: m.exclusive ?? false,
      nodeToken: newId(16),
      created: Date.now(),
    });
    this.clusters.set(c.computeId, c);
    s.clusters.add(c.computeId);
    this.log.info(`computation ${spec.name} (${spec.computeId}) from ${s.address}`);
    return { cpus: 0, have: [] };
  }

  private newCluster(
    spec: ComputeSpec,
    dir: string,
    session: ClientSession | null,
    o: { allocs: NodeAllocSpec[]; exclusive: boolean; nodeToken: string; created: number },
  ): SchedCluster {
    return {
      computeId: spec.computeId,
      token: spec.token,
      spec,
      nodeSpec: {
        ...spec,
        token: o.nodeToken,
        pulseInterval: this.o.pulseInterval,
        cleanup: spec.cleanup || this.o.cleanupNodes,
      },
      allocs: o.allocs.map((n) => this.toAlloc(n)),
      allocSpecs: [...o.allocs],
      session,
      files: new FileSink(dir, this.o.maxFileSize),
      localFiles: spec.files.map((f) => ({ ...f, abs: safeJoin(dir, f.path) ?? path.join(dir, '_invalid') })),
      state: 'files',
      exclusive: o.exclusive,
      toldWaiting: false,
      created: o.created,
      links: new Map(),
      nodeKeys: new Set(),
      attaching: new Map(),
      restoring: null,
      restored: false,
      jobs: new Map(),
      unacked: new Map(),
      ackTo: new Map(),
      stored: new ResultStore(path.join(dir, '.dispy-results'), this.log),
      saving: Promise.resolve(),
      stats: new Map(),
      zombieTimer: null,
      idleWaiters: [],
      reentrant: spec.reentrant ?? false,
      submitted: 0,
    };
  }

  /** The files are there: the computation runs now, or waits for its turn (`exclusive`). */
  private async schedule(s: ClientSession, m: MessageOf<'schedule'>): Promise<HandlerResult> {
    const c = this.own(s, m.computeId);
    if (c.state !== 'files') throw new ReplyError('the computation was scheduled already');
    if (c.files.incomplete.length) throw new ReplyError(`files incomplete: ${c.files.incomplete.join(', ')}`);
    c.state = 'waiting';
    this.sched.addCluster(c.computeId);
    this.waiting.push(c);
    // On disk before the client is told: a restarted scheduler knows every computation it accepted.
    this.saveRecord(c);
    await c.saving;
    this.admit();
    if (c.state !== 'waiting') return {};
    c.toldWaiting = true;
    this.log.info(`computation ${c.spec.name} waits for its turn (exclusive)`);
    return { waiting: true };
  }

  /**
   * Admit waiting computations in order while the `exclusive` rules allow: an exclusive one
   * only when no other runs, any other only when no exclusive one runs.
   */
  private admit(): void {
    while (this.waiting.length > 0) {
      const c = this.waiting[0];
      if (c.state !== 'waiting') {
        this.waiting.shift();
        continue;
      }
      for (const x of this.clusters.values()) {
        if (x !== c && (x.state === 'scheduled' || x.state === 'closing') && (c.exclusive || x.exclusive))
          return;
      }
      this.waiting.shift();
      c.state = 'scheduled';
      if (c.toldWaiting) c.session?.conn.send({ t: 'scheduled', computeId: c.computeId });
      for (const n of this.nodes.values()) void this.attach(c, n);
      void this.discover(
        c.allocs
          .map((a) => (a.alloc.port ? `${a.alloc.host}:${a.alloc.port}` : a.alloc.host))
          .filter((h) => !isWildcard(h)),
      );
    }
  }

  private job(s: ClientSession, m: MessageOf<'job'>): HandlerResult {
    const c = this.clusters.get(m.computeId);
    if (!c || c.session !== s || (c.state !== 'scheduled' && c.state !== 'waiting')) {
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
        this.deliver(
          c,
          this.madeResult(c, m.uid, 'Abandoned', `node ${m.node} is not known to the scheduler`),
          true,
        );
        return;
      }
    }
    c.submitted++;
    c.jobs.set(m.uid, { uid: m.uid, args: m.args, timeout: m.timeout ?? 0, ...(pinned ? { pinned } : {}) });
    this.sched.submit({ uid: this.jobKey(c, m.uid), cluster: c.computeId, ...(pinned ? { pinned } : {}) });
    this.dispatch();
  }

  private cancel(s: ClientSession, m: MessageOf<'cancel'>): HandlerResult {
    this.cancelJob(this.own(s, m.computeId), m.uid);
  }

  /** Cancel a job: a queued one ends `Cancelled` here; a running one is stopped on its node. */
  private cancelJob(c: SchedCluster, uid: number): 'queued' | 'running' | 'unknown' {
    const key = this.jobKey(c, uid);
    const where = this.sched.cancel(key);
    if (where === 'queued') {
      c.jobs.delete(uid);
      this.deliver(c, this.madeResult(c, uid, 'Cancelled'), true);
      if (c.jobs.size === 0) for (const w of c.idleWaiters.splice(0)) w();
    } else if (where === 'running') {
      const node = this.sched.nodeOf(key);
      if (node) c.links.get(node)?.cancel(uid);
    }
    return where;
  }

  /** A result the scheduler reports itself (the job never reached a node, or its node is gone). */
  private madeResult(
    c: SchedCluster,
    uid: number,
    status: JobResult['status'],
    exception?: string,
    ipAddr = '',
  ): JobResult {
    const now = Date.now() / 1000;
    return {
      computeId: c.computeId,
      uid,
      status,
      stdout: '',
      stderr: '',
      ...(exception !== undefined ? { exception } : {}),
      startTime: now,
      endTime: now,
      ipAddr,
    };
  }

  /**
   * A client (reconnecting, or `faultRecoverJobs`) takes the computation over: it gets the
   * results it has not acknowledged (from memory and disk) and which jobs still run or wait.
   * A restored computation answers once it has reconnected to its nodes.
   */
  private async recover(s: ClientSession, m: MessageOf<'recover'>): Promise<HandlerResult> {
    const c = this.clusters.get(m.computeId);
    if (!c || c.state === 'closed') throw new ReplyError(`unknown computation ${m.computeId}`, 'unknown');
    if (c.token !== m.token) throw new ReplyError('wrong computation token', 'auth');
    if (c.restoring) await c.restoring;
    if (c.session && c.session !== s) c.session.clusters.delete(c.computeId);
    c.session = s;
    s.clusters.add(c.computeId);
    if (c.zombieTimer) clearTimeout(c.zombieTimer);
    c.zombieTimer = null;
    for (const r of await c.stored.load((uid) => c.unacked.has(uid))) c.unacked.set(r.uid, r);
    const running: number[] = [];
    const queued: number[] = [];
    for (const uid of c.jobs.keys()) {
      (this.sched.stateOf(this.jobKey(c, uid)) === 'running' ? running : queued).push(uid);
    }
    // A client that reconnects to a restarted scheduler learns the nodes (and its turn) again.
    if (c.state === 'scheduled' && c.toldWaiting) s.conn.send({ t: 'scheduled', computeId: c.computeId });
    for (const [key, link] of c.links) {
      const n = this.nodes.get(key);
      if (n && link.state === 'ready')
        s.conn.send({
          t: 'node',
          computeId: c.computeId,
          status: 'Initialized',
          node: this.report(c, n, link),
        });
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
    return this.cancelJob(c, uid) !== 'unknown';
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
    c.state = 'closed';
    await c.saving;
    await c.stored.settled();
    await fs.rm(c.files.dir, { recursive: true, force: true });
    this.clusters.delete(c.computeId);
    c.session?.clusters.delete(c.computeId);
    this.log.info(`computation ${c.spec.name} (${c.computeId}) closed`);
    this.admit();
  }
}
