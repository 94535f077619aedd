/** Disk space of a node's data volume, in KiB as the original's `df -k` (wire spec §1.2.1, §5.2). */
import fs from 'node:fs/promises';

export interface DiskUsage {
  /** KiB available to unprivileged users. */
  free: number;
  /** KiB in use. */
  used: number;
}

/** Free and used KiB of the file system holding `dir` (zeros if it cannot be read). */
export async function diskUsage(dir: string): Promise<DiskUsage> {
  try {
    const s = await fs.statfs(dir);
    const kib = s.bsize / 1024;
    return { free: Math.floor(s.bavail * kib), used: Math.floor((s.blocks - s.bfree) * kib) };
  } catch {
    return { free: 0, used: 0 };
  }
}
