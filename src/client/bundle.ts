/**
 * Job modules and esbuild. A job module (the file holding a job's functions) is bundled with
 * its local imports and npm dependencies into one ES module for the job home. Inside it,
 * imports of this library (`disco-ts`, or this repository's `src/index.ts` for the examples)
 * become a tiny virtual module that reads the worker's API object from
 * `globalThis[WORKER_API_GLOBAL]`, so the job runs against the worker's own `kvgroup`, `Job`
 * and friends. Bundles are cached in-process per entry file, and re-used while none of their
 * input files changed, so submitting the same job again costs a few `stat` calls.
 *
 * The client also has to *import* the job module itself (to find its functions by identity).
 * Node 20 cannot import TypeScript; when that fails the module is bundled for the client
 * instead (imports of `disco-ts` pointing at this library) and imported from a temp file.
 *
 * esbuild is imported lazily, so that loading the library stays fast.
 *
 * @example
 * const code = await bundleJobModule('/home/me/jobs/wordcount.ts'); // → lib/job.mjs in the job home
 * const ns = await importJobModule('/home/me/jobs/wordcount.ts');   // { WordCount: [class], … }
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Plugin } from 'esbuild';
import { DiscoError } from '../common/errors.js';
import { PACKAGE_ROOT } from '../common/settings.js';
import { WORKER_API_GLOBAL, WORKER_API_NAMES } from '../protocol/jobdata.js';
import type { RequiredModule } from './job-options.js';
import { addDir, type JobHomeFile } from './jobhome.js';

/** The package name user modules import the library by. */
export const PACKAGE_NAME = 'disco-ts';

type Target = 'worker' | 'client';

interface CacheEntry {
  code: Uint8Array;
  /** Input files → mtime (ms) when bundled. */
  inputs: Map<string, number>;
}
const cache = new Map<string, CacheEntry>();
const MAX_CACHE = 32;

/** The library's entry files: imports of them mean "the disco-ts API". */
function libraryEntries(): string[] {
  return [path.join(PACKAGE_ROOT, 'src', 'index'), path.join(PACKAGE_ROOT, 'dist', 'index')];
}

function stripExt(p: string): string {
  return p.replace(/\.(?:[cm]?[jt]s|tsx?)$/, '');
}

/** Every name the virtual API module exports: the worker API plus the client's public names. */
async function apiExportNames(): Promise<string[]> {
  const names = new Set<string>(WORKER_API_NAMES);
  try {
    // The library's own public names, so that a job module may also import client-only names
    // (e.g. for a `main` function); on the worker they are undefined.
    const lib = (await import('../index.js')) as Record<string, unknown>;
    for (const k of Object.keys(lib)) if (/^[A-Za-z_$][\w$]*$/.test(k) && k !== 'default') names.add(k);
  } catch {
    // The worker API names are enough.
  }
  return [...names].sort();
}

function virtualApiSource(names: readonly string[]): string {
  const lines = [`const api = globalThis[${JSON.stringify(WORKER_API_GLOBAL)}] ?? {};`];
  for (const n of names) lines.push(`export const ${n} = api[${JSON.stringify(n)}];`);
  return `${lines.join('\n')}\n`;
}

/** Where client bundles point `disco-ts` at: the built library, else its sources. */
function clientLibraryPath(): { path: string; external: boolean } {
  const dist = path.join(PACKAGE_ROOT, 'dist', 'index.js');
  if (existsSync(dist)) return { path: dist, external: true };
  return { path: path.join(PACKAGE_ROOT, 'src', 'index.ts'), external: false };
}

function apiPlugin(target: Target, names: readonly string[]): Plugin {
  const entries = new Set(libraryEntries());
  const redirect = () => {
    if (target === 'worker') return { path: PACKAGE_NAME, namespace: 'disco-api' };
    return clientLibraryPath();
  };
  return {
    name: 'disco-ts-api',
    setup(build) {
      build.onResolve({ filter: /^disco-ts$/ }, () => redirect());
      build.onResolve({ filter: /(?:^|[\\/])index(?:\.[cm]?[jt]s)?$/ }, (args) => {
        if (!args.path.startsWith('.') && !path.isAbsolute(args.path)) return undefined;
        const abs = stripExt(path.resolve(args.resolveDir, args.path));
        return entries.has(abs) ? redirect() : undefined;
      });
      build.onLoad({ filter: /.*/, namespace: 'disco-api' }, () => ({
        contents: virtualApiSource(names),
        loader: 'js',
      }));
    },
  };
}

