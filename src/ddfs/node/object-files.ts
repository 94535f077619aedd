/**
 * Durable object files on a node: stream into a temporary (`!partial...`) file, fsync, then
 * move it into place with mode 0400 without ever replacing an existing object (a hard link
 * fails atomically when the target exists), and fsync the directory. Readers therefore see a
 * complete object or none.
 */
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fsyncDir } from '../../common/fs-atomic.js';
import { pageAlignedMemory, wasmMemory } from '../../common/wasm.js';
import { OBJECT_MODE } from '../names.js';

/** Raised when the final name is already taken. */
export class ObjectExistsError extends Error {
  override name = 'ObjectExistsError';
}

/** Raised when a stream delivers more than its limit. */
export class TooLargeError extends Error {
  override name = 'TooLargeError';
}

/** Received bytes are gathered into blocks of this size, each written with one system call. */
const BLOCK = 1024 * 1024;
/** Blocks per upload: one filling while the others are being written. */
const BLOCKS_PER_UPLOAD = 4;
/** Page-aligned blocks shared by all uploads of this process (see {@link AlignedBlocks}). */
const SHARED_BLOCKS = 16;
/** When writing through the page cache, a background `fdatasync` starts after this many bytes. */
const SYNC_EVERY = 64 * 1024 * 1024;

/**
 * A pool of page-aligned {@link BLOCK}s, carved out of one WebAssembly memory (whose pages
 * are page-aligned, where a Buffer's address is not), so full blocks can be written with
 * `O_DIRECT`: the bytes go from the block to the disk without a copy into the page cache,
 * which is most of a buffered write's cost (0.3-2 s of CPU per GiB on a VM, where each fresh
 * page-cache page may also cost the host a fault), and there is no dirty data left for the
 * final fsync to wait for.
 */
class AlignedBlocks {
  private free: Buffer[] | null = null;

  /** Up to `n` blocks (none when the pool is empty or no WebAssembly memory can be had). */
  take(n: number): Buffer[] {
    if (this.free === null) {
      try {
        const mem = wasmMemory((SHARED_BLOCKS * BLOCK) / 65536);
        this.free = Array.from({ length: SHARED_BLOCKS }, (_, i) =>
          Buffer.from(mem.buffer, i * BLOCK, BLOCK),
        );
      } catch {
        this.free = [];
      }
    }
    return this.free.splice(0, n);
  }

  give(blocks: Buffer[]): void {
    this.free?.push(...blocks);
  }
}

const alignedBlocks = new AlignedBlocks();

/**
 * Full blocks written with `O_DIRECT` by this process so far, and of those given to
 * {@link streamToFile}, the ones written from the body's own memory (tests check these paths
 * are taken where they can be, rather than silently falling back).
 */
export const directStats = { blocks: 0, inPlace: 0 };

/** How {@link streamToFile} writes. */
export interface StreamToFileOptions {
  /** Bytes accepted at most ({@link TooLargeError} beyond). */
  limit?: number;
  /** Write full blocks with `O_DIRECT` when the file system allows it (default true). */
  direct?: boolean;
}

/**
 * The writing side of {@link streamToFile}: full blocks at their offsets, with `O_DIRECT`
 * while that works (a second descriptor of the same file), else through the page cache with
 * a background data sync every {@link SYNC_EVERY} bytes, so the disk writes overlap the
 * transfer; the last, partial block always through the page cache.
 */
class BlockFile {
  private bufferedSince = 0;
  private syncing: Promise<void> | null = null;
  private useDirect: boolean;

  /** `direct`: a second, `O_DIRECT` descriptor of the same file, if one could be opened. */
  constructor(
    private readonly fh: fs.FileHandle,
    private readonly direct: fs.FileHandle | null,
  ) {
    this.useDirect = direct !== null;
  }

  /**
   * Open `file`'s `O_DIRECT` descriptor right after the file was created (`fh`): opened by
   * name later, it could be another file of the same name (temporary names are reused once
   * a failed upload's file is removed).
   */
  static async open(fh: fs.FileHandle, file: string, direct: boolean): Promise<BlockFile> {
    const d = direct ? await fs.open(file, constants.O_WRONLY | constants.O_DIRECT).catch(() => null) : null;
    return new BlockFile(fh, d);
  }

