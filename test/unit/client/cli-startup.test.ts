/**
 * What the command lines load before their command runs (start-up is most of a short
 * command's time: `ddfs cat` of a small tag, `disco status`): checked on the builds'
 * metafiles, not by timing. The builds are made in memory with scripts/build.mjs's options.
 */
import { type BuildOptions, build, type Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { ddfsBuild, splitBuild, startupGraph, workerBuild } from '../../../scripts/build.mjs';

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
  it('is one file that imports no package and holds neither dispy, the daemons nor the job side', () => {
    const g = startupGraph(ddfs, 'dist/cli/ddfs.js');
    const imports = ddfs.outputs['dist/cli/ddfs.js'].imports;
    expect(imports.filter((i) => i.kind === 'import-statement' && !i.path.startsWith('node:'))).toEqual([]);
    expect(g.sources.filter((s) => NOT_AT_START.test(s))).toEqual([]);
    expect(g.sources).toContain('src/cli/ddfs-commands.ts');
  });

  it('loads the job side (-j, -R, -T) from the split build when a command needs it', () => {
    const dynamic = ddfs.outputs['dist/cli/ddfs.js'].imports.filter((i) => i.kind === 'dynamic-import');
    expect(dynamic.map((i) => i.path).sort()).toEqual(['./context.js', './ddfs-xcat.js', './run-module.js']);
    for (const name of ['context', 'ddfs-xcat', 'run-module'])
      expect(split.outputs).toHaveProperty(`dist/cli/${name}.js`);
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
