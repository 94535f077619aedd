/**
 * Inner join — the extended tutorial's `CsvInnerJoiner`: both CSV files are one input
 * stream; map emits `[key, rest of the row]`; with `sort: true` the framework sorts the
 * reduce inputs, so rows with equal keys arrive together, and reduce keeps the keys that
 * have more than one row, merging their fields. Two partitions run two reduces.
 *
 *     disco run examples/join.ts /abs/set_A.csv /abs/set_B.csv --wait
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Disco, Job, kvgroup } from '../src/index.js';

/** One CSV row: fields split on commas, trimmed; double-quoted fields may hold commas and `""`. */
export function parseCsvRow(line: string): string[] {
  const fields: string[] = [];
  let cur = '';
  let quoted = false;
  let inQuotes = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (inQuotes) {
      if (c !== '"') cur += c;
      else if (line[i + 1] === '"') {
        cur += '"';
        i++;
      } else inQuotes = false;
    } else if (c === '"' && cur.trim() === '' && !quoted) {
      inQuotes = true;
      quoted = true;
      cur = '';
    } else if (c === ',') {
      fields.push(quoted ? cur : cur.trim());
      cur = '';
      quoted = false;
    } else if (!quoted) {
      cur += c;
    }
  }
  fields.push(quoted ? cur : cur.trim());
  return fields;
}

export class CsvInnerJoiner extends Job {
  static module = import.meta.url;
  static partitions = 2;
  static sort = true;

  static *map(line: string, _params: unknown): Generator<[string, string[]]> {
    const row = parseCsvRow(line);
    if (row.length > 0 && row[0] !== '') yield [row[0], row.slice(1)];
  }

  static *reduce(rows: Iterable<[string, string[]]>, _params: unknown): Generator<[string, string[]]> {
    for (const [key, descriptors] of kvgroup(rows)) {
      const merged = [...descriptors].flat();
      // A key seen in one file only has a single row: not part of the inner join.
      if (merged.length > 1) yield [key, merged];
    }
  }
}

export const SET_A = path.join(import.meta.dirname, 'data', 'set_A.csv');
export const SET_B = path.join(import.meta.dirname, 'data', 'set_B.csv');

/** Join the CSV inputs; write the joined rows as CSV to `output` (if given) and return them. */
export async function main(
  inputs: string[] = [SET_A, SET_B],
  opts: { master?: string | Disco; output?: string; out?: (line: string) => void } = {},
): Promise<string[][]> {
  const out = opts.out ?? console.log;
  const job = await new CsvInnerJoiner({ master: opts.master }).run({
    input: inputs.map((i) => path.resolve(i)),
  });
  const rows: string[][] = [];
  for await (const [key, fields] of job.resultIterator<string, string[]>(await job.wait()))
    rows.push([key, ...fields]);
  rows.sort((a, b) => Number(a[0]) - Number(b[0]) || (a[0] < b[0] ? -1 : 1));
  const csv = rows.map((r) =>
    r.map((f) => (/^[\w.-]*$/.test(f) ? f : `"${f.replace(/"/g, '""')}"`)).join(', '),
  );
  if (opts.output) writeFileSync(opts.output, `${csv.join('\n')}\n`);
  else for (const line of csv) out(line);
  return rows;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [a, b, output] = process.argv.slice(2);
  main(a && b ? [a, b] : undefined, { output }).catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  });
}
