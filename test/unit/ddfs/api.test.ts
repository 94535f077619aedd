/**
 * The master's /ddfs API against a real three-node cluster on loopback (K = 3 blob and tag
 * replicas, reads safe with one node down): placement, push and read back, tag versions on
 * every node, tokens, delete and recreate, listing, attributes, ordering, restarts, faults.
 */
import { createHash } from 'node:crypto';
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Settings } from '../../../src/common/settings.js';
import { DDFS } from '../../../src/ddfs/client/ddfs.js';
import { type DdfsCluster, startDdfsCluster } from './cluster.js';

let c: DdfsCluster;

beforeAll(async () => {
  c = await startDdfsCluster({
    nodes: 3,
    settings: { DDFS_BLOB_REPLICAS: '3', DDFS_TAG_REPLICAS: '3', DDFS_TAG_MIN_REPLICAS: '2' },
  });
});

afterAll(async () => {
  await c?.stop();
});

interface Res {
  status: number;
  text: string;
  json: unknown;
}

async function api(method: string, p: string, body?: unknown, token?: string): Promise<Res> {
  const headers: Record<string, string> = {};
  if (token !== undefined)
    headers.Authorization = `Basic ${Buffer.from(`token:${token}`).toString('base64')}`;
  const r = await fetch(`${c.url}${p}`, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, text, json };
}

