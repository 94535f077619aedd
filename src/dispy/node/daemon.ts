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
 * Concurrency: one event loop owns all state. Invariants: `running` = number of jobs in state
 * `running` ≤ `cpus`; a computation's running jobs ≤ its allotted CPUs; a job is in exactly one
 * of `queue` (waiting) or running, and its result is delivered once per connection and kept
 * until acknowledged.
 *
 * @example
 * const node = new DispyNodeDaemon({ ipAddr: '127.0.0.1', nodePort: 0, cpus: 2, secret: 's' });
 * await node.start();
 * console.log(node.port);
 * await node.stop();
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Logger, pino } from 'pino';
import { ProtocolError } from '../../common/errors.js';
import { safeJoin } from '../../common/fs-atomic.js';
import { broadcastAddresses, primaryAddress } from '../discovery/addresses.js';
import { UdpEndpoint } from '../discovery/udp.js';
import { decodeData, encodeData } from '../protocol/codec.js';
import type { Connection, HandlerResult } from '../protocol/connection.js';
import { ReplyError } from '../protocol/connection.js';
import { DISPY_PROTOCOL_VERSION, FILE_CHUNK_BYTES } from '../protocol/constants.js';
import type { ComputeSpec, Datagram, JobResult, Message, MessageOf, NodeInfo } from '../protocol/messages.js';
import { type Listener, listen, type PeerIdentity } from '../protocol/transport.js';
import type { FromWorker, ToWorker } from '../protocol/worker-protocol.js';
import { FileSink } from './file-sink.js';
import { type NodeOptions, nodeRoot, type ResolvedNodeOptions, resolveNodeOptions } from './options.js';
import { type ProgramRun, startProgram } from './program.js';
import { ResultStore } from './result-store.js';
import { isAlive, killLeftovers, readStateFile, writeStateFile } from './state-file.js';
import { terminateProcess } from './terminate.js';
import { defaultWorkerScript, type WorkerHandle, WorkerPool } from './worker-pool.js';

interface Session {
  conn: Connection;
  clientId: string;
  address: string;
  comps: Set<string>;
  pulseTimer: NodeJS.Timeout | null;
  pulseSec: number;
}

interface NodeJob {
  uid: number;
  comp: NodeComp;
  args: Uint8Array;
  timeout: number;
  /** `sent`: handed ahead to a busy worker, waiting there (not counted as running). */
  state: 'queued' | 'sent' | 'running';
  startTime: number;
  worker: WorkerHandle | null;
  program: ProgramRun | null;
  timer: NodeJS.Timeout | null;
  /** Why the node stopped the job (cancel, timeout); the job then ends `Terminated`. */
  stopReason: string | null;
}

interface NodeComp {
  spec: ComputeSpec;
  clientId: string;
  dir: string;
  /** Directory made for this computation (deleted at cleanup), or null when `destPath` was given. */
  ownDir: boolean;
  session: Session | null;
  cpus: number;
  running: number;
  state: 'files' | 'setup' | 'ready' | 'closing' | 'closed';
  setupArgs: Uint8Array | undefined;
  /** Encoded records shared read-only with jobs: depends data, setup's data. */
  shared: Uint8Array[];
  setupWorker: WorkerHandle | null;
  idle: WorkerHandle[];
  loading: number;
  jobs: Map<number, NodeJob>;
  /** Results not yet acknowledged by the client (the source of truth for recovery). */
  unacked: Map<number, JobResult>;
  /** Results kept on disk while the client is away (until acknowledged). */
  stored: ResultStore;
  files: FileSink;
  zombieTimer: NodeJS.Timeout | null;
  jobsDone: number;
  cpuTime: number;
  idleWaiters: (() => void)[];
}

interface PendingXfer {
  worker: WorkerHandle;
  reqId: number;
  comp: NodeComp;
}

/** A running dispynode. */
export class DispyNodeDaemon {
  readonly opts: ResolvedNodeOptions;
  /** Changes at every start: clients can tell a restarted node from a reconnected one. */
  readonly instance = randomBytes(8).toString('hex');
  readonly root: string;
  readonly log: Logger;
  private listener: Listener | null = null;
  private udp: UdpEndpoint | null = null;
  private pool: WorkerPool | null = null;
  private readonly comps = new Map<string, NodeComp>();
  private readonly sessions = new Set<Session>();
  private queue: NodeJob[] = [];
  private running = 0;
  private served = 0;
  private wasBusy = false;
  private nextXfer = 1;
  private readonly xfers = new Map<number, PendingXfer>();
  private readonly programs = new Set<ProgramRun>();
  private stateFile = '';
  private stateTimer: NodeJS.Timeout | null = null;
  private announceTimer: NodeJS.Timeout | null = null;
  private stopping: Promise<void> | null = null;
  private readonly stopWaiters: (() => void)[] = [];
  private hasStopped = false;

