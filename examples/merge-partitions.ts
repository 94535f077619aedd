/**
 * Merged partitions — the data-flow guide's "Merge Partitioned Reduce": the map output is
 * partitioned (here 4 partitions, each already summed per map task by `sumCombiner`), but
 * `mergePartitions: true` hands every partition to a single reduce. That one reduce sees
 * every word, so it can rank them all: it emits the `params.top` most frequent words of the
 * whole input, which no per-partition reduce could do.
 *
 *     disco run examples/merge-partitions.ts examples/data/sample.txt --wait
 *     disco results @?TopWords
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Disco, Job, kvgroup, sum, sumCombiner } from '../src/index.js';

export interface TopParams {
  top: number;
}

/** Most frequent first; equal counts in alphabetical order (by UTF-16 code units). */
export function byCount(a: [string, number], b: [string, number]): number {
  return b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
}

export class TopWords extends Job {
  static module = import.meta.url;
  static partitions = 4;
  static combiner = sumCombiner;
  static mergePartitions = true;
  static sort = true;
  static params: TopParams = { top: 10 };

  static *map(line: string, _params: TopParams): Generator<[string, number]> {
    for (const word of line.toLowerCase().split(/[^\p{L}\p{N}']+/u)) if (word) yield [word, 1];
  }

  /** `[rank, [word, count]]` for the top words of everything (one reduce sees all partitions). */
  static *reduce(iter: Iterable<[string, number]>, params: TopParams): Generator<[number, [string, number]]> {
    const counts: [string, number][] = [];
    for (const [word, partial] of kvgroup(iter)) counts.push([word, sum(partial)]);
    counts.sort(byCount);
    for (let i = 0; i < Math.min(params.top, counts.length); i++) yield [i + 1, counts[i]];
  }
}

/** The sample text shipped with the examples. */
export const SAMPLE_TEXT = path.join(import.meta.dirname, 'data', 'sample.txt');

/** Rank the words of `inputs` (default: the sample text); print and return the top `top`. */
export async function main(
  inputs: string[] = [],
  opts: { master?: string | Disco; top?: number; out?: (line: string) => void } = {},
): Promise<{ name: string; top: [number, [string, number]][] }> {
  const out = opts.out ?? console.log;
  const input = (inputs.length > 0 ? inputs : [SAMPLE_TEXT]).map((i) =>
    /^\w+:\/\//.test(i) ? i : path.resolve(i),
  );
  const job = await new TopWords({ master: opts.master }).run({
    input,
    params: { top: opts.top ?? TopWords.params.top },
  });
  const top: [number, [string, number]][] = [];
  for await (const kv of job.resultIterator<number, [string, number]>(await job.wait())) top.push(kv);
  top.sort((a, b) => a[0] - b[0]);
  out(`${job.name}: the ${top.length} most frequent words`);
  for (const [rank, [word, count]] of top) out(`${String(rank).padStart(3)}. ${word} ${count}`);
  return { name: job.name, top };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  });
}
