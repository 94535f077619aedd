/**
 * `SharedJobCluster`: like `JobCluster`, but the jobs go through a `dispyscheduler`, so several
 * client programs can use the same nodes at once. The scheduler decides where jobs run; this
 * client sends the computation, its files and the jobs over one connection and gets results,
 * provisional results, files and node updates back on it.
 *
 * If the connection drops (or the scheduler restarts), the client reconnects and takes the
 * computation back: results kept meanwhile arrive, jobs the scheduler no longer knows are sent
 * again (see `resume`). With `exclusive`, the computation runs only while no other does.
 *
 * @example
 * const cluster = new SharedJobCluster(compute, { schedulerNode: '10.0.0.1', secret: 's3cret' });
 * const job = cluster.submit(7);
 * console.log(await job);
 * await cluster.close();
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { DiscoError, errorMessage } from '../../common/errors.js';
import { RemoteError } from '../protocol/connection.js';
import {
  DEAD_PULSES,
  DEFAULT_PULSE_INTERVAL,
  DEFAULT_SCHEDULER_PORT,
  JobStatus,
  NodeStatus,
} from '../protocol/constants.js';
import type { Message, NodeReport } from '../protocol/messages.js';
import {
  allocSpecs,
  ClusterBase,
  type ClusterCommonOptions,
  DispyNoNodesError,
  type ResultOf,
} from './cluster-base.js';
import type { DispyJob } from './dispy-job.js';
import { DispyNode, type NodeSpec } from './dispy-node.js';
import { NodeLink, type RecoverReply } from './node-link.js';

export interface SharedJobClusterOptions<R> extends ClusterCommonOptions<R> {
  /** Host of dispyscheduler (default 127.0.0.1). */
  schedulerNode?: string;
  /** Its client port (default 51349). */
  schedulerPort?: number;
  /** Seconds between the scheduler's pulses (as it was started with); it is presumed dead after 5 ×. */
  pulseInterval?: number;
  /**
   * Run only while no other computation runs on the scheduler, and keep others from starting
   * while this one runs (they wait their turn, first come first served).
   */
  exclusive?: boolean;
}

interface Outgoing {
  uid: number;
  args: Uint8Array;
  timeout: number;
  node?: string;
}

export class SharedJobCluster<C extends ((...args: never[]) => unknown) | string> extends ClusterBase<C> {
  private readonly opts: SharedJobClusterOptions<ResultOf<C>>;
  private link: NodeLink | null = null;
  private outbox: Outgoing[] = [];
  private readonly starting: Promise<void>;
  private startError: Error | null = null;
  private nodeTimer: NodeJS.Timeout | null = null;
  private liveTimer: NodeJS.Timeout | null = null;
  /** Jobs handed to the scheduler and not finished (kept to send them again after its restart). */
  private readonly sent = new Map<number, Outgoing>();
  /** An `exclusive` rule holds the cluster back (until the scheduler's `scheduled`). */
  private waitingTurn = false;
  private readonly pulseSec: number;
  /** `host:port` of the scheduler. */
  private readonly where: string;

  constructor(computation: C, opts: SharedJobClusterOptions<ResultOf<C>> = {}) {
    super(computation, opts);
    this.opts = opts;
    this.pulseSec = opts.pulseInterval ?? DEFAULT_PULSE_INTERVAL;
    const host = opts.schedulerNode ?? '127.0.0.1';
    const port = opts.schedulerPort ?? DEFAULT_SCHEDULER_PORT;
    this.where = `${host}:${port}`;
    this.openRecoverFile('scheduler');
    this.recoverFile?.addNode(host, port);
    this.starting = this.start(host, port).catch((e: Error) => {
      this.startError = new DiscoError(`cannot use dispyscheduler at ${host}:${port}: ${e.message}`);
      this.log.error(this.startError.message);
      for (const job of [...this.jobs.values()])
        this.endJob(job, JobStatus.Abandoned, this.startError.message);
      this.outbox = [];
    });
  }

  private async start(host: string, port: number): Promise<void> {
    const { built, spec } = await this.buildSpec(this.pulseSec);
    const allocs = allocSpecs(this.opts.nodes);
    const link = new NodeLink({
      ...this.linkCredentials(),
      host,
      port,
      spec,
      files: built.files,
      infoSchema: 'any',
      handler: {
        onMessage: (_l, m) => this.onMessage(m),
        onLost: (_l, err) => this.onLost(err),
      },
    });
    this.link = link;
    await link.connect();
    ({ waiting: this.waitingTurn } = await link.setUpScheduled(allocs, this.opts.exclusive ?? false));
    if (this.waitingTurn) this.log.info(`${this.name} waits for its turn (exclusive)`);
    this.liveTimer = setInterval(() => this.checkLiveness(), Math.max(50, (this.pulseSec * 1000) / 2));
    this.liveTimer.unref();
    this.flush();
    this.armNodeTimer();
  }

