/**
 * Profiling — the FAQ's "How do I profile programs in Disco?": a job with `profile: true`
 * runs every task under the V8 profiler and stores each task's profile with its out-of-band
 * results; `profileStats` merges them into one table of functions by time (self time, and
 * total time including what they call), like Python's `pstats`.
 *
 * Submit it and print the table from the command line:
 *
 *     disco run examples/profile.ts examples/data/sample.txt --wait
 *     disco pstats @?ProfileJob -k cumulative -n 20 -o profile.cpuprofile
 *
 * (`profile.cpuprofile` opens in Chrome DevTools: Performance panel, "Load profile"), or
 * call `main` from code, as the end-to-end tests do.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Disco, Job, type ProfileSortKey } from '../src/index.js';

/** Lower-cases and trims an entry: the work the profile should show. */
export function normalizeEntry(entry: string): string {
  return entry.trim().toLowerCase();
}

export class ProfileJob extends Job {
  static module = import.meta.url;
  static profile = true;

  static *map(entry: string, _params: unknown): Generator<[string, number]> {
    yield [normalizeEntry(entry), 1];
  }
}

/** The sample text shipped with the examples. */
export const SAMPLE_TEXT = path.join(import.meta.dirname, 'data', 'sample.txt');

/** Run the job over `inputs` (default: the sample text); print and return its profile table. */
export async function main(
  inputs: string[] = [],
  opts: {
    master?: string | Disco;
    sortBy?: ProfileSortKey;
    limit?: number;
    /** Also write the merged profile here (`.cpuprofile`). */
    save?: string;
    out?: (text: string) => void;
  } = {},
): Promise<string> {
  const out = opts.out ?? ((t: string) => process.stdout.write(t));
  const input = (inputs.length > 0 ? inputs : [SAMPLE_TEXT]).map((i) =>
    /^\w+:\/\//.test(i) ? i : path.resolve(i),
  );
  const job = await new ProfileJob({ master: opts.master }).run({ input });
  await job.wait();
  const stats = await job.profileStats({ sortBy: opts.sortBy ?? 'cumulative', save: opts.save });
  const table = stats.toString({ limit: opts.limit ?? 15 });
  out(`${job.name}\n${table}`);
  return table;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  });
}
