/**
 * JobCluster against real node daemons on loopback (in this process; jobs run in the node's
 * worker processes). The seeds' examples: depends, provisional results that cancel the rest,
 * dispySendFile, setup with shared data, program computations; plus timeouts, cancel, no node.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DispyJob,
  DispyJobError,
  DispyNoNodesError,
  dispyProvisionalResult,
  dispySendFile,
  JobCluster,
} from '../../src/dispy/index.js';
import type { DispyNodeDaemon } from '../../src/dispy/node/daemon.js';
import { cleanupAll, startNode, tempDir } from './helpers.js';

// Globals the computations get from depends data (declared for the type checker).
declare const SCALE: number;
declare const LIMITS: { max: number };

let node: DispyNodeDaemon;
let nodes: [string, number][];

beforeAll(async () => {
  node = await startNode({ cpus: 2, cancelGrace: 0.3 });
  nodes = [['127.0.0.1', node.port]];
});
afterAll(cleanupAll);

describe('function computations', () => {
  it('returns results, output and exceptions', async () => {
    function compute(n: number) {
      console.log(`out ${n}`);
      console.error(`err ${n}`);
      if (n === 3) throw new RangeError('three is bad');
      return { n, sq: n * n, when: new Date(0), set: new Set([n]) };
    }
    const cluster = new JobCluster(compute, { nodes });
    const jobs = [1, 2, 3].map((n) => cluster.submit(n));
    const r1 = await jobs[0];
    expect(r1).toEqual({ n: 1, sq: 1, when: new Date(0), set: new Set([1]) });
    expect(jobs[0].stdout).toBe('out 1\n');
    expect(jobs[0].stderr).toBe('err 1\n');
    await expect(jobs[2]).rejects.toBeInstanceOf(DispyJobError);
    expect(jobs[2].status).toBe(DispyJob.Terminated);
    expect(jobs[2].exception).toMatch(/RangeError: three is bad/);
    expect(jobs[2].result).toBeUndefined();
    await cluster.wait();
    expect(cluster.jobsPending).toBe(0);
    const st = cluster.status();
    expect(st.nodes).toHaveLength(1);
    expect(st.nodes[0].jobsDone).toBe(3);
    const table = cluster.printStatus();
    expect(table).toContain('127.0.0.1');
    await cluster.close();
  });

  it('ships depends: functions, classes, data, module and data files', async () => {
    const dir = tempDir('dispy-deps-');
    mkdirSync(path.join(dir, 'lib'));
    writeFileSync(path.join(dir, 'lib', 'helper.cjs'), 'exports.twice = (x) => 2 * x;\n');
    writeFileSync(path.join(dir, 'lib', 'esm.mjs'), 'export const plus = (a, b) => a + b;\n');
    writeFileSync(path.join(dir, 'table.txt'), 'a=1\nb=2\n');
    function helper(x: number) {
      return x + 100;
    }
    class Acc {
      total = 0;
      add(x: number) {
        this.total += x;
        return this;
      }
    }
    async function compute(n: number) {
      const fs = require('node:fs');
      const { twice } = require('./lib/helper.cjs');
      const esm = './lib/esm.mjs';
      const { plus } = await import(esm);
      const lines = fs.readFileSync('table.txt', 'utf8').trim().split('\n');
      return [helper(n), new Acc().add(n).add(SCALE).total, twice(n), plus(n, 1), lines.length, LIMITS.max];
    }
    const cwd = process.cwd();
    process.chdir(dir);
    let cluster: JobCluster<typeof compute>;
    try {
      cluster = new JobCluster(compute, {
        nodes,
        depends: [
          helper,
          Acc,
          'lib/helper.cjs',
          'lib/esm.mjs',
          'table.txt',
          { SCALE: 10, LIMITS: { max: 7 } },
        ],
      });
    } finally {
      process.chdir(cwd);
    }
    expect(await cluster.submit(5)).toEqual([105, 15, 10, 6, 2, 7]);
    await cluster.close();
  });

  it('runs every job in a fresh scope: globals, module state and built-ins never leak', async () => {
    // biome-ignore lint/complexity/noStaticOnlyClass: static state is what this test is about.
    class Counter {
      static n = 0;
      static next() {
        Counter.n += 1;
        return Counter.n;
      }
    }
    function compute(kind: string) {
      const g = globalThis as Record<string, unknown>;
      const seen = g.leaked ?? null;
      g.leaked = kind;
      if (kind === 'pollute') (Array.prototype as unknown as Record<string, number>).polluted = 1;
      return [seen, Counter.next(), ([] as unknown as Record<string, unknown>).polluted ?? null];
    }
    const cluster = new JobCluster(compute, { nodes, depends: [Counter] });
    const results = [];
    for (const k of ['a', 'pollute', 'b', 'c', 'd', 'e']) results.push(await cluster.submit(k));
    expect(results[1]).toEqual([null, 1, 1]);
    for (const [i, r] of results.entries()) if (i !== 1) expect(r).toEqual([null, 1, null]);
    await cluster.close();
  });

  it('sends provisional results; the callback can cancel the other jobs', async () => {
    async function compute(id: number, steps: number) {
      for (let i = 0; i < steps; i++) {
        if (id === 1 && i === 2) await dispyProvisionalResult([id, 0.001]);
        else await dispyProvisionalResult([id, 0.5]);
        await new Promise((r) => setTimeout(r, 50));
      }
      return null;
    }
    const jobs: DispyJob<null>[] = [];
    const provisional: unknown[] = [];
    let cluster: JobCluster<typeof compute> | null = null;
    cluster = new JobCluster(compute, {
      nodes,
      callback: (job) => {
        if (job.status !== DispyJob.ProvisionalResult) return;
        const r = job.result as unknown as [number, number];
        provisional.push(r);
        if (r[1] < 0.005) {
          for (const j of jobs) {
            if (
              j.status === DispyJob.Created ||
              j.status === DispyJob.Running ||
              j.status === DispyJob.ProvisionalResult
            ) {
              cluster!.cancel(j);
            }
          }
        }
      },
    });
    for (let n = 0; n < 4; n++) jobs.push(cluster.submit(n, 100));
    await cluster.wait();
    expect(provisional).toContainEqual([1, 0.001]);
    const statuses = jobs.map((j) => j.status);
    expect(statuses.filter((s) => s === DispyJob.Finished)).toHaveLength(0);
    expect(statuses.every((s) => s === DispyJob.Terminated || s === DispyJob.Cancelled)).toBe(true);
    await cluster.close();
  });

  it('dispySendFile saves a job file under the client directory', async () => {
    const clientDir = tempDir('dispy-client-');
    async function compute(n: number) {
      const fs = require('node:fs');
      fs.mkdirSync('out', { recursive: true });
      fs.writeFileSync(`out/file-${n}.dat`, 'x'.repeat(1000 * n));
      const rc = await dispySendFile(`out/file-${n}.dat`);
      return rc;
    }
    const cluster = new JobCluster(compute, { nodes, clientDir });
    expect(await cluster.submit(3)).toBe(0);
    expect(readFileSync(path.join(clientDir, 'out', 'file-3.dat'), 'utf8')).toBe('x'.repeat(3000));
    await cluster.close();
  });

  it('setup prepares read-only data shared by the jobs; cleanup runs at close', async () => {
    const marker = path.join(tempDir('dispy-cleanup-'), 'cleaned');
    function setup(size: number) {
      (globalThis as Record<string, unknown>).table = Array.from({ length: size }, (_, i) => i * i);
      return 0;
    }
    function cleanup(_size: number, file: string) {
      require('node:fs').writeFileSync(
        file,
        `cleaned ${(globalThis as unknown as { table: number[] }).table.length}`,
      );
    }
    function compute(i: number) {
      const t = (globalThis as unknown as { table: number[] }).table;
      let modified = false;
      try {
        t[i] = -1;
        modified = t[i] === -1;
      } catch {
        modified = false;
      }
      return [t[i], t.length, modified];
    }
    const { NodeAllocate } = await import('../../src/dispy/index.js');
    const cluster = new JobCluster(compute, {
      nodes: [new NodeAllocate('127.0.0.1', { port: node.port, setupArgs: [1000, marker] })],
      setup: setup as (...a: never[]) => unknown,
      cleanup: cleanup as (...a: never[]) => unknown,
    });
    const jobs = [3, 7, 3].map((i) => cluster.submit(i));
    expect(await Promise.all(jobs)).toEqual([
      [9, 1000, false],
      [49, 1000, false],
      [9, 1000, false],
    ]);
    await cluster.close();
    expect(readFileSync(marker, 'utf8')).toBe('cleaned 1000');
  });

  it('ends a job that never finishes at its timeout (sync loop and pending promise)', async () => {
    function compute(kind: string) {
      if (kind === 'loop') for (;;) {}
      if (kind === 'wait') return new Promise(() => {});
      return kind;
    }
    const cluster = new JobCluster(compute, { nodes });
    const t0 = Date.now();
    const loop = cluster.submitJob(['loop'], { timeout: 0.5 });
    const wait = cluster.submitJob(['wait'], { timeout: 0.5 });
    await cluster.wait();
    expect(Date.now() - t0).toBeLessThan(5000);
    for (const j of [loop, wait]) {
      expect(j.status).toBe(DispyJob.Terminated);
      expect(j.exception).toMatch(/timeout of 0.5 s/);
    }
    // The node replaced the stopped workers: the cluster still works.
    expect(await cluster.submit('fine')).toBe('fine');
    await cluster.close();
  });

  it('cancels queued and running jobs', async () => {
    function compute(ms: number) {
      return new Promise((r) => setTimeout(() => r(ms), ms));
    }
    const cluster = new JobCluster(compute, { nodes });
    // 2 CPUs: two jobs run, two wait on the node (sent ahead), one waits here.
    const jobs = [5000, 5000, 5000, 5000, 5000].map((ms) => cluster.submit(ms));
    while (jobs[3].status !== DispyJob.Running) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    expect(jobs[4].status).toBe(DispyJob.Created);
    for (const j of jobs) expect(cluster.cancel(j)).toBe(0);
    await cluster.wait();
    expect(jobs.map((j) => j.status)).toEqual([
      DispyJob.Terminated,
      DispyJob.Terminated,
      DispyJob.Cancelled,
      DispyJob.Cancelled,
      DispyJob.Cancelled,
    ]);
    expect(cluster.cancel(jobs[0])).toBe(-1);
    await cluster.close();
  });
});

describe('jobs waiting in workers', () => {
  it('cancels a job sent ahead to a busy worker without disturbing the running one', async () => {
    function compute(ms: number) {
      return new Promise((r) => setTimeout(() => r(ms), ms));
    }
    const cluster = new JobCluster(compute, { nodes });
    const jobs = [800, 800, 5000, 5000].map((ms) => cluster.submit(ms));
    while (!jobs.every((j) => j.status === DispyJob.Running)) await new Promise((r) => setTimeout(r, 20));
    expect(cluster.cancel(jobs[2])).toBe(0);
    expect(cluster.cancel(jobs[3])).toBe(0);
    await cluster.wait();
    expect(jobs.map((j) => j.status)).toEqual([
      DispyJob.Finished,
      DispyJob.Finished,
      DispyJob.Cancelled,
      DispyJob.Cancelled,
    ]);
    // The workers were kept: more jobs run at once.
    expect(await cluster.submit(1)).toBe(1);
    await cluster.close();
  });
});

describe('program computations', () => {
  it('runs a program with the arguments; exit status is the result', async () => {
    const dir = tempDir('dispy-prog-');
    const prog = path.join(dir, 'prog.sh');
    writeFileSync(prog, '#!/bin/sh\necho "hello $1"\necho "oops" >&2\nexit $2\n', { mode: 0o755 });
    const cluster = new JobCluster(prog, { nodes });
    const ok = cluster.submit('world', 0);
    const bad = cluster.submit('there', 3);
    expect(await ok).toBe(0);
    expect(ok.stdout).toBe('hello world\n');
    expect(ok.stderr).toBe('oops\n');
    expect(await bad).toBe(3);
    await cluster.close();
  });
});

describe('nodes that cannot be used', () => {
  it('fails queued jobs with a clear error when no node is ready in time', async () => {
    const cluster = new JobCluster((x: number) => x, { nodes: [['127.0.0.1', 1]], nodeTimeout: 0.5 });
    const job = cluster.submit(1);
    await expect(cluster.ready()).rejects.toBeInstanceOf(DispyNoNodesError);
    await job.finish();
    expect(job.status).toBe(DispyJob.Abandoned);
    expect(job.exception).toMatch(/no dispy node was ready within 0.5 s.*127\.0\.0\.1:1.*ECONNREFUSED/);
    await cluster.close();
  });

  it('refuses a client with the wrong secret', async () => {
    const secretNode = await startNode({ secret: 'right one' });
    const bad = new JobCluster((x: number) => x, {
      nodes: [['127.0.0.1', secretNode.port]],
      secret: 'wrong',
      nodeTimeout: 0.5,
    });
    const job = bad.submit(1);
    await job.finish();
    expect(job.status).toBe(DispyJob.Abandoned);
    expect(job.exception).toMatch(/authentication failed/);
    await bad.close();
    const good = new JobCluster((x: number) => x + 1, {
      nodes: [['127.0.0.1', secretNode.port]],
      secret: 'right one',
    });
    expect(await good.submit(1)).toBe(2);
    await good.close();
  });

  it('a client with a secret refuses a node without it', async () => {
    const open = await startNode();
    const c = new JobCluster((x: number) => x, {
      nodes: [['127.0.0.1', open.port]],
      secret: 's',
      nodeTimeout: 0.5,
    });
    const job = c.submit(1);
    await job.finish();
    expect(job.exception).toMatch(/did not prove that it knows the secret/);
    await c.close();
  });

  it('refuses dependencies larger than the node accepts', async () => {
    const small = await startNode({ maxFileSize: 100 });
    const dir = tempDir('dispy-big-');
    const big = path.join(dir, 'big.dat');
    writeFileSync(big, Buffer.alloc(1000));
    const c = new JobCluster((x: number) => x, {
      nodes: [['127.0.0.1', small.port]],
      depends: [big],
      nodeTimeout: 0.5,
    });
    const job = c.submit(1);
    await job.finish();
    expect(job.exception).toMatch(/exceeds the node's max_file_size/);
    await c.close();
    expect(existsSync(big)).toBe(true);
  });
});

describe('node options and the monitor of a JobCluster', () => {
  it('--serve: the node stops after serving that many clients; negative --cpus leaves CPUs free', async () => {
    const { effectiveCpus } = await import('../../src/dispy/node/options.js');
    expect(effectiveCpus(-1, 8)).toBe(7);
    expect(effectiveCpus(-10, 8)).toBe(1);
    expect(effectiveCpus(0, 8)).toBe(8);
    expect(effectiveCpus(3, 8)).toBe(3);
    const once = await startNode({ serve: 1 });
    const stopped = once.stopped();
    const c = new JobCluster((x: number) => x, { nodes: [['127.0.0.1', once.port]] });
    expect(await c.submit(7)).toBe(7);
    await c.close();
    await stopped;
  });

  it('refuses dispySendFile beyond the node max_file_size', async () => {
    const small = await startNode({ maxFileSize: 1000 });
    async function compute() {
      require('node:fs').writeFileSync('big.dat', Buffer.alloc(5000));
      return dispySendFile('big.dat');
    }
    const c = new JobCluster(compute, {
      nodes: [['127.0.0.1', small.port]],
      clientDir: tempDir('dispy-sf-'),
    });
    const job = c.submit();
    expect(await job).toBe(-1);
    expect(job.stderr).toMatch(/exceeds the node's max_file_size of 1000 bytes/);
    await c.close();
  });

  it('serves a monitor page for a JobCluster', async () => {
    const { startMonitor } = await import('../../src/dispy/index.js');
    function wait(ms: number) {
      return new Promise((r) => setTimeout(() => r(ms), ms));
    }
    const c = new JobCluster(wait, { nodes });
    const mon = await startMonitor({ source: c, host: '127.0.0.1' });
    try {
      const job = c.submit(5000);
      while (job.status !== DispyJob.Running) await new Promise((r) => setTimeout(r, 20));
      const st = (await (await fetch(`${mon.url}api/status`)).json()) as {
        clusters: { name: string; submitted: number; nodes: { cpus: number }[]; jobs: { uid: number }[] }[];
      };
      expect(st.clusters[0]).toMatchObject({ name: 'wait', submitted: 1 });
      expect(st.clusters[0].nodes[0].cpus).toBe(2);
      const r = await fetch(`${mon.url}api/cancel`, {
        method: 'POST',
        body: JSON.stringify({ computeId: c.computeId, uid: st.clusters[0].jobs[0].uid }),
      });
      expect(await r.json()).toEqual({ cancelled: true });
      await job.finish();
      expect(job.status).toBe(DispyJob.Terminated);
    } finally {
      await mon.close();
      await c.close();
    }
  });
});
