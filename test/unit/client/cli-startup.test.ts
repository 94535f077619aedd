/**
 * What the command lines load before their command runs (start-up is most of a short
 * command's time: `ddfs cat` of a small tag, `disco status`): checked on the builds'
 * metafiles (made in memory with scripts/build.mjs's options), and for `ddfs` by running it,
 * not by timing.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type BuildOptions, build, type Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { ddfsBuild, splitBuild, startupGraph, workerBuild } from '../../../scripts/build.mjs';
import { PACKAGE_ROOT } from '../../../src/common/settings.js';

/** Sources of the daemons, dispy, and the job side of the client (a job module loader, zod). */
const NOT_AT_START =
  /^src\/(dispy|master|node)\/|^src\/index\.ts$|^src\/client\/(disco|bundle|job|jobpack-builder)\.ts$/;

async function metafileOf(options: BuildOptions): Promise<Metafile> {
  const r = await build({ ...options, write: false, logLevel: 'silent' });
  if (!r.metafile) throw new Error('no metafile');
  return r.metafile;
}

let split: Metafile;
let ddfs: Metafile;
let worker: Metafile;
beforeAll(async () => {
  [split, ddfs, worker] = await Promise.all([
    metafileOf(splitBuild),
    metafileOf(ddfsBuild),
    metafileOf(workerBuild),
  ]);
}, 60_000);

describe('ddfs', () => {
  const out = () => ddfs.outputs['dist/cli/ddfs.cjs'];

  it('is one file that holds neither dispy, the daemons nor the job side', () => {
    const sources = Object.keys(out().inputs);
    expect(sources.filter((s) => NOT_AT_START.test(s))).toEqual([]);
    expect(sources).toContain('src/cli/ddfs-commands.ts');
    // Packages: msgpackr only, required where first used (records/codec.ts).
    const packages = out().imports.filter((i) => !i.path.startsWith('node:') && !i.path.startsWith('.'));
    expect(packages.map((i) => `${i.kind} ${i.path}`)).toEqual(['require-call msgpackr']);
  });

  it('loads the job side (-j, -R, -T) from the split build when a command needs it', () => {
    const dynamic = out().imports.filter((i) => i.kind === 'dynamic-import');
    expect([...new Set(dynamic.map((i) => i.path))].sort()).toEqual([
      './context.js',
      './ddfs-xcat.js',
      './run-module.js',
    ]);
    for (const name of ['context', 'ddfs-xcat', 'run-module'])
      expect(split.outputs).toHaveProperty(`dist/cli/${name}.js`);
    // xcat gets its inputs resolved by the bundle: no second copy of the commands and chunker.
    const xcat = startupGraph(split, 'dist/cli/ddfs-xcat.js').sources;
    expect(
      xcat.filter((f) => /^src\/cli\/ddfs-commands\.ts$|^src\/ddfs\/client\/chunker\.ts$/.test(f)),
    ).toEqual([]);
  });

  /** The packages and Node built-ins `ddfs <args>` has loaded when it exits. */
  function loadedBy(args: string[]): { packages: string[]; builtins: string[] } {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cli-startup-'));
    const hook = path.join(dir, 'hook.cjs');
    writeFileSync(
      hook,
      `process.on('exit', () => process.stderr.write('LOADED ' + JSON.stringify({
        packages: Object.keys(require.cache).filter((f) => f.includes('/node_modules/')),
        builtins: process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13)),
      }) + '\\n'));`,
    );
    try {
      const r = spawnSync(
        process.execPath,
        ['-r', hook, path.join(PACKAGE_ROOT, 'dist/cli/ddfs.cjs'), ...args],
        {
          encoding: 'utf8',
          env: { ...process.env, DISCO_SETTINGS_FILE: path.join(dir, 'none') },
        },
      );
      const line = r.stderr.split('\n').find((l) => l.startsWith('LOADED '));
      if (!line) throw new Error(`no LOADED line: ${r.stderr}`);
      return JSON.parse(line.slice('LOADED '.length)) as { packages: string[]; builtins: string[] };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('loads Node built-ins as its modules first run (CommonJS): --help needs no network nor zlib', () => {
    const help = loadedBy(['--help']);
    expect(help.packages).toEqual([]);
    for (const m of ['zlib', 'crypto', 'http', 'https', 'worker_threads'])
      expect(help.builtins, m).not.toContain(m);
    // A command loads what it uses, and still no package (msgpackr is for records).
    const cat = loadedBy(['cat', 'raw://x']);
    expect(cat.packages).toEqual([]);
  });
});

describe('disco', () => {
  it('imports no package, nor the client, before its command runs', () => {
    const g = startupGraph(split, 'dist/cli/disco.js');
    expect(g.packages).toEqual([]);
    expect(g.sources.filter((s) => NOT_AT_START.test(s) || s.startsWith('src/client/'))).toEqual([]);
  });
});

describe('the record codec', () => {
  it('loads msgpackr on first use, not with its module (ddfs push and cat never need it)', () => {
    const imports = split.inputs['src/protocol/records/codec.ts'].imports;
    expect(imports.filter((i) => i.path === 'msgpackr' && i.kind === 'import-statement')).toEqual([]);
    expect(imports.some((i) => i.path === 'msgpackr' && i.kind === 'require-call')).toBe(true);
  });

  it('the worker holds msgpackr itself (it runs in job homes, without node_modules)', () => {
    const g = startupGraph(worker, 'dist/worker.js');
    expect(g.packages).toEqual([]);
    expect(g.sources.some((s) => s.startsWith('node_modules/msgpackr/'))).toBe(true);
  });
});
