/**
 * The job page (`/job/<name>`, also `/job.html?name=`): name, owner, state, inputs, progress of
 * map and reduce, the events log (filter, live tail), the per-task table (phase, id, node,
 * attempts, start, duration, status, link to the task's messages), a per-node timeline of the
 * attempts, the results, and kill / purge buttons. Twins: `/disco/api/v1/jobs/<name>`,
 * `.../tasks`, `.../timeline`, `.../attempts`, and `/disco/ctrl/jobevents`.
 */
import { resolveHttp, splitUrl } from '../../../protocol/urls.js';
import { JOB_KILLED } from '../../jobs/coordinator.js';
import type { Timeline } from '../../metrics/task-history.js';
import type { PhaseCounters } from '../../scheduler/types.js';
import { type FailedAttempt, firstLine, type SlowestTask } from './diagnosis.js';
import { formatMs, html, jobHref, type SafeHtml, tagHref, timeEl } from './html.js';
import { fragment, page } from './layout.js';
import { type JobModel, stateLabel, TASK_PAGE, type TaskQuery, type TasksModel } from './model.js';

export const JOB_FRAGMENTS = [
  'summary',
  'diagnosis',
  'progress',
  'timeline',
  'tasks',
  'events',
  'results',
] as const;
export type JobFragment = (typeof JOB_FRAGMENTS)[number];

/** One event as the page shows it. */
export interface EventRow {
  time: string;
  host: string;
  message: string;
}

export interface JobPageParams {
  tasks: TaskQuery;
  /** Events filter (jobevents semantics, refined for `map:N` / `reduce:N`). */
  events: string;
  eventsNum: number;
  discoPort: string;
}

function query(p: JobPageParams, over: Record<string, string | number | undefined> = {}): string {
  const q = new URLSearchParams();
  const v: Record<string, string | number | undefined> = {
    tphase: p.tasks.phase || undefined,
    tstatus: p.tasks.status || undefined,
    tsort: p.tasks.sort && p.tasks.sort !== 'id' ? p.tasks.sort : undefined,
    events: p.events || undefined,
    ...over,
  };
  for (const [k, x] of Object.entries(v)) if (x !== undefined && x !== '') q.set(k, String(x));
  return q.toString();
}

function summary(j: JobModel): SafeHtml {
  const active = j.status === 'active';
  return html`<div class="job-head">
  <h1><span class="job-name">${j.name}</span> <span class="state-badge ${j.status}" id="job-state">${stateLabel(j.status)}</span></h1>
  <div class="actions">
    ${active ? html`<button type="button" class="danger" data-action="kill_job" data-job="${j.name}">Kill job</button>` : ''}
    <button type="button" class="danger secondary" data-action="purge_job" data-job="${j.name}">Purge job</button>
  </div>
</div>
<dl class="facts">
  <div><dt>Owner</dt><dd id="job-owner">${j.owner}</dd></div>
  <div><dt>Submitted</dt><dd>${timeEl(j.submitted)}</dd></div>
  <div><dt>${active ? 'Running for' : 'Took'}</dt><dd>${formatMs(j.durationMs)}</dd></div>
  <div><dt>Worker</dt><dd><code>${j.worker}</code></dd></div>
  <div><dt>Inputs</dt><dd>${j.nrInputs}</dd></div>
  <div><dt>Phases</dt><dd>${[j.map ? 'map' : '', j.reduce ? `reduce (${j.nrReduces} partitions)` : ''].filter(Boolean).join(' + ') || 'none'}</dd></div>
</dl>`;
}

