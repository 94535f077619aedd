/**
 * How a task hands over its outputs at the end ({@link reportOutputs}, for the classic and
 * the custom workers alike): `OUTPUT` each file, or with `save: true` put them in DDFS
 * (wire spec §6.4, `DDFS.save`): each output file becomes a blob
 * `disco:blob:<job>:<file name>` (new_blob, then PUT to every replica URL, retrying without a
 * failing node), and all of them are appended to the tag `disco:job:results:<job>` with
 * `delayed=1&update=1`. The task then reports `OUTPUT [tag, "tag"]`. Out-of-band results
 * (`oob.ts`) push and tag their blobs with the same helpers. A replica placed on the node
 * running the task is stored into its volumes directly, with no HTTP and (a hard link) no
 * copy: local-save.ts.
 *
 * @example
 * outputs.closeAll();
 * reportOutputs(client, task, job, outputs.list()); // OUTPUT each, or the results tag
 */
import path from 'node:path';
import { CommError, JobError } from '../common/errors.js';
import { jobResultsTag, safeDdfsName } from '../protocol/names.js';
import type { TaskInfo } from '../protocol/worker-protocol.js';
import { LocalSaveNode, type SyncBlobSource } from './local-save.js';
import type { TaskOutput } from './outputs.js';
import type { ProtocolClient } from './protocol-client.js';
import { httpSync } from './readers/http-sync.js';
import type { LoadedJob } from './task.js';

/** Placement attempts per blob (each one excludes the nodes that failed before). */
const PUSH_ATTEMPTS = 6;

/** The DDFS token header for reading (`DDFS_READ_TOKEN`) or writing (`DDFS_WRITE_TOKEN`). */
export function ddfsAuthHeaders(access: 'read' | 'write' = 'write'): Record<string, string> {
  const token = access === 'read' ? process.env.DDFS_READ_TOKEN : process.env.DDFS_WRITE_TOKEN;
  return token ? { Authorization: `Basic ${Buffer.from(`token:${token}`).toString('base64')}` } : {};
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return '';
  }
}

/** What {@link pushBlob} uploads: a file, or bytes in memory (text as UTF-8). */
export type { SyncBlobSource };

/**
 * Push one blob; returns its replica URLs (`disco://...`). A replica that `local` (the node
 * of this machine, see local-save.ts) serves is stored into its volumes directly, the others
 * (and that one, should the direct store fail) over HTTP.
 */
export function pushBlob(
  master: string,
  prefix: string,
  source: SyncBlobSource,
  local: LocalSaveNode | null = null,
): string[] {
  const body = 'file' in source ? { bodyFile: source.file } : { body: source.data };
  const exclude: string[] = [];
  const headers = ddfsAuthHeaders();
  for (let attempt = 1; ; attempt++) {
    const qs = exclude.length > 0 ? `?exclude=${exclude.map(encodeURIComponent).join(',')}` : '';
    const res = httpSync({ method: 'GET', url: `${master}/ddfs/new_blob/${prefix}${qs}`, headers });
    const targets = JSON.parse(res.body) as unknown;
    if (!Array.isArray(targets) || targets.some((t) => typeof t !== 'string'))
      throw new CommError(`new_blob answered ${res.body.slice(0, 200)}`, master);
    const urls: string[] = [];
    let failed: string | null = null;
    let lastError: unknown = null;
    for (const target of targets as string[]) {
      const stored = local?.serves(target) ? local.store(target, source) : null;
      if (stored !== null) {
        urls.push(stored);
        continue;
      }
      try {
        const put = httpSync({ method: 'PUT', url: target, ...body, headers });
        urls.push(JSON.parse(put.body) as string);
      } catch (e) {
        if (!(e instanceof CommError)) throw e;
        failed = target;
        lastError = e;
        break;
      }
    }
    if (failed === null) return urls;
    if (attempt >= PUSH_ATTEMPTS) throw lastError;
    const host = hostOf(failed);
    if (host && !exclude.includes(host)) exclude.push(host);
  }
}

/**
 * Append blobs (replica lists, newest first) to `tag` with `delayed=1`, and `update=1` when
 * asked (skip blobs already in the tag).
 */
export function tagBlobs(
  master: string,
  tag: string,
  urls: string[][],
  opts: { update?: boolean } = {},
): void {
  httpSync({
    method: 'POST',
    url: `${master.replace(/\/$/, '')}/ddfs/tag/${tag}?delayed=1${opts.update ? '&update=1' : ''}`,
    headers: { ...ddfsAuthHeaders(), 'Content-Type': 'application/json' },
    body: JSON.stringify(urls),
  });
}

/**
 * Save the files as the job's results; returns the tag name. `ddfsData` is the `DDFS_DATA` of
 * the node running the task (`TaskInfo.ddfs_data`): its replicas are stored without HTTP.
 */
export function saveResults(o: {
  master: string;
  jobname: string;
  files: readonly string[];
  ddfsData?: string;
}): string {
  const master = o.master.replace(/\/$/, '');
  const tag = jobResultsTag(o.jobname);
  const local = LocalSaveNode.find(o.ddfsData);
  const urls = o.files.map((file) =>
    pushBlob(master, `disco:blob:${o.jobname}:${safeDdfsName(path.basename(file))}`, { file }, local),
  );
  tagBlobs(master, tag, urls, { update: true });
  return tag;
}

/**
 * Whether a `mode` task of `job` saves its outputs to DDFS: `save: true`, except for the map
 * phase of a job with a reduce (the reduce saves what it makes of them).
 */
export function savesToDdfs(mode: TaskInfo['mode'], job: LoadedJob): boolean {
  return job.data.save && !(mode === 'map' && job.pack.jobdict['reduce?'] === true);
}

/**
 * Refuse to save partitioned map output (each partition would need its own tag), as the
 * original does. The classic worker asks before the map runs, custom workers before their
 * outputs are closed (task-io.ts `finish`).
 */
export function refusePartitionedSave(mode: TaskInfo['mode'], job: LoadedJob, partitioned: boolean): void {
  if (partitioned && mode === 'map' && savesToDdfs(mode, job))
    throw new JobError('Storing partitioned outputs in DDFS is not yet supported');
}

/**
 * Hand the task's closed outputs over: save them to DDFS and report the results tag
 * (see {@link savesToDdfs}), or report each file (`OUTPUT path type label`), in order. The
 * message goes out with the `DONE` the caller sends next.
 *
 * @example
 * outputs.closeAll();
 * reportOutputs(client, task, job, outputs.list());
 * client.done();
 */
export function reportOutputs(
  client: ProtocolClient,
  task: TaskInfo,
  job: LoadedJob,
  produced: readonly TaskOutput[],
): void {
  if (savesToDdfs(task.mode, job)) {
    const tag = saveResults({
      master: task.master,
      jobname: task.jobname,
      files: produced.map((o) => o.abs),
      ddfsData: task.ddfs_data,
    });
    client.output(tag, 'tag');
    // DONE follows at once: the message goes out with it (see ProtocolClient).
    client.msg('Results saved to DDFS', { defer: true });
  } else {
    for (const o of produced) client.output(o.rel, o.type, o.label);
    client.msg('Results sent to master', { defer: true });
  }
}