/** disco://host/path → http://host:DISCO_PORT/path */
function http(url: string): string {
  const port = new URL(c.url).port;
  return url.replace(/^disco:\/\/([^/]+)\//, `http://$1:${port}/`);
}

async function push(prefix: string, data: string, replicas?: number): Promise<string[]> {
  const q = replicas ? `?replicas=${replicas}` : '';
  const put = await api('GET', `/ddfs/new_blob/${prefix}${q}`);
  expect(put.status).toBe(200);
  const urls = put.json as string[];
  const out: string[] = [];
  for (const u of urls) {
    const r = await fetch(u, { method: 'PUT', body: data });
    expect(r.status).toBe(201);
    out.push((await r.json()) as string);
  }
  return out;
}

describe('blobs', () => {
  it('new_blob gives K PUT URLs on distinct nodes, with one $ts for all', async () => {
    const r = await api('GET', '/ddfs/new_blob/data:x');
    const urls = r.json as string[];
    expect(urls).toHaveLength(3);
    const putPort = new URL(urls[0]).port;
    expect(new Set(urls.map((u) => new URL(u).hostname))).toEqual(new Set(c.hosts));
    const objs = new Set(urls.map((u) => new URL(u).pathname));
    expect(objs.size).toBe(1);
    expect([...objs][0]).toMatch(/^\/ddfs\/data:x\$[0-9a-f]+-[0-9a-f]+-[0-9a-f]+$/);
    expect(putPort).not.toBe(new URL(c.url).port);
  });

  it('honours replicas and exclude, refuses impossible requests', async () => {
    expect((await api('GET', '/ddfs/new_blob/x?replicas=1')).json).toHaveLength(1);
    const ex = (await api('GET', '/ddfs/new_blob/x?replicas=2&exclude=127.0.0.2')).json as string[];
    expect(ex.map((u) => new URL(u).hostname).sort()).toEqual(['127.0.0.3', '127.0.0.4']);
    for (const q of [
      'replicas=4',
      'replicas=3&exclude=127.0.0.3',
      'replicas=1&exclude=127.0.0.2,127.0.0.3,127.0.0.4',
    ]) {
      const r = await api('GET', `/ddfs/new_blob/x?${q}`);
      expect(r.status, q).toBe(403);
      expect(r.text).toBe('Not enough nodes for replicas.');
    }
    for (const bad of ['a%20b', 'a$b', 'x.y', '']) {
      const r = await api('GET', `/ddfs/new_blob/${bad}`);
      expect(r.status, bad).toBe(403);
      expect(r.text).toBe('Invalid prefix.');
    }
  });

  it('pushes a blob to three nodes, tags it, and reads it back from every replica', async () => {
    const urls = await push('blobdata', 'datablob');
    expect(urls).toHaveLength(3);
    const post = await api('POST', '/ddfs/tag/disco:test:blobs', [urls]);
    expect(post.status).toBe(200);
    const tag = (await api('GET', '/ddfs/tag/disco:test:blobs')).json as Record<string, unknown>;
    expect(Object.keys(tag)).toEqual(['version', 'id', 'last-modified', 'urls', 'user-data']);
    expect(tag.urls).toEqual([urls]);
    expect(tag['last-modified']).toMatch(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d$/);
    for (const u of urls) expect(await (await fetch(http(u))).text()).toBe('datablob');
  });
});

describe('client against three nodes', () => {
  const client = () =>
    new DDFS(c.url, { settings: new Settings({ DISCO_PORT: new URL(c.url).port }, {}, {}) });

  it('pushes K = 3 replicas, one per node, each readable', async () => {
    const d = client();
    const [, [set]] = await d.push('k3', [[Buffer.from('three copies'), 'k3blob']]);
    expect(new Set(set.map((u) => new URL(u.replace('disco://', 'http://')).hostname))).toEqual(
      new Set(c.hosts),
    );
    for await (const b of d.pull('k3')) expect((await b.read()).toString()).toBe('three copies');
  });

  it('retries a failed upload on other nodes', async () => {
    // Two nodes cannot store blobs for now (their blob directory is a file): an upload sent
    // there fails, and is sent again, from a fresh stream, to another node.
    const blobs = (i: number) => path.join(c.ddfsData(i), 'vol0', 'blob');
    for (const i of [0, 1]) {
      renameSync(blobs(i), `${blobs(i)}.saved`);
      writeFileSync(blobs(i), 'not a directory');
    }
    let opened = 0;
    try {
      for (let n = 0; n < 6; n++) {
        const source = {
          open: () => {
            opened++;
            return Readable.from([Buffer.from(`stored ${n}`)]);
          },
        };
        const [url] = await client().pushBlob(source, `retry${n}`, { replicas: 1 });
        expect(new URL(http(url)).hostname).toBe(c.hosts[2]);
        expect(await (await fetch(http(url))).text()).toBe(`stored ${n}`);
      }
    } finally {
      for (const i of [0, 1]) {
        rmSync(blobs(i));
        renameSync(`${blobs(i)}.saved`, blobs(i));
      }
    }
    // Some upload went to a broken node first (all six missing them: (1/3)^6).
    expect(opened).toBeGreaterThan(6);
  });

  it('does not retry elsewhere when the source fails: the source error, at once', async () => {
    let opened = 0;
    const source = {
      open: () => {
        opened++;
        return new Readable({
          read() {
            this.destroy(new Error('simulated read failure'));
          },
        });
      },
    };
    await expect(client().pushBlob(source, 'source-fails', { replicas: 2 })).rejects.toThrow(
      /^simulated read failure$/,
    );
    expect(opened).toBe(2);
  });
});

describe('tag versions', () => {
  it('writes every version to K nodes and answers with the replica URLs', async () => {
    const r = await api('PUT', '/ddfs/tag/versions', [['a']]);
    const locs = r.json as string[];
    expect(locs).toHaveLength(3);
    const tag = (await api('GET', '/ddfs/tag/versions')).json as { id: string };
    for (const loc of locs) {
      const m = /^disco:\/\/(127\.0\.0\.\d)\/ddfs\/(vol0\/tag\/([0-9a-f]{2})\/(.+))$/.exec(loc);
      expect(m).not.toBeNull();
      const [, host, rel, hh, obj] = m!;
      expect(obj).toBe(tag.id);
      expect(hh).toBe(createHash('md5').update(obj).digest('hex').slice(0, 2));
      expect(existsSync(path.join(c.ddfsData(c.hosts.indexOf(host)), rel))).toBe(true);
      // The tag objects are readable on the nodes' data servers, with tokens inside.
      const stored = (await (await fetch(http(loc))).json()) as Record<string, unknown>;
      expect(stored['read-token']).toBeNull();
    }
  });

  it('survives a master restart: the nodes hold the truth', async () => {
    await api('PUT', '/ddfs/tag/persist', [['p1'], ['p2']]);
    await api('PUT', '/ddfs/tag/persist/color', '"blue"');
    const before = (await api('GET', '/ddfs/tag/persist')).json;
    await c.restartMaster();
    expect((await api('GET', '/ddfs/tag/persist')).json).toEqual(before);
    expect((await api('GET', '/ddfs/tag/persist/color')).json).toBe('blue');
  });

  it('creates no new version when nothing changes', async () => {
    await api('POST', '/ddfs/tag/nogarbage', [['urls']]);
    const id = ((await api('GET', '/ddfs/tag/nogarbage')).json as { id: string }).id;
    await api('POST', '/ddfs/tag/nogarbage', []);
    await api('POST', '/ddfs/tag/nogarbage?update=1', [['disco://h/ddfs/vol0/blob/ab/x$5dc-1-1']]);
    await api('POST', '/ddfs/tag/nogarbage?update=1', [['disco://h/ddfs/vol0/blob/cd/x$5dc-2-2']]);
    const after = (await api('GET', '/ddfs/tag/nogarbage')).json as { id: string; urls: string[][] };
    expect(after.id).not.toBe(id);
    expect(after.urls).toHaveLength(3);
    await api('POST', '/ddfs/tag/nogarbage?update=1', [['disco://h/ddfs/vol0/blob/cd/x$5dc-3-3']]);
    expect(((await api('GET', '/ddfs/tag/nogarbage')).json as { id: string }).id).toBe(after.id);
  });

  it('honours Range on tag bodies (the client reads one byte to test existence)', async () => {
    await api('PUT', '/ddfs/tag/ranged', []);
    const r = await fetch(`${c.url}/ddfs/tag/ranged`, { headers: { Range: 'bytes=0-0' } });
    expect(r.status).toBe(206);
    expect(await r.text()).toBe('{');
  });
});

describe('update and delayed', () => {
  const b = (name: string, ts: string) => [`disco://n/ddfs/vol0/blob/ab/${name}$${ts}`];

  it('POST prepends in posting order; update=1 skips known names, prepends one by one', async () => {
    await api('POST', '/ddfs/tag/order', [b('a', '1-1-1'), b('b', '1-1-2')]);
    await api('POST', '/ddfs/tag/order', [b('c', '1-1-3')]);
    await api('POST', '/ddfs/tag/order?update=1', [b('d', '1-1-4'), b('a', '1-1-5'), b('e', '1-1-6')]);
    const urls = ((await api('GET', '/ddfs/tag/order/ddfs:urls')).json as string[][]).map((u) => u[0]);
    expect(urls.map((u) => /\/ab\/(\w)\$/.exec(u)![1])).toEqual(['e', 'd', 'c', 'a', 'b']);
  });

  it('delayed=1 buffers concurrent posts and answers them all after one commit', async () => {
    await api('PUT', '/ddfs/tag/delayed', []);
    const t0 = Date.now();
    const replies = await Promise.all(
      ['p', 'q', 'r'].map((n, i) => api('POST', '/ddfs/tag/delayed?delayed=1&update=', [b(n, `1-1-${i}`)])),
    );
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    for (const r of replies) expect(r.status).toBe(200);
    // All got the replica URLs of the same (single) new version.
    expect(new Set(replies.map((r) => r.text)).size).toBe(1);
    const urls = (await api('GET', '/ddfs/tag/delayed/ddfs:urls')).json as string[][];
    expect(urls).toHaveLength(3);
  });

  it('delayed=1 on a missing tag is an immediate update', async () => {
    const t0 = Date.now();
    const r = await api('POST', '/ddfs/tag/delayednew?delayed=1', [['x']]);
    expect(r.status).toBe(200);
    expect(Date.now() - t0).toBeLessThan(900);
  });

  it('serializes concurrent posts to one tag: none is lost', async () => {
    await Promise.all(Array.from({ length: 20 }, (_, i) => api('POST', '/ddfs/tag/busy', [[`u${i}`]])));
    const urls = (await api('GET', '/ddfs/tag/busy/ddfs:urls')).json as string[][];
    expect(urls.map((u) => u[0]).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `u${i}`).sort());
  });
});

