/**
 * GC and re-replication on a real three-node cluster (wire spec §5.6): orphans and old tag
 * versions go, referenced data stays, lost replicas come back after a node dies, a
 * GC-blacklisted node drains and is reported safe, and GC finishes (and says so) when there
 * are fewer usable nodes than replicas.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Settings } from '../../../src/common/settings.js';
import { DDFS } from '../../../src/ddfs/client/ddfs.js';
import { type DdfsCluster, startDdfsCluster } from './cluster.js';

let c: DdfsCluster;
let ddfs: DDFS;

beforeAll(async () => {
  c = await startDdfsCluster({
    nodes: 3,
    settings: {
      DDFS_BLOB_REPLICAS: '2',
      DDFS_TAG_REPLICAS: '3',
      DDFS_TAG_MIN_REPLICAS: '2',
      DDFS_GC_INITIAL_WAIT: '0',
      DDFS_GC_INTERVAL: '86400',
      DDFS_GC_ORPHAN_EXPIRES: '0',
      DDFS_GC_DELETED_EXPIRES: '0',
    },
  });
  ddfs = new DDFS(c.url, { settings: new Settings({ DISCO_PORT: new URL(c.url).port }, {}, {}) });
});

afterAll(async () => {
  await c?.stop();
});

async function gc(): Promise<string> {
  const start = await (await fetch(`${c.url}/ddfs/ctrl/gc_start`)).json();
  expect(start).toBe('GC has started');
  for (;;) {
    const s = (await (await fetch(`${c.url}/ddfs/ctrl/gc_status`)).json()) as string;
    if (!s.startsWith('GC is')) return s;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Files named `prefix...` under a node's DDFS_DATA (`vol/type/HH/name`). */
async function files(i: number, type: 'blob' | 'tag', prefix: string): Promise<string[]> {
  const out: string[] = [];
  const root = path.join(c.ddfsData(i), 'vol0', type);
  for (const hh of await fs.readdir(root).catch(() => [] as string[]))
    for (const f of await fs.readdir(path.join(root, hh))) if (f.startsWith(prefix)) out.push(f);
  return out.sort();
}

async function everywhere(type: 'blob' | 'tag', prefix: string): Promise<string[][]> {
  return Promise.all(c.hosts.map((_, i) => files(i, type, prefix)));
}

