/**
 * Chained jobs — the FAQ's "How do I pass the output of one map-reduce phase to another?":
 * ten jobs in a row, each reading the previous one's results (their `dir://` URLs) as its
 * input. The first job maps two `raw://0` inputs to `[1, '']`; each following job reads the
 * records of the previous results (`chainReader`) and adds one to the key, so the last
 * results are two tens.
 *
 * `main` runs the chain from code (the end-to-end tests call it); `disco run` submits one job.
 */
import { pathToFileURL } from 'node:url';
import { chainReader, type Disco, Job } from '../src/index.js';

export class FirstJob extends Job {
  static module = import.meta.url;
  static input = ['raw://0', 'raw://0'];

  static *map(line: string, _params: unknown): Generator<[number, string]> {
    yield [Number(line) + 1, ''];
  }
}

export class ChainJob extends Job {
  static module = import.meta.url;
  /** The inputs are results of an earlier job: records, not text. */
  static mapReader = chainReader;

  static *map([key, value]: [number, string], _params: unknown): Generator<[number, string]> {
    yield [Number(key) + 1, value];
  }
}

/** Run the chain of `length` jobs; print and return the last job's name and records. */
export async function main(
  opts: { master?: string | Disco; length?: number; out?: (line: string) => void } = {},
): Promise<{ name: string; records: [number, string][] }> {
  const out = opts.out ?? console.log;
  let last: Job = await new FirstJob({ master: opts.master }).run();
  for (let i = 1; i < (opts.length ?? 10); i++) {
    last = await new ChainJob({ master: opts.master }).run({ input: await last.wait() });
  }
  const records: [number, string][] = [];
  for await (const kv of last.resultIterator<number, string>(await last.wait())) records.push(kv);
  out(last.name);
  for (const [k, v] of records) out(`${k}\t${v}`);
  return { name: last.name, records };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  });
}
