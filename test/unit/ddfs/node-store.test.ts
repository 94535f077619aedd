/** The node side of DDFS: volumes, the PUT server (wire spec §5.1, §5.2) and the internal API. */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type PutServer, startPutServer } from '../../../src/ddfs/node/put-server.js';
import { NodeStore } from '../../../src/ddfs/node/store.js';
import { Volumes } from '../../../src/ddfs/node/volumes.js';
import { signRequest } from '../../../src/ddfs/node-api.js';

const HOST = '127.0.0.2';
const SECRET = 's3cret';
let root: string;
let store: NodeStore;
let server: PutServer;
let base: string;

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'ddfs-node-'));
  store = await NodeStore.open(root, HOST);
  server = await startPutServer({ store, listenHost: HOST, port: 0, secret: SECRET });
  base = `http://${HOST}:${server.port}`;
});

afterEach(async () => {
  await server.close();
  await fs.rm(root, { recursive: true, force: true });
});

function md5hh(s: string): string {
  return createHash('md5').update(s).digest('hex').slice(0, 2);
}

async function internal(method: string, p: string, body?: string | Buffer, secret = SECRET) {
  return fetch(`${base}${p}`, {
    method,
    body,
    headers: secret ? { 'X-Disco-Auth': signRequest(secret, method, p) } : {},
  });
}

describe('volumes', () => {
  it('creates vol0 with blob/ and tag/ when there is no volume', async () => {
    expect(store.volumes.list().map((v) => v.name)).toEqual(['vol0']);
    await fs.access(path.join(root, 'vol0', 'blob'));
    await fs.access(path.join(root, 'vol0', 'tag'));
    expect(store.volumes.disk().free).toBeGreaterThan(0);
  });

  it('uses every vol* directory and puts new objects on the emptiest one', async () => {
    const r2 = await fs.mkdtemp(path.join(os.tmpdir(), 'ddfs-vols-'));
    try {
      await fs.mkdir(path.join(r2, 'vol1'));
      await fs.mkdir(path.join(r2, 'vol2'));
      await fs.mkdir(path.join(r2, 'other'));
      const v = await Volumes.open(r2);
      expect(v.list().map((x) => x.name)).toEqual(['vol1', 'vol2']);
      const [a, b] = v.list();
      a.free = 10;
      b.free = 20;
      expect(v.choose().name).toBe('vol2');
      a.free = 30;
      expect(v.choose().name).toBe('vol1');
      expect(v.disk().free).toBe(50);
    } finally {
      await fs.rm(r2, { recursive: true, force: true });
    }
  });
});

