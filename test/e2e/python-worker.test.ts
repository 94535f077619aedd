/** A worker written in Python (our own, protocol 1.0 only) runs a map+reduce job on a 2-node cluster. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import yazl from 'yazl';
import { encodeJobPack } from '../../src/protocol/jobpack.js';
import { type Cluster, startCluster } from '../harness/cluster.js';
import { events, readDirResults, submitPack, waitJob } from './helpers.js';

let c: Cluster;
beforeAll(async () => {
  c = await startCluster({ nodes: 2, cores: 2 });
});
afterAll(async () => {
  await c?.stop();
});

function zip(files: Record<string, Buffer>): Promise<Buffer> {
  const z = new yazl.ZipFile();
  for (const [name, data] of Object.entries(files)) z.addBuffer(data, name, { mode: 0o100755 });
  z.end();
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    z.outputStream.on('data', (b: Buffer) => chunks.push(b));
    z.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    z.outputStream.on('error', reject);
  });
}

test('a Python protocol-1.0 worker runs map and reduce', async () => {
  const texts = ['the cat sat on the mat', 'the dog ate the cat food', 'a mat a hat a cat'];
  const home = await zip({ 'worker.py': readFileSync(path.join(import.meta.dirname, 'fixtures/py_worker.py')) });
  const pack = encodeJobPack({
    jobdict: {
      prefix: 'PyWords',
      input: texts.map((t) => `raw://${t}`),
      worker: 'worker.py',
      owner: 'test@localhost',
      nr_reduces: 2,
      scheduler: {},
      'map?': true,
      'reduce?': true,
    },
    jobhome: home,
  });
  const job = await submitPack(c.master, pack);
  const [status, results] = await waitJob(c.master, job);
  const log = await events(c.master, job);
  expect(status, JSON.stringify(log, null, 1)).toBe('ready');
  const got = new Map<string, number>();
  for (const { data } of await readDirResults(results, c.port)) {
    for (const row of data.toString().split('\n').filter(Boolean)) {
      const [w, n] = row.split(' ');
      expect(got.has(w)).toBe(false);
      got.set(w, Number(n));
    }
  }
  const want = new Map<string, number>();
  for (const w of texts.join(' ').split(' ')) want.set(w, (want.get(w) ?? 0) + 1);
  expect(Object.fromEntries([...got].sort())).toEqual(Object.fromEntries([...want].sort()));
  expect(log.some(([, , m]) => m.includes('python worker: map task'))).toBe(true);
  expect(log.some(([, , m]) => m.startsWith('READY: Job finished in'))).toBe(true);
});
