/**
 * DDFS garbage collection and re-replication with real processes (wire spec §5.6): a master and
 * three node processes, blobs K = 2, tags on 3 nodes (2 needed). A node is SIGKILLed and GC
 * (`gc_start`, then `gc_status` until idle) copies the lost replicas to the live nodes and
 * rewrites the tags, deleting only garbage; a GC-blacklisted node is drained and reported by
 * `safe_gc_blacklist`; with fewer usable nodes than replicas GC finishes and says how many blobs
 * it could not help; a hung (SIGSTOPped) node does not stall a run; with too many nodes down it
 * refuses and says why. ~35 s: the hung node is only dropped after a missed 15 s heartbeat.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Settings } from '../../src/common/settings.js';
import { streamBlob } from '../../src/ddfs/client/blob-read.js';
import { DDFS } from '../../src/ddfs/client/ddfs.js';
import { resolveHttp, urlHost } from '../../src/protocol/urls.js';
import { type Cluster, startCluster } from '../harness/cluster.js';

let c: Cluster;
let ddfs: DDFS;
let hosts: string[];
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  c = await startCluster({
    nodes: 3,
    cores: 1,
    env: {
      DDFS_BLOB_REPLICAS: '2',
      DDFS_TAG_REPLICAS: '3',
      DDFS_TAG_MIN_REPLICAS: '2',
      // gc_start is refused while GC waits for the cluster to settle after start-up.
      DDFS_GC_INITIAL_WAIT: '0',
      // Unreferenced blobs and old tag versions go at once: anything referenced that GC
      // wrongly took for garbage would be deleted in this test.
      DDFS_GC_ORPHAN_EXPIRES: '0',
    },
  });
  hosts = c.nodes.map((n) => n.host);
  ddfs = new DDFS(c.master, { settings: new Settings({ DISCO_PORT: String(c.port) }, {}, {}) });
  // The run started by DDFS_GC_INITIAL_WAIT=0 must be over before the tests start theirs.
  await waitIdle();
});
afterAll(async () => {
  await c?.stop();
});

async function getJson<T>(p: string, init?: RequestInit): Promise<T> {
  const r = await fetch(`${c.master}${p}`, init);
  expect(r.status, p).toBe(200);
  return (await r.json()) as T;
}

async function waitIdle(timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await getJson<string>('/ddfs/ctrl/gc_status');
    if (!s.startsWith('GC is')) return s;
    if (Date.now() > deadline) throw new Error(`GC still running: ${s}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One GC run through the HTTP API; its final `gc_status` ('' when it finished). */
async function gc(): Promise<string> {
  expect(await getJson<string>('/ddfs/ctrl/gc_start')).toBe('GC has started');
  return waitIdle();
}

async function connected(): Promise<string[]> {
  const info = await getJson<Record<string, { connected: boolean }>>('/disco/ctrl/nodeinfo');
  return Object.keys(info)
    .filter((h) => info[h].connected)
    .sort();
}

