/** Scheduling on a real 3-node cluster: data locality, blacklist, force_local, secret auth. */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { PACKAGE_ROOT } from '../../src/common/settings.js';
import { Disco } from '../../src/index.js';
import { type Cluster, startCluster } from '../harness/cluster.js';
import { Chatty } from './fixtures/feature-jobs.js';
import { events, getJson, postJson } from './helpers.js';

let c: Cluster;
let disco: Disco;
beforeAll(async () => {
  c = await startCluster({ nodes: 3, cores: 2, secret: 'sesame' });
  disco = new Disco(c.master);
});
afterAll(async () => {
  await c?.stop();
});

/** Put a file in a node's data directory and return its disco:// URL. */
function nodeFile(i: number, name: string, text: string): string {
  const host = c.nodes[i].host;
  const rel = path.join(host, 'inputs', name);
  const file = path.join(c.nodes[i].root, 'data', rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return `disco://${host}/disco/${rel}`;
}

function assignments(log: [string, string, string][]): Map<number, string[]> {
  const m = new Map<number, string[]>();
  for (const [, , msg] of log) {
    const a = /^map:(\d+) assigned to (\S+)$/.exec(msg);
    if (a) m.set(Number(a[1]), [...(m.get(Number(a[1])) ?? []), a[2]]);
  }
  return m;
}

test('map tasks run where their input is (data locality)', async () => {
  const inputs = [0, 1, 2, 0, 1, 2].map((n, i) => nodeFile(n, `in-${i}.txt`, `word${i}`));
  const job = await new Chatty({ master: disco }).run({ input: inputs });
  await job.wait();
  const where = assignments(await events(c.master, job.name));
  for (const [i, url] of inputs.entries())
    expect(where.get(i), url).toEqual([c.nodes[[0, 1, 2, 0, 1, 2][i]].host]);
});

test('a blacklisted node gets no new tasks; whitelisting brings it back', async () => {
  const victim = c.nodes[2].host;
  await postJson(`${c.master}/disco/ctrl/blacklist`, victim);
  try {
    const job = await new Chatty({ master: disco }).run({
      input: Array.from({ length: 6 }, (_, i) => `raw://b${i}`),
    });
    await job.wait();
    const hosts = [...assignments(await events(c.master, job.name)).values()].flat();
    expect(hosts.length).toBe(6);
    expect(hosts).not.toContain(victim);
    const info = await getJson<Record<string, { blacklisted: boolean }>>(`${c.master}/disco/ctrl/nodeinfo`);
    expect(info[victim].blacklisted).toBe(true);
  } finally {
    await postJson(`${c.master}/disco/ctrl/whitelist`, victim);
  }
});

test('force_local with an input on no node fails the job with the reason', async () => {
  const job = await new Chatty({ master: disco }).run({
    input: ['http://10.255.255.1/never-fetched.txt'],
    scheduler: { forceLocal: true },
  });
  await expect(job.wait()).rejects.toThrow();
  const msgs = (await events(c.master, job.name)).map(([, , m]) => m).join('\n');
  expect(msgs).toContain('Task is forced to be local but there are no nodes where it could be run');
});

test('a node with the wrong secret is refused', async () => {
  const log: string[] = [];
  const root = path.join(c.root, 'intruder');
  mkdirSync(root, { recursive: true });
  const proc = spawn(
    process.execPath,
    [
      path.join(PACKAGE_ROOT, 'dist/node.js'),
      '--host',
      c.nodes[0].host,
      '--master',
      c.master,
      '--no-data-server',
    ],
    {
      env: { ...process.env, ...c.env, DISCO_ROOT: root, DISCO_SECRET: 'wrong' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  proc.stdout.on('data', (b: Buffer) => log.push(b.toString()));
  proc.stderr.on('data', (b: Buffer) => log.push(b.toString()));
  try {
    const deadline = Date.now() + 10_000;
    while (!/refused|secret|auth/i.test(log.join('')) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(log.join('')).toMatch(/refused|secret|auth/i);
    // The real node with that name stays connected and keeps working.
    const info = await getJson<Record<string, { connected: boolean }>>(`${c.master}/disco/ctrl/nodeinfo`);
    expect(info[c.nodes[0].host].connected).toBe(true);
  } finally {
    proc.kill('SIGKILL');
  }
});