describe('PUT server: blobs', () => {
  it('stores a blob under vol/blob/HH with mode 0400 and answers 201 with its disco:// URL', async () => {
    const obj = 'data:log$5dc-1a2b3-4c5d6';
    const r = await fetch(`${base}/ddfs/${obj}`, { method: 'PUT', body: 'hello blob' });
    expect(r.status).toBe(201);
    expect(r.headers.get('content-type')).toBe('application/json');
    const hh = md5hh(obj);
    expect(await r.json()).toBe(`disco://${HOST}/ddfs/vol0/blob/${hh}/${obj}`);
    const file = path.join(root, 'vol0', 'blob', hh, obj);
    expect(await fs.readFile(file, 'utf8')).toBe('hello blob');
    expect((await fs.stat(file)).mode & 0o777).toBe(0o400);
    // No partial file remains.
    expect((await fs.readdir(path.dirname(file))).filter((f) => f.startsWith('!'))).toEqual([]);
  });

  it('refuses to overwrite: 500 File exists', async () => {
    const obj = 'dup$5dc-1-2';
    expect((await fetch(`${base}/ddfs/${obj}`, { method: 'PUT', body: 'one' })).status).toBe(201);
    const r = await fetch(`${base}/ddfs/${obj}`, { method: 'PUT', body: 'two' });
    expect(r.status).toBe(500);
    expect(await r.text()).toMatch(/^File exists/);
    expect(await fs.readFile(path.join(root, 'vol0', 'blob', md5hh(obj), obj), 'utf8')).toBe('one');
  });

  it('stores empty blobs', async () => {
    const r = await fetch(`${base}/ddfs/empty$5dc-1-3`, { method: 'PUT', body: '' });
    expect(r.status).toBe(201);
  });

  it.each([
    ['no dollar', 'name'],
    ['two dollars', 'a$5dc-1-2$5dc-1-2'],
    ['bad characters', 'a%20b$5dc-1-2'],
    ['bad timestamp', 'a$zz'],
    ['path trick', '..%2F..%2Fetc$5dc-1-2'],
    ['slash', 'a/b$5dc-1-2'],
    ['empty name', '$5dc-1-2'],
  ])('answers 403 Invalid blob name for %s', async (_what, obj) => {
    const r = await fetch(`${base}/ddfs/${obj}`, { method: 'PUT', body: 'x' });
    expect(r.status).toBe(403);
    expect(await r.text()).toBe('Invalid blob name');
  });

  it('answers 501 to other methods and 404 to other paths', async () => {
    expect((await fetch(`${base}/ddfs/a$5dc-1-2`)).status).toBe(501);
    expect((await fetch(`${base}/ddfs/a$5dc-1-2`, { method: 'POST', body: 'x' })).status).toBe(501);
    expect((await fetch(`${base}/disco/a`, { method: 'PUT', body: 'x' })).status).toBe(404);
  });

  it('strips the /proxy/<node>/<METHOD> prefix', async () => {
    const r = await fetch(`${base}/proxy/${HOST}/PUT/ddfs/px$5dc-1-2`, { method: 'PUT', body: 'p' });
    expect(r.status).toBe(201);
  });

  it('streams a large blob to disk', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 7);
    let n = 0;
    const body = new Readable({
      read() {
        this.push(n++ < 64 ? chunk : null);
      },
    });
    const r = await fetch(`${base}/ddfs/big$5dc-1-4`, {
      method: 'PUT',
      body: Readable.toWeb(body) as ReadableStream,
      duplex: 'half',
    } as RequestInit);
    expect(r.status).toBe(201);
    const url = (await r.json()) as string;
    const rel = url.replace(`disco://${HOST}/ddfs/`, '');
    expect((await fs.stat(path.join(root, rel))).size).toBe(64 * 1024 * 1024);
  });
});

