/**
 * `save: true` — results go to DDFS instead of staying on the node (wire spec §6.4,
 * `DDFS.save`): each output file becomes a blob `disco:blob:<job>:<file name>` (new_blob, then
 * PUT to every replica URL, retrying without a failing node), and all of them are appended to
 * the tag `disco:job:results:<job>` with `delayed=1&update=1`. The task then reports
 * `OUTPUT [tag, "tag"]`. Out-of-band results (`oob.ts`) push and tag their blobs with the same
 * helpers.
 *
 * @example
 * const tag = saveResults({ master: 'http://m:8989', jobname, files: ['/data/.../reduce:0-1a-9'] });
 */
import path from 'node:path';
import { CommError } from '../common/errors.js';
import { jobResultsTag, safeDdfsName } from '../protocol/names.js';
import { httpSync } from './readers/http-sync.js';

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

/** Push one file as a blob; returns its replica URLs (`disco://...`). */
export function pushBlob(master: string, prefix: string, file: string): string[] {
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
      try {
        const put = httpSync({ method: 'PUT', url: target, bodyFile: file, headers });
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

/** Save the files as the job's results; returns the tag name. */
export function saveResults(o: { master: string; jobname: string; files: readonly string[] }): string {
  const master = o.master.replace(/\/$/, '');
  const tag = jobResultsTag(o.jobname);
  const urls = o.files.map((file) =>
    pushBlob(master, `disco:blob:${o.jobname}:${safeDdfsName(path.basename(file))}`, file),
  );
  tagBlobs(master, tag, urls, { update: true });
  return tag;
}
