/**
 * What `JobCluster` and `SharedJobCluster` have in common: the jobs of one computation and
 * their bookkeeping — results applied to `DispyJob`s, callbacks run in the client's context,
 * files from jobs saved, `wait`, `status`, `stats`/`printStatus`, async disposal. How jobs reach
 * nodes is up to the subclass (its own scheduler, or dispyscheduler).
 *
 * Concurrency: everything runs on the client's event loop; a callback runs synchronously
 * when its job's result is applied, so it may cancel or submit jobs.
 */
import type { Logger } from 'pino';
import { DiscoError, errorMessage } from '../../common/errors.js';
import { dispyLogger } from '../log.js';
import { describeArgs, type MonitorCluster, type MonitorJob, type MonitorNode } from '../monitor/model.js';
import { decodeData, encodeData } from '../protocol/codec.js';
import { JobStatus } from '../protocol/constants.js';
import type { ComputeSpec, JobResult, MessageOf, NodeAllocSpec } from '../protocol/messages.js';
import type { TlsFiles } from '../protocol/transport.js';
import { type BuiltComputation, buildComputation, type Depend } from './computation.js';
import { DispyJob } from './dispy-job.js';
import { type DispyNode, type NodeSpec, toNodeAllocs } from './dispy-node.js';
import { FileReceiver } from './file-receiver.js';
import { CLIENT_ID, newId } from './identity.js';
import type { NodeLinkOptions } from './node-link.js';
import { defaultRecoverPath, RecoverFile } from './recover-file.js';

/** No node could be used within `nodeTimeout`. */
export class DispyNoNodesError extends DiscoError {
  override name = 'DispyNoNodesError';
}

/** The callback's view: called with the job for each provisional and the final result. */
export type JobCallback<R> = (job: DispyJob<R>) => void;
/** `clusterStatus(status, node, job)`: node status changes and job status changes. */
export type ClusterStatusCallback = (
  status: string,
  node: DispyNode | null,
  job: DispyJob<unknown> | null,
) => void;

/** Options common to both kinds of clusters. */
export interface ClusterCommonOptions<R> extends TlsFiles {
  /**
   * Nodes to use: names, addresses, wildcards (`192.168.3.*`), `[host, port]`, `NodeAllocate`s
   * (for `SharedJobCluster`: which of the scheduler's nodes). Default `['*']`.
   */
  nodes?: NodeSpec | NodeSpec[];
  /** Functions and classes (as source), module and data files, `{ name: value }` data. */
  depends?: Depend[];
  /** Run once on each node before its jobs; what it stores on `globalThis` is shared read-only with jobs. */
  setup?: (...args: never[]) => unknown;
  /** Called (in this process) for every provisional and final result. */
  callback?: JobCallback<R>;
  /** Called for node and job status changes (the original's `cluster_status`). */
  clusterStatus?: ClusterStatusCallback;
  /** Address to use for communication (the local side of connections). */
  ipAddr?: string;
  /** Address nodes should use to reach this client (NAT). */
  extIpAddr?: string;
  /** Relative directory on the nodes for the files; default a fresh one per computation. */
  destPath?: string;
  /** Log level (pino name or the original's number); default 'warn'. */
  loglevel?: string | number;
  /** Delete transferred files on the nodes at close (default true), or a function run there first. */
  cleanup?: boolean | ((...args: never[]) => unknown);
  /** Resubmit the jobs of a dead node to other nodes (otherwise they end `Abandoned`). */
  reentrant?: boolean;
  secret?: string;
  /** Default time limit of each job in seconds (0 = none); `submitJob` can set one per job. */
  timeout?: number;
  /** Seconds to wait for a usable node before failing queued jobs (default 10). */
  nodeTimeout?: number;
  /** Directory where files sent with `dispySendFile` are saved (default: the current directory). */
  clientDir?: string;
  /** Keep a fault-recovery file: `true` for `_dispy_fault_recover_<time>` or a path. */
  faultRecover?: boolean | string;
  logger?: Logger;
}

/** Options of one submission ({@link ClusterBase.submitJob}). */
export interface SubmitOptions {
  /** Time limit in seconds (0 = none). */
  timeout?: number;
  /** Set `job.id`. */
  id?: unknown;
  /** Run on this node only (address, name or {@link DispyNode}). */
  node?: string | DispyNode;
}

/** What `cluster.status()` returns (the original's `ClusterStatus`). */
export interface ClusterStatus {
  nodes: DispyNode[];
  jobsPending: number;
}

