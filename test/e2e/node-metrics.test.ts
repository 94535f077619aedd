/**
 * Node metrics end to end, on a cluster with both kinds of node: 127.0.0.2 with its own data
 * server, and 127.0.0.1 started as the master starts the node of its own machine (`disco start`:
 * `--no-data-server`, the master serves its data), whose metrics have no data server to live on.
 * Checks that the master relays every node's `/metrics` and lists them for Prometheus, and that
 * the bytes the nodes count (task outputs, shuffles) are those of the files a real job left.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { PACKAGE_ROOT } from '../../src/common/settings.js';
import { Disco } from '../../src/index.js';
import { parseIndex } from '../../src/protocol/index-file.js';
import { resolveHttp, splitUrl } from '../../src/protocol/urls.js';
import { type Cluster, startCluster } from '../harness/cluster.js';
import { parsePrometheus, sampleValue } from '../harness/prometheus.js';
import { ByLetter } from './fixtures/feature-jobs.js';
import { getJson, postJson } from './helpers.js';

const LOCAL = '127.0.0.1';
const REMOTE = '127.0.0.2';
let c: Cluster;
let local: ChildProcess;
const localLog: string[] = [];

beforeAll(async () => {
  c = await startCluster({ nodes: 1, cores: 2 });
  await postJson(`${c.master}/disco/ctrl/save_config_table`, [
    [REMOTE, '2'],
    [LOCAL, '2'],
  ]);
  // As the master's LocalNodeSupervisor starts it: the master's settings and root.
  local = spawn(
    process.execPath,
    [path.join(PACKAGE_ROOT, 'dist', 'node.js'), '--host', LOCAL, '--master', c.master, '--no-data-server'],
    {
      env: { ...process.env, ...c.env, DISCO_ROOT: path.join(c.root, 'master') },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  for (const s of [local.stdout, local.stderr]) s?.on('data', (b: Buffer) => localLog.push(b.toString()));
  const deadline = Date.now() + 20_000;
  for (;;) {
    const info = await getJson<Record<string, { connected: boolean }>>(`${c.master}/disco/ctrl/nodeinfo`);
    if (info[LOCAL]?.connected) break;
    if (Date.now() > deadline || local.exitCode !== null)
      throw new Error(`local node did not connect: ${localLog.join('')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
});
afterAll(async () => {
  if (local && local.exitCode === null) {
    const exited = new Promise((r) => local.once('exit', r));
    local.kill('SIGTERM');
    await exited;
  }
  await c?.stop();
});

async function nodeMetrics(host: string) {
  const r = await fetch(`${c.master}/metrics/node/${host}`);
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await r.text());
}

test('the master relays every node’s /metrics, the local node’s included, and lists them', async () => {
  for (const host of [LOCAL, REMOTE]) {
    const m = await nodeMetrics(host);
    // The node's own metrics (not the master's).
    expect(sampleValue(m, 'disco_node_connected')).toBe(1);
    expect(sampleValue(m, 'disco_node_worker_processes')).toBeDefined();
    expect(sampleValue(m, 'disco_jobs_submitted_total')).toBeUndefined();
    expect(sampleValue(m, 'disco_node_shuffle_bytes_total', { phase: 'map' })).toBeGreaterThanOrEqual(0);
    expect(sampleValue(m, 'disco_node_task_output_bytes_total', { phase: 'reduce' })).toBeGreaterThanOrEqual(
      0,
    );
  }
  // The remote node's relayed metrics are those its data server answers.
  const direct = parsePrometheus(await (await fetch(`http://${REMOTE}:${c.port}/metrics`)).text());
  expect(direct.types.get('disco_node_data_sent_bytes_total')).toBe('counter');
  expect(sampleValue(direct, 'disco_node_connected')).toBe(1);

  const targets = await getJson<{ targets: string[]; labels: Record<string, string> }[]>(
    `${c.master}/metrics/nodes`,
  );
  expect(targets).toEqual(
    [REMOTE, LOCAL].map((h) => ({
      targets: [new URL(c.master).host],
      labels: { __metrics_path__: `/metrics/node/${h}`, node: h },
    })),
  );
  const unknown = await fetch(`${c.master}/metrics/node/nowhere`);
  expect(unknown.status).toBe(404);
  expect(await unknown.text()).toMatch(/No node nowhere in the config table/);
});

/** Bytes of the files listed by dir:// index URLs, by the host that holds each file. */
async function bytesByHost(indexUrls: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const idx of indexUrls) {
    const body = Buffer.from(await (await fetch(resolveHttp(idx, c.port))).arrayBuffer());
    for (const e of parseIndex(body, idx.endsWith('.gz'))) {
      const r = await fetch(resolveHttp(e.url, c.port));
      expect(r.status).toBe(200);
      const n = (await r.arrayBuffer()).byteLength;
      const host = splitUrl(e.url).host;
      out.set(host, (out.get(host) ?? 0) + n);
    }
  }
  return out;
}

