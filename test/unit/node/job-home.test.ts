import { once } from 'node:events';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import yazl from 'yazl';
import type { Settings } from '../../../src/common/settings.js';
import { JobHomes } from '../../../src/node/job-home.js';
import type { TaskRunner } from '../../../src/node/task-runner.js';
import { encodeJobPack } from '../../../src/protocol/jobpack.js';
import { hexHash } from '../../../src/protocol/names.js';
import {
  FIXTURES,
  HOST,
  jobName,
  newRunner,
  Outbox,
  task,
  tempRoot,
  testJobDict,
  testSettings,
} from './harness.js';

let root: string;
let settings: Settings;
let server: http.Server;
let masterUrl: string;
/** Job packs the fake master serves, by job name. */
const packs = new Map<string, Buffer>();
let fetches = 0;

async function zip(entries: { name: string; data: string | Buffer; mode?: number }[]): Promise<Buffer> {
  const z = new yazl.ZipFile();
  for (const e of entries)
    z.addBuffer(Buffer.from(e.data), e.name, e.mode === undefined ? {} : { mode: e.mode });
  z.end();
  const chunks: Buffer[] = [];
  for await (const c of z.outputStream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** yazl refuses unsafe names, so build with a same-length placeholder and patch the bytes. */
function rename(buf: Buffer, from: string, to: string): Buffer {
  expect(from.length).toBe(to.length);
  const out = Buffer.from(buf);
  let i = out.indexOf(from);
  expect(i).toBeGreaterThanOrEqual(0);
  while (i >= 0) {
    out.write(to, i, 'latin1');
    i = out.indexOf(from, i + 1);
  }
  return out;
}

async function workerZip(extra: { name: string; data: string | Buffer; mode?: number }[] = []) {
  return zip([
    { name: 'worker.mjs', data: await fs.readFile(path.join(FIXTURES, 'worker.mjs')), mode: 0o644 },
    { name: 'proto.mjs', data: await fs.readFile(path.join(FIXTURES, 'proto.mjs')) },
    { name: 'lib/data/readme.txt', data: 'hello' },
    ...extra,
  ]);
}

function serve(job: string, jobhome: Buffer, jobenvs: Record<string, string> = {}) {
  packs.set(job, encodeJobPack({ jobdict: testJobDict(), jobenvs, jobhome, jobdata: Buffer.from('DATA') }));
}

beforeEach(async () => {
  root = await tempRoot();
  settings = testSettings(root);
  fetches = 0;
  server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const pack =
      u.pathname === '/disco/ctrl/parameters' ? packs.get(u.searchParams.get('name') ?? '') : undefined;
    fetches += 1;
    if (!pack) {
      res.writeHead(404).end('Not found.');
      return;
    }
    res.writeHead(200, { 'Content-Length': pack.length }).end(pack);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  masterUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  server.close();
  await fs.rm(root, { recursive: true, force: true });
});

function homes() {
  return new JobHomes({ discoData: settings.get('DISCO_DATA'), host: HOST, masterUrl: () => masterUrl });
}

describe('job home', () => {
  it('fetches the pack once, extracts it, marks it and makes the worker executable', async () => {
    const job = jobName();
    serve(job, await workerZip(), { A: 'b' });
    const h = homes();
    const [one, two] = await Promise.all([h.ensure(job), h.ensure(job)]);
    expect(one).toBe(two);
    expect(fetches).toBe(1);
    const dir = path.join(settings.get('DISCO_DATA'), HOST, hexHash(job), job);
    expect(one).toMatchObject({ dir, worker: 'worker.mjs', jobenvs: { A: 'b' }, tsWorker: null });
    expect(await fs.readFile(path.join(dir, 'lib/data/readme.txt'), 'utf8')).toBe('hello');
    expect((await fs.stat(path.join(dir, 'worker.mjs'))).mode & 0o777).toBe(0o755);
    expect((await fs.readFile(path.join(dir, 'jobfile'))).equals(packs.get(job)!)).toBe(true);
    await fs.access(path.join(dir, '.jobhome'));
    // A new node process finds the prepared home on disk and fetches nothing.
    await homes().ensure(job);
    expect(fetches).toBe(1);
    await h.purge(job);
    await expect(fs.access(dir)).rejects.toThrow();
  });

  it('refuses entries escaping the job home: ../evil, /etc/x, symlinks', async () => {
    const cases = [
      rename(await workerZip([{ name: 'AA/evil', data: 'x' }]), 'AA/evil', '../evil'),
      rename(await workerZip([{ name: 'Aetc/x', data: 'x' }]), 'Aetc/x', '/etc/x'),
      await workerZip([{ name: 'link', data: '/etc/passwd', mode: 0o120777 }]),
    ];
    for (const bad of cases) {
      const job = jobName();
      serve(job, bad);
      const err = await homes()
        .ensure(job)
        .then(
          () => null,
          (e: Error) => e,
        );
      expect(err?.message).toMatch(/refusing job home entry/);
      const dir = path.join(settings.get('DISCO_DATA'), HOST, hexHash(job));
      await expect(fs.access(path.join(dir, job))).rejects.toThrow(); // nothing half-made is left
      await expect(fs.access(path.join(dir, 'evil'))).rejects.toThrow();
    }
    await expect(fs.access('/etc/x')).rejects.toThrow();
  });

  it('runs a task end to end and turns extraction failures into task errors', async () => {
    const outbox = new Outbox();
    const runner: TaskRunner = newRunner(settings, outbox, { masterUrl: () => masterUrl });
    try {
      const good = jobName();
      serve(good, await workerZip(), { TEST_SCENARIO: 'happy' });
      runner.run(task(good, 0, [['raw://x']]));
      expect(await outbox.outcome(good)).toMatchObject({ type: 'task_done' });

      const bad = jobName();
      serve(bad, rename(await workerZip([{ name: 'AA/evil', data: 'x' }]), 'AA/evil', '../evil'));
      runner.run(task(bad));
      const failed = await outbox.outcome(bad);
      expect(failed).toMatchObject({ type: 'task_failed', kind: 'error' });
      if (failed.type === 'task_failed') expect(failed.message).toMatch(/invalid relative path: \.\.\/evil/);

      const missing = jobName();
      runner.run(task(missing));
      expect(await outbox.outcome(missing)).toMatchObject({ type: 'task_failed', kind: 'error' });
    } finally {
      runner.close();
    }
  });
});
