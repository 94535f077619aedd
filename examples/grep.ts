/**
 * Distributed grep — the classic worker documentation's `Grep` job: the map reader reads
 * each input's lines and keeps those matching the pattern as `[url, line]`; the map passes
 * them on (`nopMap`); there is no reduce. The pattern travels in `params` (a string, or
 * `{ pattern, flags }`):
 *
 *     disco run examples/grep.ts:Grep -P 'params={"pattern":"harbour","flags":"i"}' /abs/path/text.txt --wait
 *     disco results @?Grep
 */
import { pathToFileURL } from 'node:url';
import { type Disco, Job, mapLineReader, nopMap } from '../src/index.js';

/** What `params` may hold. */
export type GrepParams = string | { pattern: string; flags?: string };

const compiled = new Map<string, RegExp>();

/** The regular expression of `params` (compiled once per worker). */
export function patternOf(params: GrepParams): RegExp {
  const [source, flags] = typeof params === 'string' ? [params, ''] : [params.pattern, params.flags ?? ''];
  const key = `${flags}/${source}`;
  let re = compiled.get(key);
  if (!re) {
    re = new RegExp(source, flags.replace(/g/g, ''));
    compiled.set(key, re);
  }
  return re;
}

export class Grep extends Job {
  static module = import.meta.url;
  static params: GrepParams = '';
  static map = nopMap;

  static *mapReader(
    stream: unknown,
    size: number | null,
    url: string,
    params: GrepParams,
  ): Generator<[string, string]> {
    const re = patternOf(params);
    for (const line of mapLineReader(stream, size, url)) if (re.test(line)) yield [url, line];
  }
}

/** Grep `inputs` for `pattern`; print and return the matching lines. */
export async function main(
  pattern: string,
  inputs: string[],
  opts: { master?: string | Disco; flags?: string; out?: (line: string) => void } = {},
): Promise<[string, string][]> {
  const out = opts.out ?? console.log;
  const job = await new Grep({ master: opts.master }).run({
    input: inputs,
    params: { pattern, flags: opts.flags },
  });
  const matches: [string, string][] = [];
  for await (const [url, line] of job.resultIterator<string, string>(await job.wait())) {
    matches.push([url, line]);
    out(`${url}: ${line}`);
  }
  return matches;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [pattern, ...inputs] = process.argv.slice(2);
  if (!pattern || inputs.length === 0) {
    console.error('usage: grep.ts PATTERN INPUT...');
    process.exitCode = 2;
  } else {
    main(pattern, inputs).catch((e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exitCode = 1;
    });
  }
}
