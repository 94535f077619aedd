/**
 * Job homes on a node (wire spec §2.4): `DISCO_DATA/<host>/<HH>/<jobname>`.
 *
 * On the first task of a job on this node the job pack is fetched from the master
 * (`GET <master>/disco/ctrl/parameters?name=<job>`) and streamed to `jobfile`; its jobhome
 * ZIP is extracted into the directory (safely, see safe-unzip.ts); the worker file is made
 * executable; then the empty `.jobhome` marker says the home is complete. A home with the
 * marker is reused as it is (also after a node restart).
 *
 * Concurrency: preparation is serialised per job name (one promise per job; concurrent tasks
 * wait for it); a failed preparation is forgotten so the next task tries again from scratch.
 * Purging waits for a preparation in progress before deleting.
 */
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { errorMessage } from '../common/errors.js';
import {
  HEADER_SIZE,
  JobEnvsSchema,
  JobPackError,
  parseJobDict,
  readJobPackHeader,
} from '../protocol/jobpack.js';
import { hexHash, isValidJobName } from '../protocol/names.js';
import { extractZipRange } from './safe-unzip.js';
import type { JobLocation } from './task-outputs.js';

/** What the task runner needs from a prepared job home. */
export interface JobHome extends JobLocation {
  job: string;
  hh: string;
  /** Absolute path of the job pack copy (`<home>/jobfile`, the TASK reply's `jobfile`). */
  jobfile: string;
  /** `jobdict.worker`: the worker file, relative to the home. */
  worker: string;
  jobenvs: Record<string, string>;
  /** `jobdict.ts_worker`, if the job was built for the TypeScript worker runtime. */
  tsWorker: string | null;
}

/** Preparing a job home failed; the task fails with `error` and is retried. */
export class JobHomeError extends Error {
  override name = 'JobHomeError';
}

/** Wiring of {@link JobHomes}. */
export interface JobHomesOptions {
  discoData: string;
  host: string;
  /** The master's base URL (read at each fetch: it may change on reconnect). */
  masterUrl: () => string;
  /** Time limit for fetching one job pack. */
  fetchTimeoutMs?: number;
  /** How many prepared homes to remember (others are re-read from disk when needed). */
  cacheSize?: number;
}

const MARKER = '.jobhome';
const JOBFILE = 'jobfile';

/** The job homes of one node. */
export class JobHomes {
  private readonly homes = new Map<string, Promise<JobHome>>();

  constructor(private readonly opts: JobHomesOptions) {}

  /** Where `job` lives (whether or not it is prepared). */
  locate(job: string): JobLocation & { hh: string } {
    if (!isValidJobName(job)) throw new JobHomeError(`invalid job name ${JSON.stringify(job)}`);
    const hh = hexHash(job);
    const { discoData, host } = this.opts;
    return {
      dir: path.resolve(discoData, host, hh, job),
      hh,
      urlBase: `${host}/disco/${host}/${hh}/${job}`,
    };
  }

  /** The prepared home of `job`, preparing it on first use. */
  ensure(job: string): Promise<JobHome> {
    const known = this.homes.get(job);
    if (known) {
      // Refresh the entry's position: the map's order is the eviction order.
      this.homes.delete(job);
      this.homes.set(job, known);
      return known;
    }
    const p = this.prepare(job);
    this.homes.set(job, p);
    p.catch(() => {
      if (this.homes.get(job) === p) this.homes.delete(job);
    });
    const max = this.opts.cacheSize ?? 256;
    while (this.homes.size > max) {
      const oldest = this.homes.keys().next().value as string;
      this.homes.delete(oldest);
    }
    return p;
  }

  /** Delete `job`'s home (after any preparation in progress). */
  async purge(job: string): Promise<void> {
    const pending = this.homes.get(job);
    this.homes.delete(job);
    await pending?.catch(() => {});
    if (!isValidJobName(job)) return;
    await fs.rm(this.locate(job).dir, { recursive: true, force: true });
  }

  private async prepare(job: string): Promise<JobHome> {
    const loc = this.locate(job);
    const jobfile = path.join(loc.dir, JOBFILE);
    try {
      if (await exists(path.join(loc.dir, MARKER))) {
        return { ...loc, job, jobfile, ...headFields(await readJobFileHead(jobfile)) };
      }
    } catch (e) {
      throw new JobHomeError(`Reading the job file failed: ${errorMessage(e)}`);
    }
    try {
      // No marker: whatever is there is an interrupted preparation; start clean.
      await fs.rm(loc.dir, { recursive: true, force: true });
      await fs.mkdir(loc.dir, { recursive: true });
      await this.fetchJobPack(job, jobfile);
      const head = await readJobFileHead(jobfile);
      await extractZipRange(jobfile, head.homeStart, head.homeEnd, loc.dir);
      try {
        await fs.chmod(path.join(loc.dir, head.worker), 0o755);
      } catch {
        throw new JobHomeError(`worker file ${JSON.stringify(head.worker)} is not in the job home`);
      }
      await fs.writeFile(path.join(loc.dir, MARKER), '');
      return { ...loc, job, jobfile, ...headFields(head) };
    } catch (e) {
      await fs.rm(loc.dir, { recursive: true, force: true }).catch(() => {});
      throw new JobHomeError(`Preparing the job home failed: ${errorMessage(e)}`);
    }
  }

  private async fetchJobPack(job: string, dest: string): Promise<void> {
    const url = `${this.opts.masterUrl().replace(/\/$/, '')}/disco/ctrl/parameters?name=${encodeURIComponent(job)}`;
    const res = await fetch(url, { signal: AbortSignal.timeout(this.opts.fetchTimeoutMs ?? 300_000) });
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      throw new JobHomeError(`Fetching the job pack from ${url} failed: HTTP ${res.status}`);
    }
    const partial = `${dest}.partial`;
    await pipeline(Readable.fromWeb(res.body), createWriteStream(partial));
    await fs.rename(partial, dest);
  }
}

/** The parts of a job file a node reads without loading the whole pack. */
export interface JobFileHead {
  worker: string;
  jobenvs: Record<string, string>;
  tsWorker: string | null;
  /** Byte range of the jobhome ZIP in the file. */
  homeStart: number;
  homeEnd: number;
}

/** Validate a job file's header and read its jobdict and jobenvs. */
export async function readJobFileHead(file: string): Promise<JobFileHead> {
  const fh = await fs.open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    const header = Buffer.alloc(Math.min(size, HEADER_SIZE));
    await fh.read(header, 0, header.length, 0);
    const o = readJobPackHeader(header, size);
    const meta = Buffer.alloc(o.home - o.dict);
    await fh.read(meta, 0, meta.length, o.dict);
    const jobdict = parseJobDict(meta.subarray(0, o.envs - o.dict));
    let envsRaw: unknown;
    try {
      envsRaw = JSON.parse(meta.subarray(o.envs - o.dict).toString('utf8'));
    } catch {
      throw new JobPackError('invalid header: jobenvs is not valid JSON');
    }
    const envs = JobEnvsSchema.safeParse(envsRaw);
    if (!envs.success) throw new JobPackError('invalid jobenvs: must be an object of string values');
    return {
      worker: jobdict.worker,
      jobenvs: envs.data,
      tsWorker: jobdict.ts_worker ?? null,
      homeStart: o.home,
      homeEnd: o.data,
    };
  } finally {
    await fh.close();
  }
}

function headFields(h: JobFileHead): Pick<JobHome, 'worker' | 'jobenvs' | 'tsWorker'> {
  return { worker: h.worker, jobenvs: h.jobenvs, tsWorker: h.tsWorker };
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}
