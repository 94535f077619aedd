/**
 * Garbage collection and re-replication (wire spec §5.6): runs `DDFS_GC_INITIAL_WAIT` minutes
 * (default 5) after start, then every 24 h, or on `gc_start`; a run is stopped after 3 days.
 *
 * A run: (1) check the cluster is safe (unreachable nodes < `DDFS_TAG_MIN_REPLICAS`, so the
 * tag snapshot is complete) — otherwise it stops and says why; (2) remove `!partial` files
 * older than a day; (3) snapshot every live tag (any unreadable tag stops the run: its blobs
 * would look orphaned); (4) list every node's objects and plan (gc-plan.ts); (5) delete
 * garbage (`DDFS_PARANOID_DELETE`: rename to `!trash.`); (6) copy under-replicated blobs to
 * other nodes until `DDFS_BLOB_REPLICAS` usable copies exist or no node is left to take one
 * (fewer nodes than replicas is reported, not waited for); (7) rewrite tags: add found and new
 * replicas, drop replicas on GC-blacklisted nodes when enough remain; (8) re-write tags whose
 * version has too few replicas; (9) forget deleted tags whose files are gone for 30 days;
 * (10) report which GC-blacklisted nodes hold nothing still needed (`safe_gc_blacklist`).
 *
 * Every node call has a timeout, so a slow or dead node ends its part of the run with an
 * error instead of stalling it. Status: '' when idle (or `GC stopped: <reason>` after a run
 * that could not finish), otherwise the original's phase messages.
 */
import type { Logger } from 'pino';
import { errorMessage } from '../../common/errors.js';
import type { Settings } from '../../common/settings.js';
import { formatEventTime } from '../../common/time.js';
import { DELETED_TAG } from '../names.js';
import type { ClusterView } from './cluster-view.js';
import {
  type GcStats,
  type LiveTag,
  type Location,
  type NodeObjects,
  planGc,
  rewriteUrls,
} from './gc-plan.js';
import type { NodeClient } from './node-client.js';
import { chooseWriteNodes } from './placement.js';
import type { TagServer } from './tag-server.js';

const DAY_MS = 24 * 3600_000;
/** Remove `!partial` files after this long (`PARTIAL_EXPIRES`). */
export const PARTIAL_EXPIRES_MS = DAY_MS;
/** `ORPHANED_BLOB_EXPIRES` / `ORPHANED_TAG_EXPIRES`. */
export const ORPHAN_EXPIRES_MS = 5 * DAY_MS;
/** `DELETED_TAG_EXPIRES`. */
export const DELETED_TAG_EXPIRES_MS = 30 * DAY_MS;
/** `GC_MAX_DURATION`. */
export const GC_MAX_DURATION_MS = 3 * DAY_MS;
/** `GC_PUT_TIMEOUT`: one blob copy. */
export const GC_PUT_TIMEOUT_MS = 180 * 60_000;
/** Blob copies running at once. */
const RR_CONCURRENCY = 4;

/** The GC as the HTTP API sees it. */
export interface GcService {
  /** `gc_stats`: null before the first finished run. */
  stats(): unknown | null;
  /** `gc_status`: '' when idle, else a phase message (or why the last run stopped). */
  status(): string;
  /** `gc_start`: starts a run unless one is running; the reply string. */
  start(): string;
  /** `safe_gc_blacklist`: GC-blacklisted nodes that hold nothing DDFS still needs. */
  safeBlacklist(): string[];
  /** `hosted_tags`: live tags with a replica, or a blob, on `host`. */
  hostedTags(host: string): Promise<string[]>;
  /** Run GC now and wait for the result (tests, tools). */
  runNow(): Promise<GcResult>;
  close(): void;
}

/** How a run ended. */
export interface GcResult {
  ok: boolean;
  /** Why the run stopped early, when it did. */
  reason?: string;
  stats?: GcStats;
  deleted: number;
  replicated: number;
  /** Blobs that still lack replicas (e.g. fewer usable nodes than `DDFS_BLOB_REPLICAS`). */
  underReplicated: number;
  tagsUpdated: number;
  tagsRereplicated: number;
}

type Phase = 'start' | 'build_map' | 'map_wait' | 'gc' | 'rr_blobs' | 'rr_blobs_wait' | 'rr_tags';

