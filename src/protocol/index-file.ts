/** `dir://` index files (§3.7): gzip text, one `LABEL SP URL \n` line per data file. */
import { gunzipSync, gzipSync } from 'node:zlib';

export interface IndexEntry {
  label: string;
  url: string;
}

export function parseIndex(bytes: Uint8Array, gzipped = true): IndexEntry[] {
  const text = (gzipped ? gunzipSync(bytes) : Buffer.from(bytes)).toString('utf8');
  const out: IndexEntry[] = [];
  for (const line of text.split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts.length >= 2 && parts[0] !== '') out.push({ label: parts[0], url: parts[1] });
  }
  return out;
}

/** Sorted, de-duplicated, gzip-compressed index file. */
export function encodeIndex(entries: Iterable<IndexEntry>): Buffer {
  const lines = new Set<string>();
  for (const e of entries) lines.add(`${e.label} ${e.url}\n`);
  return gzipSync(Buffer.from([...lines].sort().join('')));
}
