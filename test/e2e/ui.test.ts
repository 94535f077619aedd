/**
 * The web UI in a real browser (Debian's chromium driven by playwright-core) on a live 2-node
 * cluster with a finished and a running job: every page is loaded and its numbers checked
 * against the JSON API; kill, purge, a node table change, blacklists and a setting are clicked
 * through; `/metrics` of the master and the nodes is parsed and checked against a job whose
 * task counts are known; `disco trace` writes a trace of the finished job. Screenshots go to
 * test-artifacts/ui/ (not committed).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT, Settings } from '../../src/common/settings.js';
import { DDFS, Disco } from '../../src/index.js';
import { HAVE_CHROMIUM, launchChromium } from '../harness/chromium.js';
import { type Cluster, startCluster } from '../harness/cluster.js';
import { parsePrometheus, sampleValue } from '../harness/prometheus.js';
import { Sleepy } from './fixtures/ui-jobs.js';
import { getJson, postJson } from './helpers.js';

const SHOTS = path.join(PACKAGE_ROOT, 'test-artifacts', 'ui');
const run = promisify(execFile);

let c: Cluster;
let disco: Disco;
let browser: BrowserContext;
let page: Page;
let done = ''; // a finished job: 3 map + 2 reduce tasks
let blobData = '';

type NodeInfo = Record<
  string,
  { connected: boolean; job_ok: number; tasks?: string[]; blacklisted: boolean }
>;
interface JobInfo {
  active: string;
  owner: string;
  mapi: number[];
  redi: number[];
  results: string[];
}

const api = <T>(p: string) => getJson<T>(`${c.master}${p}`);
const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

/** Retry `fn` until it returns true (UI and API are read at slightly different times). */
async function eventually(what: string, fn: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!HAVE_CHROMIUM)('web UI', () => {
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    const [cluster, ctx] = await Promise.all([
      startCluster({ nodes: 2, cores: 2, env: { DDFS_GC_INITIAL_WAIT: '0' } }),
      launchChromium({ width: 1366, height: 800 }),
    ]);
    c = cluster;
    browser = ctx;
    page = browser.pages()[0] ?? (await browser.newPage());
    disco = new Disco(c.master);
    const job = await new Sleepy({ master: disco }).run({
      input: ['raw://a b c', 'raw://b c', 'raw://c'],
      params: { ms: 10 },
    });
    await job.wait();
    done = job.name;
    // A DDFS tag with a blob, an attribute and a link to another tag.
    const ddfs = new DDFS(c.master, { settings: new Settings({ DISCO_PORT: String(c.port) }, {}, {}) });
    blobData = 'hello from a blob\n';
    await ddfs.push('ui:other', [[Buffer.from('other\n'), 'other']]);
    await ddfs.push('ui:data', [[Buffer.from(blobData), 'greeting']]);
    await ddfs.tag('ui:data', [['tag://ui:other']]);
    await ddfs.setattr('ui:data', 'origin', 'the UI test');
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await c?.stop();
  });

  it('/metrics of the master and the nodes count the finished job', async () => {
    const m = parsePrometheus(await (await fetch(`${c.master}/metrics`)).text());
    expect(sampleValue(m, 'disco_tasks_started_total', { phase: 'map' })).toBe(3);
    expect(sampleValue(m, 'disco_tasks_started_total', { phase: 'reduce' })).toBe(2);
    expect(sampleValue(m, 'disco_tasks_finished_total', { phase: 'map' })).toBe(3);
    expect(sampleValue(m, 'disco_tasks_finished_total', { phase: 'reduce' })).toBe(2);
    expect(sampleValue(m, 'disco_tasks_failed_total') ?? 0).toBe(0);
    expect(sampleValue(m, 'disco_task_duration_seconds_count')).toBe(5);
    expect(sampleValue(m, 'disco_jobs', { state: 'ready' })).toBe(1);
    expect(sampleValue(m, 'disco_node_tasks_total', { outcome: 'ok' })).toBe(5);
    expect(sampleValue(m, 'disco_nodes', { state: 'connected' })).toBe(2);
    expect(sampleValue(m, 'disco_slots')).toBe(4);
    let ended = 0;
    for (const n of c.nodes) {
      const nm = parsePrometheus(await (await fetch(`http://${n.host}:${c.port}/metrics`)).text());
      expect(sampleValue(nm, 'disco_node_connected')).toBe(1);
      ended += sampleValue(nm, 'disco_node_tasks_ended_total', { outcome: 'done' }) ?? 0;
      expect(sampleValue(nm, 'disco_node_worker_processes', { state: 'task' })).toBe(0);
      const health = await getJson<{ status: string; host: string }>(`http://${n.host}:${c.port}/health`);
      expect(health).toMatchObject({ status: 'ok', host: n.host });
    }
    expect(ended).toBe(5);
    expect(await api('/health')).toMatchObject({ status: 'ok', nodes: { configured: 2, connected: 2 } });
  });

  it('status page: node boxes, cores and the job list agree with the API', async () => {
    await page.goto(`${c.master}/`);
    expect(await page.locator('.node').count()).toBe(2);
    expect(await page.locator('.node.connected').count()).toBe(2);
    const info = await api<NodeInfo>('/disco/ctrl/nodeinfo');
    for (const [host, n] of Object.entries(info)) {
      const box = page.locator(`.node[data-host="${host}"]`);
      expect(await box.locator('.core').count()).toBe(2);
      expect(await box.locator('.stat-done').textContent()).toBe(String(n.job_ok));
    }
    const row = page.locator(`tr.job[data-job="${done}"]`);
    expect(await row.getAttribute('class')).toContain('ready');
    const ji = await api<JobInfo>(`/disco/ctrl/jobinfo?name=${done}`);
    expect(await row.locator('.owner').textContent()).toBe(ji.owner);
    expect(await row.locator('.state-badge').textContent()).toBe('done');
    // The job filter narrows the list.
    await page.fill('#job-filter', 'no-such-job');
    await page.waitForSelector('#frag-jobs >> text=No job matches the filter.');
    await page.fill('#job-filter', '');
    await page.waitForSelector(`tr.job[data-job="${done}"]`);
    await shot('status');
  });

  it('a running job: live cores, hover, progress, tasks, timeline, events, kill', async () => {
    const slow = await new Sleepy({ master: disco }).run({
      input: Array.from({ length: 6 }, (_, i) => `raw://w${i} x`),
      params: { ms: 6000 },
    });
    // The status page updates without a reload: busy cores appear and match nodeinfo.
    await page.waitForSelector('.core.busy', { timeout: 10_000 });
    await eventually('busy cores as nodeinfo says', async () => {
      const info = await api<NodeInfo>('/disco/ctrl/nodeinfo');
      const busy = Object.values(info).reduce((a, n) => a + (n.tasks?.length ?? 0), 0);
      return busy > 0 && (await page.locator('.core.busy').count()) === busy;
    });
    await page.hover(`tr.job[data-job="${slow.name}"]`);
    expect(await page.locator('.core.hl').count()).toBeGreaterThan(0);
    expect(await page.locator('.core.hl').count()).toBe(
      await page.locator(`.core[data-job="${slow.name}"]`).count(),
    );
    await shot('status-running');

    await page.click(`tr.job[data-job="${slow.name}"] a`);
    await page.waitForSelector('#job-state');
    expect(await page.locator('#job-state').textContent()).toBe('running');
    await eventually('map counters as jobinfo says', async () => {
      const ji = await api<JobInfo>(`/disco/ctrl/jobinfo?name=${slow.name}`);
      const shown = await page.locator('[data-phase="map"] .counts strong').allTextContents();
      return shown.join(',') === ji.mapi.join(',');
    });
    expect(await page.locator('table.tasks tbody tr').count()).toBe(8);
    await page.waitForSelector('.tbar.running');
    await page.waitForSelector('table.events >> text=Starting map phase');
    // The task table's link shows that task's messages.
    await page.click('table.tasks tbody tr:first-child a[data-events-filter]');
    expect(await page.inputValue('#events-filter')).toBe('map:0');
    await eventually('events of map:0 only', async () => {
      const msgs = await page.locator('table.events td.msg').allTextContents();
      return msgs.length > 0 && msgs.every((m) => /map:0(?!\d)/.test(m));
    });
    await shot('job-running');

    page.once('dialog', (d) => void d.accept());
    await page.click('button[data-action="kill_job"]');
    await page.waitForSelector('#job-state >> text=failed');
    expect((await api<JobInfo>(`/disco/ctrl/jobinfo?name=${slow.name}`)).active).toBe('dead');
    await page.waitForSelector('table.tasks .task-status.killed');
    await shot('job-killed');
  });

  it('a finished job: results, tasks, timeline, trace; purge', async () => {
    await page.goto(`${c.master}/job/${encodeURIComponent(done)}`);
    const ji = await api<JobInfo>(`/disco/ctrl/jobinfo?name=${done}`);
    const links = page.locator('ul.results a');
    expect(await links.count()).toBe(ji.results.length);
    const href = (await links.first().getAttribute('href')) ?? '';
    expect(href).toMatch(/^http:\/\/127\.0\.0\.\d+:\d+\//);
    expect((await fetch(href)).status).toBe(200);
    expect(await page.locator('table.tasks .task-status.done').count()).toBe(5);
    const attempts = await api<{ attempts: unknown[] }>(`/disco/api/v1/jobs/${done}/attempts`);
    expect(await page.locator('.tbar').count()).toBe(attempts.attempts.length);
    await page.fill('#events-filter', 'ready');
    await eventually('only the READY event', async () => {
      const msgs = await page.locator('table.events td.msg').allTextContents();
      return msgs.length === 1 && msgs[0].startsWith('READY');
    });
    await shot('job-done');

    const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'trace-')), 'job.json');
    await run(path.join(PACKAGE_ROOT, 'bin', 'disco'), ['trace', done, '-o', out], {
      env: { ...process.env, ...c.env, DISCO_ROOT: path.join(c.root, 'cli') },
    });
    const trace = JSON.parse(readFileSync(out, 'utf8')) as { traceEvents: { ph: string; pid: number }[] };
    expect(trace.traceEvents.filter((e) => e.ph === 'X')).toHaveLength(5);

    page.once('dialog', (d) => void d.accept());
    await page.click('button[data-action="purge_job"]');
    await page.waitForURL(`${c.master}/`);
    const jobs = await api<[number, string, string][]>('/disco/ctrl/joblist');
    expect(jobs.map((j) => j[2])).not.toContain(done);
  });

  it('configure: node table, blacklists and max_failure_rate', async () => {
    await page.goto(`${c.master}/configure`);
    await page.click('#add-row');
    await page.locator('.host-input').last().fill('127.0.0.9');
    await page.locator('.cores-input').last().fill('1');
    await page.click('#save-table');
    await page.waitForSelector('#table-status >> text=Table saved.');
    expect(await api('/disco/ctrl/load_config_table')).toContainEqual(['127.0.0.9', '1']);
    await page.goto(`${c.master}/`);
    expect(await page.locator('.node').count()).toBe(3);
    expect(await page.locator('.node.unreachable').getAttribute('data-host')).toBe('127.0.0.9');

    await page.goto(`${c.master}/configure`);
    await page.locator('tr:has(input[value="127.0.0.9"]) .remove-row').click();
    await page.click('#save-table');
    await page.waitForSelector('#table-status >> text=Table saved.');
    expect(await api<string[][]>('/disco/ctrl/load_config_table')).toHaveLength(2);

    await page.fill('#bl-host', '127.0.0.3');
    await page.click('form[data-op="blacklist"] button');
    await page.waitForSelector('#frag-blacklist >> text=127.0.0.3');
    expect(await api('/disco/ctrl/get_blacklist')).toEqual(['127.0.0.3']);

    await page.fill('#gcbl-host', '127.0.0.3');
    await page.click('form[data-op="gc_blacklist"] button');
    await page.waitForSelector('#frag-gcblacklist >> text=127.0.0.3');
    expect(await api('/disco/ctrl/get_gc_blacklist')).toEqual(['127.0.0.3']);

    await page.fill('#max-failure-rate', '7');
    await page.click('#settings button');
    await page.waitForSelector('#settings-status >> text=Settings saved.');
    expect(await api('/disco/ctrl/get_settings')).toEqual({ max_failure_rate: 7 });

    // GC moves DDFS data off the node; once nothing is left there, the page says so.
    await eventually(
      'the DDFS-blacklisted node to be safe to remove',
      async () => {
        await fetch(`${c.master}/ddfs/ctrl/gc_start`);
        return (await api<string[]>('/ddfs/ctrl/safe_gc_blacklist')).includes('127.0.0.3');
      },
      30_000,
    );
    await page.waitForSelector('#frag-gcblacklist .safe-badge', { timeout: 10_000 });
    await shot('configure');

    await page.goto(`${c.master}/`);
    expect(await page.locator('.node[data-host="127.0.0.3"]').getAttribute('class')).toContain('blacklisted');
    await page.waitForSelector('#frag-gc table.gc');
    await shot('status-blacklisted');

    await page.goto(`${c.master}/configure`);
    await page.click('#frag-blacklist button[data-host="127.0.0.3"]');
    await page.waitForSelector('#frag-blacklist >> text=None.');
    expect(await api('/disco/ctrl/get_blacklist')).toEqual([]);
    await page.click('#frag-gcblacklist button[data-host="127.0.0.3"]');
    await page.waitForSelector('#frag-gcblacklist >> text=None.');
    expect(await api('/disco/ctrl/get_gc_blacklist')).toEqual([]);
    await postJson(`${c.master}/disco/ctrl/save_settings`, { max_failure_rate: '100' });
  });

  it('DDFS: tag list with a prefix filter, a tag with blobs, attributes and links', async () => {
    await page.goto(`${c.master}/tags`);
    await page.fill('#tag-prefix', 'ui:');
    await eventually('the tags with the prefix', async () => {
      const shown = await page.locator('#tag-list a').allTextContents();
      const listed = await api<string[]>('/ddfs/tags/ui:');
      return shown.length === 2 && shown.join() === listed.join();
    });
    await shot('tags');
    await page.click('#tag-list a >> text=ui:data');
    await page.waitForSelector('table.blobs');
    const tag = await api<{ urls: string[][] }>('/ddfs/tag/ui:data');
    const blobSets = tag.urls.filter((u) => !u[0].startsWith('tag://'));
    expect(await page.locator('table.blobs tbody tr').count()).toBe(blobSets.length);
    await page.waitForSelector('#tag-attrs >> text=the UI test');
    await page.waitForSelector('#tag-links a >> text=ui:other');
    const href = (await page.locator('table.blobs a').first().getAttribute('href')) ?? '';
    expect(await (await fetch(href)).text()).toBe(blobData);
    await shot('tag');
  });
});
