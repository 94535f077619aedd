/**
 * `dir://` inputs: an index file (wire spec §3.7) listing `LABEL URL` lines, gzip-compressed
 * when the URL ends in `.gz`. Read from the local disk when the index lives on this node,
 * else over HTTP. A reduce task keeps the lines labelled with its partition (its task id)
 * unless partitions are merged; a map task reading a `dir://` input reads every line.
 *
 * @example
 * readIndex('dir://n1/disco/n1/ab/Job@1:2:3/.disco/map-index.txt.gz', ctx, '0');
 * // [{ label: '0', url: 'disco://n1/disco/n1/ab/Job@1:2:3/.disco/partitions-1-2-3/part-0' }]
 */
import { readFileSync } from 'node:fs';
import { DataError } from '../../common/errors.js';
import { type IndexEntry, parseIndex } from '../../protocol/index-file.js';
import { fetchToTemp, localFileOf, type OpenContext, removeQuietly } from './open-url.js';

/** True for a `dir://` URL. */
export function isDirUrl(url: string): boolean {
  return url.startsWith('dir://');
}

/**
 * The entries of the index at `url`, keeping only `label` when given. Corrupt indexes are
 * {@link DataError}s (another replica or a task retry may do better).
 */
export function readIndex(url: string, ctx: OpenContext, label: string | null = null): IndexEntry[] {
  const local = localFileOf(url, ctx);
  let bytes: Buffer;
  if (local) bytes = readFileSync(local);
  else {
    const tmp = fetchToTemp(url, ctx);
    try {
      bytes = readFileSync(tmp);
    } finally {
      removeQuietly(tmp);
    }
  }
  let entries: IndexEntry[];
  try {
    entries = parseIndex(bytes, url.endsWith('.gz'));
  } catch (e) {
    throw new DataError(`corrupt index file: ${(e as Error).message}`, url);
  }
  return label === null ? entries : entries.filter((e) => e.label === label);
}
