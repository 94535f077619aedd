import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEADER_SIZE } from '../../../src/protocol/jobpack.js';
import { getJson, jobPack, postJson, startTestMaster, submit, type TestMaster } from './helpers.js';

let m: TestMaster;
beforeAll(async () => {
  m = await startTestMaster({ DISCO_MAX_JOB_PACK: '100000' });
});
afterAll(async () => {
  await m.destroy();
});

describe('generic HTTP behaviour', () => {
  it('answers /disco with Connection: close and JSON', async () => {
    const r = await fetch(`${m.url}/disco/version`);
    expect(r.status).toBe(200);
    expect(r.headers.get('connection')).toBe('close');
    expect(r.headers.get('content-type')).toBe('application/json');
    expect(await r.json()).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
  });

  it('strips a /proxy/<node>/<METHOD> prefix', async () => {
    expect(await getJson(`${m.url}/proxy/n1/GET/disco/version`)).toBeTypeOf('string');
  });

  it('answers unknown ctrl ops and unknown jobs with 404 Not found.', async () => {
    for (const p of [
      '/disco/ctrl/nope',
      '/disco/ctrl/jobinfo?name=Nope@1:2:3',
      '/disco/ctrl/parameters?name=Nope@1:2:3',
      '/disco/ctrl/rawevents?name=Nope@1:2:3',
      '/disco/ctrl/get_mapresults?name=Nope@1:2:3',
      '/disco/ctrl/jobinfo',
    ]) {
      const r = await fetch(`${m.url}${p}`);
      expect(r.status, p).toBe(404);
      expect(await r.text(), p).toBe('Not found.');
    }
    const post = await postJson(`${m.url}/disco/ctrl/nope`, '');
    expect(post.status).toBe(404);
  });

  it('serves DISCO_DATA and DDFS_DATA files with ranges, never 416', async () => {
    const data = m.settings.get('DISCO_DATA');
    mkdirSync(path.join(data, 'h1'), { recursive: true });
    writeFileSync(path.join(data, 'h1', 'f.txt'), 'hello world');
    writeFileSync(path.join(data, 'h1', 'empty'), '');
    const full = await fetch(`${m.url}/disco/h1/f.txt`);
    expect(full.status).toBe(200);
    expect(await full.text()).toBe('hello world');
    const part = await fetch(`${m.url}/disco/h1/f.txt`, { headers: { Range: 'bytes=6-' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 6-10/11');
    expect(await part.text()).toBe('world');
    const empty = await fetch(`${m.url}/disco/h1/empty`, { headers: { Range: 'bytes=0-10' } });
    expect(empty.status).toBe(200);
    expect((await fetch(`${m.url}/disco/h1/f.txt`, { method: 'HEAD' })).status).toBe(404);
    expect((await fetch(`${m.url}/disco/../secret`)).status).toBe(404);
    expect((await fetch(`${m.url}/disco/h1`)).status).toBe(403);
    const ddfs = m.settings.get('DDFS_DATA');
    mkdirSync(path.join(ddfs, 'vol0', 'blob'), { recursive: true });
    writeFileSync(path.join(ddfs, 'vol0', 'blob', 'b'), 'blob');
    expect(await (await fetch(`${m.url}/ddfs/vol0/blob/b`)).text()).toBe('blob');
  });

  it('serves a status page at /', async () => {
    const r = await fetch(`${m.url}/`);
    expect(r.status).toBe(200);
    expect(await r.text()).toContain('Disco master');
  });
});

describe('job submission', () => {
  it('rejects malformed packs with 200 ["error", ...] naming the problem', async () => {
    const bad = async (body: Uint8Array) => {
      const [status, msg] = await submit(m.url, body);
      expect(status).toBe('error');
      expect(msg).toMatch(/^Job failed to start: /);
      return msg;
    };
    expect(await bad(Buffer.from('garbage'))).toContain('invalid header');
    const wrongMagic = Buffer.from(jobPack());
    wrongMagic.writeUInt16BE(0x1234, 0);
    expect(await bad(wrongMagic)).toContain('invalid header');
    const noWorker = jobPack();
    const dict = JSON.parse(noWorker.subarray(HEADER_SIZE, noWorker.readUInt32BE(8)).toString());
    delete dict.worker;
    const { encodeJobPack } = await import('../../../src/protocol/jobpack.js');
    expect(await bad(encodeJobPack({ jobdict: dict, jobhome: Buffer.alloc(0) }))).toContain('missing key');
    expect(await bad(jobPack({ prefix: 'a/b' }))).toContain('invalid prefix');
    expect(await bad(jobPack({ prefix: 'a.b' }))).toContain('invalid prefix');
    expect(await bad(jobPack({ prefix: 'a@b' }))).toContain('invalid prefix');
  });

  it('answers 413 for a pack over DISCO_MAX_JOB_PACK', async () => {
    const r = await fetch(`${m.url}/disco/job/new`, { method: 'POST', body: Buffer.alloc(200_000) });
    expect(r.status).toBe(413);
    expect(await r.text()).toBe('Job packet too large');
  });

  it('answers 411 without Content-Length', async () => {
    const pack = jobPack();
    const body = new ReadableStream({
      start(c) {
        c.enqueue(pack);
        c.close();
      },
    });
    const r = await fetch(`${m.url}/disco/job/new`, { method: 'POST', body, duplex: 'half' } as RequestInit);
    expect(r.status).toBe(411);
    expect(await r.text()).toContain('Content-Length');
  });

  it('runs a job without inputs to ready and serves everything about it', async () => {
    const pack = jobPack({ prefix: 'Empty' });
    const [ok, name] = await submit(m.url, pack);
    expect(ok).toBe('ok');
    expect(name).toMatch(/^Empty@[0-9a-f]+:[0-9a-f]+:[0-9a-f]+$/);
    const res = (await (
      await postJson(`${m.url}/disco/ctrl/get_results`, [2000, [name, 'Nope@1:2:3']])
    ).json()) as unknown;
    expect(res).toEqual([
      [name, ['ready', []]],
      ['Nope@1:2:3', ['unknown job', []]],
    ]);
    const info = (await getJson(`${m.url}/disco/ctrl/jobinfo?name=${name}`)) as Record<string, unknown>;
    expect(info).toMatchObject({
      active: 'ready',
      mapi: [0, 0, 0, 0],
      redi: [0, 0, 0, 0],
      reduce: false,
      results: [],
      inputs: [],
      worker: 'worker',
      hosts: [],
      owner: 'tester@host',
    });
    expect(info.timestamp).toMatch(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d$/);
    const list = (await getJson(`${m.url}/disco/ctrl/joblist`)) as [number, string, string][];
    expect(list[0][1]).toBe('ready');
    expect(list[0][2]).toBe(name);
    expect(Math.abs(list[0][0] - Date.now() / 1000)).toBeLessThan(60);
    const params = await fetch(`${m.url}/disco/ctrl/parameters?name=${name}`);
    expect(Buffer.from(await params.arrayBuffer())).toEqual(pack);
    expect(await getJson(`${m.url}/disco/ctrl/get_mapresults?name=${name}`)).toEqual([]);
  });

  it('streams rawevents by offset: a range at the end is an empty 2xx', async () => {
    const [, name] = await submit(m.url, jobPack({ prefix: 'Ev' }));
    await postJson(`${m.url}/disco/ctrl/get_results`, [2000, [name]]);
    const all = await fetch(`${m.url}/disco/ctrl/rawevents?name=${name}`);
    expect(all.status).toBe(200);
    const text = await all.text();
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as [string, string, string]);
    expect(lines[0][1]).toBe('master');
    expect(lines[0][2]).toBe('New job initialized!');
    expect(lines.map((l) => l[2])).toContain('Starting job');
    expect(lines.at(-1)?.[2]).toMatch(/^READY: Job finished in /);
    const size = Buffer.byteLength(text);
    const tail = await fetch(`${m.url}/disco/ctrl/rawevents?name=${name}`, {
      headers: { Range: `bytes=${size}-` },
    });
    expect(tail.status).toBeLessThan(300);
    expect(await tail.text()).toBe('');
    const past = await fetch(`${m.url}/disco/ctrl/rawevents?name=${name}`, {
      headers: { Range: `bytes=${size + 50}-` },
    });
    expect(past.status).toBeLessThan(300);
    expect(await past.text()).toBe('');
    const firstLen = Buffer.byteLength(text.split('\n')[0]) + 1;
    const rest = await fetch(`${m.url}/disco/ctrl/rawevents?name=${name}`, {
      headers: { Range: `bytes=${firstLen}-` },
    });
    expect(rest.status).toBe(206);
    expect(await rest.text()).toBe(text.slice(firstLen));

    const ev = await fetch(`${m.url}/disco/ctrl/jobevents?name=${name}&num=2`);
    expect(ev.headers.get('content-type')).toBe('text/plain');
    const newest = JSON.parse(await ev.text()) as [string, string, string][];
    expect(newest).toHaveLength(2);
    expect(newest[0][2]).toMatch(/^READY/);
    const filtered = JSON.parse(
      await (await fetch(`${m.url}/disco/ctrl/jobevents?name=${name}&num=10&filter=initialized`)).text(),
    ) as [string, string, string][];
    expect(filtered.map((e) => e[2])).toEqual(['New job initialized!']);
  });

  it('kills an active job synchronously and wakes get_results', async () => {
    // One input and no nodes: the job waits for a node forever.
    const [, name] = await submit(m.url, jobPack({ prefix: 'Kill', input: ['raw://x'] }));
    expect(((await getJson(`${m.url}/disco/ctrl/jobinfo?name=${name}`)) as { active: string }).active).toBe(
      'active',
    );
    const waiting = postJson(`${m.url}/disco/ctrl/get_results`, [30_000, [name]]);
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    const k = await postJson(`${m.url}/disco/ctrl/kill_job`, name);
    expect(k.status).toBe(200);
    expect(await k.json()).toBe('');
    const info = (await getJson(`${m.url}/disco/ctrl/jobinfo?name=${name}`)) as { active: string };
    expect(info.active).toBe('dead');
    expect(await (await waiting).json()).toEqual([[name, ['dead', []]]]);
    expect(Date.now() - started).toBeLessThan(2000);
    const events = await (await fetch(`${m.url}/disco/ctrl/rawevents?name=${name}`)).text();
    expect(events).toContain('WARN: Job killed');
  });

  it('get_results returns after the timeout while a job stays active', async () => {
    const [, name] = await submit(m.url, jobPack({ prefix: 'Wait', input: ['raw://x'] }));
    const t0 = Date.now();
    const r = await (await postJson(`${m.url}/disco/ctrl/get_results`, [200, [name]])).json();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    expect(r).toEqual([[name, ['active', []]]]);
    await postJson(`${m.url}/disco/ctrl/kill_job`, name);
  });

  it('cleans and purges jobs', async () => {
    const [, a] = await submit(m.url, jobPack({ prefix: 'Clean' }));
    const [, b] = await submit(m.url, jobPack({ prefix: 'Purge', input: ['raw://x'] }));
    expect((await postJson(`${m.url}/disco/ctrl/clean_job`, a)).status).toBe(200);
    expect((await postJson(`${m.url}/disco/ctrl/purge_job`, b)).status).toBe(200);
    for (const n of [a, b]) {
      expect((await fetch(`${m.url}/disco/ctrl/jobinfo?name=${n}`)).status).toBe(404);
      expect((await fetch(`${m.url}/disco/ctrl/parameters?name=${n}`)).status).toBe(404);
    }
    const names = ((await getJson(`${m.url}/disco/ctrl/joblist`)) as [number, string, string][]).map(
      (j) => j[2],
    );
    expect(names).not.toContain(a);
    expect(names).not.toContain(b);
    expect(m.context.manager.purgedJobs()).toContain(b);
  });
});

describe('ctrl payload validation', () => {
  it('answers 400 with a JSON string for wrong shapes', async () => {
    for (const [op, body] of [
      ['kill_job', 42],
      ['get_results', ['x', []]],
      ['get_results', [1, [2]]],
      ['blacklist', ['a']],
      ['save_config_table', { a: 1 }],
      ['save_settings', []],
      ['save_settings', { max_failure_rate: 'many' }],
    ] as const) {
      const r = await postJson(`${m.url}/disco/ctrl/${op}`, body);
      expect(r.status, op).toBe(400);
      expect(typeof (await r.json()), op).toBe('string');
    }
    const notJson = await fetch(`${m.url}/disco/ctrl/kill_job`, { method: 'POST', body: '{' });
    expect(notJson.status).toBe(400);
  });
});

describe('config, blacklists and settings', () => {
  it('saves and loads the config table, expanding ranges for nodeinfo', async () => {
    const save = await postJson(`${m.url}/disco/ctrl/save_config_table`, [
      ['nx01:03', '2'],
      ['other', '1'],
    ]);
    expect(await save.json()).toBe('table saved!');
    expect(await getJson(`${m.url}/disco/ctrl/load_config_table`)).toEqual([
      ['nx01:03', '2'],
      ['other', '1'],
    ]);
    const info = (await getJson(`${m.url}/disco/ctrl/nodeinfo`)) as Record<string, Record<string, unknown>>;
    expect(Object.keys(info).sort()).toEqual(['nx01', 'nx02', 'nx03', 'other']);
    expect(info.nx02).toEqual({
      job_ok: 0,
      data_error: 0,
      error: 0,
      max_workers: 2,
      connected: false,
      blacklisted: false,
    });
    const file = JSON.parse(readFileSync(m.settings.get('DISCO_MASTER_CONFIG'), 'utf8'));
    expect(file.hosts).toEqual([
      ['nx01:03', '2'],
      ['other', '1'],
    ]);
    const dup = await postJson(`${m.url}/disco/ctrl/save_config_table`, [
      ['nx01:03', '2'],
      ['nx02', '1'],
    ]);
    expect(dup.status).toBe(400);
    expect(await dup.json()).toBe('duplicate nodes');
    const invalid = await postJson(`${m.url}/disco/ctrl/save_config_table`, [['nx05:01', '2']]);
    expect(invalid.status).toBe(400);
    expect(await invalid.json()).toMatch(/^invalid config/);
  });

  it('blacklists and whitelists configured nodes', async () => {
    await postJson(`${m.url}/disco/ctrl/blacklist`, 'nx02');
    await postJson(`${m.url}/disco/ctrl/blacklist`, 'not-configured');
    expect(await getJson(`${m.url}/disco/ctrl/get_blacklist`)).toEqual(['nx02']);
    const info = (await getJson(`${m.url}/disco/ctrl/nodeinfo`)) as Record<string, { blacklisted: boolean }>;
    expect(info.nx02.blacklisted).toBe(true);
    await postJson(`${m.url}/disco/ctrl/whitelist`, 'nx02');
    expect(await getJson(`${m.url}/disco/ctrl/get_blacklist`)).toEqual([]);
    await postJson(`${m.url}/disco/ctrl/gc_blacklist`, 'nx03');
    expect(await getJson(`${m.url}/disco/ctrl/get_gc_blacklist`)).toEqual(['nx03']);
    await postJson(`${m.url}/disco/ctrl/gc_whitelist`, 'nx03');
    expect(await getJson(`${m.url}/disco/ctrl/get_gc_blacklist`)).toEqual([]);
  });

  it('saves max_failure_rate given as a decimal string', async () => {
    const r = await postJson(`${m.url}/disco/ctrl/save_settings`, { max_failure_rate: '12', other: 'x' });
    expect(await r.json()).toBe('Settings saved');
    expect(await getJson(`${m.url}/disco/ctrl/get_settings`)).toEqual({ max_failure_rate: 12 });
  });
});