describe('PUT server: internal storage API', () => {
  it('refuses requests without a valid proof of DISCO_SECRET', async () => {
    expect((await internal('GET', '/ddfs/!tags', undefined, '')).status).toBe(401);
    expect((await internal('GET', '/ddfs/!tags', undefined, 'wrong')).status).toBe(401);
    const stale = await fetch(`${base}/ddfs/!tags`, {
      headers: { 'X-Disco-Auth': signRequest(SECRET, 'GET', '/ddfs/!tags', Date.now() - 3_600_000) },
    });
    expect(stale.status).toBe(401);
    // A proof is bound to its method and path.
    const other = await fetch(`${base}/ddfs/!tags`, {
      headers: { 'X-Disco-Auth': signRequest(SECRET, 'GET', '/ddfs/!objects') },
    });
    expect(other.status).toBe(401);
    expect((await internal('GET', '/ddfs/!tags')).status).toBe(200);
  });

  it('writes a tag version in two phases and indexes the newest version', async () => {
    const id1 = 'mytag$5dc-1-1';
    const id2 = 'mytag$5dc-1-2';
    for (const id of [id2, id1]) {
      const put = await internal('PUT', `/ddfs/!tagdata/${id}`, JSON.stringify({ id }));
      expect(put.status).toBe(200);
      const { vol } = (await put.json()) as { vol: string };
      expect(vol).toBe('vol0');
      // Not visible before the commit.
      await expect(fs.access(path.join(root, 'vol0', 'tag', md5hh(id), id))).rejects.toThrow();
      const commit = await internal('POST', `/ddfs/!tagcommit/${vol}/${id}`);
      expect(await commit.json()).toEqual({ url: `disco://${HOST}/ddfs/vol0/tag/${md5hh(id)}/${id}` });
    }
    expect(await (await internal('GET', '/ddfs/!tag/mytag')).json()).toEqual({ ts: '5dc-1-2', vol: 'vol0' });
    expect(await (await internal('GET', '/ddfs/!tags')).json()).toEqual([['mytag', '5dc-1-2', 'vol0']]);
    expect(await (await internal('GET', `/ddfs/!tagdata/vol0/${id2}`)).json()).toEqual({ id: id2 });
    expect((await internal('GET', '/ddfs/!tag/nosuch')).status).toBe(404);
    expect((await internal('GET', '/ddfs/!tagdata/vol0/nosuch$5dc-1-1')).status).toBe(404);
    // A committed version is never replaced.
    await internal('PUT', `/ddfs/!tagdata/${id2}`, '{}');
    expect((await internal('POST', `/ddfs/!tagcommit/vol0/${id2}`)).status).toBe(409);

    // A restarted node finds its tags again.
    const again = await NodeStore.open(root, HOST);
    expect(again.tagVersion('mytag')).toEqual({ ts: '5dc-1-2', vol: 'vol0' });
  });

  it('refuses path tricks in internal requests', async () => {
    expect((await internal('GET', '/ddfs/!tagdata/..%2F..%2Fetc/passwd$5dc-1-1')).status).toBe(400);
    expect((await internal('GET', '/ddfs/!tagdata/vol0/..%2F..%2Fx')).status).toBe(400);
    expect((await internal('PUT', '/ddfs/!tagdata/..%2Fx$5dc-1-1', '{}')).status).toBe(400);
  });

  it('lists objects, deletes them (paranoid: to !trash) and prunes old partial files', async () => {
    await fetch(`${base}/ddfs/b1$5dc-1-1`, { method: 'PUT', body: 'b1' });
    await fetch(`${base}/ddfs/b2$5dc-1-2`, { method: 'PUT', body: 'b22' });
    await internal('PUT', '/ddfs/!tagdata/t$5dc-1-1', '{}');
    await internal('POST', '/ddfs/!tagcommit/vol0/t$5dc-1-1');
    await internal('PUT', '/ddfs/!tagdata/t$5dc-1-2', '{}'); // left partial
    const list = (await (await internal('GET', '/ddfs/!objects')).json()) as {
      blobs: [string, string, number, number][];
      tags: [string, string, number, number][];
    };
    expect(list.blobs.map((b) => [b[0], b[1], b[2]]).sort()).toEqual([
      ['vol0', 'b1$5dc-1-1', 2],
      ['vol0', 'b2$5dc-1-2', 3],
    ]);
    expect(list.tags.map((t) => t[1])).toEqual(['t$5dc-1-1']);

    const del = await internal(
      'POST',
      '/ddfs/!delete',
      JSON.stringify({
        objects: [
          ['vol0', 'blob', 'b1$5dc-1-1'],
          ['vol0', 'blob', 'b2$5dc-1-2'],
          ['vol0', 'tag', 't$5dc-1-1'],
          ['vol0', 'blob', '../x$5dc-1-1'],
        ],
        paranoid: false,
      }),
    );
    expect(await del.json()).toEqual({ deleted: 3 });
    expect(store.tagVersion('t')).toBeNull();

    await fetch(`${base}/ddfs/b3$5dc-1-3`, { method: 'PUT', body: 'b3' });
    const para = await internal(
      'POST',
      '/ddfs/!delete',
      JSON.stringify({ objects: [['vol0', 'blob', 'b3$5dc-1-3']], paranoid: true }),
    );
    expect(await para.json()).toEqual({ deleted: 1 });
    const dir = path.join(root, 'vol0', 'blob', md5hh('b3$5dc-1-3'));
    expect(await fs.readdir(dir)).toEqual(['!trash.b3$5dc-1-3']);

    expect(await (await internal('POST', '/ddfs/!partials/prune', '{"olderThanMs":3600000}')).json()).toEqual(
      {
        deleted: 0,
      },
    );
    expect(await (await internal('POST', '/ddfs/!partials/prune', '{"olderThanMs":0}')).json()).toEqual({
      deleted: 1,
    });
  });
});