/**
 * The packages of `requiredModules` the job module's bundle leaves as imports: package names
 * (installed on the nodes) and the names of `[name, path]` pairs (sent in the job home).
 */
export function externalPackages(requiredModules: readonly RequiredModule[] = []): string[] {
  return requiredModules
    .map((m) => (typeof m === 'string' ? m : m[0]))
    .filter((m) => typeof m === 'string' && !m.startsWith('.') && !path.isAbsolute(m));
}

/** npm package names, scoped or not, without path tricks. */
const PACKAGE_NAME_RE = /^(?:@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*$/i;

/**
 * The job home files of the `[name, path]` pairs of `requiredModules`: each becomes package
 * `name` under `node_modules/`, where Node finds it from the job home. A file is bundled with
 * its own imports into one CommonJS file (so both `require` and `import` load it, whatever
 * language it was written in); a directory is copied as it is (it should be a package).
 *
 * @example
 * await requiredPackageEntries([['shout', './vendor/shout.ts']]);
 * // [{ name: 'node_modules/shout/index.cjs', … }, { name: 'node_modules/shout/package.json', … }]
 */
export async function requiredPackageEntries(
  requiredModules: readonly RequiredModule[] = [],
): Promise<JobHomeFile[]> {
  const out: JobHomeFile[] = [];
  for (const m of requiredModules) {
    if (typeof m === 'string') continue;
    if (!Array.isArray(m) || m.length !== 2 || typeof m[0] !== 'string' || typeof m[1] !== 'string')
      throw new DiscoError(
        `requiredModules entry ${JSON.stringify(m)}: expected a name, a path, or [package name, path]`,
      );
    const [name, where] = m;
    if (!PACKAGE_NAME_RE.test(name) || name === PACKAGE_NAME)
      throw new DiscoError(`requiredModules: ${JSON.stringify(name)} is not a usable package name`);
    const abs = path.resolve(where);
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(abs);
    } catch {
      throw new DiscoError(`required module ${name}: ${abs} does not exist`);
    }
    const dir = `node_modules/${name}`;
    if (st.isDirectory()) {
      addDir(abs, dir, out);
      continue;
    }
    out.push(
      { name: `${dir}/index.cjs`, data: await bundlePackage(abs, name) },
      { name: `${dir}/package.json`, data: Buffer.from(JSON.stringify({ name, main: 'index.cjs' })) },
    );
  }
  return out;
}

/** One file and its imports as a CommonJS module (imports of `disco-ts` → the worker API). */
async function bundlePackage(abs: string, name: string): Promise<Uint8Array> {
  const esbuild = await import('esbuild');
  try {
    const result = await esbuild.build({
      entryPoints: [abs],
      absWorkingDir: process.cwd(),
      bundle: true,
      format: 'cjs',
      platform: 'node',
      target: 'node20',
      write: false,
      logLevel: 'silent',
      plugins: [apiPlugin('worker', await apiExportNames())],
    });
    const code = result.outputFiles?.[0]?.contents;
    if (!code) throw new Error('no output');
    return code;
  } catch (e) {
    const first = (e as { errors?: { text: string }[] }).errors?.[0];
    throw new DiscoError(
      `cannot bundle required module ${name} (${abs}): ${first?.text ?? (e as Error).message}`,
    );
  }
}

function isFresh(e: CacheEntry): boolean {
  for (const [file, mtime] of e.inputs) {
    try {
      if (statSync(file).mtimeMs !== mtime) return false;
    } catch {
      return false;
    }
  }
  return true;
}