type AnyFn = (...args: never[]) => unknown;
/** Arguments of a computation: the function's parameters, or strings/numbers for programs. */
export type ArgsOf<C> = C extends AnyFn ? Parameters<C> : (string | number)[];
/** Result of a computation: the function's (awaited) return value, or the program's exit status. */
export type ResultOf<C> = C extends AnyFn ? Awaited<ReturnType<C>> : number;

export abstract class ClusterBase<C extends AnyFn | string> {
  readonly computeId = newId(8);
  readonly token = newId(16);
  readonly log: Logger;
  /** The computation's name (the function's, or the program path). */
  readonly name: string;
  protected readonly jobs = new Map<number, DispyJob<ResultOf<C>>>();
  protected readonly argBytes = new Map<number, Uint8Array>();
  protected nextUid = 1;
  protected pending = 0;
  protected waiters: (() => void)[] = [];
  protected readonly nodes = new Map<string, DispyNode>();
  protected readonly receiver: FileReceiver;
  protected closed = false;
  protected closing: Promise<void> | null = null;
  protected recoverFile: RecoverFile | null = null;
  protected readonly startedAt = Date.now();

  constructor(
    readonly computation: C,
    protected readonly common: ClusterCommonOptions<ResultOf<C>>,
  ) {
    this.name = typeof computation === 'string' ? computation : computation.name || 'compute';
    this.log = common.logger ?? dispyLogger(`dispy:${this.name}`, common.loglevel);
    if (common.reentrant !== undefined && typeof common.reentrant !== 'boolean') {
      throw new DiscoError('reentrant must be true or false');
    }
    this.receiver = new FileReceiver(common.clientDir ?? process.cwd());
  }

  /** Path of the fault-recovery file (when `faultRecover` is set). */
  get recoverPath(): string | undefined {
    return this.recoverFile?.path;
  }

  /** Start the fault-recovery file when `faultRecover` asks for one. */
  protected openRecoverFile(via: 'node' | 'scheduler'): void {
    const fr = this.common.faultRecover;
    if (!fr) return;
    this.recoverFile = RecoverFile.create(typeof fr === 'string' ? fr : defaultRecoverPath(), {
      computeId: this.computeId,
      token: this.token,
      name: this.name,
      created: Date.now() / 1000,
      via,
    });
  }

  /** Who this client is toward nodes or dispyscheduler: secret, TLS files, local address. */
  protected linkCredentials(): Pick<
    NodeLinkOptions,
    'secret' | 'role' | 'clientId' | 'certfile' | 'keyfile' | 'localAddress'
  > {
    const o = this.common;
    return {
      secret: o.secret ?? '',
      role: 'client',
      clientId: CLIENT_ID,
      certfile: o.certfile,
      keyfile: o.keyfile,
      ...(o.ipAddr ? { localAddress: o.ipAddr } : {}),
    };
  }

  /** Build the computation (source, depends, setup, cleanup) and what nodes receive of it. */
  protected async buildSpec(pulseInterval: number): Promise<{ built: BuiltComputation; spec: ComputeSpec }> {
    const o = this.common;
    const built = await buildComputation(this.computation as never, {
      depends: o.depends,
      setup: o.setup,
      cleanup: o.cleanup,
    });
    const spec: ComputeSpec = {
      computeId: this.computeId,
      token: this.token,
      name: built.name,
      kind: built.kind,
      entry: built.entry,
      ...(built.source !== undefined ? { source: built.source } : {}),
      ...(built.setup ? { setup: built.setup } : {}),
      ...(built.cleanupFn ? { cleanupFn: built.cleanupFn } : {}),
      ...(built.data ? { data: built.data } : {}),
      cleanup: o.cleanup !== false,
      files: built.files.map(({ abs: _abs, ...f }) => f),
      ...(o.destPath ? { destPath: o.destPath } : {}),
      pulseInterval,
      timeout: o.timeout ?? 0,
      ...(o.reentrant !== undefined ? { reentrant: o.reentrant } : {}),
    };
    return { built, spec };
  }

  /** Run `computation(...args)` on a node; returns the job (awaitable for its result). */
  submit(...args: ArgsOf<C>): DispyJob<ResultOf<C>> {
    return this.submitJob(args);
  }

