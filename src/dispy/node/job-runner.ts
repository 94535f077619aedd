/**
 * The job queue of a dispynode and its running jobs: jobs wait in one FIFO queue and start
 * while CPUs are free, function jobs in worker processes bound to their computation (see
 * `worker-pool.ts`), program jobs as child processes. It takes the workers' messages (results,
 * provisional results, dropped and tainted jobs, `dispySendFile`), stops jobs (cancel,
 * timeout, closing), and delivers results: on the client's connection, or to disk while the
 * client is away; either way kept until acknowledged.
 *
 * Invariants: {@link JobRunner.running} = number of jobs in state `running` ≤ `cpus`; a
 * computation's running jobs ≤ its allotted CPUs; a job is in exactly one of the queue, a
 * worker's waiting slot (`sent`) or running.
 *
 * @example
 * const runner = new JobRunner({ options, ipAddr, pool: () => pool, saveState, isStopping, log, sendFile, checkFree });
 * runner.submit(session, jobMessage);
 * runner.stopJob(job, 'Cancelled');
 */
import type { Logger } from 'pino';
import { safeJoin } from '../../common/fs-atomic.js';
import { decodeData, encodeData } from '../protocol/codec.js';
import type { HandlerResult } from '../protocol/connection.js';
import type { JobResult, MessageOf } from '../protocol/messages.js';
import type { FromWorker } from '../protocol/worker-protocol.js';
import { type NodeComp, type NodeJob, workerLoadMessage } from './computation.js';
import type { ResolvedNodeOptions } from './options.js';
import { type ProgramRun, startProgram } from './program.js';
import type { Session } from './session.js';
import { terminateProcess } from './terminate.js';
import type { WorkerHandle, WorkerPool } from './worker-pool.js';

export interface JobRunnerDeps {
  options: Pick<ResolvedNodeOptions, 'cpus' | 'cancelGrace' | 'maxOutput' | 'name'>;
  /** The node's address, as results and workers report it. */
  ipAddr: () => string;
  /** The worker pool (made when the node starts). */
  pool: () => WorkerPool | null;
  /** Worker or program processes came or went: the state file lists them. */
  saveState: () => void;
  isStopping: () => boolean;
  log: Logger;
  /** A job sends a file to the client (`dispySendFile`). */
  sendFile: (comp: NodeComp, w: WorkerHandle, m: Extract<FromWorker, { t: 'sendFile' }>) => void;
  /** A job ended: the node may be free now. */
  checkFree: () => void;
}

/** How a job ended, as far as its process tells. */
interface JobEnd {
  status: JobResult['status'];
  result?: Uint8Array;
  stdout?: string;
  stderr?: string;
  exception?: string;
  cpuMs?: number;
  endTime?: number;
}

export class JobRunner {
  private queue: NodeJob[] = [];
  private runningJobs = 0;
  private readonly programs = new Set<ProgramRun>();

  constructor(private readonly deps: JobRunnerDeps) {}

  /** Jobs running now (on all computations). */
  get running(): number {
    return this.runningJobs;
  }

  /** Process ids of the program jobs running now. */
  programPids(): number[] {
    return [...this.programs].map((p) => p.proc.pid).filter((p): p is number => p !== undefined);
  }

  /** Stop every program job's process (the node stops). */
  terminatePrograms(): Promise<void>[] {
    return [...this.programs].map((run) => terminateProcess(run.proc, { graceMs: 500, group: true }));
  }