function phaseBar(name: 'map' | 'reduce', c: PhaseCounters, inJob: boolean, tasks: number): SafeHtml {
  if (!inJob) return html`<div class="phase"><h3>${name}</h3><p class="muted">no ${name} phase</p></div>`;
  const [waiting, running, done, failed] = c;
  // A failed or killed job's unfinished tasks are in no counter: count them against the job's tasks.
  const total = Math.max(waiting + running + done, tasks);
  const unfinished = total - (waiting + running + done);
  const pct = (n: number) => (total === 0 ? 0 : (100 * n) / total);
  return html`<div class="phase" data-phase="${name}">
  <h3>${name}</h3>
  <div class="bar" role="progressbar" aria-label="${name} tasks done" aria-valuemin="0" aria-valuemax="${total}" aria-valuenow="${done}">
    <span class="seg done" style="width:${pct(done).toFixed(2)}%"></span><span class="seg running" style="width:${pct(running).toFixed(2)}%"></span>
  </div>
  <p class="counts"><span class="c-waiting"><strong>${waiting}</strong> waiting</span> · <span class="c-running"><strong>${running}</strong> running</span> · <span class="c-done"><strong>${done}</strong> done</span>${unfinished > 0 ? html` · <span class="c-unfinished"><strong>${unfinished}</strong> not finished</span>` : ''} · <span class="c-failed"><strong>${failed}</strong> failed attempt${failed === 1 ? '' : 's'}</span> <span class="muted">of ${total} task${total === 1 ? '' : 's'}</span></p>
</div>`;
}

function progress(j: JobModel): SafeHtml {
  return html`<div class="phases">${phaseBar('map', j.mapi, j.map, j.nrMap)}${phaseBar('reduce', j.redi, j.reduce, j.nrReduce)}</div>`;
}

/** Links of a URL: data on nodes over HTTP, tags to their DDFS page. */
function urlLink(url: string, discoPort: string): SafeHtml {
  const u = splitUrl(url);
  if (u.scheme === 'tag') {
    const name = u.path || u.host;
    return html`<a href="${tagHref(name.replace(/^.*@/, ''))}">${url}</a>`;
  }
  if (['dir', 'disco', 'http', 'https'].includes(u.scheme) && u.host) {
    return html`<a href="${resolveHttp(url, discoPort)}">${url}</a>`;
  }
  return html`<span>${url.length > 200 ? `${url.slice(0, 200)}…` : url}</span>`;
}

function results(j: JobModel, discoPort: string): SafeHtml {
  if (j.status === 'active') return html`<p class="muted">Results appear when the job has finished.</p>`;
  if (j.status === 'dead')
    return html`<p>No results: the job failed (see <a href="#why-failed">why</a>).</p>`;
  if (j.results.length === 0) return html`<p class="muted">The job finished without results.</p>`;
  return html`<ul class="results">${j.results.map((r) => html`<li>${urlLink(r, discoPort)}</li>`)}</ul>
<p class="muted">Read the records with <code>disco results ${j.name}</code>.</p>`;
}

function inputs(j: JobModel, discoPort: string): SafeHtml {
  const list = j.inputs.map(
    (i) =>
      html`<li>${typeof i === 'string' ? urlLink(i, discoPort) : html`replicas: ${i.map((r, k) => html`${k > 0 ? ', ' : ''}${urlLink(r, discoPort)}`)}`}</li>`,
  );
  return html`<details${j.nrInputs <= 10 ? ' open' : ''}><summary>${j.nrInputs} input${j.nrInputs === 1 ? '' : 's'}${j.nrInputs > j.inputs.length ? ` (first ${j.inputs.length} shown)` : ''}</summary>
<ol class="inputs">${list}</ol></details>`;
}

/** A task id that filters the events log to that task's messages. */
function taskLink(j: JobModel, mode: string, taskid: number): SafeHtml {
  const id = `${mode}:${taskid}`;
  return html`<a href="${jobHref(j.name, `events=${id}`)}#events" data-events-filter="${id}">${id}</a>`;
}

/** The input a map task reads (its first replica), when the job record has it. */
function inputOf(j: JobModel, mode: string, taskid: number): string | null {
  if (mode !== 'map' || !j.map) return null;
  // The record lists only the first 100 inputs; it keeps the failed task's own.
  const f = j.failedTask;
  const i = f?.mode === mode && f.taskid === taskid && f.input !== null ? f.input : j.inputs[taskid];
  if (i === undefined) return null;
  const url = typeof i === 'string' ? i : (i[0] ?? '');
  return url.length > 120 ? `${url.slice(0, 120)}…` : url;
}

function readsText(j: JobModel, mode: string, taskid: number): SafeHtml {
  const input = inputOf(j, mode, taskid);
  return input ? html`, reading <code>${input}</code>` : html``;
}

/**
 * The first line of an error, and the rest (its stack) one click away; `key` keeps the
 * disclosure open across live updates.
 */
