/**
 * The subcommands of the `ddfs` command line (the original's `bin/ddfscli.py`): each takes the
 * {@link DdfsContext} and its parsed arguments, prints to the context's streams, and throws
 * {@link CliExit} (or any error) to fail. Shared conventions, as in the original:
 *
 * - a URL argument that can name a tag (`tag://x`, or a bare name without `/` or `://`) is a
 *   tag; local files therefore need a `/` (`./file.txt`);
 * - `-p` (prefix mode) turns tag arguments into every tag with that prefix; `-i` skips missing
 *   tags instead of failing; `-j` (job mode) takes job names and reads their results;
 * - commands that take URLs read them one per line from standard input when none are given;
 *   a line (or argument) with several whitespace-separated URLs is one blob's replica list.
 *
 * @example
 * await pushCommand(ctx, 'data:logs', ['./a.log'], { replicas: '2' });
 */
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CommError } from '../common/errors.js';
import { pipeBlob } from '../ddfs/client/blob-read.js';
import { type ByteTransform, gunzipInput, type RecordReader } from '../ddfs/client/chunk-input.js';
import { isTag } from '../ddfs/client/ddfs.js';
import { localReplica } from '../ddfs/client/local-node.js';
import { type Progress, progress } from '../ddfs/client/progress.js';
import { resolveHttp, splitUrl } from '../protocol/urls.js';
import type { DdfsContext } from './ddfs-context.js';
import { formatValue, toJson } from './format.js';
import { CliExit } from './io.js';
import { copyFileToFdSync, OutputClosed } from './raw-output.js';

/** A URL argument: one URL, or the replica URLs of one blob. */
export type UrlArg = string | string[];

/** Options shared by the commands that read blobs of tags. */
export interface BlobsOpts {
  ignoreMissing?: boolean;
  prefixMode?: boolean;
}

// ---- argument helpers ------------------------------------------------------------------------

/** `"a b"` → `['a', 'b']` (replicas), `"a"` → `'a'` (the original's `Program.input`); `raw://` data whole. */
export function splitReplicas(arg: string): UrlArg | null {
  // A raw:// argument is one input even with spaces (as `disco run`).
  if (arg.startsWith('raw://')) return arg;
  const parts = arg.trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) return null;
  return parts.length === 1 ? parts[0] : parts;
}

/** The arguments, or the lines of standard input when there are none. */
async function inputs(ctx: DdfsContext, args: readonly string[]): Promise<UrlArg[]> {
  const lines = args.length > 0 ? args : await ctx.stdinLines();
  return lines.map(splitReplicas).filter((x): x is UrlArg => x !== null);
}

/** Tags and the other URLs (`separate_tags`). */
export function separateTags(urls: readonly UrlArg[]): { tags: string[]; urls: UrlArg[] } {
  const tags: string[] = [];
  const rest: UrlArg[] = [];
  for (const u of urls) {
    if (typeof u === 'string' && isTag(u)) tags.push(u);
    else rest.push(u);
  }
  return { tags, urls: rest };
}

/** Tag arguments, or in prefix mode every tag starting with one of them. */
async function prefixMode(ctx: DdfsContext, tags: readonly string[], on?: boolean): Promise<string[]> {
  if (!on) return [...tags];
  const out: string[] = [];
  for (const p of tags) out.push(...(await ctx.ddfs.list(p)));
  return out;
}

/** Every blob replica set reachable from the tags (`Program.blobs`). */
async function* programBlobs(
  ctx: DdfsContext,
  tags: readonly string[],
  o: BlobsOpts,
): AsyncGenerator<string[]> {
  for (const tag of await prefixMode(ctx, tags, o.prefixMode))
    yield* ctx.ddfs.blobs(tag, { ignoreMissing: !!o.ignoreMissing });
}

/**
 * The inputs of `xcat` (resolved here, in the `ddfs` bundle, so that the shared ddfs-xcat.js
 * need not load the commands): the URL arguments (or standard input's lines; with `-j` job
 * names, their results), then the blobs of the tags among them.
 */
