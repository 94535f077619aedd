/**
 * Word count with an external C map — the tutorial's word count, its map written in C
 * against the Disco C library (`ext/disco.c`, see docs/external.md): `wordcount_map.c` answers
 * every line with `[word, "1"]` pairs; the reduce, in TypeScript, sums them. Keys and values
 * from an external program are bytes (Buffers).
 *
 * Compile the map (to {@link MAP_PROGRAM}, where the job looks for it) and submit the job:
 *
 *     mkdir -p "${TMPDIR:-/tmp}/disco-ts-examples"
 *     gcc -O2 -I ext -o "${TMPDIR:-/tmp}/disco-ts-examples/wordcount-map" ext/disco.c examples/external/wordcount_map.c
 *     disco run examples/external/wordcount.ts examples/data/sample.txt --wait
 *     disco results @?ExternalWordCount | sort -t$'\t' -k2 -n | tail
 *
 * or call `main` from code (as the end-to-end tests do): it compiles with gcc, submits the
 * job and prints the most frequent words.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Disco, external, Job, kvgroup } from '../../src/index.js';

const HERE = import.meta.dirname;
/** Where {@link compile} puts the program by default. */
export const MAP_PROGRAM = path.join(os.tmpdir(), 'disco-ts-examples', 'wordcount-map');
/** The C sources: the map and the Disco C library. */
export const SOURCES = {
  map: path.join(HERE ?? '.', 'wordcount_map.c'),
  libDir: path.join(HERE ?? '.', '..', '..', 'ext'),
};

/** Compile the C map with gcc (`-O2`); returns the program's path. */
export function compile(out = MAP_PROGRAM): string {
  mkdirSync(path.dirname(out), { recursive: true });
  execFileSync(
    'gcc',
    ['-O2', '-Wall', '-I', SOURCES.libDir, '-o', out, path.join(SOURCES.libDir, 'disco.c'), SOURCES.map],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  return out;
}

export class ExternalWordCount extends Job {
  /** The reduce travels as an export of this module. */
  static module = import.meta.url;
  /** Only a path is recorded here: the file is read when the job is submitted. */
  static map = external([MAP_PROGRAM]);
  /** Read by the C program with read_parameters() / param_get(). */
  static extParams: Record<string, string> = { lowercase: '0' };
  static partitions = 2;
  static sort = true;

  static *reduce(iter: Iterable<[Buffer, Buffer]>, _params: unknown): Generator<[string, number]> {
    for (const [word, counts] of kvgroup(iter)) {
      let n = 0;
      for (const c of counts) n += Number(c.toString());
      yield [word.toString(), n];
    }
  }
}

/** The sample text shipped with the examples. */
export const SAMPLE_TEXT = path.join(HERE ?? '.', '..', 'data', 'sample.txt');

/** Compile the map, count the words of `inputs` (default: the sample text), print the top `top`. */
export async function main(
  inputs: string[] = [],
  opts: {
    master?: string | Disco;
    top?: number;
    lowercase?: boolean;
    show?: boolean;
    out?: (line: string) => void;
  } = {},
): Promise<[string, number][]> {
  const out = opts.out ?? console.log;
  const program = compile();
  const input = (inputs.length > 0 ? inputs : [SAMPLE_TEXT]).map((i) =>
    /^\w+:\/\//.test(i) ? i : path.resolve(i),
  );
  const job = await new ExternalWordCount({ master: opts.master }).run({
    input,
    map: external([program]),
    extParams: { lowercase: opts.lowercase ? '1' : '0' },
  });
  const counts: [string, number][] = [];
  for await (const [word, count] of job.resultIterator<string, number>(
    await job.wait({ show: opts.show ?? false }),
  )) {
    counts.push([word, count]);
  }
  counts.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const top = counts.slice(0, opts.top ?? 10);
  out(`${job.name}: ${counts.length} distinct words`);
  for (const [word, count] of top) out(`${String(count).padStart(6)}  ${word}`);
  return counts;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  });
}
