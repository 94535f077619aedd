/**
 * `JobCluster`: a computation, the nodes that run it, and a scheduler in this process. Use it
 * when one client program at a time uses the nodes (otherwise `SharedJobCluster` with
 * dispyscheduler).
 *
 * The constructor returns at once; nodes are found and set up in the background (explicit
 * hosts are contacted directly, wildcard patterns by UDP broadcast on the local network) and
 * jobs wait in a queue until a node is ready. If no node is ready within `nodeTimeout`
 * seconds, queued jobs end `Abandoned` with an error that says what was tried — never a
 * silent hang.
 *
 * @example
 * function compute(n: number) {
 *   return n * n;
 * }
 * const cluster = new JobCluster(compute, { nodes: ['127.0.0.1'], secret: 's3cret' });
 * const jobs = [1, 2, 3].map((n) => cluster.submit(n));
 * for (const job of jobs) console.log(await job); // 1, 4, 9
 * await cluster.close();
 */
import dns from 'node:dns/promises';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { DiscoError, errorMessage } from '../../common/errors.js';
import { broadcastAddresses, isIpv4, isWildcard } from '../discovery/addresses.js';
import { UdpEndpoint } from '../discovery/udp.js';
import { encodeData } from '../protocol/codec.js';
import {
  DEAD_PULSES,
  DEFAULT_CLIENT_PORT,
  DEFAULT_NODE_PORT,
  DEFAULT_PULSE_INTERVAL,
  DISPY_PROTOCOL_VERSION,
  JobStatus,
  jobsInFlight,
  NodeStatus,
} from '../protocol/constants.js';
import type { ComputeSpec, Datagram, Message } from '../protocol/messages.js';
import { SchedulerState } from '../scheduler/policy.js';
import {
  type ArgsOf,
  ClusterBase,
  type ClusterCommonOptions,
  DispyNoNodesError,
  type ResultOf,
} from './cluster-base.js';
import type { BuiltComputation } from './computation.js';
import type { DispyJob } from './dispy-job.js';
import { DispyNode, type NodeAllocate, type NodeSpec, toNodeAllocs } from './dispy-node.js';
import { CLIENT_ID } from './identity.js';
import { type LinkHandler, NodeLink } from './node-link.js';

const CLUSTER = 'c';

export interface JobClusterOptions<R> extends ClusterCommonOptions<R> {
  /** UDP port where node announcements are heard (default 51347; 0 = none). */
  port?: number;
  /** Port nodes serve on (default 51348). */
  nodePort?: number;
  /** Seconds between node pulses; a node is presumed dead after 5 × this without news (default 10). */
  pulseInterval?: number;
  /** Seconds between repeated discovery pings (default: none after the first). */
  pingInterval?: number;
  /** UDP discovery for wildcard node patterns (default true). */
  discovery?: boolean;
  /** Broadcast addresses for discovery (default: those of the interface of `ipAddr`, or all). */
  broadcast?: string[];
}

export class JobCluster<C extends ((...args: never[]) => unknown) | string> extends ClusterBase<C> {
  private readonly opts: JobClusterOptions<ResultOf<C>>;
  private readonly sched = new SchedulerState('earliest-job');
  private readonly links = new Map<string, NodeLink>();
  private readonly allocs: NodeAllocate[];
  private readonly nodePort: number;
  private readonly pulseSec: number;
  private built: BuiltComputation | null = null;
  private spec: ComputeSpec | null = null;
  private readonly starting: Promise<void>;
  private startError: Error | null = null;
  private udp: UdpEndpoint | null = null;
  private announceUdp: UdpEndpoint | null = null;
  private readonly tried = new Map<string, string>();
  private nodeTimer: NodeJS.Timeout | null = null;
  private liveTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly pinnedOf = new Map<number, string>();
  private readyWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private readonly reconnecting = new Set<string>();