describe('attributes', () => {
  it('sets, gets, lists, deletes attributes; reserved names are 404', async () => {
    await api('PUT', '/ddfs/tag/attrs', [['x']]);
    expect((await api('PUT', '/ddfs/tag/attrs/a1', '"v1"')).status).toBe(200);
    await api('PUT', '/ddfs/tag/attrs/a2', '"v2"');
    expect((await api('GET', '/ddfs/tag/attrs/a1')).json).toBe('v1');
    expect(((await api('GET', '/ddfs/tag/attrs')).json as { 'user-data': unknown })['user-data']).toEqual({
      a1: 'v1',
      a2: 'v2',
    });
    expect(await api('DELETE', '/ddfs/tag/attrs/a1')).toMatchObject({ status: 200, json: 'deleted' });
    expect(await api('DELETE', '/ddfs/tag/attrs/zz')).toMatchObject({ status: 200, json: 'deleted' });
    expect(await api('GET', '/ddfs/tag/attrs/a1')).toMatchObject({
      status: 404,
      text: 'Tag attribute not found.',
    });
    expect(await api('PUT', '/ddfs/tag/attrs/ddfs:a1', '"v"')).toMatchObject({ status: 404 });
    expect(await api('GET', '/ddfs/tag/attrs/ddfs:nope')).toMatchObject({ status: 404 });
    expect(await api('GET', '/ddfs/tag/attrs/ddfs:urls')).toMatchObject({ status: 200, json: [['x']] });
    expect(await api('DELETE', '/ddfs/tag/nosuchtag/a')).toMatchObject({
      status: 404,
      text: 'Tag attribute not found.',
    });
  });

  it('refuses bad input with the original errors', async () => {
    expect(await api('PUT', '/ddfs/tag/attrs/n', '1')).toMatchObject({
      status: 403,
      text: 'Invalid attribute key or value',
    });
    expect(await api('PUT', '/ddfs/tag/attrs/n', JSON.stringify('x'.repeat(1100)))).toMatchObject({
      status: 403,
      text: 'Attribute value too big.',
    });
    expect(await api('PUT', `/ddfs/tag/attrs/${'n'.repeat(1025)}`, '"v"')).toMatchObject({
      status: 403,
      text: 'Attribute name too big.',
    });
    expect(await api('POST', '/ddfs/tag/attrs', '{not json')).toMatchObject({
      status: 403,
      text: 'Invalid request body.',
    });
    expect(await api('POST', '/ddfs/tag/attrs', '{"a":1}')).toMatchObject({
      status: 403,
      text: 'Invalid url object',
    });
    expect(await api('PUT', '/ddfs/tag/attrs', '[1]')).toMatchObject({
      status: 403,
      text: 'Invalid attribute key or value',
    });
    for (const bad of ['bad%20name', 'a.b', '%2E%2E%2Fx', 'x%2F..']) {
      expect(await api('GET', `/ddfs/tag/${bad}`), bad).toMatchObject({ status: 403, text: 'Invalid tag' });
      expect(await api('POST', `/ddfs/tag/${bad}`, []), bad).toMatchObject({
        status: 403,
        text: 'Invalid tag',
      });
    }
    expect(await api('GET', '/ddfs/tag/+deleted')).toMatchObject({ status: 403 });
    expect(await api('GET', '/ddfs/tag/nosuch')).toMatchObject({ status: 404, text: 'Tag not found.' });
  });
});

