/**
 * A node's cache of the tags it stores (`ddfs_node.erl` `find_tags`): for each tag name, the
 * newest local version and its volume. Built by scanning `<vol>/tag/<HH>/` at start (files
 * beginning with `!` — partial and trash files — are skipped) and updated on every commit, so
 * the master can find a tag's versions without touching the disk.
 *
 * Concurrency: owned by one node process; callers update it only after the file is in place.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { unpackObjName } from '../names.js';
import type { Volumes } from './volumes.js';

/** The newest local version of one tag. */
export interface LocalTag {
  ts: string;
  time: number;
  vol: string;
}

/** Tag name → newest local version. */
export class TagIndex {
  private readonly tags = new Map<string, LocalTag>();

  /** Scan every volume's `tag/` tree. */
  static async scan(volumes: Volumes): Promise<TagIndex> {
    const index = new TagIndex();
    for (const v of volumes.list()) {
      const tagRoot = path.join(v.dir, 'tag');
      let hashDirs: string[];
      try {
        hashDirs = await fs.readdir(tagRoot);
      } catch {
        continue;
      }
      for (const hh of hashDirs) {
        let files: string[];
        try {
          files = await fs.readdir(path.join(tagRoot, hh));
        } catch {
          continue;
        }
        for (const f of files) {
          if (f.startsWith('!')) continue;
          index.noteObject(f, v.name);
        }
      }
    }
    return index;
  }

  /** Record a committed tag object `name$ts` on `vol` (kept only if newer). */
  noteObject(obj: string, vol: string): void {
    const o = unpackObjName(obj, true);
    if (!o) return;
    const old = this.tags.get(o.name);
    if (!old || old.time < o.time) this.tags.set(o.name, { ts: o.ts, time: o.time, vol });
  }

  /** Forget `name$ts` (after GC deleted it); the tag then has no local version here. */
  forgetObject(obj: string): void {
    const o = unpackObjName(obj, true);
    if (!o) return;
    const cur = this.tags.get(o.name);
    if (cur && cur.time === o.time) this.tags.delete(o.name);
  }

  get(name: string): LocalTag | undefined {
    return this.tags.get(name);
  }

  /** `[name, ts, vol]` for every tag. */
  entries(): [string, string, string][] {
    return [...this.tags.entries()].map(([n, t]) => [n, t.ts, t.vol]);
  }

  get size(): number {
    return this.tags.size;
  }
}
