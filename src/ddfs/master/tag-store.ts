/**
 * Tag versions on the nodes (wire spec §5.4; `ddfs_tag.erl` `get_tagdata`, `put_distribute`,
 * `put_commit`). The nodes' files are the truth; the master's cache (tag-server.ts) only
 * mirrors what was read or written here.
 *
 * Read: ask every readable node for its newest version of the tag; the newest timestamp
 * wins and its bytes come from one of the nodes holding it (others tried on failure). Unsafe
 * — `too_many_failed_nodes` — when unreachable + failed nodes ≥ `DDFS_TAG_MIN_REPLICAS`:
 * every committed version is on at least that many nodes, so below it some holder of the
 * newest version always answers.
 *
 * Write: send the new version as `!partial.<id>` to `DDFS_TAG_REPLICAS` nodes chosen like
 * blob nodes, replacing failed nodes with others until none is left; fewer than
 * `DDFS_TAG_MIN_REPLICAS` partial copies → `replication_failed`. Then commit (rename) on
 * every node that took one; no commit → `commit_failed`.
 */
import type { Logger } from 'pino';
import { parseDdfsTimestamp } from '../../common/time.js';
import { objectUrl } from '../names.js';
import type { ClusterView } from './cluster-view.js';
import { DdfsError } from './errors.js';
import type { NodeClient } from './node-client.js';
import { chooseWriteNodes } from './placement.js';

/** Replication settings of tags. */
export interface TagReplication {
  /** `DDFS_TAG_MIN_REPLICAS` */
  minK: number;
  /** `DDFS_TAG_REPLICAS` */
  k: number;
}

/** What reading a tag found. */
export type LoadedTag =
  | { kind: 'ok'; id: string; text: string; replicas: string[]; locations: string[] }
  | { kind: 'notfound' };

/** Where a written version landed. */
export interface Written {
  replicas: string[];
  locations: string[];
}

/** Reads and writes tag versions on the nodes. */
export class TagStore {
  constructor(
    private readonly view: ClusterView,
    private readonly nodes: NodeClient,
    private readonly repl: TagReplication,
    private readonly log: Logger,
  ) {}

  /** Throw `too_many_failed_nodes` unless reads are safe with `failed` more nodes down. */
  private checkSafe(failed: number): void {
    if (this.view.unreachable() + failed >= this.repl.minK) throw new DdfsError('too_many_failed_nodes');
  }

  /** The newest version of `name` across the nodes. */
  async load(name: string): Promise<LoadedTag> {
    if (this.view.all().length === 0) throw new DdfsError('no_nodes');
    this.checkSafe(0);
    const readable = this.view.readable();
    const answers = await Promise.allSettled(readable.map((h) => this.nodes.tagVersion(h, name)));
    let failed = 0;
    const found: { host: string; ts: string; time: number; vol: string }[] = [];
    answers.forEach((a, i) => {
      if (a.status === 'rejected') {
        failed++;
        this.log.warn({ host: readable[i], tag: name, err: a.reason }, 'node did not answer a tag lookup');
      } else if (a.value) {
        found.push({
          host: readable[i],
          ts: a.value.ts,
          time: parseDdfsTimestamp(a.value.ts.toLowerCase()),
          vol: a.value.vol,
        });
      }
    });
    this.checkSafe(failed);
    if (found.length === 0) return { kind: 'notfound' };
    const newest = Math.max(...found.map((f) => f.time));
    const holders = found.filter((f) => f.time === newest);
    const id = `${name}$${holders[0].ts}`;
    const locations = holders.map((h) => objectUrl(h.host, h.vol, 'tag', id));
    let lastErr: unknown;
    for (const h of shuffle(holders)) {
      try {
        const text = await this.nodes.readTag(h.host, h.vol, id);
        return { kind: 'ok', id, text, replicas: holders.map((x) => x.host), locations };
      } catch (e) {
        lastErr = e;
        this.log.warn({ host: h.host, id, err: e }, 'reading a tag replica failed');
      }
    }
    throw new DdfsError('tagdata_failed', String(lastErr));
  }

  /**
   * Time (µs) of the newest version of `name` any readable node holds, 0 if none; used so a
   * recreated tag's new version is newer than every old one.
   */
  async newestTime(name: string): Promise<number> {
    this.checkSafe(0);
    const readable = this.view.readable();
    const answers = await Promise.allSettled(readable.map((h) => this.nodes.tagVersion(h, name)));
    let newest = 0;
    let failed = 0;
    for (const a of answers) {
      if (a.status === 'rejected') failed++;
      else if (a.value) newest = Math.max(newest, parseDdfsTimestamp(a.value.ts.toLowerCase()));
    }
    this.checkSafe(failed);
    return newest;
  }

  /** Write version `id` with content `text` to K nodes (see the module comment). */
  async write(id: string, text: string): Promise<Written> {
    // Encoded once for every node (a big tag's text is tens of MiB).
    const bytes = Buffer.from(text);
    const ok: { host: string; vol: string }[] = [];
    const tried = new Set<string>();
    for (;;) {
      const need = this.repl.k - ok.length;
      if (need <= 0) break;
      const excluded = new Set([...this.view.writeExcluded(), ...tried]);
      const targets = chooseWriteNodes(this.view.space(), need, excluded);
      if (targets.length === 0) {
        if (ok.length < this.repl.minK) throw new DdfsError('replication_failed');
        break;
      }
      const results = await Promise.allSettled(targets.map((h) => this.nodes.putTag(h, id, bytes)));
      results.forEach((r, i) => {
        tried.add(targets[i]);
        if (r.status === 'fulfilled') ok.push({ host: targets[i], vol: r.value });
        else this.log.warn({ host: targets[i], id, err: r.reason }, 'writing a tag replica failed');
      });
    }
    const commits = await Promise.allSettled(ok.map((o) => this.nodes.commitTag(o.host, o.vol, id)));
    const written: Written = { replicas: [], locations: [] };
    commits.forEach((c, i) => {
      if (c.status === 'fulfilled') {
        written.replicas.push(ok[i].host);
        written.locations.push(c.value);
      } else {
        this.log.warn({ host: ok[i].host, id, err: c.reason }, 'committing a tag replica failed');
      }
    });
    if (written.locations.length === 0) throw new DdfsError('commit_failed');
    if (written.locations.length < this.repl.k)
      this.log.warn({ id, replicas: written.locations.length, wanted: this.repl.k }, 'tag under-replicated');
    return written;
  }

  /**
   * Every tag name any readable node holds, with the nodes that failed to answer; throws
   * `too_many_failed_nodes` when the listing could miss tags.
   */
  async listNames(): Promise<Set<string>> {
    if (this.view.all().length === 0) throw new DdfsError('no_nodes');
    this.checkSafe(0);
    const readable = this.view.readable();
    const lists = await Promise.allSettled(readable.map((h) => this.nodes.listTags(h)));
    const names = new Set<string>();
    let failed = 0;
    lists.forEach((l, i) => {
      if (l.status === 'rejected') {
        failed++;
        this.log.warn({ host: readable[i], err: l.reason }, 'node did not list its tags');
      } else {
        for (const [n] of l.value) names.add(n);
      }
    });
    this.checkSafe(failed);
    return names;
  }
}

function shuffle<T>(xs: T[]): T[] {
  const a = xs.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}
