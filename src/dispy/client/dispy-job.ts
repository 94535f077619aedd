/**
 * `DispyJob`: one execution of a computation with one set of arguments, as returned by
 * `cluster.submit(...)`. Its fields are filled in as the job runs; `status` goes
 * `Created` → `Running` → (`ProvisionalResult` …) → `Finished` | `Terminated` | `Cancelled` |
 * `Abandoned`.
 *
 * A `DispyJob` is awaitable: `await job` resolves with the result when the job finishes and
 * rejects with a {@link DispyJobError} (which carries the job) when it ends otherwise. `await
 * job.finish()` waits for any final status without throwing (then read the fields, as after the
 * original's `job()`).
 *
 * @example
 * const job = cluster.submit(3, 4);
 * job.id = 'three-four';
 * try {
 *   console.log(await job, job.stdout);
 * } catch (e) {
 *   console.log(job.status, job.exception);
 * }
 */
import { DiscoError } from '../../common/errors.js';
import { FINAL_STATUSES, JobStatus } from '../protocol/constants.js';

/** A job ended in a state other than `Finished`. */
export class DispyJobError extends DiscoError {
  override name = 'DispyJobError';
  constructor(readonly job: DispyJob<unknown>) {
    super(`job ${String(job.id)} ${job.status}${job.exception ? `: ${firstLine(job.exception)}` : ''}`);
  }
}

function firstLine(s: string): string {
  const nl = s.indexOf('\n');
  return nl < 0 ? s : s.slice(0, nl);
}

let nextAutoId = 1;

export class DispyJob<R = unknown> implements PromiseLike<R> {
  static readonly Created = JobStatus.Created;
  static readonly Running = JobStatus.Running;
  static readonly ProvisionalResult = JobStatus.ProvisionalResult;
  static readonly Cancelled = JobStatus.Cancelled;
  static readonly Terminated = JobStatus.Terminated;
  static readonly Abandoned = JobStatus.Abandoned;
  static readonly Finished = JobStatus.Finished;

  /** Free for the user: set it to anything that identifies the job (default: a counter). */
  id: unknown;
  status: JobStatus = JobStatus.Created;
  /** The computation's return value (functions) or exit status (programs); provisional results too. */
  result: R | undefined = undefined;
  stdout = '';
  stderr = '';
  /** The exception's stack trace when the job raised, or why it ended otherwise. */
  exception: string | undefined = undefined;
  /** When the job was submitted (seconds since the epoch, like the original). */
  readonly submitTime = Date.now() / 1000;
  /** When it started on a node, and when its result arrived (seconds since the epoch). */
  startTime: number | undefined = undefined;
  endTime: number | undefined = undefined;
  /** Address of the node that ran it. */
  ipAddr: string | undefined = undefined;
  /** CPU seconds the job used on the node (function jobs). */
  cpuTime = 0;

  /** Resolves (with nothing: a job is a thenable) when the job has a final status. */
  private readonly settled: Promise<void>;
  private settle!: () => void;

  /** @internal */
  constructor(
    /** @internal the cluster-assigned number. */
    readonly uid: number,
    /** The arguments it was submitted with. */
    readonly args: readonly unknown[],
    /** Per-job time limit in seconds (0 = none). */
    readonly timeout = 0,
  ) {
    this.id = nextAutoId++;
    this.settled = new Promise<void>((resolve) => {
      this.settle = resolve;
    });
  }

  /** Whether the job has a final status. */
  get done(): boolean {
    return FINAL_STATUSES.has(this.status);
  }

  /**
   * Wait for a final status (never rejects); then read `status`, `result`, `exception`. (It
   * cannot resolve with the job itself: a job is awaitable, so it would be awaited in turn.)
   */
  finish(): Promise<void> {
    return this.settled;
  }

  /** `await job`: the result, or a {@link DispyJobError} if the job did not finish normally. */
  // biome-ignore lint/suspicious/noThenProperty: a DispyJob is awaitable by design.
  then<T1 = R, T2 = never>(
    onfulfilled?: ((value: R) => T1 | PromiseLike<T1>) | null,
    onrejected?: ((reason: unknown) => T2 | PromiseLike<T2>) | null,
  ): Promise<T1 | T2> {
    return this.settled
      .then(() => {
        if (this.status !== JobStatus.Finished) throw new DispyJobError(this as DispyJob<unknown>);
        return this.result as R;
      })
      .then(onfulfilled, onrejected);
  }

  /** @internal set the final status and wake waiters. */
  _finish(status: JobStatus): void {
    if (this.done) return;
    this.status = status;
    if (this.endTime === undefined) this.endTime = Date.now() / 1000;
    this.settle();
  }

  /** A snapshot for `clusterStatus` callbacks / the monitor. */
  toJSON(): Record<string, unknown> {
    return {
      id: this.id,
      status: this.status,
      result: this.result,
      stdout: this.stdout,
      stderr: this.stderr,
      exception: this.exception,
      submitTime: this.submitTime,
      startTime: this.startTime,
      endTime: this.endTime,
      ipAddr: this.ipAddr,
    };
  }
}
