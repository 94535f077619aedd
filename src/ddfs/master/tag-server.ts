/**
 * The tag server: runs tag operations (tag-logic.ts decides, tag-store.ts reads and writes
 * versions on the nodes) and keeps the master's cache of loaded tags (`ddfs_tag.erl`).
 *
 * Concurrency invariants:
 * - Operations on one tag run one at a time, in arrival order (a promise chain per tag);
 *   different tags run concurrently.
 * - Lock order: a user tag's operation may take the `+deleted` metatag's turn (to check,
 *   add or remove a name) while holding its own; `+deleted` never waits for a user tag. No
 *   cycle, so no deadlock.
 * - Delayed updates (`delayed=1`) on an existing tag are buffered (authorized and validated
 *   on arrival) and applied together after {@link DELAYED_FLUSH_MS}; any other operation on
 *   the tag flushes the buffer first, so later requests always see earlier ones.
 * - The cache mirrors what the master read or wrote; the nodes' files are the truth. When the
 *   set of reachable nodes changes, cached tags are reloaded (a reachable node may hold a
 *   version, and reads must be safe again), and idle tags are dropped after a while.
 * - A deleted tag is recreated by writing a new version **newer than any on the nodes**, and
 *   only then removed from `+deleted`; if that removal fails the request fails and the cache
 *   entry is dropped, so what clients see always matches what a restarted master would read.
 */
import type { Logger } from 'pino';
import { formatEventTime } from '../../common/time.js';
import { DELETED_TAG, packObjName } from '../names.js';
import type { ClusterView } from './cluster-view.js';
import { DdfsError } from './errors.js';
import { decodeTag, encodeTag, isUrlList } from './tag-content.js';
import {
  bufferDelayed,
  type Caller,
  checkToken,
  decide,
  INTERNAL,
  type NewVersion,
  type ReplyBody,
  type TagData,
  type TagRequest,
} from './tag-logic.js';
import type { TagStore } from './tag-store.js';

/** How long delayed updates are buffered (`DELAYED_FLUSH_INTERVAL`). */
export const DELAYED_FLUSH_MS = 1000;
/** An unused cached tag is dropped after this long. */
export const TAG_IDLE_MS = 10 * 60_000;
/** At most this many idle tags stay cached. */
export const MAX_CACHED_TAGS = 20_000;

interface Waiter {
  resolve(body: ReplyBody): void;
  reject(e: unknown): void;
}

interface Entry {
  name: string;
  /** Tail of this tag's operation chain. */
  tail: Promise<void>;
  /** Operations queued or running. */
  busy: number;
  /** null = not loaded (or dropped). */
  data: TagData | null;
  replicas: string[];
  locations: string[];
  /** Set of names in the urls (kept for `+deleted`), rebuilt lazily. */
  names: Set<string> | null;
  /** Node set the data was loaded under. */
  epoch: string;
  delayed: Map<boolean, { urls: string[][]; waiters: Waiter[] }> | null;
  flushTimer: NodeJS.Timeout | null;
  lastUsed: number;
}

/** What GC needs to know about a tag. */
export interface GcTagInfo {
  data: TagData;
  replicas: string[];
}

/** Serialized, cached tag operations. */
export class TagServer {
  private readonly entries = new Map<string, Entry>();
  private readonly sweeper: NodeJS.Timeout;
  private lastMicros = 0;

