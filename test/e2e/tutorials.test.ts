/**
 * The tutorial examples as tests: each example's `main` runs on a real 2-node cluster, and
 * what it prints is compared line by line with the output computed here, from the same
 * input data, without Disco.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { main as customPartition, SAMPLE_TEXT } from '../../examples/custom-partition.js';
import { parseCsvRow, SET_A, SET_B } from '../../examples/join.js';
import { main as mergePartitions } from '../../examples/merge-partitions.js';
import { main as reduceJoin } from '../../examples/reduce-join.js';
import { main as combinerCount } from '../../examples/wordcount-combiner.js';
import { PACKAGE_ROOT } from '../../src/common/settings.js';
import { Disco } from '../../src/index.js';
import { type Cluster, startCluster } from '../harness/cluster.js';

let c: Cluster;
let disco: Disco;
beforeAll(async () => {
  c = await startCluster({ nodes: 2, cores: 2 });
  disco = new Disco(c.master);
});
afterAll(async () => {
  await c?.stop();
});

const sample = readFileSync(SAMPLE_TEXT, 'utf8');

function count(words: Iterable<string>): Map<string, number> {
  const m = new Map<string, number>();
  for (const w of words) m.set(w, (m.get(w) ?? 0) + 1);
  return m;
}

/** Most frequent first, then by code units (the examples' order). */
function ranked(m: Map<string, number>): [string, number][] {
  return [...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** Lowercased words: runs of letters, digits and apostrophes. */
function lowerWords(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [];
}

test('custom partitioning: each length class in its own partition', async () => {
  const lines: string[] = [];
  const { name } = await customPartition([], { master: disco, out: (l) => lines.push(l) });
  // Bounds 2, 4, 7: 1-2 letters, 3-4, 5-7, 8 and more.
  const classOf = (w: string) => {
    const n = [...w].length;
    return n <= 2 ? 0 : n <= 4 ? 1 : n <= 7 ? 2 : 3;
  };
  const counts = count(lowerWords(sample));
  const want = [`${name}: words by length, bounds 2, 4, 7`];
  const labels = ['1-2', '3-4', '5-7', '8-'];
  for (let p = 0; p < 4; p++) {
    const words = ranked(new Map([...counts].filter(([w]) => classOf(w) === p)));
    const top = words.slice(0, 3).map(([w, n]) => `${w} ${n}`);
    want.push(`partition ${p} (${labels[p]} letters): ${words.length} words; ${top.join(', ')}`);
  }
  expect(lines).toEqual(want);
  // Every class is populated: a partition function that sent everything to one partition fails.
  for (const l of want.slice(1)) expect(l).not.toMatch(/: 0 words/);
});

test('word count with sumCombiner: same counts, the reduce reads one record per word and map task', async () => {
  const raw = 'the cat and the hat\nthe end';
  const lines: string[] = [];
  const { name } = await combinerCount([SAMPLE_TEXT, `raw://${raw}`], {
    master: disco,
    out: (l) => lines.push(l),
  });
  const words = (t: string) => t.split(/\s+/).filter(Boolean);
  const all = count([...words(sample), ...words(raw)]);
  const total = [...all.values()].reduce((a, b) => a + b, 0);
  // Each map task (one per input) sends one partial sum per distinct word it saw.
  const records = count(words(sample)).size + count(words(raw)).size;
  expect(records).toBeLessThan(total);
  expect(lines).toEqual([
    `${name}: ${total} words, ${all.size} distinct; the reduce read ${records} records`,
    ...ranked(all)
      .slice(0, 10)
      .map(([w, n]) => `${String(n).padStart(6)}  ${w}`),
  ]);
});

test('reduce-only join of two map-only jobs', async () => {
  const lines: string[] = [];
  const { names } = await reduceJoin(SET_A, SET_B, { master: disco, out: (l) => lines.push(l) });
  const table = (f: string) => readFileSync(f, 'utf8').split('\n').filter(Boolean).map(parseCsvRow);
  const b = new Map(table(SET_B).map((r) => [r[0], r.slice(1)]));
  const quote = (f: string) => (/^[\w.-]*$/.test(f) ? f : `"${f.replace(/"/g, '""')}"`);
  const want = table(SET_A)
    .filter((r) => b.has(r[0]))
    .sort((x, y) => Number(x[0]) - Number(y[0]))
    .map((r) => [r[0], ...r.slice(1), ...(b.get(r[0]) ?? [])].map(quote).join(', '));
  expect(want.length).toBeGreaterThan(0);
  expect(lines).toEqual(want);
  // The join ran no map, and one reduce per partition of the map-only jobs.
  const info = await disco.jobinfo(names[2]);
  expect(info.mapi).toEqual([0, 0, 0, 0]);
  expect(info.redi).toEqual([0, 0, 2, 0]);
});

test('mergePartitions: one reduce ranks the words of every partition', async () => {
  const lines: string[] = [];
  const { name } = await mergePartitions([], { master: disco, top: 8, out: (l) => lines.push(l) });
  const top = ranked(count(lowerWords(sample))).slice(0, 8);
  expect(lines).toEqual([
    `${name}: the 8 most frequent words`,
    ...top.map(([w, n], i) => `${String(i + 1).padStart(3)}. ${w} ${n}`),
  ]);
  const info = await disco.jobinfo(name);
  expect(info.redi).toEqual([0, 0, 1, 0]);
});

test('disco run submits a tutorial job module with its default params', async () => {
  const env = { ...process.env, ...c.env, DISCO_ROOT: path.join(c.root, 'cli') };
  const bin = path.join(PACKAGE_ROOT, 'bin', 'disco');
  const run = promisify(execFile);
  const text = 'a bb ccc dddd eeeee ffffffff a';
  await run(bin, ['run', 'examples/custom-partition.ts', `raw://${text}`, '--wait'], {
    env,
    cwd: PACKAGE_ROOT,
  });
  const res = await run(bin, ['results', '@?WordsByLength'], { env, cwd: PACKAGE_ROOT });
  const got = res.stdout
    .trim()
    .split('\n')
    .map((l) => l.split('\t'))
    .sort();
  expect(got).toEqual(
    [
      ['a', '[2,0]'],
      ['bb', '[1,0]'],
      ['ccc', '[1,1]'],
      ['dddd', '[1,1]'],
      ['eeeee', '[1,2]'],
      ['ffffffff', '[1,3]'],
    ].sort(),
  );
});