test('nodes count the bytes of task outputs and of shuffles, as the job’s files show', async () => {
  const counters = async () => {
    const out = new Map<string, Record<string, number>>();
    for (const host of [LOCAL, REMOTE]) {
      const m = await nodeMetrics(host);
      const v = (name: string, phase: string) => sampleValue(m, name, { phase }) ?? Number.NaN;
      out.set(host, {
        mapOutput: v('disco_node_task_output_bytes_total', 'map'),
        reduceOutput: v('disco_node_task_output_bytes_total', 'reduce'),
        mapShuffle: v('disco_node_shuffle_bytes_total', 'map'),
        reduceShuffle: v('disco_node_shuffle_bytes_total', 'reduce'),
      });
    }
    return out;
  };
  const before = await counters();
  // Input files on each node, run where they are: both nodes map, shuffle and reduce.
  const input: string[] = [];
  for (const [host, data] of [
    [LOCAL, path.join(c.root, 'master', 'data')],
    [REMOTE, path.join(c.nodes[0].root, 'data')],
  ]) {
    mkdirSync(path.join(data, 'metrics-test'), { recursive: true });
    for (let i = 0; i < 4; i++) {
      const words = Array.from({ length: 500 }, (_, j) => `w${(j * 7919 + i) % 1500}`);
      writeFileSync(path.join(data, 'metrics-test', `in-${i}.txt`), `${words.join(' ')}\n`);
      input.push(`disco://${host}/disco/metrics-test/in-${i}.txt`);
    }
  }
  const job = await new ByLetter({ master: new Disco(c.master) }).run({
    input,
    scheduler: { forceLocal: true },
  });
  const results = await job.wait();
  const after = await counters();

  // Map outputs are partition files, each appended once to a partition of its node by the
  // shuffle: the partitions the map results list hold exactly the map tasks' bytes.
  const mapResults = await getJson<string[]>(`${c.master}/disco/ctrl/get_mapresults?name=${job.name}`);
  const shuffled = await bytesByHost(mapResults);
  const reduced = await bytesByHost(results);
  expect([...shuffled.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  expect([...shuffled.keys()].sort()).toEqual([LOCAL, REMOTE]);
  for (const host of [LOCAL, REMOTE]) {
    const d = (k: string) => after.get(host)![k] - before.get(host)![k];
    expect({ host, mapOutput: d('mapOutput'), mapShuffle: d('mapShuffle') }).toEqual({
      host,
      mapOutput: shuffled.get(host) ?? 0,
      mapShuffle: shuffled.get(host) ?? 0,
    });
    expect({ host, reduceOutput: d('reduceOutput'), reduceShuffle: d('reduceShuffle') }).toEqual({
      host,
      reduceOutput: reduced.get(host) ?? 0,
      reduceShuffle: 0,
    });
  }
  await job.purge();
});
