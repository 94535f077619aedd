/**
 * What one garbage-collection run decides (wire spec §5.6, `ddfs_gc_main.erl`), free of I/O:
 * given a snapshot of the live tags and of every object on the nodes that answered, which
 * files to delete, which blobs need more replicas, which tags to rewrite or re-replicate.
 *
 * Safety rules (never delete referenced data):
 * - A blob is kept while any live tag references its object name. An unreferenced blob is
 *   deleted only when older than the orphan expiry (a freshly pushed blob is not tagged yet).
 * - A tag version is deleted at once when it is known garbage: older than the tag's live
 *   version, or a version of a deleted tag written before the snapshot (so a tag recreated
 *   during the run keeps its new version). Versions of unknown tags wait for the orphan
 *   expiry. The live version and anything newer than the snapshot are always kept.
 * - Replicas on GC-blacklisted nodes are never deleted, and do not count as usable.
 */
import { type ObjectType, objectUrl, parseDdfsUrl, unpackObjName } from '../names.js';
import type { ObjectEntry } from '../node-api.js';

/** A live tag as GC saw it. */
export interface LiveTag {
  id: string;
  urls: string[][];
  /** Nodes holding the live version. */
  replicas: string[];
}

/** Everything one node holds. */
export interface NodeObjects {
  host: string;
  blobs: ObjectEntry[];
  tags: ObjectEntry[];
}

export interface GcInput {
  /** Wall clock (ms) when the objects were listed. */
  now: number;
  /** Master time (µs, DDFS timestamp scale) when the tag snapshot was taken. */
  snapshotTime: number;
  /** Live tags by name (including `+deleted`). */
  live: Map<string, LiveTag>;
  deleted: Set<string>;
  /** Nodes that listed their objects. */
  nodes: NodeObjects[];
  blobK: number;
  tagK: number;
  /** How many nodes could take a new tag replica (a tag is not re-written for nothing). */
  writableNodes: number;
  gcBlacklist: Set<string>;
  /** Orphaned blobs and unknown tag versions are deleted after this long (ms). */
  orphanExpiryMs: number;
}

/** A stored copy of a blob. */
export interface Location {
  host: string;
  vol: string;
}

/** A blob that has fewer usable replicas than `blobK`. */
export interface UnderReplicated {
  obj: string;
  locations: Location[];
  /** How many more copies are wanted. */
  missing: number;
}

export interface GcStats {
  tagsKept: [number, number];
  tagsDeleted: [number, number];
  blobsKept: [number, number];
  blobsDeleted: [number, number];
}

export interface GcPlan {
  deletes: Map<string, [string, ObjectType, string][]>;
  stats: GcStats;
  /** Where every referenced blob was found. */
  locations: Map<string, Location[]>;
  underReplicated: UnderReplicated[];
  /** Live tags whose live version has too few usable replicas. */
  tagsToRereplicate: string[];
  /** Deleted tags with no version left on any answering node. */
  deletedWithoutFiles: string[];
}

/** Object name of a DDFS blob URL (null for other URLs). */
export function blobObj(url: string): string | null {
  const u = parseDdfsUrl(url);
  return u && u.type === 'blob' ? u.obj : null;
}

