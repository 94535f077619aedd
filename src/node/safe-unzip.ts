/**
 * Extracting a job home ZIP (wire spec §2.4) without letting it write outside its directory.
 *
 * The archive is read in place from a byte range of the job file (the jobhome section sits
 * between jobenvs and jobdata), streaming every entry to disk. Refused: names with `..`,
 * absolute names, names that resolve outside the destination, symbolic links (a link could
 * make a later entry write elsewhere), and archives whose declared size exceeds a limit
 * (zip bombs). Any refusal aborts the whole extraction with an {@link UnsafeZipError}.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import { safeJoin } from '../common/fs-atomic.js';

/** The archive tried to do something a job home may not. */
export class UnsafeZipError extends Error {
  override name = 'UnsafeZipError';
}

/** Default bound on the total uncompressed size of a job home. */
export const MAX_JOBHOME_BYTES = 8 * 1024 ** 3;

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFDIR = 0o040000;

/** A yauzl reader over `[start, end)` of a file, so the ZIP is read where it lies. */
class FileRangeReader extends yauzl.RandomAccessReader {
  constructor(
    private readonly file: string,
    private readonly base: number,
  ) {
    super();
  }

  override _readStreamForRange(start: number, end: number): Readable {
    return createReadStream(this.file, { start: this.base + start, end: this.base + end - 1 });
  }
}

/**
 * Extract the ZIP stored at bytes `[start, end)` of `file` into `dest` (created if needed).
 * Returns the number of entries written.
 */
export async function extractZipRange(
  file: string,
  start: number,
  end: number,
  dest: string,
  opts: { maxBytes?: number } = {},
): Promise<number> {
  const maxBytes = opts.maxBytes ?? MAX_JOBHOME_BYTES;
  await fs.mkdir(dest, { recursive: true });
  if (end <= start) return 0; // an empty jobhome section: nothing to extract
  const reader = new FileRangeReader(file, start);
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.fromRandomAccessReaderPromise(reader, end - start, {
      lazyEntries: true,
      autoClose: true,
      validateEntrySizes: true,
    });
  } catch (e) {
    throw explain(e);
  }
  let total = 0;
  let count = 0;
  try {
    for await (const entry of zip.eachEntry()) {
      const name = entry.fileName;
      const target = safeJoin(dest, name);
      if (!target || path.isAbsolute(name) || name.split('/').includes('..'))
        throw new UnsafeZipError(`refusing job home entry ${JSON.stringify(name)}: outside the job home`);
      const mode = (entry.externalFileAttributes >>> 16) & 0xffff;
      if ((mode & S_IFMT) === S_IFLNK)
        throw new UnsafeZipError(`refusing job home entry ${JSON.stringify(name)}: symbolic link`);
      if (name.endsWith('/') || (mode & S_IFMT) === S_IFDIR) {
        await fs.mkdir(target, { recursive: true });
        continue;
      }
      total += entry.uncompressedSize;
      if (total > maxBytes)
        throw new UnsafeZipError(`job home is larger than ${maxBytes} bytes uncompressed`);
      await fs.mkdir(path.dirname(target), { recursive: true });
      // Keep the archive's permission bits (executables), but always owner-readable/writable.
      const perm = (mode & 0o777) | 0o600;
      const input = await zip.openReadStreamPromise(entry);
      // Replace rather than write through: an earlier entry must not become a hard link target.
      await fs.rm(target, { force: true });
      await pipeline(input, createWriteStream(target, { mode: mode & 0o777 ? perm : 0o644 }));
      count += 1;
    }
  } catch (e) {
    zip.close();
    throw explain(e);
  }
  return count;
}

/** yauzl reports unsafe names as plain errors; give them our type and a clear text. */
function explain(e: unknown): Error {
  if (e instanceof UnsafeZipError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  if (/^(absolute path|invalid relative path|invalid characters in fileName)/.test(msg))
    return new UnsafeZipError(`refusing job home entry: ${msg}`);
  return new Error(`invalid job home archive: ${msg}`);
}