  private flush(): void {
    const link = this.link;
    if (link?.state !== 'ready') return;
    for (const o of this.outbox) {
      if (!this.jobs.has(o.uid)) continue;
      link.sendJob(o.uid, o.args, o.timeout, o.node);
      this.sent.set(o.uid, o);
    }
    this.outbox = [];
  }

  protected enqueue(job: DispyJob<ResultOf<C>>, args: Uint8Array, node: string | undefined): void {
    if (this.startError) {
      this.endJob(job, JobStatus.Abandoned, this.startError.message);
      return;
    }
    this.outbox.push({ uid: job.uid, args, timeout: job.timeout, ...(node ? { node } : {}) });
    if (this.outbox.length === 1) queueMicrotask(() => this.flush());
    this.armNodeTimer();
  }

  /** No node within `nodeTimeout` (counted from when the scheduler lets the cluster run): fail queued jobs. */
  private armNodeTimer(): void {
    if (this.nodeTimer || this.nodes.size > 0 || this.pending === 0 || this.closed || this.waitingTurn)
      return;
    const sec = this.opts.nodeTimeout ?? 10;
    this.nodeTimer = setTimeout(() => {
      this.nodeTimer = null;
      if (this.nodes.size > 0 || this.pending === 0 || this.waitingTurn) return;
      void (async () => {
        const link = this.link;
        let msg: string;
        if (!link?.conn || link.state === 'new' || link.state === 'connecting') {
          msg = `cannot use dispyscheduler at ${this.where}: no handshake within ${sec} s (a TLS/plain mismatch, or a firewall?)`;
        } else {
          let tried = '';
          try {
            const r = await link.conn.request({ t: 'status', computeId: this.computeId }, 2000);
            tried =
              Array.isArray(r.tried) && r.tried.length ? (r.tried as string[]).join('; ') : 'no nodes known';
          } catch (e) {
            tried = `(status unavailable: ${errorMessage(e)})`;
          }
          if (this.nodes.size > 0) return;
          msg = `no dispy node was ready within ${sec} s for ${this.name} through dispyscheduler; it tried: ${tried}`;
        }
        this.log.error(msg);
        for (const job of [...this.jobs.values()]) {
          if (this.sent.has(job.uid)) this.link?.cancel(job.uid);
          this.endJob(job, JobStatus.Abandoned, `DispyNoNodesError: ${msg}`);
        }
      })();
    }, sec * 1000);
  }

