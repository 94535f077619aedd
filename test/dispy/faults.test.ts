/**
 * Faults with real dispynode processes: nodes killed mid-job (with and without `reentrant`),
 * a client killed and its results recovered, a vanished client's computation expiring
 * (`--zombie_interval`), a node restarted with `--clean`, TLS.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isAlive } from '../../src/common/process-alive.js';
import { DispyJob, faultRecoverJobs, JobCluster } from '../../src/dispy/index.js';
import {
  cleanupAll,
  ensureBuilt,
  HAVE_OPENSSL,
  selfSignedCert,
  sleep,
  startCrashClient,
  startNode,
  startNodeProcess,
  tempDir,
  waitFor,
} from './helpers.js';

beforeAll(() => {
  ensureBuilt();
}, 120_000);
afterEach(cleanupAll);

async function slow(ms: number) {
  await new Promise((r) => setTimeout(r, ms));
  return ms;
}

describe('a node killed mid-job', () => {
  for (const reentrant of [true, false]) {
    it(`${reentrant ? 'resubmits its jobs elsewhere (reentrant)' : 'abandons its jobs'}`, async () => {
      const a = await startNodeProcess(['--ip_addr', '127.0.0.2', '--cpus', '1']);
      const b = await startNodeProcess(['--ip_addr', '127.0.0.3', '--cpus', '1']);
      const cluster = new JobCluster(slow, {
        nodes: [
          ['127.0.0.2', a.port],
          ['127.0.0.3', b.port],
        ],
        pulseInterval: 0.2,
        reentrant,
        loglevel: 'silent',
      });
      await waitFor(() => cluster.status().nodes.length === 2);
      const jobs = [1500, 1500].map((ms) => cluster.submit(ms));
      await waitFor(() => jobs.every((j) => j.status === DispyJob.Running));
      const onA = jobs.find((j) => j.ipAddr === '127.0.0.2')!;
      const onB = jobs.find((j) => j.ipAddr === '127.0.0.3')!;
      expect(onA).toBeDefined();
      const t0 = Date.now();
      await a.kill('SIGKILL');
      await cluster.wait();
      expect(onB.status).toBe(DispyJob.Finished);
      if (reentrant) {
        expect(onA.status).toBe(DispyJob.Finished);
        expect(onA.ipAddr).toBe('127.0.0.3');
        expect(await onA).toBe(1500);
      } else {
        expect(onA.status).toBe(DispyJob.Abandoned);
        expect(onA.exception).toMatch(/presumed dead/);
        // Detected within about 5 pulse intervals.
        expect(Date.now() - t0).toBeLessThan(3000);
      }
      await cluster.close();
    });
  }
});

describe('a client killed mid-run', () => {
  it('gets its results back with faultRecoverJobs', async () => {
    const node = await startNodeProcess(['--secret', 'rs']);
    const file = path.join(tempDir('dispy-recover-'), 'recover');
    const kill = await startCrashClient([String(node.port), file, 'rs', '200', '2500']);
    kill();
    await sleep(600);
    const first = await faultRecoverJobs(file, { secret: 'rs' });
    expect(first.map((j) => [j.uid, j.status])).toEqual([
      [1, DispyJob.Finished],
      [2, DispyJob.Running],
    ]);
    expect(first[0].result).toBe(400);
    expect(existsSync(file)).toBe(true);
    const second = await faultRecoverJobs(file, { secret: 'rs', timeout: 10 });
    // Job 2 finishes on the node and is recovered now; job 1 was acknowledged by the first call
    // and must not come back.
    expect(second.map((j) => [j.uid, j.status, j.result])).toEqual([[2, DispyJob.Finished, 5000]]);
    expect(existsSync(file)).toBe(false);
    await expect(faultRecoverJobs(file, { secret: 'rs' })).rejects.toThrow();
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

describe('a client that vanishes', () => {
  it('has its computation cleaned up on the node after --zombie_interval', async () => {
    // 0.05 minutes = 3 s.
    const node = await startNodeProcess(['--zombie_interval', '0.05', '--cpus', '1']);
    const file = path.join(tempDir('dispy-zombie-'), 'recover');
    const kill = await startCrashClient([String(node.port), file, '', '60000']);
    const clientDir = path.join(node.root, 'dispy', 'node', 'client-127.0.0.1');
    expect(readdirSync(clientDir)).toHaveLength(1);
    kill();
    // Until the interval ends the vanished client's job keeps the node.
    const early = new JobCluster((x: number) => x, {
      nodes: [['127.0.0.1', node.port]],
      nodeTimeout: 0.5,
      loglevel: 'silent',
    });
    const refused = early.submit(1);
    await refused.finish();
    expect(refused.exception).toMatch(/busy with another client/);
    await early.close();
    // Then its job is stopped and its files deleted...
    await waitFor(() => readdirSync(clientDir).length === 0, 15_000);
    expect(node.output.join('')).toMatch(/is a zombie: cleaning up/);
    // ...the node serves another client with its only CPU...
    const next = new JobCluster((x: number) => x + 1, {
      nodes: [['127.0.0.1', node.port]],
      loglevel: 'silent',
    });
    expect(await next.submit(1)).toBe(2);
    await next.close();
    // ...and there is nothing left to recover.
    expect(await faultRecoverJobs(file)).toEqual([]);
    expect(existsSync(file)).toBe(false);
  });
});

describe('node restart', () => {
  it('refuses to start over a crashed node unless --clean, which kills its leftovers', async () => {
    const root = tempDir('dispy-restart-');
    const port = await freePort();
    const n1 = await startNodeProcess(['--node_port', String(port)], root);
    const dir = tempDir('dispy-prog-');
    const prog = path.join(dir, 'sleeper.sh');
    const pidFile = path.join(dir, 'pid');
    writeFileSync(prog, '#!/bin/sh\necho $$ > "$1"\nsleep 30\n', { mode: 0o755 });
    const cluster = new JobCluster(prog, {
      nodes: [['127.0.0.1', port]],
      loglevel: 'silent',
      pulseInterval: 0.2,
    });
    const job = cluster.submit(pidFile);
    await waitFor(() => existsSync(pidFile) && job.status === DispyJob.Running);
    await sleep(200);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    await n1.kill('SIGKILL');
    await job.finish();
    expect(job.status).toBe(DispyJob.Abandoned);
    await cluster.close();
    expect(isAlive(pid)).toBe(true);
    await expect(startNodeProcess(['--node_port', String(port)], root)).rejects.toThrow(
      /did not shut down cleanly/,
    );
    const n2 = await startNodeProcess(['--node_port', String(port), '--clean'], root);
    // SIGKILL is sent during start-up; the process dies when the kernel next schedules it.
    await waitFor(() => !isAlive(pid));
    expect(isAlive(pid)).toBe(false);
    const c2 = new JobCluster((x: number) => x * 3, { nodes: [['127.0.0.1', n2.port]] });
    expect(await c2.submit(5)).toBe(15);
    await c2.close();
  });
});

describe('TLS', () => {
  it.skipIf(!HAVE_OPENSSL)(
    'works with certfile/keyfile on both sides and refuses plain clients',
    async () => {
      const { cert, key } = selfSignedCert(tempDir('dispy-tls-'));
      const node = await startNode({ certfile: cert, keyfile: key, secret: 'tls' });
      const ok = new JobCluster((x: number) => x * 2, {
        nodes: [['127.0.0.1', node.port]],
        certfile: cert,
        keyfile: key,
        secret: 'tls',
      });
      expect(await ok.submit(21)).toBe(42);
      await ok.close();
      const plain = new JobCluster((x: number) => x, {
        nodes: [['127.0.0.1', node.port]],
        secret: 'tls',
        nodeTimeout: 1,
        loglevel: 'silent',
      });
      const job = plain.submit(1);
      await job.finish();
      expect(job.status).toBe(DispyJob.Abandoned);
      expect(job.exception).toMatch(/TLS\/plain mismatch|closed the connection/);
      await plain.close();
      // A TLS client and a plain node: the client refuses quickly.
      const plainNode = await startNode({ secret: 'tls' });
      const tlsToPlain = new JobCluster((x: number) => x, {
        nodes: [['127.0.0.1', plainNode.port]],
        certfile: cert,
        secret: 'tls',
        nodeTimeout: 1,
        loglevel: 'silent',
      });
      const j2 = tlsToPlain.submit(1);
      await j2.finish();
      expect(j2.exception).toMatch(/cannot connect|closed/);
      await tlsToPlain.close();
    },
  );
});