  constructor(
    private readonly store: TagStore,
    private readonly view: ClusterView,
    private readonly log: Logger,
    private readonly delayMs = DELAYED_FLUSH_MS,
  ) {
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  /** Run a request on a tag; resolves to the JSON reply body, rejects with a DdfsError. */
  op(name: string, req: TagRequest): Promise<ReplyBody> {
    return this.run(name, (e) => this.apply(e, req));
  }

  /**
   * A `delayed=1` POST: buffered when the tag exists, otherwise a normal update. Resolves
   * after the flush that applied it.
   */
  async delayedUpdate(name: string, urls: unknown, nodup: boolean, token: Caller): Promise<ReplyBody> {
    const r = await this.run(name, async (e): Promise<{ now: ReplyBody } | { later: Promise<ReplyBody> }> => {
      await this.ensureLoaded(e);
      const data = e.data!;
      if (data.kind !== 'ok') return { now: await this.apply(e, { type: 'update', urls, nodup, token }) };
      if (!checkToken('write', token, data.content.readToken, data.content.writeToken))
        throw new DdfsError('unauthorized');
      if (!isUrlList(urls)) throw new DdfsError('invalid_url_object');
      e.delayed ??= new Map();
      const group = e.delayed.get(nodup) ?? { urls: [], waiters: [] };
      group.urls = bufferDelayed(group.urls.length > 0 ? group.urls : undefined, urls);
      e.delayed.set(nodup, group);
      const later = new Promise<ReplyBody>((resolve, reject) => group.waiters.push({ resolve, reject }));
      if (!e.flushTimer) {
        e.flushTimer = setTimeout(() => {
          this.run(name, (x) => this.flush(x)).catch((err) =>
            this.log.warn({ err, tag: name }, 'flush failed'),
          );
        }, this.delayMs);
      }
      return { later };
    });
    return 'now' in r ? r.now : r.later;
  }

  /** Names of all live tags starting with `prefix` (deleted ones and `+deleted` left out). */
  async list(prefix: string): Promise<string[]> {
    const names = await this.store.listNames();
    const deleted = await this.deletedNames();
    return [...names].filter((n) => n !== DELETED_TAG && !deleted.has(n) && n.startsWith(prefix)).sort();
  }

  /** The names listed in `+deleted`. */
  deletedNames(): Promise<Set<string>> {
    return this.run(DELETED_TAG, async (d) => {
      await this.prepare(d);
      return new Set(this.namesOf(d));
    });
  }

  /** The current state of a tag, for GC (loads it without keeping it hot). */
  gcGet(name: string): Promise<GcTagInfo> {
    return this.run(name, async (e) => {
      await this.prepare(e);
      return { data: e.data!, replicas: e.replicas.slice() };
    });
  }

  /**
   * Rewrite a tag for GC/re-replication: `rewrite` gets the current urls and id and returns
   * new urls (or null for no change); a new version is written with the tag's tokens kept.
   * Skipped unless the tag is live.
   */
  gcRewrite(
    name: string,
    rewrite: (urls: string[][], id: string) => string[][] | null,
  ): Promise<'updated' | 'unchanged' | 'skipped'> {
    return this.run(name, async (e) => {
      await this.prepare(e);
      const data = e.data!;
      if (data.kind !== 'ok') return 'skipped';
      const urls = rewrite(data.content.urls, data.content.id);
      if (urls === null) return 'unchanged';
      await this.apply(e, { type: 'put', field: 'urls', value: urls, token: INTERNAL });
      return 'updated';
    });
  }

  /** Write the current version again to reach K replicas (GC: tags with too few replicas). */
  gcRereplicate(name: string): Promise<boolean> {
    return this.run(name, async (e) => {
      await this.prepare(e);
      const data = e.data!;
      if (data.kind !== 'ok') return false;
      await this.apply(e, { type: 'put', field: 'urls', value: data.content.urls, token: INTERNAL });
      return true;
    });
  }

  /** Remove names from `+deleted` (GC: tags whose files are all gone long enough). */
  pruneDeleted(names: string[]): Promise<void> {
    return this.run(DELETED_TAG, (d) => this.removeNames(d, names));
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const e of this.entries.values()) if (e.flushTimer) clearTimeout(e.flushTimer);
  }

  // ---- machinery ------------------------------------------------------------------------------

  private entry(name: string): Entry {
    let e = this.entries.get(name);
    if (!e) {
      e = {
        name,
        tail: Promise.resolve(),
        busy: 0,
        data: null,
        replicas: [],
        locations: [],
        names: null,
        epoch: '',
        delayed: null,
        flushTimer: null,
        lastUsed: Date.now(),
      };
      this.entries.set(name, e);
    }
    return e;
  }

  /** Queue `fn` behind the tag's earlier operations. */
  private run<T>(name: string, fn: (e: Entry) => Promise<T>): Promise<T> {
    if (this.view.all().length === 0) return Promise.reject(new DdfsError('no_nodes'));
    const e = this.entry(name);
    e.busy++;
    const p = e.tail.then(() => fn(e));
    e.tail = p.then(
      () => undefined,
      () => undefined,
    );
    return p.finally(() => {
      e.busy--;
      e.lastUsed = Date.now();
    });
  }

  /** Flush pending delayed updates, then make sure the data is loaded. */
  private async prepare(e: Entry): Promise<void> {
    if (e.delayed) await this.flush(e);
    await this.ensureLoaded(e);
  }

  private async ensureLoaded(e: Entry): Promise<void> {
    const epoch = this.view.epoch();
    if (e.data && e.data.kind !== 'error' && e.epoch === epoch) return;
    e.epoch = epoch;
    e.names = null;
    e.replicas = [];
    e.locations = [];
    try {
      if (e.name !== DELETED_TAG && (await this.isDeleted(e.name))) {
        e.data = { kind: 'missing', deleted: true };
        return;
      }
      const loaded = await this.store.load(e.name);
      if (loaded.kind === 'notfound') {
        e.data = { kind: 'missing', deleted: false };
        return;
      }
      const content = decodeTag(loaded.text);
      if (!content) {
        e.data = { kind: 'error', error: 'corrupted_json' };
        return;
      }
      e.data = { kind: 'ok', content };
      e.replicas = loaded.replicas;
      e.locations = loaded.locations;
    } catch (err) {
      // Not cached: the next operation tries again.
      e.data = { kind: 'error', error: err instanceof DdfsError ? err.code : 'load_failed' };
      if (!(err instanceof DdfsError)) this.log.warn({ err, tag: e.name }, 'loading a tag failed');
    }
  }

