/**
 * `faultRecoverJobs`: after a client program crashed (or was killed), fetch the results of
 * the jobs it had sent to nodes. Nodes keep every result until the client acknowledges it, so
 * with the cluster's recovery file (`faultRecover` option) the results are still there. A
 * job that is still running comes back with status `Running`: call again later. Once a
 * computation has no running jobs left on a node it is closed there; when that holds on all
 * nodes the recovery file is deleted (results can be fetched only once).
 *
 * @example
 * const jobs = await faultRecoverJobs('_dispy_fault_recover_20240101120000', { secret: 's3cret' });
 * for (const j of jobs) console.log(j.id, j.status, j.result);
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { DiscoError, errorMessage } from '../../common/errors.js';
import { JobStatus } from '../protocol/constants.js';
import type { JobResult } from '../protocol/messages.js';
import { connect, type TlsFiles } from '../protocol/transport.js';
import { fillFromResult } from './cluster-base.js';
import { DispyJob } from './dispy-job.js';
import { newId } from './identity.js';
import { parseRecover } from './node-link.js';
import { RecoverFile } from './recover-file.js';

export interface FaultRecoverOptions extends TlsFiles {
  /** The secret the cluster used. */
  secret?: string;
  /** Local address to connect from. */
  ipAddr?: string;
  /** Seconds to wait for running jobs to finish (default 0: return at once). */
  timeout?: number;
}

/** The newest `_dispy_fault_recover_*` file in `dir`. */
export function newestRecoverFile(dir = process.cwd()): string | undefined {
  const files = readdirSync(dir)
    .filter((f) => f.startsWith('_dispy_fault_recover_'))
    .map((f) => path.join(dir, f));
  files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  return files[0];
}

/** Results of the jobs a crashed client had sent (see the module docs). */
export async function faultRecoverJobs(
  file?: string,
  opts: FaultRecoverOptions = {},
): Promise<DispyJob<unknown>[]> {
  const f = file ?? newestRecoverFile();
  if (!f) throw new DiscoError('no fault-recovery file given or found in the current directory');
  const info = RecoverFile.read(f);
  const { computeId, token } = info.cluster;
  const jobs: DispyJob<unknown>[] = [];
  const errors: string[] = [];
  let unfinished = 0;
  const deadline = Date.now() + (opts.timeout ?? 0) * 1000;
  const toJob = (r: JobResult) => {
    const job = new DispyJob<unknown>(r.uid, []);
    job.id = r.uid;
    job._finish(fillFromResult(job, r));
    return job;
  };
  await Promise.all(
    info.nodes.map(async (n) => {
      let conn: Awaited<ReturnType<typeof connect>>['conn'] | null = null;
      try {
        ({ conn } = await connect({
          host: n.host,
          port: n.port,
          secret: opts.secret ?? '',
          role: 'recover',
          clientId: `recover-${newId(6)}`,
          certfile: opts.certfile,
          keyfile: opts.keyfile,
          ...(opts.ipAddr ? { localAddress: opts.ipAddr } : {}),
        }));
        const c = conn;
        const got = new Map<number, JobResult>();
        let running = new Set<number>();
        let recovered = false;
        c.onMessage((m) => {
          if (m.t === 'result' && m.computeId === computeId && recovered) {
            got.set(m.uid, m);
            running.delete(m.uid);
          }
        });
        const r = parseRecover(await c.request({ t: 'recover', computeId, token }));
        recovered = true;
        for (const x of r.results) got.set(x.uid, x);
        running = new Set([...r.running, ...r.queued].filter((u) => !got.has(u)));
        while (running.size > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
        if (got.size) c.send({ t: 'ack', computeId, uids: [...got.keys()] });
        for (const x of got.values()) jobs.push(toJob(x));
        for (const uid of running) {
          const j = new DispyJob<unknown>(uid, []);
          j.id = uid;
          j.status = JobStatus.Running;
          j.ipAddr = n.host;
          jobs.push(j);
        }
        if (running.size === 0) await c.request({ t: 'close', computeId, terminate: false });
        else unfinished++;
      } catch (e) {
        const msg = errorMessage(e);
        // A node that no longer knows the computation has nothing to give (closed or restarted).
        if (!/unknown computation/.test(msg)) {
          errors.push(`${n.host}:${n.port}: ${msg}`);
          unfinished++;
        }
      } finally {
        conn?.close();
      }
    }),
  );
  if (unfinished === 0) RecoverFile.removePath(f);
  if (errors.length && jobs.length === 0 && errors.length === info.nodes.length) {
    throw new DiscoError(`fault recovery failed: ${errors.join('; ')}`);
  }
  jobs.sort((a, b) => a.uid - b.uid);
  return jobs;
}
