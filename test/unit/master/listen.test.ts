/** A master that fails to start rejects with its own error, and leaves nothing running. */
import { createHook } from 'node:async_hooks';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { listen } from '../../../src/common/http-listen.js';
import { JobStore } from '../../../src/master/jobs/store.js';
import { startMaster } from '../../../src/master/master.js';
import { makeJobName } from '../../../src/protocol/names.js';
import { jobPack, testSettings } from './helpers.js';

const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));

/**
 * Runs `start`, which must reject, and returns its error with the async resources (timers,
 * servers, sockets, file requests) that code under src/ created meanwhile and that were still
 * not destroyed once it had rejected: what a failed start left running. Unref'd timers count
 * (process.getActiveResourcesInfo() does not list them).
 */
async function failedStart(start: () => Promise<unknown>): Promise<{ error: unknown; left: string[] }> {
  const alive = new Map<number, string>();
  const stackLimit = Error.stackTraceLimit;
  const hook = createHook({
    init(id, type) {
      if (type === 'PROMISE') return;
      const stack = new Error().stack ?? '';
      const ours = stack.split('\n').find((line) => line.includes(SRC));
      if (ours) alive.set(id, `${type} ${ours.trim()}`);
    },
    destroy(id) {
      alive.delete(id);
    },
  });
  Error.stackTraceLimit = 50;
  hook.enable();
  let error: unknown = null;
  try {
    await start().then(
      () => expect.fail('the start succeeded'),
      (e: unknown) => {
        error = e;
      },
    );
    // Destroy hooks run asynchronously after the resource went.
    await new Promise((resolve) => setTimeout(resolve, 50));
  } finally {
    hook.disable();
    Error.stackTraceLimit = stackLimit;
  }
  return { error, left: [...alive.values()] };
}

const roots: string[] = [];
function newRoot(): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'disco-master-'));
  roots.push(root);
  return root;
}
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

it('rejects with EADDRINUSE when the port is taken, leaves nothing running, and can start once it is free', async () => {
  const root = newRoot();
  const other = await listen(http.createServer(), 0, '127.0.0.1');
  try {
    const settings = testSettings(root, { DISCO_PORT: String(other.port) });
    const { error, left } = await failedStart(() => startMaster(settings));
    expect(error).toMatchObject({ code: 'EADDRINUSE' });
    expect(left).toEqual([]);
    await other.close();
    const m = await startMaster(testSettings(root, { DISCO_PORT: String(other.port) }));
    expect(m.port).toBe(other.port);
    expect((await fetch(`${m.url}/disco/version`)).ok).toBe(true);
    await m.close();
  } finally {
    await other.close();
  }
});

it('rejects with the job store error when the jobs of earlier runs cannot be loaded, leaving nothing running', async () => {
  const settings = testSettings(newRoot());
  // A job that was running when the master died: loading it appends to its events log, which
  // here is a directory.
  const jobDir = new JobStore(settings.get('DISCO_MASTER_ROOT')).jobDir(makeJobName('Interrupted'));
  mkdirSync(path.join(jobDir, 'events'), { recursive: true });
  writeFileSync(path.join(jobDir, 'jobfile'), jobPack({ prefix: 'Interrupted' }));
  const { error, left } = await failedStart(() => startMaster(settings));
  expect(error).toMatchObject({ code: 'EISDIR' });
  expect(left).toEqual([]);
});
