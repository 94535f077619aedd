/** Durable file writes: temporary name, fsync, rename (then fsync the directory). */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeAllSync } from './fd-write.js';

let counter = 0;
function tempName(file: string): string {
  counter = (counter + 1) % 1e9;
  return path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${counter}`);
}

/** Write `data` to `file` atomically; readers see the old or the new content, never a mix. */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  opts: { fsync?: boolean } = {},
) {
  const tmp = tempName(file);
  await fs.mkdir(path.dirname(file), { recursive: true });
  const fh = await fs.open(tmp, 'w');
  try {
    await fh.writeFile(data);
    if (opts.fsync !== false) await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, file);
  if (opts.fsync !== false) await fsyncDir(path.dirname(file));
}

/** Synchronous twin of {@link writeFileAtomic} (for workers and shutdown paths). */
export function writeFileAtomicSync(file: string, data: string | Uint8Array, opts: { fsync?: boolean } = {}) {
  const tmp = tempName(file);
  mkdirSync(path.dirname(file), { recursive: true });
  const fd = openSync(tmp, 'w');
  try {
    writeAllSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    if (opts.fsync !== false) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

export async function fsyncDir(dir: string): Promise<void> {
  try {
    const fh = await fs.open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic.
  }
}

/** Synchronous twin of {@link fsyncDir}. */
export function fsyncDirSync(dir: string): void {
  let fd = -1;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic.
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/**
 * Resolve `rel` inside `root`, refusing anything that would escape it (`..`, absolute paths,
 * NUL bytes). Returns null when the path is unsafe.
 */
export function safeJoin(root: string, rel: string): string | null {
  if (rel.includes('\0')) return null;
  const normalized = path.posix.normalize(rel.replace(/\\/g, '/'));
  if (normalized.startsWith('/') || normalized === '..' || normalized.startsWith('../')) return null;
  const full = path.resolve(root, normalized);
  const base = path.resolve(root);
  if (full !== base && !full.startsWith(base + path.sep)) return null;
  return full;
}
