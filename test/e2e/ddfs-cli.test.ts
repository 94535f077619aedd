/**
 * The `ddfs` command line end to end: the real `bin/ddfs` program against a real master and
 * two node processes (blobs and tags on both nodes): push, chunk, cat, xcat, tags, listing,
 * attributes, deletion, tokens and exit statuses.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli } from '../harness/cli.js';
import { type Cluster, freePort, startCluster } from '../harness/cluster.js';

let c: Cluster;
let tmp: string;

interface Run {
  code: number;
  out: string;
  err: string;
}

async function ddfs(
  args: string[],
  opts: { input?: string; env?: Record<string, string> } = {},
): Promise<Run> {
  const env = { ...c.env, DISCO_ROOT: path.join(c.root, 'cli'), ...opts.env };
  const r = await runCli('ddfs', args, { env, cwd: tmp, input: opts.input ?? '' });
  return { code: r.code, out: r.text, err: r.err };
}

/** Run and expect success; returns stdout. */
async function ok(
  args: string[],
  opts: { input?: string; env?: Record<string, string> } = {},
): Promise<string> {
  const r = await ddfs(args, opts);
  expect(r.err, `ddfs ${args.join(' ')}`).toBe('');
  expect(r.code, `ddfs ${args.join(' ')}: ${r.err}`).toBe(0);
  return r.out;
}

const lines = (s: string) => s.split('\n').filter((l) => l !== '');