  /** Write `b` at `pos` (a multiple of {@link BLOCK} when `b` is a full block). */
  async write(b: Buffer, pos: number): Promise<void> {
    const d = this.direct;
    if (this.useDirect && d && b.length === BLOCK) {
      try {
        const { bytesWritten } = await d.write(b, 0, b.length, pos);
        directStats.blocks++;
        if (bytesWritten === b.length) return;
        // A short direct write (disk nearly full): the rest through the page cache.
        return await this.buffered(b.subarray(bytesWritten), pos + bytesWritten);
      } catch (e) {
        // EINVAL: this file system wants other alignments after all.
        if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
        this.useDirect = false;
      }
    }
    await this.buffered(b, pos);
  }

  /** Everything on the disk (call once all writes have finished). */
  async sync(): Promise<void> {
    await this.syncing;
    // Also flushes the disk's write cache, which direct writes may still sit in.
    await this.fh.sync();
  }

  async close(): Promise<void> {
    await this.direct?.close().catch(() => undefined);
    await this.fh.close().catch(() => undefined);
  }

  private async buffered(b: Buffer, pos: number): Promise<void> {
    for (let o = 0; o < b.length; ) o += (await this.fh.write(b, o, b.length - o, pos + o)).bytesWritten;
    this.bufferedSince += b.length;
    if (!this.syncing && this.bufferedSince >= SYNC_EVERY) {
      this.bufferedSince = 0;
      const done = () => {
        this.syncing = null;
      };
      this.syncing = this.fh.datasync().then(done, done);
    }
  }
}

/**
 * Stream `body` into `file` (created exclusively), counting bytes; fsync before returning.
 * Removes the file on any failure. The bytes are copied into {@link BLOCKS_PER_UPLOAD} reused
 * blocks of {@link BLOCK} (no allocation per piece received; the copy costs far less than the
 * page-cache copy it saves) and each full block is written while the next fills; the body is
 * paused while no block is free, so memory stays bounded. Full blocks go to the disk with
 * `O_DIRECT` where possible (see {@link AlignedBlocks}), else through the page cache.
 *
 * Pieces that are views of a WebAssembly memory at their own file offset (a chunk built in
 * its arena from offset 0, stored by a client on its node's machine: client/local-node.ts)
 * are written from where they are, without that copy: each full block of them is page-aligned
 * already. They must not change until this resolves. The first piece that is not goes back to
 * copying, for the rest of the body.
 *
 * @example
 * const size = await streamToFile(req, '/data/vol0/blob/ab/!partial-x', { limit: 1024 ** 4 });
 */
