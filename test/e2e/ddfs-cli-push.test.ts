/**
 * The `ddfs` command line's input options end to end (the real `bin/ddfs` against a master
 * and two node processes, K = 2): `push -x` pushes the files inside tar archives (`-I`/`-E`
 * filters, `-z` gzip), `chunk -T` transforms input bytes first (`gunzip`, a module function),
 * `xcat -T` runs input stream functions before the reader; bad input fails clearly.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PACKAGE_ROOT } from '../../src/common/settings.js';
import { runCli } from '../harness/cli.js';
import { type Cluster, startCluster } from '../harness/cluster.js';

let c: Cluster;
let tmp: string;

const ddfs = (args: string[]) =>
  runCli('ddfs', args, { env: { ...c.env, DISCO_ROOT: path.join(c.root, 'cli') }, cwd: tmp });

async function ok(args: string[]): Promise<Buffer> {
  const r = await ddfs(args);
  expect(r.err, `ddfs ${args.join(' ')}`).toBe('');
  expect(r.code, `ddfs ${args.join(' ')}`).toBe(0);
  return r.out;
}

const lines = (b: Buffer) =>
  b
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '');
const blobName = (url: string) => (url.split('/').pop() ?? '').split('$')[0];

/** The archive's files: path → bytes. */
const members = new Map<string, Buffer>();

