/**
 * Jobs and DDFS on a real three-node cluster with K = 3: `tag://` inputs expanded on the client
 * (tag graphs, tokens from the URL) into blob replica lists, map tasks scheduled on replica
 * holders, `save: true` results in `disco:job:results:<job>`, read back through `tag://`, and
 * results of one job (tag:// or dir://) as the input of the next.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ChainJob, FirstJob } from '../../examples/chained.js';
import { WordCount } from '../../examples/wordcount.js';
import { Settings } from '../../src/common/settings.js';
import { DDFS } from '../../src/ddfs/client/ddfs.js';
import { parseDdfsUrl } from '../../src/ddfs/names.js';
import { Disco } from '../../src/index.js';
import { urlHost } from '../../src/protocol/urls.js';
import { localFileOf } from '../../src/worker/readers/open-url.js';
import { type Cluster, startCluster } from '../harness/cluster.js';
import { events } from './helpers.js';

let c: Cluster;
let disco: Disco;
let ddfs: DDFS;

beforeAll(async () => {
  c = await startCluster({
    nodes: 3,
    // Slots for every task on its own replica holder: nothing waits, so nothing is stolen.
    cores: 10,
    env: { DDFS_BLOB_REPLICAS: '3', DDFS_TAG_REPLICAS: '3', DDFS_TAG_MIN_REPLICAS: '2' },
  });
  disco = new Disco(c.master);
  ddfs = new DDFS(c.master, { settings: new Settings({ DISCO_PORT: String(c.port) }, {}, {}) });
});
afterAll(async () => {
  await c?.stop();
});

/** `n` texts whose words are easy to count. */
function texts(n: number, prefix: string): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i} common\n${prefix}${i} ${prefix}x\n`);
}

function count(all: string[]): Record<string, number> {
  const m: Record<string, number> = {};
  for (const t of all) for (const w of t.split(/\s+/)) if (w) m[w] = (m[w] ?? 0) + 1;
  return m;
}

async function collect<K, V>(it: AsyncIterable<[K, V]>): Promise<Record<string, V>> {
  const out: Record<string, V> = {};
  for await (const [k, v] of it) {
    expect(out[String(k)], `duplicate ${String(k)}`).toBeUndefined();
    out[String(k)] = v;
  }
  return out;
}

/** `map:N assigned to HOST` events of a job. */
async function mapHosts(job: string): Promise<Map<number, string>> {
  const m = new Map<number, string>();
  for (const [, , msg] of await events(c.master, job)) {
    const a = /^map:(\d+) assigned to (\S+)/.exec(msg);
    if (a) m.set(Number(a[1]), a[2]);
  }
  return m;
}

describe('tag:// inputs', () => {
  test('a tag graph is expanded on the client; map tasks run on replica holders', async () => {
    const a = texts(4, 'a');
    const b = texts(5, 'b');
    // K = 3 blobs (every node holds one) and single-replica blobs spread over the nodes, so
    // that locality is visible.
    await ddfs.push(
      'jobs:a',
      a.map((t, i) => [Buffer.from(t), `a${i}`]),
      {},
    );
    // Single-replica blobs placed round-robin on the nodes (new_blob with `exclude`).
    const bSets: string[][] = [];
    for (const [i, t] of b.entries()) {
      const others = c.nodes.filter((_, j) => j !== i % c.nodes.length).map((n) => n.host);
      const r = await fetch(`${c.master}/ddfs/new_blob/b${i}?replicas=1&exclude=${others.join(',')}`);
      const [target] = (await r.json()) as string[];
      const put = await fetch(target, { method: 'PUT', body: t });
      expect(put.status).toBe(201);
      bSets.push([(await put.json()) as string]);
    }
    await ddfs.tag('jobs:b', bSets);
    await ddfs.tag('jobs:all', [['tag://jobs:a'], ['tag://jobs:b'], ['tag://jobs:a']]);
    await ddfs.setattr('jobs:all', 'ddfs:read-token', 'rt');
    const job = await new WordCount({ master: disco }).run({
      input: ['tag://u:rt@/jobs:all'],
      partitions: 2,
    });
    const results = await job.wait();
    expect(await collect(job.resultIterator<string, number>(results))).toEqual(count([...a, ...b]));

    // The job's inputs are the blobs' replica lists (each blob once), and each map task ran on
    // a node holding its input.
    const pack = await disco.jobpack(job.name);
    const inputs = pack.jobdict.input as string[][];
    expect(inputs).toHaveLength(a.length + b.length);
    expect(inputs.filter((r) => r.length === 3)).toHaveLength(a.length);
    expect(inputs.filter((r) => r.length === 1)).toHaveLength(b.length);
    const hosts = await mapHosts(job.name);
    expect(hosts.size).toBe(inputs.length);
    for (const [i, replicas] of inputs.entries()) {
      expect(
        replicas.map(urlHost),
        `map:${i} ran on ${hosts.get(i)}; all: ${JSON.stringify([...hosts])}`,
      ).toContain(hosts.get(i));
    }
    // The single-replica blobs are on every node, so their tasks used every node.
    const single = inputs.flatMap((r, i) => (r.length === 1 ? [hosts.get(i)] : []));
    expect(new Set(single).size).toBe(3);
  });

  test('a worker on a replica holder reads the blob from its own disk', async () => {
    const [set] = await ddfs.urls('jobs:b');
    const url = set[0];
    const host = urlHost(url)!;
    const node = c.nodes.find((n) => n.host === host)!;
    const file = localFileOf(url, {
      host,
      discoPort: c.port,
      discoData: path.join(node.root, 'data'),
      ddfsData: path.join(node.root, 'ddfs'),
      master: c.master,
      tmpDir: node.root,
    });
    expect(file).toBe(
      path.join(
        node.root,
        'ddfs',
        ...parseDdfsUrl(url)!.vol.split('/'),
        'blob',
        parseDdfsUrl(url)!.hash,
        parseDdfsUrl(url)!.obj,
      ),
    );
    expect(
      localFileOf(url, {
        host: 'elsewhere',
        discoPort: c.port,
        discoData: '/x',
        ddfsData: '/y',
        master: c.master,
        tmpDir: '/tmp',
      }),
    ).toBeNull();
  });

  test('the read token may come from the settings (DDFS_READ_TOKEN)', async () => {
    const withToken = new Disco({
      master: c.master,
      settings: { DDFS_READ_TOKEN: 'rt', DISCO_PORT: String(c.port) },
    });
    const built = await new WordCount({ master: withToken }).build({ input: ['tag://jobs:all'] });
    expect(built.jobdict.input).toHaveLength(9);
    await expect(new WordCount({ master: disco }).build({ input: ['tag://jobs:all'] })).rejects.toThrow(
      /Incorrect or missing token/,
    );
  });

  test('a missing tag or a wrong token fails the submission with the reason', async () => {
    await expect(new WordCount({ master: disco }).run({ input: ['tag://jobs:nope'] })).rejects.toThrow(
      /Tag not found/,
    );
    await expect(
      new WordCount({ master: disco }).run({ input: ['tag://u:wrong@/jobs:all'] }),
    ).rejects.toThrow(/Incorrect or missing token/);
  });
});

describe('save: true and chaining', () => {
  test('results saved in DDFS are read back via tag://, and feed the next jobs', async () => {
    const t = texts(3, 's');
    await ddfs.push(
      'jobs:save',
      t.map((x, i) => [Buffer.from(x), `s${i}`]),
    );
    const job = await new WordCount({ master: disco }).run({
      input: ['tag://jobs:save'],
      partitions: 3,
      save: true,
    });
    const results = await job.wait();
    const tag = `disco:job:results:${job.name}`;
    expect(results).toEqual([`tag://${tag}`]);
    const want = count(t);
    expect(await collect(job.resultIterator<string, number>(results))).toEqual(want);
    // One blob per reduce task, K replicas each, named after the job.
    const blobs = await ddfs.urls(tag);
    expect(blobs).toHaveLength(3);
    for (const set of blobs) {
      expect(set).toHaveLength(3);
      expect(DDFS.blobName(set[0])).toMatch(new RegExp(`^disco:blob:${job.name.replace(/[^\w]/g, '.')}:`));
    }

    // The saved results as the next job's input (tag://), then that job's dir:// results.
    const chain1 = await new ChainJob({ master: disco }).run({ input: results });
    const r1 = await chain1.wait();
    expect(r1.every((u) => u.startsWith('dir://'))).toBe(true);
    // A map-only job saves its (unpartitioned) map outputs.
    const first = await new FirstJob({ master: disco }).run({ save: true, partitions: null });
    const saved = await first.wait();
    expect(saved).toEqual([`tag://disco:job:results:${first.name}`]);
    const next = await new ChainJob({ master: disco }).run({ input: saved, save: true, partitions: null });
    const third = await new ChainJob({ master: disco }).run({ input: await next.wait() });
    const recs: [number, string][] = [];
    for await (const kv of third.resultIterator<number, string>(await third.wait())) recs.push(kv);
    expect(recs).toEqual([
      [3, ''],
      [3, ''],
    ]);
    // Chained ChainJob over word counts: keys become numbers (NaN → null), counts unchanged.
    let n = 0;
    for await (const [, v] of chain1.resultIterator<unknown, number>(r1)) n += Number(v) >= 0 ? 1 : 0;
    expect(n).toBe(Object.keys(want).length);
  });
});