  constructor(options: NodeOptions = {}, log?: Logger) {
    this.opts = resolveNodeOptions(options);
    this.root = nodeRoot(this.opts.destPathPrefix);
    this.log = log ?? pino({ name: 'dispynode', level: 'silent' });
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
      availCpus: this.opts.cpus - this.running,
      platform: `${os.platform()}-${os.arch()} node ${process.version}`,
      busyWith: this.holder() ?? '',
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
      onConnection: (conn, peer) => this.onConnection(conn, peer),
      onRefused: (addr, reason) => this.log.warn(`refused connection from ${addr}: ${reason}`),
    });
    if (this.opts.nodePort === 0) {
      this.stateFile = path.join(this.root, `dispynode-${this.port}.json`);
    }
    this.saveState();
    if (this.opts.discovery) await this.startDiscovery();
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
    if (this.announceTimer) clearInterval(this.announceTimer);
    this.udp?.close();
    const listenerClosed = this.listener?.close();
    for (const comp of this.comps.values()) {
      comp.session?.conn.send({
        t: 'closed',
        computeId: comp.spec.computeId,
        reason: 'the node is shutting down',
      });
    }
    const waits: Promise<void>[] = [];
    for (const run of this.programs) waits.push(terminateProcess(run.proc, { graceMs: 500, group: true }));
    waits.push(this.pool?.close() ?? Promise.resolve());
    await Promise.all(waits);
    for (const comp of this.comps.values()) {
      if (comp.zombieTimer) clearTimeout(comp.zombieTimer);
      await comp.files.close();
    }
    for (const s of this.sessions) {
      if (s.pulseTimer) clearInterval(s.pulseTimer);
      s.conn.close();
    }
    await listenerClosed;
    if (this.stateTimer) clearTimeout(this.stateTimer);
    await fs.rm(this.stateFile, { force: true });
    this.hasStopped = true;
    for (const w of this.stopWaiters.splice(0)) w();
  }

  // --- start-up -------------------------------------------------------------------------

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
        programs: [...this.programs].map((p) => p.proc.pid).filter((p): p is number => p !== undefined),
      });
    }, 50);
  }

  private async startDiscovery(): Promise<void> {
    try {
      this.udp = await UdpEndpoint.open({
        port: this.port,
        secret: this.opts.secret,
        onRejected: (from) =>
          this.log.debug(`dropped a discovery datagram from ${from.address}: bad signature`),
        onDatagram: (d, from) => {
          if (d.t !== 'ping' || d.v !== DISPY_PROTOCOL_VERSION) return;
          const to = d.replyAddr || d.origin || from.address;
          this.log.debug(
            `ping from ${from.address}:${from.port}${d.relayed ? ' (relayed)' : ''}: answering ${to}:${d.replyPort}`,
          );
          this.udp?.send(this.pong(), d.replyPort, [to]);
        },
        onError: (e) => this.log.warn(`discovery socket: ${e.message}`),
      });
    } catch (e) {
      this.log.warn(`UDP discovery disabled: ${(e as Error).message}`);
      return;
    }
    const announce = () => {
      if (this.holder()) return;
      const to = this.opts.broadcast ?? broadcastAddresses(this.opts.ipAddr);
      if (to.length) this.udp?.send(this.pong(), this.opts.clientPort, to);
    };
    setTimeout(announce, 200).unref();
    if (this.opts.pingInterval > 0) {
      this.announceTimer = setInterval(announce, this.opts.pingInterval * 1000);
      this.announceTimer.unref();
    }
  }

  private pong(): Datagram {
    return {
      t: 'pong',
      v: DISPY_PROTOCOL_VERSION,
      ipAddr: this.ipAddr,
      port: this.port,
      name: this.opts.name,
      cpus: this.opts.cpus,
      busy: this.holder() !== null,
    };
  }

  // --- connections ----------------------------------------------------------------------

  /** The client this node is serving (null when free). */
  private holder(): string | null {
    for (const c of this.comps.values()) {
      if (c.state === 'closed') continue;
      if (c.session || c.jobs.size > 0) return c.clientId;
    }
    return null;
  }

  private onConnection(conn: Connection, peer: PeerIdentity): void {
    const s: Session = {
      conn,
      clientId: peer.clientId,
      address: peer.address,
      comps: new Set(),
      pulseTimer: null,
      pulseSec: 0,
    };
    this.sessions.add(s);
    conn.onMessage((m) => this.handle(s, m));
    conn.onClose(() => this.detach(s));
  }

  private handle(s: Session, m: Message): HandlerResult | Promise<HandlerResult> {
    switch (m.t) {
      case 'info':
        return { info: this.info() };
      case 'compute':
        return this.compute(s, m);
      case 'file':
        return this.file(s, m, false);
      case 'sendFile':
        return this.file(s, m, true);
      case 'setup':
        return this.setup(s, m);
      case 'job':
        return this.job(s, m);
      case 'cancel':
        return this.cancel(s, m);
      case 'close':
        return this.close(s, m);
      case 'recover':
        return this.recover(s, m);
      case 'ack':
        return this.ack(s, m);
      case 'setCpus':
        return this.setCpus(s, m);
      case 'jobs': {
        const comp = this.own(s, m.computeId);
        return { uids: [...comp.jobs.keys()] };
      }
      case 'xferDone':
        return this.xferDone(m);
      case 'pulse':
        return;
      case 'error':
        this.log.warn(`client ${s.address} reports: ${m.message}`);
        return;
      default:
        throw new ProtocolError(`a node does not handle '${m.t}' messages`);
    }
  }

  private detach(s: Session): void {
    this.sessions.delete(s);
    if (s.pulseTimer) clearInterval(s.pulseTimer);
    for (const id of s.comps) {
      const comp = this.comps.get(id);
      if (!comp || comp.session !== s) continue;
      comp.session = null;
      this.log.info(`client of computation ${comp.spec.name} (${id}) went away; keeping its results`);
      for (const r of comp.unacked.values()) comp.stored.save(r);
      this.armZombie(comp);
    }
    this.checkFree();
  }

  private armZombie(comp: NodeComp): void {
    if (comp.zombieTimer) clearTimeout(comp.zombieTimer);
    comp.zombieTimer = setTimeout(() => {
      comp.zombieTimer = null;
      if (comp.session) return;
      this.log.warn(`computation ${comp.spec.name} (${comp.spec.computeId}) is a zombie: cleaning up`);
      void this.closeComp(comp, true);
    }, this.opts.zombieInterval * 60_000);
    comp.zombieTimer.unref();
  }

  private startPulses(s: Session, sec: number): void {
    if (s.pulseTimer && s.pulseSec <= sec) return;
    if (s.pulseTimer) clearInterval(s.pulseTimer);
    s.pulseSec = sec;
    s.pulseTimer = setInterval(
      () => s.conn.send({ t: 'pulse', busy: this.running, time: Date.now() / 1000 }),
      sec * 1000,
    );
    s.pulseTimer.unref();
  }

  /** The computation, which must belong to this session. */
  private own(s: Session, computeId: string): NodeComp {
    const comp = this.comps.get(computeId);
    if (!comp || comp.state === 'closed') throw new ReplyError(`unknown computation ${computeId}`, 'unknown');
    if (comp.session !== s)
      throw new ReplyError(`computation ${computeId} belongs to another connection`, 'owner');
    return comp;
  }

  // --- computations ---------------------------------------------------------------------

  private allot(requested: number): number {
    const n = requested > 0 ? Math.min(requested, this.opts.cpus) : this.opts.cpus + requested;
    if (n <= 0)
      throw new ReplyError(`no CPUs left for the computation (asked ${requested} of ${this.opts.cpus})`);
    return n;
  }

  private async compute(s: Session, m: MessageOf<'compute'>): Promise<HandlerResult> {
    if (this.stopping) throw new ReplyError('the node is shutting down', 'busy');
    const spec = m.spec;
    const holder = this.holder();
    if (holder !== null && holder !== s.clientId) {
      throw new ReplyError(`node ${this.opts.name} is busy with another client`, 'busy');
    }
    if (this.comps.has(spec.computeId)) throw new ReplyError(`computation ${spec.computeId} exists already`);
    // Idle leftovers of clients that went away make room for the new client.
    for (const c of [...this.comps.values()]) {
      if (c.clientId !== s.clientId && !c.session && c.jobs.size === 0 && c.unacked.size === 0) {
        await this.closeComp(c, true);
      }
    }
    const cpus = this.allot(m.cpus);
    const clientDir = safeJoin(this.root, sanitize(`client-${s.address}`))!;
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
    if (this.opts.maxFileSize > 0) {
      const big = spec.files.find((f) => f.size > this.opts.maxFileSize);
      if (big) {
        if (ownDir) await fs.rm(dir, { recursive: true, force: true });
        throw new ReplyError(
          `file ${big.path} (${big.size} bytes) exceeds the node's max_file_size of ${this.opts.maxFileSize} bytes`,
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
      files: new FileSink(dir, this.opts.maxFileSize),
      zombieTimer: null,
      jobsDone: 0,
      cpuTime: 0,
      idleWaiters: [],
    };
    this.comps.set(spec.computeId, comp);
    s.comps.add(spec.computeId);
    this.wasBusy = true;
    this.startPulses(s, spec.pulseInterval);
    this.log.info(`computation ${spec.name} (${spec.computeId}) from ${s.address}: ${cpus} CPUs, dir ${dir}`);
    return { cpus, have, dir };
  }

  private async file(
    s: Session,
    m: MessageOf<'file'> | MessageOf<'sendFile'>,
    anyPath: boolean,
  ): Promise<HandlerResult> {
    const comp = this.own(s, m.computeId);
    if (!anyPath && !comp.spec.files.some((f) => f.path === m.path)) {
      throw new ReplyError(`file ${m.path} is not part of the computation`);
    }
    if (this.opts.maxFileSize > 0 && m.total > this.opts.maxFileSize) {
      throw new ReplyError(
        `file ${m.path} (${m.total} bytes) exceeds max_file_size ${this.opts.maxFileSize}`,
      );
    }
    const r = await comp.files.chunk(m);
    return { received: r.received };
  }

  private loadMsg(comp: NodeComp): Extract<ToWorker, { t: 'load' }> {
    return {
      t: 'load',
      computeId: comp.spec.computeId,
      source: comp.spec.source ?? '',
      entry: comp.spec.entry,
      ...(comp.spec.setup ? { setupFn: comp.spec.setup } : {}),
      ...(comp.spec.cleanupFn ? { cleanupFn: comp.spec.cleanupFn } : {}),
      dir: comp.dir,
      nodeName: this.opts.name,
      nodeIpAddr: this.ipAddr,
      shared: comp.shared,
      maxOutput: this.opts.maxOutput,
    };
  }

  private async loadWorker(comp: NodeComp): Promise<WorkerHandle> {
    const w = await this.pool!.load(this.loadMsg(comp));
    w.on((msg) => this.onWorkerMessage(comp, w, msg));
    w.onExit((code, signal) => this.onWorkerExit(comp, w, code, signal));
    this.saveState();
    return w;
  }

  private async setup(s: Session, m: MessageOf<'setup'>): Promise<HandlerResult> {
    const comp = this.own(s, m.computeId);
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
          const w = await this.loadWorker(comp);
          const reply = w.next('setupDone');
          w.send({ t: 'setup', fn: comp.spec.setup, ...(m.setupArgs ? { args: m.setupArgs } : {}) });
          const r = await reply;
          if (!r?.ok)
            throw new Error(`setup failed on node ${this.opts.name}: ${r?.error ?? 'the worker died'}`);
          if (r.globals) comp.shared = [...comp.shared, r.globals];
          comp.setupWorker = w;
          comp.idle.push(w);
        }
        // Warm workers for all allotted CPUs, so the first jobs do not wait for processes.
        const more: Promise<void>[] = [];
        for (let i = comp.idle.length; i < comp.cpus; i++) more.push(this.addWorker(comp));
        await Promise.all(more);
        if (comp.idle.length === 0) throw new Error('no worker process could load the computation');
      }
    } catch (e) {
      const msg = (e as Error).message;
      void this.closeComp(comp, true);
      throw new ReplyError(msg, 'setup');
    }
    comp.state = 'ready';
    this.pump();
    return {};
  }

  private async addWorker(comp: NodeComp): Promise<void> {
    comp.loading++;
    try {
      const w = await this.loadWorker(comp);
      if (comp.state === 'closing' || comp.state === 'closed') {
        void w.stop(500);
        return;
      }
      comp.idle.push(w);
    } catch (e) {
      this.log.warn(`computation ${comp.spec.name}: a worker failed to load: ${(e as Error).message}`);
      throw e;
    } finally {
      comp.loading--;
    }
  }

  // --- jobs -----------------------------------------------------------------------------

  private job(s: Session, m: MessageOf<'job'>): HandlerResult {
    const comp = this.comps.get(m.computeId);
    if (!comp || comp.state === 'closed' || comp.state === 'closing' || comp.session !== s) {
      s.conn.send({
        t: 'reject',
        computeId: m.computeId,
        uid: m.uid,
        reason: 'unknown computation',
        retry: true,
      });
      return;
    }
    if (comp.jobs.has(m.uid) || comp.unacked.has(m.uid)) return;
    const job: NodeJob = {
      uid: m.uid,
      comp,
      args: m.args,
      timeout: m.timeout ?? comp.spec.timeout,
      state: 'queued',
      startTime: 0,
      worker: null,
      program: null,
      timer: null,
      stopReason: null,
    };
    comp.jobs.set(m.uid, job);
    this.queue.push(job);
    this.pump();
  }

  /**
   * Start queued jobs while CPUs are free (FIFO, skipping computations at their limit). A job
   * that cannot start now is sent ahead to a busy worker of its computation that has nothing
   * waiting: the worker starts it the moment its current job ends, without a round trip.
   */
  private pump(): void {
    if (this.stopping) return;
    for (let i = 0; i < this.queue.length; ) {
      const job = this.queue[i];
      const comp = job.comp;
      if (comp.state !== 'ready') {
        i++;
        continue;
      }
      const cpuFree = this.running < this.opts.cpus && comp.running < comp.cpus;
      if (cpuFree && comp.spec.kind === 'program') {
        this.queue.splice(i, 1);
        this.startProgramJob(job);
        continue;
      }
      if (comp.spec.kind === 'program') {
        i++;
        continue;
      }
      const w = cpuFree ? comp.idle.pop() : undefined;
      if (w) {
        this.queue.splice(i, 1);
        this.startWorkerJob(job, w);
        continue;
      }
      const ahead = this.workerWithRoom(comp);
      if (ahead) {
        this.queue.splice(i, 1);
        job.state = 'sent';
        job.worker = ahead;
        ahead.nextUid = job.uid;
        ahead.send({ t: 'job', uid: job.uid, args: job.args, startTime: 0 });
        continue;
      }
      if (cpuFree && this.pool!.of(comp.spec.computeId).length + comp.loading < comp.cpus) {
        this.addWorker(comp).then(
          () => this.pump(),
          () => undefined,
        );
      }
      i++;
    }
  }

  /** A busy worker of the computation with no job waiting in it. */
  private workerWithRoom(comp: NodeComp): WorkerHandle | undefined {
    for (const w of this.pool!.of(comp.spec.computeId)) {
      if (w.state === 'busy' && w.jobUid !== null && w.nextUid === null && !w.stopping) return w;
    }
    return undefined;
  }

  private begin(job: NodeJob): void {
    job.state = 'running';
    job.startTime = Date.now() / 1000;
    job.comp.running++;
    this.running++;
    if (job.timeout > 0) {
      job.timer = setTimeout(() => {
        this.stopJob(job, `TimeoutError: the job did not finish within its timeout of ${job.timeout} s`);
      }, job.timeout * 1000);
    }
  }

  private startWorkerJob(job: NodeJob, w: WorkerHandle): void {
    this.begin(job);
    job.worker = w;
    w.state = 'busy';
    w.jobUid = job.uid;
    w.send({ t: 'job', uid: job.uid, args: job.args, startTime: job.startTime });
  }

  private startProgramJob(job: NodeJob): void {
    this.begin(job);
    const comp = job.comp;
    let args: unknown;
    try {
      args = decodeData(job.args);
    } catch (e) {
      args = null;
      this.finishJob(job, { status: 'Terminated', exception: (e as Error).message });
      return;
    }
    const run = startProgram({
      file: safeJoin(comp.dir, comp.spec.entry)!,
      args: (Array.isArray(args) ? args : []).map((a) => String(a)),
      cwd: comp.dir,
      maxOutput: this.opts.maxOutput,
    });
    job.program = run;
    this.programs.add(run);
    this.saveState();
    void run.done.then((r) => {
      this.programs.delete(run);
      this.saveState();
      const exception = r.error ?? (r.signal ? `the program was killed by ${r.signal}` : undefined);
      this.finishJob(job, {
        status: r.error || (r.signal && job.stopReason) ? 'Terminated' : 'Finished',
        result: r.code !== null ? encodeData(r.code) : undefined,
        stdout: r.stdout,
        stderr: r.stderr,
        ...(exception ? { exception } : {}),
      });
    });
  }

  private onWorkerMessage(comp: NodeComp, w: WorkerHandle, m: FromWorker): void {
    const job = w.jobUid !== null ? comp.jobs.get(w.jobUid) : undefined;
    switch (m.t) {
      case 'result': {
        if (!job || job.uid !== m.uid || job.worker !== w) return;
        w.jobUid = null;
        // The job sent ahead starts now in the worker: it takes over this CPU.
        const next = w.nextUid !== null ? comp.jobs.get(w.nextUid) : undefined;
        w.nextUid = null;
        if (next && next.worker === w && next.state === 'sent') {
          w.jobUid = next.uid;
        } else {
          w.state = 'idle';
          if (!w.stopping && comp.state !== 'closing' && comp.state !== 'closed') comp.idle.push(w);
        }
        // The worker's next job goes out before this result does: it is on the critical path.
        this.finishJob(
          job,
          {
            status: m.status,
            result: m.result,
            stdout: m.stdout,
            stderr: m.stderr,
            exception: m.exception,
            cpuMs: m.cpuMs,
            endTime: m.endTime,
          },
          () => {
            if (next && w.jobUid === next.uid) {
              this.begin(next);
              if (next.stopReason !== null) {
                const why = next.stopReason;
                next.stopReason = null;
                this.stopJob(next, why);
              }
            }
            this.pump();
          },
        );
        return;
      }
      case 'dropped': {
        const dropped = comp.jobs.get(m.uid);
        if (dropped?.state !== 'sent' || dropped.worker !== w) return;
        w.nextUid = null;
        dropped.worker = null;
        dropped.state = 'queued';
        dropped.stopReason = null;
        this.finishJob(dropped, { status: 'Cancelled' });
        this.pump();
        return;
      }
      case 'tainted': {
        this.log.warn(`worker ${w.pid} of ${comp.spec.name} is replaced: ${m.reason}`);
        w.stopping = true;
        comp.idle = comp.idle.filter((x) => x !== w);
        // Jobs given to it after its last result never ran: queue them again.
        this.requeueFrom(comp, w);
        this.pump();
        return;
      }
      case 'provisional':
        if (!job || job.uid !== m.uid) return;
        comp.session?.conn.send({
          t: 'provisional',
          computeId: comp.spec.computeId,
          uid: m.uid,
          result: m.result,
          time: m.time,
          ipAddr: this.ipAddr,
        });
        return;
      case 'sendFile':
        void this.sendFileFromJob(comp, w, m);
        return;
      default:
        return;
    }
  }

  /** Put the jobs a worker holds but never ran (the one sent ahead; after a taint, all) back in the queue. */
  private requeueFrom(comp: NodeComp, w: WorkerHandle, includeRunning = true): void {
    const uids = [includeRunning ? w.jobUid : null, w.nextUid];
    for (const uid of uids) {
      const job = uid !== null ? comp.jobs.get(uid) : undefined;
      if (!job || job.worker !== w) continue;
      if (job.state === 'running') {
        if (job.timer) clearTimeout(job.timer);
        job.timer = null;
        comp.running--;
        this.running--;
      }
      job.worker = null;
      job.state = 'queued';
      if (comp.state === 'ready' && job.stopReason === null) this.queue.unshift(job);
      else {
        // It was being cancelled (or its computation closes): it never ran.
        job.stopReason = null;
        this.finishJob(job, { status: 'Cancelled' });
      }
    }
    if (includeRunning) w.jobUid = null;
    w.nextUid = null;
  }

  private onWorkerExit(comp: NodeComp, w: WorkerHandle, code: number | null, signal: string | null): void {
    comp.idle = comp.idle.filter((x) => x !== w);
    if (comp.setupWorker === w) comp.setupWorker = null;
    this.saveState();
    // A job waiting in the dead worker never ran: it goes back to the queue.
    this.requeueFrom(comp, w, false);
    const job = w.jobUid !== null ? comp.jobs.get(w.jobUid) : undefined;
    if (job && job.worker === w) {
      w.jobUid = null;
      this.finishJob(job, {
        status: 'Terminated',
        exception:
          job.stopReason ?? `the worker process died during the job (exit code ${code}, signal ${signal})`,
      });
    }
    if (!this.stopping && comp.state === 'ready') this.pump();
  }

  private finishJob(
    job: NodeJob,
    o: {
      status: JobResult['status'];
      result?: Uint8Array;
      stdout?: string;
      stderr?: string;
      exception?: string;
      cpuMs?: number;
      endTime?: number;
    },
    /** Run once the job's CPU is free, before its result is sent. */
    freed?: () => void,
  ): void {
    const comp = job.comp;
    if (!comp.jobs.has(job.uid)) return;
    comp.jobs.delete(job.uid);
    if (job.timer) clearTimeout(job.timer);
    if (job.state === 'running') {
      comp.running--;
      this.running--;
    }
    freed?.();
    comp.jobsDone++;
    comp.cpuTime += (o.cpuMs ?? 0) / 1000;
    const stopped = job.stopReason !== null && o.status !== 'Finished';
    const r: JobResult = {
      computeId: comp.spec.computeId,
      uid: job.uid,
      status: stopped ? 'Terminated' : o.status,
      stdout: o.stdout ?? '',
      stderr: o.stderr ?? '',
      startTime: job.startTime || Date.now() / 1000,
      endTime: o.endTime ?? Date.now() / 1000,
      ipAddr: this.ipAddr,
      ...(o.result && !stopped ? { result: o.result } : {}),
      ...(stopped
        ? { exception: job.stopReason! }
        : o.exception !== undefined
          ? { exception: o.exception }
          : {}),
      ...(o.cpuMs !== undefined ? { cpuMs: o.cpuMs } : {}),
    };
    this.deliver(comp, r);
    if (comp.jobs.size === 0) for (const w of comp.idleWaiters.splice(0)) w();
    this.checkFree();
  }

  private deliver(comp: NodeComp, r: JobResult): void {
    comp.unacked.set(r.uid, r);
    if (comp.session && !comp.session.conn.closed) comp.session.conn.send({ t: 'result', ...r });
    else comp.stored.save(r);
  }

  private ack(s: Session, m: MessageOf<'ack'>): HandlerResult {
    const comp = this.comps.get(m.computeId);
    if (!comp || comp.session !== s) return;
    for (const uid of m.uids) {
      comp.unacked.delete(uid);
      comp.stored.drop(uid);
    }
  }

  /** Stop a job: queued → dropped; running → its process is stopped (SIGINT/TERM/KILL). */
  private stopJob(job: NodeJob, reason: string): void {
    if (job.state === 'sent') {
      // Waiting in a worker: ask it to drop the job ('dropped'); if it has started it by then,
      // it is stopped as a running job when its start is seen.
      job.stopReason = reason;
      job.worker?.send({ t: 'drop', uid: job.uid });
      return;
    }
    if (job.state === 'queued') {
      this.queue = this.queue.filter((j) => j !== job);
      job.stopReason = null;
      this.finishJob(job, { status: 'Cancelled' });
      return;
    }
    if (job.stopReason !== null) return;
    job.stopReason = reason;
    const grace = this.opts.cancelGrace * 1000;
    if (job.worker) {
      const w = job.worker;
      job.comp.idle = job.comp.idle.filter((x) => x !== w);
      void w.stop(grace);
    } else if (job.program) {
      void terminateProcess(job.program.proc, { graceMs: grace, group: true });
    }
  }

  private cancel(s: Session, m: MessageOf<'cancel'>): HandlerResult {
    const comp = this.own(s, m.computeId);
    const job = comp.jobs.get(m.uid);
    if (job) this.stopJob(job, 'Cancelled');
  }

  private setCpus(s: Session, m: MessageOf<'setCpus'>): HandlerResult {
    const comp = this.own(s, m.computeId);
    comp.cpus = this.allot(m.cpus);
    this.pump();
    return { cpus: comp.cpus };
  }

  // --- recovery, closing ----------------------------------------------------------------

  private async recover(s: Session, m: MessageOf<'recover'>): Promise<HandlerResult> {
    const comp = this.comps.get(m.computeId);
    if (!comp || comp.state === 'closed')
      throw new ReplyError(`unknown computation ${m.computeId}`, 'unknown');
    if (comp.spec.token !== m.token) throw new ReplyError('wrong computation token', 'auth');
    if (comp.session && comp.session !== s) {
      comp.session.comps.delete(m.computeId);
    }
    comp.session = s;
    comp.clientId = s.clientId;
    s.comps.add(m.computeId);
    if (comp.zombieTimer) clearTimeout(comp.zombieTimer);
    comp.zombieTimer = null;
    this.startPulses(s, comp.spec.pulseInterval);
    // Results on disk but not in memory (kept by an earlier life of this computation); loading
    // waits for writes and removals in flight, so an acknowledged result never comes back.
    for (const r of await comp.stored.load((uid) => comp.unacked.has(uid))) comp.unacked.set(r.uid, r);
    const results: JobResult[] = [...comp.unacked.values()];
    return {
      results,
      cpus: comp.cpus,
      running: [...comp.jobs.values()].filter((j) => j.state === 'running').map((j) => j.uid),
      // A job sent ahead to a busy worker waits there: queued too.
      queued: [...comp.jobs.values()].filter((j) => j.state !== 'running').map((j) => j.uid),
    };
  }

  private async close(s: Session, m: MessageOf<'close'>): Promise<HandlerResult> {
    const comp = this.own(s, m.computeId);
    await this.closeComp(comp, m.terminate);
    return {};
  }

  /** Close a computation: stop or wait for its jobs, run cleanup, delete its files. */
  private async closeComp(comp: NodeComp, terminate: boolean): Promise<void> {
    if (comp.state === 'closed') return;
    if (comp.state === 'closing') {
      if (terminate)
        for (const j of [...comp.jobs.values()]) this.stopJob(j, 'Terminated: the computation was closed');
      await new Promise<void>((r) => (comp.jobs.size === 0 ? r() : comp.idleWaiters.push(r)));
      return;
    }
    comp.state = 'closing';
    if (comp.zombieTimer) clearTimeout(comp.zombieTimer);
    if (terminate) {
      for (const j of [...comp.jobs.values()]) this.stopJob(j, 'Terminated: the computation was closed');
    }
    if (comp.jobs.size > 0) await new Promise<void>((r) => comp.idleWaiters.push(r));
    await comp.files.close();
    await comp.stored.settled();
    if (comp.spec.cleanupFn && comp.spec.kind === 'function' && !this.stopping) {
      try {
        const w =
          comp.setupWorker?.state === 'idle' ? comp.setupWorker : await this.pool!.load(this.loadMsg(comp));
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
    await this.pool?.retire(comp.spec.computeId);
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
    if (!this.stopping) this.pool?.prestart(Math.max(0, this.opts.cpus - this.loadedWorkers()));
    this.checkFree();
  }

  private loadedWorkers(): number {
    let n = 0;
    for (const c of this.comps.values()) n += this.pool!.of(c.spec.computeId).length;
    return n;
  }

  /** Count served clients when the node becomes free; stop after `serve` of them. */
  private checkFree(): void {
    if (!this.wasBusy || this.holder() !== null) return;
    const open = [...this.comps.values()].some((c) => c.session !== null);
    if (open) return;
    this.wasBusy = false;
    this.served++;
    if (this.opts.serve > 0 && this.served >= this.opts.serve) {
      this.log.info(`served ${this.served} clients: stopping`);
      void this.stop();
    }
  }

  // --- files from jobs (dispySendFile) ------------------------------------------------------

  private async sendFileFromJob(
    comp: NodeComp,
    w: WorkerHandle,
    m: Extract<FromWorker, { t: 'sendFile' }>,
  ): Promise<void> {
    const fail = (error: string) => w.send({ t: 'reply', reqId: m.reqId, ok: false, error });
    const conn = comp.session?.conn;
    if (!conn || conn.closed) return fail('the client is not connected');
    const st = await fs.stat(m.path).catch(() => null);
    if (!st?.isFile()) return fail(`${m.path} is not a file`);
    if (this.opts.maxFileSize > 0 && st.size > this.opts.maxFileSize) {
      return fail(
        `${m.path} (${st.size} bytes) exceeds the node's max_file_size of ${this.opts.maxFileSize} bytes`,
      );
    }
    const rel = path.relative(comp.dir, m.path);
    const name = rel.startsWith('..') || path.isAbsolute(rel) ? path.basename(m.path) : rel;
    const xferId = this.nextXfer++;
    this.xfers.set(xferId, { worker: w, reqId: m.reqId, comp });
    let offset = 0;
    try {
      const stream = createReadStream(m.path, { highWaterMark: FILE_CHUNK_BYTES });
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        conn.send({
          t: 'xfer',
          computeId: comp.spec.computeId,
          uid: m.uid,
          xferId,
          path: name,
          offset,
          total: st.size,
          data: chunk,
          mtimeMs: st.mtimeMs,
          mode: st.mode,
        });
        offset += chunk.length;
        if (conn.congested) await new Promise((r) => conn.socket.once('drain', r));
      }
      if (st.size === 0) {
        conn.send({
          t: 'xfer',
          computeId: comp.spec.computeId,
          uid: m.uid,
          xferId,
          path: name,
          offset: 0,
          total: 0,
          data: new Uint8Array(0),
          mtimeMs: st.mtimeMs,
          mode: st.mode,
        });
      }
    } catch (e) {
      this.xfers.delete(xferId);
      fail(`reading ${m.path}: ${(e as Error).message}`);
    }
  }

  private xferDone(m: MessageOf<'xferDone'>): HandlerResult {
    const x = this.xfers.get(m.xferId);
    if (!x) return;
    this.xfers.delete(m.xferId);
    x.worker.send({ t: 'reply', reqId: x.reqId, ok: m.ok, ...(m.error ? { error: m.error } : {}) });
  }
}

function sanitize(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]/g, '_');
}

/** Start a node (convenience for tests and embedding). */
export async function startDispyNode(opts: NodeOptions = {}, log?: Logger): Promise<DispyNodeDaemon> {
  const n = new DispyNodeDaemon(opts, log);
  await n.start();
  return n;
}
