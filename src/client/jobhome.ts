/**
 * The job home: the ZIP archive inside a job pack that each node unpacks as the job's
 * working directory (wire spec §2.4). For a TypeScript job it holds the worker runtime
 * (`disco-worker.mjs`, executable, = this package's built `dist/worker.js`), the bundled job
 * module (`lib/job.mjs`), the job's required files under `lib/`, and packages sent with
 * `requiredModules: [[name, path]]` under `node_modules/<name>/` (where Node looks for them).
 *
 * Archives are built with fixed timestamps, so equal contents give equal bytes, and the last
 * few are cached by content hash: resubmitting a job does not recompress the worker.
 *
 * @example
 * const zip = await buildJobHome([{ name: 'disco-worker.mjs', data: worker, mode: 0o755 }]);
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { DiscoError } from '../common/errors.js';
import { PACKAGE_ROOT } from '../common/settings.js';
import type { RequiredModule } from './job-options.js';

export interface JobHomeFile {
  /** Path inside the archive, `/`-separated, relative. */
  name: string;
  data: Uint8Array;
  /** Permission bits (default 0o644). */
  mode?: number;
}

/** Fixed entry time: reproducible archives (and cache hits). */
const ENTRY_TIME = new Date(Date.UTC(2000, 0, 1));
const zipCache = new Map<string, Buffer>();
const MAX_ZIP_CACHE = 8;

/** Refuse archive paths that could escape the job home when unpacked. */
export function checkEntryName(name: string): void {
  if (
    name === '' ||
    name.startsWith('/') ||
    name.includes('\\') ||
    name.split('/').some((p) => p === '..' || p === '.' || p === '')
  ) {
    throw new DiscoError(`invalid job home path ${JSON.stringify(name)}`);
  }
}

/** Build (or reuse) the ZIP archive of these files. */
export async function buildJobHome(files: readonly JobHomeFile[]): Promise<Buffer> {
  const seen = new Set<string>();
  const h = createHash('sha1');
  for (const f of files) {
    checkEntryName(f.name);
    if (seen.has(f.name)) throw new DiscoError(`job home has two files named ${f.name}`);
    seen.add(f.name);
    h.update(`${f.name}\0${f.mode ?? 0o644}\0${f.data.length}\0`).update(f.data);
  }
  const key = h.digest('hex');
  const hit = zipCache.get(key);
  if (hit) return hit;
  // yazl is loaded on first use: most processes importing the client never build a pack.
  const { ZipFile } = await import('yazl');
  const zip = new ZipFile();
  for (const f of files) {
    zip.addBuffer(Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength), f.name, {
      mtime: ENTRY_TIME,
      mode: 0o100000 | (f.mode ?? 0o644),
      compress: true,
    });
  }
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    zip.outputStream.on('data', (b: Buffer) => chunks.push(b));
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    zip.outputStream.on('error', reject);
  });
  zip.end();
  const out = await done;
  if (zipCache.size >= MAX_ZIP_CACHE) zipCache.delete(zipCache.keys().next().value as string);
  zipCache.set(key, out);
  return out;
}

let workerCache: { mtime: number; size: number; data: Buffer } | null = null;

/** Path of the built worker runtime copied into every job home. */
export const WORKER_RUNTIME_PATH = path.join(PACKAGE_ROOT, 'dist', 'worker.js');

/** The worker runtime's bytes (cached while the file is unchanged). */
export function workerRuntime(file = WORKER_RUNTIME_PATH): Buffer {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(file);
  } catch {
    throw new DiscoError(`the TypeScript worker ${file} is missing: run npm run build`);
  }
  if (workerCache && workerCache.mtime === st.mtimeMs && workerCache.size === st.size)
    return workerCache.data;
  const data = readFileSync(file);
  workerCache = { mtime: st.mtimeMs, size: st.size, data };
  return data;
}

/** `requiredFiles`: paths (flattened to their base names) or a `{ name: contents }` map, under `lib/`. */
export function requiredFileEntries(
  req: readonly string[] | Readonly<Record<string, string | Uint8Array>> | undefined,
): JobHomeFile[] {
  if (!req) return [];
  if (Array.isArray(req)) {
    return (req as readonly string[]).map((p) => {
      try {
        return { name: `lib/${path.basename(p)}`, data: readFileSync(p) };
      } catch (e) {
        throw new DiscoError(`required file ${p}: ${(e as Error).message}`);
      }
    });
  }
  return Object.entries(req as Record<string, string | Uint8Array>).map(([name, contents]) => {
    if (name.includes('/') || name.includes('\\') || name === '..' || name === '.' || name === '') {
      throw new DiscoError(`required file name ${JSON.stringify(name)} must be a plain file name`);
    }
    return { name: `lib/${name}`, data: typeof contents === 'string' ? Buffer.from(contents) : contents };
  });
}

/**
 * Local `requiredModules` (paths): files, or directories copied recursively, under `lib/`.
 * `[name, path]` pairs are packages, see `requiredPackageEntries` (bundle.ts).
 */
export function requiredModuleEntries(mods: readonly RequiredModule[] | undefined): JobHomeFile[] {
  const out: JobHomeFile[] = [];
  for (const m of mods ?? []) {
    if (typeof m !== 'string') continue;
    if (!m.startsWith('.') && !path.isAbsolute(m)) continue; // a package: external, resolved on the nodes
    const abs = path.resolve(m);
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(abs);
    } catch {
      throw new DiscoError(`required module ${m} does not exist`);
    }
    if (st.isDirectory()) addDir(abs, `lib/${path.basename(abs)}`, out);
    else out.push({ name: `lib/${path.basename(abs)}`, data: readFileSync(abs) });
  }
  return out;
}

/** Copy directory `dir` into the job home under `prefix` (skipping `node_modules` and dot files). */
export function addDir(dir: string, prefix: string, out: JobHomeFile[]): void {
  for (const ent of readdirSync(dir, { withFileTypes: true })) {
    if (ent.name === 'node_modules' || ent.name.startsWith('.')) continue;
    const p = path.join(dir, ent.name);
    if (ent.isDirectory()) addDir(p, `${prefix}/${ent.name}`, out);
    else if (ent.isFile()) out.push({ name: `${prefix}/${ent.name}`, data: readFileSync(p) });
  }
}
