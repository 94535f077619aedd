/**
 * Helpers for the URLs a job returns (the original's `disco.util.jobname` and
 * `disco.util.parse_dir`), usable in job functions and in client code.
 *
 * @example
 * const results = await job.wait();
 * await disco.purge(jobname(results[0]));
 * parseDir('dir://n1/disco/n1/ab/Job@5a1:2b:3c/.disco/map-index.txt.gz', 0); // the part-0 URLs
 */
import { DiscoError } from '../common/errors.js';
import { RESULTS_TAG_PREFIX } from '../protocol/names.js';
import { jobNameOfUrl, parseTagUrl, splitUrl } from '../protocol/urls.js';
import { currentOpenContext } from './readers/current-context.js';
import { readIndex } from './readers/dir.js';

/**
 * `jobname(url)` — the name of the job whose data `url` points at: a `disco://`, `dir://` or
 * `http(s)://` URL of its files (`…/<HH>/<jobname>/…`), or the `tag://disco:job:results:<jobname>`
 * of a job that saved its results in DDFS. Other URLs are a `DiscoError`.
 *
 * @example
 * jobname('dir://n1/disco/n1/ab/Wc@5a1:2b:3c/.disco/map-index.txt.gz'); // 'Wc@5a1:2b:3c'
 */
export function jobname(url: string): string {
  if (typeof url !== 'string') throw new TypeError(`jobname: expected a URL string, got ${typeof url}`);
  const { scheme } = splitUrl(url);
  if (scheme === 'tag') {
    const { tag } = parseTagUrl(url);
    if (tag.startsWith(RESULTS_TAG_PREFIX) && tag.length > RESULTS_TAG_PREFIX.length)
      return tag.slice(RESULTS_TAG_PREFIX.length);
  } else if (scheme === 'disco' || scheme === 'dir' || scheme === 'http' || scheme === 'https') {
    const name = jobNameOfUrl(url);
    if (name) return name;
  }
  throw new DiscoError(
    `cannot parse a job name from ${url}: expected a disco://, dir:// or http:// URL of a job's data, ` +
      `or tag://${RESULTS_TAG_PREFIX}<jobname>`,
  );
}

function labelOrder(a: string, b: string): number {
  const x = Number(a);
  const y = Number(b);
  if (Number.isInteger(x) && Number.isInteger(y) && x !== y) return x - y;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * `parseDir(dir, partition)` — the data URLs listed by a `dir://` index (job results of
 * partitioned output), ordered by partition label then URL; only those of `partition` when
 * given. Reads the index synchronously: from the local disk when it lives on this task's
 * node, else over HTTP (outside a task: at `DISCO_PORT`, host-less URLs at `DISCO_MASTER`).
 * In async client code, prefer `Disco.resultIterator`, which expands `dir://` URLs itself.
 *
 * @example
 * parseDir(results[0], 2); // the URLs of partition 2
 */
export function parseDir(dir: string, partition: string | number | null = null): string[] {
  if (typeof dir !== 'string' || !dir.startsWith('dir://'))
    throw new DiscoError(`parseDir: ${String(dir)} is not a dir:// URL`);
  const label = partition === null || partition === undefined ? null : String(partition);
  const entries = readIndex(dir, currentOpenContext(), label);
  return entries
    .sort((a, b) => labelOrder(a.label, b.label) || (a.url < b.url ? -1 : a.url > b.url ? 1 : 0))
    .map((e) => e.url);
}