function errorText(message: string, summary: string, key: string): SafeHtml {
  return html`<span class="fail-msg">${firstLine(message)}</span>${stackDetails(message, summary, key)}`;
}

/** The lines of an error after the first (its stack) in a disclosure; nothing if there are none. */
function stackDetails(message: string, summary: string, key: string): SafeHtml {
  const rest = message.slice(firstLine(message).length).replace(/^\n/, '');
  if (!rest) return html``;
  const lines = rest.split('\n').length;
  return html`<details class="trace" data-key="${key}"><summary>${summary} (${lines} more line${lines === 1 ? '' : 's'})</summary><pre>${rest}</pre></details>`;
}

function whyFailed(j: JobModel, failed: FailedAttempt | undefined): SafeHtml {
  const reason = j.reason ?? 'The events log does not say why.';
  if (reason === JOB_KILLED)
    return html`<section class="callout bad" id="why-failed" aria-labelledby="why-h"><h2 id="why-h">Why the job failed</h2>
<p><strong>The job was killed</strong> before it finished (with the Kill button, <code>disco kill</code> or the API). Tasks still running then are marked killed.</p></section>`;
  // The task history says more (attempt, last error); the job record survives without it.
  const culprit = failed ?? j.failedTask;
  const task = culprit
    ? html`<p>Failed task: ${taskLink(j, culprit.mode, culprit.taskid)}${failed ? ` (attempt ${failed.attempt + 1})` : ''}${culprit.node ? ` on ${culprit.node}` : ''}${readsText(j, culprit.mode, culprit.taskid)}.${
        failed && failed.outcome !== 'fatal' && failed.message
          ? html` Its last error: <span class="fail-msg">${firstLine(failed.message)}</span>`
          : ''
      }</p>`
    : '';
  return html`<section class="callout bad" id="why-failed" aria-labelledby="why-h"><h2 id="why-h">Why the job failed</h2>
<p class="reason"><span class="fail-msg">${firstLine(reason)}</span></p>
${task}
${stackDetails(reason, 'Show the full error', 'reason')}</section>`;
}

function attemptItem(j: JobModel, a: FailedAttempt): SafeHtml {
  const what = a.message
    ? html`<span class="fail-msg">${firstLine(a.message)}</span>`
    : html`<span class="fail-msg">${a.outcome === 'lost' ? 'the node stopped answering' : 'failed'}</span>`;
  const then = a.retriedOn
    ? html` → retried on ${a.retriedOn === a.node ? 'the same node' : a.retriedOn}${a.taskStatus === 'done' ? ', then done' : a.taskStatus === 'failed' ? ', still failing' : ''}`
    : a.outcome === 'fatal'
      ? html` → the job failed`
      : '';
  return html`<li>${taskLink(j, a.mode, a.taskid)} attempt ${a.attempt + 1} on ${a.node}: ${what}${then}</li>`;
}

function failedAttemptsView(j: JobModel, t: TasksModel): SafeHtml {
  const h = t.highlights;
  const retryable = h.failedAttempts.filter((a) => a.outcome !== 'fatal');
  const hidden = h.failedAttemptsTotal - h.failedAttempts.length;
  if (retryable.length === 0 && hidden <= 0) return html``;
  const n = h.failedAttemptsTotal;
  return html`<section class="callout warn" id="failed-attempts" aria-labelledby="retries-h"><h2 id="retries-h">Errors and retries</h2>
<p>${n} task attempt${n === 1 ? '' : 's'} failed. Data and I/O errors are retried, preferably on another node; any other error in the job's code fails the job.</p>
<ul class="failed-attempts">${retryable.map((a) => attemptItem(j, a))}</ul>
${hidden > 0 ? html`<p class="muted">${hidden} more: set the task table's status filter to “retried”.</p>` : ''}</section>`;
}

