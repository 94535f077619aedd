import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../../src/common/fs-atomic.js';
import { JobStore, MASTER_RESTARTED, MASTER_RESTARTED_REASON } from '../../../src/master/jobs/store.js';
import { hexHash } from '../../../src/protocol/names.js';
import { getJson, jobPack, postJson, startTestMaster, submit, type TestMaster } from './helpers.js';

let m: TestMaster | null = null;
afterEach(async () => {
  await m?.destroy();
  m = null;
});

describe('durable job store', () => {
  it('lists finished jobs again after a restart and marks running ones dead', async () => {
    m = await startTestMaster();
    const pack = jobPack({ prefix: 'Done' });
    const [, done] = await submit(m.url, pack);
    await postJson(`${m.url}/disco/ctrl/get_results`, [2000, [done]]);
    const [, running] = await submit(m.url, jobPack({ prefix: 'Running', input: ['raw://x'] }));
    const infoBefore = await getJson(`${m.url}/disco/ctrl/jobinfo?name=${done}`);
    const eventsBefore = await (await fetch(`${m.url}/disco/ctrl/rawevents?name=${done}`)).text();

    m = await m.restart();

    const list = (await getJson(`${m.url}/disco/ctrl/joblist`)) as [number, string, string][];
    expect(list.map((j) => [j[1], j[2]])).toEqual([
      ['dead', running],
      ['ready', done],
    ]);
    expect(await getJson(`${m.url}/disco/ctrl/jobinfo?name=${done}`)).toEqual(infoBefore);
    expect(await (await fetch(`${m.url}/disco/ctrl/rawevents?name=${done}`)).text()).toBe(eventsBefore);
    expect(
      Buffer.from(await (await fetch(`${m.url}/disco/ctrl/parameters?name=${done}`)).arrayBuffer()),
    ).toEqual(pack);
    expect(await (await postJson(`${m.url}/disco/ctrl/get_results`, [10, [done, running]])).json()).toEqual([
      [done, ['ready', []]],
      [running, ['dead', []]],
    ]);
    expect(await getJson(`${m.url}/disco/ctrl/get_mapresults?name=${done}`)).toEqual([]);
    const ev = await (await fetch(`${m.url}/disco/ctrl/rawevents?name=${running}`)).text();
    expect(JSON.parse(ev.trim().split('\n').at(-1) ?? '')[2]).toBe(MASTER_RESTARTED);
    const info = (await getJson(`${m.url}/disco/ctrl/jobinfo?name=${running}`)) as {
      active: string;
      mapi: number[];
    };
    expect(info.active).toBe('dead');
    expect(info.mapi[1]).toBe(0);
    // The record says why, without the events log.
    const saved = JSON.parse(
      readFileSync(
        path.join(new JobStore(m.settings.get('DISCO_MASTER_ROOT')).jobDir(running), 'state.json'),
        'utf8',
      ),
    ) as { failure: unknown };
    expect(saved.failure).toEqual({ reason: MASTER_RESTARTED_REASON, task: null });
  });

  it('recovers a job whose state was never written (master died during submission)', async () => {
    m = await startTestMaster();
    const root = m.settings.get('DISCO_MASTER_ROOT');
    await m.close();
    const name = 'Half@5dc:abcde:12345';
    const dir = path.join(root, hexHash(name), name);
    mkdirSync(dir, { recursive: true });
    await writeFileAtomic(path.join(dir, 'jobfile'), jobPack({ prefix: 'Half', input: ['raw://a'] }));
    m = await m.restart();
    const info = (await getJson(`${m.url}/disco/ctrl/jobinfo?name=${name}`)) as Record<string, unknown>;
    expect(info.active).toBe('dead');
    expect(info.inputs).toEqual(['raw://a']);
    expect(readFileSync(path.join(dir, 'events'), 'utf8')).toContain(MASTER_RESTARTED);
  });

  it('coalesces state writes so the newest record lands last', async () => {
    m = await startTestMaster();
    const store = new JobStore(m.settings.get('DISCO_MASTER_ROOT'));
    const name = await store.create('Co', jobPack());
    const { newJobRecord } = await import('../../../src/master/jobs/store.js');
    const { parseJobDict, readJobPackHeader } = await import('../../../src/protocol/jobpack.js');
    const pack = jobPack();
    const o = readJobPackHeader(pack);
    const rec = newJobRecord(name, parseJobDict(pack.subarray(o.dict, o.envs)), 1);
    const writes = [];
    for (let i = 0; i < 20; i++) writes.push(store.saveRecord({ ...rec, nrInputs: i }));
    await Promise.all(writes);
    const saved = JSON.parse(readFileSync(path.join(store.jobDir(name), 'state.json'), 'utf8'));
    expect(saved.nrInputs).toBe(19);
  });
});
