/**
 * Word count — the first job of the Disco tutorial: map splits each line into words and
 * emits `[word, 1]`; reduce groups equal words (`kvgroup` over the sorted pairs) and sums.
 *
 * Submit it to a running cluster (inputs are URLs, or paths that exist on the nodes):
 *
 *     disco run examples/wordcount.ts examples/data/sample.txt --wait
 *     disco results @?WordCount | sort -t$'\t' -k2 -n | tail
 *
 * or call `main` from code (as the end-to-end tests do), which submits the job,
 * follows its events, and prints the most frequent words.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Disco, Job, kvgroup, sorted, sum } from '../src/index.js';

export class WordCount extends Job {
  /** Job functions are sent to the workers as exports of this module. */
  static module = import.meta.url;

  /** A line of text: read from a text file, or a `[line, null]` record of `ddfs chunk`. */
  static *map(entry: string | [string, unknown], _params: unknown): Generator<[string, number]> {
    const line = typeof entry === 'string' ? entry : String(entry[0]);
    for (const word of line.split(/\s+/)) if (word) yield [word, 1];
  }

  static *reduce(iter: Iterable<[string, number]>, _params: unknown): Generator<[string, number]> {
    for (const [word, counts] of kvgroup(sorted(iter))) yield [word, sum(counts)];
  }
}

/** The sample text shipped with the examples. */
export const SAMPLE_TEXT = path.join(import.meta.dirname, 'data', 'sample.txt');

/** Count the words of `inputs` (default: the sample text); print and return the top `top`. */
export async function main(
  inputs: string[] = [],
  opts: { master?: string | Disco; top?: number; show?: boolean; out?: (line: string) => void } = {},
): Promise<[string, number][]> {
  const out = opts.out ?? console.log;
  const input = (inputs.length > 0 ? inputs : [SAMPLE_TEXT]).map((i) =>
    /^\w+:\/\//.test(i) ? i : path.resolve(i),
  );
  const job = await new WordCount({ master: opts.master }).run({ input });
  const counts: [string, number][] = [];
  for await (const [word, count] of job.resultIterator<string, number>(
    await job.wait({ show: opts.show ?? true }),
  )) {
    counts.push([word, count]);
  }
  counts.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const top = counts.slice(0, opts.top ?? 10);
  out(`${job.name}: ${counts.length} distinct words`);
  for (const [word, count] of top) out(`${String(count).padStart(6)}  ${word}`);
  return top;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  });
}
