/**
 * A master killed with SIGKILL and started again still serves its finished jobs. Runs the
 * built program (dist/master.js); skipped when it has not been built.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getJson, jobPack, postJson, submit, until } from './helpers.js';

const MASTER_JS = path.resolve('dist/master.js');
const root = mkdtempSync(path.join(os.tmpdir(), 'disco-sigkill-'));
const procs: ChildProcess[] = [];

afterAll(() => {
  for (const p of procs) p.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function spawnMaster(port: number): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, [MASTER_JS], {
    env: {
      ...process.env,
      DISCO_ROOT: root,
      DISCO_PORT: String(port),
      DISCO_LISTEN_HOST: '127.0.0.1',
      DISCO_MASTER_HOST: '127.0.0.1',
      DISCO_SPAWN_LOCAL_NODES: '',
      DISCO_SETTINGS_FILE: path.join(root, 'none'),
    },
    stdio: 'ignore',
  });
  procs.push(proc);
  const url = `http://127.0.0.1:${port}`;
  await until(async () => {
    try {
      return (await fetch(`${url}/disco/version`)).ok ? true : undefined;
    } catch {
      return undefined;
    }
  }, 15_000);
  return { proc, url };
}

describe.skipIf(!existsSync(MASTER_JS))('master killed with SIGKILL', () => {
  it('serves finished jobs after a restart; running ones are dead', async () => {
    const port = await freePort();
    const first = await spawnMaster(port);
    const pack = jobPack({ prefix: 'Survivor' });
    const [, done] = await submit(first.url, pack);
    await postJson(`${first.url}/disco/ctrl/get_results`, [5000, [done]]);
    const [, running] = await submit(first.url, jobPack({ prefix: 'Victim', input: ['raw://x'] }));
    const exited = new Promise((r) => first.proc.once('exit', r));
    first.proc.kill('SIGKILL');
    await exited;

    const second = await spawnMaster(port);
    const list = (await getJson(`${second.url}/disco/ctrl/joblist`)) as [number, string, string][];
    expect(list.map((j) => [j[1], j[2]])).toEqual([
      ['dead', running],
      ['ready', done],
    ]);
    expect(
      ((await getJson(`${second.url}/disco/ctrl/jobinfo?name=${done}`)) as { active: string }).active,
    ).toBe('ready');
    const events = await (await fetch(`${second.url}/disco/ctrl/rawevents?name=${done}`)).text();
    expect(events).toContain('READY: Job finished');
    expect(await (await postJson(`${second.url}/disco/ctrl/get_results`, [10, [done]])).json()).toEqual([
      [done, ['ready', []]],
    ]);
    const params = await fetch(`${second.url}/disco/ctrl/parameters?name=${done}`);
    expect(Buffer.from(await params.arrayBuffer())).toEqual(pack);
    const dead = await (await fetch(`${second.url}/disco/ctrl/rawevents?name=${running}`)).text();
    expect(dead).toContain('ERROR: Job failed: master restarted');
    second.proc.kill('SIGTERM');
    expect(await new Promise((r) => second.proc.once('exit', (code) => r(code)))).toBe(0);
  });
});
