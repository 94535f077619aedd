/**
 * The DDFS client library (the original's `disco.ddfs.DDFS`, wire spec §1.3, §5): tags,
 * attributes, tokens, blob pushes with replica placement by the master, record-aware
 * chunking, and walks of the tag graph. Tag arguments are names or `tag://` URLs
 * (`tag://name`, `tag://host[:port]/name`, `tag://user:TOKEN@/name`).
 *
 * Tokens (§5.5): an explicit `token` option, else the token of a `tag://user:TOKEN@/...` URL,
 * else the constructor's `token`, else `DDFS_READ_TOKEN` (GET) / `DDFS_WRITE_TOKEN` (other
 * methods). They are sent as HTTP Basic `token:<TOKEN>`.
 *
 * @example
 * const ddfs = new DDFS('http://master:8989');
 * const [, blobs] = await ddfs.push('data:logs', ['./a.log', ['./b.log', 'b']], { replicas: 3 });
 * for await (const blob of ddfs.pull('data:logs')) console.log(blob.name, (await blob.read()).length);
 */
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type HttpResponse, type RetryPolicy, request } from '../../client/http.js';
import { CommError, DiscoError } from '../../common/errors.js';
import { loadSettings, type Settings } from '../../common/settings.js';
import { safeDdfsName } from '../../protocol/names.js';
import type { KV } from '../../protocol/record-stream.js';
import { parseTagUrl, resolveHttp } from '../../protocol/urls.js';
import { type BlobSource, BlobSourceError, putBlob } from './blob-put.js';
import { streamBlob } from './blob-read.js';
import { type ByteTransform, fileReader, type RecordReader, transformed } from './chunk-input.js';
import { checkChunkerOptions, chunkMemoryPool, chunksInMemory, DEFAULT_CHUNK_SIZE } from './chunk-options.js';
import { chunkLines, chunkRecords } from './chunker.js';
import { LocalNode, localFileOr, localReplica } from './local-node.js';

/** The tag object `get` returns. */
export interface TagObject {
  version: number;
  id: string;
  'last-modified': string;
  urls: string[][];
  'user-data': Record<string, string>;
}

/** A tag name or URL that is not one (`InvalidTag`). */
export class InvalidTag extends DiscoError {
  override name = 'InvalidTag';
}

/** Options of {@link DDFS}. */
export interface DDFSOptions {
  /** Default token for every request (below per-call and URL tokens). */
  token?: string;
  /** Settings (default: environment and settings file). */
  settings?: Settings;
  /** Retries of requests to the master and of blob reads (default: the client's, about 30 s). */
  retry?: RetryPolicy;
}

/** A per-call token. */
export interface TokenOption {
  token?: string;
}

/** Options of {@link DDFS.push} and {@link DDFS.chunk}. */
export interface PushOptions extends TokenOption {
  /** Replicas per blob (default: the master's `DDFS_BLOB_REPLICAS`). */
  replicas?: number;
  /** How many times to ask for new nodes after a failed upload (default 10). */
  retries?: number;
  delayed?: boolean;
  update?: boolean;
  /** Progress: bytes uploaded (of the first replica of each blob). */
  onBytes?: (n: number) => void;
  /** Called with each blob's replica URLs once all its replicas are stored. */
  onBlob?: (replicas: string[]) => void;
}

/** Options of {@link DDFS.chunk}. */
export interface ChunkOptions extends PushOptions {
  /** Chunk size in bytes (default 64 MiB). */
  chunkSize?: number;
  /**
   * Records from an input's bytes (default: one `[line, null]` record per line). Items that
   * are not `[key, value]` pairs are stored as `[item, null]`.
   */
  reader?: RecordReader;
  /**
   * Applied in order to each input's bytes before the reader (the original's `input_stream`),
   * e.g. `gunzipInput` of chunk-input.ts.
   */
  inputStream?: readonly ByteTransform[];
  /** Progress: bytes read from the inputs (before any `inputStream`). */
  onInputBytes?: (n: number) => void;
  /** zlib level of the chunks' hunks, 1-9; 0 = not compressed (the default). */
  compression?: number;
}

/** What `push` accepts: a path, `[path, name]`, `[bytes, name]` or `[source, name]`. */
export type PushFile = string | [string | Uint8Array | BlobSource, string];

/** One blob yielded by {@link DDFS.pull}: a replica that answered, ready to read. */
export interface PulledBlob {
  url: string;
  name: string;
  /** The blob's bytes as they arrive (bounded memory; another replica takes over on failure). */
  chunks(): AsyncGenerator<Buffer>;
  /** The whole blob. */
  read(): Promise<Buffer>;
}

