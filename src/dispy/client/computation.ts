/**
 * Turning a computation and its `depends` into what nodes receive (a {@link ComputeSpec} plus
 * files).
 *
 * - A **function** computation is shipped as source text (`fn.toString()`), so — as in the
 *   original — it must not rely on closures over the client's variables: it may use its
 *   arguments, globals, `require`/`import()`, the dispy job API (`dispyProvisionalResult`, …)
 *   and what `depends` provides.
 * - `depends` entries: **functions and classes** (their source is added, under their name);
 *   **file paths** (module files or data files, copied to the computation's directory on each
 *   node, keeping their path relative to the current directory — or just their name when
 *   outside it); **plain objects** `{ name: value }` (each value becomes a read-only global
 *   shared by all jobs, like an instance in the original's depends).
 * - A **program** computation is a path to an executable (or a `.js`/`.py` script), copied to
 *   the nodes; job arguments become its command-line arguments.
 *
 * Test runners and bundlers rewrite imported names (`__vi_import_0__.dispySendFile`); such
 * references to the dispy job API are turned back into the plain names the node provides.
 *
 * @example
 * const built = await buildComputation(compute, { depends: [helper, 'data/table.csv', { SCALE: 3 }] });
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { DiscoError } from '../../common/errors.js';
import { encodeData } from '../protocol/codec.js';
import { DISPY_JOB_API_NAMES } from '../protocol/job-api.js';
import type { FileEntry } from '../protocol/messages.js';

/** A file to send: where it is here and where it goes (relative) on the node. */
export interface LocalFile extends FileEntry {
  abs: string;
}

export type Depend =
  | ((...args: never[]) => unknown)
  | (abstract new (
      ...args: never[]
    ) => unknown)
  | string
  | Record<string, unknown>;

export interface BuiltComputation {
  kind: 'function' | 'program';
  name: string;
  entry: string;
  source?: string;
  setup?: string;
  cleanupFn?: string;
  data?: Uint8Array;
  files: LocalFile[];
}

const IDENT = /^[A-Za-z_$][\w$]*$/;
const REWRITTEN = /\b(?:__vi_import_\d+__|__vite_ssr_import_\d+__|import_[\w$]+)\.([A-Za-z_$][\w$]*)/g;