  /** A job from the client: queued (or rejected, to be sent elsewhere, if its computation is not here). */
  submit(s: Session, comp: NodeComp | undefined, m: MessageOf<'job'>): HandlerResult {
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
  pump(): void {
    if (this.deps.isStopping()) return;
    for (let i = 0; i < this.queue.length; ) {
      const job = this.queue[i];
      const comp = job.comp;
      if (comp.state !== 'ready') {
        i++;
        continue;
      }
      const cpuFree = this.runningJobs < this.deps.options.cpus && comp.running < comp.cpus;
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
      if (cpuFree && this.deps.pool()!.of(comp.spec.computeId).length + comp.loading < comp.cpus) {
        this.addWorker(comp).then(
          () => this.pump(),
          () => undefined,
        );
      }
      i++;
    }
  }

  /** A worker bound to the computation, its messages and exit handled here. */
  async loadWorker(comp: NodeComp): Promise<WorkerHandle> {
    const { name, maxOutput } = this.deps.options;
    const w = await this.deps
      .pool()!
      .load(workerLoadMessage(comp, { name, ipAddr: this.deps.ipAddr(), maxOutput }));
    w.on((msg) => this.onWorkerMessage(comp, w, msg));
    w.onExit((code, signal) => this.onWorkerExit(comp, w, code, signal));
    this.deps.saveState();
    return w;
  }

  /** One more idle worker for the computation (stopped again if the computation closes meanwhile). */
  async addWorker(comp: NodeComp): Promise<void> {
    comp.loading++;
    try {
      const w = await this.loadWorker(comp);
      if (comp.state === 'closing' || comp.state === 'closed') {
        void w.stop(500);
        return;
      }
      comp.idle.push(w);
    } catch (e) {
      this.deps.log.warn(`computation ${comp.spec.name}: a worker failed to load: ${(e as Error).message}`);
      throw e;
    } finally {
      comp.loading--;
    }
  }

  /** Stop a job: queued → dropped; running → its process is stopped (SIGINT/TERM/KILL). */
  stopJob(job: NodeJob, reason: string): void {
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
    const grace = this.deps.options.cancelGrace * 1000;
    if (job.worker) {
      const w = job.worker;
      job.comp.idle = job.comp.idle.filter((x) => x !== w);
      void w.stop(grace);
    } else if (job.program) {
      void terminateProcess(job.program.proc, { graceMs: grace, group: true });
    }
  }

  /** A busy worker of the computation with no job waiting in it. */
  private workerWithRoom(comp: NodeComp): WorkerHandle | undefined {
    for (const w of this.deps.pool()!.of(comp.spec.computeId)) {
      if (w.state === 'busy' && w.jobUid !== null && w.nextUid === null && !w.stopping) return w;
    }
    return undefined;
  }

  private begin(job: NodeJob): void {
    job.state = 'running';
    job.startTime = Date.now() / 1000;
    job.comp.running++;
    this.runningJobs++;
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
      maxOutput: this.deps.options.maxOutput,
    });
    job.program = run;
    this.programs.add(run);
    this.deps.saveState();
    void run.done.then((r) => {
      this.programs.delete(run);
      this.deps.saveState();
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
        this.deps.log.warn(`worker ${w.pid} of ${comp.spec.name} is replaced: ${m.reason}`);
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
          ipAddr: this.deps.ipAddr(),
        });
        return;
      case 'sendFile':
        this.deps.sendFile(comp, w, m);
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
        this.runningJobs--;
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
    this.deps.saveState();
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
    if (!this.deps.isStopping() && comp.state === 'ready') this.pump();
  }

  private finishJob(
    job: NodeJob,
    o: JobEnd,
    /** Run once the job's CPU is free, before its result is sent. */
    freed?: () => void,
  ): void {
    const comp = job.comp;
    if (!comp.jobs.has(job.uid)) return;
    comp.jobs.delete(job.uid);
    if (job.timer) clearTimeout(job.timer);
    if (job.state === 'running') {
      comp.running--;
      this.runningJobs--;
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
      ipAddr: this.deps.ipAddr(),
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
    this.deps.checkFree();
  }

  private deliver(comp: NodeComp, r: JobResult): void {
    comp.unacked.set(r.uid, r);
    if (comp.session && !comp.session.conn.closed) comp.session.conn.send({ t: 'result', ...r });
    else comp.stored.save(r);
  }
}