/** Plan a run. */
export function planGc(input: GcInput): GcPlan {
  const deletes = new Map<string, [string, ObjectType, string][]>();
  const stats: GcStats = { tagsKept: [0, 0], tagsDeleted: [0, 0], blobsKept: [0, 0], blobsDeleted: [0, 0] };
  const add = (s: [number, number], size: number) => {
    s[0]++;
    s[1] += size;
  };
  const del = (host: string, vol: string, type: ObjectType, obj: string) => {
    let l = deletes.get(host);
    if (!l) deletes.set(host, (l = []));
    l.push([vol, type, obj]);
  };

  const referenced = new Set<string>();
  for (const t of input.live.values())
    for (const set of t.urls)
      for (const u of set) {
        const o = blobObj(u);
        if (o) referenced.add(o);
      }

  const locations = new Map<string, Location[]>();
  const tagFilesLeft = new Set<string>();
  for (const node of input.nodes) {
    const protectedNode = input.gcBlacklist.has(node.host);
    for (const [vol, obj, size, mtime] of node.blobs) {
      if (referenced.has(obj)) {
        let l = locations.get(obj);
        if (!l) locations.set(obj, (l = []));
        l.push({ host: node.host, vol });
        add(stats.blobsKept, size);
      } else if (!protectedNode && input.now - mtime > input.orphanExpiryMs) {
        del(node.host, vol, 'blob', obj);
        add(stats.blobsDeleted, size);
      } else {
        add(stats.blobsKept, size);
      }
    }
    for (const [vol, obj, size, mtime] of node.tags) {
      const o = unpackObjName(obj, true);
      if (!o) {
        add(stats.tagsKept, size);
        continue;
      }
      const live = input.live.get(o.name);
      const liveTime = live ? unpackObjName(live.id, true)?.time : undefined;
      let garbage = false;
      if (liveTime !== undefined) garbage = o.time < liveTime;
      else if (input.deleted.has(o.name)) garbage = o.time < input.snapshotTime;
      else garbage = o.time < input.snapshotTime && input.now - mtime > input.orphanExpiryMs;
      if (garbage && !protectedNode) {
        del(node.host, vol, 'tag', obj);
        add(stats.tagsDeleted, size);
      } else {
        add(stats.tagsKept, size);
        if (input.deleted.has(o.name)) tagFilesLeft.add(o.name);
      }
    }
  }

  const underReplicated: UnderReplicated[] = [];
  for (const obj of referenced) {
    const locs = locations.get(obj) ?? [];
    const usable = new Set(locs.filter((l) => !input.gcBlacklist.has(l.host)).map((l) => l.host)).size;
    // A blob with no copy at all cannot be helped here: there is nothing to copy from.
    if (usable < input.blobK && locs.length > 0)
      underReplicated.push({ obj, locations: locs, missing: input.blobK - usable });
  }

  const tagsToRereplicate: string[] = [];
  for (const [name, t] of input.live) {
    const usable = new Set(t.replicas.filter((h) => !input.gcBlacklist.has(h))).size;
    if (usable < Math.min(input.tagK, input.writableNodes)) tagsToRereplicate.push(name);
  }

  const deletedWithoutFiles = [...input.deleted].filter((n) => !tagFilesLeft.has(n) && !input.live.has(n));
  return { deletes, stats, locations, underReplicated, tagsToRereplicate, deletedWithoutFiles };
}

/**
 * A tag's urls after re-replication (`gc_update_urls`): every known location of a blob is
 * added to its replica set (lost-but-found and new replicas), and replicas on GC-blacklisted
 * nodes are dropped when at least `blobK` others remain (`filter` = the tag is unchanged since
 * the snapshot). Returns null when nothing changes. Sets that are not DDFS blobs, or whose
 * URLs are not `disco://`, are left alone.
 */
export function rewriteUrls(
  urls: string[][],
  locations: ReadonlyMap<string, Location[]>,
  blacklist: ReadonlySet<string>,
  blobK: number,
  filter: boolean,
): string[][] | null {
  let changed = false;
  const out = urls.map((set) => {
    if (set.length === 0) return set;
    const first = parseDdfsUrl(set[0]);
    if (first?.type !== 'blob' || first.scheme !== 'disco') return set;
    const found = (locations.get(first.obj) ?? []).map((l) => objectUrl(l.host, l.vol, 'blob', first.obj));
    let next = [...new Set([...set, ...found])];
    if (filter) {
      const kept = next.filter((u) => !blacklist.has(parseDdfsUrl(u)?.host ?? ''));
      if (kept.length >= blobK && kept.length < next.length) next = kept;
    }
    next.sort();
    const same = next.length === set.length && [...set].sort().every((u, i) => u === next[i]);
    if (same) return set;
    changed = true;
    return next;
  });
  return changed ? out : null;
}
