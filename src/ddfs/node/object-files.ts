/**
 * Durable object files on a node: stream into a temporary (`!partial...`) file, fsync, then
 * move it into place with mode 0400 without ever replacing an existing object (a hard link
 * fails atomically when the target exists), and fsync the directory. Readers therefore see a
 * complete object or none.
 */
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
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

/**
 * Stream `body` into `file` (created exclusively), counting bytes; fsync before returning.
 * Removes the file on any failure. Memory stays bounded by the stream's high-water mark.
 */
export async function streamToFile(
  body: Readable,
  file: string,
  limit = Number.POSITIVE_INFINITY,
): Promise<number> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const out = createWriteStream(file, { flags: 'wx', mode: 0o600 });
  let size = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > limit) done(new TooLargeError(`body larger than ${limit} bytes`));
      else done(null, chunk);
    },
  });
  try {
    await pipeline(body, count, out);
    const fh = await fs.open(file, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    return size;
  } catch (e) {
    await fs.rm(file, { force: true });
    throw e;
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
