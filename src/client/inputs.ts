/**
 * Client-side expansion of job inputs, as the original does before submitting a job and
 * when iterating results (`lib/disco/util.py` `inputlist`/`inputexpand`, wire spec §2.2,
 * §6.3): a `dir://` URL (an index file of a job's results) stands for the data files it
 * lists; a list of `dir://` URLs (replicas of one index) stands for the zipped lists of their
 * files; any other list is a replica set; a `tag://` URL stands for the blob replica sets of
 * its tag graph (expanded by the `tags` option, see {@link ddfsTagExpander}; without it, passed
 * through). Index files are read over HTTP at the node's `DISCO_PORT` (or the port in a
 * `host:port` node name).
 *
 * @example
 * const read = httpIndexReader({ discoPort: 8989 });
 * await expandInputs(['dir://n1/disco/n1/ab/J/.disco/map-index.txt.gz'], read);
 * // [['disco://n1/disco/n1/ab/J/.disco/partitions-…/part-0'], …]
 */
import { DiscoError } from '../common/errors.js';
import type { Settings } from '../common/settings.js';
import { type IndexEntry, parseIndex } from '../protocol/index-file.js';
import type { JobInput } from '../protocol/jobpack.js';
import { resolveHttp } from '../protocol/urls.js';
import { type RetryPolicy, request } from './http.js';
import type { JobInputSpec } from './job-options.js';

/** Reads the entries of a `dir://` index file. */
export type IndexReader = (dirUrl: string) => Promise<IndexEntry[]>;

/** The blob replica sets a `tag://` URL stands for. */
export type TagExpander = (tagUrl: string) => Promise<string[][]>;

/**
 * A {@link TagExpander} asking the DDFS master (`DDFS.expandTag`: the tag graph, tokens from
 * the URL or the settings). The DDFS client is loaded on first use only.
 */
export function ddfsTagExpander(opts: {
  settings: Settings;
  master?: string;
  retry?: RetryPolicy;
}): TagExpander {
  return async (url) => {
    const { DDFS } = await import('../ddfs/client/ddfs.js');
    return new DDFS(opts.master, { settings: opts.settings, retry: opts.retry }).expandTag(url);
  };
}

/** An {@link IndexReader} that fetches index files over HTTP. */
export function httpIndexReader(opts: {
  discoPort: number | string;
  master?: string;
  retry?: RetryPolicy;
  signal?: AbortSignal;
}): IndexReader {
  return async (dirUrl) => {
    const url = resolveHttp(dirUrl, opts.discoPort, opts.master);
    const res = await request(url, { retry: opts.retry, signal: opts.signal });
    try {
      return parseIndex(res.body, dirUrl.endsWith('.gz'));
    } catch (e) {
      throw new DiscoError(`cannot read index file ${dirUrl}: ${(e as Error).message}`);
    }
  };
}

/** True for a `dir://` URL, or a non-empty list made only of them (the original's `ispartitioned`). */
export function isPartitioned(input: JobInputSpec | readonly JobInputSpec[]): boolean {
  if (typeof input === 'string') return input.startsWith('dir://');
  return input.length > 0 && input.every((i) => isPartitioned(i));
}

/** The data URLs of one index file, sorted by (label, url), optionally of one label only. */
async function parseDir(dir: string, read: IndexReader, label?: string): Promise<string[]> {
  const entries = await read(dir);
  entries.sort((a, b) => cmp(a.label, b.label) || cmp(a.url, b.url));
  return entries.filter((e) => label === undefined || e.label === label).map((e) => e.url);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface ExpandOptions {
  /**
   * `false`: keep `dir://` inputs as they are (a job without map: its reduce reads the index
   * files itself). Otherwise expand them, keeping only entries of this label if given.
   */
  partition?: string | false;
  /** Expands `tag://` inputs (default: none, they are kept as they are). */
  tags?: TagExpander;
}

async function expandOne(input: JobInputSpec, read: IndexReader, opts: ExpandOptions): Promise<JobInput[]> {
  if (opts.partition !== false && isPartitioned(input)) {
    const label = opts.partition === undefined ? undefined : opts.partition;
    const replicas = typeof input === 'string' ? [input] : (input as readonly string[]);
    const lists = await Promise.all(replicas.map((d) => parseDir(d, read, label)));
    // zip(): the i-th file of every replica of the index are replicas of the same data.
    const n = Math.min(...lists.map((l) => l.length));
    const out: JobInput[] = [];
    for (let i = 0; i < n; i++) out.push(lists.map((l) => l[i]));
    return out;
  }
  if (typeof input !== 'string') {
    const flat = (await expandInputs(input, read, opts)).flatMap((x) => (typeof x === 'string' ? [x] : x));
    return flat.length > 0 ? [flat] : [];
  }
  if (opts.tags && input.startsWith('tag://')) return (await opts.tags(input)).filter((s) => s.length > 0);
  return input === '' ? [] : [input];
}

/** Expand a job's (or a result list's) inputs; empty inputs are dropped. */
export async function expandInputs(
  inputs: readonly JobInputSpec[],
  read: IndexReader,
  opts: ExpandOptions = {},
): Promise<JobInput[]> {
  if (!Array.isArray(inputs)) {
    throw new DiscoError(
      `job input must be a list of URLs or of lists of URLs, got ${JSON.stringify(inputs)}`,
    );
  }
  const out: JobInput[] = [];
  for (const input of inputs) {
    if (typeof input !== 'string' && !Array.isArray(input)) {
      throw new DiscoError(`job input must be a URL or a list of URLs, got ${JSON.stringify(input)}`);
    }
    for (const x of await expandOne(input, read, opts)) out.push(x);
  }
  return out;
}

/**
 * `nr_reduces` of a job without map whose inputs are all `dir://`: one more than the largest
 * label in their index files (the original reads them on the client).
 */
export async function reducesFromIndexes(inputs: readonly JobInput[], read: IndexReader): Promise<number> {
  let max = -1;
  for (const input of inputs) {
    for (const dir of typeof input === 'string' ? [input] : input) {
      for (const e of await read(dir)) {
        const n = Number.parseInt(e.label, 10);
        if (Number.isFinite(n) && n > max) max = n;
      }
    }
  }
  // No labels at all (empty indexes): one reduce, which finds nothing (the original fails here).
  return Math.max(1, max + 1);
}
