/**
 * Durable job store: `DISCO_MASTER_ROOT/<HH>/<job>/` holds `jobfile` (the job pack as
 * submitted), `events` (append-only log, see events.ts) and `state.json` (what jobinfo, joblist
 * and get_results need once the job is no longer running). Files are written to a temporary
 * name and renamed, so a master killed at any instant restarts into a consistent state.
 *
 * On start {@link JobStore.loadAll} lists every job again; jobs that were active when the
 * master died are marked dead with the event `ERROR: Job failed: master restarted`.
 *
 * Concurrency: state writes of one job are coalesced and serialized (the newest state always
 * lands last); different jobs write independently.
 */
import { appendFile, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../../common/fs-atomic.js';
import { type JobDict, parseJobDict, readJobPackHeader } from '../../protocol/jobpack.js';
import { hexHash, isValidJobName, makeJobName } from '../../protocol/names.js';
import type { FailedTask } from '../scheduler/types.js';
import { formatEventLine } from './events.js';

export type JobStatus = 'active' | 'ready' | 'dead';

const Counters = z.tuple([z.number(), z.number(), z.number(), z.number()]);
const InputSchema = z.union([z.string(), z.array(z.string())]);

/** {@link FailedTask} as persisted (the compiler keeps the two in step). */
const FailedTaskSchema = z.object({
  mode: z.enum(['map', 'reduce']),
  taskid: z.number().int(),
  node: z.string().nullable(),
  input: z.string().nullable(),
}) satisfies z.ZodType<FailedTask>;

/** Why a dead job ended, kept so nobody has to search its events log for it. */
const JobFailureSchema = z.object({
  /**
   * The text of the `ERROR: Job failed: …` event (a crashed task's error with its stack, cut at
   * 65536 characters), or `Job killed`.
   */
  reason: z.string(),
  /** The task whose failure failed the job; null when no one task did (killed, shuffle, restart). */
  task: FailedTaskSchema.nullable(),
});
export type JobFailure = z.infer<typeof JobFailureSchema>;

/** The persisted record of one job (`state.json`). */
export const JobRecordSchema = z.object({
  version: z.literal(1),
  name: z.string(),
  status: z.enum(['active', 'ready', 'dead']),
  /** Submission time, ms since the epoch (joblist, jobinfo timestamp). */
  submittedAt: z.number(),
  finishedAt: z.number().nullable(),
  owner: z.string(),
  worker: z.string(),
  /** The first 100 inputs (jobinfo shows no more). */
  inputs: z.array(InputSchema),
  nrInputs: z.number().int(),
  nrReduces: z.number().int(),
  map: z.boolean(),
  reduce: z.boolean(),
  results: z.array(z.string()),
  /** Map-phase results once the map phase finished (get_mapresults), else null. */
  mapResults: z.array(z.string()).nullable(),
  mapi: Counters,
  redi: Counters,
  /**
   * Set when the job fails (null otherwise). Absent in records written before it was kept:
   * their reason is only in the events log.
   */
  failure: JobFailureSchema.nullable().optional(),
});
export type JobRecord = z.infer<typeof JobRecordSchema>;

/** The initial record of a job from its jobdict. */
export function newJobRecord(name: string, d: JobDict, now: number): JobRecord {
  return {
    version: 1,
    name,
    status: 'active',
    submittedAt: now,
    finishedAt: null,
    owner: d.owner,
    worker: d.worker,
    inputs: d.input.slice(0, 100),
    nrInputs: d.input.length,
    nrReduces: d.nr_reduces,
    map: d['map?'] ?? false,
    reduce: d['reduce?'] ?? false,
    results: [],
    mapResults: null,
    mapi: [0, 0, 0, 0],
    redi: [0, 0, 0, 0],
    failure: null,
  };
}

/** Failure reason of jobs found active at start-up. */
export const MASTER_RESTARTED_REASON = 'master restarted';
/** Event line added to jobs found active at start-up. */
export const MASTER_RESTARTED = `ERROR: Job failed: ${MASTER_RESTARTED_REASON}`;

/** The job directories under `DISCO_MASTER_ROOT`. */
export class JobStore {
  private readonly pending = new Map<string, { latest: JobRecord; fsync: boolean }>();
  private readonly writers = new Map<string, Promise<void>>();

  constructor(readonly root: string) {}

  /** `DISCO_MASTER_ROOT/<HH>/<job>` */
  jobDir(name: string): string {
    return path.join(this.root, hexHash(name), name);
  }

  eventsFile(name: string): string {
    return path.join(this.jobDir(name), 'events');
  }

  /**
   * Create the directory of a new job named after `prefix` (a fresh name is taken if the
   * directory exists) and store the pack as `jobfile`. Returns the job name.
   */
  async create(prefix: string, pack: Uint8Array): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      const name = makeJobName(prefix);
      const dir = this.jobDir(name);
      await mkdir(path.dirname(dir), { recursive: true });
      try {
        await mkdir(dir);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST' && attempt < 100) continue;
        throw e;
      }
      await writeFileAtomic(path.join(dir, 'jobfile'), pack);
      return name;
    }
  }

  /**
   * Persist a job's record. Writes of one job are coalesced: only the newest record is written
   * once the previous write finished. `fsync` asks for a durable write (final states).
   */
  saveRecord(rec: JobRecord, opts: { fsync?: boolean } = {}): Promise<void> {
    const prev = this.pending.get(rec.name);
    this.pending.set(rec.name, {
      latest: structuredClone(rec),
      fsync: (prev?.fsync ?? false) || !!opts.fsync,
    });
    const running = this.writers.get(rec.name);
    // The running loop picks up the newest record before it ends.
    if (running) return running;
    const loop = (async () => {
      for (;;) {
        const next = this.pending.get(rec.name);
        if (!next) break;
        this.pending.delete(rec.name);
        try {
          await writeFileAtomic(path.join(this.jobDir(rec.name), 'state.json'), JSON.stringify(next.latest), {
            fsync: next.fsync,
          });
        } catch (e) {
          // The directory is gone (job cleaned): nothing left to record.
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        }
      }
    })().finally(() => this.writers.delete(rec.name));
    this.writers.set(rec.name, loop);
    return loop;
  }

  /** Delete a job's directory (clean/purge); waits for pending writes first. */
  async remove(name: string): Promise<void> {
    if (!isValidJobName(name)) return;
    this.pending.delete(name);
    await this.writers.get(name)?.catch(() => {});
    await rm(this.jobDir(name), { recursive: true, force: true });
  }

  /**
   * Every job on disk, oldest first. Jobs still `active` (the master died while they ran) are
   * turned `dead` and get the {@link MASTER_RESTARTED} event.
   */
  async loadAll(): Promise<JobRecord[]> {
    const out: JobRecord[] = [];
    let hashDirs: string[];
    try {
      hashDirs = await readdir(this.root);
    } catch {
      return out;
    }
    for (const hh of hashDirs) {
      if (!/^[0-9a-f]{2}$/.test(hh)) continue;
      let names: string[];
      try {
        names = await readdir(path.join(this.root, hh));
      } catch {
        continue;
      }
      for (const name of names) {
        if (!isValidJobName(name) || hexHash(name) !== hh) continue;
        const rec = await this.loadOne(name);
        if (rec) out.push(rec);
      }
    }
    return out.sort((a, b) => a.submittedAt - b.submittedAt || a.name.localeCompare(b.name));
  }

  private async loadOne(name: string): Promise<JobRecord | null> {
    const dir = this.jobDir(name);
    let rec: JobRecord | null = null;
    try {
      const parsed = JobRecordSchema.safeParse(
        JSON.parse(await readFile(path.join(dir, 'state.json'), 'utf8')),
      );
      if (parsed.success && parsed.data.name === name) rec = parsed.data;
    } catch {
      // Missing or unreadable: rebuilt from the jobfile below.
    }
    if (!rec) rec = await this.recordFromJobfile(name);
    if (!rec) return null;
    if (rec.status === 'active') {
      rec = {
        ...rec,
        status: 'dead',
        finishedAt: Date.now(),
        mapi: stopped(rec.mapi),
        redi: stopped(rec.redi),
        failure: { reason: MASTER_RESTARTED_REASON, task: null },
      };
      await appendFile(path.join(dir, 'events'), formatEventLine('master', MASTER_RESTARTED));
      await this.saveRecord(rec, { fsync: true });
    }
    return rec;
  }

  /** A job whose state was never written (master died during submission): dead, from its pack. */
  private async recordFromJobfile(name: string): Promise<JobRecord | null> {
    const file = path.join(this.jobDir(name), 'jobfile');
    try {
      const bytes = await readFile(file);
      const o = readJobPackHeader(bytes);
      const dict = parseJobDict(bytes.subarray(o.dict, o.envs));
      const { mtimeMs } = await stat(file);
      return newJobRecord(name, dict, mtimeMs);
    } catch {
      return null;
    }
  }
}

/** Counters of a job that stopped: nothing runs any more. */
function stopped(c: [number, number, number, number]): [number, number, number, number] {
  return [c[0] + c[1], 0, c[2], c[3]];
}