async function bundle(entry: string, target: Target, external: readonly string[]): Promise<Uint8Array> {
  const abs = path.resolve(entry);
  const key = `${target}\0${abs}\0${external.join(',')}`;
  const hit = cache.get(key);
  if (hit && isFresh(hit)) return hit.code;
  if (!existsSync(abs)) throw new DiscoError(`job module ${abs} does not exist`);
  const esbuild = await import('esbuild');
  const names = await apiExportNames();
  const cwd = process.cwd();
  let result: Awaited<ReturnType<typeof esbuild.build>>;
  try {
    result = await esbuild.build({
      entryPoints: [abs],
      absWorkingDir: cwd,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      write: false,
      metafile: true,
      logLevel: 'silent',
      external: [...external],
      plugins: [apiPlugin(target, names)],
      // Bundled CommonJS dependencies may call require() for Node built-ins.
      banner: {
        js: "import { createRequire as __discoCreateRequire } from 'node:module'; const require = __discoCreateRequire(import.meta.url);",
      },
    });
  } catch (e) {
    const errors = (e as { errors?: { text: string; location?: { file: string; line: number } | null }[] })
      .errors;
    const first = errors?.[0];
    const where = first?.location ? ` (${first.location.file}:${first.location.line})` : '';
    throw new DiscoError(`cannot bundle job module ${abs}: ${first?.text ?? (e as Error).message}${where}`);
  }
  const code = result.outputFiles?.[0]?.contents;
  if (!code) throw new DiscoError(`bundling ${abs} produced no output`);
  const inputs = new Map<string, number>();
  for (const rel of Object.keys(result.metafile?.inputs ?? {})) {
    if (rel.includes(':') && !path.isAbsolute(rel)) continue; // virtual modules (namespace:path)
    const file = path.resolve(cwd, rel);
    try {
      inputs.set(file, statSync(file).mtimeMs);
    } catch {
      // A file that vanished since: the entry will be rebuilt next time.
      inputs.set(file, -1);
    }
  }
  if (cache.size >= MAX_CACHE) cache.delete(cache.keys().next().value as string);
  cache.set(key, { code, inputs });
  return code;
}

/**
 * Bundle a job module for the workers (the job home's `lib/job.mjs`). Packages named in
 * `external` are left as imports, to be resolved on the nodes.
 */
export function bundleJobModule(entry: string, external: readonly string[] = []): Promise<Uint8Array> {
  return bundle(entry, 'worker', external);
}

/**
 * Bundle a job module for the client itself: imports of `disco-ts` point at this library
 * (its built `dist/index.js`, else its sources), so classes extend the client's `Job`.
 */
export function bundleClientModule(entry: string): Promise<Uint8Array> {
  return bundle(entry, 'client', []);
}

/** Path of a module given as a path or `file:` URL. */
export function modulePath(m: string | URL): string {
  const s = String(m);
  const p = s.startsWith('file:') ? fileURLToPath(s) : path.resolve(s);
  // `import.meta.url` inside a client bundle names the bundle: the job's module is its source.
  return clientBundleSources.get(p) ?? p;
}

/** Client bundles written by {@link importJobModule} → the module each was built from. */
const clientBundleSources = new Map<string, string>();

/**
 * Import a job module in the client: directly when Node can (JavaScript, or TypeScript under
 * a loader such as tsx or a test runner — then the functions are the very ones the caller
 * holds), else through a client bundle written to a temporary file.
 */
export async function importJobModule(entry: string): Promise<Record<string, unknown>> {
  const abs = path.resolve(entry);
  try {
    return (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ERR_UNKNOWN_FILE_EXTENSION' && code !== 'ERR_UNSUPPORTED_ESM_URL_SCHEME') throw e;
  }
  const js = await bundleClientModule(abs);
  const dir = path.join(os.tmpdir(), `disco-ts-modules-${process.getuid?.() ?? 'user'}`);
  mkdirSync(dir, { recursive: true });
  const file = path.join(
    dir,
    `${path.basename(stripExt(abs))}-${createHash('sha1').update(abs).update(js).digest('hex').slice(0, 16)}.mjs`,
  );
  if (!existsSync(file)) writeFileSync(file, js);
  clientBundleSources.set(file, abs);
  return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
}