  private async apply(e: Entry, req: TagRequest): Promise<ReplyBody> {
    await this.prepare(e);
    const data = e.data!;
    const out = decide(data, req, await this.newVersion(e, data));
    switch (out.type) {
      case 'reply':
        return out.body;
      case 'unchanged':
        return JSON.stringify(e.locations);
      case 'error':
        throw new DdfsError(typeof out.error === 'string' ? out.error : out.error.internal);
      case 'delete':
        await this.run(DELETED_TAG, (d) => this.addName(d, e.name));
        this.setData(e, { kind: 'missing', deleted: true }, [], []);
        return JSON.stringify('deleted');
      case 'write': {
        const written = await this.store.write(out.content.id, encodeTag(out.content));
        this.setData(e, { kind: 'ok', content: out.content }, written.replicas, written.locations);
        if (out.undelete) {
          try {
            await this.run(DELETED_TAG, (d) => this.removeNames(d, [e.name]));
          } catch (err) {
            e.data = null;
            throw err;
          }
        }
        return out.reply === 'deleted' ? JSON.stringify('deleted') : JSON.stringify(written.locations);
      }
    }
  }

  private setData(e: Entry, data: TagData, replicas: string[], locations: string[]): void {
    e.data = data;
    e.replicas = replicas;
    e.locations = locations;
    e.names = null;
  }

  /**
   * The id and time of the next version: now, but always later than the tag's current
   * version — and, for a deleted tag, later than any version still on the nodes — so a
   * clock step back can never make a new version lose to an old one.
   */
  private async newVersion(e: Entry, data: TagData): Promise<NewVersion> {
    let floor = 0;
    if (data.kind === 'ok') floor = idTime(data.content.id);
    else if (data.kind === 'missing' && data.deleted) floor = await this.store.newestTime(e.name);
    let us = Math.max(Date.now() * 1000, this.lastMicros + 1, floor + 1);
    us = Math.floor(us);
    this.lastMicros = us;
    const secs = Math.floor(us / 1e6);
    const ts = `${hex(Math.floor(secs / 1e6))}-${hex(secs % 1e6)}-${hex(us % 1e6)}`;
    return { id: packObjName(e.name, ts), lastModified: formatEventTime() };
  }

  private async flush(e: Entry): Promise<void> {
    if (e.flushTimer) clearTimeout(e.flushTimer);
    e.flushTimer = null;
    const groups = e.delayed;
    e.delayed = null;
    if (!groups) return;
    // Plain appends first, then nodup ones (the original's option-set order).
    for (const nodup of [false, true]) {
      const g = groups.get(nodup);
      if (!g) continue;
      try {
        const body = await this.apply(e, { type: 'update', urls: g.urls, nodup, token: INTERNAL });
        for (const w of g.waiters) w.resolve(body);
      } catch (err) {
        for (const w of g.waiters) w.reject(err);
      }
    }
  }

  // ---- +deleted -----------------------------------------------------------------------------

  private namesOf(d: Entry): Set<string> {
    if (!d.names) {
      d.names = new Set();
      if (d.data?.kind === 'ok')
        for (const set of d.data.content.urls)
          if (set.length > 0 && set[0].startsWith('tag://')) d.names.add(set[0].slice('tag://'.length));
    }
    return d.names;
  }

  private isDeleted(name: string): Promise<boolean> {
    return this.run(DELETED_TAG, async (d) => {
      await this.prepare(d);
      if (d.data?.kind === 'error') throw new DdfsError(d.data.error);
      return this.namesOf(d).has(name);
    });
  }

  private async addName(d: Entry, name: string): Promise<void> {
    await this.apply(d, { type: 'update', urls: [[`tag://${name}`]], nodup: true, token: INTERNAL });
  }

  private async removeNames(d: Entry, names: string[]): Promise<void> {
    await this.prepare(d);
    if (d.data?.kind === 'error') throw new DdfsError(d.data.error);
    if (d.data?.kind !== 'ok') return;
    const drop = new Set(names);
    const present = this.namesOf(d);
    if (!names.some((n) => present.has(n))) return;
    const urls = d.data.content.urls.filter(
      (s) => !(s.length > 0 && drop.has(s[0].replace(/^tag:\/\//, ''))),
    );
    await this.apply(d, { type: 'put', field: 'urls', value: urls, token: INTERNAL });
  }

  private sweep(): void {
    const now = Date.now();
    const idle = [...this.entries.values()].filter((e) => e.busy === 0 && !e.delayed);
    const excess = this.entries.size - MAX_CACHED_TAGS;
    idle.sort((a, b) => a.lastUsed - b.lastUsed);
    idle.forEach((e, i) => {
      if (i < excess || now - e.lastUsed > TAG_IDLE_MS) this.entries.delete(e.name);
    });
  }
}

function hex(n: number): string {
  return n === 0 ? '00' : n.toString(16);
}

function idTime(id: string): number {
  const ts = id.slice(id.lastIndexOf('$') + 1);
  const parts = ts.split('-').map((p) => Number.parseInt(p, 16));
  if (parts.length !== 3 || parts.some((p) => !Number.isFinite(p))) return 0;
  return (parts[0] * 1e6 + parts[1]) * 1e6 + parts[2];
}