  constructor(computation: C, opts: JobClusterOptions<ResultOf<C>> = {}) {
    super(computation, opts);
    this.opts = opts;
    this.allocs = toNodeAllocs(opts.nodes);
    this.nodePort = opts.nodePort ?? DEFAULT_NODE_PORT;
    this.pulseSec = opts.pulseInterval ?? DEFAULT_PULSE_INTERVAL;
    if (!(this.pulseSec >= 0.05 && this.pulseSec <= 1000)) {
      throw new DiscoError(`pulseInterval must be between 0.05 and 1000 seconds, got ${this.pulseSec}`);
    }
    this.sched.addCluster(CLUSTER);
    this.openRecoverFile('node');
    this.starting = this.start().catch((e: Error) => {
      this.startError = e;
      this.log.error(e.message);
      this.failQueued(e.message);
    });
  }

  /** Resolves once at least one node is ready; rejects with {@link DispyNoNodesError} after `nodeTimeout`. */
  ready(): Promise<void> {
    if (this.readyLinks() > 0) return Promise.resolve();
    if (this.startError) return Promise.reject(this.startError);
    return new Promise((resolve, reject) => {
      this.readyWaiters.push({ resolve, reject });
      this.armNodeTimer();
    });
  }

  // --- start-up and discovery --------------------------------------------------------------

  private async start(): Promise<void> {
    ({ built: this.built, spec: this.spec } = await this.buildSpec(this.pulseSec));
    this.liveTimer = setInterval(() => this.checkLiveness(), Math.max(50, (this.pulseSec * 1000) / 2));
    this.liveTimer.unref();
    if (this.opts.discovery !== false && this.allocs.some((a) => isWildcard(a.host))) await this.openUdp();
    await this.discover(this.allocs);
    if (this.opts.pingInterval && this.opts.pingInterval > 0) {
      this.pingTimer = setInterval(() => void this.discover(this.allocs), this.opts.pingInterval * 1000);
      this.pingTimer.unref();
    }
  }

  private async openUdp(): Promise<void> {
    const onDatagram = (d: Datagram, from: { address: string }) => {
      if (d.t !== 'pong' || d.v !== DISPY_PROTOCOL_VERSION) return;
      const host = d.ipAddr || from.address;
      const alloc = this.allocs.find((a) => a.matches(host, d.name));
      if (!alloc) return;
      if (d.busy) {
        this.tried.set(`${host}:${d.port}`, 'busy with another client');
        return;
      }
      void this.addNode(host, d.port, alloc);
    };
    try {
      const secret = this.opts.secret ?? '';
      const onRejected = (from: { address: string }) =>
        this.log.debug(`dropped a discovery datagram from ${from.address}: bad signature`);
      this.udp = await UdpEndpoint.open({ port: 0, bindAddr: '0.0.0.0', onDatagram, secret, onRejected });
      const port = this.opts.port ?? DEFAULT_CLIENT_PORT;
      if (port > 0) {
        this.announceUdp = await UdpEndpoint.open({ port, onDatagram, secret, onRejected }).catch(
          (e: Error) => {
            this.log.warn(`cannot listen for node announcements on UDP port ${port}: ${e.message}`);
            return null;
          },
        );
      }
    } catch (e) {
      this.log.warn(`UDP discovery unavailable: ${errorMessage(e)}`);
    }
  }

  private broadcastTargets(): string[] {
    return this.opts.broadcast ?? broadcastAddresses(this.opts.ipAddr);
  }