describe('tokens (§5.5)', () => {
  beforeAll(async () => {
    await api('PUT', '/ddfs/tag/authrd/a', '"v"');
    await api('PUT', '/ddfs/tag/authwr/a', '"v"');
    await api('PUT', '/ddfs/tag/authrd/ddfs:read-token', '"rdr"');
    await api('PUT', '/ddfs/tag/authwr/ddfs:write-token', '"wtr"');
    await api('PUT', '/ddfs/tag/authempty/a', '"v"');
    await api('PUT', '/ddfs/tag/authempty/ddfs:read-token', '""');
    await api('PUT', '/ddfs/tag/authempty/ddfs:write-token', '""', '');
  });
  const UNAUTH = { status: 401, text: 'Incorrect or missing token.' };

  it('an empty token is a real token', async () => {
    expect(await api('GET', '/ddfs/tag/authempty/a')).toMatchObject(UNAUTH);
    expect((await api('GET', '/ddfs/tag/authempty/a', undefined, '')).json).toBe('v');
    expect((await api('PUT', '/ddfs/tag/authempty/a2', '"v2"', '')).status).toBe(200);
  });

  it('write-token only: anyone reads, only the token writes', async () => {
    expect((await api('GET', '/ddfs/tag/authwr/a')).json).toBe('v');
    expect((await api('GET', '/ddfs/tag/authwr/a', undefined, 'rand')).json).toBe('v');
    expect(await api('PUT', '/ddfs/tag/authwr/a2', '"v2"')).toMatchObject(UNAUTH);
    expect(await api('PUT', '/ddfs/tag/authwr/a2', '"v2"', 'rand')).toMatchObject(UNAUTH);
    expect(await api('POST', '/ddfs/tag/authwr', [['x']])).toMatchObject(UNAUTH);
    expect(await api('DELETE', '/ddfs/tag/authwr')).toMatchObject(UNAUTH);
    expect(await api('GET', '/ddfs/tag/authwr/ddfs:write-token')).toMatchObject(UNAUTH);
    expect((await api('PUT', '/ddfs/tag/authwr/a2', '"v2"', 'wtr')).status).toBe(200);
    expect((await api('DELETE', '/ddfs/tag/authwr/a2', undefined, 'wtr')).status).toBe(200);
    // Setting a read-token needs the write token; then reads need a token.
    expect(await api('PUT', '/ddfs/tag/authwr/ddfs:read-token', '"r"')).toMatchObject(UNAUTH);
    expect((await api('PUT', '/ddfs/tag/authwr/ddfs:read-token', '"r"', 'wtr')).status).toBe(200);
    expect(await api('GET', '/ddfs/tag/authwr/a')).toMatchObject(UNAUTH);
    expect((await api('GET', '/ddfs/tag/authwr/a', undefined, 'r')).json).toBe('v');
    expect((await api('GET', '/ddfs/tag/authwr/a', undefined, 'wtr')).json).toBe('v');
    expect((await api('GET', '/ddfs/tag/authwr/ddfs:write-token', undefined, 'wtr')).json).toBe('wtr');
    expect(await api('GET', '/ddfs/tag/authwr/ddfs:write-token', undefined, 'r')).toMatchObject(UNAUTH);
    expect((await api('DELETE', '/ddfs/tag/authwr/ddfs:read-token', undefined, 'wtr')).status).toBe(200);
    expect((await api('GET', '/ddfs/tag/authwr/ddfs:read-token')).json).toBeNull();
  });

  it('read-token only: reads need it, writes are open', async () => {
    expect(await api('GET', '/ddfs/tag/authrd/a')).toMatchObject(UNAUTH);
    expect(await api('GET', '/ddfs/tag/authrd', undefined, 'rand')).toMatchObject(UNAUTH);
    expect((await api('GET', '/ddfs/tag/authrd/a', undefined, 'rdr')).json).toBe('v');
    expect((await api('PUT', '/ddfs/tag/authrd/a2', '"v2"')).status).toBe(200);
    expect((await api('DELETE', '/ddfs/tag/authrd/a2', undefined, 'rand')).status).toBe(200);
    // A wrong Authorization scheme counts as no token.
    const r = await fetch(`${c.url}/ddfs/tag/authrd/a`, { headers: { Authorization: 'Bearer rdr' } });
    expect(r.status).toBe(401);
  });

  it('creates a protected tag atomically (test_atomic_token)', async () => {
    expect((await api('POST', '/ddfs/tag/atomic1?update=1&delayed=1', [['x']], 'secret1')).status).toBe(200);
    expect(await api('GET', '/ddfs/tag/atomic1/foobar')).toMatchObject(UNAUTH);
    expect((await api('GET', '/ddfs/tag/atomic1/ddfs:write-token', undefined, 'secret1')).json).toBe(
      'secret1',
    );
    expect((await api('PUT', '/ddfs/tag/atomic2', [], 'secret2')).status).toBe(200);
    expect(await api('GET', '/ddfs/tag/atomic2/foobar')).toMatchObject(UNAUTH);
    await api('PUT', '/ddfs/tag/notoken', []);
    expect((await api('GET', '/ddfs/tag/notoken/ddfs:write-token')).json).toBeNull();
  });
});

