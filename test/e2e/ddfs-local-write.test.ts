/**
 * Short-circuit writes end to end: a client whose `DDFS_DATA` is a live node's data directory
 * (its `.ddfs-node.json` names the PUT URL's host and port, its process lives) stores that
 * replica straight into the node's volumes, so it works even while the node process is
 * stopped; `ddfs push` and `ddfs chunk` do the same. An identity that is not to be trusted
 * (dead or reused pid, other port) or volumes that cannot be written fall back to the HTTP PUT; with two
 * replicas only the local node's is written directly. The node writes its identity file when
 * it starts and removes it when it stops cleanly.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { processIdentity } from '../../src/common/process-alive.js';
import { Settings } from '../../src/common/settings.js';
import { streamBlob } from '../../src/ddfs/client/blob-read.js';
import { DDFS } from '../../src/ddfs/client/ddfs.js';
import { NODE_IDENTITY_FILE, type NodeIdentity } from '../../src/ddfs/node-identity.js';
import { resolveHttp } from '../../src/protocol/urls.js';
import { runCli } from '../harness/cli.js';
import { type Cluster, startCluster } from '../harness/cluster.js';

/** Far below the master's heartbeat (a ping every 15 s, dropped at the next one unanswered). */
const STOPPED_MS = 5_000;

let one: Cluster;
let two: Cluster;
let tmp: string;

/** The node's DDFS_DATA, as the harness starts it. */
const dataDir = (c: Cluster, i: number) => path.join(c.nodes[i].root, 'ddfs');

/** A client whose DDFS_DATA is `data` (an empty directory: HTTP only). */
function client(c: Cluster, data: string): DDFS {
  return new DDFS(c.master, {
    settings: new Settings({ DISCO_PORT: String(c.port), DDFS_DATA: data }, {}, {}),
  });
}

/** A fresh empty directory (a DDFS_DATA without identity: the client uses HTTP). */
function emptyDir(name: string): string {
  const d = path.join(tmp, name);
  mkdirSync(d, { recursive: true });
  return d;
}

/** The blob's bytes over HTTP from its node's data server. */
async function readHttp(c: Cluster, url: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of streamBlob([resolveHttp(url, c.port)])) parts.push(b);
  return Buffer.concat(parts);
}

/** Every file under `dir` (none when it does not exist). */
function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => !e.isDirectory())
    .map((e) => path.join(e.parentPath, e.name));
}

/** Files of blob `name` in the volumes of DDFS_DATA `root`. */
const blobFiles = (root: string, name: string) =>
  walk(root).filter(
    (f) => f.includes(`${path.sep}blob${path.sep}`) && path.basename(f).startsWith(`${name}$`),
  );

/** Temporary files of blob `name` left in the volumes of `root` (`!partial-<time>.<name>$<time>`). */
const partials = (root: string, name: string) =>
  walk(root).filter((f) => path.basename(f).startsWith('!partial') && path.basename(f).includes(`.${name}$`));

/** The node's log lines saying it stored blob `name` from a PUT (DISCO_DEBUG). */
const httpStores = (c: Cluster, i: number, name: string) =>
  c.nodes[i].log.filter((l) => l.includes('"blob stored"') && l.includes(`"${name}$`));

/**
 * {@link httpStores} once the node's line has come through its log pipe (the node logs after
 * storing, the pipe delivers later than the PUT's reply): up to 3 s.
 */
async function loggedStores(c: Cluster, i: number, name: string): Promise<string[]> {
  for (let waited = 0; waited < 3000 && httpStores(c, i, name).length === 0; waited += 20)
    await new Promise((r) => setTimeout(r, 20));
  return httpStores(c, i, name);
}

/** `p`, or a clear failure after `ms`. */
async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

interface Run {
  code: number;
  out: string;
  err: string;
}

/** Run `bin/ddfs` against cluster `c` with extra `env`, bounded in time. */
async function ddfs(c: Cluster, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const all = { ...c.env, DISCO_DEBUG: '', DISCO_ROOT: path.join(c.root, 'cli'), ...env };
  const r = await runCli('ddfs', args, { env: all, timeoutMs: 20_000 });
  return { code: r.code, out: r.text, err: r.err };
}

/** The pid of a process that has exited. */
function deadPid(): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    p.on('error', reject);
    p.on('exit', () => resolve(p.pid as number));
  });
}

/** The identity file node `i` of `c` wrote. */
const identityOf = (c: Cluster, i: number): NodeIdentity =>
  JSON.parse(readFileSync(path.join(dataDir(c, i), NODE_IDENTITY_FILE), 'utf8')) as NodeIdentity;

