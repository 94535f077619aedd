/**
 * `tag://` inputs inside a task. Clients expand tags before submitting a job, so a worker
 * only meets them in rare cases (e.g. a reduce over `tag://` results of an earlier phase);
 * it then asks the DDFS master for the tag (`GET /ddfs/tag/NAME`, wire spec §1.3), following
 * tags inside tags, and reads each blob as one input whose replicas are its URLs.
 *
 * @example
 * expandTag('tag://data:words', { master: 'http://m:8989', discoPort: 8989 });
 * // [['disco://n1/ddfs/vol0/blob/ab/words$1-2-3'], ...]
 */
import { DataError } from '../../common/errors.js';
import { parseTagUrl } from '../../protocol/urls.js';
import { httpSync } from './http-sync.js';

/** Tags nested deeper than this are refused (a cycle guard besides the visited set). */
const MAX_DEPTH = 32;

/** The blob replica lists of `url`, in tag order. */
export function expandTag(
  url: string,
  opts: { master: string; discoPort: number; token?: string | null },
  seen = new Set<string>(),
  depth = 0,
): string[][] {
  const t = parseTagUrl(url);
  if (seen.has(t.tag) || depth > MAX_DEPTH) return [];
  seen.add(t.tag);
  const base = t.host
    ? `http://${/:\d+$/.test(t.host) ? t.host : `${t.host}:${opts.discoPort}`}`
    : opts.master.replace(/\/$/, '');
  const token = t.token ?? opts.token ?? process.env.DDFS_READ_TOKEN ?? null;
  const headers: Record<string, string> = {};
  if (token !== null && token !== '')
    headers.Authorization = `Basic ${Buffer.from(`token:${token}`).toString('base64')}`;
  const res = httpSync({ method: 'GET', url: `${base}/ddfs/tag/${t.tag}`, headers });
  let urls: unknown;
  try {
    urls = (JSON.parse(res.body) as { urls?: unknown }).urls;
  } catch {
    throw new DataError('tag reply is not JSON', url);
  }
  if (!Array.isArray(urls)) throw new DataError('tag reply has no urls list', url);
  const out: string[][] = [];
  for (const replicas of urls) {
    const list = (Array.isArray(replicas) ? replicas : [replicas]).filter(
      (x): x is string => typeof x === 'string',
    );
    if (list.length === 0) continue;
    if (list[0].startsWith('tag://')) out.push(...expandTag(list[0], { ...opts, token }, seen, depth + 1));
    else out.push(list);
  }
  return out;
}