beforeAll(async () => {
  c = await startCluster({
    nodes: 2,
    cores: 1,
    env: { DDFS_BLOB_REPLICAS: '2', DDFS_TAG_REPLICAS: '2', DDFS_TAG_MIN_REPLICAS: '1' },
  });
  tmp = mkdtempSync(path.join(os.tmpdir(), 'ddfs-cli-'));
  writeFileSync(path.join(tmp, 'a.txt'), 'alpha\nbeta\n');
  writeFileSync(path.join(tmp, 'b.txt'), 'gamma\n');
  mkdirSync(path.join(tmp, 'dir', 'sub'), { recursive: true });
  writeFileSync(path.join(tmp, 'dir', 'one'), '1\n');
  writeFileSync(path.join(tmp, 'dir', 'sub', 'two'), '2\n');
  const text = Array.from({ length: 20_000 }, (_, i) => `line ${i} ${'x'.repeat(i % 50)}`).join('\n');
  writeFileSync(path.join(tmp, 'big.txt'), `${text}\n`);
});
afterAll(async () => {
  await c?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('push, cat, blobs, ls', () => {
  test('push files: one created line per blob with K replicas, cat gives the bytes back', async () => {
    const r = await ddfs(['push', 'cli:push', './a.txt', './b.txt', './dir']);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/dir is a directory \(not pushing\)/);
    const created = lines(r.out);
    expect(created).toHaveLength(2);
    for (const l of created) {
      expect(l).toMatch(/^created: disco:\/\//);
      const replicas = l.slice('created: '.length).split('\t');
      expect(replicas).toHaveLength(2);
      expect(new Set(replicas.map((u) => new URL(u.replace('disco:', 'http:')).hostname)).size).toBe(2);
    }
    expect(await ok(['cat', 'cli:push'])).toBe('alpha\nbeta\ngamma\n');
    expect(lines(await ok(['blobs', 'cli:push']))).toHaveLength(2);
    expect(JSON.parse(await ok(['blobs', '--json', 'tag://cli:push']))).toHaveLength(2);
    // -r pushes directories recursively; no progress output when stderr is not a terminal.
    const rec = await ddfs(['push', '-r', '-n', '1', 'cli:dir', './dir']);
    expect(rec).toMatchObject({ code: 0, err: '' });
    expect(lines(rec.out)).toHaveLength(2);
    expect(lines(rec.out)[0].split('\t')).toHaveLength(1);
    expect((await ok(['cat', 'cli:dir'])).split('\n').sort().join('')).toBe('12');
    expect(lines(await ok(['ls', 'cli:']))).toEqual(['cli:dir', 'cli:push']);
    expect(JSON.parse(await ok(['ls', '--json', 'cli:p']))).toEqual(['cli:push']);
    const recursive = lines(await ok(['ls', '-r', 'cli:push']));
    expect(recursive[0]).toBe('cli:push');
    expect(recursive.slice(1)).toHaveLength(2);
    // cat of an explicit blob URL and of a local file, in argument order, tags last.
    const url = created[0].slice('created: '.length).split('\t')[0];
    expect(await ok(['cat', 'cli:dir', url, './b.txt'])).toMatch(/^alpha\nbeta\ngamma\n[12]\n[12]\n$/);
  });
});

describe('chunk and xcat', () => {
  test('record-aware chunks: xcat gives every line back in order, cat gives the internal format', async () => {
    const r = await ddfs(['chunk', '-S', '32K', 'cli:chunks', './big.txt']);
    expect(r).toMatchObject({ code: 0, err: '' });
    const created = lines(r.out);
    expect(created.length).toBeGreaterThan(2);
    expect(created[0]).toMatch(/^created: disco:\/\/.*big_txt-0\$/);
    const want = Array.from({ length: 20_000 }, (_, i) => `line ${i} ${'x'.repeat(i % 50)}`);
    const got = lines(await ok(['xcat', 'cli:chunks']));
    // Tags list the latest posts first; within one chunk command the chunks keep their order.
    expect(got).toEqual(want);
    const raw = (await runCli('ddfs', ['cat', 'cli:chunks'], { env: c.env })).out;
    expect(raw[0]).toBe(0x82);
    const json = lines(await ok(['xcat', '--json', 'cli:chunks'])).slice(0, 2);
    expect(json.map((l) => JSON.parse(l))).toEqual([
      [want[0], null],
      [want[1], null],
    ]);
  });

  test('inputs from standard input, -u skips chunks already there, a custom reader', async () => {
    expect(lines(await ok(['chunk', 'cli:stdin'], { input: './a.txt\n./b.txt\n' }))).toHaveLength(2);
    expect(lines(await ok(['xcat', 'cli:stdin'])).sort()).toEqual(['alpha', 'beta', 'gamma']);
    await ok(['chunk', '-u', 'cli:stdin', './a.txt']);
    expect(lines(await ok(['blobs', 'cli:stdin']))).toHaveLength(2);
    writeFileSync(
      path.join(tmp, 'reader.mjs'),
      `export async function* words(bytes) {
         let text = '';
         for await (const b of bytes) text += b.toString('utf8');
         for (const w of text.split(/\\s+/)) if (w) yield [w, w.length];
       }\n`,
    );
    await ok(['chunk', '-R', './reader.mjs:words', 'cli:words', './a.txt', 'raw://some more words']);
    const recs = lines(await ok(['xcat', 'cli:words'])).sort();
    expect(recs).toEqual(['alpha\t5', 'beta\t4', 'more\t4', 'some\t4', 'words\t5']);
    // Re-chunking chunked data: the internal format as input.
    await ok(['chunk', '-R', 'records', 'cli:rechunk', 'cli:words']);
    expect(lines(await ok(['xcat', 'cli:rechunk'])).sort()).toEqual(recs);
    // Text is not the internal format: say so.
    const text = await ddfs(['chunk', '-R', 'records', 'cli:notrecords', './a.txt']);
    expect(text.code).toBe(1);
    expect(text.err).toMatch(/not in the record format .*a\.txt/);
  });
});

describe('tags and attributes', () => {
  test('tag, put, urls, touch, exists, get, stat, find, cp, rm', async () => {
    const blobs = lines(await ok(['blobs', 'cli:push']));
    await ok(['tag', 'cli:copy'], { input: `${blobs.join('\n')}\n` });
    expect(lines(await ok(['urls', 'cli:copy']))).toEqual(blobs);
    await ok(['put', 'cli:copy', 'tag://cli:push', 'tag://cli:dir']);
    expect(lines(await ok(['urls', 'cli:copy']))).toEqual(['tag://cli:push', 'tag://cli:dir']);
    expect(lines(await ok(['find', 'cli:copy']))).toEqual([
      'tag://cli:copy',
      'tag://cli:copy\ttag://cli:push',
      'tag://cli:copy\ttag://cli:dir',
    ]);
    expect(lines(await ok(['blobs', 'cli:copy']))).toHaveLength(4);
    await ok(['touch', 'cli:empty']);
    expect(await ok(['exists', 'cli:empty'])).toBe('True\n');
    const obj = JSON.parse(await ok(['get', 'cli:empty']));
    expect(obj).toMatchObject({ version: 1, urls: [], 'user-data': {} });
    expect(obj.id).toMatch(/^cli:empty\$/);
    expect(lines(await ok(['stat', 'cli:empty']))[0].split('\t')).toEqual([
      '1',
      obj.id,
      obj['last-modified'],
      '{}',
    ]);
    await ok(['cp', 'cli:push', 'cli:empty']);
    expect(await ok(['cat', 'cli:empty'])).toBe('alpha\nbeta\ngamma\n');
    expect(await ok(['rm', 'cli:empty'])).toBe('deleted\n');
    const gone = await ddfs(['exists', 'cli:empty']);
    expect(gone).toMatchObject({ code: 1, out: 'False\n' });
    expect(await ddfs(['cat', 'cli:empty'])).toMatchObject({
      code: 1,
      err: expect.stringMatching(/Tag not found/),
    });
    // Missing tags are skipped with -i, and reported by find -w.
    await ok(['tag', 'cli:dangling', 'tag://cli:empty', 'tag://cli:dir']);
    expect(lines(await ok(['cat', '-i', 'cli:dangling'])).sort()).toEqual(['1', '2']);
    expect(lines(await ok(['find', '-w', 'cli:dangling']))).toContain(
      'Tag not found: tag://cli:dangling\ttag://cli:empty',
    );
    // Prefix mode.
    await ok(['touch', 'cli:pm:a', 'cli:pm:b']);
    expect(lines(await ok(['rm', '-p', 'cli:pm:']))).toEqual(['deleted', 'deleted']);
    expect(await ok(['ls', 'cli:pm'])).toBe('');
  });

  test('attributes', async () => {
    await ok(['touch', 'cli:attrs']);
    await ok(['setattr', 'cli:attrs', 'color', 'blue sky']);
    await ok(['setattr', 'cli:attrs', 'size', '10']);
    expect(await ok(['getattr', 'cli:attrs', 'color'])).toBe('blue sky\n');
    expect(lines(await ok(['attrs', 'cli:attrs'])).sort()).toEqual(['color\tblue sky', 'size\t10']);
    expect(JSON.parse(await ok(['attrs', '--json', 'cli:attrs']))).toEqual({ color: 'blue sky', size: '10' });
    await ok(['delattr', 'cli:attrs', 'color']);
    const missing = await ddfs(['getattr', 'cli:attrs', 'color']);
    expect(missing).toMatchObject({ code: 1, err: expect.stringMatching(/Tag attribute not found/) });
    const big = await ddfs(['setattr', 'cli:attrs', 'x', 'v'.repeat(2000)]);
    expect(big).toMatchObject({ code: 1, err: expect.stringMatching(/too big/) });
  });
});

describe('tokens', () => {
  test('chtok, -t, DDFS_*_TOKEN settings and tag://user:TOKEN@/ URLs', async () => {
    await ok(['push', 'cli:secret', './a.txt']);
    await ok(['chtok', '-w', 'cli:secret', 'wtok']);
    // Writes now need the write token; reads do not (the read token is still null).
    expect(await ddfs(['setattr', 'cli:secret', 'k', 'v'])).toMatchObject({
      code: 1,
      err: expect.stringMatching(/Incorrect or missing token/),
    });
    await ok(['-t', 'wtok', 'setattr', 'cli:secret', 'k', 'v']);
    expect(await ok(['cat', 'cli:secret'])).toBe('alpha\nbeta\n');
    await ok(['chtok', '-r', '-t', 'wtok', 'cli:secret', 'rtok']);
    expect(await ddfs(['cat', 'cli:secret'])).toMatchObject({
      code: 1,
      err: expect.stringMatching(/Incorrect or missing token/),
    });
    expect(await ok(['cat', 'tag://u:rtok@/cli:secret'])).toBe('alpha\nbeta\n');
    expect(await ok(['cat', 'cli:secret'], { env: { DDFS_READ_TOKEN: 'rtok' } })).toBe('alpha\nbeta\n');
    // The write token's holder may read too; the read token does not allow writes.
    expect(await ok(['-t', 'wtok', 'getattr', 'cli:secret', 'ddfs:read-token'])).toBe('rtok\n');
    expect((await ddfs(['-t', 'rtok', 'getattr', 'cli:secret', 'ddfs:write-token'])).code).toBe(1);
    expect((await ddfs(['-t', 'rtok', 'tag', 'cli:secret', 'tag://cli:push'])).code).toBe(1);
    await ok(['tag', 'cli:secret', 'tag://cli:push'], { env: { DDFS_WRITE_TOKEN: 'wtok' } });
    // A protected tag exists; its contents stay hidden.
    expect(await ok(['exists', 'cli:secret'])).toBe('True\n');
    expect(await ok(['ls', 'cli:secret'])).toBe('cli:secret\n');
    // A new tag created with a token is protected by it from the start.
    await ok(['-t', 'mine', 'push', 'cli:mine', './b.txt']);
    expect((await ddfs(['cat', 'cli:mine'])).code).toBe(1);
    expect(await ok(['-t', 'mine', 'cat', 'cli:mine'])).toBe('gamma\n');
    expect(await ok(['-t', 'mine', 'rm', 'cli:mine'])).toBe('deleted\n');
  });
});

describe('exit statuses', () => {
  test('usage errors exit 2, failures 1 with a one-line reason', async () => {
    expect((await ddfs(['no-such-command'])).code).toBe(2);
    expect((await ddfs(['push'])).code).toBe(2);
    expect((await ddfs(['chunk', '-S', 'lots', 'cli:x', './a.txt'])).code).toBe(2);
    const invalid = await ddfs(['tag', 'bad!name', 'tag://x']);
    expect(invalid.code).toBe(1);
    expect(lines(invalid.err)).toEqual([expect.stringMatching(/^ddfs: Invalid tag/)]);
    const nofile = await ddfs(['push', 'cli:nofile', './missing.txt']);
    expect(nofile).toMatchObject({ code: 1, err: 'ddfs: ./missing.txt: no such file\n' });
    const port = await freePort();
    const t0 = Date.now();
    const down = await ddfs(['-m', `http://127.0.0.1:${port}`, 'ls']);
    expect(down.code).toBe(1);
    expect(down.err).toMatch(/^ddfs: .*ECONNREFUSED|^ddfs: /);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect((await ddfs(['--help'])).code).toBe(0);
  });
});
