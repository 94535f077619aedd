/**
 * `save: true` short-circuit writes end to end (worker/local-save.ts): with two nodes and two
 * replicas per blob, each saved result has one replica on the node that ran the task, stored
 * there by hard-linking the task's output file (the blob file and the output in the job
 * directory are one inode: link count 2, which an HTTP PUT can never produce), and one on the
 * other node over HTTP (link count 1). The results read back through `tag://`. Without the
 * node's identity file every replica goes over HTTP, and the results are the same. The store
 * itself (no cluster): a copy across file systems, never replacing a blob, a dead node's
 * identity ignored, nothing left behind on failure.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { WordCount } from '../../examples/wordcount.js';
import { Settings } from '../../src/common/settings.js';
import { ddfsTimestamp } from '../../src/common/time.js';
import { DDFS } from '../../src/ddfs/client/ddfs.js';
import { parseDdfsUrl } from '../../src/ddfs/names.js';
import {
  NODE_IDENTITY_FILE,
  type NodeIdentity,
  ownNodeIdentity,
  writeNodeIdentity,
} from '../../src/ddfs/node-identity.js';
import { Disco } from '../../src/index.js';
import { jobOobTag } from '../../src/protocol/names.js';
import { LocalSaveNode } from '../../src/worker/local-save.js';
import { type Cluster, startCluster } from '../harness/cluster.js';
import { ManyPuts } from './fixtures/oob-jobs.js';
import { records } from './helpers.js';

let c: Cluster;
let disco: Disco;
let ddfs: DDFS;

beforeAll(async () => {
  // DISCO_DEBUG: the nodes log each blob a PUT stored ("blob stored").
  c = await startCluster({
    nodes: 2,
    env: { DDFS_BLOB_REPLICAS: '2', DDFS_TAG_REPLICAS: '2', DISCO_DEBUG: '1' },
  });
  disco = new Disco(c.master);
  ddfs = new DDFS(c.master, { settings: new Settings({ DISCO_PORT: String(c.port) }, {}, {}) });
});
afterAll(async () => {
  await c?.stop();
});

const TEXTS = ['a b a c', 'b d a', 'e e c a', 'f'];

function wordCounts(): Record<string, number> {
  const m: Record<string, number> = {};
  for (const t of TEXTS) for (const w of t.split(/\s+/)) if (w) m[w] = (m[w] ?? 0) + 1;
  return m;
}

/** Every file under `dir` (none when it does not exist). */
function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => !e.isDirectory())
    .map((e) => path.join(e.parentPath, e.name));
}

/** A replica's file, its node's index, and its link count. */
function replicaFile(url: string): { node: number; file: string; nlink: number; ino: number } {
  const u = parseDdfsUrl(url);
  if (!u) throw new Error(`not a DDFS URL: ${url}`);
  const node = c.nodes.findIndex((n) => n.host === u.host);
  expect(node, url).toBeGreaterThanOrEqual(0);
  const file = path.join(c.nodes[node].root, 'ddfs', u.vol, u.type, u.hash, u.obj);
  const st = statSync(file);
  return { node, file, nlink: st.nlink, ino: st.ino };
}

/** Run a word count with `save: true` on two reduce tasks; returns it once its results read back. */
async function savedWordCount(): Promise<{ name: string; blobs: string[][] }> {
  const job = await new WordCount({ master: disco }).run({
    input: TEXTS.map((t) => `raw://${t}`),
    partitions: 2,
    save: true,
  });
  const results = await job.wait();
  const tag = `disco:job:results:${job.name}`;
  expect(results).toEqual([`tag://${tag}`]);
  expect(Object.fromEntries(await records<string, number>(job, results))).toEqual(wordCounts());
  const blobs = await ddfs.urls(tag);
  expect(blobs).toHaveLength(2);
  for (const set of blobs) expect(set).toHaveLength(2);
  return { name: job.name, blobs };
}

describe('save: true on the node that runs the task', () => {
  test('the local replica is the task output itself (a hard link), the other one came over HTTP', async () => {
    for (const n of c.nodes) expect(existsSync(path.join(n.root, 'ddfs', NODE_IDENTITY_FILE))).toBe(true);
    const { name, blobs } = await savedWordCount();
    for (const set of blobs) {
      const files = set.map(replicaFile);
      const linked = files.filter((f) => f.nlink === 2);
      expect(linked, JSON.stringify(files)).toHaveLength(1);
      expect(files.filter((f) => f.nlink === 1)).toHaveLength(1);
      // The other name of the inode is the task's output in the job's directory.
      const [local] = linked;
      const dataDir = path.join(c.nodes[local.node].root, 'data');
      const twins = walk(dataDir).filter((f) => statSync(f).ino === local.ino);
      expect(twins).toHaveLength(1);
      expect(twins[0]).toContain(`${path.sep}${name}${path.sep}`);
      expect(statSync(twins[0]).mode & 0o777).toBe(0o400);
    }
    // No temporary file left behind.
    for (const n of c.nodes)
      expect(walk(path.join(n.root, 'ddfs')).filter((f) => path.basename(f).startsWith('!partial'))).toEqual(
        [],
      );
  });

  test('without the identity file every replica goes over HTTP', async () => {
    const files = c.nodes.map((n) => path.join(n.root, 'ddfs', NODE_IDENTITY_FILE));
    const kept = files.map((f) => readFileSync(f));
    for (const f of files) rmSync(f);
    try {
      const { blobs } = await savedWordCount();
      for (const set of blobs) for (const url of set) expect(replicaFile(url).nlink).toBe(1);
    } finally {
      for (const [i, f] of files.entries()) writeFileSync(f, kept[i]);
    }
  });
});

