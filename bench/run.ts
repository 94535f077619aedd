/**
 * Benchmarks (`npm run bench`). Each figure is printed next to a baseline measured in the same
 * run on the same machine, as a ratio:
 *
 * 1. trivial job latency: submit → results of a one-input map-only job on a warm cluster,
 *    against the cost of starting one Node.js process (what a task costs when every task
 *    spawns a process, as in the original);
 * 2. task throughput: a job of 2,000 raw:// inputs (BENCH_TASKS to change it, e.g. 20000 to
 *    check that the rate does not fall with the job's size), against one process start per
 *    task on every core;
 * 3. word count over a generated text (BENCH_WC_MB, default 500 MB) with 2 workers, against a
 *    single-process Node.js program running the same map/combine/reduce code on the same files;
 *    also the peak memory of the worker processes.
 *
 * Usage: npm run bench [-- trivial tasks wordcount]   (BENCH_WC_MB=100 for a quicker run)
 */
import { createReadStream, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../src/common/settings.js';
import { startCluster } from '../test/harness/cluster.js';
import { median, processStartMs } from './baselines.js';
import { Trivial, WordCount } from './jobs.mjs';
import { generateText } from './text.js';

const OUT = path.join(PACKAGE_ROOT, 'bench', 'out');
const which = new Set(process.argv.slice(2));
const want = (name: string) => which.size === 0 || which.has(name);
const report: string[] = [];

function line(text: string): void {
  console.log(text);
  report.push(text);
}

async function benchTrivial(cluster: string): Promise<void> {
  const times: number[] = [];
  for (let i = 0; i < 25; i++) {
    const t = performance.now();
    const job = await new Trivial({ master: cluster }).run({ input: [`raw://item-${i}`] });
    const results = await job.wait();
    let n = 0;
    for await (const _ of job.resultIterator(results)) n++;
    if (n !== 1) throw new Error(`trivial job returned ${n} records`);
    if (i >= 5) times.push(performance.now() - t); // the first runs warm the cluster
    await job.purge();
  }
  const ours = median(times);
  const base = processStartMs();
  line(
    `trivial job, submit → results: median ${ours.toFixed(1)} ms (target ≤ 100 ms); ` +
      `one process start: ${base.toFixed(1)} ms; ratio ${(ours / base).toFixed(2)}× a process start`,
  );
}

async function benchTasks(cluster: string): Promise<void> {
  const n = Number(process.env.BENCH_TASKS ?? 2000);
  const input = Array.from({ length: n }, (_, i) => `raw://${i}`);
  const t = performance.now();
  const job = await new Trivial({ master: cluster }).run({ input });
  const results = await job.wait();
  const ran = (performance.now() - t) / 1000;
  let count = 0;
  for await (const _ of job.resultIterator(results)) count++;
  const secs = (performance.now() - t) / 1000;
  console.log(`  (job ran in ${ran.toFixed(2)} s, reading ${n} results took ${(secs - ran).toFixed(2)} s)`);
  if (count !== n) throw new Error(`expected ${n} records, got ${count}`);
  await job.purge();
  const ours = n / secs;
  const spawnRate = (2 * 1000) / processStartMs();
  line(
    `${n.toLocaleString('en')} raw:// inputs, map only: ${secs.toFixed(2)} s, ${ours.toFixed(0)} tasks/s (target ≥ 500); ` +
      `one process per task on 2 cores: ${spawnRate.toFixed(0)} tasks/s; ratio ${(ours / spawnRate).toFixed(1)}×`,
  );
}

/** The baseline: one process, the same map, combiner semantics (a Map) and reduce. */
async function singleProcessWordCount(files: string[]): Promise<Map<string, number>> {
  const acc = new Map<string, number>();
  for (const f of files) {
    let rest = '';
    for await (const chunk of createReadStream(f, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) for (const [w, n] of WordCount.map(l)) acc.set(w, (acc.get(w) ?? 0) + n);
    }
    for (const [w, n] of WordCount.map(rest)) acc.set(w, (acc.get(w) ?? 0) + n);
  }
  const sortedPairs = [...acc].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out = new Map<string, number>();
  for (const [w, n] of WordCount.reduce(sortedPairs)) out.set(w, n);
  return out;
}

/**
 * Peak resident memory (VmHWM, KiB) of the live TypeScript worker processes started by the
 * processes `parents` (this cluster's nodes: other clusters on the machine are not counted).
 */
function workerPeakKb(parents: ReadonlySet<number>): number[] {
  const peaks: number[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes('worker.js') && !cmd.includes('disco-worker.mjs')) continue;
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const ppid = /PPid:\s+(\d+)/.exec(status);
      if (!ppid || !parents.has(Number(ppid[1]))) continue;
      const m = /VmHWM:\s+(\d+)/.exec(status);
      if (m) peaks.push(Number(m[1]));
    } catch {
      // The process ended while we looked.
    }
  }
  return peaks;
}

async function benchWordCount(cluster: string, nodePids: ReadonlySet<number>): Promise<void> {
  const mb = Number(process.env.BENCH_WC_MB ?? 500);
  const files = generateText(path.join(OUT, `text-${mb}mb`), mb, 8);
  const bytes = files.reduce((s, f) => s + statSync(f).size, 0);

  let t = performance.now();
  const want = await singleProcessWordCount(files);
  const baseSecs = (performance.now() - t) / 1000;

  t = performance.now();
  const job = await new WordCount({ master: cluster }).run({ input: files });
  const results = await job.wait();
  const got = new Map<string, number>();
  for await (const [w, n] of job.resultIterator<string, number>(results)) got.set(w, n);
  const ourSecs = (performance.now() - t) / 1000;
  const peaks = workerPeakKb(nodePids);
  await job.purge();
  if (got.size !== want.size || [...want].some(([w, n]) => got.get(w) !== n)) {
    throw new Error('word count results differ from the single-process baseline');
  }
  const mbs = (s: number) => (bytes / 1024 / 1024 / s).toFixed(1);
  line(
    `word count, ${(bytes / 1024 / 1024).toFixed(0)} MB, 2 workers: ${ourSecs.toFixed(1)} s (${mbs(ourSecs)} MB/s); ` +
      `single process: ${baseSecs.toFixed(1)} s (${mbs(baseSecs)} MB/s); speed-up ${(baseSecs / ourSecs).toFixed(2)}× (target ≥ 1.6×)`,
  );
  if (peaks.length > 0) {
    line(`  worker peak RSS: ${peaks.map((k) => `${(k / 1024).toFixed(0)} MB`).join(', ')}`);
  }
}

async function main(): Promise<void> {
  const cluster = await startCluster({ nodes: 1, cores: 2 });
  try {
    console.log(`cluster: master ${cluster.master}, 1 node with 2 slots; node ${process.version}`);
    if (want('trivial')) await benchTrivial(cluster.master);
    if (want('tasks')) await benchTasks(cluster.master);
    if (want('wordcount'))
      await benchWordCount(cluster.master, new Set(cluster.nodes.map((n) => n.proc.pid ?? -1)));
  } finally {
    await cluster.stop();
  }
  mkdirSync(OUT, { recursive: true });
  writeFileSync(path.join(OUT, 'last-run.txt'), `${new Date().toISOString()}\n${report.join('\n')}\n`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
