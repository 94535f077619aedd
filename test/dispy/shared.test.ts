/**
 * dispyscheduler with SharedJobCluster: two client programs share the nodes at once; secrets
 * differ on the node and client sides; the monitor page shows and cancels jobs.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/common/settings.js';
import { DispyJob, SharedJobCluster, startMonitor } from '../../src/dispy/index.js';
import { DispyScheduler } from '../../src/dispy/scheduler/daemon.js';
import { cleanupAll, sleep, startNode, tempDir } from './helpers.js';

let sched: DispyScheduler;

beforeAll(async () => {
  const n1 = await startNode({ ipAddr: '127.0.0.2', cpus: 1, secret: 'node-side' });
  const n2 = await startNode({ ipAddr: '127.0.0.3', cpus: 1, secret: 'node-side' });
  sched = new DispyScheduler({
    nodes: [`127.0.0.2:${n1.port}`, `127.0.0.3:${n2.port}`],
    ipAddr: '127.0.0.1',
    port: 0,
    nodeSecret: 'node-side',
    clusterSecret: 'client-side',
    pulseInterval: 1,
    discovery: false,
    destPathPrefix: tempDir('dispy-sched-'),
  });
  await sched.start();
});
afterAll(async () => {
  await sched.stop();
  await cleanupAll();
});

function runOther(count: number): Promise<{ results: string[]; nodes: string[] }> {
  return new Promise((resolve, reject) => {
    const p = spawn(
      process.execPath,
      [
        path.join(PACKAGE_ROOT, 'scripts', 'run-ts.mjs'),
        'test/dispy/fixtures/shared-client.ts',
        String(sched.port),
        'client-side',
        String(count),
      ],
      { cwd: PACKAGE_ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    p.once('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(out.trim().split('\n').pop()!))
        : reject(new Error(`exit ${code}: ${out}`)),
    );
  });
}

describe('SharedJobCluster through dispyscheduler', () => {
  it('lets two client programs use the same nodes at once', async () => {
    async function compute(n: number) {
      await new Promise((r) => setTimeout(r, 20));
      return n * n;
    }
    const cluster = new SharedJobCluster(compute, {
      schedulerNode: '127.0.0.1',
      schedulerPort: sched.port,
      secret: 'client-side',
      loglevel: 'silent',
    });
    const other = runOther(30);
    const jobs = Array.from({ length: 30 }, (_, i) => cluster.submit(i));
    const results = await Promise.all(jobs);
    expect(results).toEqual(Array.from({ length: 30 }, (_, i) => i * i));
    expect(new Set(jobs.map((j) => j.ipAddr))).toEqual(new Set(['127.0.0.2', '127.0.0.3']));
    const o = await other;
    expect(o.results).toEqual(Array.from({ length: 30 }, (_, i) => `other:${i * 10}`));
    expect(new Set(o.nodes)).toEqual(new Set(['127.0.0.2', '127.0.0.3']));
    expect(cluster.status().nodes.length).toBe(2);
    await cluster.close();
  });

  it('refuses a client with the node-side secret', async () => {
    const c = new SharedJobCluster((x: number) => x, {
      schedulerPort: sched.port,
      secret: 'node-side',
      loglevel: 'silent',
    });
    const job = c.submit(1);
    await job.finish();
    expect(job.status).toBe(DispyJob.Abandoned);
    expect(job.exception).toMatch(/authentication failed/);
    await c.close();
  });

  it('shows jobs on the monitor page and cancels them from there', async () => {
    function slow(ms: number) {
      return new Promise((r) => setTimeout(() => r(ms), ms));
    }
    const cluster = new SharedJobCluster(slow, {
      schedulerPort: sched.port,
      secret: 'client-side',
      loglevel: 'silent',
    });
    const mon = await startMonitor({ source: sched, host: '127.0.0.1' });
    try {
      await cluster.ready();
      while (cluster.status().nodes.length < 2) await sleep(20);
      const jobs = [10_000, 10_000].map((ms) => cluster.submit(ms));
      while (!jobs.every((j) => j.status === DispyJob.Running)) await sleep(20);
      const page = await (await fetch(mon.url)).text();
      expect(page).toContain('dispy: Cluster Status');
      const status = (await (await fetch(`${mon.url}api/status`)).json()) as {
        clusters: {
          computeId: string;
          name: string;
          nodes: unknown[];
          jobs: { uid: number; args: string }[];
        }[];
      };
      const mine = status.clusters.find((c) => c.computeId === cluster.computeId)!;
      expect(mine.name).toBe('slow');
      expect(mine.nodes).toHaveLength(2);
      expect(mine.jobs.map((j) => j.args).sort()).toEqual(['[10000]', '[10000]']);
      for (const j of mine.jobs) {
        const r = await fetch(`${mon.url}api/cancel`, {
          method: 'POST',
          body: JSON.stringify({ computeId: mine.computeId, uid: j.uid }),
        });
        expect(await r.json()).toEqual({ cancelled: true });
      }
      await cluster.wait();
      expect(jobs.map((j) => j.status)).toEqual([DispyJob.Terminated, DispyJob.Terminated]);
    } finally {
      await mon.close();
      await cluster.close();
    }
  });
});