  /** Like {@link submit}, with options (per-job `timeout`, `id`, `node`). */
  submitJob(args: ArgsOf<C>, opts: SubmitOptions = {}): DispyJob<ResultOf<C>> {
    if (this.closed || this.closing) throw new DiscoError(`cluster ${this.name} is closed`);
    const bytes = encodeData(args, 'the job arguments');
    const uid = this.nextUid++;
    const job = new DispyJob<ResultOf<C>>(uid, args, opts.timeout ?? this.common.timeout ?? 0);
    if (opts.id !== undefined) job.id = opts.id;
    this.jobs.set(uid, job);
    this.argBytes.set(uid, bytes);
    this.pending++;
    const node =
      opts.node === undefined ? undefined : typeof opts.node === 'string' ? opts.node : opts.node.ipAddr;
    this.enqueue(job, bytes, node);
    return job;
  }

  /** Run on a given node (address, name or `DispyNode`); the job is never moved elsewhere. */
  submitNode(node: string | DispyNode, ...args: ArgsOf<C>): DispyJob<ResultOf<C>> {
    return this.submitJob(args, { node });
  }

  /** Queue a new job (subclass: schedule it). */
  protected abstract enqueue(job: DispyJob<ResultOf<C>>, args: Uint8Array, node: string | undefined): void;