function slowestView(j: JobModel, s: SlowestTask): SafeHtml {
  const running = s.status === 'running';
  const compare =
    s.factor !== null && s.factor >= 1.05
      ? html` — <strong>${s.factor >= 10 ? Math.round(s.factor) : s.factor.toFixed(1)}×</strong> the median ${s.mode} task (${formatMs(s.medianMs)})`
      : html` (median ${s.mode} task: ${formatMs(s.medianMs)})`;
  return html`<p class="hint${s.straggler ? ' straggler' : ''}" id="slowest"><strong>${s.straggler ? 'Straggler' : 'Slowest task'}:</strong> ${taskLink(j, s.mode, s.taskid)}${s.node ? ` on ${s.node}` : ''} ${running ? 'has been running for' : 'took'} <strong>${formatMs(s.durationMs)}</strong>${compare}${readsText(j, s.mode, s.taskid)}.</p>`;
}

/** Answers first: why the job failed, which attempts failed, which task is slowest. */
function diagnosis(j: JobModel, t: TasksModel): SafeHtml {
  const h = t.highlights;
  const failed = [...h.failedAttempts].reverse().find((a) => a.taskStatus === 'failed');
  return html`${j.status === 'dead' ? whyFailed(j, failed) : ''}${h.slowest ? slowestView(j, h.slowest) : ''}${failedAttemptsView(j, t)}`;
}

const STATUS_FILTERS: [string, string][] = [
  ['', 'all'],
  ['waiting', 'waiting'],
  ['running', 'running'],
  ['done', 'done'],
  ['retrying', 'retrying'],
  ['retried', 'retried (more than one attempt)'],
  ['failed', 'failed'],
  ['killed', 'killed'],
  ['not run', 'not run'],
];

function tasksTable(j: JobModel, t: TasksModel, p: JobPageParams): SafeHtml {
  const start = t.offset;
  const pageSize = TASK_PAGE;
  const from = t.matched === 0 ? 0 : start + 1;
  const to = start + t.rows.length;
  const counts = Object.entries(t.counts)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  const slow = t.highlights.slowest;
  const rows = t.rows.map((r) => {
    const id = `${r.mode}:${r.taskid}`;
    const isSlowest = slow !== null && slow.mode === r.mode && slow.taskid === r.taskid;
    return html`<tr class="task ${r.status.replace(' ', '-')}${isSlowest ? ' slowest' : ''}" data-task="${id}">
  <td>${r.mode}</td><td class="num">${r.taskid}</td>
  <td><span class="task-status ${r.status.replace(' ', '-')}">${r.status}</span>${isSlowest ? html` <span class="badge slow-badge">slowest</span>` : ''}</td>
  <td class="num">${r.attempts}</td>
  <td>${r.node ?? '–'}</td>
  <td class="when">${timeEl(r.start)}</td>
  <td class="num">${formatMs(r.durationMs)}</td>
  <td class="msg">${r.message ? html`${r.status === 'failed' || r.status === 'retrying' ? '' : html`<span class="muted">earlier attempt: </span>`}${errorText(r.message, 'stack', id)}` : ''} <a href="${jobHref(j.name, query(p, { events: id }))}#events" data-events-filter="${id}">messages<span class="visually-hidden"> of ${id}</span></a></td>
</tr>`;
  });
  const prev =
    start > 0
      ? html`<a href="${jobHref(j.name, query(p, { tpage: Math.floor(start / pageSize) }))}#tasks">← previous</a>`
      : '';
  const next =
    to < t.matched
      ? html`<a href="${jobHref(j.name, query(p, { tpage: Math.floor(start / pageSize) + 2 }))}#tasks">next →</a>`
      : '';
  return html`<p class="muted">${t.total} tasks: ${counts || 'none yet'}. Showing ${from}–${to} of ${t.matched}.</p>
<table class="tasks">
<caption class="visually-hidden">Tasks of ${j.name}</caption>
<thead><tr><th scope="col">Phase</th><th scope="col" class="num">Task</th><th scope="col">Status</th><th scope="col" class="num">Attempts</th><th scope="col">Node</th><th scope="col">Started</th><th scope="col" class="num">Duration</th><th scope="col">Errors and messages</th></tr></thead>
<tbody>${rows}</tbody>
</table>
<p class="muted note">Duration: of the latest attempt, from its start on the node until the master heard it ended (worker start-up included, so it can exceed the time the node's <code>DONE</code> message reports).</p>
<nav class="pager" aria-label="Task pages">${prev} ${next}</nav>`;
}

