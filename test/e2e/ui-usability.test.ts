/**
 * Can a newcomer tell, from the web UI alone, what the cluster is doing, which job is slow and
 * why a task failed? A live 3-node cluster runs a finished word count, a failed job (a task
 * throws), a job whose data errors on one node are retried on others, and a running job with one
 * straggling task; Debian's chromium (playwright-core) at laptop size checks that the pages
 * answer those questions with the numbers the JSON API gives, and that every page is readable
 * (no horizontal overflow at 1366 px, table headers, text contrast, keyboard focus, a quiet live
 * region). Screenshots of every page go to test-artifacts/ui-usability/ (not committed).
 * Takes about 25 s.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT, Settings } from '../../src/common/settings.js';
import { DDFS, Disco } from '../../src/index.js';
import type { TaskHighlights } from '../../src/master/http/ui/diagnosis.js';
import { formatMs } from '../../src/master/http/ui/html.js';
import type { JobListItem, JobModel } from '../../src/master/http/ui/model.js';
import { HAVE_CHROMIUM, launchChromium } from '../harness/chromium.js';
import { type Cluster, startCluster } from '../harness/cluster.js';
import { Crashy, Flaky, Sleepy, Straggler } from './fixtures/ui-jobs.js';
import { getJson } from './helpers.js';

const SHOTS = path.join(PACKAGE_ROOT, 'test-artifacts', 'ui-usability');

let c: Cluster;
let browser: BrowserContext;
let page: Page;
const jobs = { wordcount: '', crash: '', flaky: '', slow: '' };
let badHost = '';

const api = <T>(p: string) => getJson<T>(`${c.master}${p}`);
const highlights = async (job: string) =>
  (await api<{ highlights: TaskHighlights }>(`/disco/api/v1/jobs/${encodeURIComponent(job)}/tasks`))
    .highlights;
const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

async function eventually(what: string, fn: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Browser-side checks, as expressions (the project's TypeScript has no DOM types): text whose
 * contrast with its background is below WCAG AA (4.5:1, 3:1 for large text).
 */
const LOW_CONTRAST_TEXT = `(() => {
  const rgba = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { const x = v / 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const bg = rgba(getComputedStyle(e).backgroundColor);
      if (bg.length === 3 || (bg.length === 4 && bg[3] > 0.5)) return bg;
    }
    return [255, 255, 255];
  };
  const bad = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || !n.textContent.trim() || el.closest('.visually-hidden, .skip, script, style, option')) continue;
    if (el.getClientRects().length === 0) continue;
    const st = getComputedStyle(el);
    if (st.visibility === 'hidden') continue;
    const fg = lum(rgba(st.color));
    const bg = lum(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    const size = Number.parseFloat(st.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(st.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5))
      bad.push(ratio.toFixed(2) + ':1 "' + n.textContent.trim().slice(0, 40) + '" (' + st.color + ')');
  }
  return bad;
})()`;

/** Page width against the window, tables without column headers, and the number of h1. */
const LAYOUT = `({
  scroll: document.documentElement.scrollWidth,
  client: document.documentElement.clientWidth,
  headless: [...document.querySelectorAll('table')].filter((t) => t.querySelectorAll('thead th[scope="col"]').length === 0).length,
  h1: document.querySelectorAll('h1').length,
})`;

/** The focused element: its class, left edge and outline style. */
const FOCUSED = `(() => {
  const a = document.activeElement;
  return { cls: a.className, left: a.getBoundingClientRect().left, outline: getComputedStyle(a).outlineStyle };
})()`;