export async function xcatInputs(
  ctx: DdfsContext,
  args: readonly string[],
  o: BlobsOpts & { jobMode?: boolean },
): Promise<UrlArg[]> {
  const list = o.jobMode ? await jobResults(ctx, args) : args;
  const { tags, urls } = separateTags(await inputs(ctx, list));
  const all: UrlArg[] = [...urls];
  for await (const set of programBlobs(ctx, tags, o)) all.push(set);
  return all;
}

/** Job names → their result URLs (`-j`). */
async function jobResults(ctx: DdfsContext, jobs: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  const discoCtx = await ctx.jobContext();
  for (const ref of jobs) {
    const name = await discoCtx.jobName(ref);
    const [status, results] = await discoCtx.disco.results(name, { timeout: 0 });
    if (status === 'unknown job') throw new CliExit(`unknown job ${name}`);
    if (status !== 'ready') throw new CliExit(`job ${name} is ${status}`);
    out.push(...results);
  }
  return out;
}

/** `64M`, `1G`, `65536` → bytes. */
export function parseSize(v: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(v);
  if (!m)
    throw new CliExit(`invalid size ${JSON.stringify(v)}: expected bytes, or a number with K, M or G`, 2);
  const unit = m[2].toLowerCase();
  const n = Math.floor(Number(m[1]) * 1024 ** ' kmgt'.indexOf(unit || ' '));
  if (n < 1) throw new CliExit(`invalid size ${JSON.stringify(v)}`, 2);
  return n;
}

function parseReplicas(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1)
    throw new CliExit(`--replicas must be a positive integer, got ${v}`, 2);
  return Number(v);
}

/** Print a pushed blob's replicas (`created: url\turl`) under the progress line, and count it. */
function printCreated(ctx: DdfsContext, p: Progress): (replicas: string[]) => void {
  return (replicas) => {
    p.clear();
    ctx.io.out(`created: ${replicas.join('\t')}`);
    p.item();
  };
}

/** The `-R` reader of `chunk`: `lines` (default), `records` (the internal format), or module:export. */
async function chunkReader(spec: string | undefined): Promise<RecordReader | undefined> {
  if (spec === undefined || spec === 'lines') return undefined;
  if (spec === 'records') {
    const { recordsFromChunks } = await import('../client/result-iterator.js');
    return (bytes, url) => recordsFromChunks(bytes, url);
  }
  return (await (await import('./run-module.js')).loadFunction(spec, 'reader')) as unknown as RecordReader;
}

/** The `-T` byte transforms of `chunk`: `gunzip`, or module:export functions `fn(bytes, url)`. */
async function chunkStreams(specs: readonly string[] | undefined): Promise<ByteTransform[]> {
  const out: ByteTransform[] = [];
  for (const spec of specs ?? []) {
    if (spec === 'gunzip') out.push(gunzipInput);
    else
      out.push(
        (await (
          await import('./run-module.js')
        ).loadFunction(spec, 'input stream')) as unknown as ByteTransform,
      );
  }
  return out;
}

