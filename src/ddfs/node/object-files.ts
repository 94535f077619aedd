/**
 * Durable object files on a node: stream into a temporary (`!partial...`) file, fsync, then
 * move it into place with mode 0400 without ever replacing an existing object (a hard link
 * fails atomically when the target exists), and fsync the directory. Readers therefore see a
 * complete object or none.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fsyncDir } from '../../common/fs-atomic.js';

/** Objects are read-only once in place (`FILE_MODE`). */
export const OBJECT_MODE = 0o400;

/** Raised when the final name is already taken. */
export class ObjectExistsError extends Error {
  override name = 'ObjectExistsError';
}

/** Raised when a stream delivers more than its limit. */
export class TooLargeError extends Error {
  override name = 'TooLargeError';
}

/** Received bytes are written in batches of about this much (one `writev` each). */
const WRITE_BATCH = 1024 * 1024;
/** A background `fdatasync` is started after each this many bytes written. */
const SYNC_EVERY = 64 * 1024 * 1024;

/**
 * Stream `body` into `file` (created exclusively), counting bytes; fsync before returning.
 * Removes the file on any failure. Chunks are gathered while the previous batch is being
 * written and written together with one `writev`; the body is paused while a full batch
 * waits, so memory stays bounded by two batches. Every {@link SYNC_EVERY} bytes a data sync
 * starts in the background, so the disk writes overlap the transfer and the final fsync
 * has little left to do.
 */
export async function streamToFile(
  body: Readable,
  file: string,
  limit = Number.POSITIVE_INFINITY,
): Promise<number> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const fh = await fs.open(file, 'wx', 0o600);
  let size = 0;
  let synced = 0;
  let syncing: Promise<void> | null = null;
  try {
    await new Promise<void>((resolve, reject) => {
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      let writing = false;
      let ended = false;
      let failed = false;
      const fail = (e: Error) => {
        if (failed) return;
        failed = true;
        body.off('data', onData);
        body.resume();
        reject(e);
      };
      const write = () => {
        const batch = pending;
        const bytes = pendingBytes;
        pending = [];
        pendingBytes = 0;
        writing = true;
        body.resume();
        writeAll(fh, batch, bytes).then(() => {
          writing = false;
          if (failed) return;
          if (!syncing && size - synced >= SYNC_EVERY) {
            synced = size;
            syncing = fh.datasync().then(
              () => {
                syncing = null;
              },
              () => {
                syncing = null;
              },
            );
          }
          if (pending.length > 0) write();
          else if (ended) resolve();
        }, fail);
      };
      const onData = (b: Buffer) => {
        size += b.length;
        if (size > limit) return fail(new TooLargeError(`body larger than ${limit} bytes`));
        pending.push(b);
        pendingBytes += b.length;
        if (!writing) write();
        else if (pendingBytes >= WRITE_BATCH) body.pause();
      };
      body.on('data', onData);
      body.once('end', () => {
        ended = true;
        if (!writing && !failed) {
          if (pending.length > 0) write();
          else resolve();
        }
      });
      body.once('error', fail);
      body.once('close', () => {
        if (!ended) fail(new Error('connection closed before the end of the body'));
      });
    });
    await syncing;
    await fh.sync();
    return size;
  } catch (e) {
    await fs.rm(file, { force: true });
    throw e;
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** Write every byte of `bufs` (`writev`, continued after a short write). */
async function writeAll(fh: fs.FileHandle, bufs: Buffer[], total: number): Promise<void> {
  const { bytesWritten } = await fh.writev(bufs);
  if (bytesWritten >= total) return;
  const rest = Buffer.concat(bufs).subarray(bytesWritten);
  let o = 0;
  while (o < rest.length) o += (await fh.write(rest, o, rest.length - o)).bytesWritten;
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