  /**
   * Contact nodes: explicit hosts over TCP, wildcard patterns by broadcast. Explicit hosts also
   * get a unicast ping: a dispynetrelay there broadcasts it into its networks.
   */
  private async discover(allocs: NodeAllocate[]): Promise<void> {
    let broadcast = false;
    const unicast: string[] = [];
    await Promise.all(
      allocs.map(async (a) => {
        if (isWildcard(a.host)) {
          broadcast = true;
          return;
        }
        let address = a.host;
        if (!isIpv4(address)) {
          try {
            address = (await dns.lookup(a.host, { family: 4 })).address;
          } catch (e) {
            this.tried.set(a.host, `cannot resolve: ${errorMessage(e)}`);
            return;
          }
        }
        if (a.port === undefined || a.port === this.nodePort) unicast.push(address);
        // In the background: a slow node must not hold up the others (or close()).
        void this.addNode(address, a.port ?? this.nodePort, a);
      }),
    );
    if (!this.udp) {
      if (broadcast) this.tried.set('broadcast', 'UDP discovery is off or unavailable');
      return;
    }
    const ping: Datagram = {
      t: 'ping',
      v: DISPY_PROTOCOL_VERSION,
      replyAddr: this.opts.extIpAddr ?? '',
      replyPort: this.udp.port,
      clientId: CLIENT_ID,
    };
    if (unicast.length) this.udp.send(ping, this.nodePort, unicast);
    if (broadcast) {
      const to = this.broadcastTargets();
      if (to.length === 0)
        this.tried.set('broadcast', 'no broadcast address (DISPY_BROADCAST=none or loopback only)');
      else {
        this.tried.set(
          `broadcast ${to.join(', ')}:${this.nodePort}`,
          'no answer (nodes answer only pings signed with their secret, if they have one)',
        );
        this.udp.send(ping, this.nodePort, to);
      }
    }
  }

  /** Connect to a node, send the computation, run setup; then it takes jobs. */
  private async addNode(host: string, port: number, alloc: NodeAllocate): Promise<void> {
    const key = `${host}:${port}`;
    if (this.links.has(key) || this.closed || this.closing || !this.spec) return;
    const link = new NodeLink({
      ...this.linkCredentials(),
      host,
      port,
      spec: this.spec,
      files: this.built!.files,
      handler: this.linkHandler,
    });
    this.links.set(key, link);
    this.tried.set(key, 'connecting: no handshake yet (a TLS/plain mismatch, or a firewall?)');
    try {
      const info = await link.connect();
      const match =
        this.allocs.find((a) => a.matches(info.ipAddr, info.name) || a.matches(host, info.name)) ?? alloc;
      const cpus = match.allocate(info.ipAddr, info.name, info.cpus, info.platform);
      if (cpus <= 0) throw new DiscoError('not allocated (NodeAllocate gave 0 CPUs)');
      const setupArgs = match.setupArgs.length ? encodeData(match.setupArgs, 'setup arguments') : undefined;
      const allotted = await link.setUp(cpus, setupArgs);
      if (this.closed || this.closing) {
        await link.close(true).catch(() => undefined);
        return;
      }
      this.recoverFile?.addNode(host, port);
      const node = new DispyNode(info.ipAddr, port, info.name, allotted);
      node.availCpus = info.cpus;
      node.platform = info.platform;
      this.nodes.set(key, node);
      this.sched.addNode(key, jobsInFlight(allotted));
      this.sched.allot(key, CLUSTER, jobsInFlight(allotted));
      this.tried.set(key, 'ready');
      this.log.info(`node ${info.name} (${key}) ready with ${allotted} CPUs`);
      this.notify(NodeStatus.Initialized, node, null);
      this.disarmNodeTimer();
      for (const w of this.readyWaiters.splice(0)) w.resolve();
      this.dispatch();
    } catch (e) {
      this.links.delete(key);
      link.destroy();
      this.tried.set(key, errorMessage(e));
      this.log.warn(`node ${key} not used: ${errorMessage(e)}`);
    }
  }

  private readyLinks(): number {
    let n = 0;
    for (const l of this.links.values()) if (l.state === 'ready') n++;
    return n;
  }

  private triedSummary(): string {
    if (this.tried.size === 0) return 'nothing was tried (no nodes given)';
    return [...this.tried].map(([k, v]) => `${k}: ${v}`).join('; ');
  }

