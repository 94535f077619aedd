/**
 * Range partitioning — a total sort with ordered partitions. The map reads numbers; the
 * partition function from `makeRangePartition(0, 999)` sends each number to the partition
 * of its range (with 4 partitions: 0–249, 250–499, 500–749, 750–999), and `sort: true`
 * sorts each partition. So every partition holds one range, in order, and reading the
 * partitions one after the other reads all the numbers sorted — no partition sees them all.
 *
 * The reduce tags each number with its partition (`thisPartition()`), so `main` can show
 * which range went where.
 *
 *     disco run examples/range-partition.ts:RangeSort raw://17\ 512\ 999 raw://3\ 250 --wait
 *     disco results @?RangeSort
 */
import { pathToFileURL } from 'node:url';
import { type Disco, Job, makeRangePartition, thisPartition } from '../src/index.js';

/** The range of the keys. */
export const MIN = 0;
export const MAX = 999;

export class RangeSort extends Job {
  static module = import.meta.url;
  static partitions = 4;
  static partition = makeRangePartition(MIN, MAX);
  static sort = true;

  static *map(line: string): Generator<[number, null]> {
    for (const word of line.split(/\s+/)) if (word) yield [Number(word), null];
  }

  static *reduce(iter: Iterable<[number, null]>): Generator<[number, number]> {
    for (const [n] of iter) yield [n, thisPartition()];
  }
}

/**
 * `count` numbers in `[MIN, MAX]`, from a seeded generator (the same every run), spread
 * over `inputs` lines of text.
 */
export function sampleNumbers(count = 200, inputs = 5, seed = 42): string[] {
  let s = seed >>> 0;
  const next = () => {
    // xorshift32: small and deterministic, enough to shuffle sample data.
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
  const lines: string[][] = Array.from({ length: inputs }, () => []);
  for (let i = 0; i < count; i++) lines[i % inputs].push(String(MIN + (next() % (MAX - MIN + 1))));
  return lines.map((l) => l.join(' '));
}

/** Run the sort over `lines` (default: {@link sampleNumbers}); print and return each partition's numbers. */
export async function main(
  opts: { master?: string | Disco; lines?: string[]; out?: (line: string) => void } = {},
): Promise<{ name: string; partitions: number[][] }> {
  const out = opts.out ?? console.log;
  const lines = opts.lines ?? sampleNumbers();
  const job = await new RangeSort({ master: opts.master }).run({ input: lines.map((l) => `raw://${l}`) });
  const partitions: number[][] = Array.from({ length: RangeSort.partitions }, () => []);
  for await (const [n, p] of job.resultIterator<number, number>(await job.wait())) partitions[p].push(n);
  partitions.forEach((nums, p) => {
    out(
      `partition ${p}: ${nums.length} numbers, ${nums.length ? `${nums[0]}…${nums[nums.length - 1]}` : 'none'}`,
    );
  });
  return { name: job.name, partitions };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  });
}
