/** Shared helpers of the master tests: a master on a free port with its own root, job packs. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Settings } from '../../../src/common/settings.js';
import { type MasterHandle, startMaster } from '../../../src/master/master.js';
import { encodeJobPack, type JobDict } from '../../../src/protocol/jobpack.js';

export interface TestMaster extends MasterHandle {
  root: string;
  settings: Settings;
  /** Stop this master and start a new one on the same root (a new port: DISCO_NAME stays `disco_0`). */
  restart(): Promise<TestMaster>;
  /** close() and delete the root. */
  destroy(): Promise<void>;
}

export function testSettings(root: string, extra: Record<string, string> = {}): Settings {
  return new Settings(
    {
      DISCO_ROOT: root,
      DISCO_PORT: '0',
      DISCO_LISTEN_HOST: '127.0.0.1',
      DISCO_MASTER_HOST: '127.0.0.1',
      DISCO_SPAWN_LOCAL_NODES: '',
      DISCO_RETRY_DELAY_SCALE: '0',
      ...extra,
    },
    {},
    {},
  );
}

export async function startTestMaster(
  extra: Record<string, string> = {},
  root = mkdtempSync(path.join(os.tmpdir(), 'disco-master-')),
): Promise<TestMaster> {
  const settings = testSettings(root, extra);
  const m = await startMaster(settings);
  const tm: TestMaster = {
    ...m,
    root,
    settings,
    async restart() {
      await m.close();
      return startTestMaster(extra, root);
    },
    async destroy() {
      await m.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
  return tm;
}

/** A new master root whose config table lists `hosts` (name, cores), for {@link startTestMaster}. */
export function rootWithHosts(hosts: [string, string][]): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'disco-master-'));
  writeFileSync(
    path.join(root, 'disco_0.config'),
    JSON.stringify({ hosts, blacklist: [], gc_blacklist: [] }),
  );
  return root;
}

export function jobPack(dict: Partial<JobDict> & Record<string, unknown> = {}): Buffer {
  return encodeJobPack({
    jobdict: {
      prefix: 'Test',
      input: [],
      worker: 'worker',
      owner: 'tester@host',
      nr_reduces: 1,
      scheduler: {},
      'map?': true,
      'reduce?': false,
      ...dict,
    } as JobDict,
    jobhome: Buffer.from('PK-not-really-a-zip'),
  });
}

export async function submit(url: string, pack: Uint8Array): Promise<[string, string]> {
  const r = await fetch(`${url}/disco/job/new`, { method: 'POST', body: pack });
  if (r.status !== 200) throw new Error(`submit: ${r.status} ${await r.text()}`);
  return (await r.json()) as [string, string];
}

export async function getJson(url: string): Promise<unknown> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
  return r.json();
}

export async function postJson(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', body: JSON.stringify(body) });
}

/** Wait until `fn` returns a value other than undefined. */
export async function until<T>(fn: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
