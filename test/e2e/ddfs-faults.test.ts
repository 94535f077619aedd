/**
 * DDFS faults and bad input with real processes: a node of three is SIGKILLed while clients
 * push and read (blobs K = 2, tags on 3 nodes, reads safe with one node down): no acknowledged
 * write is lost, every read is served, and the node comes back with its data. Then bad input
 * over HTTP against the master, the nodes' PUT servers and data servers: invalid names, path
 * tricks, oversized and malformed bodies, wrong tokens.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Settings } from '../../src/common/settings.js';
import { DDFS } from '../../src/ddfs/client/ddfs.js';
import { urlHost } from '../../src/protocol/urls.js';
import { runCli } from '../harness/cli.js';
import { type Cluster, startCluster } from '../harness/cluster.js';
import { readBlob } from './helpers.js';

let c: Cluster;
let ddfs: DDFS;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  c = await startCluster({
    nodes: 3,
    cores: 1,
    env: { DDFS_BLOB_REPLICAS: '2', DDFS_TAG_REPLICAS: '3', DDFS_TAG_MIN_REPLICAS: '2' },
  });
  ddfs = new DDFS(c.master, { settings: new Settings({ DISCO_PORT: String(c.port) }, {}, {}) });
});
afterAll(async () => {
  await c?.stop();
});

const ddfsCli = (args: string[]) => runCli('ddfs', args, { env: c.env });

describe('a node killed during pushes and reads', () => {
  test('no acknowledged data is lost, reads are served, the node comes back', async () => {
    const base = Array.from({ length: 6 }, () => randomBytes(300_000));
    const baseNames = base.map((_, i) => `base${i}`);
    await ddfs.push(
      'faults:base',
      base.map((b, i) => [b, baseNames[i]]),
    );
    const want = new Map(baseNames.map((n, i) => [n, sha(base[i])]));

    let stop = false;
    const acked = new Map<string, string>();
    const pushErrors: string[] = [];
    let pushedAfterKill = 0;
    let killed = false;
    const pusher = (async () => {
      for (let i = 0; !stop; i++) {
        const data = randomBytes(64_000 + (i % 7) * 10_000);
        try {
          await ddfs.push('faults:live', [[data, `live${i}`]]);
          acked.set(`live${i}`, sha(data));
          if (killed) pushedAfterKill++;
        } catch (e) {
          pushErrors.push((e as Error).message);
        }
      }
    })();
    let readsAfterKill = 0;
    const readErrors: string[] = [];
    const reader = (async () => {
      while (!stop) {
        try {
          for await (const blob of ddfs.pull('faults:base')) {
            expect(sha(await blob.read())).toBe(want.get(blob.name));
            if (killed) readsAfterKill++;
          }
        } catch (e) {
          readErrors.push((e as Error).message);
        }
      }
    })();

    await new Promise((r) => setTimeout(r, 800));
    await c.killNode(1);
    killed = true;
    // A separate process reads everything while the node is down.
    const cat = await ddfsCli(['cat', 'faults:base']);
    expect(cat.code, cat.err).toBe(0);
    expect(sha(cat.out)).toBe(sha(Buffer.concat([...base])));
    await new Promise((r) => setTimeout(r, 2000));
    stop = true;
    await Promise.all([pusher, reader]);

    expect(readErrors).toEqual([]);
    expect(readsAfterKill).toBeGreaterThan(0);
    expect(pushErrors).toEqual([]);
    expect(pushedAfterKill).toBeGreaterThan(0);
    expect(acked.size).toBeGreaterThan(3);
    // Every acknowledged push is in the tag and readable, while the node is still down.
    const live = await ddfs.urls('faults:live');
    const byName = new Map(live.map((set) => [DDFS.blobName(set[0]), set]));
    for (const [name, hash] of acked) {
      const set = byName.get(name);
      expect(set, name).toBeDefined();
      expect(set).toHaveLength(2);
      expect(sha(await readBlob(c.port, set!))).toBe(hash);
    }

    // The node comes back with its replicas (written before the kill) intact.
    await c.startNode(1);
    const host = c.nodes[1].host;
    let onNode = 0;
    for (const set of [...(await ddfs.urls('faults:base')), ...live]) {
      for (const url of set.filter((u) => urlHost(u) === host)) {
        const data = await readBlob(c.port, [url]);
        const name = DDFS.blobName(url);
        expect(sha(data)).toBe(want.get(name) ?? acked.get(name));
        onNode++;
      }
    }
    expect(onNode).toBeGreaterThan(0);
    // And takes writes again.
    const [, [set]] = await ddfs.push('faults:after', [[Buffer.from('x'), 'x']], { replicas: 3 });
    expect(set.map(urlHost).sort()).toEqual(c.nodes.map((n) => n.host).sort());
  });

  test('with two of three nodes down, tag reads fail clearly; blobs stay readable where they are', async () => {
    const [, [set]] = await ddfs.push('faults:two', [[Buffer.from('survivor'), 's']], { replicas: 3 });
    await c.killNode(1);
    await c.killNode(2);
    try {
      // Tag reads could miss the newest version: refused (not answered with stale data).
      const deadline = Date.now() + 10_000;
      let err: { status?: number; message: string } | null = null;
      while (Date.now() < deadline) {
        err = await ddfs.get('faults:two').then(
          () => null,
          (e: { status?: number; message: string }) => e,
        );
        if (err) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(err?.status).toBe(500);
      expect(err?.message).toMatch(/too_many_failed_nodes/);
      const cat = await ddfsCli(['cat', 'faults:two']);
      expect(cat.code).toBe(1);
      expect(cat.err).toMatch(/^ddfs: Internal server error: too_many_failed_nodes/);
      const local = set.find((u) => urlHost(u) === c.nodes[0].host)!;
      expect((await readBlob(c.port, [local])).toString()).toBe('survivor');
    } finally {
      await c.startNode(1);
      await c.startNode(2);
    }
    expect((await readBlob(c.port, (await ddfs.urls('faults:two'))[0])).toString()).toBe('survivor');
  });
});

/** A raw HTTP request (paths are sent exactly as given, no normalisation). */
function raw(
  url: string,
  rawPath: string,
  opts: { method?: string; headers?: Record<string, string | number>; body?: Buffer | string } = {},
): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: rawPath,
        method: opts.method ?? 'GET',
        headers: opts.headers,
        agent: false,
      },
      (res) => {
        let body = '';
        res.on('data', (b: Buffer) => {
          body += b.toString('utf8');
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('bad input over HTTP', () => {
  const putUrl = () => `http://${c.nodes[0].host}:${c.env.DDFS_PUT_PORT}`;
  const dataUrl = () => `http://${c.nodes[0].host}:${c.port}`;

  test('invalid tag and blob names', async () => {
    for (const name of [
      'bad!name',
      'a%20b',
      '%2e%2e',
      '..',
      'x%2Fy',
      'a$b',
      '+deleted',
      'x'.repeat(512),
      '',
    ]) {
      const r = await raw(c.master, `/ddfs/tag/${name}`);
      expect([403, 404], `tag ${name}: ${r.status} ${r.body}`).toContain(r.status);
      expect((await raw(c.master, `/ddfs/tag/${name}`, { method: 'POST', body: '[]' })).status, name).toBe(
        403,
      );
    }
    expect(await raw(c.master, '/ddfs/tag/bad!name')).toEqual({ status: 403, body: 'Invalid tag' });
    expect(await raw(c.master, '/ddfs/new_blob/bad!name')).toEqual({ status: 403, body: 'Invalid prefix.' });
    expect((await raw(c.master, '/ddfs/new_blob/ok?replicas=99')).body).toBe(
      'Not enough nodes for replicas.',
    );
    expect((await raw(c.master, '/ddfs/new_blob/ok?replicas=-1')).status).toBe(400);
    for (const obj of [
      'noTimestamp',
      'a$b$c',
      'bad%20name$5dc-1-2',
      '..$5dc-1-2',
      '%2e%2e%2fx$5dc-1-2',
      'x$zz',
    ]) {
      const r = await raw(putUrl(), `/ddfs/${obj}`, { method: 'PUT', body: 'data' });
      expect(r, obj).toEqual({ status: 403, body: 'Invalid blob name' });
    }
    expect((await raw(putUrl(), '/ddfs/ok$5dc-1-2', { method: 'GET' })).status).toBe(501);
    expect((await raw(putUrl(), '/elsewhere/ok$5dc-1-2', { method: 'PUT', body: 'x' })).status).toBe(404);
    // An existing blob is never overwritten.
    const first = await raw(putUrl(), '/ddfs/dup$5dc-1-2', { method: 'PUT', body: 'one' });
    expect(first.status).toBe(201);
    expect(await raw(putUrl(), '/ddfs/dup$5dc-1-2', { method: 'PUT', body: 'two' })).toEqual({
      status: 500,
      body: 'File exists',
    });
    expect(await readBlob(c.port, [JSON.parse(first.body) as string])).toEqual(Buffer.from('one'));
  });

  test('path tricks never reach files outside the data roots', async () => {
    const tricks = [
      '/ddfs/../../../../etc/passwd',
      '/ddfs/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
      '/ddfs/vol0/../../../../../etc/passwd',
      '/ddfs/vol0/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      '/ddfs//etc/passwd',
      '/ddfs/%2fetc%2fpasswd',
      '/disco/../../../../etc/passwd',
      '/ddfs/vol0/blob/%00/x',
    ];
    for (const base of [c.master, dataUrl()]) {
      for (const p of tricks) {
        const r = await raw(base, p);
        expect(r.body, `${base}${p}`).not.toMatch(/root:/);
        expect([400, 403, 404], `${base}${p}: ${r.status}`).toContain(r.status);
      }
    }
    // Tag paths with traversal are just invalid names; internal node API paths need the secret
    // and never serve files.
    expect((await raw(c.master, '/ddfs/tag/..%2F..%2Fetc%2Fpasswd')).status).toBe(403);
    expect((await raw(c.master, '/ddfs/tag/x/../../etc/passwd')).status).toBe(404);
    const internal = await raw(putUrl(), '/ddfs/!tagdata/vol0/..%2F..%2F..%2Fetc%2Fpasswd');
    expect(internal.body).not.toMatch(/root:/);
  });

  test('oversized and malformed bodies', async () => {
    await ddfs.tag('bad:body', []);
    // Declared too big: refused at once, without waiting for the body.
    const big = await raw(c.master, '/ddfs/tag/bad:body', {
      method: 'POST',
      headers: { 'content-length': 600 * 1024 * 1024 },
      body: '[]',
    }).catch((e: Error) => ({ status: -1, body: e.message }));
    expect(big.status === 403 || big.status === -1, JSON.stringify(big)).toBe(true);
    // Attribute values over 1024 bytes, whatever their declared length.
    const value = JSON.stringify('v'.repeat(5000));
    expect(await raw(c.master, '/ddfs/tag/bad:body/attr', { method: 'PUT', body: value })).toEqual({
      status: 403,
      body: 'Attribute value too big.',
    });
    expect(
      (await raw(c.master, `/ddfs/tag/bad:body/${'n'.repeat(2000)}`, { method: 'PUT', body: '"v"' })).status,
    ).toBe(403);
    for (const body of ['not json', '{"urls": 1}', '[1, 2]', '[["ok"], "notalist"]', '[[1]]', '', '[[']) {
      const r = await raw(c.master, '/ddfs/tag/bad:body', { method: 'POST', body });
      expect(r.status, `POST ${body}: ${r.body}`).toBe(403);
      const p = await raw(c.master, '/ddfs/tag/bad:body', { method: 'PUT', body });
      expect(p.status, `PUT ${body}: ${p.body}`).toBe(403);
    }
    for (const body of ['42', '["a"]', '{"a":1}', 'nope', 'null']) {
      const r = await raw(c.master, '/ddfs/tag/bad:body/attr', { method: 'PUT', body });
      expect(r.status, `attr ${body}: ${r.body}`).toBe(403);
    }
    expect((await raw(c.master, '/ddfs/ctrl/hosted_tags', { method: 'POST', body: '42' })).status).toBe(403);
    expect((await raw(c.master, '/ddfs/ctrl/hosted_tags', { method: 'POST', body: '"nohost"' })).status).toBe(
      404,
    );
    // The tag is unharmed.
    expect(await ddfs.urls('bad:body')).toEqual([]);
  });

  test('wrong tokens', async () => {
    const auth = (t: string) => ({ authorization: `Basic ${Buffer.from(`token:${t}`).toString('base64')}` });
    expect(
      (await raw(c.master, '/ddfs/tag/tok:t', { method: 'POST', body: '[]', headers: auth('good') })).status,
    ).toBe(200);
    for (const headers of [
      {},
      auth('bad'),
      auth(''),
      { authorization: 'Basic !!!not-base64' },
      { authorization: `Basic ${Buffer.from('user:good').toString('base64')}` },
      { authorization: 'Bearer good' },
    ]) {
      expect(await raw(c.master, '/ddfs/tag/tok:t', { headers })).toEqual({
        status: 401,
        body: 'Incorrect or missing token.',
      });
      expect((await raw(c.master, '/ddfs/tag/tok:t', { method: 'POST', body: '[]', headers })).status).toBe(
        401,
      );
      expect((await raw(c.master, '/ddfs/tag/tok:t/a', { method: 'PUT', body: '"x"', headers })).status).toBe(
        401,
      );
      expect((await raw(c.master, '/ddfs/tag/tok:t', { method: 'DELETE', headers })).status).toBe(401);
    }
    expect((await raw(c.master, '/ddfs/tag/tok:t', { headers: auth('good') })).status).toBe(200);
  });
});
