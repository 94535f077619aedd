// Builds dist/ with esbuild (`node scripts/build.mjs`):
//
// - the library, the daemons and the `disco` and dispy command lines: one split build (shared
//   chunks in dist/chunks, so that the classes a job module gets from `disco-ts` are the
//   command line's own); dependencies stay external (installed next to dist/);
// - the `ddfs` command line: one file of its own (see `ddfsBuild`), which takes the parts
//   that meet user modules (`-j`, `-R`, `-T`, `xcat`) from the split build (`DDFS_SHARED`);
// - the worker: one self-contained file, copied into every TypeScript job's home and run on
//   nodes by itself.
//
// Imported (tests), it builds nothing: it exports the builds' options and `startupGraph`.
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const common = {
  absWorkingDir: ROOT,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  logLevel: 'warning',
  // ESM bundles that contain CommonJS dependencies need a require().
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  },
};

/**
 * Packages stay external, except these, bundled: commander, which every command line loads
 * before anything else, costs ~5 ms less of each command's start as ES module code in the
 * bundle than through Node's CommonJS loader (its export scan and package resolution).
 */
const BUNDLED_PACKAGES = new Set(['commander']);
const externalPackages = {
  name: 'external-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (a) => {
      const parts = a.path.split('/');
      const name = a.path.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
      return BUNDLED_PACKAGES.has(name) ? undefined : { path: a.path, external: true };
    });
  },
};

/**
 * Modules of the split build the `ddfs` bundle loads from there (dist/cli/<name>.js) instead
 * of holding a copy: the `disco` context (`-j`) and the job module loader (`-R`, `-T`), whose
 * imports reach the external packages (zod, esbuild) a bundle would load at its start, and
 * `xcat`, which runs user readers that import `disco-ts`: their errors and streams must be
 * the classes of the result iterator reading with them.
 */
const DDFS_SHARED = ['context', 'run-module', 'ddfs-xcat'];
const ddfsShared = {
  name: 'ddfs-shared',
  setup(b) {
    const filter = new RegExp(`^\\./(${DDFS_SHARED.join('|')})\\.js$`);
    b.onResolve({ filter }, (a) =>
      path.dirname(a.importer) === path.join(ROOT, 'src', 'cli')
        ? { path: a.path, external: true }
        : undefined,
    );
  },
};

const entries = {
  index: 'src/index.ts',
  'cli/disco': 'src/cli/disco.ts',
  ...Object.fromEntries(DDFS_SHARED.map((name) => [`cli/${name}`, `src/cli/${name}.ts`])),
  master: 'src/master/main.ts',
  node: 'src/node/main.ts',
  'cli/dispynode': 'src/cli/dispynode.ts',
  'cli/dispyscheduler': 'src/cli/dispyscheduler.ts',
  'cli/dispynetrelay': 'src/cli/dispynetrelay.ts',
  'dispy-worker': 'src/dispy/node/worker-main.ts',
};
const present = (e) =>
  Object.fromEntries(Object.entries(e).filter(([, f]) => existsSync(path.join(ROOT, f))));

/** The split build. */
export const splitBuild = {
  ...common,
  entryPoints: present(entries),
  outdir: 'dist',
  plugins: [externalPackages],
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  metafile: true,
};

/**
 * The `ddfs` command line, one file (dist/cli/ddfs.cjs): most of a short command's time
 * (`ddfs cat` of a small tag) is start-up, and loading the dozen chunks its commands span costs
 * ~20 ms more than one file. Its subcommands are imported dynamically, so they are parsed but
 * not run before use. CommonJS, so that each module's Node built-ins and packages are loaded
 * when the module first runs: an ES module bundle hoists every import of every module to its
 * start (`ddfs --help` 63 → 48 ms). `import.meta.url` is the file's URL, as in an ES module.
 */
export const ddfsBuild = {
  ...common,
  format: 'cjs',
  banner: { js: "const __importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  define: { 'import.meta.url': '__importMetaUrl' },
  outExtension: { '.js': '.cjs' },
  entryPoints: present({ 'cli/ddfs': 'src/cli/ddfs.ts' }),
  outdir: 'dist',
  plugins: [externalPackages, ddfsShared],
  metafile: true,
};

/** The worker: self-contained (packages bundled). */
export const workerBuild = {
  ...common,
  entryPoints: present({ worker: 'src/worker/main.ts' }),
  outdir: 'dist',
  banner: { js: `#!/usr/bin/env node\n${common.banner.js}` },
  metafile: true,
};

/**
 * What loading an output file loads before any code runs: the output files of its static
 * import graph, the sources they hold and the packages they import (dynamic imports not
 * followed). Paths are relative to the package root.
 *
 * @example
 * const { packages } = startupGraph(result.metafile, 'dist/cli/disco.js');
 */
export function startupGraph(metafile, output) {
  const files = new Set();
  const sources = new Set();
  const packages = new Set();
  const visit = (file) => {
    if (files.has(file) || !metafile.outputs[file]) return;
    files.add(file);
    for (const input of Object.keys(metafile.outputs[file].inputs)) sources.add(input);
    for (const i of metafile.outputs[file].imports) {
      if (i.kind !== 'import-statement') continue;
      if (!i.external) visit(i.path);
      else if (!i.path.startsWith('node:') && !i.path.startsWith('.')) packages.add(i.path);
    }
  };
  visit(output);
  return { files: [...files], sources: [...sources], packages: [...packages] };
}

/**
 * Chunk names change with their contents, so every build leaves the previous build's chunks
 * behind (tens of MB after a day's work). Those written in the last hour stay: a process
 * started from an earlier build (a library client, a test) may still import one of them
 * lazily. (The daemons and the workers import none lazily.)
 */
function removeStaleChunks(metafile) {
  const dir = path.join(ROOT, 'dist', 'chunks');
  const built = new Set(Object.keys(metafile.outputs).map((f) => path.resolve(ROOT, f)));
  const before = Date.now() - 60 * 60 * 1000;
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    if (!built.has(file) && statSync(file).mtimeMs < before) rmSync(file, { force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const split = await build(splitBuild);
  removeStaleChunks(split.metafile);
  // The ES module `ddfs` of earlier builds (now dist/cli/ddfs.cjs).
  for (const f of ['ddfs.js', 'ddfs.js.map']) rmSync(path.join(ROOT, 'dist', 'cli', f), { force: true });
  let n = Object.keys(splitBuild.entryPoints).length;
  for (const options of [ddfsBuild, workerBuild]) {
    if (Object.keys(options.entryPoints).length === 0) continue;
    await build(options);
    n++;
  }
  console.log(`built ${n} entry points into dist/`);
}