/** Make a path argument of `push`: files as they are, directories (with `-r`) walked. */
async function pushFiles(ctx: DdfsContext, args: readonly string[], recursive?: boolean): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string) => {
    for (const e of await fs.readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  for (const f of args) {
    let st: Awaited<ReturnType<typeof fs.stat>>;
    try {
      st = await fs.stat(f);
    } catch {
      throw new CliExit(`${f}: no such file`);
    }
    if (st.isDirectory()) {
      if (recursive) await walk(f);
      else ctx.io.err(`${f} is a directory (not pushing).`);
    } else out.push(f);
  }
  return out;
}

async function totalSize(files: readonly string[]): Promise<number> {
  let n = 0;
  for (const f of files) n += (await fs.stat(f)).size;
  return n;
}

function isLocal(u: UrlArg): u is string {
  return typeof u === 'string' && (!u.includes('://') || u.startsWith('file://'));
}

/** Replica sets as tab-separated lines, each as it comes; or (`json`) one JSON list at the end. */
async function printReplicaSets(
  ctx: DdfsContext,
  sets: AsyncIterable<string[]>,
  json?: boolean,
): Promise<void> {
  const all: string[][] = [];
  for await (const set of sets) {
    if (json) all.push(set);
    else ctx.io.out(set.join('\t'));
  }
  if (json) ctx.io.out(toJson(all));
}

// ---- commands ----------------------------------------------------------------------------------

/** `ddfs attrs <tag>`: `name<TAB>value` lines. */
export async function attrsCommand(ctx: DdfsContext, tag: string, o: { json?: boolean }): Promise<void> {
  const attrs = await ctx.ddfs.attrs(tag);
  if (o.json) ctx.io.out(toJson(attrs));
  else for (const [k, v] of Object.entries(attrs)) ctx.io.out(`${k}\t${v}`);
}

/** `ddfs blobs [tag...]`: the replica URLs (tab-separated) of every blob reachable. */
export async function blobsCommand(
  ctx: DdfsContext,
  tags: string[],
  o: BlobsOpts & { json?: boolean },
): Promise<void> {
  await printReplicaSets(ctx, programBlobs(ctx, tags, o), o.json);
}

async function catFile(ctx: DdfsContext, file: string, onBytes: (n: number) => void): Promise<void> {
  let start = 0;
  // Blocking reads and writes through one buffer: as fast as `cat` (see raw-output.ts).
  for (let fd = ctx.outputFd(); fd !== null; fd = ctx.outputFd()) {
    const left = copyFileToFdSync(file, fd, onBytes, start);
    if (!left) return;
    // Standard output would block (a non-blocking pipe whose reader is behind): the stream
    // takes these bytes, and direct writes go on once it has passed them on.
    await ctx.writeFlushed(left.pending);
    onBytes(left.pending.length);
    start = left.next;
  }
  for await (const b of createReadStream(file, { start, highWaterMark: 1 << 20 })) {
    const p = ctx.writeFast(b as Buffer);
    if (p) await p;
    onBytes((b as Buffer).length);
  }
}

/** Copy one URL argument (replicas: failover) to standard output, for `cat`. */
async function catOne(ctx: DdfsContext, u: UrlArg, onBytes: (n: number) => void): Promise<void> {
  const replicas = typeof u === 'string' ? [u] : u;
  const first = replicas[0];
  if (first.startsWith('raw://')) {
    const b = Buffer.from(first.slice('raw://'.length));
    await ctx.write(b);
    onBytes(b.length);
    return;
  }
  if (isLocal(first)) return catFile(ctx, splitUrl(first).path, onBytes);
  // On one of the blob's nodes the file is read directly: no HTTP, no data server.
  const local = await localReplica(ctx.settings.get('DDFS_DATA'), replicas);
  if (local) return catFile(ctx, local.file, onBytes);
  const port = ctx.settings.get('DISCO_PORT');
  await pipeBlob(
    replicas.map((r) => resolveHttp(r, port, ctx.ddfs.master)),
    (b) => {
      onBytes(b.length);
      return ctx.writeFast(b);
    },
    { onReplicaError: (_url, e) => ctx.io.err(`ddfs: ${e.message}`) },
  );
}

/** `ddfs cat [url...]`: the raw bytes of URLs, then of the blobs of tags. */
export async function catCommand(
  ctx: DdfsContext,
  args: string[],
  o: BlobsOpts & { jobMode?: boolean },
): Promise<void> {
  const list = o.jobMode ? await jobResults(ctx, args) : args;
  const { tags, urls } = separateTags(await inputs(ctx, list));
  const p = progress({ label: 'cat', unit: 'blobs', stream: ctx.progressStream });
  try {
    const all = async function* () {
      yield* urls;
      yield* programBlobs(ctx, tags, o);
    };
    for await (const u of all()) {
      try {
        await catOne(ctx, u, (n) => p.bytes(n));
      } catch (e) {
        if (!o.ignoreMissing || e instanceof OutputClosed) throw e;
        ctx.io.err(`ddfs: ${(e as Error).message}`);
      }
      p.item();
    }
  } finally {
    p.done();
  }
}

/** `ddfs chtok <tag> <token>`: set the read and/or write token (`-r`, `-w`; neither: both). */
export async function chtokCommand(
  ctx: DdfsContext,
  tag: string,
  token: string,
  o: { read?: boolean; write?: boolean },
): Promise<void> {
  const both = !o.read && !o.write;
  // The read token first: setting the write token first could lock this client out.
  if (o.read || both) await ctx.ddfs.setattr(tag, 'ddfs:read-token', token);
  if (o.write || both) await ctx.ddfs.setattr(tag, 'ddfs:write-token', token);
}

/** `ddfs chunk <tag> [url...]`: record-aware chunks of the inputs, pushed and tagged. */
export async function chunkCommand(
  ctx: DdfsContext,
  tag: string,
  args: string[],
  o: BlobsOpts & {
    replicas?: string;
    update?: boolean;
    delayed?: boolean;
    reader?: string;
    stream?: string[];
    chunkSize?: string;
    compression?: string;
  },
): Promise<void> {
  if (o.compression !== undefined && !/^[0-9]$/.test(o.compression))
    throw new CliExit(`--compression must be a zlib level 0-9, got ${o.compression}`, 2);
  const { tags, urls } = separateTags(await inputs(ctx, args));
  const blobs: UrlArg[] = [...urls];
  for await (const set of programBlobs(ctx, tags, o)) blobs.push(set);
  if (blobs.length === 0) throw new CliExit('nothing to chunk: give input URLs or files (or a tag)', 2);
  for (const b of blobs) {
    if (isLocal(b)) {
      try {
        await fs.access(splitUrl(b).path);
      } catch {
        throw new CliExit(`${b}: no such file`);
      }
    }
  }
  const reader = await chunkReader(o.reader);
  const inputStream = await chunkStreams(o.stream);
  const local = blobs.every(isLocal);
  const p = progress({ label: 'chunk', unit: 'chunks', stream: ctx.progressStream });
  if (local) p.total({ bytes: await totalSize(blobs.map((b) => splitUrl(b as string).path)) });
  try {
    await ctx.ddfs.chunk(
      tag,
      blobs.map((b) => (typeof b === 'string' ? b : [...b])),
      {
        replicas: parseReplicas(o.replicas),
        update: o.update,
        delayed: o.delayed,
        reader,
        inputStream,
        chunkSize: o.chunkSize === undefined ? undefined : parseSize(o.chunkSize),
        compression: o.compression === undefined ? undefined : Number(o.compression),
        onInputBytes: (n) => p.bytes(n),
        onBlob: printCreated(ctx, p),
      },
    );
  } finally {
    p.done();
  }
}

/** `ddfs cp <source> <target>`: replace the target tag's urls by the source's. */
export async function cpCommand(ctx: DdfsContext, src: string, dst: string): Promise<void> {
  await ctx.ddfs.put(dst, (await ctx.ddfs.get(src)).urls);
}

/** `ddfs exists <tag>`: prints True (exit 0) or False (exit 1). */
export async function existsCommand(ctx: DdfsContext, tag: string): Promise<number> {
  const yes = await ctx.ddfs.exists(tag);
  ctx.io.out(yes ? 'True' : 'False');
  return yes ? 0 : 1;
}

/** `ddfs find [tag...]`: every tag path of the graph from the tags. */
export async function findCommand(
  ctx: DdfsContext,
  args: string[],
  o: BlobsOpts & { warnMissing?: boolean },
): Promise<void> {
  const ignoreMissing = !!(o.ignoreMissing || o.warnMissing);
  for (const tag of await prefixMode(ctx, args, o.prefixMode)) {
    const walk = ctx.ddfs.walk(tag, { ignoreMissing });
    try {
      for await (const [tagpath, tags, blobs] of walk) {
        // An unreadable tag (null) ends the walk with its error, printed by the caller.
        if (tags === null || blobs === null) continue;
        const empty = tags.length === 0 && blobs.length === 0;
        if (empty && o.warnMissing && !(await ctx.ddfs.exists(tagpath.at(-1)!)))
          ctx.io.out(`Tag not found: ${tagpath.join('\t')}`);
        else ctx.io.out(tagpath.join('\t'));
      }
    } catch (e) {
      if (e instanceof CommError && e.status === 404) throw new CliExit(`Tag not found: ${tag}`);
      throw e;
    }
  }
}

/** `ddfs get <tag>`: the tag object as JSON. */
export async function getCommand(ctx: DdfsContext, tag: string): Promise<void> {
  ctx.io.out(toJson(await ctx.ddfs.get(tag)));
}

/** `ddfs getattr <tag> <attr>`. */
export async function getattrCommand(ctx: DdfsContext, tag: string, attr: string): Promise<void> {
  const v = await ctx.ddfs.getattr(tag, attr);
  ctx.io.out(typeof v === 'string' ? v : toJson(v));
}

/** `ddfs ls [prefix...]`: tag names (`-r`: each followed by its blobs and an empty line). */
export async function lsCommand(
  ctx: DdfsContext,
  prefixes: string[],
  o: BlobsOpts & { recursive?: boolean; json?: boolean },
): Promise<void> {
  const all: string[] = [];
  for (const prefix of prefixes.length > 0 ? prefixes : ['']) {
    const tags = await ctx.ddfs.list(prefix);
    if (o.json && !o.recursive) {
      all.push(...tags);
      continue;
    }
    for (const tag of tags) {
      ctx.io.out(tag);
      if (!o.recursive) continue;
      try {
        for await (const set of ctx.ddfs.blobs(tag, { ignoreMissing: !!o.ignoreMissing }))
          ctx.io.out(set.join('\t'));
      } catch (e) {
        if (!(e instanceof CommError)) throw e;
        ctx.io.out(e.message);
      }
      ctx.io.out('');
    }
  }
  if (o.json && !o.recursive) ctx.io.out(toJson(all));
}

/** Options of `ddfs push`. */
export interface PushCommandOptions {
  replicas?: string;
  recursive?: boolean;
  update?: boolean;
  delayed?: boolean;
  /** `-x`: the files are tar archives; push their members. */
  tarballs?: boolean;
  include?: string;
  exclude?: string;
  /** `-z`: gzip tar members. */
  compress?: boolean;
}

/** `ddfs push <tag> [file...]`: files as blobs, then tagged. */
export async function pushCommand(
  ctx: DdfsContext,
  tag: string,
  args: string[],
  o: PushCommandOptions,
): Promise<void> {
  if (!o.tarballs && (o.include !== undefined || o.exclude !== undefined || o.compress))
    throw new CliExit('-I, -E and -z apply to tar archives: add -x', 2);
  if (o.tarballs) return pushTarballs(ctx, tag, args, o);
  const files = await pushFiles(ctx, args, o.recursive);
  const p = progress({
    label: 'push',
    unit: 'files',
    totalItems: files.length,
    totalBytes: await totalSize(files),
    stream: ctx.progressStream,
  });
  try {
    await ctx.ddfs.push(tag, files, {
      replicas: parseReplicas(o.replicas),
      update: o.update,
      delayed: o.delayed,
      onBytes: (n) => p.bytes(n),
      onBlob: printCreated(ctx, p),
    });
  } finally {
    p.done();
  }
}

/**
 * `ddfs push -x <tag> <archive...>`: every regular file of the tar archives (gzipped or not) as
 * a blob named after its path, pushed one after the other without unpacking to disk (members
 * over 4 MiB pass through a temporary file), then all tagged at once.
 */
async function pushTarballs(
  ctx: DdfsContext,
  tag: string,
  args: string[],
  o: PushCommandOptions,
): Promise<void> {
  if (args.length === 0) throw new CliExit('push -x: give the tar archives to push', 2);
  for (const f of args) {
    const st = await fs.stat(f).catch(() => null);
    if (!st) throw new CliExit(`${f}: no such file`);
    if (!st.isFile()) throw new CliExit(`${f} is not a file (push -x takes tar archives)`);
  }
  const p = progress({
    label: 'push',
    unit: 'files',
    totalBytes: await totalSize(args),
    stream: ctx.progressStream,
  });
  const created = printCreated(ctx, p);
  const { TarFormatError, tarBlobs } = await import('../ddfs/client/tarball.js');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ddfs-push-x-'));
  const blobs: string[][] = [];
  try {
    for (const file of args) {
      const input = createReadStream(file, { highWaterMark: 1 << 20 });
      input.on('data', (b) => p.bytes(b.length));
      try {
        for await (const b of tarBlobs(input, {
          include: o.include,
          exclude: o.exclude,
          compress: o.compress,
          dir,
        })) {
          try {
            const replicas = await ctx.ddfs.pushBlob(b.source, b.name, {
              replicas: parseReplicas(o.replicas),
            });
            blobs.push(replicas);
            created(replicas);
          } finally {
            await b.release();
          }
        }
      } catch (e) {
        if (e instanceof TarFormatError) throw new CliExit(`${file}: ${e.message}`);
        throw e;
      } finally {
        input.destroy();
      }
    }
  } finally {
    p.done();
    await fs.rm(dir, { recursive: true, force: true });
  }
  if (blobs.length === 0) ctx.io.err('ddfs: push -x: no files in the archives (or none matched -I/-E)');
  await ctx.ddfs.tag(tag, blobs, { update: o.update, delayed: o.delayed });
}

/** Replica lists of `put`/`tag` arguments. */
async function replicaLists(ctx: DdfsContext, args: readonly string[]): Promise<string[][]> {
  return (await inputs(ctx, args)).map((u) => (typeof u === 'string' ? [u] : u));
}

/** `ddfs put <tag> [url...]`: replace the tag's urls. */
export async function putCommand(ctx: DdfsContext, tag: string, args: string[]): Promise<void> {
  await ctx.ddfs.put(tag, await replicaLists(ctx, args));
}

/** `ddfs rm [tag...]`: delete the tags. */
export async function rmCommand(ctx: DdfsContext, tags: string[], o: BlobsOpts): Promise<void> {
  for (const tag of await prefixMode(ctx, tags, o.prefixMode)) ctx.io.out(await ctx.ddfs.delete(tag));
}

/** `ddfs setattr <tag> <attr> <value>`. */
export async function setattrCommand(
  ctx: DdfsContext,
  tag: string,
  attr: string,
  value: string,
): Promise<void> {
  await ctx.ddfs.setattr(tag, attr, value);
}

/** `ddfs delattr <tag> <attr>`. */
export async function delattrCommand(ctx: DdfsContext, tag: string, attr: string): Promise<void> {
  await ctx.ddfs.delattr(tag, attr);
}

/** `ddfs stat [tag...]`: version, id, last-modified and attributes of each tag (no urls). */
export async function statCommand(
  ctx: DdfsContext,
  tags: string[],
  o: BlobsOpts & { json?: boolean },
): Promise<void> {
  for (const tag of await prefixMode(ctx, tags, o.prefixMode)) {
    const t = await ctx.ddfs.get(tag);
    const { urls, ...rest } = t;
    if (o.json) ctx.io.out(toJson({ ...rest, urls: urls.length }));
    else ctx.io.out(Object.values(rest).map(formatValue).join('\t'));
  }
}

/** `ddfs tag <tag> [url...]`: add urls to the tag (creates it). */
export async function tagCommand(
  ctx: DdfsContext,
  tag: string,
  args: string[],
  o: { update?: boolean; delayed?: boolean },
): Promise<void> {
  await ctx.ddfs.tag(tag, await replicaLists(ctx, args), { update: o.update, delayed: o.delayed });
}

/** `ddfs touch [tag...]`: create the tags if they do not exist. */
export async function touchCommand(ctx: DdfsContext, tags: string[]): Promise<void> {
  for (const tag of tags) await ctx.ddfs.tag(tag, []);
}

/** `ddfs urls [tag...]`: the replica URLs of the tags' entries (tags included), tab-separated. */
export async function urlsCommand(
  ctx: DdfsContext,
  tags: string[],
  o: BlobsOpts & { json?: boolean },
): Promise<void> {
  const sets = async function* () {
    for (const tag of await prefixMode(ctx, tags, o.prefixMode)) yield* await ctx.ddfs.urls(tag);
  };
  await printReplicaSets(ctx, sets(), o.json);
}
