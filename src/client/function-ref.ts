/**
 * How a job function reaches the workers (see `src/protocol/jobdata.ts`): as a member of the
 * bundled job module (`{ export: ['WordCount', 'map'] }`), found by identity among the
 * module's exports; as the name of a worker API function (`{ source: 'chainReader' }`, which
 * the worker evaluates in a scope holding the API); or as its source text
 * (`{ source: fn.toString() }`), which only works for functions that use nothing but their
 * arguments, the worker API and globals — the same rule as the original's "pure functions".
 *
 * @example
 * functionRef(WordCount.map, { moduleExports: await import('./wordcount.js') }, 'map');
 * // { export: ['WordCount', 'map'] }
 * functionRef((line: string) => line.split(' '), {}, 'map');
 * // { source: '(line) => line.split(" ")' }
 */
import { DiscoError } from '../common/errors.js';
import { type FunctionRef, WORKER_API_NAMES } from '../protocol/jobdata.js';

export interface FunctionRefContext {
  /** The job module's namespace, as imported by the client. */
  moduleExports?: Readonly<Record<string, unknown>>;
  /** Worker API functions (the client's copies) by identity → their API name. */
  apiNames?: ReadonlyMap<unknown, string>;
}

/** Keys of a value worth searching, following the prototype chain but not into built-ins. */
function memberKeys(v: object): string[] {
  const keys = new Set<string>();
  for (let o: object | null = v; o && o !== Function.prototype && o !== Object.prototype; ) {
    for (const k of Object.getOwnPropertyNames(o)) {
      if (k === 'constructor' || k === 'prototype' || k === 'caller' || k === 'arguments') continue;
      const d = Object.getOwnPropertyDescriptor(o, k);
      // Data properties only: getters could run user code or throw.
      if (d && 'value' in d) keys.add(k);
    }
    o = Object.getPrototypeOf(o);
  }
  return [...keys];
}

function isObjectLike(v: unknown): v is object {
  return (typeof v === 'object' && v !== null) || typeof v === 'function';
}

/**
 * The shortest path from the module's exports to `fn`: `[export]`, `[export, member]` (a
 * static method or an object property), `[export, member, index]` (an element of a list, such
 * as a stream chain) or `[export, 'prototype', method]`. Named exports
 * are preferred to the default export. Null when `fn` is not reachable that way.
 */
export function findExportPath(ns: Readonly<Record<string, unknown>>, fn: unknown): string[] | null {
  const names = Object.keys(ns).sort((a, b) => Number(a === 'default') - Number(b === 'default'));
  for (const n of names) if (ns[n] === fn) return [n];
  for (const n of names) {
    const v = ns[n];
    if (!isObjectLike(v)) continue;
    for (const k of memberKeys(v)) if ((v as Record<string, unknown>)[k] === fn) return [n, k];
  }
  // Stream chains are lists (`static mapInputStream = [decode(0x5a)]`): their functions are
  // often closures made by a factory, which only travel by export.
  for (const n of names) {
    const v = ns[n];
    if (!isObjectLike(v)) continue;
    for (const k of memberKeys(v)) {
      const list = (v as Record<string, unknown>)[k];
      if (!Array.isArray(list)) continue;
      const i = list.indexOf(fn);
      if (i >= 0) return [n, k, String(i)];
    }
  }
  for (const n of names) {
    const v = ns[n];
    if (typeof v !== 'function' || !isObjectLike(v.prototype)) continue;
    const proto = v.prototype as Record<string, unknown>;
    for (const k of memberKeys(proto)) if (proto[k] === fn) return [n, 'prototype', k];
  }
  return null;
}

function parsesAsExpression(src: string): boolean {
  try {
    // Compiles without running: a syntax check of the function as an expression.
    new Function(`return (${src}\n);`);
    return true;
  } catch {
    return false;
  }
}

const API_NAMES: ReadonlySet<string> = new Set(WORKER_API_NAMES);

/**
 * Test runners built on Vite rewrite imported names (`kvgroup(…)` becomes
 * `__vi_import_0__.kvgroup(…)`). Accesses to worker API names are turned back into the
 * plain names, which the worker has in scope; anything else stays (and is refused).
 */
function rewriteTestRunnerImports(src: string): string {
  return src.replace(
    /\b(?:__vi_import_\d+__|__vite_ssr_import_\d+__)\.([A-Za-z_$][\w$]*)/g,
    (whole, name: string) => (API_NAMES.has(name) ? name : whole),
  );
}

const METHOD_HEAD =
  /^(async\s+)?(\*\s*)?(?:[A-Za-z_$][\w$]*|\[[^\]]*\]|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\d+)\s*\(/;

/**
 * The source of `fn` as a function expression the worker can evaluate. Method shorthand
 * (`map(line, params) { … }`, `*reduce(iter) { … }`, `async init() { … }`) becomes an
 * anonymous function expression (a method's name is not in scope inside it anyway).
 */
export function functionSource(fn: unknown, what: string): string {
  if (typeof fn !== 'function') throw new DiscoError(`${what} must be a function, got ${typeof fn}`);
  const raw = Function.prototype.toString.call(fn).trim();
  if (/\{\s*\[native code\]\s*\}$/.test(raw)) {
    throw new DiscoError(`${what} is a built-in or bound function; its source cannot be sent to the workers`);
  }
  if (/^class\b/.test(raw)) throw new DiscoError(`${what} is a class, not a function`);
  const src = rewriteTestRunnerImports(raw);
  if (/\b__vi_import_\d+__|\b__vite_ssr_import_\d+__/.test(src)) {
    throw new DiscoError(
      `${what} uses imports that were rewritten by the test runner, so its source cannot run on the workers; ` +
        `give the job its module (e.g. static module = import.meta.url) so that it is sent by export`,
    );
  }
  if (parsesAsExpression(src)) return src;
  const m = METHOD_HEAD.exec(src);
  if (m) {
    const converted = `${m[1] ?? ''}function${m[2] ? '*' : ''} (${src.slice(m[0].length)}`;
    if (parsesAsExpression(converted)) return converted;
  }
  throw new DiscoError(
    `cannot send ${what} as source text; export it from the job module and set \`module\``,
  );
}

/** The reference to send for `fn` (see the module documentation for the order). */
export function functionRef(fn: unknown, ctx: FunctionRefContext, what: string): FunctionRef {
  if (typeof fn !== 'function') throw new DiscoError(`${what} must be a function, got ${typeof fn}`);
  const apiName = ctx.apiNames?.get(fn);
  if (apiName) return { source: apiName };
  if (ctx.moduleExports) {
    const path = findExportPath(ctx.moduleExports, fn);
    if (path) return { export: path };
  }
  return { source: functionSource(fn, what) };
}
