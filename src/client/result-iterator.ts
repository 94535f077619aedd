/**
 * Reading job results on the client (the original's `result_iterator` / `classic_iterator`,
 * wire spec §6.3): the result URLs are expanded (`dir://` index files → the data files they
 * list; `tag://` → the blobs of the tag graph, via the DDFS master; a list of URLs = replicas
 * of the same data), each data file is opened by scheme
 * (`disco://`, `http://` over HTTP at the node's `DISCO_PORT`, `file://` and plain paths from
 * the local disk, `raw://` inline) and decoded as a record stream, yielding `[key, value]`.
 *
 * Memory stays bounded: remote files are fetched in 10 MiB `Range` chunks and decoded hunk
 * by hunk. When a replica fails (a `DataError`, e.g. its node is down), the next replica is
 * read, skipping the records already yielded. With a custom `reader` or `inputStream` chain
 * (the worker's reader interface, `fn(stream, size, url, params)`), remote files are first
 * downloaded to a temporary file, because those functions read synchronously.
 *
 * @example
 * for await (const [word, count] of resultIterator(await job.wait())) console.log(word, count);
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DataError, DiscoError } from '../common/errors.js';
import { loadSettings, type Settings } from '../common/settings.js';
import { BufferSource, FileSource, type KV, readRecords } from '../protocol/record-stream.js';
import { HunkCutter } from '../protocol/records/hunk-cutter.js';
import { resolveHttp, splitUrl } from '../protocol/urls.js';
import { openChain, type StreamFunction } from '../worker/readers/chain.js';
import { InputStream } from '../worker/readers/input-stream.js';
import { type RetryPolicy, readRange } from './http.js';
import { ddfsTagExpander, expandInputs, httpIndexReader } from './inputs.js';

export interface ResultIteratorOptions {
  /**
   * Turns a stream into entries: `reader(stream, size, url, params)`. Default: the record
   * format; after an `inputStream`, records or else text lines (as the worker's default).
   */
  reader?: StreamFunction;
  /** Functions applied in order to the opened stream before the reader (`fn(stream, size, url, params)`). */
  inputStream?: readonly StreamFunction[];
  /** Called with each input (a URL, or its replica list) before it is read. */
  notifier?: (input: string | readonly string[]) => void;
  /** Passed to `reader` and `inputStream` functions. */
  params?: unknown;
  /** Skip corrupt hunks instead of failing. */
  ignoreCorrupt?: boolean;
  /** Settings (for DISCO_PORT and DISCO_MASTER); default: environment and settings file. */
  settings?: Settings;
  /** Master URL for `dir://` URLs without a host. */
  master?: string;
  retry?: RetryPolicy;
  signal?: AbortSignal;
}

/** Decode a record stream arriving in chunks, one hunk at a time. */
export async function* recordsFromChunks(
  chunks: AsyncIterable<Buffer>,
  url: string,
  opts: { ignoreCorrupt?: boolean } = {},
): AsyncGenerator<KV> {
  const read = (hunk: Buffer) =>
    readRecords(new BufferSource(hunk), { url, ignoreCorrupt: opts.ignoreCorrupt });
  const hunks: Buffer[] = [];
  const cutter = new HunkCutter(
    url,
    () => new LegacyFormat(url),
    (hunk) => {
      // Only a truncated tail can start so (whole hunks are checked by the cutter); the
      // record reader would read it as old netstrings.
      if (hunk[0] < 0x80) throw new LegacyFormat(url);
      hunks.push(hunk);
    },
  );
  for await (const chunk of chunks) {
    // The hunks before a bad header are read first, as they would be were it in a later chunk.
    let failure: { e: unknown } | null = null;
    try {
      cutter.feed(chunk);
    } catch (e) {
      failure = { e };
    }
    for (const hunk of hunks.splice(0)) yield* read(hunk);
    if (failure) throw failure.e;
  }
  cutter.finish();
  for (const hunk of hunks.splice(0)) yield* read(hunk);
}

/**
 * The data is in the old netstring format, or not a record stream at all: the result
 * iterator reads it from a local copy instead; other callers report it.
 */
class LegacyFormat extends DataError {
  override name = 'LegacyFormat';
  constructor(url: string) {
    super('not in the record format (a chunk or a job result): read it with a reader for what it is', url);
  }
}

interface Opener {
  discoPort: string;
  master?: string;
  retry?: RetryPolicy;
  signal?: AbortSignal;
}

/**
 * The HTTP URL of a data URL read over HTTP (`disco://`, `dir://`, `part://` at the node's
 * `port`, `http(s)://` as is); null for any other scheme.
 *
 * @example
 * remoteHttpUrl('disco://n1/ddfs/vol0/blob/ab/x', '8989'); // 'http://n1:8989/ddfs/vol0/blob/ab/x'
 */