  /**
   * Resolves once the scheduler set up the computation on at least one node; rejects after
   * `nodeTimeout` seconds (not counting time an `exclusive` rule holds the cluster back).
   */
  async ready(): Promise<void> {
    await this.starting;
    if (this.startError) throw this.startError;
    const limit = (this.opts.nodeTimeout ?? 10) * 1000;
    let end = Date.now() + limit;
    while (this.nodes.size === 0) {
      if (this.waitingTurn) end = Date.now() + limit;
      else if (Date.now() > end) throw new DispyNoNodesError(`no node ready within ${limit / 1000} s`);
      if (this.closed) throw new DiscoError(`cluster ${this.name} is closed`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private nodeOf(r: NodeReport): DispyNode {
    const key = `${r.ipAddr}:${r.port}`;
    let n = this.nodes.get(key);
    if (!n) {
      n = new DispyNode(r.ipAddr, r.port, r.name, r.cpus);
      this.nodes.set(key, n);
    }
    n.cpus = r.cpus;
    n.busy = r.busy;
    n.jobsDone = r.jobsDone;
    n.cpuTime = r.cpuTime;
    n.tx = r.tx;
    n.rx = r.rx;
    n.updateTime = r.updateTime;
    return n;
  }

  private onMessage(m: Message): void {
    switch (m.t) {
      case 'result': {
        if (m.computeId !== this.computeId) return;
        this.link?.ack(m.uid);
        this.sent.delete(m.uid);
        const node = [...this.nodes.values()].find((n) => n.ipAddr === m.ipAddr);
        if (node) node.busy = Math.max(0, node.busy - 1);
        this.applyResult(m, node);
        return;
      }
      case 'running': {
        const job = this.jobs.get(m.uid);
        if (!job || job.done) return;
        job.status = JobStatus.Running;
        job.startTime = m.startTime;
        job.ipAddr = m.ipAddr;
        const node = [...this.nodes.values()].find((n) => n.ipAddr === m.ipAddr);
        if (node) node.busy++;
        this.notify(JobStatus.Running, node ?? null, job);
        return;
      }
      case 'provisional':
        if (m.computeId === this.computeId) this.applyProvisional(m);
        return;
      case 'xfer':
        this.saveFile(m, (done) => this.link?.conn?.send(done), 'scheduler');
        return;
      case 'node': {
        const n = this.nodeOf(m.node);
        if (m.status !== 'Initialized') this.nodes.delete(`${m.node.ipAddr}:${m.node.port}`);
        else if (this.nodeTimer) {
          clearTimeout(this.nodeTimer);
          this.nodeTimer = null;
        }
        this.notify(
          m.status === 'Initialized'
            ? NodeStatus.Initialized
            : m.status === 'Dead'
              ? NodeStatus.Dead
              : NodeStatus.Closed,
          n,
          null,
        );
        return;
      }
      case 'scheduled':
        if (m.computeId !== this.computeId) return;
        this.waitingTurn = false;
        this.log.info(`${this.name} may run now`);
        this.armNodeTimer();
        return;
      case 'reject': {
        const job = this.jobs.get(m.uid);
        if (job) this.endJob(job, JobStatus.Terminated, `dispyscheduler rejected the job: ${m.reason}`);
        return;
      }
      case 'closed':
        this.schedulerGone(m.reason);
        return;
      case 'error':
        this.log.warn(`dispyscheduler: ${m.message}`);
        return;
      default:
        return;
    }
  }

  private checkLiveness(): void {
    const link = this.link;
    if (!link || this.closed) return;
    if (
      (link.state === 'ready' || link.state === 'lost') &&
      Date.now() - link.lastHeard > DEAD_PULSES * this.pulseSec * 1000
    ) {
      this.schedulerGone(`no message for ${DEAD_PULSES * this.pulseSec} s`);
    }
  }

  /**
   * The connection dropped: connect again (the scheduler may have been restarted) until it
   * answers or is presumed dead (5 pulse intervals without news).
   */
  private onLost(err: Error | null): void {
    if (this.closed) return;
    this.log.warn(`lost the connection to dispyscheduler${err ? `: ${err.message}` : ''}; reconnecting`);
    void this.reconnectLoop(this.link!);
  }

  private async reconnectLoop(link: NodeLink): Promise<void> {
    while (this.link === link && link.state === 'lost' && !this.closed) {
      await new Promise((r) => setTimeout(r, Math.min(1000, this.pulseSec * 1000)));
      if (this.link !== link || link.state !== 'lost' || this.closed) return;
      // The scheduler tells the nodes in use again when it takes the computation back.
      this.nodes.clear();
      try {
        this.resume(await link.reconnect());
        return;
      } catch (e) {
        if (e instanceof RemoteError && (e.code === 'unknown' || e.code === 'auth')) {
          this.schedulerGone(
            `it no longer knows computation ${this.computeId} (restarted with --clean, or the computation was ` +
              `closed after its zombie_interval): ${errorMessage(e)}`,
          );
          return;
        }
        this.log.debug(`reconnecting to dispyscheduler: ${errorMessage(e)}`);
      }
    }
  }

  /**
   * Reconnected: apply the results kept meanwhile; jobs the scheduler no longer knows (it was
   * restarted before it could run them) are sent again — unless they had started and the
   * cluster is not `reentrant` (they may have had effects): those end `Abandoned`.
   */
  private resume(r: RecoverReply): void {
    const link = this.link!;
    const known = new Set([...r.running, ...r.queued]);
    for (const res of r.results) {
      known.add(res.uid);
      this.onMessage({ t: 'result', ...res });
    }
    let resent = 0;
    for (const [uid, o] of [...this.sent]) {
      const job = this.jobs.get(uid);
      if (known.has(uid)) continue;
      if (!job || job.done) {
        this.sent.delete(uid);
      } else if (
        (job.status === JobStatus.Running || job.status === JobStatus.ProvisionalResult) &&
        !this.common.reentrant
      ) {
        this.sent.delete(uid);
        this.endJob(job, JobStatus.Abandoned, 'dispyscheduler lost the job while it ran (was it restarted?)');
      } else {
        job.status = JobStatus.Created;
        link.sendJob(uid, o.args, o.timeout, o.node);
        resent++;
      }
    }
    this.log.info(
      `reconnected to dispyscheduler: ${r.results.length} results kept, ${known.size - r.results.length} jobs running or queued, ${resent} sent again`,
    );
    this.flush();
    this.armNodeTimer();
  }

  private schedulerGone(reason: string): void {
    this.log.error(`dispyscheduler presumed dead: ${reason}`);
    this.link?.destroy();
    for (const job of [...this.jobs.values()])
      this.endJob(job, JobStatus.Abandoned, `dispyscheduler presumed dead: ${reason}`);
  }

  // --- user operations ------------------------------------------------------------------

  /** Cancel a job (see `JobCluster.cancel`). Returns 0, or -1 when it is done or unknown. */
  cancel(job: DispyJob<unknown>): number {
    const mine = this.jobs.get(job.uid);
    if (!mine || mine !== job || job.done) return -1;
    if (!this.sent.has(job.uid)) {
      this.outbox = this.outbox.filter((o) => o.uid !== job.uid);
      this.endJob(mine, JobStatus.Cancelled);
      return 0;
    }
    this.link?.cancel(job.uid);
    return 0;
  }

  private async request(
    msg: Parameters<NonNullable<NodeLink['conn']>['request']>[0],
  ): Promise<Record<string, unknown>> {
    await this.starting;
    if (!this.link?.conn) throw new DiscoError('not connected to dispyscheduler');
    return this.link.conn.request(msg);
  }

  /** Ask the scheduler for current node figures (updates `status().nodes`). */
  async refreshStatus(): Promise<void> {
    const r = await this.request({ t: 'status', computeId: this.computeId });
    for (const n of (r.nodes as NodeReport[]) ?? []) this.nodeOf(n);
  }

  async allocateNode(nodes: NodeSpec | NodeSpec[]): Promise<number> {
    const specs = allocSpecs(nodes);
    return (await this.request({ t: 'allocateNode', computeId: this.computeId, nodes: specs })).ok as number;
  }

  /** Ask the scheduler to look for these nodes (it uses them if they match the allocation). */
  async discoverNodes(nodes: NodeSpec | NodeSpec[]): Promise<void> {
    const specs = allocSpecs(nodes).map(({ setupArgs: _, ...a }) => a);
    await this.request({ t: 'discover', computeId: this.computeId, nodes: specs });
  }

  private nodeName(node: string | DispyNode): string {
    return typeof node === 'string' ? node : node.ipAddr;
  }

  async deallocateNode(node: string | DispyNode): Promise<number> {
    return (await this.request({ t: 'deallocateNode', computeId: this.computeId, node: this.nodeName(node) }))
      .ok as number;
  }

  async closeNode(node: string | DispyNode, terminate = false): Promise<number> {
    return (
      await this.request({ t: 'closeNode', computeId: this.computeId, node: this.nodeName(node), terminate })
    ).ok as number;
  }

  async setNodeCpus(node: string | DispyNode, cpus: number): Promise<number> {
    return (await this.request({ t: 'setCpus', computeId: this.computeId, node: this.nodeName(node), cpus }))
      .cpus as number;
  }

  async nodeJobs(node: string | DispyNode): Promise<DispyJob<ResultOf<C>>[]> {
    const r = await this.request({ t: 'jobs', computeId: this.computeId, node: this.nodeName(node) });
    return ((r.uids as number[]) ?? [])
      .map((u) => this.jobs.get(u))
      .filter((j): j is DispyJob<ResultOf<C>> => !!j);
  }

  /** Copy a file to a node's computation directory (through the scheduler). */
  async sendFile(filePath: string, node: string | DispyNode): Promise<number> {
    try {
      await this.starting;
      const abs = path.resolve(filePath);
      const st = await stat(abs);
      const link = this.link!;
      const { open } = await import('node:fs/promises');
      const fh = await open(abs, 'r');
      try {
        let offset = 0;
        do {
          const buf = Buffer.allocUnsafe(Math.min(1 << 20, st.size - offset));
          const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
          await link.conn!.request({
            t: 'sendFile',
            computeId: this.computeId,
            node: this.nodeName(node),
            path: path.basename(abs),
            offset,
            total: st.size,
            data: buf.subarray(0, bytesRead),
            mtimeMs: st.mtimeMs,
            mode: st.mode & 0o777,
          });
          offset += bytesRead;
        } while (offset < st.size);
      } finally {
        await fh.close();
      }
      return 0;
    } catch (e) {
      this.log.warn(`sendFile ${filePath}: ${errorMessage(e)}`);
      return -1;
    }
  }

  protected async doClose(opts: { timeout?: number; terminate?: boolean }): Promise<void> {
    let terminate = opts.terminate ?? false;
    if (!terminate && !(await this.wait(opts.timeout))) terminate = true;
    // Still no handshake (jobs already given up): do not wait for the connection's time limit.
    if (this.link?.state === 'new' || this.link?.state === 'connecting') this.link.destroy();
    await this.starting;
    this.closed = true;
    if (this.nodeTimer) clearTimeout(this.nodeTimer);
    if (this.liveTimer) clearInterval(this.liveTimer);
    if (terminate) for (const job of [...this.jobs.values()]) this.cancel(job);
    const link = this.link;
    if (link && link.state === 'ready') {
      await link.close(terminate).catch((e) => this.log.warn(`closing: ${errorMessage(e)}`));
    } else link?.destroy();
    for (const job of [...this.jobs.values()])
      this.endJob(job, JobStatus.Terminated, 'the cluster was closed');
    this.recoverFile?.remove();
  }
}
