/**
 * Custom partitioning — the tutorial's "experiment with custom partitioning": a word count
 * whose partition function, `partition(key, nrPartitions, params)`, sends each word to the
 * partition of its length class instead of a hash. With the default `params.bounds` of
 * `[2, 4, 7]` and 4 partitions: words of 1–2 letters go to partition 0, 3–4 to 1, 5–7 to 2,
 * longer ones to 3. Each reduce task (one per partition) then counts the words of one class,
 * and its output holds exactly those words.
 *
 * The reduce tags each count with its partition (`thisPartition()`), so `main` can show
 * which words went where.
 *
 *     disco run examples/custom-partition.ts examples/data/sample.txt --wait
 *     disco results @?WordsByLength | sort -t$'\t' -k2 | head
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Disco, Job, kvgroup, sum, thisPartition } from '../src/index.js';

/** Length classes: a word longer than `bounds[i-1]` and at most `bounds[i]` letters goes to partition `i`. */
export interface LengthParams {
  bounds: number[];
}

/** The partition of a word of `length` letters (pure: the worker and `main` both use it). */
export function lengthClass(length: number, bounds: readonly number[], nrPartitions: number): number {
  let i = 0;
  while (i < bounds.length && length > bounds[i]) i++;
  return Math.min(i, nrPartitions - 1);
}

/** The sample text shipped with the examples. */
export const SAMPLE_TEXT = path.join(import.meta.dirname, 'data', 'sample.txt');

export class WordsByLength extends Job {
  static module = import.meta.url;
  static partitions = 4;
  static params: LengthParams = { bounds: [2, 4, 7] };
  static sort = true;

  static *map(line: string, _params: LengthParams): Generator<[string, number]> {
    for (const word of line.toLowerCase().split(/[^\p{L}\p{N}']+/u)) if (word) yield [word, 1];
  }

  static partition(word: string, nrPartitions: number, params: LengthParams): number {
    return lengthClass([...word].length, params.bounds, nrPartitions);
  }

  static *reduce(
    iter: Iterable<[string, number]>,
    _params: LengthParams,
  ): Generator<[string, [number, number]]> {
    for (const [word, counts] of kvgroup(iter)) yield [word, [sum(counts), thisPartition()]];
  }
}

/** One partition's words, as `main` reports them. */
export interface LengthClass {
  partition: number;
  /** `[word, count]`, most frequent first (ties: alphabetical). */
  words: [string, number][];
}

/**
 * Count the words of `inputs` (default: the sample text) by length class; print each
 * partition's size and its most frequent words, and return the partitions.
 */
export async function main(
  inputs: string[] = [],
  opts: { master?: string | Disco; top?: number; out?: (line: string) => void } = {},
): Promise<{ name: string; classes: LengthClass[] }> {
  const out = opts.out ?? console.log;
  const input = (inputs.length > 0 ? inputs : [SAMPLE_TEXT]).map((i) =>
    /^\w+:\/\//.test(i) ? i : path.resolve(i),
  );
  const job = await new WordsByLength({ master: opts.master }).run({ input });
  const classes: LengthClass[] = Array.from({ length: WordsByLength.partitions }, (_, partition) => ({
    partition,
    words: [],
  }));
  for await (const [word, [count, p]] of job.resultIterator<string, [number, number]>(await job.wait()))
    classes[p].words.push([word, count]);
  const { bounds } = WordsByLength.params;
  out(`${job.name}: words by length, bounds ${bounds.join(', ')}`);
  for (const c of classes) {
    c.words.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const lo = c.partition === 0 ? 1 : bounds[c.partition - 1] + 1;
    const hi = c.partition < bounds.length ? String(bounds[c.partition]) : '';
    const top = c.words.slice(0, opts.top ?? 3).map(([w, n]) => `${w} ${n}`);
    out(`partition ${c.partition} (${lo}-${hi} letters): ${c.words.length} words; ${top.join(', ')}`);
  }
  return { name: job.name, classes };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  });
}