  private armNodeTimer(): void {
    if (this.nodeTimer || this.readyLinks() > 0 || this.closed) return;
    const sec = this.opts.nodeTimeout ?? 10;
    this.nodeTimer = setTimeout(() => {
      this.nodeTimer = null;
      if (this.readyLinks() > 0) return;
      const msg = `no dispy node was ready within ${sec} s for ${this.name}; tried: ${this.triedSummary()}`;
      this.log.error(msg);
      this.failQueued(msg);
      const err = new DispyNoNodesError(msg);
      for (const w of this.readyWaiters.splice(0)) w.reject(err);
    }, sec * 1000);
    // While waiting, keep trying explicit nodes (they may start late).
    if (!this.retryTimer) {
      this.retryTimer = setInterval(() => {
        if (this.readyLinks() > 0 || !this.nodeTimer) {
          clearInterval(this.retryTimer!);
          this.retryTimer = null;
          return;
        }
        void this.discover(this.allocs);
      }, 1000);
      this.retryTimer.unref();
    }
  }

  private disarmNodeTimer(): void {
    if (this.nodeTimer) clearTimeout(this.nodeTimer);
    this.nodeTimer = null;
  }

  /** End all queued jobs (no node to run them). */
  private failQueued(reason: string): void {
    for (const job of [...this.jobs.values()]) {
      if (
        this.sched.stateOf(String(job.uid)) === 'queued' ||
        this.sched.stateOf(String(job.uid)) === undefined
      ) {
        this.sched.cancel(String(job.uid));
        this.endJob(job, JobStatus.Abandoned, `DispyNoNodesError: ${reason}`);
      }
    }
  }

  // --- jobs -----------------------------------------------------------------------------

  protected enqueue(job: DispyJob<ResultOf<C>>, _args: Uint8Array, node: string | undefined): void {
    let pinned: string | undefined;
    if (node !== undefined) {
      pinned = this.nodeKey(node);
      if (!pinned) {
        this.endJob(job, JobStatus.Abandoned, `node ${node} is not in the cluster`);
        return;
      }
      this.pinnedOf.set(job.uid, pinned);
    }
    if (this.startError) {
      this.endJob(job, JobStatus.Abandoned, this.startError.message);
      return;
    }
    this.sched.submit({ uid: String(job.uid), cluster: CLUSTER, ...(pinned ? { pinned } : {}) });
    this.dispatch();
    if (this.readyLinks() === 0) this.armNodeTimer();
  }

  protected override refreshNodeStats(): void {
    for (const [key, link] of this.links) {
      const n = this.nodes.get(key);
      if (n) {
        n.tx = link.tx;
        n.rx = link.rx;
      }
    }
  }

  private nodeKey(node: string): string | undefined {
    if (this.links.has(node)) return node;
    for (const [k, n] of this.nodes) if (n.ipAddr === node || n.name === node) return k;
    return undefined;
  }

  private dispatch(): void {
    for (const a of this.sched.next()) {
      const uid = Number(a.uid);
      const job = this.jobs.get(uid);
      const link = this.links.get(a.node);
      const args = this.argBytes.get(uid);
      if (!job || !args || !link?.sendJob(uid, args, job.timeout)) {
        this.sched.done(a.uid);
        if (job && args) this.sched.resubmit({ uid: a.uid, cluster: CLUSTER });
        continue;
      }
      job.status = JobStatus.Running;
      job.startTime = Date.now() / 1000;
      job.ipAddr = link.info?.ipAddr;
      const node = this.nodes.get(a.node);
      if (node) node.busy++;
      this.notify(JobStatus.Running, node ?? null, job);
    }
  }

  private readonly linkHandler: LinkHandler = {
    onMessage: (link, m) => this.onNodeMessage(link, m),
    onLost: (link, err) => this.onLost(link, err),
  };