export function remoteHttpUrl(url: string, port: string, master?: string): string | null {
  const { scheme } = splitUrl(url);
  if (scheme === 'disco' || scheme === 'dir' || scheme === 'part') return resolveHttp(url, port, master);
  if (scheme === 'http' || scheme === 'https') return url;
  return null;
}

/** The HTTP URL of a remote data URL, or null for local (`file://`, plain paths) and `raw://`. */
function remoteUrl(url: string, o: Opener): string | null {
  const http = remoteHttpUrl(url, o.discoPort, o.master);
  if (http !== null) return http;
  const { scheme } = splitUrl(url);
  if (scheme === 'tag') throw new DiscoError(`internal: ${url} must be expanded before it is read`);
  if (scheme === 'raw' || scheme === 'file') return null;
  throw new DataError(`unsupported URL scheme ${scheme}`, url);
}

/** Download a remote file to a temporary file (the caller removes its directory). */
async function spool(httpUrl: string, o: Opener): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'disco-ts-result-'));
  const file = path.join(dir, 'data');
  try {
    await pipeline(readRange(httpUrl, { retry: o.retry, signal: o.signal }), createWriteStream(file));
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  return { dir, file };
}

function localSource(url: string): { source: FileSource | BufferSource; size: number | null } {
  const u = splitUrl(url);
  if (u.scheme === 'raw') {
    const data = Buffer.from(u.path, 'utf8');
    return { source: new BufferSource(data), size: data.length };
  }
  try {
    return { source: new FileSource(u.path), size: null };
  } catch (e) {
    throw new DataError(`cannot open ${u.path}: ${(e as Error).message}`, url);
  }
}

/** Entries of one replica URL. */
async function* readOne(url: string, o: Opener, opts: ResultIteratorOptions): AsyncGenerator<unknown> {
  const http = remoteUrl(url, o);
  const custom = opts.reader !== undefined || (opts.inputStream?.length ?? 0) > 0;
  if (http && !custom) {
    try {
      yield* recordsFromChunks(readRange(http, { retry: o.retry, signal: o.signal }), url, opts);
      return;
    } catch (e) {
      if (!(e instanceof LegacyFormat)) throw e;
      // Nothing was yielded yet (the format is known from the first byte): read a local copy.
    }
  }
  let tmpDir: string | null = null;
  let src: { source: FileSource | BufferSource; size: number | null };
  if (http) {
    const s = await spool(http, o);
    tmpDir = s.dir;
    src = { source: new FileSource(s.file), size: null };
  } else {
    src = localSource(url);
  }
  try {
    if (!custom) {
      yield* readRecords(src.source, { url, ignoreCorrupt: opts.ignoreCorrupt });
      return;
    }
    const open = () => new InputStream(src.source, src.size, url);
    // No reader: as in a task, records are decoded and anything else is read as text lines
    // (e.g. the raw output of a custom worker, after an inputStream that decompresses it).
    const reader =
      opts.reader ??
      (opts.ignoreCorrupt
        ? (s: unknown) => readRecords(s as InputStream, { url, ignoreCorrupt: true })
        : undefined);
    const input = openChain(url, open, opts.inputStream ?? [], reader, opts.params);
    try {
      yield* input.entries;
    } finally {
      input.close();
    }
  } finally {
    (src.source as { close?: () => void }).close?.();
    if (tmpDir) await rm(tmpDir, { recursive: true, force: true });
  }
}

/**
 * Iterate the records of job results (or any inputs): `[key, value]` pairs, or whatever a
 * custom `reader` yields.
 */
export async function* resultIterator<K = unknown, V = unknown>(
  urls: readonly (string | readonly string[])[],
  opts: ResultIteratorOptions = {},
): AsyncGenerator<[K, V]> {
  const settings = opts.settings ?? loadSettings();
  const o: Opener = {
    discoPort: settings.get('DISCO_PORT'),
    master: opts.master ?? settings.get('DISCO_MASTER'),
    retry: opts.retry,
    signal: opts.signal,
  };
  const inputs = await expandInputs(urls, httpIndexReader({ ...o }), {
    tags: ddfsTagExpander({ settings, master: o.master, retry: o.retry }),
  });
  for (const input of inputs) {
    opts.notifier?.(input);
    const replicas = typeof input === 'string' ? [input] : input;
    let done = 0;
    for (let r = 0; ; r++) {
      try {
        let skip = done;
        for await (const entry of readOne(replicas[r], o, opts)) {
          // Records a failed replica already delivered are not delivered again.
          if (skip > 0) {
            skip--;
            continue;
          }
          done++;
          yield entry as [K, V];
        }
        break;
      } catch (e) {
        if (!(e instanceof DataError) || r + 1 >= replicas.length) throw e;
      }
    }
  }
}

/** The original's name for {@link resultIterator}. */
export const classicIterator = resultIterator;

/** Grouping consecutive equal keys of results (`disco.util.kvgroup`). */
export { kvgroup } from '../worker/func.js';
