#!/usr/bin/env node
// Runs a TypeScript script (bench/, scripts/) without a TS runtime: esbuild bundles it next to
// node_modules (dependencies stay external), then Node runs the bundle with the given args.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

const [script, ...args] = process.argv.slice(2);
if (!script) {
  console.error('usage: node scripts/run-ts.mjs <file.ts> [args...]');
  process.exit(2);
}
// The bundle sits next to the script so that imports of plain `.mjs` modules (kept external:
// job modules must keep their own file and import.meta.url) resolve as written.
const outfile = path.join(path.dirname(script), `.${path.basename(script, '.ts')}.run.mjs`);
mkdirSync(path.dirname(outfile), { recursive: true });
const externalMjs = {
  name: 'external-mjs',
  setup(b) {
    b.onResolve({ filter: /\.mjs$/ }, (a) =>
      a.kind === 'entry-point' ? undefined : { path: a.path, external: true },
    );
  },
};
await build({
  entryPoints: [script],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  plugins: [externalMjs],
  sourcemap: 'inline',
  logLevel: 'warning',
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  },
});
const r = spawnSync(process.execPath, ['--enable-source-maps', outfile, ...args], { stdio: 'inherit' });
process.exit(r.status ?? 1);