  private onNodeMessage(link: NodeLink, m: Message): void {
    const node = this.nodes.get(link.key);
    if (node) node.updateTime = Date.now() / 1000;
    switch (m.t) {
      case 'result': {
        if (m.computeId !== this.computeId) return;
        link.ack(m.uid);
        this.resultArrived(link, m);
        return;
      }
      case 'provisional':
        if (m.computeId === this.computeId) this.applyProvisional(m);
        return;
      case 'xfer':
        this.saveFile(m, (done) => link.conn?.send(done), link.key);
        return;
      case 'pulse':
        return;
      case 'reject': {
        const job = this.jobs.get(m.uid);
        this.log.warn(`node ${link.key} rejected job ${m.uid}: ${m.reason}`);
        if (job) {
          this.sched.done(String(m.uid));
          if (node) node.busy--;
          if (m.retry) this.sched.resubmit({ uid: String(m.uid), cluster: CLUSTER });
          else this.endJob(job, JobStatus.Terminated, `node ${link.key} rejected the job: ${m.reason}`);
        }
        if (m.retry) this.nodeDead(link, `the node lost the computation (${m.reason})`);
        return;
      }
      case 'closed':
        this.nodeDead(link, m.reason);
        return;
      case 'error':
        this.log.warn(`node ${link.key}: ${m.message}`);
        return;
      default:
        return;
    }
  }

  private resultArrived(link: NodeLink, r: Extract<Message, { t: 'result' }>): void {
    const uid = String(r.uid);
    if (this.sched.nodeOf(uid) === link.key) {
      this.sched.done(uid);
      const node = this.nodes.get(link.key);
      if (node) node.busy = Math.max(0, node.busy - 1);
    }
    this.pinnedOf.delete(r.uid);
    this.applyResult(r, this.nodes.get(link.key));
    this.dispatch();
  }

  // --- liveness ---------------------------------------------------------------------------

  private deadlineMs(): number {
    return DEAD_PULSES * this.pulseSec * 1000;
  }

  private checkLiveness(): void {
    const now = Date.now();
    for (const link of [...this.links.values()]) {
      if ((link.state === 'ready' || link.state === 'lost') && now - link.lastHeard > this.deadlineMs()) {
        this.nodeDead(
          link,
          `no message for ${((now - link.lastHeard) / 1000).toFixed(1)} s (pulse interval ${this.pulseSec} s)`,
        );
      }
    }
  }

  private onLost(link: NodeLink, err: Error | null): void {
    if (this.closed) return;
    this.log.warn(`lost the connection to node ${link.key}${err ? `: ${err.message}` : ''}; reconnecting`);
    this.sched.allot(link.key, CLUSTER, 0);
    if (this.reconnecting.has(link.key)) return;
    this.reconnecting.add(link.key);
    void this.reconnectLoop(link);
  }

  private async reconnectLoop(link: NodeLink): Promise<void> {
    const step = Math.min(1000, this.pulseSec * 1000);
    try {
      while (this.links.get(link.key) === link && link.state === 'lost' && !this.closed) {
        await new Promise((r) => setTimeout(r, step));
        if (this.links.get(link.key) !== link || link.state !== 'lost') return;
        try {
          const r = await link.reconnect();
          if (!r.sameInstance) {
            this.nodeDead(link, 'the node was restarted (its jobs are lost)');
            return;
          }
          const known = new Set([...r.running, ...r.queued]);
          for (const res of r.results) {
            link.ack(res.uid);
            known.add(res.uid);
            this.resultArrived(link, { t: 'result', ...res });
          }
          for (const uid of this.sched.runningOn(link.key)) {
            if (!known.has(Number(uid))) this.jobLost(link.key, uid, 'the node lost it');
          }
          this.sched.allot(link.key, CLUSTER, jobsInFlight(link.cpus));
          this.log.info(`reconnected to node ${link.key}`);
          this.dispatch();
          return;
        } catch (e) {
          if (link.state !== 'lost') link.state = 'lost';
          this.log.debug(`reconnect to ${link.key} failed: ${errorMessage(e)}`);
        }
      }
    } finally {
      this.reconnecting.delete(link.key);
    }
  }