function taskFilterForm(j: JobModel, p: JobPageParams): SafeHtml {
  const sel = (v: string, cur: string | undefined) => (v === (cur ?? '') ? html` selected` : '');
  return html`<form class="filter" method="get" action="${jobHref(j.name)}" data-live-filter="tasks">
  <label for="tphase">Phase</label>
  <select id="tphase" name="tphase"><option value=""${sel('', p.tasks.phase)}>all</option><option value="map"${sel('map', p.tasks.phase)}>map</option><option value="reduce"${sel('reduce', p.tasks.phase)}>reduce</option></select>
  <label for="tstatus">Status</label>
  <select id="tstatus" name="tstatus">${STATUS_FILTERS.map(([v, l]) => html`<option value="${v}"${sel(v, p.tasks.status)}>${l}</option>`)}</select>
  <label for="tsort">Order</label>
  <select id="tsort" name="tsort"><option value="id"${sel('id', p.tasks.sort)}>by task</option><option value="duration"${sel('duration', p.tasks.sort)}>longest first</option><option value="start"${sel('start', p.tasks.sort)}>by start</option></select>
  <noscript><button type="submit">Show</button></noscript>
</form>`;
}

/** Colour class of an event message (as the original UI: by prefix). */
function eventClass(msg: string): string {
  if (msg.startsWith('ERROR')) return 'ev-error';
  if (msg.startsWith('WARN')) return 'ev-warning';
  if (msg.startsWith('READY')) return 'ev-ready';
  return '';
}

function eventsTable(events: EventRow[], p: JobPageParams): SafeHtml {
  if (events.length === 0)
    return html`<p class="muted">${p.events ? 'No event matches the filter.' : 'No events yet.'}</p>`;
  return html`<p class="muted">Newest first; ${events.length} shown.</p>
<table class="events">
<caption class="visually-hidden">Job events, newest first</caption>
<thead><tr><th scope="col">Time</th><th scope="col">Host</th><th scope="col">Message</th></tr></thead>
<tbody>${events.map((e) => html`<tr class="${eventClass(e.message)}"><td class="when">${e.time}</td><td class="host">${e.host}</td><td class="msg"><pre>${e.message}</pre></td></tr>`)}</tbody>
</table>`;
}

function eventsForm(j: JobModel, p: JobPageParams): SafeHtml {
  return html`<form class="filter" method="get" action="${jobHref(j.name)}#events" data-live-filter="events">
  <label for="events-filter">Filter events</label>
  <input id="events-filter" name="events" type="search" value="${p.events}" placeholder="e.g. error, map:3, node name" autocomplete="off">
  <label for="events-num">Show</label>
  <select id="events-num" name="enum">${[100, 300, 1000].map((n) => html`<option value="${n}"${n === p.eventsNum ? html` selected` : ''}>${n}</option>`)}</select>
  <label class="check"><input type="checkbox" id="events-follow" checked> live tail</label>
  <noscript><button type="submit">Filter</button></noscript>
</form>`;
}

/** Most bars drawn on the timeline (the longest attempts when there are more). */
const MAX_BARS = 2000;

