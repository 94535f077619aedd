/**
 * Bad input and faults on a real 2-node cluster: malformed packs, path tricks, workers that
 * print garbage, crash, report errors or fatal errors, and a node killed in the middle of a job.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { encodeJobPack } from '../../src/protocol/jobpack.js';
import { type Cluster, startCluster } from '../harness/cluster.js';
import { events, postJson, readDirResults, submitPack, waitJob } from './helpers.js';
import { countWords, PY_WORKER, pythonWordCountPack, zip } from './packs.js';

let c: Cluster;
const MAX_FAILURES = 3;
beforeAll(async () => {
  c = await startCluster({ nodes: 2, cores: 2, env: { DISCO_MAX_JOB_PACK: String(1024 * 1024) } });
  expect(
    await postJson(`${c.master}/disco/ctrl/save_settings`, { max_failure_rate: String(MAX_FAILURES) }),
  ).toBe('Settings saved');
});
afterAll(async () => {
  await c?.stop();
});

async function submitRaw(body: Uint8Array): Promise<[string, string]> {
  const r = await fetch(`${c.master}/disco/job/new`, { method: 'POST', body });
  expect(r.status).toBe(200);
  return (await r.json()) as [string, string];
}

describe('malformed job packs are refused with the reason', () => {
  test('garbage header', async () => {
    const [kind, msg] = await submitRaw(
      Buffer.from('this is not a job pack at all, not even close to 128 bytes'),
    );
    expect(kind).toBe('error');
    expect(msg).toMatch(/invalid header/);
  });
  test('missing key and invalid prefix', async () => {
    const home = await zip({ 'worker.py': PY_WORKER });
    const base = { input: [], worker: 'worker.py', owner: 'x', nr_reduces: 1, scheduler: {} };
    const noPrefix = encodeJobPack({ jobdict: base as never, jobhome: home });
    expect(await submitRaw(noPrefix)).toEqual(['error', expect.stringMatching(/missing key 'prefix'/)]);
    const badPrefix = encodeJobPack({ jobdict: { ...base, prefix: '../etc' }, jobhome: home });
    expect(await submitRaw(badPrefix)).toEqual(['error', expect.stringMatching(/invalid prefix/)]);
  });
  test('oversized pack → 413', async () => {
    const r = await fetch(`${c.master}/disco/job/new`, {
      method: 'POST',
      body: Buffer.alloc(2 * 1024 * 1024),
    });
    expect(r.status).toBe(413);
  });
  test('bad job names are unknown, not paths', async () => {
    for (const name of ['../../etc/passwd', 'x/../../y', '']) {
      const r = await fetch(`${c.master}/disco/ctrl/jobinfo?name=${encodeURIComponent(name)}`);
      expect(r.status).toBe(404);
    }
  });
});

async function runToEnd(pack: Buffer): Promise<{ job: string; status: string; log: string[] }> {
  const job = await submitPack(c.master, pack);
  const [status] = await waitJob(c.master, job, 60_000);
  const log = (await events(c.master, job)).map(([, host, m]) => `${host} ${m}`);
  return { job, status, log };
}

describe('failing workers', () => {
  test('zip entries escaping the job home are refused and nothing is written outside', async () => {
    const pack = await pythonWordCountPack(['a b'], { extraFiles: { '../../escaped.txt': 'gotcha' } });
    const { status, log } = await runToEnd(pack);
    expect(status).toBe('dead');
    expect(log.join('\n')).toMatch(/escap|outside|unsafe|refus/i);
    for (const n of c.nodes) {
      expect(existsSync(path.join(n.root, 'data', 'escaped.txt'))).toBe(false);
      expect(existsSync(path.join(n.root, 'escaped.txt'))).toBe(false);
    }
  });
  test('protocol garbage → "Worker died. Last words", retried, then the job fails', async () => {
    const { status, log } = await runToEnd(
      await pythonWordCountPack(['a b'], { env: { PYW_MODE: 'garbage' } }),
    );
    expect(status).toBe('dead');
    expect(log.join('\n')).toContain('Worker died. Last words');
    expect(log.join('\n')).toContain('this is not a protocol message');
    expect(log.join('\n')).toContain(`Task failed ${MAX_FAILURES} times`);
  });
  test('a worker that dies → "Worker crashed!"', async () => {
    const { status, log } = await runToEnd(
      await pythonWordCountPack(['a b'], { env: { PYW_MODE: 'crash' } }),
    );
    expect(status).toBe('dead');
    expect(log.join('\n')).toMatch(/Worker crashed! \(exit code: 7\)/);
  });
  test('a task that always fails with ERROR ends the job after max_failure_rate attempts', async () => {
    const { status, log } = await runToEnd(
      await pythonWordCountPack(['a b', 'c'], { env: { PYW_MODE: 'error' } }),
    );
    expect(status).toBe('dead');
    const warnings = log.filter((l) => l.includes('WARNING: [map:') && l.includes('cannot read this input'));
    expect(warnings.length).toBeGreaterThanOrEqual(MAX_FAILURES);
    expect(log.join('\n')).toContain(
      `Task failed ${MAX_FAILURES} times. At most ${MAX_FAILURES} failures are allowed.`,
    );
  });
  test('FATAL ends the job at once', async () => {
    const { status, log } = await runToEnd(
      await pythonWordCountPack(['a b'], { env: { PYW_MODE: 'fatal' } }),
    );
    expect(status).toBe('dead');
    expect(log.join('\n')).toMatch(/ERROR: Job failed: Worker at '127\.0\.0\.\d' died: the job is hopeless/);
  });
});

test('a node killed mid-job: its tasks re-run elsewhere exactly once, results correct', async () => {
  const texts = Array.from({ length: 8 }, (_, i) => `w${i} common w${i % 3} x${i}`);
  const pack = await pythonWordCountPack(texts, { env: { PYW_MODE: 'slow', PYW_SLEEP: '1.5' } });
  const job = await submitPack(c.master, pack);
  // Wait until the victim node runs a task of this job, then kill it like a machine crash.
  const victim = c.nodes[1].host;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const info = (await (await fetch(`${c.master}/disco/ctrl/jobinfo?name=${job}`)).json()) as {
      hosts: string[];
    };
    if (info.hosts.includes(victim)) break;
    if (Date.now() > deadline) throw new Error('victim node never got a task');
    await new Promise((r) => setTimeout(r, 50));
  }
  await c.killNode(1);
  const [status, results] = await waitJob(c.master, job, 90_000);
  const log = (await events(c.master, job)).map(([, host, m]) => `${host} ${m}`);
  expect(status, log.join('\n')).toBe('ready');
  expect(log.join('\n')).toContain('Connection lost to the node');
  const got: Record<string, number> = {};
  for (const { data } of await readDirResults(results, c.port)) {
    for (const row of data.toString().split('\n').filter(Boolean)) {
      const [w, n] = row.split(' ');
      expect(got[w], `duplicate key ${w}`).toBeUndefined();
      got[w] = Number(n);
    }
  }
  expect(got).toEqual(countWords(texts));
  for (const r of results) expect(r).not.toContain(victim);
});