const PHASE_MSG: Record<Phase, string> = {
  start: 'GC is initializing (phase start).',
  build_map: 'GC is scanning DDFS (phase build_map).',
  map_wait: 'GC is scanning DDFS (phase map_wait).',
  gc: 'GC is performing garbage collection (phase gc).',
  rr_blobs: 'GC is re-replicating blobs (phase rr_blobs).',
  rr_blobs_wait: 'GC is re-replicating blobs (phase rr_blobs_wait).',
  rr_tags: 'GC is re-replicating tags (phase rr_tags).',
};

/** Timing knobs (settings `DDFS_GC_*`; tests shorten them). */
export interface GcTimings {
  initialWaitMs: number;
  intervalMs: number;
  orphanExpiryMs: number;
  deletedExpiryMs: number;
  partialExpiryMs: number;
}

/** Read the timings from the settings (seconds; unset = the original's values). */
export function gcTimings(settings: Settings): GcTimings {
  const secs = (name: string, dflt: number) => {
    const v = settings.get(name);
    return v === '' ? dflt : Number(v) * 1000;
  };
  const wait = settings.get('DDFS_GC_INITIAL_WAIT');
  return {
    initialWaitMs: wait === '' ? 5 * 60_000 : Number(wait) * 60_000,
    intervalMs: secs('DDFS_GC_INTERVAL', DAY_MS),
    orphanExpiryMs: secs('DDFS_GC_ORPHAN_EXPIRES', ORPHAN_EXPIRES_MS),
    deletedExpiryMs: secs('DDFS_GC_DELETED_EXPIRES', DELETED_TAG_EXPIRES_MS),
    partialExpiryMs: secs('DDFS_GC_PARTIAL_EXPIRES', PARTIAL_EXPIRES_MS),
  };
}

export interface GcDeps {
  tags: TagServer;
  view: ClusterView;
  nodes: NodeClient;
  log: Logger;
  blobK: number;
  tagK: number;
  tagMinK: number;
  paranoid: boolean;
  timings: GcTimings;
}

