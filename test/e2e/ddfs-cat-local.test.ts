/**
 * `ddfs cat` writing straight to its standard output descriptor: on the blob's own node (its
 * `DDFS_DATA`) the file is copied with blocking reads and writes, over HTTP the received bytes
 * are written the same way. Standard output as a pipe, a file opened for appending, /dev/null
 * and a pipe closed by its reader (`| head`) must all behave as with any Unix tool.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PACKAGE_ROOT, Settings } from '../../src/common/settings.js';
import { DDFS as DdfsClient } from '../../src/ddfs/client/ddfs.js';
import { type Cluster, freePort, startCluster } from '../harness/cluster.js';

const DDFS = path.join(PACKAGE_ROOT, 'bin', 'ddfs');
let c: Cluster;
let tmp: string;
let data: Buffer;
let blob: string;

interface Run {
  code: number;
  out: Buffer;
  err: string;
}

/**
 * Run `ddfs`; stdout a pipe read in full (or, `headBytes`, closed after that many bytes), or
 * the given descriptor.
 */
function ddfs(
  args: string[],
  opts: { env?: Record<string, string>; stdout?: number; headBytes?: number } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(DDFS, args, {
      env: { ...process.env, ...c.env, DISCO_ROOT: path.join(c.root, 'cli'), ...opts.env },
      stdio: ['ignore', opts.stdout ?? 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let got = 0;
    let err = '';
    p.stdout?.on('data', (b: Buffer) => {
      out.push(b);
      got += b.length;
      if (opts.headBytes !== undefined && got >= opts.headBytes) p.stdout?.destroy();
    });
    p.stderr?.on('data', (b: Buffer) => {
      err += b.toString('utf8');
    });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, out: Buffer.concat(out), err }));
  });
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** The node's DDFS_DATA: this process then reads its blobs from disk. */
const onNode = () => ({ DDFS_DATA: path.join(c.nodes[0].root, 'ddfs') });
/** A port nobody listens on: any HTTP request for a blob fails. */
let deadPort: string;

beforeAll(async () => {
  c = await startCluster({
    nodes: 1,
    cores: 1,
    env: { DDFS_BLOB_REPLICAS: '1', DDFS_TAG_REPLICAS: '1', DDFS_TAG_MIN_REPLICAS: '1' },
  });
  tmp = mkdtempSync(path.join(os.tmpdir(), 'ddfs-cat-local-'));
  // Several copy buffers (1 MiB) and a ragged end; far more than a pipe holds.
  data = randomBytes(3 * 1024 * 1024 + 12_345);
  writeFileSync(path.join(tmp, 'data.bin'), data);
  const r = await ddfs(['push', 'catlocal:data', path.join(tmp, 'data.bin')]);
  expect(r.err).toBe('');
  blob = (await ddfs(['blobs', 'catlocal:data'])).out.toString('utf8').trim();
  expect(blob).toMatch(/^disco:\/\//);
  deadPort = String(await freePort());
});
afterAll(async () => {
  await c?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('on the blob node (local file)', () => {
  test('to a pipe: the bytes, without HTTP (the data port is dead)', async () => {
    const r = await ddfs(['cat', blob], { env: { ...onNode(), DISCO_PORT: deadPort } });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out.length).toBe(data.length);
    expect(sha(r.out)).toBe(sha(data));
    // Without the local copy the same command needs HTTP, and fails: the above read the file.
    const empty = path.join(tmp, 'empty-ddfs');
    const miss = await ddfs(['cat', blob], { env: { DDFS_DATA: empty, DISCO_PORT: deadPort } });
    expect(miss.code).toBe(1);
  });

  test('xcat and DDFS.pull read the local replica too (the data port is dead)', async () => {
    const text = Array.from({ length: 20_000 }, (_, i) => `line ${i} ${'x'.repeat(i % 97)}`).join('\n');
    writeFileSync(path.join(tmp, 'lines.txt'), `${text}\n`);
    const chunked = await ddfs(['chunk', '-S', '256K', 'catlocal:lines', path.join(tmp, 'lines.txt')]);
    expect(chunked.code, chunked.err).toBe(0);
    const dead = { ...onNode(), DISCO_PORT: deadPort };
    const x = await ddfs(['xcat', 'catlocal:lines'], { env: dead });
    expect(x.err).toBe('');
    expect(x.out.toString('utf8')).toBe(`${text}\n`);
    // Over HTTP (no local copy) the same command fails: the above read the files.
    const miss = await ddfs(['xcat', 'catlocal:lines'], {
      env: { DDFS_DATA: path.join(tmp, 'none'), DISCO_PORT: deadPort },
    });
    expect(miss.code).toBe(1);
    const settings = new Settings({ DISCO_PORT: deadPort, ...onNode() }, {}, {});
    const pulled: Buffer[] = [];
    for await (const b of new DdfsClient(c.master, { settings }).pull('catlocal:data')) {
      expect(b.url).toMatch(/^http:\/\//);
      pulled.push(await b.read());
      const parts: Buffer[] = [];
      for await (const piece of b.chunks()) parts.push(piece);
      pulled.push(Buffer.concat(parts));
    }
    expect(pulled.map(sha)).toEqual([sha(data), sha(data)]);
  });

  test('in order with other outputs; a tag (URLs first, then the blobs of tags)', async () => {
    const r = await ddfs(['cat', 'raw://first|', blob, 'raw://|last', 'catlocal:data'], { env: onNode() });
    expect(r.err).toBe('');
    const want = Buffer.concat([Buffer.from('first|'), data, Buffer.from('|last'), data]);
    expect(r.out.length).toBe(want.length);
    expect(sha(r.out)).toBe(sha(want));
  });

  test('to a file opened for appending: what was there stays', async () => {
    const file = path.join(tmp, 'out.bin');
    writeFileSync(file, 'before\n');
    const fd = openSync(file, 'a');
    try {
      const r = await ddfs(['cat', blob, blob], { env: onNode(), stdout: fd });
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
    } finally {
      closeSync(fd);
    }
    const got = readFileSync(file);
    expect(got.length).toBe(7 + 2 * data.length);
    expect(sha(got)).toBe(sha(Buffer.concat([Buffer.from('before\n'), data, data])));
  });

  test('to /dev/null', async () => {
    const fd = openSync('/dev/null', 'w');
    try {
      const r = await ddfs(['cat', blob], { env: onNode(), stdout: fd });
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
    } finally {
      closeSync(fd);
    }
  });

  test('a pipe closed by its reader ends the command quietly (exit 0)', async () => {
    const r = await ddfs(['cat', blob, blob], { env: onNode(), headBytes: 1000 });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out.length).toBeLessThan(2 * data.length);
    expect(sha(r.out.subarray(0, 1000))).toBe(sha(data.subarray(0, 1000)));
  });
});

describe('over HTTP', () => {
  test('to a pipe and to a file', async () => {
    const r = await ddfs(['cat', blob]);
    expect(r.err).toBe('');
    expect(sha(r.out)).toBe(sha(data));
    const file = path.join(tmp, 'http.bin');
    const fd = openSync(file, 'w');
    try {
      expect((await ddfs(['cat', 'raw://x', blob], { stdout: fd })).code).toBe(0);
    } finally {
      closeSync(fd);
    }
    expect(sha(readFileSync(file))).toBe(sha(Buffer.concat([Buffer.from('x'), data])));
  });

  test('a pipe closed by its reader ends the command quietly (exit 0)', async () => {
    const r = await ddfs(['cat', blob], { headBytes: 1000 });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
  });
});
