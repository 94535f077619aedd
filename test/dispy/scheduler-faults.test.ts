/**
 * dispyscheduler beyond the happy path: TLS with separate certificates and secrets toward
 * clients and nodes, a SharedJobCluster client killed and its results recovered through the
 * scheduler, the scheduler killed and restarted under a running client (which reconnects and
 * gets every result), restarted with `--clean` or gone for good (the client says so), and
 * `exclusive` clusters. Nodes run in this process; restarted schedulers are real processes.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DispyJob, faultRecoverJobs, SharedJobCluster } from '../../src/dispy/index.js';
import { DispyScheduler } from '../../src/dispy/scheduler/daemon.js';
import {
  cleanupAll,
  ensureBuilt,
  HAVE_OPENSSL,
  selfSignedCert,
  sleep,
  startCrashClient,
  startNode,
  startSchedulerProcess,
  tempDir,
  waitFor,
} from './helpers.js';

beforeAll(() => {
  ensureBuilt();
}, 120_000);
afterEach(cleanupAll);

async function slow(ms: number) {
  await new Promise((r) => setTimeout(r, ms));
  return ms * 2;
}

/** Result files the scheduler keeps under `dir` (one computation directory each). */
function countResultFiles(dir: string): number {
  let n = 0;
  for (const c of existsSync(dir) ? readdirSync(dir) : []) {
    const d = path.join(dir, c, '.dispy-results');
    if (existsSync(d)) n += readdirSync(d).filter((f) => f.endsWith('.msgpack')).length;
  }
  return n;
}

/** A scheduler in this process (stopped by {@link cleanupAll} through the returned handle). */
async function inProcessScheduler(
  opts: ConstructorParameters<typeof DispyScheduler>[0],
): Promise<DispyScheduler> {
  const s = new DispyScheduler({
    ipAddr: '127.0.0.1',
    port: 0,
    discovery: false,
    pulseInterval: 1,
    destPathPrefix: tempDir('dispy-sched-'),
    ...opts,
  });
  await s.start();
  return s;
}

describe('dispyscheduler with TLS', () => {
  it.skipIf(!HAVE_OPENSSL)(
    'uses one certificate and secret toward clients and another toward nodes',
    async () => {
      const dir = tempDir('dispy-stls-');
      const nodeSide = selfSignedCert(dir, 'node-side');
      const clientSide = selfSignedCert(dir, 'client-side');
      const node = await startNode({
        ipAddr: '127.0.0.2',
        cpus: 1,
        secret: 'ns',
        certfile: nodeSide.cert,
        keyfile: nodeSide.key,
      });
      const sched = await inProcessScheduler({
        nodes: [`127.0.0.2:${node.port}`],
        nodeSecret: 'ns',
        nodeCertfile: nodeSide.cert,
        nodeKeyfile: nodeSide.key,
        clusterSecret: 'cs',
        clusterCertfile: clientSide.cert,
        clusterKeyfile: clientSide.key,
      });
      try {
        const ok = new SharedJobCluster((x: number) => x + 1, {
          schedulerPort: sched.port,
          secret: 'cs',
          certfile: clientSide.cert,
          loglevel: 'silent',
        });
        expect(await Promise.all([1, 2, 3].map((n) => ok.submit(n)))).toEqual([2, 3, 4]);
        expect(ok.status().nodes.map((n) => n.ipAddr)).toEqual(['127.0.0.2']);
        await ok.close();
        const refusedWith = async (opts: { certfile?: string; secret: string }) => {
          const c = new SharedJobCluster((x: number) => x, {
            schedulerPort: sched.port,
            nodeTimeout: 1,
            loglevel: 'silent',
            ...opts,
          });
          const job = c.submit(1);
          await job.finish();
          await c.close();
          expect(job.status).toBe(DispyJob.Abandoned);
          return job.exception ?? '';
        };
        // No TLS toward a TLS scheduler; the node side's certificate; the node side's secret.
        expect(await refusedWith({ secret: 'cs' })).toMatch(/cannot use dispyscheduler.*(closed|TLS)/);
        expect(await refusedWith({ secret: 'cs', certfile: nodeSide.cert })).toMatch(
          /cannot use dispyscheduler.*(certificate|signature)/,
        );
        expect(await refusedWith({ secret: 'ns', certfile: clientSide.cert })).toMatch(
          /authentication failed/,
        );
      } finally {
        await sched.stop();
      }
    },
    30_000,
  );
});

describe('a SharedJobCluster client killed mid-run', () => {
  it('gets its results back through the scheduler with faultRecoverJobs', async () => {
    const node = await startNode({ cpus: 2 });
    const sched = await inProcessScheduler({ nodes: [`127.0.0.1:${node.port}`], clusterSecret: 'cs' });
    try {
      const file = path.join(tempDir('dispy-srecover-'), 'recover');
      const kill = await startCrashClient([`shared:${sched.port}`, file, 'cs', '200', '2500']);
      kill();
      await sleep(600);
      const first = await faultRecoverJobs(file, { secret: 'cs' });
      expect(first.map((j) => [j.uid, j.status, j.result])).toEqual([
        [1, DispyJob.Finished, 400],
        [2, DispyJob.Running, undefined],
      ]);
      expect(existsSync(file)).toBe(true);
      const second = await faultRecoverJobs(file, { secret: 'cs', timeout: 10 });
      expect(second.map((j) => [j.uid, j.status, j.result])).toEqual([[2, DispyJob.Finished, 5000]]);
      expect(existsSync(file)).toBe(false);
      // The scheduler closed the computation once everything was fetched.
      await waitFor(() => sched.monitorStatus().length === 0);
    } finally {
      await sched.stop();
    }
  });
});