beforeAll(async () => {
  c = await startCluster({
    nodes: 2,
    cores: 1,
    env: { DDFS_BLOB_REPLICAS: '2', DDFS_TAG_REPLICAS: '2', DDFS_TAG_MIN_REPLICAS: '1' },
  });
  tmp = mkdtempSync(path.join(os.tmpdir(), 'ddfs-cli-push-'));
  const src = path.join(tmp, 'src');
  const add = (name: string, data: Buffer) => {
    mkdirSync(path.dirname(path.join(src, name)), { recursive: true });
    writeFileSync(path.join(src, name), data);
    members.set(name, data);
  };
  add('a.txt', Buffer.from('alpha\nbeta\n'));
  add('sub/b.txt', Buffer.from('gamma\n'));
  add('sub/skip-me.txt', Buffer.from('not wanted\n'));
  // Larger than what is held in memory: goes through a temporary file.
  add('sub/big.bin', randomBytes(5 * 1024 * 1024 + 7));
  mkdirSync(path.join(src, 'emptydir'));
  symlinkSync('a.txt', path.join(src, 'link'));
  const names = ['a.txt', 'sub', 'emptydir', 'link'];
  execFileSync('tar', ['-czf', path.join(tmp, 'files.tar.gz'), '-C', src, ...names]);
  execFileSync('tar', ['--format=pax', '-cf', path.join(tmp, 'files.tar'), '-C', src, ...names]);
  writeFileSync(path.join(tmp, 'plain.txt'), 'just text, no archive\n'.repeat(40));
});
afterAll(async () => {
  await c?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('push -x', () => {
  test('pushes every regular file of a gzipped tar archive as a blob named after its path', async () => {
    const out = lines(await ok(['push', '-x', 'push:tar', './files.tar.gz']));
    expect(out).toHaveLength(members.size);
    for (const l of out) {
      expect(l).toMatch(/^created: disco:\/\/\S+\tdisco:\/\/\S+$/);
    }
    const blobs = lines(await ok(['blobs', 'push:tar']));
    const byName = new Map(blobs.map((b) => [blobName(b.split('\t')[0]), b.split('\t')]));
    expect([...byName.keys()].sort()).toEqual(['a_txt', 'sub_b_txt', 'sub_big_bin', 'sub_skip-me_txt']);
    for (const [member, data] of members) {
      const replicas = byName.get(member.replace(/[^A-Za-z0-9_\-@:]/g, '_'))!;
      for (const r of replicas) expect((await ok(['cat', r])).equals(data), `${member} at ${r}`).toBe(true);
    }
  });

  test('-I and -E choose members by path, -z gzips them (names end in _gz)', async () => {
    const out = lines(await ok(['push', '-x', '-z', '-I', 'sub/', '-E', 'skip', 'push:tarz', './files.tar']));
    expect(out).toHaveLength(2);
    const blobs = lines(await ok(['blobs', 'push:tarz'])).map((b) => b.split('\t')[0]);
    expect(blobs.map(blobName).sort()).toEqual(['sub_b_txt_gz', 'sub_big_bin_gz']);
    for (const b of blobs) {
      const want = members.get(blobName(b) === 'sub_b_txt_gz' ? 'sub/b.txt' : 'sub/big.bin')!;
      expect(gunzipSync(await ok(['cat', b])).equals(want)).toBe(true);
    }
    // -u: members already in the tag are not added again.
    await ok(['push', '-x', '-u', '-z', '-I', 'sub/', '-E', 'skip', 'push:tarz', './files.tar']);
    expect(lines(await ok(['blobs', 'push:tarz']))).toHaveLength(2);
  });

  test('what is not a tar archive fails clearly and tags nothing', async () => {
    const r = await ddfs(['push', '-x', 'push:bad', './plain.txt']);
    expect(r.code).toBe(1);
    expect(r.err.trim()).toBe('ddfs: ./plain.txt: not a tar archive (no valid tar header at the start)');
    expect((await ddfs(['exists', 'push:bad'])).code).toBe(1);
    const missing = await ddfs(['push', '-x', 'push:bad', './nothing.tar']);
    expect([missing.code, missing.err.trim()]).toEqual([1, 'ddfs: ./nothing.tar: no such file']);
    const noX = await ddfs(['push', '-I', 'sub', 'push:bad', './files.tar']);
    expect([noX.code, noX.err.trim()]).toEqual([2, 'ddfs: -I, -E and -z apply to tar archives: add -x']);
  });
});

describe('-T input streams', () => {
  test('chunk -T gunzip, then a module function: records of the transformed bytes', async () => {
    const text = Array.from({ length: 3000 }, (_, i) => `line ${i}`).join('\n');
    writeFileSync(path.join(tmp, 'log.txt.gz'), gzipSync(`${text}\n`));
    await ok(['chunk', '-T', 'gunzip', 'in:gz', './log.txt.gz']);
    expect(lines(await ok(['xcat', 'in:gz']))).toEqual(text.split('\n'));

    writeFileSync(
      path.join(tmp, 'streams.mjs'),
      `import zlib from 'node:zlib';
       export async function* upper(bytes, url) {
         for await (const b of bytes) yield b.toString('latin1').toUpperCase();
         yield 'FROM ' + url.split('/').pop() + '\\n';
       }
       export function notAStream() { return 42; }
       export function gunzipAll(stream) {
         return zlib.gunzipSync(stream.read());
       }
       export function words(stream) {
         return stream.read().toString('utf8').split(/\\s+/).filter(Boolean);
       }\n`,
    );
    await ok(['chunk', '-T', 'gunzip', '-T', './streams.mjs:upper', 'in:upper', './log.txt.gz']);
    const got = lines(await ok(['xcat', 'in:upper']));
    expect(got.slice(0, 2)).toEqual(['LINE 0', 'LINE 1']);
    expect(got.at(-1)).toBe('FROM log.txt.gz');
    expect(got).toHaveLength(3001);

    const bad = await ddfs(['chunk', '-T', './streams.mjs:notAStream', 'in:bad', './log.txt.gz']);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain(
      'input stream function 1 (notAStream) returned number, expected an async iterable',
    );
    const noFn = await ddfs(['chunk', '-T', './streams.mjs:nope', 'in:bad', './log.txt.gz']);
    expect(noFn.code).toBe(1);
    expect(noFn.err).toMatch(/streams\.mjs exports no function named nope/);
  });

  test('xcat -R: a DataError of a reader importing disco-ts moves on to the next replica', async () => {
    writeFileSync(path.join(tmp, 'corrupt.txt'), 'never read\n');
    writeFileSync(path.join(tmp, 'good.txt'), 'alpha\nbeta\n');
    const reader = `${path.join(PACKAGE_ROOT, 'test/e2e/fixtures/failover-reader.mjs')}:lines`;
    const replicas = `${path.join(tmp, 'corrupt.txt')} ${path.join(tmp, 'good.txt')}`;
    expect(lines(await ok(['xcat', '-R', reader, replicas]))).toEqual(['alpha', 'beta']);
    // One replica only: the reader's error is the command's.
    const bad = await ddfs(['xcat', '-R', reader, path.join(tmp, 'corrupt.txt')]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('corrupt replica');
  });

  test('xcat -T runs stream functions before the reader', async () => {
    writeFileSync(path.join(tmp, 'words.txt.gz'), gzipSync('one two\nthree\n'));
    await ok(['push', 'in:words', './words.txt.gz']);
    const out = lines(
      await ok(['xcat', '-T', './streams.mjs:gunzipAll', '-R', './streams.mjs:words', 'in:words']),
    );
    expect(out).toEqual(['one', 'two', 'three']);
    // Without the stream function the reader sees gzip bytes.
    const raw = lines(await ok(['xcat', '-R', './streams.mjs:words', 'in:words']));
    expect(raw).not.toEqual(['one', 'two', 'three']);
    expect(readFileSync(path.join(tmp, 'words.txt.gz'))[0]).toBe(0x1f);
  });
});