  /** A running job's node is gone: resubmit it (reentrant) or end it `Abandoned`. */
  private jobLost(nodeKey: string, uid: string, why: string): void {
    const job = this.jobs.get(Number(uid));
    this.sched.done(uid);
    if (!job) return;
    const pinned = this.pinnedOf.get(job.uid);
    if (this.opts.reentrant && !pinned) {
      job.status = JobStatus.Created;
      job.ipAddr = undefined;
      this.sched.resubmit({ uid, cluster: CLUSTER });
    } else {
      this.endJob(job, JobStatus.Abandoned, `node ${nodeKey}: ${why}`);
    }
  }

  private nodeDead(link: NodeLink, reason: string): void {
    if (this.links.get(link.key) !== link) return;
    this.log.warn(`node ${link.key} presumed dead: ${reason}`);
    this.links.delete(link.key);
    link.destroy();
    const node = this.nodes.get(link.key);
    this.nodes.delete(link.key);
    if (node) {
      node.busy = 0;
      this.notify(NodeStatus.Dead, node, null);
    }
    const pinnedQueued = this.sched.pinnedTo(link.key);
    for (const a of this.sched.removeNode(link.key)) {
      const job = this.jobs.get(Number(a.uid));
      if (!job) continue;
      if (this.opts.reentrant && !this.pinnedOf.has(job.uid)) {
        job.status = JobStatus.Created;
        job.ipAddr = undefined;
        this.sched.resubmit({ uid: a.uid, cluster: CLUSTER });
      } else {
        this.endJob(job, JobStatus.Abandoned, `node ${link.key} presumed dead: ${reason}`);
      }
    }
    for (const uid of pinnedQueued) {
      this.sched.cancel(uid);
      const job = this.jobs.get(Number(uid));
      if (job) this.endJob(job, JobStatus.Abandoned, `node ${link.key} presumed dead: ${reason}`);
    }
    this.tried.set(link.key, `dead: ${reason}`);
    this.dispatch();
    if (this.sched.queued(CLUSTER) > 0 && this.readyLinks() === 0) this.armNodeTimer();
  }

  // --- user operations ------------------------------------------------------------------

  /**
   * Cancel a job: a queued one ends `Cancelled` at once; a running one is stopped on its node
   * and ends `Terminated`. Returns 0, or -1 if the job is already done or unknown.
   */
  cancel(job: DispyJob<unknown>): number {
    const uid = String(job.uid);
    const mine = this.jobs.get(job.uid);
    if (!mine || mine !== job || job.done) return -1;
    const where = this.sched.cancel(uid);
    if (where === 'queued' || where === 'unknown') {
      this.endJob(mine, JobStatus.Cancelled);
      return 0;
    }
    const node = this.sched.nodeOf(uid);
    const link = node ? this.links.get(node) : undefined;
    if (!link) return -1;
    link.cancel(job.uid);
    return 0;
  }

  /** Send more ping/connection attempts to these nodes (adds no allocation). */
  async discoverNodes(nodes: NodeSpec | NodeSpec[]): Promise<void> {
    await this.starting;
    await this.discover(toNodeAllocs(nodes));
  }

  /** Add nodes to the cluster (and contact them). Returns 0, or -1 when closed. */
  async allocateNode(nodes: NodeSpec | NodeSpec[]): Promise<number> {
    if (this.closed || this.closing) return -1;
    await this.starting;
    const more = toNodeAllocs(nodes);
    this.allocs.unshift(...more);
    await this.discover(more);
    return 0;
  }

  private linkOf(node: string | DispyNode): NodeLink | undefined {
    const key = this.nodeKey(typeof node === 'string' ? node : `${node.ipAddr}:${node.port}`);
    return key ? this.links.get(key) : undefined;
  }

  /** Stop sending new jobs to a node (it stays set up). */
  deallocateNode(node: string | DispyNode): number {
    const link = this.linkOf(node);
    if (!link) return -1;
    this.sched.allot(link.key, CLUSTER, 0);
    return 0;
  }

