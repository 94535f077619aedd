/**
 * Job name shortcuts of the command line (the original's "Job History", `lib/disco/cli.py`
 * `job_history`): `@` is the most recent job, `@?TEXT` the most recent job whose name
 * contains TEXT; anything else is a job name. The master's job list is newest first.
 *
 * @example
 * resolveJobRef('@?Word', [[1700000001, 'ready', 'Grep@1'], [1700000000, 'ready', 'WordCount@2']]);
 * // 'WordCount@2'
 */
import { DiscoError } from '../common/errors.js';

/** One row of `/disco/ctrl/joblist`: start time (unix seconds), status, job name. */
export type JobListEntry = [start: number, status: string, name: string];

/** Whether `ref` is a shortcut that needs the job list. */
export function isJobShortcut(ref: string): boolean {
  return ref === '@' || ref.startsWith('@?');
}

/** Resolve `@` / `@?TEXT` against a newest-first job list; other names pass through. */
export function resolveJobRef(ref: string, joblist: readonly JobListEntry[]): string {
  if (ref === '@') {
    if (joblist.length === 0) throw new DiscoError('no jobs yet: "@" names the most recent job');
    return joblist[0][2];
  }
  if (ref.startsWith('@?')) {
    const text = ref.slice(2);
    const hit = joblist.find((row) => row[2].includes(text));
    if (!hit) throw new DiscoError(`no job whose name contains ${JSON.stringify(text)}`);
    return hit[2];
  }
  return ref;
}

/** Resolve a shortcut, fetching the job list only when needed. */
export async function resolveJobName(
  ref: string,
  joblist: () => Promise<readonly JobListEntry[]>,
): Promise<string> {
  return isJobShortcut(ref) ? resolveJobRef(ref, await joblist()) : ref;
}