describe('dispyscheduler restarts', () => {
  const schedArgs = (nodePort: number, prefix: string, pulse = 1) => [
    '--node',
    `127.0.0.1:${nodePort}`,
    '--node_secret',
    'ns',
    '--cluster_secret',
    'cs',
    '--pulse_interval',
    String(pulse),
    '--dest_path_prefix',
    prefix,
  ];

  /** A node, a dispyscheduler process for it and a client of that scheduler. */
  async function setUp(prefix: string, cpus: number, pulse = 1) {
    const node = await startNode({ cpus, secret: 'ns' });
    const args = schedArgs(node.port, prefix, pulse);
    const s1 = await startSchedulerProcess(args);
    // Created on first use (one test runs its client in another process).
    let cluster: SharedJobCluster<typeof slow> | null = null;
    return {
      node,
      s1,
      get cluster() {
        cluster ??= new SharedJobCluster(slow, {
          schedulerPort: s1.port,
          secret: 'cs',
          pulseInterval: pulse,
          loglevel: 'silent',
        });
        return cluster;
      },
      /** Start the scheduler again on the same port. */
      restart: (...more: string[]) => startSchedulerProcess([...args, '--port', String(s1.port), ...more]),
    };
  }

  it('killed and started again: the client reconnects and every job ends with its result', async () => {
    const { s1, cluster, restart } = await setUp(tempDir('dispy-srestart-'), 2);
    // 2 CPUs: 2 jobs run, 2 wait on the node, 2 wait in the scheduler.
    const jobs = [800, 800, 800, 800, 800, 800].map((ms) => cluster.submit(ms));
    await waitFor(() => jobs.filter((j) => j.status === DispyJob.Running).length >= 4);
    await s1.kill('SIGKILL');
    await sleep(300);
    const s2 = await restart();
    const results = await Promise.all(jobs);
    expect(results).toEqual([1600, 1600, 1600, 1600, 1600, 1600]);
    expect(s2.output.join('')).toMatch(/reattached on 127\.0\.0\.1/);
    // The restored computation keeps working for new jobs.
    expect(await cluster.submit(10)).toBe(20);
    await cluster.close();
  }, 30_000);

  it('keeps the results of a vanished client on disk across its own restart', async () => {
    const prefix = tempDir('dispy-skeep-');
    const { node, s1, restart } = await setUp(prefix, 2);
    const file = path.join(tempDir('dispy-skeep-client-'), 'recover');
    const kill = await startCrashClient([`shared:${s1.port}`, file, 'cs', '200', '300']);
    kill();
    // Both jobs end while the client is away: the scheduler writes their results down.
    const results = path.join(prefix, 'dispy', 'scheduler');
    await waitFor(() => countResultFiles(results) === 2);
    // The node goes (with the copies it kept), then the scheduler crashes and starts again.
    await node.stop();
    await s1.kill('SIGKILL');
    await restart();
    const got = await faultRecoverJobs(file, { secret: 'cs' });
    expect(got.map((j) => [j.uid, j.status, j.result])).toEqual([
      [1, DispyJob.Finished, 400],
      [2, DispyJob.Finished, 600],
    ]);
  }, 30_000);

  it('restarted with --clean: the client says its computation is gone', async () => {
    const { s1, cluster, restart } = await setUp(tempDir('dispy-sclean-'), 1);
    const job = cluster.submit(3000);
    await waitFor(() => job.status === DispyJob.Running);
    await s1.kill('SIGKILL');
    await restart('--clean');
    const t0 = Date.now();
    await job.finish();
    expect(job.status).toBe(DispyJob.Abandoned);
    expect(job.exception).toMatch(/no longer knows computation/);
    expect(Date.now() - t0).toBeLessThan(3000);
    await cluster.close();
  }, 30_000);

  it('gone for good: the client gives up after 5 pulse intervals', async () => {
    const { s1, cluster } = await setUp(tempDir('dispy-sgone-'), 1, 0.4);
    const job = cluster.submit(5000);
    await waitFor(() => job.status === DispyJob.Running);
    await s1.kill('SIGKILL');
    const t0 = Date.now();
    await job.finish();
    expect(job.status).toBe(DispyJob.Abandoned);
    expect(job.exception).toMatch(/dispyscheduler presumed dead: no message for 2 s/);
    expect(Date.now() - t0).toBeLessThan(4000);
    await cluster.close();
  }, 20_000);
});

describe('exclusive clusters', () => {
  it('run alone, and later clusters wait their turn first come first served', async () => {
    const node = await startNode({ cpus: 2 });
    const sched = await inProcessScheduler({ nodes: [`127.0.0.1:${node.port}`] });
    const opts = { schedulerPort: sched.port, loglevel: 'silent' as const };
    try {
      const a = new SharedJobCluster(slow, opts);
      const ja = a.submit(800);
      await waitFor(() => ja.status === DispyJob.Running);
      const b = new SharedJobCluster(slow, { ...opts, exclusive: true });
      const jb = b.submit(300);
      await sleep(100);
      // Not exclusive, but behind the exclusive one that waits.
      const c = new SharedJobCluster(slow, opts);
      const jc = c.submit(100);
      await sleep(300);
      expect([jb.status, jc.status]).toEqual([DispyJob.Created, DispyJob.Created]);
      expect(await ja).toBe(1600);
      await a.close();
      const aClosed = Date.now() / 1000;
      expect(await jb).toBe(600);
      expect(jb.startTime!).toBeGreaterThanOrEqual(aClosed - 0.05);
      expect(jc.status).toBe(DispyJob.Created);
      await b.close();
      const bClosed = Date.now() / 1000;
      expect(await jc).toBe(200);
      expect(jc.startTime!).toBeGreaterThanOrEqual(bClosed - 0.05);
      await c.close();
    } finally {
      await sched.stop();
    }
  }, 20_000);
});