function timelineView(t: Timeline, j: JobModel, slow: SlowestTask | null): SafeHtml {
  if (t.bars.length === 0) return html`<p class="muted">No task has run yet.</p>`;
  const span = Math.max(1, t.end - t.start);
  const pct = (ms: number) => ((100 * ms) / span).toFixed(3);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map(
    (f) => html`<span class="tick" style="left:${(f * 100).toFixed(0)}%">${formatMs(f * span)}</span>`,
  );
  const drawn =
    t.bars.length > MAX_BARS
      ? [...t.bars].sort((a, b) => b.end - b.start - (a.end - a.start)).slice(0, MAX_BARS)
      : t.bars;
  const byNode = new Map<string, typeof t.bars>();
  for (const b of drawn) {
    let l = byNode.get(b.node);
    if (!l) byNode.set(b.node, (l = []));
    l.push(b);
  }
  const rows = t.nodes.map(({ node, lanes }) => {
    const bars = byNode.get(node) ?? [];
    const laneEls = [];
    for (let lane = 0; lane < lanes; lane++) {
      laneEls.push(
        html`<div class="lane" aria-hidden="true">${bars
          .filter((b) => b.lane === lane)
          .map(
            (b) =>
              html`<a class="tbar ${b.mode} ${b.outcome}${slow && slow.mode === b.mode && slow.taskid === b.taskid ? ' slowest' : ''}" tabindex="-1" href="${jobHref(j.name, `events=${b.mode}:${b.taskid}`)}#events" data-events-filter="${b.mode}:${b.taskid}" style="left:${pct(b.start - t.start)}%;width:max(2px,${pct(b.end - b.start)}%)" title="${b.mode}:${b.taskid} attempt ${b.attempt + 1} on ${node} (slot ${lane + 1}): ${formatMs(b.end - b.start)}, ${b.outcome}${slow && slow.mode === b.mode && slow.taskid === b.taskid ? ' (slowest task)' : ''}"></a>`,
          )}</div>`,
      );
    }
    return html`<div class="tl-node"><div class="tl-label" title="${node}">${node}<span class="muted"> · ${lanes} slot${lanes === 1 ? '' : 's'} used</span></div><div class="tl-lanes">${laneEls}</div></div>`;
  });
  return html`<div class="timeline" role="img" aria-label="Timeline of ${t.bars.length} task attempts on ${t.nodes.length} nodes over ${formatMs(span)}; the task table lists the same attempts">
  <div class="tl-axis"><div class="tl-label"></div><div class="tl-ticks">${ticks}</div></div>
  ${rows}
</div>
<p class="legend"><span class="swatch tb-map"></span> map <span class="swatch tb-reduce"></span> reduce <span class="swatch tb-running"></span> running <span class="swatch tb-failed"></span> failed <span class="swatch tb-killed"></span> killed${slow ? html` <span class="swatch tb-slowest"></span> slowest task` : ''}${t.bars.length > MAX_BARS ? ` · the ${MAX_BARS} longest of ${t.bars.length} attempts drawn` : ''}</p>`;
}

export interface JobPageData {
  job: JobModel;
  tasks: TasksModel;
  timeline: Timeline;
  events: EventRow[];
}

export function jobFragments(d: JobPageData, p: JobPageParams): Record<JobFragment, SafeHtml> {
  return {
    summary: summary(d.job),
    diagnosis: diagnosis(d.job, d.tasks),
    progress: progress(d.job),
    timeline: timelineView(d.timeline, d.job, d.tasks.highlights.slowest),
    tasks: tasksTable(d.job, d.tasks, p),
    events: eventsTable(d.events, p),
    results: results(d.job, p.discoPort),
  };
}

export function jobPage(version: string, d: JobPageData, p: JobPageParams): string {
  const f = jobFragments(d, p);
  const j = d.job;
  return page({
    title: j.name,
    nav: 'job',
    version,
    refreshMs: 2000,
    script: 'job.js',
    data: { job: j.name, live: j.status === 'active' ? 'true' : 'false' },
    body: html`<nav class="crumbs" aria-label="Breadcrumb"><a href="/">Status</a> › job</nav>
${fragment('summary', f.summary)}
${fragment('diagnosis', f.diagnosis)}
<section aria-labelledby="progress-h"><h2 id="progress-h">Progress</h2>${fragment('progress', f.progress)}</section>
<section aria-labelledby="results-h"><h2 id="results-h">Results</h2>${fragment('results', f.results)}</section>
<section aria-labelledby="timeline-h"><h2 id="timeline-h">Timeline</h2><p class="muted">One row per node and slot; each bar is a task attempt (click for its messages).</p>${fragment('timeline', f.timeline)}</section>
<section aria-labelledby="tasks-h" id="tasks"><h2 id="tasks-h">Tasks</h2>${taskFilterForm(j, p)}${fragment('tasks', f.tasks)}</section>
<section aria-labelledby="events-h" id="events"><h2 id="events-h">Events</h2>${eventsForm(j, p)}${fragment('events', f.events)}</section>
<section aria-labelledby="inputs-h"><h2 id="inputs-h">Inputs</h2>${inputs(j, p.discoPort)}</section>`,
  });
}

/** The page for a job the master does not know. */
export function unknownJobPage(version: string, name: string): string {
  return page({
    title: 'Unknown job',
    nav: 'job',
    version,
    body: html`<h1>Unknown job</h1><p>The master knows no job named <code>${name}</code>: it may have been purged. <a href="/">Back to the status page</a>.</p>`,
  });
}