/** Undo test-runner / bundler rewriting of the dispy job API names. */
export function restoreApiNames(src: string): string {
  return src
    .replace(REWRITTEN, (whole, name: string) => (DISPY_JOB_API_NAMES.has(name) ? name : whole))
    .replace(/\b__vite_ssr_dynamic_import__\(/g, 'import(');
}

function parses(src: string): boolean {
  try {
    new Function(`return (${src}\n);`);
    return true;
  } catch {
    return false;
  }
}

const METHOD_HEAD =
  /^(async\s+)?(\*\s*)?(?:[A-Za-z_$][\w$]*|\[[^\]]*\]|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\d+)\s*\(/;

/**
 * The source of a function or class as an expression. Method shorthand (`compute(n) {…}`)
 * becomes a function expression.
 */
export function sourceOf(fn: unknown, what: string): string {
  if (typeof fn !== 'function') throw new DiscoError(`${what} must be a function, got ${typeof fn}`);
  const raw = Function.prototype.toString.call(fn).trim();
  if (/\{\s*\[native code\]\s*\}$/.test(raw)) {
    throw new DiscoError(`${what} is a built-in or bound function: its source cannot be sent to nodes`);
  }
  const src = restoreApiNames(raw);
  const leftover = /\b(__vi_import_\d+__|__vite_ssr_import_\d+__)\.([\w$]+)/.exec(src);
  if (leftover) {
    throw new DiscoError(
      `${what} uses '${leftover[2]}', imported in the client's module: computations are sent as source ` +
        `and cannot see the client's imports — import it inside the function (await import(...)), ` +
        `or pass its source in depends`,
    );
  }
  if (parses(src)) return src;
  const m = METHOD_HEAD.exec(src);
  if (m) {
    const converted = `${m[1] ?? ''}function${m[2] ? '*' : ''} (${src.slice(m[0].length)}`;
    if (parses(converted)) return converted;
  }
  throw new DiscoError(`cannot send ${what} as source text`);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

async function localFile(p: string, cwd: string): Promise<LocalFile> {
  const abs = path.resolve(cwd, p);
  const st = await fs.stat(abs).catch(() => null);
  if (!st?.isFile()) throw new DiscoError(`dependency ${p} is not a file`);
  const rel = path.relative(cwd, abs);
  const dest =
    rel && !rel.startsWith('..') && !path.isAbsolute(rel)
      ? rel.split(path.sep).join('/')
      : path.basename(abs);
  return { abs, path: dest, size: st.size, mtimeMs: st.mtimeMs, mode: st.mode & 0o777 };
}

export interface BuildOptions {
  depends?: Depend[];
  setup?: ((...args: never[]) => unknown) | undefined;
  cleanup?: boolean | ((...args: never[]) => unknown);
  cwd?: string;
}

/** Build what nodes receive for `computation` (a function, or a program path). */
export async function buildComputation(
  computation: ((...args: never[]) => unknown) | string,
  opts: BuildOptions = {},
): Promise<BuiltComputation> {
  const cwd = opts.cwd ?? process.cwd();
  const files: LocalFile[] = [];
  // Bundlers keeping function names (esbuild keepNames, as in test runners) insert `__name(f, "f")`.
  const parts: string[] = ['var __name = (f) => f;'];
  const data: Record<string, unknown> = {};
  const seenFiles = new Set<string>();
  const addFile = (f: LocalFile) => {
    if (seenFiles.has(f.path)) return;
    seenFiles.add(f.path);
    files.push(f);
  };
  for (const [i, d] of (opts.depends ?? []).entries()) {
    if (typeof d === 'string') addFile(await localFile(d, cwd));
    else if (typeof d === 'function') {
      const name = d.name;
      if (!name || !IDENT.test(name)) {
        throw new DiscoError(
          `depends[${i}] is an anonymous function: give it a name (function helper() {…})`,
        );
      }
      parts.push(`var ${name} = (${sourceOf(d, `depends[${i}] (${name})`)});`);
    } else if (isPlainObject(d)) {
      for (const [k, v] of Object.entries(d)) {
        if (!IDENT.test(k)) throw new DiscoError(`depends[${i}]: '${k}' is not a valid name`);
        if (typeof v === 'function') parts.push(`var ${k} = (${sourceOf(v, `depends[${i}].${k}`)});`);
        else data[k] = v;
      }
    } else {
      throw new DiscoError(
        `depends[${i}] must be a function, a class, a file path or an object of named values, got ${typeof d}`,
      );
    }
  }
  const encodedData = Object.keys(data).length ? encodeData(data, 'depends data') : undefined;

  if (typeof computation === 'string') {
    const prog = await localFile(computation, cwd).catch(() => {
      throw new DiscoError(
        `program ${computation} not found (a program computation must be an existing file)`,
      );
    });
    if (!(prog.mode & 0o111) && !/\.(m?js|cjs|py)$/.test(prog.path)) {
      throw new DiscoError(`program ${computation} is not executable`);
    }
    // The program sits in the computation's directory under its own name.
    prog.path = path.basename(prog.abs);
    addFile(prog);
    return {
      kind: 'program',
      name: path.basename(computation),
      entry: prog.path,
      files,
      ...(encodedData ? { data: encodedData } : {}),
    };
  }

  const name = computation.name && IDENT.test(computation.name) ? computation.name : 'compute';
  const entry = '__dispy_compute';
  parts.push(`var ${entry} = (${sourceOf(computation, 'the computation')});`);
  let setup: string | undefined;
  if (opts.setup) {
    setup = '__dispy_setup';
    parts.push(`var ${setup} = (${sourceOf(opts.setup, 'setup')});`);
  }
  let cleanupFn: string | undefined;
  if (typeof opts.cleanup === 'function') {
    cleanupFn = '__dispy_cleanup';
    parts.push(`var ${cleanupFn} = (${sourceOf(opts.cleanup, 'cleanup')});`);
  }
  return {
    kind: 'function',
    name,
    entry,
    source: parts.join('\n'),
    files,
    ...(setup ? { setup } : {}),
    ...(cleanupFn ? { cleanupFn } : {}),
    ...(encodedData ? { data: encodedData } : {}),
  };
}
