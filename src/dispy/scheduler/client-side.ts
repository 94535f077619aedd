/**
 * dispyscheduler toward clients (`SharedJobCluster`s): one {@link ClientSession} per
 * connection, with pulses; the client's requests (computations, files, jobs, cancellations,
 * node allocation, status, `recover`); and computations whose client stays away too long
 * (closed after `zombieInterval` minutes).
 *
 * A computation belongs to the connection that sent it (or that took it over with `recover`,
 * which needs the computation's token); requests for it from another connection are refused.
 *
 * @example
 * const clients = new ClientSide({ sched, computations, directory, nodeSide, admission, xfers, root, settings, options, log, isStopping: () => false, closeComputation });
 * listen({ ..., onConnection: (conn, peer) => clients.onClient(conn, peer) });
 */
import fs from 'node:fs/promises';
import type { Logger } from 'pino';
import { ProtocolError } from '../../common/errors.js';
import { safeJoin } from '../../common/fs-atomic.js';
import { newId } from '../client/identity.js';
import type { Connection, HandlerResult } from '../protocol/connection.js';
import { ReplyError } from '../protocol/connection.js';
import { jobsInFlight } from '../protocol/constants.js';
import type { Message, MessageOf, NodeReport } from '../protocol/messages.js';
import type { PeerIdentity } from '../protocol/transport.js';
import type { Admission } from './admission.js';
import {
  type ClientSession,
  type ComputationSettings,
  hostSpec,
  jobKey,
  newComputation,
  type SchedCluster,
  toAlloc,
  uidOfKey,
} from './computation.js';
import type { FileTransferRelay } from './file-transfer-relay.js';
import type { NodeDirectory } from './node-directory.js';
import type { NodeSide } from './node-side.js';
import type { ResolvedSchedulerOptions } from './options.js';
import { saveRecord } from './persistence.js';
import type { SchedulerState } from './policy.js';
import { acknowledged, deliver, madeResult, storeUnacked } from './result-delivery.js';

export interface ClientSideDeps {
  sched: SchedulerState;
  /** Every computation; `compute` adds to it, `closeComputation` removes from it. */
  computations: Map<string, SchedCluster>;
  directory: NodeDirectory;
  nodeSide: NodeSide;
  admission: Admission;
  xfers: FileTransferRelay;
  /** Where computations' directories go. */
  root: string;
  settings: ComputationSettings;
  options: Pick<ResolvedSchedulerOptions, 'pulseInterval' | 'zombieInterval'>;
  log: Logger;
  isStopping: () => boolean;
  closeComputation: (c: SchedCluster, terminate: boolean) => Promise<void>;
}

export class ClientSide {
  private readonly sessions = new Set<ClientSession>();
  private readonly sched: SchedulerState;
  private readonly computations: Map<string, SchedCluster>;
  private readonly directory: NodeDirectory;
  private readonly nodeSide: NodeSide;
  private readonly log: Logger;

  constructor(private readonly deps: ClientSideDeps) {
    this.sched = deps.sched;
    this.computations = deps.computations;
    this.directory = deps.directory;
    this.nodeSide = deps.nodeSide;
    this.log = deps.log;
  }

