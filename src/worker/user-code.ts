/**
 * Turning the job pack's references to user code into callable functions (jobdata format:
 * src/protocol/jobdata.ts):
 *
 * - `{ source }` — a function's source text (`fn.toString()`: `function f(..){}`, arrows,
 *   and method shorthand such as `map(e, params) {...}` from class or object methods),
 *   evaluated in strict mode with every worker API name in scope (`kvgroup`, `msg`, ...) plus
 *   `require` (resolving from the job home). A source that evaluates to `null` means "none"
 *   (e.g. `reduceReader: null`: iterate the stream as it is).
 * - `{ export: ['WordCount', 'map'] }` — a member of the bundled job module, imported once per
 *   job after `globalThis.__discoWorkerApi` is set. Members of objects/classes are bound to
 *   their owner, so `static map() { this.helper() }` works.
 *
 * Params are decoded per task (`decodeParams`), with functions inside them evaluated the same
 * way and `Params` instances rebuilt.
 *
 * @example
 * const map = compileFunction('(line, params) => [[line, 1]]');
 * map('a', {}); // [['a', 1]]
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  decodeParams,
  type FunctionRef,
  type JobData,
  type JobFunctionName,
  WORKER_API_GLOBAL,
  WORKER_API_NAMES,
} from '../protocol/jobdata.js';
import { workerApi } from './api.js';
import { externalProgramFunction } from './external/program-function.js';
import { Params } from './params.js';

/** A job function as the worker calls it. */
export type UserFunction = (...args: unknown[]) => unknown;

/** Job functions that are chains (lists of functions). */
const CHAIN_NAMES: ReadonlySet<JobFunctionName> = new Set([
  'mapInputStream',
  'reduceInputStream',
  'mapOutputStream',
  'reduceOutputStream',
]);

/** The job's functions; a name is absent when the job did not set it, null when set to none. */
export type JobFunctions = {
  [K in JobFunctionName]?: K extends
    | 'mapInputStream'
    | 'reduceInputStream'
    | 'mapOutputStream'
    | 'reduceOutputStream'
    ? UserFunction[]
    : UserFunction | null;
};

const compiled = new Map<string, unknown>();

function evaluate(body: string): unknown {
  const names = [...WORKER_API_NAMES, 'require'];
  const api = workerApi as Record<string, unknown>;
  const values = [...WORKER_API_NAMES.map((n) => api[n]), createRequire(path.join(process.cwd(), 'job.js'))];
  return new Function(...names, `'use strict';\n${body}`)(...values);
}

/**
 * Evaluate a function's source text (see module docs). Results are cached per source: a
 * compiled function holds no state of its own (it only sees the API and its arguments).
 */
export function compileSource(source: string): unknown {
  const hit = compiled.get(source);
  if (hit !== undefined || compiled.has(source)) return hit;
  let value: unknown;
  try {
    value = evaluate(`return (${source}\n);`);
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    // Method shorthand (`map(e) {...}`, `*gen() {...}`, `async m() {}`) is not an expression
    // on its own; as the only member of an object literal it is.
    let holder: Record<string, unknown>;
    try {
      holder = evaluate(`return ({ ${source.replace(/^\s*static\s+/, '')}\n});`) as Record<string, unknown>;
    } catch {
      throw new SyntaxError(`cannot evaluate job function source: ${e.message}\n${source.slice(0, 500)}`);
    }
    const members = Object.values(holder);
    if (members.length !== 1)
      throw new SyntaxError(`cannot evaluate job function source:\n${source.slice(0, 500)}`);
    value = members[0];
  }
  compiled.set(source, value);
  return value;
}

/** {@link compileSource}, insisting on a function. */
export function compileFunction(source: string): UserFunction {
  const v = compileSource(source);
  if (typeof v !== 'function')
    throw new TypeError(`job function source is not a function:\n${source.slice(0, 500)}`);
  return v as UserFunction;
}

/** Import the bundled job module (call once per job). */
export async function importJobModule(file: string): Promise<Record<string, unknown>> {
  (globalThis as Record<string, unknown>)[WORKER_API_GLOBAL] = workerApi;
  return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
}

/** Resolve one reference; null = explicitly none. */
export function resolveRef(ref: FunctionRef, mod: Record<string, unknown> | null): UserFunction | null {
  if ('external' in ref) return externalProgramFunction(ref.external);
  if ('source' in ref) {
    const v = compileSource(ref.source);
    if (v === null || v === undefined) return null;
    if (typeof v !== 'function')
      throw new TypeError(`job function source is not a function:\n${ref.source.slice(0, 500)}`);
    return v as UserFunction;
  }
  const where = ref.export.join('.');
  if (!mod) throw new Error(`job function ${where} refers to the job module, but the job pack has none`);
  let owner: unknown = null;
  let value: unknown = mod;
  for (const name of ref.export) {
    if (value === null || (typeof value !== 'object' && typeof value !== 'function'))
      throw new Error(`job module has no ${where}`);
    owner = value;
    value = (value as Record<string, unknown>)[name];
  }
  if (value === undefined) throw new Error(`job module has no ${where}`);
  if (value === null) return null;
  if (typeof value !== 'function') throw new TypeError(`job module's ${where} is not a function`);
  const fn = value as UserFunction;
  return owner !== mod ? fn.bind(owner) : fn;
}

/** Resolve every function the job sets. */
export function resolveJobFunctions(data: JobData, mod: Record<string, unknown> | null): JobFunctions {
  const out: Record<string, UserFunction | UserFunction[] | null> = {};
  for (const [name, ref] of Object.entries(data.functions) as [
    JobFunctionName,
    FunctionRef | FunctionRef[],
  ][]) {
    if (ref === undefined) continue;
    const refs = Array.isArray(ref) ? ref : [ref];
    if (CHAIN_NAMES.has(name)) {
      out[name] = refs.map((r) => resolveRef(r, mod)).filter((f): f is UserFunction => f !== null);
    } else {
      if (refs.length !== 1) throw new TypeError(`job function ${name} must be a single function`);
      out[name] = resolveRef(refs[0], mod);
    }
  }
  return out as JobFunctions;
}

/** A fresh copy of the job's params for one task (`Params` when the job set none). */
export function decodeJobParams(raw: unknown): unknown {
  const v = decodeParams(raw, compileFunction, (fields) => new Params(fields));
  return v === undefined ? new Params() : v;
}
