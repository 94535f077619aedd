/**
 * The per-node shuffle after a phase (wire spec §3.7, `shuffle.erl`).
 *
 * Reads the `.results` files of the phase's successful tasks on this node. Every `part://`
 * line's file is appended to `JobHome/.disco/partitions-<ts>/part-<label>` and the line is
 * rewritten to that partition's `disco://` URL; other lines are kept. The sorted, unique
 * union of lines is written gzip-compressed to `JobHome/.disco/<mode>-index.txt.gz` (temp
 * file + rename), and the node's phase result is that file's `dir://` URL — or null when the
 * tasks produced no outputs here.
 *
 * Partition files are built by copying each part file into them a chunk at a time (never a
 * whole file in memory, see {@link PartitionWriter}); at most {@link MAX_OPEN_PARTITIONS}
 * stay open at once. Shuffles of one job are
 * serialised so two rounds never interleave their writes. The `.results` files (one per task,
 * 20,000 of them for a 20,000-task phase; each a few lines) are read synchronously in batches
 * of {@link READ_BATCH}, yielding to the event loop between batches: ten times less CPU than
 * promise-based reads (four thread-pool round trips per file), and the node's other work
 * waits at most one batch (well under a millisecond).
 */
import { closeSync, fsync, openSync, readFileSync, readSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { writeAllSync } from '../common/fd-write.js';
import { safeJoin, writeFileAtomic } from '../common/fs-atomic.js';
import { ddfsTimestamp } from '../common/time.js';
import { encodeIndex, type IndexEntry } from '../protocol/index-file.js';
import { localPath, splitUrl } from '../protocol/urls.js';
import type { JobLocation } from './task-outputs.js';

/** Partition files kept open at once while concatenating. */
export const MAX_OPEN_PARTITIONS = 64;
/** `.results` files read between two turns of the event loop. */
export const READ_BATCH = 64;

/** One node's shuffle of one phase. */
export interface ShuffleRequest {
  job: string;
  mode: 'map' | 'reduce';
  /** The job's home on this node. */
  home: JobLocation;
  /** `.results` files, relative to the job home. */
  resultFiles: readonly string[];
  host: string;
  discoData: string;
  ddfsData: string;
  discoPort: number;
  /** Told the bytes appended to partition files, once the shuffle succeeded. */
  onBytes?: (bytes: number) => void;
}

const chains = new Map<string, Promise<unknown>>();

/** Run the shuffle; resolves to the index `dir://` URL, or null if there is nothing to index. */
export function shuffle(req: ShuffleRequest): Promise<string | null> {
  const prev = chains.get(req.job) ?? Promise.resolve();
  const run = prev.catch(() => {}).then(() => doShuffle(req));
  chains.set(req.job, run);
  void run
    .catch(() => {})
    .then(() => {
      if (chains.get(req.job) === run) chains.delete(req.job);
    });
  return run;
}

async function doShuffle(req: ShuffleRequest): Promise<string | null> {
  const { home } = req;
  const entries: IndexEntry[] = [];
  const partDirName = `partitions-${ddfsTimestamp()}`;
  const partitions = new PartitionWriter(path.join(home.dir, '.disco', partDirName));
  try {
    for await (const [rel, text] of readResults(home.dir, req.resultFiles)) {
      for (const line of text.split('\n')) {
        if (line.trim() === '') continue;
        const [label, url, ...rest] = line.trim().split(/\s+/);
        if (!url || rest.length > 0) throw new Error(`malformed line in ${rel}: ${JSON.stringify(line)}`);
        if (splitUrl(url).scheme !== 'part') {
          entries.push({ label, url });
          continue;
        }
        if (!/^[A-Za-z0-9_-]+$/.test(label))
          throw new Error(`invalid partition label ${JSON.stringify(label)}`);
        const src = localPath(url, req.host, req);
        if (!src) throw new Error(`partition file ${url} is not on this node`);
        await partitions.append(label, src);
        entries.push({ label, url: `disco://${home.urlBase}/.disco/${partDirName}/part-${label}` });
      }
    }
    await partitions.close();
    req.onBytes?.(partitions.bytes);
  } catch (e) {
    await partitions.abandon();
    throw e;
  }
  if (entries.length === 0) return null;
  const indexName = `${req.mode}-index.txt.gz`;
  await writeFileAtomic(path.join(home.dir, '.disco', indexName), encodeIndex(entries));
  return `dir://${home.urlBase}/.disco/${indexName}`;
}

/**
 * The text of each file, in order, read in batches of {@link READ_BATCH} (see the module doc).
 * Every path is checked to stay inside `dir` before anything is read.
 */
async function* readResults(dir: string, rels: readonly string[]): AsyncGenerator<[string, string]> {
  const files = rels.map((rel) => {
    const file = safeJoin(dir, rel);
    if (!file) throw new Error(`results file ${JSON.stringify(rel)} is outside the job home`);
    return file;
  });
  for (let i = 0; i < files.length; i++) {
    if (i > 0 && i % READ_BATCH === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    yield [rels[i], readFileSync(files[i], 'utf8')];
  }
}

/** Bytes copied between two turns of the event loop (and the copy buffer's size). */
const COPY_CHUNK = 1024 * 1024;
/** Part files appended between two turns of the event loop. */
const APPEND_BATCH = 64;

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
const fsyncFd = promisify(fsync);

/**
 * Appends part files to partition files, keeping a bounded number of them open. A map task's
 * part file is often tiny and there is one per task, so the copy is synchronous (open, read,
 * write, close: no thread-pool round trips, ten times less CPU than a read stream per file)
 * in chunks of {@link COPY_CHUNK}, yielding to the event loop after every chunk's worth of
 * bytes or {@link APPEND_BATCH} files; memory stays at one chunk. Partition files are
 * fsynced (off the event loop) when closed.
 */
class PartitionWriter {
  /** Open partition files (descriptors), least recently used first. */
  private readonly open = new Map<string, number>();
  private created = false;
  private buf: Buffer | null = null;
  private sinceYield = 0;
  private files = 0;
  /** Bytes appended so far. */
  bytes = 0;

  constructor(private readonly dir: string) {}

  async append(label: string, src: string): Promise<void> {
    const out = await this.handle(label);
    this.buf ??= Buffer.allocUnsafe(COPY_CHUNK);
    const input = openSync(src, 'r');
    try {
      for (;;) {
        const n = readSync(input, this.buf, 0, this.buf.length, null);
        if (n === 0) break;
        writeAllSync(out, this.buf, 0, n);
        this.bytes += n;
        this.sinceYield += n;
        if (this.sinceYield >= COPY_CHUNK) {
          this.sinceYield = 0;
          await yieldToLoop();
        }
      }
    } finally {
      closeSync(input);
    }
    if (++this.files % APPEND_BATCH === 0) await yieldToLoop();
  }

  /** Sync and close every partition file. */
  async close(): Promise<void> {
    for (const label of [...this.open.keys()]) await this.release(label, true);
  }

  async abandon(): Promise<void> {
    for (const fd of this.open.values()) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    }
    this.open.clear();
  }

  private async handle(label: string): Promise<number> {
    const known = this.open.get(label);
    if (known !== undefined) {
      this.open.delete(label);
      this.open.set(label, known);
      return known;
    }
    if (!this.created) {
      await fs.mkdir(this.dir, { recursive: true });
      this.created = true;
    }
    if (this.open.size >= MAX_OPEN_PARTITIONS)
      await this.release(this.open.keys().next().value as string, true);
    const fd = openSync(path.join(this.dir, `part-${label}`), 'a');
    this.open.set(label, fd);
    return fd;
  }

  private async release(label: string, sync: boolean): Promise<void> {
    const fd = this.open.get(label);
    if (fd === undefined) return;
    this.open.delete(label);
    try {
      if (sync) await fsyncFd(fd);
    } finally {
      closeSync(fd);
    }
  }
}
