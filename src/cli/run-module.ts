/**
 * `disco run <module[:Export]>`: find the job in a job module. The export may be a `Job`
 * subclass (the usual case), a `Job` instance, a `Worker` subclass (a job run by that
 * worker), or an object of job options; without `:Export` the module's default export is
 * used if it is a job, else its only exported `Job` subclass, else the module's own exports
 * named like job options (`map`, `reduce`, …), else its only exported `Worker` subclass.
 *
 * @example
 * const job = await jobFromModule('examples/wordcount.ts:WordCount', disco, { name: 'Count' });
 * await job.run({ input: ['raw://a b'], module: job.modulePath });
 */
import path from 'node:path';
import type { Disco } from '../client/disco.js';
import { Job } from '../client/job.js';
import { JOB_OPTION_NAMES, type JobOptions } from '../client/job-options.js';
import type { Worker } from '../worker/worker-base.js';
import { CliExit } from './io.js';

/** A module path with an optional `:ExportName`. */
export function parseModuleSpec(spec: string): { file: string; exportName: string | null } {
  const m = /^(.*\S):([A-Za-z_$][\w$]*)$/.exec(spec);
  if (m && !/^[A-Za-z]$/.test(m[1])) return { file: path.resolve(m[1]), exportName: m[2] };
  return { file: path.resolve(spec), exportName: null };
}

/**
 * The exports of a module the user names (a job, or a `ddfs` reader or stream; `.ts` or
 * `.js`); a module that fails to load ends the command with `cannot load <what> module …`.
 *
 * @example
 * const ns = await importModule(path.resolve('jobs/wc.ts'), 'job');
 */
export async function importModule(file: string, what: string): Promise<Record<string, unknown>> {
  try {
    // Loaded here: the bundler's module pulls in the job pack contracts (zod).
    const { importJobModule } = await import('../client/bundle.js');
    return await importJobModule(file);
  } catch (e) {
    throw new CliExit(`cannot load ${what} module ${file}: ${(e as Error).message}`);
  }
}

type JobClass = new (init?: { master?: Disco; name?: string }) => Job;

function isJobClass(v: unknown): v is JobClass {
  if (typeof v !== 'function' || !v.prototype) return false;
  const p = v.prototype as Record<string, unknown>;
  return typeof p.run === 'function' && typeof p.wait === 'function';
}

/** A class extending `Worker` (`run` and the client-side hooks on its prototype, no `wait`). */
function isWorkerClass(v: unknown): v is new () => Worker {
  if (typeof v !== 'function' || !v.prototype) return false;
  const p = v.prototype as Record<string, unknown>;
  return typeof p.run === 'function' && typeof p.jobDict === 'function' && typeof p.wait !== 'function';
}

function isJobInstance(v: unknown): v is Job {
  return typeof v === 'object' && v !== null && typeof (v as Job).run === 'function' && 'name' in v;
}

function optionsOf(obj: Readonly<Record<string, unknown>>): JobOptions {
  const out: Record<string, unknown> = {};
  for (const k of JOB_OPTION_NAMES) if (obj[k] !== undefined && k !== 'module') out[k] = obj[k];
  return out as JobOptions;
}

/** The job a module spec names, ready to `run` (with `module` set so functions travel by export). */
export async function jobFromModule(
  spec: string,
  disco: Disco,
  opts: { name?: string } = {},
): Promise<{ job: Job; file: string }> {
  const { file, exportName } = parseModuleSpec(spec);
  const ns = await importModule(file, 'job');
  const exported = Object.keys(ns).filter((k) => k !== 'default');
  let target: unknown;
  if (exportName) {
    if (!(exportName in ns)) {
      throw new CliExit(
        `${file} has no export named ${exportName} (exports: ${exported.join(', ') || 'none'})`,
      );
    }
    target = ns[exportName];
  } else if (isJobClass(ns.default) || isJobInstance(ns.default)) {
    target = ns.default;
  } else {
    let classes = exported.filter((k) => isJobClass(ns[k]));
    // No Job: a module exporting one Worker class runs that worker.
    if (classes.length === 0 && typeof ns.map !== 'function' && typeof ns.reduce !== 'function')
      classes = exported.filter((k) => isWorkerClass(ns[k]));
    if (classes.length > 1) {
      throw new CliExit(`${file} exports several jobs (${classes.join(', ')}); name one as ${spec}:<Export>`);
    }
    target = classes.length === 1 ? ns[classes[0]] : null;
  }
  if (target === null) {
    if (typeof ns.map !== 'function' && typeof ns.reduce !== 'function') {
      throw new CliExit(`${file} exports no Job subclass, no map or reduce function and no Worker subclass`);
    }
    const name =
      opts.name ??
      path
        .basename(file)
        .replace(/\.[^.]*$/, '')
        .replace(/[^\w-]/g, '_');
    return { job: new Job({ master: disco, name, ...optionsOf(ns) }), file };
  }
  if (isJobClass(target)) return { job: new target({ master: disco, name: opts.name }), file };
  if (isWorkerClass(target)) {
    let worker: Worker;
    try {
      worker = new target();
    } catch (e) {
      throw new CliExit(
        `cannot create the worker ${target.name} (its constructor must work without arguments): ${(e as Error).message}`,
      );
    }
    return { job: new Job({ master: disco, name: opts.name ?? target.name, worker }), file };
  }
  if (isJobInstance(target)) {
    if (opts.name) target.name = opts.name;
    return { job: target, file };
  }
  if (typeof target === 'object' && target !== null) {
    return {
      job: new Job({
        master: disco,
        name: opts.name ?? exportName ?? 'Job',
        ...optionsOf(target as Record<string, unknown>),
      }),
      file,
    };
  }
  throw new CliExit(`${spec} is not a job (a Job subclass, a Job, or an object of job options)`);
}

/**
 * The function `spec` (`module.ts:export`, default export without `:export`) names, for the
 * `ddfs` options that take one (`-R`, `-T`); a clear error when it is not a function.
 *
 * @example
 * const reader = await loadFunction('./reader.mjs:words', 'reader');
 */
export async function loadFunction(spec: string, what: string): Promise<(...args: never[]) => unknown> {
  const { file, exportName } = parseModuleSpec(spec);
  const name = exportName ?? 'default';
  const ns = await importModule(file, what);
  const f = ns[name];
  if (typeof f !== 'function')
    throw new CliExit(`${what} ${spec}: ${file} exports no function named ${name}`);
  return f as (...args: never[]) => unknown;
}