describe('GC', () => {
  it('deletes orphaned blobs, old tag versions and deleted tags; keeps what tags reference', async () => {
    const [, [kept]] = await ddfs.push('gc:keep', [[Buffer.from('keep me'), 'kept']]);
    for (let i = 0; i < 3; i++) await ddfs.setattr('gc:keep', 'n', String(i));
    const orphan = (await (await fetch(`${c.url}/ddfs/new_blob/orphan`)).json()) as string[];
    for (const u of orphan) await fetch(u, { method: 'PUT', body: 'nobody tags me' });
    await ddfs.push('gc:gone', [[Buffer.from('bye'), 'goneblob']]);
    await ddfs.delete('gc:gone');
    expect((await everywhere('tag', 'gc:keep$')).flat().length).toBeGreaterThan(3);

    expect(await gc()).toBe('');
    expect((await everywhere('blob', 'orphan$')).flat()).toEqual([]);
    expect((await everywhere('blob', 'goneblob$')).flat()).toEqual([]);
    expect((await everywhere('tag', 'gc:gone$')).flat()).toEqual([]);
    const keepVersions = await everywhere('tag', 'gc:keep$');
    const id = (await ddfs.get('gc:keep')).id;
    expect(keepVersions).toEqual([[id], [id], [id]]);
    expect((await everywhere('blob', 'kept$')).flat()).toHaveLength(2);
    expect(kept).toHaveLength(2);
    expect((await ddfs.attrs('gc:keep')).n).toBe('2');

    const stats = (await (await fetch(`${c.url}/ddfs/ctrl/gc_stats`)).json()) as {
      timestamp: string;
      stats: Record<string, [number, number]>;
    };
    expect(Object.keys(stats.stats)).toEqual(['Tags kept', 'Tags deleted', 'Blobs kept', 'Blobs deleted']);
    expect(stats.stats['Blobs deleted'][0]).toBeGreaterThanOrEqual(4);

    // A second run forgets the deleted tag (expiry 0) and the tag can be created again.
    expect(await gc()).toBe('');
    await ddfs.tag('gc:gone', [['again']]);
    expect(await ddfs.urls('gc:gone')).toEqual([['again']]);
  });

  it('restores K blob replicas after a node is lost, and updates the tags', async () => {
    const put = (await (await fetch(`${c.url}/ddfs/new_blob/lost?exclude=${c.hosts[0]}`)).json()) as string[];
    const set: string[] = [];
    for (const u of put)
      set.push((await (await fetch(u, { method: 'PUT', body: 'precious' })).json()) as string);
    await ddfs.tag('gc:lost', [set]);
    expect(await files(0, 'blob', 'lost$')).toEqual([]);
    await c.stopNode(2);
    await c.settle();
    try {
      expect(await gc()).toBe('');
      expect(await files(0, 'blob', 'lost$')).toHaveLength(1);
      const urls = await ddfs.urls('gc:lost');
      expect(urls[0]).toHaveLength(3);
      expect(urls[0].some((u) => u.startsWith(`disco://${c.hosts[0]}/`))).toBe(true);
    } finally {
      await c.startNode(2);
      await c.settle();
    }
  });

  it('drains a GC-blacklisted node and then reports it safe to remove', async () => {
    const bl = c.hosts[1];
    await ddfs.push('gc:drain', [[Buffer.from('move me'), 'drain']]);
    const post = await fetch(`${c.url}/disco/ctrl/gc_blacklist`, {
      method: 'POST',
      body: JSON.stringify(bl),
    });
    expect(post.status).toBe(200);
    try {
      expect((await ddfs.pushBlob({ data: 'x' }, 'nb', { replicas: 2 })).join()).not.toContain(`//${bl}/`);
      expect(await gc()).toBe('');
      expect(await gc()).toBe('');
      const safe = (await (await fetch(`${c.url}/ddfs/ctrl/safe_gc_blacklist`)).json()) as string[];
      expect(safe).toEqual([bl]);
      for (const tag of await ddfs.list('gc:'))
        for (const set of await ddfs.urls(tag)) for (const u of set) expect(u).not.toContain(`//${bl}/`);
      // Nothing was deleted from the blacklisted node.
      expect((await files(1, 'blob', 'drain$')).length).toBeLessThanOrEqual(1);
    } finally {
      await fetch(`${c.url}/disco/ctrl/gc_whitelist`, { method: 'POST', body: JSON.stringify(bl) });
    }
  });

  it('finishes when fewer nodes than replicas can take data', async () => {
    await ddfs.push('gc:few', [[Buffer.from('two copies wanted'), 'few']]);
    await c.stopNode(2);
    await fetch(`${c.url}/disco/ctrl/gc_blacklist`, { method: 'POST', body: JSON.stringify(c.hosts[1]) });
    await c.settle();
    try {
      const t0 = Date.now();
      expect(await gc()).toBe('');
      expect(Date.now() - t0).toBeLessThan(20_000);
    } finally {
      await fetch(`${c.url}/disco/ctrl/gc_whitelist`, { method: 'POST', body: JSON.stringify(c.hosts[1]) });
      await c.startNode(2);
      await c.settle();
    }
  });

  it('refuses to run, and says why, when too many nodes are down', async () => {
    await c.stopNode(1);
    await c.stopNode(2);
    await c.settle();
    try {
      expect(await gc()).toMatch(/^GC stopped: not safe: 2 of 3 nodes unreachable/);
    } finally {
      await c.startNode(1);
      await c.startNode(2);
      await c.settle();
    }
  });
});
