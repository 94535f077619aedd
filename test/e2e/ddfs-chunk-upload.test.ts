/**
 * `DDFS.chunk` uploads each chunk from memory while it is built: when the node receiving a
 * chunk is SIGKILLed in the middle of it, the chunk goes to another node, re-sent from memory
 * (the input is a stream read once), and every record comes back exactly, in order; the node
 * keeps no blob of the upload cut short; with K = 2 (and compression), both replicas stream at
 * once and get the same bytes. Real processes (master and two nodes).
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Settings } from '../../src/common/settings.js';
import { DDFS } from '../../src/ddfs/client/ddfs.js';
import { BufferSource, readRecords } from '../../src/protocol/record-stream.js';
import { urlHost } from '../../src/protocol/urls.js';
import { type Cluster, startCluster } from '../harness/cluster.js';
import { readBlob } from './helpers.js';

let c: Cluster;
let ddfs: DDFS;

beforeAll(async () => {
  c = await startCluster({
    nodes: 2,
    cores: 1,
    env: { DDFS_BLOB_REPLICAS: '1', DDFS_TAG_REPLICAS: '1', DDFS_TAG_MIN_REPLICAS: '1' },
  });
  ddfs = new DDFS(c.master, { settings: new Settings({ DISCO_PORT: String(c.port) }, {}, {}) });
});
afterAll(async () => {
  await c?.stop();
});

/** Files of node `i` whose name starts with `prefix`, or matches it (under its DDFS data). */
async function nodeFiles(i: number, prefix: string | RegExp): Promise<string[]> {
  const root = path.join(c.nodes[i].root, 'ddfs');
  if (!existsSync(root)) return [];
  const all = (await fs.readdir(root, { recursive: true })) as string[];
  const matches = (name: string) =>
    typeof prefix === 'string' ? name.startsWith(prefix) : prefix.test(name);
  return all.filter((f) => matches(path.basename(f)));
}

test('a node killed while a chunk streams to it: the chunk is re-sent from memory to the other node', async () => {
  const MiB = 1 << 20;
  const lines = Array.from({ length: 400_000 }, (_, i) => `line ${i} ${'abcdefghij'.repeat(i % 9)}`);
  const text = Buffer.from(`${lines.join('\n')}\n`);
  expect(text.length).toBeGreaterThan(20 * MiB);
  let killed = -1;
  // The input: a stream that can be read once only. A third of the way into the second
  // chunk, the node receiving that chunk (the one with its partial blob file,
  // `!partial-<ts>.lines_txt-1$...`) is killed.
  const input = async function* (bytes: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    let sent = 0;
    for await (const b of bytes) {
      yield b;
      sent += b.length;
      if (killed < 0 && sent >= 11 * MiB) {
        const deadline = Date.now() + 10_000;
        while (killed < 0 && Date.now() < deadline) {
          for (const i of [0, 1])
            if ((await nodeFiles(i, /^!partial-.*\.lines_txt-1\$/)).length > 0) killed = i;
          if (killed < 0) await new Promise((r) => setTimeout(r, 20));
        }
        expect(killed).toBeGreaterThanOrEqual(0);
        await c.killNode(killed);
        // Back at once (the tag needs it), with no trace of the upload: it is gone for good.
        await c.startNode(killed);
      }
    }
  };
  const file = path.join(c.root, 'lines.txt');
  await fs.writeFile(file, text);
  const [, blobs] = await ddfs.chunk('chunks:killed', [file], { chunkSize: 8 * MiB, inputStream: [input] });
  expect(killed).toBeGreaterThanOrEqual(0);
  expect(blobs.length).toBeGreaterThanOrEqual(3);
  // The chunk that was streaming went to the other node.
  expect(blobs[1].map(urlHost)).toEqual([c.nodes[1 - killed].host]);
  // The killed node kept no blob of the upload cut short.
  const stored = await nodeFiles(killed, 'lines_txt-');
  expect(stored.map((f) => path.basename(f).split('$')[0]).filter((n) => n === 'lines_txt-1')).toEqual([]);
  const got: string[] = [];
  for await (const blob of ddfs.pull('chunks:killed')) {
    const data = await blob.read();
    for (const [k] of readRecords(new BufferSource(data))) got.push(k as string);
  }
  expect(got.length).toBe(lines.length);
  expect(got).toEqual(lines);
});

test('two replicas of each chunk, compressed, streamed at once: the same bytes on both nodes', async () => {
  const lines = Array.from({ length: 120_000 }, (_, i) => `${i} ${(i * 2654435761) % 4294967296}`);
  const file = path.join(c.root, 'k2.txt');
  await fs.writeFile(file, `${lines.join('\n')}\n`);
  const [, blobs] = await ddfs.chunk('chunks:k2', [file], {
    chunkSize: 256 * 1024,
    replicas: 2,
    compression: 1,
  });
  expect(blobs.length).toBeGreaterThan(2);
  const got: string[] = [];
  for (const set of blobs) {
    expect(set.map(urlHost).sort()).toEqual(c.nodes.map((n) => n.host).sort());
    const [a, b] = await Promise.all(set.map((u) => readBlob(c.port, [u])));
    expect(a.equals(b)).toBe(true);
    // Compressed hunks (flag 1), whole records in each chunk.
    expect(a[1]).toBe(1);
    for (const [k] of readRecords(new BufferSource(a))) got.push(k as string);
  }
  expect(got).toEqual(lines);
});
