/**
 * Results kept on disk until their client acknowledges them: one file per job
 * (`<dir>/<uid>.msgpack`, written atomically), used by dispynode when a client went away and by
 * dispyscheduler for results it has not delivered yet.
 *
 * Writes and removals run in the background, but the operations on one job are serialized, and
 * {@link ResultStore.settled} waits for all of them: a result acknowledged while its file was
 * still being written is deleted once the write lands, and a reader that awaits `settled()`
 * first never sees a file for a result acknowledged before it (the race that made a second
 * `faultRecoverJobs` report an already recovered job).
 *
 * @example
 * const store = new ResultStore(path.join(compDir, '.dispy-results'), log);
 * store.save(result);           // client gone: keep it
 * store.drop(result.uid);       // acknowledged: forget it
 * await store.settled();
 * const earlier = await store.load((uid) => inMemory.has(uid));
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { writeFileAtomic } from '../../common/fs-atomic.js';
import { packMessage, unpackMessage } from '../protocol/codec.js';
import { type JobResult, JobResultSchema } from '../protocol/messages.js';

export class ResultStore {
  /** Jobs whose file exists or is being written. */
  private readonly stored = new Set<number>();
  /** The last operation queued per job (removed from the map once it ends). */
  private readonly tails = new Map<number, Promise<void>>();

  constructor(
    readonly dir: string,
    private readonly log?: Logger,
  ) {}

  /** Whether a file is kept (or being written) for this job. */
  has(uid: number): boolean {
    return this.stored.has(uid);
  }

  /** Keep `r` on disk (once per job). */
  save(r: JobResult): void {
    if (this.stored.has(r.uid)) return;
    this.stored.add(r.uid);
    this.enqueue(r.uid, () => writeFileAtomic(this.file(r.uid), packMessage(r)), 'store');
  }

  /** Forget a job's result: its file goes (after a write still in flight). */
  drop(uid: number): void {
    if (!this.stored.delete(uid)) return;
    this.enqueue(uid, () => fs.rm(this.file(uid), { force: true }), 'remove');
  }

  /** Resolves when every write and removal queued so far has ended. */
  async settled(): Promise<void> {
    while (this.tails.size > 0) await Promise.all([...this.tails.values()]);
  }

  /**
   * Results on disk that `known` does not already hold in memory (kept by an earlier life of
   * the process or of the connection). Damaged files are skipped.
   */
  async load(known: (uid: number) => boolean): Promise<JobResult[]> {
    await this.settled();
    const out: JobResult[] = [];
    for (const f of await fs.readdir(this.dir).catch(() => [] as string[])) {
      if (!/^\d+\.msgpack$/.test(f)) continue;
      const uid = Number.parseInt(f, 10);
      if (known(uid)) continue;
      try {
        const r = JobResultSchema.parse(unpackMessage(await fs.readFile(path.join(this.dir, f))));
        this.stored.add(uid);
        out.push(r);
      } catch (e) {
        this.log?.warn(`skipping damaged result file ${path.join(this.dir, f)}: ${(e as Error).message}`);
      }
    }
    return out;
  }

  private file(uid: number): string {
    return path.join(this.dir, `${uid}.msgpack`);
  }

  private enqueue(uid: number, op: () => Promise<unknown>, what: string): void {
    const prev = this.tails.get(uid) ?? Promise.resolve();
    const next: Promise<void> = prev
      .then(op)
      .then(
        () => undefined,
        (e: Error) => this.log?.warn(`cannot ${what} the result of job ${uid}: ${e.message}`),
      )
      .finally(() => {
        if (this.tails.get(uid) === next) this.tails.delete(uid);
      });
    this.tails.set(uid, next);
  }
}
