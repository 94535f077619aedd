/**
 * External programs (docs/external.md): the word-count map written in C against ext/disco.c
 * (examples/external/wordcount_map.c, run as `map: external([...])`) against the same map in
 * TypeScript, over the same generated text, on one node with 2 worker slots:
 *
 * 1. map only (2 partitions): input → map → partitioned outputs — what the choice of
 *    language changes;
 * 2. the whole word count (map, sort, a TypeScript reduce summing): both must give the same
 *    counts.
 *
 * Reports MB/s of input for both and the ratio C / TypeScript, to the console and to
 * bench/out/external.txt.
 *
 * Usage: node scripts/run-ts.mjs bench/external.ts [map] [wordcount]
 *        (BENCH_EXT_MB=20 for a quick run; default 500 MB)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../src/common/settings.js';
import { external, type Job } from '../src/index.js';
import { startCluster } from '../test/harness/cluster.js';
import { CountC, CountTs, WordsC, WordsTs } from './external-jobs.mjs';
import { generateText } from './text.js';

const OUT = path.join(PACKAGE_ROOT, 'bench', 'out');
const which = new Set(process.argv.slice(2));
const want = (name: string) => which.size === 0 || which.has(name);
const report: string[] = [];

function line(text: string): void {
  console.log(text);
  report.push(text);
}

/** Build the example's C map (examples/external/wordcount_map.c) with gcc -O2. */
function compileMap(out: string): string {
  const ext = path.join(PACKAGE_ROOT, 'ext');
  const src = path.join(PACKAGE_ROOT, 'examples', 'external', 'wordcount_map.c');
  execFileSync('gcc', ['-O2', '-Wall', '-I', ext, '-o', out, path.join(ext, 'disco.c'), src], {
    stdio: 'inherit',
  });
  return out;
}

/** Run a job to the end; seconds from submission to results, and the results. */
async function timed(
  job: Job,
  opts: Parameters<Job['run']>[0],
): Promise<{ secs: number; results: string[] }> {
  const t = performance.now();
  await job.run(opts);
  const results = await job.wait();
  return { secs: (performance.now() - t) / 1000, results };
}

async function counts(job: Job, results: string[]): Promise<Map<string, number>> {
  const m = new Map<string, number>();
  for await (const [w, n] of job.resultIterator<string, number>(results)) m.set(w, n);
  return m;
}

async function main(): Promise<void> {
  const mb = Number(process.env.BENCH_EXT_MB ?? 500);
  const files = generateText(path.join(OUT, `text-${mb}mb`), mb, 8);
  const bytes = files.reduce((s, f) => s + statSync(f).size, 0);
  const realMb = bytes / 1024 / 1024;
  mkdirSync(OUT, { recursive: true });
  const program = compileMap(path.join(OUT, 'wordcount-map'));
  const cmap = external([program]);
  const rate = (secs: number) => `${(realMb / secs).toFixed(1)} MB/s`;

  const cluster = await startCluster({ nodes: 1, cores: 2 });
  try {
    console.log(`cluster: master ${cluster.master}, 1 node with 2 slots; ${realMb.toFixed(0)} MB in 8 files`);
    if (want('map')) {
      const [tsJob, cJob] = [new WordsTs({ master: cluster.master }), new WordsC({ master: cluster.master })];
      const ts = await timed(tsJob, { input: files });
      await tsJob.purge();
      const c = await timed(cJob, { input: files, map: cmap });
      await cJob.purge();
      line(
        `word-count map only, ${realMb.toFixed(0)} MB, 2 workers: TypeScript ${ts.secs.toFixed(1)} s (${rate(ts.secs)}); ` +
          `external C ${c.secs.toFixed(1)} s (${rate(c.secs)}); C / TypeScript ${(ts.secs / c.secs).toFixed(2)}×`,
      );
    }
    if (want('wordcount')) {
      const tsJob = new CountTs({ master: cluster.master });
      const ts = await timed(tsJob, { input: files });
      const cJob = new CountC({ master: cluster.master });
      const c = await timed(cJob, { input: files, map: cmap });
      const [a, b] = [await counts(tsJob, ts.results), await counts(cJob, c.results)];
      if (a.size !== b.size || [...a].some(([w, n]) => b.get(w) !== n))
        throw new Error('the C and TypeScript word counts differ');
      line(
        `whole word count (map, sort, reduce), ${realMb.toFixed(0)} MB: TypeScript ${ts.secs.toFixed(1)} s ` +
          `(${rate(ts.secs)}); external C map ${c.secs.toFixed(1)} s (${rate(c.secs)}); ` +
          `C / TypeScript ${(ts.secs / c.secs).toFixed(2)}×; ${a.size} distinct words, equal counts`,
      );
      await Promise.all([tsJob.purge(), cJob.purge()]);
    }
  } finally {
    await cluster.stop();
  }
  mkdirSync(OUT, { recursive: true });
  writeFileSync(path.join(OUT, 'external.txt'), `${new Date().toISOString()}\n${report.join('\n')}\n`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
