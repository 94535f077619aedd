/**
 * Reduce-only join — the FAQ's "Do I always have to provide a function for map and
 * reduce?": "It is somewhat less typical to specify only the reduce function. This case arises
 * when you want to merge results from independent map jobs, or you want to join several
 * input files without going through the map phase."
 *
 * Two independent map-only jobs (`TagRows`) read one CSV file each and emit
 * `[key, [side, ...fields]]`, partitioned by key into 2 partitions. A third job (`JoinTagged`)
 * has no map: its inputs are the two jobs' results (`dir://` index files), so it runs one
 * reduce per partition, each reading that partition from both jobs — rows with equal keys
 * meet in the same reduce. With `sort: true` they arrive together; the reduce pairs every
 * row of side A with every row of side B (an inner join).
 *
 * `main` runs the three jobs (the end-to-end tests call it); `disco run` submits one job:
 *
 *     disco run examples/reduce-join.ts:TagRows -P 'params={"side":"A"}' "$PWD/examples/data/set_A.csv" --wait
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Disco, Job, kvgroup } from '../src/index.js';
import { parseCsvRow, SET_A, SET_B } from './join.js';

type Tagged = [side: string, ...fields: string[]];

/** Map-only: each CSV row becomes `[key, [side, ...other fields]]`, the side from `params`. */
export class TagRows extends Job {
  static module = import.meta.url;
  static partitions = 2;
  static params = { side: 'A' };

  static *map(line: string, params: { side: string }): Generator<[string, Tagged]> {
    const row = parseCsvRow(line);
    if (row.length > 0 && row[0] !== '') yield [row[0], [params.side, ...row.slice(1)]];
  }
}

/** Reduce-only: joins the tagged rows of equal keys (inputs: the `TagRows` jobs' results). */
export class JoinTagged extends Job {
  static module = import.meta.url;
  static sort = true;

  static *reduce(iter: Iterable<[string, Tagged]>, _params: unknown): Generator<[string, string[]]> {
    for (const [key, rows] of kvgroup(iter)) {
      const a: string[][] = [];
      const b: string[][] = [];
      for (const [side, ...fields] of rows) (side === 'A' ? a : b).push(fields);
      for (const left of a) for (const right of b) yield [key, [...left, ...right]];
    }
  }
}

/**
 * Join CSV files `a` and `b` on their first field: two map-only jobs, then the reduce-only
 * join; print the joined rows as CSV (sorted by key) and return them.
 */
export async function main(
  a: string = SET_A,
  b: string = SET_B,
  opts: { master?: string | Disco; out?: (line: string) => void } = {},
): Promise<{ names: string[]; rows: string[][] }> {
  const out = opts.out ?? console.log;
  const [left, right] = await Promise.all(
    [
      ['A', a],
      ['B', b],
    ].map(([side, file]) =>
      new TagRows({ master: opts.master }).run({ input: [path.resolve(file)], params: { side } }),
    ),
  );
  const join = await new JoinTagged({ master: opts.master }).run({
    input: [...(await left.wait()), ...(await right.wait())],
  });
  const rows: string[][] = [];
  for await (const [key, fields] of join.resultIterator<string, string[]>(await join.wait()))
    rows.push([key, ...fields]);
  rows.sort(
    (x, y) => Number(x[0]) - Number(y[0]) || (x.join() < y.join() ? -1 : x.join() > y.join() ? 1 : 0),
  );
  for (const r of rows)
    out(r.map((f) => (/^[\w.-]*$/.test(f) ? f : `"${f.replace(/"/g, '""')}"`)).join(', '));
  return { names: [left.name, right.name, join.name], rows };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [a, b] = process.argv.slice(2);
  main(a, b).catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  });
}