test("OOB values too: the replica on the task's node is stored directly, the other one by PUT", async () => {
  const job = await new ManyPuts({ master: disco }).run({
    input: ['raw://p', 'raw://q'],
    params: { count: 3 },
  });
  expect(await job.wait()).toEqual([]);
  const sets = await ddfs.urls(jobOobTag(job.name));
  expect(sets).toHaveLength(6);
  /** Which nodes logged storing blob `name` from a PUT. */
  const putOn = (name: string) =>
    c.nodes.map((n) => n.log.some((l) => l.includes('"blob stored"') && l.includes(`"${name}$`)));
  for (const set of sets) {
    expect(set).toHaveLength(2);
    const name = DDFS.blobName(set[0]);
    // The PUT's line comes through the node's log pipe a moment after the reply.
    for (let waited = 0; waited < 3000 && !putOn(name).some(Boolean); waited += 20)
      await new Promise((r) => setTimeout(r, 20));
    expect(putOn(name).filter(Boolean), name).toHaveLength(1);
  }
}, 60_000);

describe('LocalSaveNode', () => {
  const PUT = 'http://h1:8990/ddfs/';
  let dir: string;
  let data: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'save-local-'));
    data = path.join(dir, 'ddfs');
    mkdirSync(path.join(data, 'vol0', 'blob'), { recursive: true });
    await writeNodeIdentity(data, own());
  });

  /** This process as the node `h1` serving `vol0`. */
  const own = (): NodeIdentity => {
    const id = ownNodeIdentity({ host: 'h1', putPort: 8990, volumes: ['vol0'] });
    if (!id) throw new Error('no /proc');
    return id;
  };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const partialsLeft = () => walk(data).filter((f) => path.basename(f).startsWith('!partial'));

  test('links a file, never replaces a blob, writes bytes, and refuses what it cannot do', () => {
    const local = LocalSaveNode.find(data);
    expect(local).not.toBeNull();
    expect(local?.serves(`${PUT}x$${ddfsTimestamp()}`)).toBe(true);
    expect(local?.serves(`http://h1:8991/ddfs/x$${ddfsTimestamp()}`)).toBe(false);
    expect(local?.serves(`http://h2:8990/ddfs/x$${ddfsTimestamp()}`)).toBe(false);

    const out = path.join(dir, 'out');
    writeFileSync(out, 'hello\n');
    const obj = `b$${ddfsTimestamp()}`;
    const url = local?.store(`${PUT}${obj}`, { file: out });
    const file = replicaPath(url);
    expect(statSync(file).ino).toBe(statSync(out).ino);
    expect(statSync(file).mode & 0o777).toBe(0o400);
    // The name is taken: null (the PUT then reports "File exists"), the blob untouched.
    expect(local?.store(`${PUT}${obj}`, { data: 'other' })).toBeNull();
    expect(readFileSync(file, 'utf8')).toBe('hello\n');

    const mem = local?.store(`${PUT}m$${ddfsTimestamp()}`, { data: 'from memory' });
    expect(readFileSync(replicaPath(mem), 'utf8')).toBe('from memory');
    expect(local?.store(`${PUT}n$${ddfsTimestamp()}`, { file: path.join(dir, 'missing') })).toBeNull();
    expect(local?.store(`${PUT}not-a-blob-name`, { data: 'x' })).toBeNull();
    expect(partialsLeft()).toEqual([]);
  });

  test.runIf(existsSync('/dev/shm') && statSync('/dev/shm').dev !== statSync(os.tmpdir()).dev)(
    'copies (and fsyncs) across file systems',
    () => {
      const shm = mkdtempSync('/dev/shm/save-local-');
      try {
        const out = path.join(shm, 'out');
        writeFileSync(out, 'across\n');
        const url = LocalSaveNode.find(data)?.store(`${PUT}c$${ddfsTimestamp()}`, { file: out });
        const file = replicaPath(url);
        expect(statSync(file).nlink).toBe(1);
        expect(readFileSync(file, 'utf8')).toBe('across\n');
        expect(statSync(out).mode & 0o777).not.toBe(0o400);
        expect(partialsLeft()).toEqual([]);
      } finally {
        rmSync(shm, { recursive: true, force: true });
      }
    },
  );

  test("a dead node's identity, or none, is not used", async () => {
    expect(LocalSaveNode.find(undefined)).toBeNull();
    expect(LocalSaveNode.find(path.join(dir, 'nowhere'))).toBeNull();
    await writeNodeIdentity(data, { ...own(), pid: 2 ** 22 + 12345 });
    expect(LocalSaveNode.find(data)).toBeNull();
    // This pid, another start: a process that took a dead node's pid.
    await writeNodeIdentity(data, { ...own(), started: own().started - 1 });
    expect(LocalSaveNode.find(data)).toBeNull();
    // Only the node's own volumes take blobs.
    await writeNodeIdentity(data, { ...own(), volumes: ['vol9'] });
    expect(LocalSaveNode.find(data)?.store(`${PUT}v$${ddfsTimestamp()}`, { data: 'x' })).toBeNull();
    await writeNodeIdentity(data, own());
  });

  /** The file of a `disco://h1/ddfs/...` URL in `data`. */
  function replicaPath(url: string | null | undefined): string {
    const u = parseDdfsUrl(url ?? '');
    if (!u) throw new Error(`not a replica URL: ${url}`);
    expect(u.host).toBe('h1');
    return path.join(data, u.vol, u.type, u.hash, u.obj);
  }
});
