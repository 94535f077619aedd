/**
 * The status page (`/`): a box per node (title colour = connected / unreachable, whole box
 * lavender when blacklisted; a cell per configured core, busy ones yellow; DDFS disk use; tasks
 * done / restarted / crashed), the job list (running yellow, done green, failed pink; owner;
 * filter; hovering or focusing a job highlights its cores in light blue), and the last DDFS GC
 * summary. Twin: `/disco/api/v1/status`.
 */

import { formatBytes, formatMs, formatTime, html, jobHref, type SafeHtml } from './html.js';
import { fragment, page } from './layout.js';
import { type JobListItem, type NodeView, type StatusModel, stateLabel } from './model.js';

export const STATUS_FRAGMENTS = ['summary', 'nodes', 'jobs', 'gc'] as const;

function nodeBox(n: NodeView): SafeHtml {
  const cls = ['node', n.connected ? 'connected' : 'unreachable', n.blacklisted ? 'blacklisted' : ''].join(
    ' ',
  );
  const state = [n.connected ? 'connected' : 'unreachable', n.blacklisted ? 'blacklisted' : '']
    .filter(Boolean)
    .join(', ');
  const cells = [];
  const perJob = new Map<string, number>();
  for (const j of n.busy) perJob.set(j, (perJob.get(j) ?? 0) + 1);
  const running = [...perJob].sort((a, b) => b[1] - a[1]);
  const doing = !n.connected
    ? html`<p class="node-doing muted">not connected</p>`
    : running.length === 0
      ? html`<p class="node-doing muted">idle · ${n.cores} core${n.cores === 1 ? '' : 's'}</p>`
      : html`<p class="node-doing"><strong>${n.busy.length} of ${n.cores}</strong> cores busy</p>
  <ul class="node-jobs">${running
    .slice(0, 3)
    .map(
      ([job, k]) =>
        html`<li><a href="${jobHref(job)}" title="${job}">${job}</a>${k > 1 ? html` <span class="muted">×${k}</span>` : ''}</li>`,
    )}${running.length > 3 ? html`<li class="muted">and ${running.length - 3} more jobs</li>` : ''}</ul>`;
  for (let i = 0; i < Math.max(n.cores, n.busy.length); i++) {
    const job = n.busy[i];
    cells.push(
      job === undefined
        ? html`<span class="core" title="core ${i + 1}: idle"></span>`
        : html`<span class="core busy" data-job="${job}" title="core ${i + 1}: ${job}"></span>`,
    );
  }
  const total = n.diskFree !== null && n.diskUsed !== null ? n.diskFree + n.diskUsed : null;
  const disk =
    total !== null && n.diskFree !== null && n.diskUsed !== null
      ? html`<div class="disk"><meter min="0" max="${total}" value="${n.diskUsed}" aria-label="DDFS disk used on ${n.host}"></meter>
         <span>${formatBytes(n.diskFree)} free of ${formatBytes(total)}</span></div>`
      : html`<div class="disk muted">disk: unknown</div>`;
  return html`<article class="${cls}" data-host="${n.host}" aria-label="node ${n.host}: ${state}">
  <h3 class="node-title"><span class="host">${n.host}</span> <span class="node-state">${state}</span></h3>
  <div class="cores" role="img" aria-label="${n.busy.length} of ${n.cores} cores busy">${cells}</div>
  ${doing}
  ${disk}
  <dl class="node-stats">
    <div title="tasks finished successfully"><dt>done</dt><dd class="stat-done">${n.done}</dd></div>
    <div title="tasks restarted after a recoverable error"><dt>restarted</dt><dd class="stat-restarted">${n.restarted}</dd></div>
    <div title="tasks that crashed (their job failed)"><dt>crashed</dt><dd class="stat-crashed">${n.crashed}</dd></div>
  </dl>
</article>`;
}

function coresTitle(j: JobListItem): string {
  const entries = Object.entries(j.cores);
  if (entries.length === 0) return j.status === 'active' ? 'no cores in use right now' : '';
  return `cores in use: ${entries.map(([h, n]) => `${h} ×${n}`).join(', ')}`;
}

/** Tasks done of all tasks, over both phases, with the text `map 5/6 · reduce 0/2`. */
function progressOf(j: JobListItem): { done: number; running: number; total: number; text: string } {
  const parts: string[] = [];
  if (j.nrMap > 0) parts.push(`map ${j.mapi[2]}/${j.nrMap}`);
  if (j.nrReduce > 0) parts.push(`reduce ${j.redi[2]}/${j.nrReduce}`);
  return {
    done: j.mapi[2] + j.redi[2],
    running: j.mapi[1] + j.redi[1],
    total: j.nrMap + j.nrReduce,
    text: parts.join(' · '),
  };
}

/** Today's times as `HH:MM:SS`, older ones with their date. */
function shortTime(ms: number, now: number): SafeHtml {
  const full = formatTime(ms);
  const today = full.slice(0, 10) === formatTime(now).slice(0, 10);
  return html`<time datetime="${new Date(ms).toISOString()}" title="${full}">${today ? full.slice(11) : full.slice(0, 16)}</time>`;
}

