/**
 * Word count with a combiner — the tutorial's closing suggestion, "You could try using
 * `sumCombiner`, to make the job more efficient". The combiner adds up the counts of each
 * word inside every map task (one running sum per word and partition) before anything is
 * written, so each map task sends one `[word, n]` per distinct word instead of one
 * `[word, 1]` per occurrence; the reduce adds up those partial sums exactly as before.
 *
 *     disco run examples/wordcount-combiner.ts examples/data/sample.txt --wait
 *     disco results @?CombinedWordCount | sort -t$'\t' -k2 -n | tail
 *
 * `main` prints the most frequent words and how many records the reduce read: with the
 * combiner that is the number of distinct words per map task, not the number of words.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Disco, Job, kvgroup, sorted, sum, sumCombiner } from '../src/index.js';

export class CombinedWordCount extends Job {
  static module = import.meta.url;
  static combiner = sumCombiner;

  static *map(line: string, _params: unknown): Generator<[string, number]> {
    for (const word of line.split(/\s+/)) if (word) yield [word, 1];
  }

  static *reduce(iter: Iterable<[string, number]>, _params: unknown): Generator<[string, number]> {
    for (const [word, counts] of kvgroup(sorted(iter))) yield [word, sum(counts)];
  }
}

/** The sample text shipped with the examples. */
export const SAMPLE_TEXT = path.join(import.meta.dirname, 'data', 'sample.txt');

/** Count the words of `inputs` (default: the sample text); print the top `top` and the reduce's input size. */
export async function main(
  inputs: string[] = [],
  opts: { master?: string | Disco; top?: number; out?: (line: string) => void } = {},
): Promise<{ name: string; counts: [string, number][]; reduceInput: number }> {
  const out = opts.out ?? console.log;
  const input = (inputs.length > 0 ? inputs : [SAMPLE_TEXT]).map((i) =>
    /^\w+:\/\//.test(i) ? i : path.resolve(i),
  );
  const job = await new CombinedWordCount({ master: opts.master }).run({ input });
  const counts: [string, number][] = [];
  for await (const kv of job.resultIterator<string, number>(await job.wait())) counts.push(kv);
  counts.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  // The reduce reports how many records it read ("Done: N entries reduced").
  let reduceInput = 0;
  for await (const ev of job.events())
    reduceInput += Number(/Done: (\d+) entries reduced/.exec(ev.message)?.[1] ?? 0);
  const total = counts.reduce((n, [, c]) => n + c, 0);
  out(`${job.name}: ${total} words, ${counts.length} distinct; the reduce read ${reduceInput} records`);
  for (const [word, count] of counts.slice(0, opts.top ?? 10)) out(`${String(count).padStart(6)}  ${word}`);
  return { name: job.name, counts, reduceInput };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  });
}