  /** Close the computation on one node (runs cleanup there) and stop using it. */
  async closeNode(node: string | DispyNode, terminate = false): Promise<number> {
    const link = this.linkOf(node);
    if (!link) return -1;
    this.sched.allot(link.key, CLUSTER, 0);
    if (terminate) for (const uid of this.sched.runningOn(link.key)) link.cancel(Number(uid));
    while (!terminate && this.sched.running(link.key) > 0) await new Promise((r) => setTimeout(r, 50));
    this.links.delete(link.key);
    await link.close(terminate).catch((e) => this.log.warn(`closing ${link.key}: ${errorMessage(e)}`));
    const n = this.nodes.get(link.key);
    this.sched.removeNode(link.key);
    if (n) this.notify(NodeStatus.Closed, n, null);
    return 0;
  }

  /** Set the CPUs used on a node (negative: all but that many); returns the new count or -1. */
  async setNodeCpus(node: string | DispyNode, cpus: number): Promise<number> {
    const link = this.linkOf(node);
    if (!link) return -1;
    try {
      const n = await link.setCpus(cpus);
      this.sched.addNode(link.key, jobsInFlight(n));
      this.sched.allot(link.key, CLUSTER, jobsInFlight(n));
      const dn = this.nodes.get(link.key);
      if (dn) dn.cpus = n;
      this.dispatch();
      return n;
    } catch (e) {
      this.log.warn(`setNodeCpus ${link.key}: ${errorMessage(e)}`);
      return -1;
    }
  }

  /** Copy a file to a node's computation directory. Returns 0 or -1. */
  async sendFile(filePath: string, node: string | DispyNode): Promise<number> {
    const link = this.linkOf(node);
    if (!link) return -1;
    try {
      const abs = path.resolve(filePath);
      const st = await stat(abs);
      await link.sendFile(
        { abs, path: path.basename(abs), size: st.size, mtimeMs: st.mtimeMs, mode: st.mode & 0o777 },
        'sendFile',
      );
      return 0;
    } catch (e) {
      this.log.warn(`sendFile ${filePath} to ${link.key}: ${errorMessage(e)}`);
      return -1;
    }
  }

  /** Jobs running on a node (from this client's view, or asking the node). */
  async nodeJobs(node: string | DispyNode, fromNode = false): Promise<DispyJob<ResultOf<C>>[]> {
    const link = this.linkOf(node);
    if (!link) return [];
    const uids = fromNode ? (await link.jobs()).map(String) : this.sched.runningOn(link.key);
    return uids
      .map((u) => this.jobs.get(Number(u)))
      .filter((j): j is DispyJob<ResultOf<C>> => j !== undefined);
  }

  protected async doClose(opts: { timeout?: number; terminate?: boolean }): Promise<void> {
    await this.starting;
    let terminate = opts.terminate ?? false;
    if (!terminate) {
      const allDone = await this.wait(opts.timeout);
      if (!allDone) terminate = true;
    }
    if (terminate) {
      for (const job of [...this.jobs.values()]) {
        const where = this.sched.cancel(String(job.uid));
        if (where !== 'running') this.endJob(job, JobStatus.Cancelled, 'the cluster was closed');
      }
    }
    this.closed = true;
    this.disarmNodeTimer();
    for (const t of [this.liveTimer, this.pingTimer, this.retryTimer]) if (t) clearInterval(t);
    await Promise.all(
      [...this.links.values()].map((l) => {
        if (l.state !== 'ready') {
          l.destroy();
          return Promise.resolve();
        }
        return l.close(terminate).catch((e) => this.log.warn(`closing ${l.key}: ${errorMessage(e)}`));
      }),
    );
    // Jobs that were running on nodes when terminating end with the node's reply or here.
    for (const job of [...this.jobs.values()])
      this.endJob(job, JobStatus.Terminated, 'the cluster was closed');
    this.links.clear();
    this.udp?.close();
    this.announceUdp?.close();
    this.recoverFile?.remove();
  }
}

export type { ArgsOf, ResultOf };
