/**
 * The DDFS client library against a real one-node cluster (defaults: one replica of
 * everything): the scenarios of the original's tests/test_ddfs.py, plus chunking, walks and
 * tokens from URLs and settings.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommError } from '../../../src/common/errors.js';
import { Settings } from '../../../src/common/settings.js';
import { putBlob } from '../../../src/ddfs/client/blob-put.js';
import type { ByteTransform } from '../../../src/ddfs/client/chunk-input.js';
import { canonizeTag, DDFS, InvalidTag } from '../../../src/ddfs/client/ddfs.js';
import { blobName } from '../../../src/ddfs/names.js';
import { BufferSource, readRecords } from '../../../src/protocol/record-stream.js';
import { type DdfsCluster, startDdfsCluster } from './cluster.js';

let c: DdfsCluster;
let ddfs: DDFS;
let tmp: string;
const data = (s: string) => [Buffer.from(s), 'blobdata'] as [Buffer, string];

function client(extra: Record<string, string> = {}, token?: string): DDFS {
  const port = new URL(c.url).port;
  return new DDFS(c.url, { token, settings: new Settings({ DISCO_PORT: port, ...extra }, {}, {}) });
}

beforeAll(async () => {
  c = await startDdfsCluster({ nodes: 1 });
  ddfs = client();
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ddfs-client-'));
});

afterAll(async () => {
  await c?.stop();
  await fs.rm(tmp, { recursive: true, force: true });
});

async function names(tag: string): Promise<string[]> {
  const out: string[] = [];
  for await (const set of ddfs.blobs(tag)) out.push(DDFS.blobName(set[0]));
  return out.reverse();
}

async function expectStatus(p: Promise<unknown>, status: number) {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(CommError);
  expect((e as CommError).status).toBe(status);
}

describe('names and URLs', () => {
  it('canonizes tags and blob names as the original', () => {
    expect(canonizeTag('a:b')).toBe('tag://a:b');
    expect(canonizeTag('tag://x')).toBe('tag://x');
    expect(() => canonizeTag('./file')).toThrow(InvalidTag);
    expect(() => canonizeTag('http://x/y')).toThrow(InvalidTag);
    expect(DDFS.blobName('disco://h/ddfs/vol0/blob/ab/name$5dc-1-2')).toBe('name');
    // The worker's copy (it does not load the client): the same name for the same URL.
    for (const url of [
      'disco://h/ddfs/vol0/blob/ab/name$5dc-1-2',
      'http://h:8989/ddfs/vol0/blob/ab/a:b@c$1-2-3',
      'x',
    ])
      expect(blobName(url)).toBe(DDFS.blobName(url));
    expect(DDFS.safeName('a b/c.txt')).toBe('a_b_c_txt');
    const d = new DDFS('disco://somehost', { settings: new Settings({ DISCO_PORT: '1234' }, {}, {}) });
    expect(d.master).toBe('http://somehost:1234');
  });
});

describe('update semantics (test_ddfs.DDFSUpdateTestCase)', () => {
  it('update_empty_new, update, no_garbage', async () => {
    await ddfs.push('t:upd', [], { update: true });
    expect(await names('t:upd')).toEqual([]);
    for (let i = 0; i < 5; i++)
      await ddfs.push(
        't:upd',
        [data('x'), data('x')].map(([b]) => [b, 'dup']),
        { update: true },
      );
    expect(await names('t:upd')).toHaveLength(1);
    for (let i = 0; i < 3; i++)
      await ddfs.push('t:upd', [[Buffer.from('x'), 'dup2']], { update: true, delayed: true });
    expect(await names('t:upd')).toEqual(['dup', 'dup2']);
    const pre = await ddfs.get('t:upd');
    await ddfs.tag('t:upd', pre.urls, { update: true });
    expect((await ddfs.get('t:upd')).id).toBe(pre.id);
  });

  it('random and mixed ordering', async () => {
    const keys = Array.from({ length: 20 }, () => String(1 + Math.floor(Math.random() * 6)));
    const ukeys: string[] = [];
    for (const k of keys) {
      await ddfs.push('t:random', [[Buffer.from('d'), k]], { update: true });
      if (!ukeys.includes(k)) ukeys.push(k);
    }
    expect(await names('t:random')).toEqual(ukeys);

    const want: string[] = [];
    for (const k of ['0', '1', '2']) {
      await ddfs.push('t:mixed', [
        [Buffer.from('d'), k],
        [Buffer.from('d'), k],
      ]);
      want.push(k, k);
    }
    for (const k of ['0', '1', '2', '3', '4']) {
      await ddfs.push(
        't:mixed',
        [
          [Buffer.from('d'), k],
          [Buffer.from('d'), k],
        ],
        { update: true },
      );
      if (Number(k) > 2) want.push(k);
    }
    for (const k of ['0', '1']) {
      await ddfs.push(
        't:mixed',
        [
          [Buffer.from('d'), k],
          [Buffer.from('d'), k],
        ],
        { delayed: true },
      );
      want.push(k, k);
    }
    expect(await names('t:mixed')).toEqual(want);
  });
});

describe('write and read (DDFSWriteTestCase, DDFSReadTestCase)', () => {
  it('push, tag, put, exists, delete', async () => {
    await ddfs.push('t:blobs', [data('blobdata')]);
    expect(await ddfs.exists('t:blobs')).toBe(true);
    await ddfs.push('tag://t:blobs2', [data('blobdata')]);
    expect(await ddfs.exists('t:blobs2')).toBe(true);
    await ddfs.delete('t:blobs');
    expect(await ddfs.exists('t:blobs')).toBe(false);
    await ddfs.tag('t:tag', [['urls']]);
    await ddfs.tag('t:tag', [['more_urls']]);
    expect((await ddfs.urls('t:tag')).sort()).toEqual([['more_urls'], ['urls']]);
    await ddfs.put('t:put', [['tags']]);
    expect(await ddfs.urls('t:put')).toEqual([['tags']]);
    await ddfs.put('t:putnew', []);
    expect(await ddfs.exists('t:putnew')).toBe(true);
    await ddfs.delete('t:never-there');
  });

  it('pull order, filters and empty blobs; 404s', async () => {
    await ddfs.push('t:pull', [[Buffer.from('datablob'), 'blobdata']]);
    await ddfs.push('t:pull', [[Buffer.from('datablob2'), 'blobdata2']]);
    await ddfs.push('t:empty', [[Buffer.alloc(0), 'empty']]);
    const got: [string, string][] = [];
    for await (const b of ddfs.pull('t:pull')) got.push([b.name, (await b.read()).toString()]);
    expect(got).toEqual([
      ['blobdata2', 'datablob2'],
      ['blobdata', 'datablob'],
    ]);
    const filtered: string[] = [];
    for await (const b of ddfs.pull('t:pull', { blobfilter: (n) => n.includes('2') })) filtered.push(b.name);
    expect(filtered).toEqual(['blobdata2']);
    for await (const b of ddfs.pull('t:empty')) expect((await b.read()).length).toBe(0);
    await expectStatus(ddfs.pull('t:notag').next(), 404);
    await expectStatus(ddfs.get('t:notag'), 404);
    expect(await ddfs.exists('t:notag')).toBe(false);
    const none: string[][] = [];
    for await (const s of ddfs.blobs('t:notag')) none.push(s);
    expect(none).toEqual([]);
    await expectStatus(
      (async () => {
        for await (const _ of ddfs.blobs('t:notag', { ignoreMissing: false })) void _;
      })(),
      404,
    );
  });

  it('walks a tag graph with cycles', async () => {
    await ddfs.tag('t:leaf', [['urls']]);
    await ddfs.push('t:leaf2', [data('x')]);
    await ddfs.tag('t:meta', [['tag://t:leaf'], ['tag://t:meta'], ['tag://t:leaf2']]);
    const steps: [string[], number][] = [];
    for await (const [p, , blobs] of ddfs.walk('t:meta')) steps.push([p, blobs?.length ?? -1]);
    expect(steps.map((s) => s[0].join('>'))).toEqual([
      'tag://t:meta',
      'tag://t:meta>tag://t:leaf',
      'tag://t:meta>tag://t:leaf>tag://urls',
      'tag://t:meta>tag://t:leaf2',
    ]);
    const blobs: string[][] = [];
    for await (const b of ddfs.blobs('t:meta')) blobs.push(b);
    expect(blobs).toHaveLength(1);
  });

  it('lists by prefix', async () => {
    await ddfs.tag('t:list:one', [['u']]);
    expect(await ddfs.list('t:list')).toEqual(['t:list:one']);
    expect(await ddfs.list('t:nolist')).toEqual([]);
    expect(await ddfs.list()).toContain('t:list:one');
  });

  it('pushes files by path and from stream factories', async () => {
    const f = path.join(tmp, 'my file.txt');
    await fs.writeFile(f, 'file content');
    const [, blobs] = await ddfs.push('t:files', [
      f,
      [{ open: () => Readable.from(['a', 'b']) }, 'streamed'],
    ]);
    expect(blobs.map((s) => DDFS.blobName(s[0]))).toEqual(['my_file_txt', 'streamed']);
    const got: string[] = [];
    for await (const b of ddfs.pull('t:files')) got.push((await b.read()).toString());
    expect(got).toEqual(['file content', 'ab']);
  });
});

describe('attributes and tokens', () => {
  it('attrs, getattr, setattr, delattr', async () => {
    await ddfs.push('t:attrs', [data('x')]);
    await ddfs.setattr('t:attrs', 'a1', 'v1');
    await ddfs.setattr('t:attrs', 'a2', 'v2');
    expect(await ddfs.attrs('t:attrs')).toEqual({ a1: 'v1', a2: 'v2' });
    await ddfs.delattr('t:attrs', 'a1');
    expect(await ddfs.attrs('t:attrs')).toEqual({ a2: 'v2' });
    await ddfs.delattr('t:attrs', 'zz');
    await expectStatus(ddfs.setattr('t:attrs', 'ddfs:a1', 'v'), 404);
  });

  it('takes tokens from arguments, tag:// URLs, the constructor and the settings', async () => {
    await ddfs.push('t:auth', [data('x')], { token: 'sec' });
    await expectStatus(ddfs.get('t:auth'), 401);
    expect(await ddfs.exists('t:auth')).toBe(true);
    expect((await ddfs.get('t:auth', { token: 'sec' })).urls).toHaveLength(1);
    expect((await ddfs.get('tag://user:sec@/t:auth')).urls).toHaveLength(1);
    expect(await client({}, 'sec').getattr('t:auth', 'ddfs:write-token')).toBe('sec');
    const envClient = client({ DDFS_READ_TOKEN: 'sec', DDFS_WRITE_TOKEN: 'nope' });
    expect((await envClient.urls('t:auth')).length).toBe(1);
    await expectStatus(envClient.setattr('t:auth', 'a', 'v'), 401);
    await ddfs.setattr('t:auth', 'ddfs:read-token', 'r2', { token: 'sec' });
    expect((await ddfs.urls('t:auth', { token: 'r2' })).length).toBe(1);
    await ddfs.delete('t:auth', { token: 'sec' });
    expect(await ddfs.exists('t:auth')).toBe(false);
  });
});

describe('chunk', () => {
  it('cuts a text file into record-aligned chunks and tags them', async () => {
    const lines = Array.from({ length: 30_000 }, (_, i) => `line ${i} ${'x'.repeat(i % 50)}`);
    const file = path.join(tmp, 'big.txt');
    await fs.writeFile(file, `${lines.join('\n')}\n`);
    const [tagUrls, blobs] = await ddfs.chunk('t:chunk', [file], { chunkSize: 64 * 1024 });
    expect(tagUrls).toHaveLength(1);
    expect(blobs.length).toBeGreaterThan(1);
    expect(blobs.map((b) => DDFS.blobName(b[0]))).toEqual(blobs.map((_, i) => `big_txt-${i}`));
    const got: unknown[] = [];
    for await (const b of ddfs.pull('t:chunk')) {
      const recs = [...readRecords(new BufferSource(await b.read()))];
      got.push(...recs.map(([k]) => k));
    }
    // One POST keeps the chunks in order; no record is split across chunks.
    expect(got).toEqual(lines);
  });

  it('accepts raw:// inputs and a custom reader', async () => {
    const [, blobs] = await ddfs.chunk('t:chunk2', ['raw://a,b,c'], {
      reader: async function* (bytes) {
        let s = '';
        for await (const b of bytes) s += b.toString();
        for (const x of s.split(',')) yield [x, x.toUpperCase()];
      },
    });
    expect(blobs).toHaveLength(1);
    let recs: unknown[] = [];
    for await (const b of ddfs.pull('t:chunk2')) recs = [...readRecords(new BufferSource(await b.read()))];
    expect(recs).toEqual([
      ['a', 'A'],
      ['b', 'B'],
      ['c', 'C'],
    ]);
  });
});

describe('upload failures', () => {
  it('a PUT URL that http.request refuses at once fails the upload (it never hangs)', async () => {
    const stream = Readable.from([Buffer.from('x')]);
    const e = await putBlob('http://[not a url', { open: () => stream }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(CommError);
    expect(stream.destroyed).toBe(true);
  });

  it('a source failing mid-way fails the push once, with its own error: no node is excluded', async () => {
    let opened = 0;
    const source = {
      open: () => {
        opened++;
        return Readable.from(
          (async function* () {
            yield Buffer.alloc(64 * 1024, 1);
            throw new Error('the input broke');
          })(),
        );
      },
    };
    const e = await ddfs.pushBlob(source, 'broken-input').catch((err: unknown) => err);
    // Retried on other nodes, it would be opened again (and end with "no nodes" from the master).
    expect(opened).toBe(1);
    expect(e).not.toBeInstanceOf(CommError);
    expect((e as Error).message).toBe('the input broke');
  });

  it('a chunk whose input fails mid-way fails DDFS.chunk with the input error', async () => {
    const broken: ByteTransform = async function* () {
      yield Buffer.from('a line\n'.repeat(10_000));
      throw new Error('the input broke');
    };
    const p = ddfs.chunk('t:broken-input', ['raw://x'], { chunkSize: 1 << 20, inputStream: [broken] });
    await expect(p).rejects.toThrow('the input broke');
  });

  it('refuses a compression that is not a zlib level, before any upload', async () => {
    await expect(ddfs.chunk('t:bad-level', ['raw://a\nb\n'], { compression: 10 })).rejects.toThrow(
      'compression must be a zlib level 0-9, got 10',
    );
    expect(await ddfs.exists('t:bad-level')).toBe(false);
  });
});