function jobRow(j: JobListItem, now: number): SafeHtml {
  const busy = Object.values(j.cores).reduce((a, b) => a + b, 0);
  const p = progressOf(j);
  const pct = (n: number) => (p.total === 0 ? 0 : (100 * n) / p.total).toFixed(1);
  const bar =
    p.total > 0
      ? html`<span class="mini-bar" aria-hidden="true"><span class="seg done" style="width:${pct(p.done)}%"></span><span class="seg running" style="width:${pct(p.running)}%"></span></span>`
      : '';
  return html`<tr class="job ${j.status}" data-job="${j.name}" title="${coresTitle(j)}" tabindex="0">
  <td><span class="state-badge ${j.status}">${stateLabel(j.status)}</span></td>
  <td class="name"><a href="${jobHref(j.name)}">${j.name}</a>${j.reason ? html`<span class="job-reason" title="${j.reason}">${j.reason.length > 120 ? `${j.reason.slice(0, 120)}…` : j.reason}</span>` : ''}</td>
  <td class="owner">${j.owner}</td>
  <td class="when">${shortTime(j.submitted, now)}</td>
  <td class="num duration">${formatMs(j.durationMs)}</td>
  <td class="progress-text">${bar}${p.text}${busy > 0 ? html` <span class="muted">· ${busy} core${busy === 1 ? '' : 's'}</span>` : ''}</td>
</tr>`;
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** The parts of the page that are refreshed live. */
export function statusFragments(m: StatusModel): Record<(typeof STATUS_FRAGMENTS)[number], SafeHtml> {
  const connected = m.nodes.filter((n) => n.connected).length;
  const summary = html`<p class="summary">
    <strong>${connected}</strong> of ${plural(m.nodes.length, 'node', 'nodes')} connected ·
    <strong>${m.busySlots}</strong> of ${plural(m.slots, 'core', 'cores')} busy ·
    <strong>${plural(m.jobCounts.active, 'job', 'jobs')}</strong> running, ${m.jobCounts.ready} done, ${m.jobCounts.dead} failed
  </p>`;
  const nodes =
    m.nodes.length === 0
      ? html`<p>No nodes are configured. <a href="/configure">Add nodes</a> to run jobs.</p>`
      : html`<div class="nodes">${m.nodes.map(nodeBox)}</div>`;
  const jobs =
    m.jobs.length === 0
      ? html`<p class="muted">${m.jobsMatched === 0 && m.jobCounts.active + m.jobCounts.ready + m.jobCounts.dead > 0 ? 'No job matches the filter.' : 'No jobs yet.'}</p>`
      : html`<table class="jobs">
  <caption class="visually-hidden">Jobs, newest first</caption>
  <thead><tr><th scope="col">State</th><th scope="col">Job</th><th scope="col">Owner</th><th scope="col">Submitted</th><th scope="col" class="num">Duration</th><th scope="col">Tasks done</th></tr></thead>
  <tbody>${m.jobs.map((j) => jobRow(j, m.now))}</tbody>
</table>
${m.jobsMatched > m.jobs.length ? html`<p class="muted">${m.jobsMatched - m.jobs.length} older jobs not shown; use the filter.</p>` : ''}`;
  return { summary, nodes, jobs, gc: gcSummary(m) };
}

function gcSummary(m: StatusModel): SafeHtml {
  if (m.gcStatus === null) return html`<p class="muted">DDFS is not run by this master.</p>`;
  const status = m.gcStatus ? html`<p class="gc-status">${m.gcStatus}</p>` : '';
  if (!m.gc)
    return html`${status}<p class="muted">No garbage collection has finished since the master started.</p>`;
  const rows = ['Tags kept', 'Tags deleted', 'Blobs kept', 'Blobs deleted'].map((k) => {
    const [files, bytes] = m.gc?.stats[k] ?? [0, 0];
    return html`<tr><th scope="row">${k}</th><td>${files}</td><td>${formatBytes(bytes)}</td></tr>`;
  });
  return html`${status}<table class="gc">
  <caption>Last run: ${m.gc.timestamp}</caption>
  <thead><tr><th scope="col"></th><th scope="col">Count</th><th scope="col">Size</th></tr></thead>
  <tbody>${rows}</tbody>
</table>`;
}

export function statusPage(m: StatusModel, q: string): string {
  const f = statusFragments(m);
  return page({
    title: 'Status',
    nav: 'status',
    version: m.version,
    refreshMs: 2000,
    body: html`<h1 class="visually-hidden">Cluster status</h1>
${fragment('summary', f.summary)}
<div class="status-grid">
  <section aria-labelledby="nodes-h" class="nodes-section">
    <h2 id="nodes-h">Nodes</h2>
    <p class="legend"><span><span class="swatch sw-connected"></span> connected</span> <span><span class="swatch sw-unreachable"></span> unreachable</span> <span><span class="swatch sw-blacklisted"></span> blacklisted</span> <span><span class="swatch sw-busy"></span> busy core</span> <span><span class="swatch sw-hl"></span> cores of the job under the pointer</span></p>
    ${fragment('nodes', f.nodes)}
  </section>
  <aside>
    <section aria-labelledby="jobs-h">
      <h2 id="jobs-h">Jobs</h2>
      <form class="filter" role="search" action="/" method="get" data-live-filter="jobs">
        <label for="job-filter">Filter jobs</label>
        <input id="job-filter" name="q" type="search" value="${q}" placeholder="name, owner or state" autocomplete="off">
      </form>
      ${fragment('jobs', f.jobs)}
    </section>
    <section aria-labelledby="gc-h">
      <h2 id="gc-h">DDFS garbage collection</h2>
      ${fragment('gc', f.gc)}
    </section>
  </aside>
</div>`,
  });
}