/** Create the GC service and schedule its runs. */
export function createGc(deps: GcDeps): GcService {
  const { log } = deps;
  let phase: Phase | null = null;
  let waiting = true;
  let running: Promise<GcResult> | null = null;
  let lastStats: { stats: GcStats; at: Date } | null = null;
  let stopped: string | null = null;
  let safe: string[] = [];
  const emptySince = new Map<string, number>();
  let timer: NodeJS.Timeout | null = setTimeout(tick, deps.timings.initialWaitMs);
  timer.unref();

  function tick(): void {
    waiting = false;
    void launch();
    timer = setTimeout(tick, deps.timings.intervalMs);
    timer.unref();
  }

  function launch(): Promise<GcResult> {
    if (running) return running;
    const deadline = Date.now() + GC_MAX_DURATION_MS;
    running = run(deadline)
      .catch((e): GcResult => ({ ...empty(), ok: false, reason: errorMessage(e) }))
      .then((r) => {
        stopped = r.ok ? null : (r.reason ?? 'unknown reason');
        if (r.ok) log.info({ gc: r }, 'GC finished');
        else log.warn({ reason: r.reason }, 'GC stopped');
        return r;
      })
      .finally(() => {
        phase = null;
        running = null;
      });
    return running;
  }

  function empty(): GcResult {
    return { ok: true, deleted: 0, replicated: 0, underReplicated: 0, tagsUpdated: 0, tagsRereplicated: 0 };
  }

  /**
   * Run a long call to nodes (GC's scans and copies have timeouts of minutes to hours), aborted
   * the moment one of `hosts` is lost: a hung node is dropped by the master after a missed
   * heartbeat, and its open call must not hold the run until the timeout.
   */
  async function whileUp<T>(hosts: string[], call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const ac = new AbortController();
    // Not AbortSignal.any: the nodes' signals live as long as their connections, and each
    // call's listeners go when it ends.
    const unlisten = hosts.map((h) => {
      const lost = deps.view.lostSignal(h);
      if (lost.aborted) ac.abort(lost.reason);
      const onLost = () => ac.abort(lost.reason);
      lost.addEventListener('abort', onLost, { once: true });
      return () => lost.removeEventListener('abort', onLost);
    });
    try {
      return await call(ac.signal);
    } finally {
      for (const off of unlisten) off();
    }
  }

  function check(deadline: number): void {
    if (Date.now() > deadline) throw new Error('GC ran longer than 3 days');
  }

  async function run(deadline: number): Promise<GcResult> {
    const result = empty();
    phase = 'start';
    const { view, nodes } = deps;
    const unreachable = view.unreachable();
    if (view.all().length === 0) return { ...result, ok: false, reason: 'no DDFS nodes' };
    if (unreachable >= deps.tagMinK)
      return {
        ...result,
        ok: false,
        reason: `not safe: ${unreachable} of ${view.all().length} nodes unreachable (DDFS_TAG_MIN_REPLICAS is ${deps.tagMinK})`,
      };
    const readable = view.readable();
    await Promise.allSettled(
      readable.map((h) =>
        whileUp([h], (signal) => nodes.prunePartials(h, deps.timings.partialExpiryMs, signal)),
      ),
    );

    phase = 'build_map';
    const snapshotTime = Date.now() * 1000;
    const names = await deps.tags.list('');
    const live = new Map<string, LiveTag>();
    for (const name of [...names, DELETED_TAG]) {
      check(deadline);
      const info = await deps.tags.gcGet(name);
      if (info.data.kind === 'ok')
        live.set(name, { id: info.data.content.id, urls: info.data.content.urls, replicas: info.replicas });
      else if (info.data.kind === 'error')
        return { ...result, ok: false, reason: `tag ${name} could not be read: ${info.data.error}` };
    }
    const deleted = await deps.tags.deletedNames();

    phase = 'map_wait';
    const listed: NodeObjects[] = [];
    const failed: string[] = [];
    await Promise.all(
      readable.map(async (host) => {
        try {
          listed.push({ host, ...(await whileUp([host], (signal) => nodes.listObjects(host, signal))) });
        } catch (e) {
          failed.push(host);
          log.warn({ host, err: e }, 'GC: node did not list its objects');
        }
      }),
    );
    if (unreachable + failed.length >= deps.tagMinK)
      return { ...result, ok: false, reason: `not safe: nodes did not answer: ${failed.join(', ')}` };
    check(deadline);

    const gcBlacklist = new Set(view.gcBlacklist());
    const plan = planGc({
      now: Date.now(),
      snapshotTime,
      live,
      deleted,
      nodes: listed,
      blobK: deps.blobK,
      tagK: deps.tagK,
      writableNodes: view.all().length - view.writeExcluded().size,
      gcBlacklist,
      orphanExpiryMs: deps.timings.orphanExpiryMs,
    });
    result.stats = plan.stats;

    phase = 'gc';
    for (const [host, objs] of plan.deletes) {
      try {
        result.deleted += await whileUp([host], (signal) =>
          nodes.deleteObjects(host, objs, deps.paranoid, signal),
        );
      } catch (e) {
        log.warn({ host, err: e }, 'GC: deleting on a node failed');
      }
    }

    phase = 'rr_blobs';
    const locations = new Map<string, Location[]>(plan.locations);
    const queue = plan.underReplicated.slice();
    const worker = async () => {
      for (let job = queue.shift(); job; job = queue.shift()) {
        check(deadline);
        const locs = locations.get(job.obj) ?? [];
        for (let i = 0; i < job.missing; i++) {
          const holders = new Set(locs.map((l) => l.host));
          const [target] = chooseWriteNodes(view.space(), 1, new Set([...view.writeExcluded(), ...holders]));
          if (!target) {
            result.underReplicated++;
            break;
          }
          const src = locs.find((l) => !gcBlacklist.has(l.host)) ?? locs[0];
          try {
            const url = await whileUp([src.host, target], (signal) =>
              nodes.replicate(
                src.host,
                src.vol,
                job.obj,
                nodes.blobPutUrl(target, job.obj),
                GC_PUT_TIMEOUT_MS,
                signal,
              ),
            );
            const vol = /\/ddfs\/([^/]+)\/blob\//.exec(url)?.[1] ?? 'vol0';
            locs.push({ host: target, vol });
            result.replicated++;
          } catch (e) {
            log.warn({ obj: job.obj, from: src.host, to: target, err: e }, 'GC: copying a blob failed');
            result.underReplicated++;
            break;
          }
        }
        locations.set(job.obj, locs);
      }
    };
    phase = 'rr_blobs_wait';
    await Promise.all(Array.from({ length: RR_CONCURRENCY }, worker));
    if (result.underReplicated > 0) {
      const usable = view.all().length - view.writeExcluded().size;
      log.warn(
        { underReplicated: result.underReplicated, usableNodes: usable, blobK: deps.blobK },
        `GC: ${result.underReplicated} blobs keep fewer than ${deps.blobK} usable replicas (${usable} nodes can take data; a failed copy is retried next run)`,
      );
    }

    phase = 'rr_tags';
    const rewritten = new Set<string>();
    for (const [name, t] of live) {
      if (name === DELETED_TAG) continue;
      check(deadline);
      try {
        // Replicas on blacklisted nodes are dropped only if the tag is as GC saw it.
        const r = await deps.tags.gcRewrite(name, (urls, id) =>
          rewriteUrls(urls, locations, gcBlacklist, deps.blobK, id === t.id),
        );
        if (r === 'updated') {
          result.tagsUpdated++;
          rewritten.add(name);
        }
      } catch (e) {
        log.warn({ tag: name, err: e }, 'GC: updating a tag failed');
      }
    }
    for (const name of plan.tagsToRereplicate) {
      if (rewritten.has(name)) continue; // the rewrite already wrote a new version to K nodes
      try {
        if (await deps.tags.gcRereplicate(name)) result.tagsRereplicated++;
      } catch (e) {
        log.warn({ tag: name, err: e }, 'GC: re-replicating a tag failed');
      }
    }

    // Forget deleted tags once no node has held a version of them for DELETED_TAG_EXPIRES.
    const now = Date.now();
    const gone = new Set(failed.length === 0 ? plan.deletedWithoutFiles : []);
    for (const n of [...emptySince.keys()]) if (!gone.has(n)) emptySince.delete(n);
    const prune: string[] = [];
    for (const n of gone) {
      const since = emptySince.get(n) ?? now;
      emptySince.set(n, since);
      if (now - since >= deps.timings.deletedExpiryMs) prune.push(n);
    }
    if (prune.length > 0) {
      await deps.tags.pruneDeleted(prune);
      for (const n of prune) emptySince.delete(n);
    }

    safe = await safeNodes(gcBlacklist, listed, [...live.keys()], locations);
    lastStats = { stats: plan.stats, at: new Date() };
    return result;
  }

  /**
   * GC-blacklisted nodes that can go: every referenced blob they hold has `blobK` usable
   * copies elsewhere, no live tag points at them any more, and no live tag depends on them
   * for its replicas.
   */
  async function safeNodes(
    blacklist: Set<string>,
    listed: NodeObjects[],
    names: string[],
    locations: Map<string, Location[]>,
  ): Promise<string[]> {
    const answered = new Set(listed.map((n) => n.host));
    const candidates = new Set([...blacklist].filter((h) => answered.has(h)));
    for (const locs of locations.values()) {
      const usable = new Set(locs.filter((l) => !blacklist.has(l.host)).map((l) => l.host)).size;
      if (usable < deps.blobK) for (const l of locs) candidates.delete(l.host);
    }
    // A tag needs as many replicas off the blacklist as the other nodes can hold.
    const tagTarget = Math.min(deps.tagK, deps.view.all().filter((h) => !blacklist.has(h)).length);
    for (const name of names) {
      if (candidates.size === 0) break;
      const info = await deps.tags.gcGet(name);
      if (info.data.kind !== 'ok') continue;
      const elsewhere = info.replicas.filter((h) => !blacklist.has(h)).length;
      for (const host of [...candidates]) {
        const pointsAt = info.data.content.urls.some((set) =>
          set.some((u) => u.startsWith(`disco://${host}/`)),
        );
        if (pointsAt || (info.replicas.includes(host) && elsewhere < tagTarget)) candidates.delete(host);
      }
    }
    return [...candidates].sort();
  }

  return {
    stats() {
      if (!lastStats) return null;
      const s = lastStats.stats;
      return {
        timestamp: formatEventTime(lastStats.at),
        stats: {
          'Tags kept': s.tagsKept,
          'Tags deleted': s.tagsDeleted,
          'Blobs kept': s.blobsKept,
          'Blobs deleted': s.blobsDeleted,
        },
      };
    },
    status() {
      if (phase) return PHASE_MSG[phase];
      if (waiting) return 'GC is waiting for the cluster to stabilize after startup.';
      return stopped ? `GC stopped: ${stopped}` : '';
    },
    start() {
      if (waiting) return 'GC is waiting';
      void launch();
      return 'GC has started';
    },
    safeBlacklist() {
      const bl = new Set(deps.view.gcBlacklist());
      return safe.filter((h) => bl.has(h));
    },
    async hostedTags(host) {
      const out: string[] = [];
      for (const name of await deps.tags.list('')) {
        const info = await deps.tags.gcGet(name);
        if (info.data.kind !== 'ok') continue;
        const hosted =
          info.replicas.includes(host) ||
          info.data.content.urls.some((set) => set.some((u) => u.startsWith(`disco://${host}/`)));
        if (hosted) out.push(name);
      }
      return out;
    },
    runNow() {
      waiting = false;
      return launch();
    },
    close() {
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}