describe('delete and list', () => {
  it('deletes (also a missing tag), hides, and recreates at once', async () => {
    expect(await api('DELETE', '/ddfs/tag/never-existed')).toMatchObject({ status: 200, json: 'deleted' });
    await api('PUT', '/ddfs/tag/disco:test:delete1', [['v1']]);
    expect(await api('DELETE', '/ddfs/tag/disco:test:delete1')).toMatchObject({
      status: 200,
      json: 'deleted',
    });
    expect(await api('GET', '/ddfs/tag/disco:test:delete1')).toMatchObject({
      status: 404,
      text: 'Tag not found.',
    });
    expect((await api('GET', '/ddfs/tags/disco:test')).json).not.toContain('disco:test:delete1');
    // Recreate right away: it stays recreated, with only the new content.
    expect((await api('POST', '/ddfs/tag/disco:test:delete1', [['v2']])).status).toBe(200);
    expect((await api('GET', '/ddfs/tag/disco:test:delete1/ddfs:urls')).json).toEqual([['v2']]);
    expect((await api('GET', '/ddfs/tags/disco:test')).json).toContain('disco:test:delete1');
    await c.restartMaster();
    expect((await api('GET', '/ddfs/tag/disco:test:delete1/ddfs:urls')).json).toEqual([['v2']]);
    expect((await api('GET', '/ddfs/tags/disco:test:delete1')).json).toEqual(['disco:test:delete1']);
    // Delete and recreate with a token, many times in a row.
    for (let i = 0; i < 5; i++) {
      await api('DELETE', '/ddfs/tag/disco:test:delete2', undefined, 'secret1');
      expect((await api('POST', '/ddfs/tag/disco:test:delete2', [[`r${i}`]], 'secret1')).status).toBe(200);
    }
    expect((await api('GET', '/ddfs/tag/disco:test:delete2/ddfs:urls', undefined, 'secret1')).json).toEqual([
      ['r4'],
    ]);
  });

  it('lists tags by prefix, with / meaning :', async () => {
    for (const t of ['lst:a:one', 'lst:a:two', 'lst:b', 'lstx']) await api('PUT', `/ddfs/tag/${t}`, []);
    expect((await api('GET', '/ddfs/tags/lst:a')).json).toEqual(['lst:a:one', 'lst:a:two']);
    expect((await api('GET', '/ddfs/tags/lst/a/')).json).toEqual(['lst:a:one', 'lst:a:two']);
    expect((await api('GET', '/ddfs/tags/lst')).json).toEqual(['lst:a:one', 'lst:a:two', 'lst:b', 'lstx']);
    expect((await api('GET', '/ddfs/tags/nosuchprefix')).json).toEqual([]);
    const all = (await api('GET', '/ddfs/tags')).json as string[];
    expect(all).toContain('lstx');
    expect(all).not.toContain('+deleted');
  });
});