  /**
   * Wait until every submitted job is done. With `timeout` (seconds), resolves false if jobs
   * are still pending then.
   */
  wait(timeout?: number): Promise<boolean> {
    if (this.pending === 0) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      let timer: NodeJS.Timeout | null = null;
      const done = () => {
        if (timer) clearTimeout(timer);
        resolve(true);
      };
      this.waiters.push(done);
      if (timeout !== undefined && timeout >= 0) {
        timer = setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== done);
          resolve(this.pending === 0);
        }, timeout * 1000);
      }
    });
  }

  /** Jobs not done yet. */
  get jobsPending(): number {
    return this.pending;
  }

  /** Nodes in use and pending jobs. */
  status(): ClusterStatus {
    return { nodes: [...this.nodes.values()], jobsPending: this.pending };
  }

  /** Statistics per node (as the original's `print_status`), printed and returned. */
  printStatus(wallTime?: number): string {
    const lines: string[] = [];
    const head = `${'Node'.padStart(31)} |  CPUs |    Jobs |    Sec/Job | Node Time Sec |      Sent |      Rcvd`;
    lines.push('', head, '-'.repeat(head.length));
    let total = 0;
    for (const n of this.nodes.values()) {
      const name = n.name && n.name !== n.ipAddr ? `${n.ipAddr} (${n.name})` : n.ipAddr;
      const per = n.jobsDone ? n.cpuTime / n.jobsDone : 0;
      total += n.cpuTime;
      lines.push(
        `${name.slice(0, 31).padEnd(31)} | ${String(n.cpus).padStart(5)} | ${String(n.jobsDone).padStart(7)} | ` +
          `${per.toFixed(3).padStart(10)} | ${n.cpuTime.toFixed(3).padStart(13)} | ${fmtBytes(n.tx).padStart(9)} | ${fmtBytes(n.rx).padStart(9)}`,
      );
    }
    const wall = wallTime ?? (Date.now() - this.startedAt) / 1000;
    lines.push(
      '',
      `Total job time: ${total.toFixed(3)} sec, wall time: ${wall.toFixed(3)} sec, speedup: ${(wall > 0 ? total / wall : 0).toFixed(3)}`,
      '',
    );
    const out = lines.join('\n');
    process.stdout.write(`${out}\n`);
    return out;
  }

  /** Alias of {@link printStatus}. */
  stats(wallTime?: number): string {
    return this.printStatus(wallTime);
  }

  abstract cancel(job: DispyJob<unknown>): number;

  /** For the monitor page (see `startMonitor`): this cluster's nodes and running jobs. */
  monitorStatus(): MonitorCluster[] {
    this.refreshNodeStats();
    const submitted = this.nextUid - 1;
    const jobs: MonitorJob[] = [];
    for (const j of this.jobs.values()) {
      if (j.status !== JobStatus.Running && j.status !== JobStatus.ProvisionalResult) continue;
      jobs.push({
        uid: j.uid,
        id: String(j.id),
        status: j.status,
        node: j.ipAddr ?? '',
        startTime: j.startTime ?? null,
        args: describeArgs(j.args),
      });
    }
    return [
      {
        computeId: this.computeId,
        name: this.name,
        submitted,
        done: submitted - this.pending,
        pending: this.pending,
        nodes: [...this.nodes.values()].map((n) => n.toJSON() as unknown as MonitorNode),
        jobs,
      },
    ];
  }

  /** For the monitor page: cancel a job by its number. */
  monitorCancel(computeId: string, uid: number): boolean {
    const job = this.jobs.get(uid);
    return computeId === this.computeId && job !== undefined && this.cancel(job) === 0;
  }

  /** Update per-node byte counters before reporting (subclasses with connections). */
  protected refreshNodeStats(): void {}
  /**
   * Wait for the jobs (unless `terminate`), then close the computation on every node (which
   * runs `cleanup` there). With `timeout` (seconds), jobs still running then are terminated.
   */
  close(opts: { timeout?: number; terminate?: boolean } = {}): Promise<void> {
    if (!this.closing) this.closing = this.doClose(opts);
    return this.closing;
  }

  protected abstract doClose(opts: { timeout?: number; terminate?: boolean }): Promise<void>;

  /** `await using cluster = new JobCluster(...)` closes it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // --- applying outcomes ------------------------------------------------------------------

  protected runCallback(job: DispyJob<ResultOf<C>>): void {
    const cb = this.common.callback;
    if (!cb) return;
    try {
      cb(job);
    } catch (e) {
      this.log.error(`callback failed for job ${String(job.id)}: ${errorMessage(e)}`);
    }
  }

  protected notify(status: string, node: DispyNode | null, job: DispyJob<unknown> | null): void {
    const cb = this.common.clusterStatus;
    if (!cb) return;
    try {
      cb(status, node, job);
    } catch (e) {
      this.log.error(`clusterStatus callback failed: ${errorMessage(e)}`);
    }
  }

  /** Apply a final result from a node; returns the job (undefined if unknown or done already). */
  protected applyResult(r: JobResult, node: DispyNode | undefined): DispyJob<ResultOf<C>> | undefined {
    const job = this.jobs.get(r.uid);
    if (!job || job.done) return undefined;
    const status = fillFromResult(job, r);
    if (node) {
      node.jobsDone++;
      node.cpuTime += Math.max(0, r.endTime - r.startTime);
      node.updateTime = Date.now() / 1000;
    }
    this.finishJob(job, status);
    return job;
  }

  protected applyProvisional(m: MessageOf<'provisional'>): void {
    const job = this.jobs.get(m.uid);
    if (!job || job.done) return;
    try {
      job.result = decodeData(m.result) as ResultOf<C>;
    } catch (e) {
      this.log.warn(`undecodable provisional result of job ${String(job.id)}: ${errorMessage(e)}`);
      return;
    }
    job.status = JobStatus.ProvisionalResult;
    job.ipAddr = m.ipAddr;
    this.runCallback(job);
    this.notify(JobStatus.ProvisionalResult, null, job);
  }

  /** End a job locally (cancelled, abandoned, failed to start). */
  protected endJob(job: DispyJob<ResultOf<C>>, status: JobStatus, exception?: string): void {
    if (job.done) return;
    if (exception !== undefined) job.exception = exception;
    this.finishJob(job, status);
  }

  private finishJob(job: DispyJob<ResultOf<C>>, status: JobStatus): void {
    job._finish(status);
    this.argBytes.delete(job.uid);
    this.jobs.delete(job.uid);
    this.pending--;
    this.runCallback(job);
    this.notify(status, null, job);
    if (this.pending === 0) for (const w of this.waiters.splice(0)) w();
  }

  protected saveFile(m: MessageOf<'xfer'>, reply: (d: MessageOf<'xferDone'>) => void, key: string): void {
    this.receiver.chunk(m, reply, key);
  }
}

/** `nodes` as sent on the wire (to dispyscheduler); setup arguments encoded. */
export function allocSpecs(nodes: NodeSpec | NodeSpec[] | undefined): NodeAllocSpec[] {
  return toNodeAllocs(nodes).map((a) => ({
    host: a.host,
    cpus: a.cpus,
    ...(a.port ? { port: a.port } : {}),
    ...(a.setupArgs.length ? { setupArgs: encodeData(a.setupArgs, 'setup arguments') } : {}),
  }));
}

/** Copy a node's report into a job; returns the status to finish it with. */
export function fillFromResult(job: DispyJob<unknown>, r: JobResult): JobStatus {
  job.stdout = r.stdout;
  job.stderr = r.stderr;
  job.startTime = r.startTime;
  job.endTime = r.endTime;
  job.ipAddr = r.ipAddr;
  job.cpuTime = (r.cpuMs ?? 0) / 1000;
  job.exception = r.exception;
  job.result = undefined;
  if (r.result) {
    try {
      job.result = decodeData(r.result);
    } catch (e) {
      job.exception = `the result could not be decoded: ${errorMessage(e)}`;
      return JobStatus.Terminated;
    }
  }
  return r.status;
}

function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(1)} GB`;
}
