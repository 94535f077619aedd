/**
 * A node's DDFS volumes (wire spec §5.2): the subdirectories `vol*` of `DDFS_DATA` (a `vol0`
 * is created when there is none), each holding `blob/` and `tag/`. New objects go to the
 * volume with the most free space; free space is polled with statfs every 10 s. Figures are
 * KiB, like the original's `df -k`.
 *
 * Concurrency: one {@link Volumes} per node process; the volume list is fixed at start
 * (mount new disks, then restart the node), only the space figures change.
 */
import { type Dirent, lstatSync, readdirSync, statfsSync, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { hashDir, isVolumeName, type ObjectType } from '../names.js';

/** One volume and its last measured space (KiB). */
export interface Volume {
  name: string;
  dir: string;
  free: number;
  used: number;
}

/** How often free space is measured. */
export const DISKSPACE_INTERVAL_MS = 10_000;

/** The names of the volume directories among `entries` (of DDFS_DATA), sorted. */
function volumeNames(entries: readonly Dirent[]): string[] {
  return entries
    .filter((e) => (e.isDirectory() || e.isSymbolicLink()) && isVolumeName(e.name))
    .map((e) => e.name)
    .sort();
}

/** `vol`'s free and used KiB from its file system's figures. */
function setSpace(vol: Volume, s: { bsize: number; bavail: number; blocks: number; bfree: number }): void {
  const kib = s.bsize / 1024;
  vol.free = Math.floor(s.bavail * kib);
  vol.used = Math.floor((s.blocks - s.bfree) * kib);
}

/** The volumes under one DDFS_DATA directory. */
export class Volumes {
  private timer: NodeJS.Timeout | null = null;

  private constructor(
    readonly root: string,
    private readonly vols: Volume[],
    private readonly log?: Logger,
  ) {}

  /** Find (or create `vol0`), make sure each has `blob/` and `tag/`, and measure them. */
  static async open(root: string, log?: Logger): Promise<Volumes> {
    const dir = path.resolve(root);
    await fs.mkdir(dir, { recursive: true });
    let names = volumeNames(await fs.readdir(dir, { withFileTypes: true }));
    if (names.length === 0) names = ['vol0'];
    const vols: Volume[] = [];
    for (const name of names) {
      const vdir = path.join(dir, name);
      try {
        await fs.mkdir(path.join(vdir, 'blob'), { recursive: true });
        await fs.mkdir(path.join(vdir, 'tag'), { recursive: true });
        vols.push({ name, dir: vdir, free: 0, used: 0 });
      } catch (e) {
        // As the original: a volume that cannot be initialised is ignored, not fatal.
        log?.warn({ err: e, volume: vdir }, 'cannot initialise DDFS volume; ignoring it');
      }
    }
    const v = new Volumes(dir, vols, log);
    await v.refresh();
    return v;
  }

  /**
   * The volumes a running node already set up under `root`, measured now, synchronously and
   * creating nothing: for a blocking process of the same machine storing into that node's
   * volumes (worker/local-save.ts), which must not lay out a node's directory itself. A
   * volume without its `blob/` directory is left out, and with `names` (the node's own list)
   * any other; none at all gives an empty list.
   *
   * @example
   * const vols = Volumes.scanSync('/srv/ddfs');
   * const dir = vols.objectDir(vols.choose().name, 'blob', obj);
   */
  static scanSync(root: string, names?: readonly string[]): Volumes {
    const dir = path.resolve(root);
    const vols: Volume[] = volumeNames(readdirSync(dir, { withFileTypes: true }))
      .filter((name) => names === undefined || names.includes(name))
      .filter((name) => {
        try {
          return statSync(path.join(dir, name, 'blob')).isDirectory();
        } catch {
          return false;
        }
      })
      .map((name) => ({ name, dir: path.join(dir, name), free: 0, used: 0 }));
    const v = new Volumes(dir, vols);
    for (const vol of vols) {
      try {
        setSpace(vol, statfsSync(vol.dir));
      } catch {
        // Unmeasured: chosen last, as a volume the node could not measure.
      }
    }
    return v;
  }

  /** Synchronous {@link find}. */
  findSync(type: ObjectType, obj: string): Volume | null {
    for (const v of this.vols) {
      try {
        lstatSync(this.objectPath(v.name, type, obj));
        return v;
      } catch {
        // not on this volume
      }
    }
    return null;
  }

  /** The volumes, sorted by name. */
  list(): readonly Volume[] {
    return this.vols;
  }

  has(name: string): boolean {
    return this.vols.some((v) => v.name === name);
  }

  /** The volume for a new object: most free space, then least used (`choose_vol/1`). */
  choose(): Volume {
    if (this.vols.length === 0) throw new Error('no DDFS volumes');
    return [...this.vols].sort((a, b) => b.free - a.free || b.used - a.used)[0];
  }

  /** Directory holding `obj` of `type` on volume `vol`. */
  objectDir(vol: string, type: ObjectType, obj: string): string {
    return path.join(this.root, vol, type, hashDir(obj));
  }

  /** Full path of `obj` of `type` on volume `vol`. */
  objectPath(vol: string, type: ObjectType, obj: string): string {
    return path.join(this.objectDir(vol, type, obj), obj);
  }

  /** The volume already holding `obj`, if any. */
  async find(type: ObjectType, obj: string): Promise<Volume | null> {
    for (const v of this.vols) {
      try {
        await fs.lstat(this.objectPath(v.name, type, obj));
        return v;
      } catch {
        // not on this volume
      }
    }
    return null;
  }

  /** Free and used KiB over all volumes (what the node reports to the master). */
  disk(): { free: number; used: number } {
    let free = 0;
    let used = 0;
    for (const v of this.vols) {
      free += v.free;
      used += v.used;
    }
    return { free, used };
  }

  /** Measure every volume now. */
  async refresh(): Promise<void> {
    await Promise.all(
      this.vols.map(async (v) => {
        try {
          setSpace(v, await fs.statfs(v.dir));
        } catch (e) {
          this.log?.warn({ err: e, volume: v.dir }, 'cannot measure DDFS volume');
        }
      }),
    );
  }

  /** Re-measure every {@link DISKSPACE_INTERVAL_MS} until {@link stop}. */
  startMonitoring(intervalMs = DISKSPACE_INTERVAL_MS): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.refresh(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
