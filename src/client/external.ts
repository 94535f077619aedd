/**
 * External programs as a job's map or reduce (the original's `disco.util.external`, the
 * "Classic Disco External Interface"; docs/external.md). `external(files)` names the program
 * (the first file) and its supporting files; the job pack carries all of them, flattened into
 * one directory of the job home (`ext/map/` or `ext/reduce/`, permission bits kept), and the
 * jobdata refers to the program as `{ external: { dir, program } }`. The worker runs it with
 * `map` or `reduce` as its argument and exchanges key-value pairs with it on stdin/stdout.
 *
 * `external()` only records the paths: files are checked and read when the job pack is built.
 * That keeps it usable at the top level of a job module, which the workers import too.
 *
 * @example
 * import { Job, external } from 'disco-ts';
 * const job = await new Job({
 *   input: ['http://example.com/text.txt'],
 *   map: external(['./build/cmap', './cmap.conf']),
 *   extParams: { lang: 'en' },
 *   reduce: (iter) => iter,
 * }).run();
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { DiscoError } from '../common/errors.js';
import { type ExternalMode, encodeNetstringParams, externalDir } from '../protocol/external.js';
import { type FunctionRef, JOB_FUNCTION_NAMES, type JobFunctionName } from '../protocol/jobdata.js';
import type { JobOptions } from './job-options.js';
import type { JobHomeFile } from './jobhome.js';

/** Marks external programs across copies of this library (a job module may import another build). */
const BRAND = Symbol.for('disco-ts.ExternalProgram');

/** An external program and its supporting files, as given to {@link external}. */
export class ExternalProgram {
  /** Paths: the program first, then its supporting files. */
  readonly files: readonly string[];
  readonly [BRAND] = true;

  constructor(files: readonly string[]) {
    if (!Array.isArray(files) || files.length === 0)
      throw new DiscoError('external(files): give a list of paths, the program first');
    for (const f of files)
      if (typeof f !== 'string' || f === '')
        throw new DiscoError(
          `external(files): every file must be a non-empty path, got ${JSON.stringify(f)}`,
        );
    this.files = [...files];
  }

  /** The program's file name (what runs, in its directory of the job home). */
  get program(): string {
    return path.basename(this.files[0]);
  }
}

/**
 * An external program as a job's `map` or `reduce`: `files[0]` is the executable, the others
 * are supporting files it finds in its working directory. All are copied to one flat
 * directory on the nodes (subdirectories are lost).
 *
 * @example
 * new Job({ input, map: external(['/home/john/bin/cmap', '/home/john/cmap.conf']), reduce });
 */
export function external(files: readonly string[]): ExternalProgram {
  return new ExternalProgram(files);
}

/** True for what {@link external} returns (from any copy of this library). */
export function isExternalProgram(v: unknown): v is ExternalProgram {
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[BRAND] === true;
}

/** What a job pack needs for the external programs among a job's options. */
export interface ExternalParts {
  /** References for the jobdata, by job function name. */
  refs: Partial<Record<JobFunctionName, FunctionRef>>;
  /** Files for the job home. */
  files: JobHomeFile[];
  /** The jobdata's `extParams`: the bytes written first on the programs' stdin. */
  extParams: string | undefined;
}

/** The parameter block for `extParams`: a string as it is, a dictionary netstring-encoded. */
export function encodeExtParams(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)) {
    return encodeNetstringParams(v as Record<string, string>).toString('utf8');
  }
  throw new DiscoError(
    `extParams must be a string (given to the program as it is) or an object of strings ` +
      `(netstring-encoded for read_parameters()), got ${Array.isArray(v) ? 'an array' : typeof v}`,
  );
}

function programFiles(prog: ExternalProgram, mode: ExternalMode): JobHomeFile[] {
  const what = `external ${mode}`;
  const dir = externalDir(mode);
  const seen = new Map<string, string>();
  return prog.files.map((f, i) => {
    const abs = path.resolve(f);
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(abs);
    } catch {
      throw new DiscoError(`${what}: file ${f} does not exist (looked at ${abs})`);
    }
    if (!st.isFile()) throw new DiscoError(`${what}: ${f} is not a regular file`);
    if (i === 0 && (st.mode & 0o111) === 0)
      throw new DiscoError(
        `${what}: the program ${f} is not executable (chmod +x it; the first file of external([...]) is the one that runs)`,
      );
    const name = path.basename(abs);
    const other = seen.get(name);
    if (other !== undefined)
      throw new DiscoError(
        `${what}: ${other} and ${f} have the same file name ${name}; all files go into one directory`,
      );
    seen.set(name, f);
    return { name: `${dir}/${name}`, data: readFileSync(abs), mode: st.mode & 0o777 };
  });
}

/**
 * Check the external programs among `options` (only `map` and `reduce` may be one), read
 * their files, and encode `extParams`. Throws a DiscoError saying what is wrong.
 */
export function externalJobParts(options: JobOptions): ExternalParts {
  const out: ExternalParts = { refs: {}, files: [], extParams: undefined };
  for (const name of JOB_FUNCTION_NAMES) {
    const v = (options as Record<string, unknown>)[name];
    const list = Array.isArray(v) ? v : [v];
    if (!list.some(isExternalProgram)) continue;
    if (name !== 'map' && name !== 'reduce')
      throw new DiscoError(`only map and reduce can be external programs, not ${name}`);
    const prog = v as ExternalProgram;
    out.refs[name] = { external: { dir: externalDir(name), program: prog.program } };
    out.files.push(...programFiles(prog, name));
  }
  if (out.refs.reduce && options.reduceStyle === 'out')
    throw new DiscoError(
      "an external reduce writes its own results: reduceStyle 'out' does not apply to it (remove the option)",
    );
  if (options.extParams !== undefined && options.extParams !== null) {
    if (!out.refs.map && !out.refs.reduce)
      throw new DiscoError('extParams is for external programs, and this job has none (see external())');
    out.extParams = encodeExtParams(options.extParams);
  }
  return out;
}
