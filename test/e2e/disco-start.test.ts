/**
 * The single-machine cluster of the README, as a user runs it: `disco start` starts the
 * master as a daemon, which starts the node of its own machine with the same settings; so
 * the `ddfs` command line shares the node's `DDFS_DATA` and its pushes are short-circuit
 * writes (the node process writes none of the bytes); `disco status`; `disco stop` stops the
 * master and its node, whose identity file goes with it.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { isAlive } from '../../src/common/process-alive.js';
import { PACKAGE_ROOT } from '../../src/common/settings.js';
import { NODE_IDENTITY_FILE, type NodeIdentity } from '../../src/ddfs/node-identity.js';
import { freePort } from '../harness/cluster.js';

const BIN = path.join(PACKAGE_ROOT, 'bin');
let root: string;
let env: Record<string, string>;

function run(cmd: 'disco' | 'ddfs', args: string[], extra: Record<string, string> = {}) {
  const r = spawnSync(path.join(BIN, cmd), args, {
    env: { ...process.env, ...env, ...extra },
    encoding: 'buffer',
    timeout: 60_000,
    maxBuffer: 64 << 20,
  });
  return { code: r.status, out: r.stdout, text: r.stdout.toString('utf8'), err: r.stderr.toString('utf8') };
}

/** Bytes process `pid` has written to storage so far (/proc/<pid>/io). */
function writtenBy(pid: number): number {
  return Number(/write_bytes:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? 0);
}

async function until(what: string, ok: () => boolean, ms = 15_000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); await new Promise((r) => setTimeout(r, 50)))
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'disco-start-'));
  env = {
    DISCO_ROOT: root,
    DISCO_SETTINGS_FILE: path.join(root, 'no-settings-file'),
    DISCO_PORT: String(await freePort()),
    DDFS_PUT_PORT: String(await freePort()),
    DISCO_MASTER_HOST: 'localhost',
    DISCO_LISTEN_HOST: '127.0.0.1',
    DISCO_MASTER: '',
    DDFS_DATA: '',
    DDFS_BLOB_REPLICAS: '1',
    DDFS_TAG_REPLICAS: '1',
    DDFS_TAG_MIN_REPLICAS: '1',
    DISCO_DEBUG: '1',
  };
  for (const k of Object.keys(env)) if (env[k] === '') delete env[k];
});

afterAll(() => {
  if (!root) return;
  run('disco', ['stop']);
  rmSync(root, { recursive: true, force: true });
});

test('disco start, a short-circuit ddfs push, disco stop', async () => {
  const started = run('disco', ['start']);
  expect(started.code, started.err).toBe(0);
  expect(started.text).toMatch(/master started \(pid \d+\)/);
  const masterPid = Number(/pid (\d+)/.exec(started.text)?.[1]);
  expect(run('disco', ['status']).code).toBe(0);

  // The master starts the node of its own machine, with the same settings (so DDFS_DATA).
  const idFile = path.join(root, 'ddfs', NODE_IDENTITY_FILE);
  await until('the node identity file', () => existsSync(idFile));
  const id = JSON.parse(readFileSync(idFile, 'utf8')) as NodeIdentity;
  expect(id).toMatchObject({ host: 'localhost', putPort: Number(env.DDFS_PUT_PORT) });
  expect(isAlive(id.pid)).toBe(true);

  const data = randomBytes(8 * 1024 * 1024 + 7);
  const file = path.join(root, 'data.bin');
  writeFileSync(file, data);
  const elsewhere = { DDFS_DATA: path.join(root, 'elsewhere') };
  const before = writtenBy(id.pid);
  const pushed = run('ddfs', ['push', 'start:data', file]);
  expect(pushed.code, pushed.err).toBe(0);
  expect(pushed.text).toMatch(/^created: disco:\/\/localhost\/ddfs\//);
  const localWrote = writtenBy(id.pid) - before;
  // The same push from a client with another DDFS_DATA goes over HTTP: the node stores it.
  const before2 = writtenBy(id.pid);
  const file2 = path.join(root, 'data-http.bin');
  writeFileSync(file2, data);
  expect(run('ddfs', ['push', 'start:http', file2], elsewhere).code).toBe(0);
  const httpWrote = writtenBy(id.pid) - before2;
  // The node logs each blob it stores from a PUT (DISCO_DEBUG, in the master's log): the
  // HTTP one's line shows up; the short-circuit one, stored before it, has none.
  const log = path.join(root, 'log', 'master.log');
  const stored = (name: string) =>
    readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"blob stored"') && l.includes(`"${name}$`));
  await until('the node to log the HTTP upload', () => stored('data-http_bin').length === 1);
  expect(stored('data_bin')).toEqual([]);
  // Where /proc counts writes to storage (not on tmpfs), the bytes tell the same.
  if (httpWrote >= data.length) expect(localWrote).toBeLessThan(1024 * 1024);
  // Read back over HTTP (a DDFS_DATA elsewhere: no local file to read).
  const cat = run('ddfs', ['cat', 'start:data'], elsewhere);
  expect(cat.code, cat.err).toBe(0);
  expect(cat.out.equals(data)).toBe(true);

  const stopped = run('disco', ['stop']);
  expect(stopped.code, stopped.err).toBe(0);
  expect(stopped.text).toContain(`master stopped (pid ${masterPid})`);
  await until('the master and its node to exit', () => !isAlive(masterPid) && !isAlive(id.pid));
  expect(existsSync(idFile)).toBe(false);
  expect(run('disco', ['status']).code).not.toBe(0);
});
