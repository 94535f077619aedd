/**
 * Human-readable output of the command line: values of result records, aligned tables, and
 * the job information summary. JSON output (`--json`) bypasses these.
 *
 * @example
 * formatValue('word'); // 'word'
 * formatValue([1, 'a']); // '[1,"a"]'
 * table([['node', 'slots'], ['n1', '4']]); // 'node  slots\nn1    4'
 */
import type { JobInfo, NodeInfo } from '../client/disco.js';

/** JSON text that also accepts bigints (as strings) and byte arrays (as text). */
export function toJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) => {
    if (typeof x === 'bigint') return x.toString();
    if (x instanceof Map) return Object.fromEntries(x);
    if (x instanceof Set) return [...x];
    return x;
  });
}

/** A key or value for a `key TAB value` line: strings and bytes as text, anything else as JSON. */
export function formatValue(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8');
  if (v === undefined) return '';
  return toJson(v) ?? String(v);
}

/** Rows of cells as left-aligned columns separated by two spaces. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) {
    r.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, c.length);
    });
  }
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function counts(label: string, c: readonly number[] | undefined): string {
  const [w, r, d, f] = c ?? [0, 0, 0, 0];
  return `${label}: ${w} waiting, ${r} running, ${d} done, ${f} failed`;
}

/** A job's information as a short report. */
export function formatJobInfo(name: string, info: JobInfo): string {
  const rows: string[][] = [
    ['job', name],
    ['status', info.active],
    ['started', info.timestamp],
    ['owner', info.owner],
    ['worker', info.worker],
    ['map', counts('tasks', info.mapi).replace('tasks: ', '')],
  ];
  if (info.reduce) rows.push(['reduce', counts('tasks', info.redi).replace('tasks: ', '')]);
  if (info.hosts?.length) rows.push(['running on', [...new Set(info.hosts)].join(', ')]);
  rows.push(['inputs', String(info.inputs?.length ?? 0)]);
  const lines = [table(rows)];
  if (info.results?.length) {
    lines.push('results:');
    for (const r of info.results) lines.push(`  ${typeof r === 'string' ? r : toJson(r)}`);
  }
  return lines.join('\n');
}

/** The node table of `disco nodeinfo`. */
export function formatNodeInfo(nodes: Readonly<Record<string, NodeInfo>>): string {
  const rows: string[][] = [
    ['node', 'state', 'slots', 'running', 'ok', 'data errors', 'errors', 'disk free'],
  ];
  for (const [host, n] of Object.entries(nodes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const state = n.blacklisted ? 'blacklisted' : n.connected ? 'connected' : 'disconnected';
    rows.push([
      host,
      state,
      String(n.max_workers ?? 0),
      String(n.tasks?.length ?? 0),
      String(n.job_ok ?? 0),
      String(n.data_error ?? 0),
      String(n.error ?? 0),
      n.diskfree === undefined ? '-' : formatKiB(n.diskfree),
    ]);
  }
  return table(rows);
}

/** KiB (as `df -k` reports) in a short unit. */
export function formatKiB(kib: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = kib;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/** One result URL entry: a URL, or replica URLs joined by tabs (as the original prints them). */
export function formatResultUrl(r: string | readonly string[]): string {
  return typeof r === 'string' ? r : r.join('\t');
}