/** A DDFS_DATA holding identity file `id` (and nothing else). */
function fakeData(name: string, id: NodeIdentity): string {
  const d = emptyDir(name);
  writeFileSync(path.join(d, NODE_IDENTITY_FILE), `${JSON.stringify(id)}\n`);
  return d;
}

const settings = {
  DDFS_TAG_REPLICAS: '1',
  DDFS_TAG_MIN_REPLICAS: '1',
  // The nodes' "blob stored" lines tell which replicas came over HTTP.
  DISCO_DEBUG: '1',
};

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'ddfs-local-write-'));
  [one, two] = await Promise.all([
    startCluster({ nodes: 1, cores: 1, env: { ...settings, DDFS_BLOB_REPLICAS: '1' } }),
    startCluster({ nodes: 2, cores: 1, env: { ...settings, DDFS_BLOB_REPLICAS: '2' } }),
  ]);
});
afterAll(async () => {
  await Promise.all([one?.stop(), two?.stop()]);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('one node, the client on its DDFS_DATA', () => {
  test('pushBlob stores the replica while the node process is stopped (no HTTP)', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 77);
    const node = one.nodes[0];
    const local = client(one, dataDir(one, 0));
    node.proc.kill('SIGSTOP');
    let urls: string[];
    try {
      urls = await within(
        STOPPED_MS,
        'pushBlob with the node stopped (took the HTTP path?)',
        local.pushBlob({ data }, 'lw-stopped'),
      );
    } finally {
      node.proc.kill('SIGCONT');
    }
    expect(urls).toHaveLength(1);
    expect(urls[0]).toMatch(new RegExp(`^disco://${node.host.replace(/\./g, '\\.')}/ddfs/vol\\d+/blob/`));
    expect(blobFiles(dataDir(one, 0), 'lw-stopped')).toHaveLength(1);
    const got = await readHttp(one, urls[0]);
    expect(got.length).toBe(data.length);
    expect(got.equals(data)).toBe(true);
    expect(httpStores(one, 0, 'lw-stopped')).toEqual([]);
  });

  test('pushBlob with a progress callback (onBytes) stores the whole file and counts it', async () => {
    const file = path.join(tmp, 'counted.bin');
    const data = randomBytes(2 * 1024 * 1024 + 11);
    writeFileSync(file, data);
    let counted = 0;
    const [url] = await within(
      STOPPED_MS,
      'pushBlob with onBytes',
      client(one, dataDir(one, 0)).pushBlob({ file }, 'lw-counted', {
        onBytes: (n) => {
          counted += n;
        },
      }),
    );
    expect(counted).toBe(data.length);
    expect((await readHttp(one, url)).equals(data)).toBe(true);
    expect(httpStores(one, 0, 'lw-counted')).toEqual([]);
    expect(partials(dataDir(one, 0), 'lw-counted')).toEqual([]);
  });

  test('ddfs push writes into the volumes; read back over HTTP', async () => {
    const file = path.join(tmp, 'push.bin');
    const data = randomBytes(2 * 1024 * 1024 + 5);
    writeFileSync(file, data);
    const push = await ddfs(one, ['push', 'lw:push', file], { DDFS_DATA: dataDir(one, 0) });
    expect(push.err).toBe('');
    expect(push.code).toBe(0);
    expect(push.out).toMatch(/^created: disco:\/\/127\.0\.0\.2\//);
    const blobs = await ddfs(one, ['blobs', 'lw:push']);
    expect(blobs.err).toBe('');
    const url = blobs.out.trim();
    expect(url).toMatch(/^disco:\/\/127\.0\.0\.2\//);
    expect((await readHttp(one, url)).equals(data)).toBe(true);
    expect(httpStores(one, 0, 'push_bin')).toEqual([]);
    expect(partials(dataDir(one, 0), 'push_bin')).toEqual([]);
  });

  test('ddfs chunk writes its chunks into the volumes; xcat over HTTP gives the lines', async () => {
    const text = Array.from({ length: 120_000 }, (_, i) => `line ${i} ${'x'.repeat(i % 40)}`);
    const txt = path.join(tmp, 'lines.txt');
    writeFileSync(txt, `${text.join('\n')}\n`);
    const chunk = await ddfs(one, ['chunk', '-S', '1M', 'lw:chunk', txt], { DDFS_DATA: dataDir(one, 0) });
    expect(chunk.err).toBe('');
    expect(chunk.code).toBe(0);
    const chunks = (await ddfs(one, ['blobs', 'lw:chunk'])).out.trim().split('\n');
    expect(chunks.length).toBeGreaterThanOrEqual(4);
    for (const u of chunks) expect(u).toMatch(/^disco:\/\/127\.0\.0\.2\//);
    const xcat = await ddfs(one, ['xcat', 'lw:chunk']);
    expect(xcat.err).toBe('');
    expect(xcat.out.split('\n').filter((l) => l !== '')).toEqual(text);
    expect(httpStores(one, 0, 'lines_txt')).toEqual([]);
    expect(partials(dataDir(one, 0), 'lines_txt')).toEqual([]);
  });

  test('an identity not to be trusted (dead pid, reused pid, other port, no such volume): HTTP', async () => {
    const real = identityOf(one, 0);
    const cases = [
      ['lw-deadpid', fakeData('dead-pid', { ...real, pid: await deadPid() })],
      // The node's pid, but another process start: the pid was given to another process.
      ['lw-reusedpid', fakeData('reused-pid', { ...real, started: real.started + 1 })],
      ['lw-otherport', fakeData('other-port', { ...real, putPort: real.putPort + 1 })],
    ] as const;
    for (const [name, dir] of cases) {
      const data = randomBytes(100_000);
      const [url] = await within(10_000, `pushBlob ${name}`, client(one, dir).pushBlob({ data }, name));
      expect(blobFiles(dataDir(one, 0), name), name).toHaveLength(1);
      expect((await readHttp(one, url)).equals(data), name).toBe(true);
      expect(readdirSync(dir), name).toEqual([NODE_IDENTITY_FILE]);
      expect(await loggedStores(one, 0, name), name).toHaveLength(1);
    }
  });

  test('volumes that cannot be written, or that the node does not serve: HTTP after all', async () => {
    const dir = fakeData('broken', identityOf(one, 0));
    mkdirSync(path.join(dir, 'vol0'));
    writeFileSync(path.join(dir, 'vol0', 'blob'), 'not a directory\n');
    // A volume added after the node started: the node would not list it (nor collect it).
    mkdirSync(path.join(dir, 'vol1', 'blob'), { recursive: true });
    const data = randomBytes(200_000);
    const [url] = await within(10_000, 'pushBlob', client(one, dir).pushBlob({ data }, 'lw-broken'));
    expect(url).toMatch(/^disco:\/\/127\.0\.0\.2\//);
    expect(blobFiles(dataDir(one, 0), 'lw-broken')).toHaveLength(1);
    expect(blobFiles(dir, 'lw-broken')).toEqual([]);
    expect((await readHttp(one, url)).equals(data)).toBe(true);
    expect(await loggedStores(one, 0, 'lw-broken')).toHaveLength(1);
  });
});

describe('two nodes, two replicas, the client on node 0', () => {
  test("node 0's replica is written directly, node 1's over HTTP; both the same bytes", async () => {
    const data = randomBytes(1024 * 1024 + 3);
    const urls = await within(10_000, 'pushBlob', client(two, dataDir(two, 0)).pushBlob({ data }, 'lw-two'));
    expect(urls.map((u) => new URL(u.replace(/^disco:/, 'http:')).hostname).sort()).toEqual([
      two.nodes[0].host,
      two.nodes[1].host,
    ]);
    for (const u of urls) expect((await readHttp(two, u)).equals(data), u).toBe(true);
    expect(blobFiles(dataDir(two, 0), 'lw-two')).toHaveLength(1);
    expect(blobFiles(dataDir(two, 1), 'lw-two')).toHaveLength(1);
    expect(await loggedStores(two, 1, 'lw-two')).toHaveLength(1);
    // A client elsewhere (no identity in its DDFS_DATA) sends both over HTTP.
    const far = await client(two, emptyDir('far')).pushBlob({ data }, 'lw-far');
    expect(far).toHaveLength(2);
    expect(await loggedStores(two, 0, 'lw-far')).toHaveLength(1);
    expect(await loggedStores(two, 1, 'lw-far')).toHaveLength(1);
    // Node 0 logs in order: had it stored lw-two from a PUT, that line came before lw-far's.
    expect(httpStores(two, 0, 'lw-two')).toEqual([]);
  });

  test('the identity file lives as long as the node: written at start, removed on SIGTERM', async () => {
    const node = two.nodes[1];
    const idFile = path.join(dataDir(two, 1), NODE_IDENTITY_FILE);
    expect(identityOf(two, 1)).toEqual({
      host: node.host,
      putPort: Number(two.env.DDFS_PUT_PORT),
      pid: node.proc.pid,
      started: processIdentity(node.proc.pid as number)?.started,
      volumes: ['vol0'],
    });
    await two.killNode(1, 'SIGTERM');
    expect(node.proc.exitCode).toBe(0);
    expect(existsSync(idFile)).toBe(false);
    // Started again: a new identity, with the new process.
    const again = await two.startNode(1);
    expect(JSON.parse(readFileSync(idFile, 'utf8')).pid).toBe(again.proc.pid);
  });
});