export async function streamToFile(
  body: Readable,
  file: string,
  opts: StreamToFileOptions = {},
): Promise<number> {
  const limit = opts.limit ?? Number.POSITIVE_INFINITY;
  await fs.mkdir(path.dirname(file), { recursive: true });
  const fh = await fs.open(file, 'wx', 0o600);
  let aligned = opts.direct === false ? [] : alignedBlocks.take(BLOCKS_PER_UPLOAD);
  if (aligned.length < 2) {
    // Too few left (many uploads at once): ordinary blocks, written through the page cache.
    alignedBlocks.give(aligned);
    aligned = [];
  }
  const out = await BlockFile.open(fh, file, aligned.length > 0);
  let size = 0;
  // Every write until it has settled: no block goes back to the pool while being written.
  const writes = new Set<Promise<void>>();
  try {
    await new Promise<void>((resolve, reject) => {
      const free = [...aligned];
      // Ordinary blocks are made as needed: a small object needs one.
      let unmade = aligned.length > 0 ? 0 : BLOCKS_PER_UPLOAD;
      const nextBlock = (): Buffer | null => {
        const b = free.pop();
        if (b || unmade === 0) return b ?? null;
        unmade--;
        return Buffer.allocUnsafeSlow(BLOCK);
      };
      let cur: Buffer | null = nextBlock();
      let fill = 0;
      /** File offset of `cur`'s first byte. */
      let pos = 0;
      /** Pieces that arrived while no block was free (the body is paused meanwhile). */
      const held: Buffer[] = [];
      let ended = false;
      let failed = false;
      const fail = (e: Error) => {
        if (failed) return;
        failed = true;
        body.off('data', onData);
        body.resume();
        reject(e);
      };
      const write = (b: Buffer, at: number, then: () => void) => {
        const p = out.write(b, at).then(() => {
          writes.delete(p);
          if (!failed) then();
        }, fail);
        writes.add(p);
      };
      /** Resolve once everything is written; the partial last block after the full ones. */
      const finishIfDone = () => {
        if (failed || !ended || held.length > 0 || writes.size > 0) return;
        if (inPlace && inPlace.end > inPlace.start) {
          if (inPlace.end - inPlace.start >= BLOCK) return issueInPlace();
          const { memory, start, end } = inPlace;
          inPlace.start = end;
          return write(Buffer.from(memory, start, end - start), start, finishIfDone);
        }
        if (fill === 0) return resolve();
        const last = (cur as Buffer).subarray(0, fill);
        fill = 0;
        write(last, pos, finishIfDone);
      };
      const take = (piece: Buffer) => {
        for (let o = 0; o < piece.length; ) {
          if (cur === null) {
            held.unshift(piece.subarray(o));
            body.pause();
            return;
          }
          const n = piece.copy(cur, fill, o);
          fill += n;
          o += n;
          if (fill === BLOCK) {
            const full = cur;
            write(full, pos, () => {
              free.push(full);
              if (cur === null) {
                cur = nextBlock();
                while (cur !== null && held.length > 0) take(held.shift() as Buffer);
                if (held.length === 0) body.resume();
              }
              finishIfDone();
            });
            pos += BLOCK;
            fill = 0;
            cur = nextBlock();
          }
        }
      };
      /** Bytes received in place and not yet written: `[start, end)` of `memory`, at those file offsets. */
      let inPlace: { memory: ArrayBufferLike; start: number; end: number } | null = null;
      let placeable = aligned.length > 0;
      /** Take `b` (file offset `at`) in place if it can be; false once pieces are copied. */
      const takeInPlace = (b: Buffer, at: number): boolean => {
        if (!placeable) return false;
        const fits = inPlace
          ? b.buffer === inPlace.memory && at === inPlace.end
          : at === 0 && pageAlignedMemory(b);
        if (fits && b.byteOffset === at) {
          inPlace ??= { memory: b.buffer, start: 0, end: 0 };
          inPlace.end += b.length;
          issueInPlace();
          // Full blocks waiting for a write to finish: so does the body.
          if (inPlace.end - inPlace.start >= BLOCK) body.pause();
          return true;
        }
        placeable = false;
        // The bytes not yet written are copied from here on, from a block boundary.
        const rest = inPlace && Buffer.from(inPlace.memory, inPlace.start, inPlace.end - inPlace.start);
        pos = inPlace?.start ?? 0;
        inPlace = null;
        if (rest && rest.length > 0) take(rest);
        return false;
      };
      /** Write the full blocks received in place, {@link BLOCKS_PER_UPLOAD} at a time at most. */
      const issueInPlace = () => {
        const p = inPlace;
        for (; p && writes.size < BLOCKS_PER_UPLOAD && p.end - p.start >= BLOCK; p.start += BLOCK) {
          write(Buffer.from(p.memory, p.start, BLOCK), p.start, onPlaced);
          directStats.inPlace++;
        }
      };
      const onPlaced = () => {
        if (placeable) {
          issueInPlace();
          if (inPlace && inPlace.end - inPlace.start < BLOCK) body.resume();
        }
        finishIfDone();
      };
      const onData = (b: Buffer) => {
        size += b.length;
        if (size > limit) return fail(new TooLargeError(`body larger than ${limit} bytes`));
        if (takeInPlace(b, size - b.length)) return;
        if (held.length > 0) held.push(b);
        else take(b);
      };
      body.on('data', onData);
      body.once('end', () => {
        ended = true;
        finishIfDone();
      });
      body.on('error', fail);
      body.once('close', () => {
        if (!ended) fail(new Error('connection closed before the end of the body'));
      });
      // Gone while the file was being opened: its 'close' has passed, nothing more will come.
      if (body.destroyed && !body.readableEnded)
        fail(body.errored ?? new Error('connection closed before the end of the body'));
    });
    await out.sync();
    return size;
  } catch (e) {
    // Not while a write may still land in the file (or, by its name, in a newer one).
    await Promise.allSettled(writes);
    await fs.rm(file, { force: true });
    throw e;
  } finally {
    // No block goes back to the pool while a write may still be reading it.
    await Promise.allSettled(writes);
    await out.close();
    alignedBlocks.give(aligned);
  }
}

/**
 * Move a finished temporary file to its final name with mode 0400; throws
 * {@link ObjectExistsError} (and keeps the temporary file) if the name is taken.
 */
export async function commitFile(tmp: string, final: string): Promise<void> {
  await fs.chmod(tmp, OBJECT_MODE);
  try {
    await fs.link(tmp, final);
    await fs.unlink(tmp);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new ObjectExistsError(`${final} exists`);
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw e;
    // No hard links on this file system: check, then rename (a tiny race, as in the original).
    if (await exists(final)) throw new ObjectExistsError(`${final} exists`);
    await fs.rename(tmp, final);
  }
  await fsyncDir(path.dirname(final));
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.lstat(file);
    return true;
  } catch {
    return false;
  }
}
