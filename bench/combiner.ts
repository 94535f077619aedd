/**
 * What the combiner saves: the word count of bench/jobs.mjs with `sumCombiner` against the
 * same job without a combiner, on the same generated text (BENCH_COMBINER_MB, default 200 MB;
 * e.g. 20 for a quick check), on one node with two slots. Both must give the same counts.
 *
 * Figures, each as a ratio without/with the combiner:
 * - bytes shuffled: the map outputs (record streams, zlib-compressed as the worker writes them),
 *   measured as the partition files the node's shuffle built (every map output is appended to
 *   one of them exactly once) — and cross-checked against the node's
 *   `disco_node_shuffle_bytes_total` counter;
 * - time: submit → every result read.
 *
 * Usage: npm run build && node scripts/run-ts.mjs bench/combiner.ts
 * Writes bench/out/combiner.txt and bench/out/combiner.json.
 */
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../src/common/settings.js';
import type { Job } from '../src/index.js';
import { hexHash } from '../src/protocol/names.js';
import { type Cluster, startCluster } from '../test/harness/cluster.js';
import { parsePrometheus, sampleValue } from '../test/harness/prometheus.js';
import { WordCount, WordCountNoCombiner } from './jobs.mjs';
import { generateText } from './text.js';

const OUT = path.join(PACKAGE_ROOT, 'bench', 'out');
const MB = Number(process.env.BENCH_COMBINER_MB ?? 200);

interface Run {
  secs: number;
  /** Bytes of the partition files of the job (the shuffled map outputs). */
  shuffledBytes: number;
  /** The node's `disco_node_shuffle_bytes_total` increase over the job. */
  shuffleCounter: number;
  counts: Map<string, number>;
}

/** Sizes of the files under the job's `.disco/partitions-*` directories on node `n`. */
function partitionBytes(c: Cluster, n: number, job: string): number {
  const host = c.nodes[n].host;
  const home = path.join(c.nodes[n].root, 'data', host, hexHash(job), job, '.disco');
  let total = 0;
  for (const d of readdirSync(home).filter((x) => x.startsWith('partitions-')))
    for (const f of readdirSync(path.join(home, d))) total += statSync(path.join(home, d, f)).size;
  return total;
}

/** The node's shuffle byte counter (summed over its labels). */
async function shuffleCounter(c: Cluster, n: number): Promise<number> {
  const text = await (await fetch(`http://${c.nodes[n].host}:${c.port}/metrics`)).text();
  return sampleValue(parsePrometheus(text), 'disco_node_shuffle_bytes_total') ?? 0;
}

async function run(c: Cluster, JobClass: typeof WordCount, files: string[]): Promise<Run> {
  const before = await shuffleCounter(c, 0);
  const t = performance.now();
  const job: Job = await new JobClass({ master: c.master }).run({ input: files });
  const results = await job.wait();
  const counts = new Map<string, number>();
  for await (const [w, n] of job.resultIterator<string, number>(results)) counts.set(w, n);
  const secs = (performance.now() - t) / 1000;
  const shuffledBytes = partitionBytes(c, 0, job.name);
  const shuffleCounted = (await shuffleCounter(c, 0)) - before;
  await job.purge();
  return { secs, shuffledBytes, shuffleCounter: shuffleCounted, counts };
}

function same(a: Map<string, number>, b: Map<string, number>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

async function main(): Promise<void> {
  const files = generateText(path.join(OUT, `text-${MB}mb`), MB, 8);
  const bytes = files.reduce((s, f) => s + statSync(f).size, 0);
  const c = await startCluster({ nodes: 1, cores: 2 });
  let withC: Run;
  let without: Run;
  try {
    withC = await run(c, WordCount, files);
    without = await run(c, WordCountNoCombiner, files);
  } finally {
    await c.stop();
  }
  if (!same(withC.counts, without.counts)) throw new Error('the two jobs counted different words');
  for (const r of [withC, without])
    if (r.shuffleCounter !== r.shuffledBytes)
      throw new Error(`shuffle counter ${r.shuffleCounter} ≠ partition files ${r.shuffledBytes} bytes`);
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  const report = [
    `word count of ${mib(bytes)} of text (${withC.counts.size.toLocaleString('en')} distinct words), 1 node × 2 slots:`,
    `  with sumCombiner:  ${withC.secs.toFixed(1)} s, ${mib(withC.shuffledBytes)} shuffled`,
    `  without combiner:  ${without.secs.toFixed(1)} s, ${mib(without.shuffledBytes)} shuffled`,
    `  ratio without/with: bytes shuffled ${(without.shuffledBytes / withC.shuffledBytes).toFixed(1)}×, ` +
      `time ${(without.secs / withC.secs).toFixed(2)}×`,
  ];
  console.log(report.join('\n'));
  writeFileSync(path.join(OUT, 'combiner.txt'), `${new Date().toISOString()}\n${report.join('\n')}\n`);
  const figures = {
    textBytes: bytes,
    distinctWords: withC.counts.size,
    withCombiner: { secs: withC.secs, shuffledBytes: withC.shuffledBytes },
    withoutCombiner: { secs: without.secs, shuffledBytes: without.shuffledBytes },
    shuffledRatio: without.shuffledBytes / withC.shuffledBytes,
    timeRatio: without.secs / withC.secs,
  };
  writeFileSync(path.join(OUT, 'combiner.json'), `${JSON.stringify(figures, null, 2)}\n`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exitCode = 1;
});
