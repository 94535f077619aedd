// Builds dist/ with esbuild: one bundle per process entry point so a process start loads one
// file. Dependencies stay external (installed next to dist/), except in the worker bundle,
// which is copied into every TypeScript job's home and must run on nodes by itself.
import { existsSync } from 'node:fs';
import { build } from 'esbuild';

const common = {
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

const entries = {
  index: 'src/index.ts',
  'cli/disco': 'src/cli/disco.ts',
  'cli/ddfs': 'src/cli/ddfs.ts',
  master: 'src/master/main.ts',
  node: 'src/node/main.ts',
  'cli/dispynode': 'src/cli/dispynode.ts',
  'cli/dispyscheduler': 'src/cli/dispyscheduler.ts',
  'cli/dispynetrelay': 'src/cli/dispynetrelay.ts',
  'dispy-worker': 'src/dispy/node/worker-main.ts',
};
const present = Object.fromEntries(Object.entries(entries).filter(([, f]) => existsSync(f)));

await build({
  ...common,
  entryPoints: present,
  outdir: 'dist',
  packages: 'external',
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
});
if (existsSync('src/worker/main.ts')) {
  await build({
    ...common,
    entryPoints: { worker: 'src/worker/main.ts' },
    outdir: 'dist',
    banner: { js: `#!/usr/bin/env node\n${common.banner.js}` },
  });
}
console.log(`built ${Object.keys(present).length + 1} entry points into dist/`);