describe('node faults', () => {
  it('keeps serving reads and writes with one node down, refuses unsafe reads with two', async () => {
    await api('PUT', '/ddfs/tag/faulty', [['before']]);
    await c.stopNode(2);
    await c.settle();
    expect((await api('GET', '/ddfs/tag/faulty/ddfs:urls')).json).toEqual([['before']]);
    const w = await api('POST', '/ddfs/tag/faulty', [['during']]);
    expect(w.status).toBe(200);
    expect(w.json).toHaveLength(2);
    const nb = (await api('GET', '/ddfs/new_blob/x?replicas=2')).json as string[];
    expect(nb.map((u) => new URL(u).hostname)).not.toContain(c.hosts[2]);
    expect((await api('GET', '/ddfs/new_blob/x')).status).toBe(403);

    await c.stopNode(1);
    await c.settle();
    expect(await api('GET', '/ddfs/tag/faulty')).toMatchObject({
      status: 500,
      text: 'Internal server error: too_many_failed_nodes',
    });
    expect((await api('GET', '/ddfs/tags')).status).toBe(500);

    await c.startNode(1);
    await c.startNode(2);
    await c.settle();
    expect((await api('GET', '/ddfs/tag/faulty/ddfs:urls')).json).toEqual([['during'], ['before']]);
  });
});

describe('ctrl', () => {
  it('answers the GC and admin endpoints', async () => {
    expect((await api('GET', '/ddfs/ctrl/gc_status')).status).toBe(200);
    expect((await api('GET', '/ddfs/ctrl/safe_gc_blacklist')).json).toEqual([]);
    expect(await api('POST', '/ddfs/ctrl/hosted_tags', '"nosuchhost"')).toMatchObject({
      status: 404,
      text: 'Unknown host.',
    });
  });
});