/** `(tagpath, tags, blobs)` of {@link DDFS.walk}; tags/blobs are null for an unreadable tag. */
export type WalkStep = [tagpath: string[], tags: string[] | null, blobs: string[][] | null];

/** How long {@link DDFS} trusts what it found of this machine's node (local-node.ts). */
const LOCAL_NODE_RECHECK_MS = 5000;

/** `tag://...` form of a tag name or URL (`canonizetag`). */
export function canonizeTag(tag: string): string {
  if (tag.startsWith('tag://')) return tag;
  if (tag && !tag.includes('://') && !tag.includes('/')) return `tag://${tag}`;
  throw new InvalidTag(`Invalid tag: ${tag}`);
}

/** Is this a tag (name or URL)? */
export function isTag(url: string): boolean {
  try {
    canonizeTag(url);
    return true;
  } catch {
    return false;
  }
}

/** Chunks uploaded at once by {@link DDFS.chunk}. */
const CHUNK_UPLOADS = 2;

/** Client of a DDFS master. */
export class DDFS {
  readonly master: string;
  private readonly settings: Settings;
  private local: { node: LocalNode | null; at: number } | null = null;
  private readonly token: string | undefined;
  private readonly retry: RetryPolicy | undefined;

  /** `master`: `http://host:port`, `disco://host` or a host; default `DISCO_MASTER`. */
  constructor(master?: string, opts: DDFSOptions = {}) {
    this.settings = opts.settings ?? loadSettings();
    this.token = opts.token;
    this.retry = opts.retry;
    const m = master ?? this.settings.get('DISCO_MASTER');
    if (/^https?:\/\//.test(m)) this.master = m.replace(/\/+$/, '');
    else if (m.startsWith('disco://'))
      this.master = resolveHttp(m.replace(/\/*$/, '/'), this.port()).replace(/\/$/, '');
    else this.master = `http://${/:\d+$/.test(m) ? m : `${m}:${this.port()}`}`;
  }

  /** Blob prefix of a blob URL (`DDFS.blob_name`). */
  static blobName(url: string): string {
    return (url.split('/').pop() ?? '').split('$')[0];
  }

  /** Replace characters DDFS names cannot hold with `_` (`DDFS.safe_name`). */
  static safeName(name: string): string {
    return safeDdfsName(name);
  }

  // ---- tags -------------------------------------------------------------------------------

  /** Tags starting with `prefix`. */
  async list(prefix = ''): Promise<string[]> {
    return this.json('GET', `${this.master}/ddfs/tags/${prefix}`) as Promise<string[]>;
  }

  /** The tag object. */
  async get(tag: string, opts: TokenOption = {}): Promise<TagObject> {
    return this.json(
      'GET',
      this.tagUrl(tag),
      undefined,
      this.pickToken(tag, opts.token, 'GET'),
    ) as Promise<TagObject>;
  }

  /** The tag's replica sets. */
  async urls(tag: string, opts: TokenOption = {}): Promise<string[][]> {
    return (await this.get(tag, opts)).urls;
  }

  /** The tag's user attributes. */
  async attrs(tag: string, opts: TokenOption = {}): Promise<Record<string, string>> {
    return (await this.get(tag, opts))['user-data'];
  }

  /** One attribute (`ddfs:read-token` etc. included). */
  async getattr(tag: string, attr: string, opts: TokenOption = {}): Promise<string | null> {
    const url = `${this.tagUrl(tag)}/${encodeURIComponent(attr)}`;
    return this.json('GET', url, undefined, this.pickToken(tag, opts.token, 'GET')) as Promise<string | null>;
  }

  async setattr(tag: string, attr: string, value: string, opts: TokenOption = {}): Promise<string[]> {
    const url = `${this.tagUrl(tag)}/${encodeURIComponent(attr)}`;
    return this.json('PUT', url, JSON.stringify(value), this.pickToken(tag, opts.token, 'PUT')) as Promise<
      string[]
    >;
  }

  async delattr(tag: string, attr: string, opts: TokenOption = {}): Promise<string> {
    const url = `${this.tagUrl(tag)}/${encodeURIComponent(attr)}`;
    return this.json('DELETE', url, undefined, this.pickToken(tag, opts.token, 'DELETE')) as Promise<string>;
  }

  async delete(tag: string, opts: TokenOption = {}): Promise<string> {
    return this.json(
      'DELETE',
      this.tagUrl(tag),
      undefined,
      this.pickToken(tag, opts.token, 'DELETE'),
    ) as Promise<string>;
  }

  /** Does the tag exist? (401 counts as yes: it exists but is protected.) */
  async exists(tag: string): Promise<boolean> {
    try {
      await request(this.tagUrl(tag), {
        headers: { range: 'bytes=0-0', ...this.auth(this.pickToken(tag, undefined, 'GET')) },
        retry: this.retry,
      });
      return true;
    } catch (e) {
      if (e instanceof CommError) {
        if (e.status === 401) return true;
        if (e.status === 403 || e.status === 404) return false;
      }
      throw e;
    }
  }

  /** Replace the tag's urls (creates it). Prefer {@link tag} for concurrent writers. */
  async put(tag: string, urls: string[][], opts: TokenOption = {}): Promise<string[]> {
    return this.json(
      'PUT',
      this.tagUrl(tag),
      JSON.stringify(urls),
      this.pickToken(tag, opts.token, 'PUT'),
    ) as Promise<string[]>;
  }

  /** Append replica sets to the tag (creates it); `update` skips blobs already there by name. */
  async tag(
    tag: string,
    urls: string[][],
    opts: TokenOption & { delayed?: boolean; update?: boolean } = {},
  ): Promise<string[]> {
    const q = `delayed=${opts.delayed ? '1' : ''}&update=${opts.update ? '1' : ''}`;
    return this.json(
      'POST',
      `${this.tagUrl(tag)}?${q}`,
      JSON.stringify(urls),
      this.pickToken(tag, opts.token, 'POST'),
      !!opts.update,
    ) as Promise<string[]>;
  }

  // ---- walking --------------------------------------------------------------------------------

  /**
   * Walk the tag graph depth-first from `tag`, yielding `(tagpath, tags, blobs)` per tag. A
   * missing tag yields empty lists when `ignoreMissing` (default), else it throws. Cycles are
   * cut (a tag already on the path is not entered again).
   */
  async *walk(
    tag: string,
    opts: TokenOption & { ignoreMissing?: boolean; tagpath?: string[] } = {},
  ): AsyncGenerator<WalkStep> {
    const tagpath = [...(opts.tagpath ?? []), canonizeTag(tag)];
    let tags: string[] = [];
    try {
      const urls = await this.urls(tag, opts);
      const split = partitionUrls(urls);
      tags = split.tags;
      yield [tagpath, tags, split.blobs];
    } catch (e) {
      if ((opts.ignoreMissing ?? true) && e instanceof CommError && e.status === 404) {
        yield [tagpath, [], []];
      } else {
        yield [tagpath, null, null];
        throw e;
      }
    }
    for (const next of tags.map((t) => relativizeTag(t, tag))) {
      if (tagpath.includes(canonizeTag(next))) continue;
      yield* this.walk(next, { ...opts, tagpath });
    }
  }

  /** Every blob replica set reachable from `tag`. */
  async *blobs(tag: string, opts: TokenOption & { ignoreMissing?: boolean } = {}): AsyncGenerator<string[]> {
    for await (const [, , blobs] of this.walk(tag, opts)) if (blobs) yield* blobs;
  }

  /**
   * The tag graph from `tags`, breadth first, each tag once (`DDFS.findtags`): yields
   * `[tag, linked tags, blob replica sets]`. A missing tag is skipped when `ignoreMissing`
   * (default), else it throws.
   */
  async *findtags(
    tags: string | readonly string[],
    opts: TokenOption & { ignoreMissing?: boolean; strictRoots?: boolean } = {},
  ): AsyncGenerator<[tag: string, tags: string[], blobs: string[][]]> {
    const queue = (typeof tags === 'string' ? [tags] : [...tags]).map(canonizeTag);
    const roots = queue.length;
    const seen = new Set<string>();
    for (let i = 0; i < queue.length; i++) {
      const tag = queue[i];
      if (seen.has(tag)) continue;
      seen.add(tag);
      let urls: string[][];
      try {
        urls = await this.urls(tag, opts);
      } catch (e) {
        const skip = (opts.ignoreMissing ?? true) && !(opts.strictRoots && i < roots);
        if (skip && e instanceof CommError && e.status === 404) continue;
        throw e;
      }
      const split = partitionUrls(urls);
      yield [tag, split.tags, split.blobs];
      for (const t of split.tags) queue.push(relativizeTag(t, tag));
    }
  }

  /**
   * The blob replica sets a job input `tag://...` stands for (the original's
   * `util.inputexpand`): the tag graph walked breadth first, each tag once, with the token of
   * the URL (`tag://user:TOKEN@/name`) used for every tag of the graph, else the settings'.
   * A missing linked tag is skipped; a missing root tag is an error.
   */
  async expandTag(url: string, opts: TokenOption = {}): Promise<string[][]> {
    const root = canonizeTag(url);
    const token = opts.token ?? parseTagUrl(root).token ?? undefined;
    const out: string[][] = [];
    for await (const [, , blobs] of this.findtags(root, { token, strictRoots: true }))
      for (const set of blobs) if (set.length > 0) out.push(set);
    return out;
  }

  /** The blobs directly in `tag` whose names pass `blobfilter`, each from a replica that answers. */
  async *pull(
    tag: string,
    opts: TokenOption & { blobfilter?: (name: string) => boolean } = {},
  ): AsyncGenerator<PulledBlob> {
    for (const set of await this.urls(tag, opts)) {
      if (set.length === 0 || !(opts.blobfilter ?? (() => true))(DDFS.blobName(set[0]))) continue;
      const { url, chunks } = await this.replicaToRead(set);
      yield {
        url,
        name: DDFS.blobName(url),
        chunks,
        read: async () => {
          const parts: Buffer[] = [];
          for await (const c of chunks()) parts.push(c);
          return Buffer.concat(parts);
        },
      };
    }
  }

  /**
   * Where a blob of replicas `set` is read from: a replica on this machine's node from its file
   * (see local-node.ts), else the first replica that answers, the others taking over if it fails
   * during the read.
   */
  private async replicaToRead(set: string[]): Promise<{ url: string; chunks: () => AsyncGenerator<Buffer> }> {
    const all = () => streamBlob(set.map((u) => this.resolve(u)));
    const local = await localReplica(this.settings.get('DDFS_DATA'), set);
    if (local) return { url: this.resolve(local.url), chunks: () => localFileOr(local.file, all) };
    let lastErr: unknown = new CommError('no replicas', set[0], 404);
    for (const u of shuffle(set)) {
      const url = this.resolve(u);
      try {
        await request(url, {
          method: 'HEAD',
          retry: this.retry ?? { retries: 2, baseDelayMs: 100, maxDelayMs: 1000 },
        });
      } catch (e) {
        lastErr = e;
        continue;
      }
      const order = [url, ...set.map((r) => this.resolve(r)).filter((r) => r !== url)];
      return { url, chunks: () => streamBlob(order) };
    }
    throw lastErr;
  }

  // ---- pushing ------------------------------------------------------------------------------

  /**
   * Push files as blobs (each to `replicas` nodes chosen by the master), then tag them.
   * Returns the tag replica URLs and the blobs' replica sets.
   */
  async push(tag: string, files: PushFile[], opts: PushOptions = {}): Promise<[string[], string[][]]> {
    const blobs: string[][] = [];
    for (const f of files) {
      const [source, name] = aim(f);
      blobs.push(await this.pushBlob(source, name, opts));
    }
    return [await this.tag(tag, blobs, opts), blobs];
  }

  /**
   * Read each input (`urls`: local paths, `http(s)://`, `disco://`, `raw://`; a list = replicas,
   * read from the first that answers, switching replicas mid-stream if one fails), cut its
   * records into chunks of about `chunkSize` bytes in the internal record format, push every
   * chunk (named `<basename>-<n>`), then tag them all. Each chunk is uploaded while it is
   * built, from memory (two uploads at a time; chunks over 256 MiB go through temporary files).
   */
  async chunk(
    tag: string,
    urls: (string | string[])[],
    opts: ChunkOptions = {},
  ): Promise<[string[], string[][]]> {
    const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
    // Before any input is opened or uploaded.
    checkChunkerOptions({ chunkSize, compression: opts.compression });
    // Chunks too large for memory are built in files (chunker.ts), here.
    const dir = chunksInMemory({ chunkSize })
      ? undefined
      : await fs.mkdtemp(path.join(os.tmpdir(), 'ddfs-chunk-'));
    const memory = dir ? undefined : chunkMemoryPool(chunkSize);
    const blobs: string[][] = [];
    const inflight = new Set<Promise<void>>();
    let failure: { e: unknown } | null = null;
    // Finished uploads are reported in chunk order.
    let reported = 0;
    const done: boolean[] = [];
    const report = () => {
      while (done[reported]) {
        // Not inside the optional call: `a?.(x++)` skips `x++` when `a` is undefined.
        const set = blobs[reported++];
        opts.onBlob?.(set);
      }
    };
    const wait = async (max: number) => {
      while (inflight.size > max) await Promise.race(inflight);
      if (failure) throw failure.e;
    };
    const pushOpts = { ...opts, onBlob: undefined };
    try {
      for (const input of urls) {
        const replicas = typeof input === 'string' ? [input] : input;
        const url = replicas[0] ?? '';
        const bytes = () => {
          const raw = counted(this.openInput(replicas), opts.onInputBytes);
          return opts.inputStream?.length ? transformed(raw, url, opts.inputStream) : raw;
        };
        // Lines of a local file are read straight into the chunker's memory.
        const file = !opts.reader && !opts.inputStream?.length ? localFile(url) : null;
        const base = path.basename(url.replace(/[?#].*$/, '').replace(/\/+$/, '')) || 'chunk';
        const copts = { chunkSize, dir, memory, prefix: `c${blobs.length}`, compression: opts.compression };
        const chunks = opts.reader
          ? chunkRecords(pairs(opts.reader(bytes(), url)), copts)
          : chunkLines(file !== null ? fileReader(file, opts.onInputBytes) : bytes(), copts);
        // A chunk in memory comes as soon as it is started, and its upload streams it while
        // it is built (that is, while this loop waits for the next chunk); a chunk file comes
        // once complete. Two uploads at a time: one node's fsync overlaps the next transfer.
        for await (const c of chunks) {
          await wait(CHUNK_UPLOADS - 1);
          const slot = blobs.push([]) - 1;
          const p: Promise<void> = this.pushBlob(c.source, DDFS.safeName(`${base}-${c.index}`), pushOpts)
            .then(
              (r) => {
                blobs[slot] = r;
                done[slot] = true;
                report();
              },
              (e: unknown) => {
                failure ??= { e };
              },
            )
            .finally(() => {
              inflight.delete(p);
              return c.release();
            });
          inflight.add(p);
        }
      }
      await wait(0);
    } finally {
      await Promise.allSettled([...inflight]);
      if (dir) await fs.rm(dir, { recursive: true, force: true });
    }
    return [await this.tag(tag, blobs, opts), blobs];
  }

  /**
   * Push one blob: ask the master for PUT URLs, upload to all of them; when an upload fails,
   * ask again excluding the nodes that failed, up to `retries` times.
   */
  async pushBlob(source: BlobSource, name: string, opts: PushOptions = {}): Promise<string[]> {
    const exclude = new Set<string>();
    const retries = opts.retries ?? 10;
    for (let attempt = 0; ; attempt++) {
      const q = new URLSearchParams();
      if (exclude.size > 0) q.set('exclude', [...exclude].join(','));
      if (opts.replicas) q.set('replicas', String(opts.replicas));
      const qs = q.toString().replace(/%2C/g, ',');
      const targets = (await this.json(
        'GET',
        `${this.master}/ddfs/new_blob/${name}${qs ? `?${qs}` : ''}`,
      )) as string[];
      const local = this.localNode();
      const results = await Promise.allSettled(
        targets.map((u, i) => {
          const onBytes = i === 0 ? opts.onBytes : undefined;
          return local?.serves(u) ? local.put(u, source, onBytes) : putBlob(u, source, onBytes);
        }),
      );
      const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [targets[i]] : []));
      if (failed.length === 0) {
        const urls = results.map((r) => (r as PromiseFulfilledResult<string>).value);
        opts.onBlob?.(urls);
        return urls;
      }
      const err = (results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason;
      // The source failed (e.g. the chunk's input): other nodes would fail the same way.
      const sourceError: unknown = results.find(
        (r): r is PromiseRejectedResult => r.status === 'rejected' && r.reason instanceof BlobSourceError,
      )?.reason;
      if (sourceError instanceof BlobSourceError) throw sourceError.cause;
      if (attempt >= retries) throw err;
      for (const u of failed) exclude.add(new URL(u).hostname);
    }
  }

  // ---- plumbing -----------------------------------------------------------------------------

  /**
   * The node of this machine whose volumes are `DDFS_DATA`, if any (see local-node.ts); looked
   * for again after a while (a node may start, or restart as another process, meanwhile).
   */
  private localNode(): LocalNode | null {
    const now = Date.now();
    if (!this.local || now - this.local.at > LOCAL_NODE_RECHECK_MS)
      this.local = { node: LocalNode.find(this.settings.get('DDFS_DATA')), at: now };
    return this.local.node;
  }

  private port(): string {
    return this.settings.get('DISCO_PORT');
  }

  /** HTTP URL of a tag on its master (`tag://host/name` → that host). */
  private tagUrl(tag: string): string {
    const t = parseTagUrl(canonizeTag(tag));
    if (!t.tag) throw new InvalidTag(`Invalid tag: ${tag}`);
    const base = t.host
      ? `http://${/:\d+$/.test(t.host) ? t.host : `${t.host}:${this.port()}`}`
      : this.master;
    return `${base}/ddfs/tag/${t.tag}`;
  }

  private pickToken(tag: string, explicit: string | undefined, method: string): string | undefined {
    if (explicit !== undefined) return explicit;
    if (tag.startsWith('tag://')) {
      const t = parseTagUrl(tag).token;
      if (t !== null) return t;
    }
    if (this.token !== undefined) return this.token;
    const env = this.settings.get(method === 'GET' ? 'DDFS_READ_TOKEN' : 'DDFS_WRITE_TOKEN');
    return env === '' ? undefined : env;
  }

  private auth(token: string | undefined): Record<string, string> {
    return token === undefined
      ? {}
      : { authorization: `Basic ${Buffer.from(`token:${token}`).toString('base64')}` };
  }

  private async json(
    method: string,
    url: string,
    body?: string,
    token?: string,
    idempotent = method !== 'POST',
  ): Promise<unknown> {
    const res: HttpResponse = await request(url, {
      method,
      body,
      headers: this.auth(token),
      idempotent,
      retry: this.retry,
    });
    return JSON.parse(res.body.toString('utf8'));
  }

  /** `disco://`/`dir://`/`http://` → an HTTP URL. */
  private resolve(url: string): string {
    return resolveHttp(url, this.port(), this.master);
  }

  /** The bytes of an input: a local file, `raw://` data, or a remote URL (replicas in order). */
  private async *openInput(replicas: string[]): AsyncGenerator<Buffer> {
    const first = replicas[0];
    if (first === undefined) return;
    if (first.startsWith('raw://')) {
      yield Buffer.from(first.slice('raw://'.length));
      return;
    }
    const file = localFile(first);
    if (file !== null) {
      yield* createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>;
      return;
    }
    yield* streamBlob(replicas.map((u) => this.resolve(u)));
  }
}

/** The path of an input that is a local file (a path or a `file://` URL), else null. */
function localFile(url: string): string | null {
  if (url.startsWith('file://')) return url.slice('file://'.length);
  return url.includes('://') ? null : url;
}

/** Count the bytes going through. */
async function* counted(src: AsyncIterable<Buffer>, onBytes?: (n: number) => void): AsyncGenerator<Buffer> {
  for await (const b of src) {
    onBytes?.(b.length);
    yield b;
  }
}

/** Records of a custom reader: `[key, value]` pairs as they are, anything else as `[item, null]`. */
async function* pairs(items: AsyncIterable<unknown> | Iterable<unknown>): AsyncGenerator<KV> {
  for await (const x of items as AsyncIterable<unknown>) {
    yield Array.isArray(x) && x.length === 2 ? (x as KV) : [x, null];
  }
}

function aim(f: PushFile): [BlobSource, string] {
  if (typeof f === 'string') return [{ file: f }, DDFS.safeName(path.basename(f))];
  const [src, name] = f;
  if (typeof src === 'string') return [{ file: src }, name];
  if (src instanceof Uint8Array) return [{ data: src }, name];
  return [src, name];
}

/** Split a tag's urls into tag links (canonized) and blob replica sets. */
function partitionUrls(urls: string[][]): { tags: string[]; blobs: string[][] } {
  const tags: string[] = [];
  const blobs: string[][] = [];
  for (const set of urls) {
    // As the original: anything that could name a tag (`tag://x` or a bare name) is a link.
    if (set.length > 0 && isTag(set[0])) tags.push(canonizeTag(set[0]));
    else blobs.push(set);
  }
  return { tags, blobs };
}

/** A linked tag without a host lives on its parent's master (`relativizetag`). */
function relativizeTag(tag: string, parent: string): string {
  const t = parseTagUrl(canonizeTag(tag));
  if (t.host) return tag;
  const p = parseTagUrl(canonizeTag(parent));
  if (!p.host) return `tag://${t.tag}`;
  return `tag://${p.host}/${t.tag}`;
}

function shuffle<T>(xs: T[]): T[] {
  const a = xs.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

export type { BlobSource };
