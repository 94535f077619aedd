/**
 * Benchmark of the reduce side of `sort: true`: a reduce task (kvgroup + sum, as in the word
 * count) over record files holding BENCH_SORT_RECORDS records (default 10 million; string keys,
 * BENCH_SORT_KEYS distinct, default 1 million; small integer values), with a sort buffer of
 * BENCH_SORT_BUFFER bytes (default 16 MiB). With BENCH_SORT_BINARY=1 keys and values are
 * Buffers instead (the UTF-8 of the word and of the count), as an external program's map
 * outputs. With BENCH_SORT_SHAPE=sortbig the records are those of bench/sort-2g.ts's job instead
 * (8-hex-digit keys occurring 4 times, 90-character string values; BENCH_SORT_KEYS ignored) and
 * the reduce only counts records and checks their order, as that job's does: the sort's own cost.
 * Runs the worker's own reduce machinery in a fresh process and reports its time, CPU
 * time, peak RSS, runs and bytes spilled.
 *
 * Usage: node scripts/run-ts.mjs bench/sort.ts
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../src/common/settings.js';
import { RecordWriter } from '../src/protocol/record-stream.js';
import { kvgroup, sum } from '../src/worker/func.js';
import { runReduce } from '../src/worker/reduce.js';
import { inProcessRun } from '../test/unit/worker/task-run-fixture.js';

const RECORDS = Number(process.env.BENCH_SORT_RECORDS ?? 10_000_000);
const KEYS = Number(process.env.BENCH_SORT_KEYS ?? 1_000_000);
const BUFFER = Number(process.env.BENCH_SORT_BUFFER ?? 16 << 20);
const BINARY = process.env.BENCH_SORT_BINARY === '1';
const SORTBIG = process.env.BENCH_SORT_SHAPE === 'sortbig';
const FILES = 4;
const DIR = path.join(
  PACKAGE_ROOT,
  'bench',
  'out',
  SORTBIG ? `sort-sortbig-${RECORDS}` : `sort-${RECORDS}-${KEYS}${BINARY ? '-binary' : ''}`,
);

/** The records of bench/jobs.mjs's SortBig map (its `dup` 4, `valueChars` 90), `g` in [0, total). */
function sortBigRecords(): (g: number) => [string, string] {
  const valueChars = 90;
  let seed = 12345;
  let text = '';
  while (text.length < 4096 + valueChars) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    text += (seed >>> 8).toString(36);
  }
  const space = Math.max(1, Math.floor(RECORDS / 4));
  return (g) => {
    const key = (Math.imul(g % space, 2654435761) >>> 0).toString(16).padStart(8, '0');
    const id = g.toString(36).padStart(8, '0');
    const at = Math.imul(g, 7919) & 4095;
    return [key, id + text.slice(at, at + valueChars - 8)];
  };
}

/** Map-output-like files: compressed record streams of [word, count]. */
function generate(): void {
  if (existsSync(DIR) && readdirSync(DIR).length === FILES) return;
  mkdirSync(DIR, { recursive: true });
  let seed = 7;
  const rnd = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 4294967296;
  };
  const sortBig = sortBigRecords();
  const vocab: string[] = [];
  if (!SORTBIG)
    for (let i = 0; i < KEYS; i++) vocab.push(`k${Math.floor(rnd() * 1e12).toString(36)}${i.toString(36)}`);
  for (let f = 0; f < FILES; f++) {
    const fd = openSync(path.join(DIR, `in-${f}`), 'w');
    const w = new RecordWriter((h) => {
      writeSync(fd, h);
    });
    for (let i = 0; i < RECORDS / FILES; i++) {
      if (SORTBIG) {
        const [k, v] = sortBig(f * (RECORDS / FILES) + i);
        w.write(k, v);
        continue;
      }
      const [word, count] = [vocab[Math.floor(rnd() * KEYS)], 1 + (i & 3)];
      if (BINARY) w.write(Buffer.from(word), Buffer.from(String(count)));
      else w.write(word, count);
    }
    w.close();
    closeSync(fd);
  }
}

/** The word count's reduce (kvgroup + sum) over the files, with `sort: true`. */
function reduceRun(inputs: string[]): ReturnType<typeof inProcessRun> {
  const reduce = function* (iter: Iterable<[string, number]>) {
    for (const [w, counts] of kvgroup(iter)) yield [w, sum(counts)];
  };
  const reduceBinary = function* (iter: Iterable<[Buffer, Buffer]>) {
    for (const [w, counts] of kvgroup(iter)) {
      let n = 0;
      for (const c of counts) n += Number(c.toString());
      yield [w.toString(), n];
    }
  };
  // SortBig's reduce: count and check the order.
  const reduceCount = function* (iter: Iterable<[string, unknown]>) {
    let records = 0;
    let outOfOrder = 0;
    let prev: string | null = null;
    for (const [k] of iter) {
      records++;
      if (prev !== null && k < prev) outOfOrder++;
      prev = k;
    }
    yield ['summary', { records, outOfOrder }];
  };
  const fn = SORTBIG ? reduceCount : BINARY ? reduceBinary : reduce;
  return inProcessRun('reduce', { reduce: fn as never }, inputs, {
    sort: true,
    sortBufferSize: BUFFER,
    statusInterval: 0,
  });
}

/** The measured part, in its own process (so that its peak RSS is its own). */
function child(): void {
  const inputs = readdirSync(DIR).map((f) => `file://${path.join(DIR, f)}`);
  const run = reduceRun(inputs);
  const cpu0 = process.cpuUsage();
  const t = performance.now();
  runReduce(run);
  run.outputs.closeAll();
  const secs = (performance.now() - t) / 1000;
  const cpu = process.cpuUsage(cpu0);
  rmSync(path.dirname(run.jobhome), { recursive: true, force: true });
  process.stdout.write(
    JSON.stringify({
      secs,
      cpu: (cpu.user + cpu.system) / 1e6,
      rssMb: process.resourceUsage().maxRSS / 1024,
      sorted: run.msgs.find((m) => m.startsWith('Sorted')) ?? 'no spill',
    }),
  );
}

function main(): void {
  generate();
  const out = execFileSync(process.execPath, [process.argv[1], '--child'], { encoding: 'utf8' });
  const r = JSON.parse(out) as { secs: number; cpu: number; rssMb: number; sorted: string };
  const mb = (n: number) => (n / 1024 / 1024).toFixed(0);
  console.log(
    `reduce with sort, ${(RECORDS / 1e6).toFixed(1)} M records (${(KEYS / 1e6).toFixed(1)} M ` +
      `${SORTBIG ? 'sortbig ' : BINARY ? 'binary ' : ''}keys), ` +
      `sort buffer ${mb(BUFFER)} MiB: ${r.secs.toFixed(1)} s (${(RECORDS / r.secs / 1000).toFixed(0)}k records/s), ` +
      `CPU ${r.cpu.toFixed(1)} s, peak RSS ${r.rssMb.toFixed(0)} MB; ${r.sorted}`,
  );
}

if (process.argv.includes('--child')) child();
else main();