describe.skipIf(!HAVE_CHROMIUM)('web UI usability', () => {
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    const [cluster, ctx] = await Promise.all([
      startCluster({ nodes: 3, cores: 2 }),
      launchChromium({ width: 1366, height: 768 }),
    ]);
    c = cluster;
    browser = ctx;
    page = browser.pages()[0] ?? (await browser.newPage());
    badHost = c.nodes[0].host;
    const disco = new Disco(c.master);
    const wc = await new Sleepy({ master: disco }).run({
      input: ['raw://a b c', 'raw://b c', 'raw://c'],
      params: { ms: 10 },
    });
    await wc.wait();
    jobs.wordcount = wc.name;
    const crash = await new Crashy({ master: disco }).run({ input: ['raw://1', 'raw://2', 'raw://oops'] });
    await expect(crash.wait()).rejects.toThrow();
    jobs.crash = crash.name;
    // Six tasks on six slots: the bad node gets some of them, and its data errors are retried.
    const flaky = await new Flaky({ master: disco }).run({
      input: Array.from({ length: 6 }, (_, i) => `raw://part-${i}`),
      params: { badHost },
    });
    await flaky.wait();
    jobs.flaky = flaky.name;
    const ddfs = new DDFS(c.master, { settings: new Settings({ DISCO_PORT: String(c.port) }, {}, {}) });
    await ddfs.push('data:logs:2024', [
      [Buffer.from('a line\n'), 'day1'],
      [Buffer.from('another\n'), 'day2'],
    ]);
    await ddfs.push('data:other', [[Buffer.from('other\n'), 'other']]);
    await ddfs.tag('data:logs:2024', [['tag://data:other']]);
    await ddfs.setattr('data:logs:2024', 'origin', 'nightly import');
    // Five quick tasks and one that takes 25 s: map:3 (raw://slow-one) is the straggler.
    const slow = await new Straggler({ master: disco }).run({
      input: ['raw://f1', 'raw://f2', 'raw://f3', 'raw://slow-one', 'raw://f4', 'raw://f5'],
      params: { ms: 300, slowMs: 25_000 },
    });
    jobs.slow = slow.name;
    await eventually('the slow job to have a straggler', async () => {
      const s = (await highlights(slow.name)).slowest;
      return s?.straggler === true && s.status === 'running';
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await c?.stop();
  });

  it('status page: what each node is doing, how long each job takes, why one failed', async () => {
    await page.goto(`${c.master}/`);
    type NodeInfo = Record<string, { tasks?: string[]; max_workers: number }>;
    await eventually('node boxes to say what nodeinfo says', async () => {
      const info = await api<NodeInfo>('/disco/ctrl/nodeinfo');
      for (const [host, n] of Object.entries(info)) {
        const busy = n.tasks?.length ?? 0;
        const text = await page.locator(`.node[data-host="${host}"] .node-doing`).textContent();
        const want = busy === 0 ? `idle · ${n.max_workers} cores` : `${busy} of ${n.max_workers} cores busy`;
        if (text?.trim() !== want) return false;
      }
      return true;
    });
    // The node running the straggler names its job.
    const info = await api<NodeInfo>('/disco/ctrl/nodeinfo');
    const [busyHost] = Object.entries(info).find(([, n]) => n.tasks?.includes(jobs.slow)) ?? [''];
    expect(await page.locator(`.node[data-host="${busyHost}"] .node-jobs a`).allTextContents()).toContain(
      jobs.slow,
    );

    const listed = (await api<{ jobs: JobListItem[] }>('/disco/api/v1/status')).jobs;
    for (const j of listed) {
      const row = page.locator(`tr.job[data-job="${j.name}"]`);
      if (j.status !== 'active')
        expect(await row.locator('.duration').textContent()).toBe(formatMs(j.durationMs));
      const phases = [
        j.nrMap ? `map ${j.mapi[2]}/${j.nrMap}` : '',
        j.nrReduce ? `reduce ${j.redi[2]}/${j.nrReduce}` : '',
      ].filter(Boolean);
      if (j.status !== 'active')
        expect(await row.locator('.progress-text').textContent()).toBe(phases.join(' · '));
    }
    const crash = listed.find((j) => j.name === jobs.crash);
    expect(crash?.reason).toMatch(/TypeError: record "oops" is not a number$/);
    expect(await page.locator(`tr.job[data-job="${jobs.crash}"] .job-reason`).textContent()).toBe(
      crash?.reason,
    );
    expect(await page.locator(`tr.job[data-job="${jobs.wordcount}"] .job-reason`).count()).toBe(0);
    await shot('status');
  });

  it('a failed job says why, names the failing task and shows its stack in one click', async () => {
    await page.goto(`${c.master}/job/${encodeURIComponent(jobs.crash)}`);
    const job = await api<JobModel>(`/disco/api/v1/jobs/${encodeURIComponent(jobs.crash)}`);
    expect(job.reason).toMatch(
      /^Worker at '127\.0\.0\.\d+' died: TypeError: record "oops" is not a number\n\s+at /,
    );
    const why = page.locator('#why-failed');
    expect(await why.locator('.reason .fail-msg').textContent()).toBe(job.reason?.split('\n')[0]);
    const failedTask = (await why.locator('p', { hasText: 'Failed task' }).textContent()) ?? '';
    expect(failedTask).toContain('map:2');
    expect(failedTask).toContain('raw://oops');
    // The stack is one click away.
    const stack = why.locator('details.trace pre');
    expect(await stack.isVisible()).toBe(false);
    await why.locator('details.trace summary').click();
    expect(await stack.isVisible()).toBe(true);
    expect(await stack.textContent()).toContain('at parseRecord');
    // The failing task's row is marked and shows the error; its stack opens from the keyboard.
    const row = page.locator('tr.task.failed');
    expect(await row.count()).toBe(1);
    expect(await row.getAttribute('data-task')).toBe('map:2');
    expect(await row.locator('.fail-msg').textContent()).toBe('TypeError: record "oops" is not a number');
    await row.locator('summary').focus();
    await page.keyboard.press('Enter');
    expect(await row.locator('details.trace pre').isVisible()).toBe(true);
    // Progress counts the tasks the failure left unfinished.
    const bar = page.locator('[data-phase="map"] [role="progressbar"]');
    expect(await bar.getAttribute('aria-valuemax')).toBe(String(job.nrMap));
    expect(await page.locator('[data-phase="map"] .c-unfinished strong').textContent()).toBe(
      String(job.nrMap - job.mapi[2]),
    );
    await shot('job-failed');
    // The task link filters the events log to that task.
    await why.locator('a[data-events-filter="map:2"]').click();
    expect(await page.inputValue('#events-filter')).toBe('map:2');
    await eventually('events of map:2 only', async () => {
      const msgs = await page.locator('table.events td.msg').allTextContents();
      return msgs.length > 0 && msgs.every((m) => /map:2(?!\d)/.test(m));
    });
  });

  it('data errors: the failed attempts, their errors and where they were retried', async () => {
    await page.goto(`${c.master}/job/${encodeURIComponent(jobs.flaky)}`);
    const h = await highlights(jobs.flaky);
    expect(h.failedAttemptsTotal).toBeGreaterThan(0);
    const items = page.locator('#failed-attempts li');
    expect(await items.count()).toBe(h.failedAttempts.length);
    for (const [i, a] of h.failedAttempts.entries()) {
      expect(a.node).toBe(badHost);
      expect(a.retriedOn).not.toBeNull();
      expect(a.retriedOn).not.toBe(badHost);
      const text = (await items.nth(i).textContent()) ?? '';
      expect(text).toContain(`${a.mode}:${a.taskid} attempt ${a.attempt + 1} on ${badHost}`);
      expect(text).toContain(`DataError: checksum mismatch reading part-${a.taskid}`);
      expect(text).toContain(`retried on ${a.retriedOn}, then done`);
    }
    expect(await page.locator('#failed-attempts').textContent()).toContain(
      `${h.failedAttemptsTotal} task attempt${h.failedAttemptsTotal === 1 ? '' : 's'} failed`,
    );
    expect(await page.locator('#why-failed').count()).toBe(0);
    await shot('job-retried');
  });

  it('a running job names its straggler and marks it in the table and the timeline', async () => {
    await page.goto(`${c.master}/job/${encodeURIComponent(jobs.slow)}`);
    const s = (await highlights(jobs.slow)).slowest;
    expect(s).toMatchObject({ mode: 'map', taskid: 3, status: 'running', straggler: true });
    const hint = page.locator('#slowest');
    expect(await hint.getAttribute('class')).toContain('straggler');
    const text = (await hint.textContent()) ?? '';
    expect(text).toMatch(/^Straggler: map:3 on 127\.0\.0\.\d+ has been running for .+ the median map task/);
    expect(text).toContain('raw://slow-one');
    expect(await page.locator('tr.task.slowest').getAttribute('data-task')).toBe('map:3');
    expect(await page.locator('tr.task.slowest .slow-badge').textContent()).toBe('slowest');
    expect(await page.locator('tr.task .slow-badge').count()).toBe(1);
    expect(await page.locator('.tbar.slowest').count()).toBe(1);

    // Live updates keep keyboard focus where it was and do not chatter in the live region.
    const live = page.locator('#live-status');
    const before = await live.textContent();
    await page.locator('tr.task.slowest a[data-events-filter="map:3"]').focus();
    // The durations change, so the next poll replaces the task table.
    await page.evaluate(
      `new Promise((resolve) => document.getElementById('frag-tasks').addEventListener('disco:updated', resolve, { once: true }))`,
    );
    expect(await page.evaluate(`document.activeElement.getAttribute('data-events-filter')`)).toBe('map:3');
    expect(await live.textContent()).toBe(before);
    expect(await live.getAttribute('title')).toMatch(/^updated /);
    await shot('job-straggler');
  });

  it('every page fits 1366 px, has table headers, readable contrast and a keyboard path', async () => {
    const pages: [string, string, string][] = [
      ['status', '/', '#frag-jobs table'],
      ['job-wordcount', `/job/${encodeURIComponent(jobs.wordcount)}`, 'table.tasks'],
      ['job-failed', `/job/${encodeURIComponent(jobs.crash)}`, '#why-failed'],
      ['job-retried', `/job/${encodeURIComponent(jobs.flaky)}`, '#failed-attempts'],
      ['job-straggler', `/job/${encodeURIComponent(jobs.slow)}`, '#slowest'],
      ['configure', '/configure', 'table.config'],
      ['ddfs', '/tags', '#tag-list a'],
      ['tag', `/tags/${encodeURIComponent('data:logs:2024')}`, 'table.blobs'],
    ];
    for (const [name, url, ready] of pages) {
      await page.goto(`${c.master}${url}`);
      await page.waitForSelector(ready);
      const layout = await page.evaluate<{ scroll: number; client: number; headless: number; h1: number }>(
        LAYOUT,
      );
      expect(layout.scroll, `${name} overflows`).toBeLessThanOrEqual(layout.client);
      expect(layout.headless, `${name}: tables without column headers`).toBe(0);
      expect(layout.h1, `${name}: one h1`).toBe(1);
      expect(await page.evaluate<string[]>(LOW_CONTRAST_TEXT), `${name}: low contrast`).toEqual([]);
      // The first Tab lands on the skip link, which shows itself with a focus outline.
      await page.keyboard.press('Tab');
      const focus = await page.evaluate<{ cls: string; left: number; outline: string }>(FOCUSED);
      expect(focus, name).toMatchObject({ cls: 'skip', outline: 'solid' });
      expect(focus.left).toBeGreaterThanOrEqual(0);
      await shot(`page-${name}`);
    }
  });
});