  /** A client connected (and authenticated). */
  onClient(conn: Connection, peer: PeerIdentity): void {
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
      this.deps.options.pulseInterval * 1000,
    );
    s.pulseTimer.unref();
    conn.onMessage((m) => this.handle(s, m));
    conn.onClose(() => this.detach(s));
  }

  /** Stop pulses and close every client connection (the scheduler stops). */
  closeAll(): void {
    for (const s of this.sessions) {
      if (s.pulseTimer) clearInterval(s.pulseTimer);
      s.conn.close();
    }
  }

  /** Close a computation whose client stays away for `zombieInterval` minutes. */
  armZombie(c: SchedCluster): void {
    if (c.zombieTimer) clearTimeout(c.zombieTimer);
    c.zombieTimer = null;
    if (this.deps.isStopping()) return;
    c.zombieTimer = setTimeout(() => {
      c.zombieTimer = null;
      if (c.session) return;
      this.log.warn(`computation ${c.spec.name} (${c.computeId}): its client stayed away; closing it`);
      void this.deps.closeComputation(c, true);
    }, this.deps.options.zombieInterval * 60_000);
    c.zombieTimer.unref();
  }

  private detach(s: ClientSession): void {
    this.sessions.delete(s);
    if (s.pulseTimer) clearInterval(s.pulseTimer);
    for (const id of s.clusters) {
      const c = this.computations.get(id);
      if (!c || c.session !== s) continue;
      c.session = null;
      storeUnacked(c);
      this.armZombie(c);
    }
  }

  private own(s: ClientSession, computeId: string): SchedCluster {
    const c = this.computations.get(computeId);
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
        this.nodeSide.cancelJob(this.own(s, m.computeId), m.uid);
        return;
      case 'close':
        return this.deps.closeComputation(this.own(s, m.computeId), m.terminate).then(() => ({}));
      case 'recover':
        return this.recover(s, m);
      case 'ack': {
        const c = this.computations.get(m.computeId);
        if (c && c.session === s) for (const u of m.uids) acknowledged(c, u);
        return;
      }
      case 'status':
        return this.status(this.own(s, m.computeId));
      case 'allocateNode': {
        const c = this.own(s, m.computeId);
        c.allocs.unshift(...m.nodes.map((n) => toAlloc(n)));
        c.allocSpecs.unshift(...m.nodes);
        if (c.state !== 'files') saveRecord(c, this.log);
        void this.directory.discover(m.nodes.map(hostSpec));
        for (const n of this.directory.nodes.values()) void this.nodeSide.attach(c, n);
        return { ok: 0 };
      }
      case 'discover': {
        this.own(s, m.computeId);
        void this.directory.discover(m.nodes.map(hostSpec));
        return { ok: 0 };
      }
      case 'deallocateNode': {
        const c = this.own(s, m.computeId);
        const key = this.directory.keyOf(m.node);
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
        const key = m.node ? this.directory.keyOf(m.node) : undefined;
        if (!key) return { uids: [] };
        return {
          uids: this.sched
            .runningOn(key)
            .filter((k) => k.startsWith(`${c.computeId}/`))
            .map(uidOfKey),
        };
      }
      case 'sendFile':
        return this.sendFile(this.own(s, m.computeId), m);
      case 'xferDone':
        this.deps.xfers.done(m);
        return;
      case 'pulse':
        return;
      case 'error':
        this.log.warn(`client ${s.address}: ${m.message}`);
        return;
      default:
        throw new ProtocolError(`dispyscheduler does not handle '${m.t}' messages`);
    }
  }

  private async compute(s: ClientSession, m: MessageOf<'compute'>): Promise<HandlerResult> {
    if (this.deps.isStopping()) throw new ReplyError('the scheduler is shutting down', 'busy');
    const spec = m.spec;
    const root = this.deps.root;
    if (this.computations.has(spec.computeId))
      throw new ReplyError(`computation ${spec.computeId} exists already`);
    for (const f of spec.files)
      if (!safeJoin(root, f.path)) throw new ReplyError(`invalid file path ${f.path}`);
    const dir = safeJoin(root, spec.computeId.replace(/[^A-Za-z0-9_-]/g, '_'))!;
    await fs.mkdir(dir, { recursive: true });
    const c = newComputation(
      spec,
      dir,
      s,
      {
        allocs: m.nodes ?? [{ host: '*', cpus: 0 }],
        exclusive: m.exclusive ?? false,
        nodeToken: newId(16),
        created: Date.now(),
      },
      this.deps.settings,
    );
    this.computations.set(c.computeId, c);
    s.clusters.add(c.computeId);
    this.log.info(`computation ${spec.name} (${spec.computeId}) from ${s.address}`);
    return { cpus: 0, have: [] };
  }

  /** The files are there: the computation runs now, or waits for its turn (`exclusive`). */
  private async schedule(s: ClientSession, m: MessageOf<'schedule'>): Promise<HandlerResult> {
    const c = this.own(s, m.computeId);
    if (c.state !== 'files') throw new ReplyError('the computation was scheduled already');
    if (c.files.incomplete.length) throw new ReplyError(`files incomplete: ${c.files.incomplete.join(', ')}`);
    this.deps.admission.enqueue(c);
    this.sched.addCluster(c.computeId);
    // On disk before the client is told: a restarted scheduler knows every computation it accepted.
    saveRecord(c, this.log);
    await c.saving;
    this.deps.admission.admit();
    if (!this.deps.admission.isWaiting(c)) return {};
    c.toldWaiting = true;
    this.log.info(`computation ${c.spec.name} waits for its turn (exclusive)`);
    return { waiting: true };
  }

  private job(s: ClientSession, m: MessageOf<'job'>): HandlerResult {
    const c = this.computations.get(m.computeId);
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
      pinned = this.directory.keyOf(m.node);
      if (!pinned) {
        deliver(c, madeResult(c, m.uid, 'Abandoned', `node ${m.node} is not known to the scheduler`), true);
        return;
      }
    }
    c.submitted++;
    c.jobs.set(m.uid, { uid: m.uid, args: m.args, timeout: m.timeout ?? 0, ...(pinned ? { pinned } : {}) });
    this.sched.submit({
      uid: jobKey(c.computeId, m.uid),
      cluster: c.computeId,
      ...(pinned ? { pinned } : {}),
    });
    this.nodeSide.dispatch();
  }

  /**
   * A client (reconnecting, or `faultRecoverJobs`) takes the computation over: it gets the
   * results it has not acknowledged (from memory and disk) and which jobs still run or wait.
   * A restored computation answers once it has reconnected to its nodes.
   */
  private async recover(s: ClientSession, m: MessageOf<'recover'>): Promise<HandlerResult> {
    const c = this.computations.get(m.computeId);
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
      (this.sched.stateOf(jobKey(c.computeId, uid)) === 'running' ? running : queued).push(uid);
    }
    // A client that reconnects to a restarted scheduler learns the nodes (and its turn) again.
    if (c.state === 'scheduled' && c.toldWaiting) s.conn.send({ t: 'scheduled', computeId: c.computeId });
    for (const [key, link] of c.links) {
      const n = this.directory.nodes.get(key);
      if (n && link.state === 'ready')
        s.conn.send({
          t: 'node',
          computeId: c.computeId,
          status: 'Initialized',
          node: this.nodeSide.report(c, n, link),
        });
    }
    return { results: [...c.unacked.values()], running, queued };
  }

  private status(c: SchedCluster): HandlerResult {
    const nodes: NodeReport[] = [];
    for (const [key, link] of c.links) {
      const n = this.directory.nodes.get(key);
      if (n && link.state === 'ready') nodes.push(this.nodeSide.report(c, n, link));
    }
    return {
      nodes,
      pending: c.jobs.size,
      tried: [...this.directory.tried].map(([k, v]) => `${k}: ${v}`),
    };
  }

  private async closeNode(c: SchedCluster, node: string, terminate: boolean): Promise<HandlerResult> {
    const key = this.directory.keyOf(node);
    const link = key ? c.links.get(key) : undefined;
    if (!key || !link) return { ok: -1 };
    this.sched.allot(key, c.computeId, 0);
    c.links.delete(key);
    await link.close(terminate).catch(() => undefined);
    const n = this.directory.nodes.get(key);
    if (n)
      c.session?.conn.send({
        t: 'node',
        computeId: c.computeId,
        status: 'Closed',
        node: this.nodeSide.report(c, n),
      });
    return { ok: 0 };
  }

  private async setCpus(c: SchedCluster, node: string, cpus: number): Promise<HandlerResult> {
    const key = this.directory.keyOf(node);
    const link = key ? c.links.get(key) : undefined;
    if (!key || !link) return { cpus: -1 };
    const n = await link.setCpus(cpus);
    this.sched.allot(key, c.computeId, jobsInFlight(n));
    this.nodeSide.dispatch();
    return { cpus: n };
  }

  private async sendFile(c: SchedCluster, m: MessageOf<'sendFile'>): Promise<HandlerResult> {
    const r = await c.files.chunk(m);
    if (!r.complete) return { received: r.received };
    const key = m.node ? this.directory.keyOf(m.node) : undefined;
    const link = key ? c.links.get(key) : undefined;
    if (!link) throw new ReplyError(`node ${m.node ?? '?'} is not used by this computation`);
    const st = await fs.stat(r.file);
    await link.sendFile(
      { abs: r.file, path: m.path, size: st.size, mtimeMs: st.mtimeMs, mode: st.mode & 0o777 },
      'sendFile',
    );
    return { received: r.received };
  }
}
