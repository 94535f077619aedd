/**
 * A real job whose one reduce, with `sort: true`, gets BENCH_SORT_GB GiB of intermediate data
 * (default 2; e.g. 0.05 for a quick check): the record bytes as the sort holds and spills them
 * (MessagePack; 101-byte records: an 8-character key occurring about 4 times, a 90-character
 * value), made by 8 map tasks on one node with two slots. The sort buffer is BENCH_SORT_BUFFER
 * (default 16M; bytes or a size such as 64M).
 *
 * Reports the job's time (submit → results), the reduce's time (its attempt as the master
 * recorded it), the peak resident memory of the reduce's worker (`process.resourceUsage()
 * .maxRSS` taken by the reduce after its last record: the process's high-water mark), and what
 * the sort reported in its task event: runs, bytes spilled to disk (merge passes included),
 * merge passes. The reduce also checks that keys came in order and that none is missing.
 *
 * Usage: npm run build && node scripts/run-ts.mjs bench/sort-2g.ts
 * Writes bench/out/sort-2g.txt and bench/out/sort-2g.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../src/common/settings.js';
import { startCluster } from '../test/harness/cluster.js';
import { SortBig, type SortBigSummary } from './jobs.mjs';

const OUT = path.join(PACKAGE_ROOT, 'bench', 'out');
const GB = Number(process.env.BENCH_SORT_GB ?? 2);
const BUFFER = process.env.BENCH_SORT_BUFFER ?? '16M';
const INPUTS = 8;
const VALUE_CHARS = 90;
/** Key (fixstr header + 8) and value (str8 header + 90) in MessagePack. */
const RECORD_BYTES = 9 + 2 + VALUE_CHARS;
const DUP = 4;

interface Attempt {
  mode: 'map' | 'reduce';
  start: number;
  end: number | null;
  outcome: string;
}

/** The job's task attempts as the master recorded them (ms since the epoch). */
async function attempts(master: string, job: string): Promise<Attempt[]> {
  const r = await fetch(`${master}/disco/api/v1/jobs/${encodeURIComponent(job)}/attempts`);
  return ((await r.json()) as { attempts: Attempt[] }).attempts;
}

/** The job's event messages. */
async function eventMessages(master: string, job: string): Promise<string[]> {
  const text = await (await fetch(`${master}/disco/ctrl/rawevents?name=${encodeURIComponent(job)}`)).text();
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as [string, string, string])[2]);
}

async function main(): Promise<void> {
  const total = Math.round((GB * 2 ** 30) / RECORD_BYTES);
  const perInput = Math.ceil(total / INPUTS);
  const c = await startCluster({ nodes: 1, cores: 2 });
  let summary: SortBigSummary;
  let secs: number;
  let log: string[];
  let tasks: Attempt[];
  try {
    const t = performance.now();
    const job = await new SortBig({ master: c.master }).run({
      input: Array.from({ length: INPUTS }, (_, i) => `raw://${i}`),
      params: { perInput, total, dup: DUP, valueChars: VALUE_CHARS },
      sortBufferSize: BUFFER,
    });
    const results = await job.wait();
    const out: SortBigSummary[] = [];
    for await (const [, s] of job.resultIterator<string, SortBigSummary>(results)) out.push(s);
    secs = (performance.now() - t) / 1000;
    log = await eventMessages(c.master, job.name);
    tasks = await attempts(c.master, job.name);
    await job.purge();
    if (out.length !== 1) throw new Error(`expected one summary, got ${out.length}`);
    summary = out[0];
  } finally {
    await c.stop();
  }
  if (summary.records !== total) throw new Error(`the reduce got ${summary.records} records, not ${total}`);
  if (summary.outOfOrder !== 0) throw new Error(`${summary.outOfOrder} records came out of order`);
  const keys = Math.max(1, Math.floor(total / DUP));
  if (summary.groups !== keys) throw new Error(`${summary.groups} key groups, expected ${keys}`);

  const sorted = log.find((m) => /\[reduce:0\] Sorted \d+ entries/.test(m)) ?? '';
  const spilled = Number(/\((\d+) bytes\)/.exec(sorted)?.[1] ?? 0);
  const runs = Number(/(\d+) runs/.exec(sorted)?.[1] ?? 0);
  const passes = Number(/(\d+) merge passes/.exec(sorted)?.[1] ?? 0);
  const reduce = tasks.find((a) => a.mode === 'reduce' && a.outcome === 'done');
  const reduceSecs = reduce?.end ? (reduce.end - reduce.start) / 1000 : null;
  const data = total * RECORD_BYTES;
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
  const report = [
    `sort: true over ${mib(data)} of intermediate data (${(total / 1e6).toFixed(1)} M records of ${RECORD_BYTES} bytes), ` +
      `sort buffer ${BUFFER}, 1 node × 2 slots:`,
    `  job ${secs.toFixed(1)} s` +
      (reduceSecs !== null
        ? `, reduce ≈ ${reduceSecs.toFixed(0)} s (${mib(data / Math.max(1, reduceSecs))}/s)`
        : ''),
    `  reduce worker peak RSS ${mib(summary.maxRssKb * 1024)}`,
    `  sort: ${runs} runs, ${mib(spilled)} spilled to disk (${(spilled / data).toFixed(2)}× the data), ${passes} merge passes`,
  ];
  console.log(report.join('\n'));
  mkdirSync(OUT, { recursive: true });
  writeFileSync(path.join(OUT, 'sort-2g.txt'), `${new Date().toISOString()}\n${report.join('\n')}\n`);
  const figures = {
    dataBytes: data,
    records: total,
    sortBuffer: BUFFER,
    jobSecs: secs,
    reduceSecs,
    workerPeakRssBytes: summary.maxRssKb * 1024,
    runs,
    bytesSpilled: spilled,
    mergePasses: passes,
  };
  writeFileSync(path.join(OUT, 'sort-2g.json'), `${JSON.stringify(figures, null, 2)}\n`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exitCode = 1;
});