async function waitConnected(want: string[]): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((await connected()).join() !== [...want].sort().join()) {
    if (Date.now() > deadline) throw new Error(`nodes connected: ${await connected()}, want ${want}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function readAll(url: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of streamBlob([resolveHttp(url, c.port)])) parts.push(b);
  return Buffer.concat(parts);
}

/** Blob files `prefix$...` in node i's volumes. */
async function blobFiles(i: number, prefix: string): Promise<string[]> {
  const data = path.join(c.nodes[i].root, 'ddfs');
  const out: string[] = [];
  for (const vol of await fs.readdir(data).catch(() => [] as string[])) {
    if (!vol.startsWith('vol')) continue;
    const dir = path.join(data, vol, 'blob');
    for (const hh of await fs.readdir(dir).catch(() => [] as string[]))
      for (const f of await fs.readdir(path.join(dir, hh))) if (f.startsWith(`${prefix}$`)) out.push(f);
  }
  return out;
}

async function setGcBlacklist(host: string, on: boolean): Promise<void> {
  const op = on ? 'gc_blacklist' : 'gc_whitelist';
  await getJson(`/disco/ctrl/${op}`, { method: 'POST', body: JSON.stringify(host) });
}

/** Push n random blobs to `tag`; their contents by blob name. */
async function pushRandom(tag: string, n: number, size = 40_000): Promise<Map<string, string>> {
  const data = Array.from({ length: n }, () => randomBytes(size));
  const names = data.map((_, i) => `${tag.replace(/\W/g, '_')}_${i}`);
  await ddfs.push(
    tag,
    data.map((b, i) => [b, names[i]]),
  );
  return new Map(names.map((name, i) => [name, sha(data[i])]));
}

/** Every replica of every blob of `tag` on `live` hosts holds the pushed bytes. */
async function checkBlobs(tag: string, want: Map<string, string>, live: string[]): Promise<string[][]> {
  const urls = await ddfs.urls(tag);
  expect(urls.map((set) => DDFS.blobName(set[0])).sort()).toEqual([...want.keys()].sort());
  for (const set of urls) {
    const name = DDFS.blobName(set[0]);
    for (const u of set.filter((u) => live.includes(urlHost(u) ?? '')))
      expect(sha(await readAll(u)), `${u}`).toBe(want.get(name));
  }
  return urls;
}

describe('GC with real node processes', () => {
  test('after a SIGKILLed node, GC restores K replicas on the live nodes and updates the tags', async () => {
    const want = await pushRandom('gc:data', 12);
    // A tag graph: the parent references no blob itself, its child keeps the blobs alive.
    await ddfs.tag('gc:parent', [['tag://gc:data']]);
    // Old versions of a tag and an orphaned blob are garbage.
    for (let i = 0; i < 3; i++) await ddfs.setattr('gc:data', 'version', String(i));
    const orphanUrls = await getJson<string[]>('/ddfs/new_blob/orphan');
    for (const u of orphanUrls) expect((await fetch(u, { method: 'PUT', body: 'no tag' })).status).toBe(201);

    const dead = 0;
    const live = hosts.filter((_, i) => i !== dead);
    const before = await ddfs.urls('gc:data');
    const onDead = before.filter((set) => set.some((u) => urlHost(u) === hosts[dead])).length;
    // K = 2 of 3 nodes, placed at random: with 12 blobs the dead node holding none is ~1e-6.
    expect(onDead).toBeGreaterThan(0);

    await c.killNode(dead);
    await waitConnected(live);
    expect(await gc()).toBe('');

    const after = await checkBlobs('gc:data', want, live);
    for (const set of after) {
      // Every blob is on both live nodes now; the dead node's URL stays (it may come back).
      expect(
        set
          .filter((u) => live.includes(urlHost(u) ?? ''))
          .map(urlHost)
          .sort(),
      ).toEqual(live);
      expect(set.length).toBeLessThanOrEqual(3);
    }
    for (const i of [1, 2]) expect((await blobFiles(i, 'gc_data_0')).length).toBeLessThanOrEqual(1);
    let copies = 0;
    for (const i of [1, 2]) for (const name of want.keys()) copies += (await blobFiles(i, name)).length;
    expect(copies).toBe(2 * want.size);
    expect(await ddfs.urls('gc:parent')).toEqual([['tag://gc:data']]);
    expect((await ddfs.attrs('gc:data')).version).toBe('2');
    // The orphan is gone from the live nodes.
    for (const i of [1, 2]) expect(await blobFiles(i, 'orphan')).toEqual([]);
    const stats = await getJson<{ stats: Record<string, [number, number]> }>('/ddfs/ctrl/gc_stats');
    expect(stats.stats['Blobs deleted'][0]).toBeGreaterThanOrEqual(1);
    expect(stats.stats['Tags deleted'][0]).toBeGreaterThanOrEqual(3);

    // The node comes back with its copies intact; the next run keeps them and lists them.
    await c.startNode(dead);
    await waitConnected(hosts);
    expect(await gc()).toBe('');
    const back = await checkBlobs('gc:data', want, hosts);
    const held = back.filter((set) => set.some((u) => urlHost(u) === hosts[dead])).length;
    expect(held).toBe(onDead);
    let deadCopies = 0;
    for (const name of want.keys()) deadCopies += (await blobFiles(dead, name)).length;
    expect(deadCopies).toBe(onDead);
  });

  test('a GC-blacklisted node is drained, then reported safe to remove', async () => {
    const bl = hosts[1];
    // Three replicas: every blob has one on the node to drain.
    const data = Array.from({ length: 6 }, () => randomBytes(20_000));
    const names = data.map((_, i) => `drain_${i}`);
    await ddfs.push(
      'gc:drain',
      data.map((b, i) => [b, names[i]]),
      { replicas: 3 },
    );
    const want = new Map(names.map((n, i) => [n, sha(data[i])]));
    // Two of them only there and on one other node.
    const lone: string[] = [];
    for (const u of await getJson<string[]>(`/ddfs/new_blob/lone?replicas=2&exclude=${hosts[2]}`))
      lone.push((await (await fetch(u, { method: 'PUT', body: 'lonely' })).json()) as string);
    await ddfs.tag('gc:lone', [lone]);
    expect(lone.map(urlHost).sort()).toEqual([hosts[0], hosts[1]]);

    await setGcBlacklist(bl, true);
    try {
      expect(await getJson<string[]>('/ddfs/ctrl/safe_gc_blacklist')).toEqual([]);
      // New data avoids the node at once.
      const [, [fresh]] = await ddfs.push('gc:fresh', [[Buffer.from('fresh'), 'fresh']], { replicas: 2 });
      expect(fresh.map(urlHost)).not.toContain(bl);

      expect(await gc()).toBe('');
      expect(await getJson<string[]>('/ddfs/ctrl/safe_gc_blacklist')).toEqual([bl]);
      const others = hosts.filter((h) => h !== bl);
      for (const tag of await ddfs.list('gc:'))
        for (const set of await ddfs.urls(tag))
          for (const u of set) expect(u.startsWith(`disco://${bl}/`), `${tag}: ${u}`).toBe(false);
      const drained = await checkBlobs('gc:drain', want, others);
      for (const set of drained) expect(set.map(urlHost).sort()).toEqual(others);
      const [loneNow] = await ddfs.urls('gc:lone');
      expect(loneNow.map(urlHost).sort()).toEqual(others);
      expect((await readAll(loneNow[1])).toString()).toBe('lonely');
      // Nothing is deleted from a GC-blacklisted node: it is drained by copying.
      for (const n of [...names, 'lone']) expect(await blobFiles(1, n)).toHaveLength(1);
      // The rewritten tags' versions are off the node; an untouched tag (gc:parent) may keep
      // a third replica there, since two others are as many as the other nodes can hold.
      const hosted = await getJson<string[]>('/ddfs/ctrl/hosted_tags', {
        method: 'POST',
        body: JSON.stringify(bl),
      });
      for (const t of ['gc:drain', 'gc:lone', 'gc:fresh']) expect(hosted).not.toContain(t);
      // A second run changes nothing and still finds the node safe.
      expect(await gc()).toBe('');
      expect(await getJson<string[]>('/ddfs/ctrl/safe_gc_blacklist')).toEqual([bl]);
    } finally {
      await setGcBlacklist(bl, false);
    }
    expect(await getJson<string[]>('/ddfs/ctrl/safe_gc_blacklist')).toEqual([]);
  });

  test('with fewer usable nodes than replicas GC finishes and reports the blobs it could not help', async () => {
    const want = await pushRandom('gc:few', 3, 10_000);
    await c.killNode(2);
    await waitConnected([hosts[0], hosts[1]]);
    await setGcBlacklist(hosts[1], true);
    try {
      const t0 = Date.now();
      const logFrom = c.masterLog.length;
      expect(await gc()).toBe('');
      expect(Date.now() - t0).toBeLessThan(20_000);
      // One usable node for K = 2: nothing can be copied; the run says so in its summary.
      const summary = c.masterLog
        .slice(logFrom)
        .map((l) => {
          try {
            return JSON.parse(l) as { msg?: string; gc?: { underReplicated: number } };
          } catch {
            return {};
          }
        })
        .find((l) => l.msg === 'GC finished');
      expect(summary?.gc?.underReplicated).toBeGreaterThan(0);
      await checkBlobs('gc:few', want, [hosts[0], hosts[1]]);
    } finally {
      await setGcBlacklist(hosts[1], false);
      await c.startNode(2);
      await waitConnected(hosts);
    }
  });

  test('a hung node (SIGSTOP) does not stall GC: the run goes on without it once it is dropped', async () => {
    const want = await pushRandom('gc:hung', 4, 10_000);
    const hung = c.nodes[2].proc;
    hung.kill('SIGSTOP');
    try {
      const t0 = Date.now();
      expect(await getJson<string>('/ddfs/ctrl/gc_start')).toBe('GC has started');
      // The master drops a node that misses a heartbeat (15 s pings): 15-30 s.
      expect(await waitIdle(60_000)).toBe('');
      expect(Date.now() - t0).toBeLessThan(45_000);
      expect(await connected()).toEqual([hosts[0], hosts[1]]);
      const urls = await checkBlobs('gc:hung', want, [hosts[0], hosts[1]]);
      for (const set of urls)
        expect(
          set
            .filter((u) => urlHost(u) !== hosts[2])
            .map(urlHost)
            .sort(),
        ).toEqual([hosts[0], hosts[1]]);
    } finally {
      hung.kill('SIGKILL');
      await c.killNode(2);
      await c.startNode(2);
      await waitConnected(hosts);
    }
  }, 90_000);

  test('with too many nodes down GC refuses to run and says why', async () => {
    await c.killNode(1);
    await c.killNode(2);
    await waitConnected([hosts[0]]);
    try {
      expect(await gc()).toMatch(
        /^GC stopped: not safe: 2 of 3 nodes unreachable \(DDFS_TAG_MIN_REPLICAS is 2\)/,
      );
    } finally {
      await c.startNode(1);
      await c.startNode(2);
      await waitConnected(hosts);
    }
    // And runs again once they are back.
    expect(await gc()).toBe('');
  });
});
