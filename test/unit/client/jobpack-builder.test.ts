import { describe, expect, it } from 'vitest';
import type { IndexReader } from '../../../src/client/inputs.js';
import { workerRuntime } from '../../../src/client/jobhome.js';
import { buildJobPack, parseByteSize } from '../../../src/client/jobpack-builder.js';
import { loadSettings } from '../../../src/common/settings.js';
import { chainReader } from '../../../src/index.js';
import {
  JOB_MODULE_PATH,
  JobDataSchema,
  WORKER_PATH,
  WORKER_RUNTIME_VERSION,
} from '../../../src/protocol/jobdata.js';
import { decodeJobPack } from '../../../src/protocol/jobpack.js';
import { Count } from './fixtures/count-job.js';
import { unzip } from './zip-entries.js';

const settings = loadSettings({ DISCO_JOB_OWNER: 'tester@host', DISCO_PORT: '8989' });
const worker = Buffer.from('#!/usr/bin/env node\nconsole.log("fake worker")\n');
const noIndex: IndexReader = async (url) => {
  throw new Error(`unexpected index read ${url}`);
};
const ctx = { settings, workerRuntime: () => worker, readIndex: noIndex };

describe('job pack builder', () => {
  it('builds a valid pack: jobdict, jobenvs, job home and jobdata', async () => {
    const built = await buildJobPack(
      {
        name: 'WordCount',
        input: ['raw://a b a', ['http://h1/x', 'http://h2/x']],
        map: (line: string) => line.split(' ').map((w) => [w, 1]),
        *reduce(iter: Iterable<[string, number]>) {
          yield* iter;
        },
        partitions: 3,
        sort: true,
        params: { pattern: 'x', f: (s: string) => s.length },
        scheduler: { maxCores: 4, forceLocal: true },
        requiredFiles: { 'words.txt': 'alpha\nbeta\n' },
      },
      ctx,
    );
    const pack = decodeJobPack(built.pack);
    expect(pack.jobdict).toEqual({
      input: ['raw://a b a', ['http://h1/x', 'http://h2/x']],
      worker: WORKER_PATH,
      'map?': true,
      'reduce?': true,
      nr_reduces: 3,
      prefix: 'WordCount',
      scheduler: { max_cores: 4, force_local: true },
      owner: 'tester@host',
      ts_worker: WORKER_RUNTIME_VERSION,
    });
    expect(pack.jobenvs).toEqual({ LD_LIBRARY_PATH: 'lib' });

    const files = await unzip(pack.jobhome);
    const byName = new Map(files.map((f) => [f.name, f]));
    expect([...byName.keys()].sort()).toEqual([WORKER_PATH, 'lib/words.txt']);
    expect(byName.get(WORKER_PATH)?.mode).toBe(0o755);
    expect(byName.get(WORKER_PATH)?.data.equals(worker)).toBe(true);
    expect(byName.get('lib/words.txt')?.data.toString()).toBe('alpha\nbeta\n');

    const jobdata = JobDataSchema.parse(JSON.parse(Buffer.from(pack.jobdata).toString()));
    expect(jobdata.module).toBeNull();
    expect(jobdata.partitions).toBe(3);
    expect(jobdata.sort).toBe(true);
    expect(jobdata.reduceStyle).toBe('iter');
    expect(jobdata.statusInterval).toBe(100000);
    const map = jobdata.functions.map as { source: string };
    expect(new Function(`return (${map.source})`)()('x y')).toEqual([
      ['x', 1],
      ['y', 1],
    ]);
    expect((jobdata.functions.reduce as { source: string }).source).toMatch(/^function\* \(iter\)/);
    expect(jobdata.params).toEqual({ pattern: 'x', f: { $fn: '(s) => s.length' } });
  });

  it('references module functions by export and bundles the module', async () => {
    const built = await new Count({ settings: { DISCO_JOB_OWNER: 'o' } }).build({ input: ['raw://x'] });
    expect(built.jobdict.prefix).toBe('Count');
    expect(built.jobdict.nr_reduces).toBe(2);
    expect(built.jobdata.module).toBe(JOB_MODULE_PATH);
    expect(built.jobdata.functions.map).toEqual({ export: ['Count', 'map'] });
    expect(built.jobdata.functions.reduce).toEqual({ export: ['Count', 'reduce'] });
    expect(built.files).toContain(JOB_MODULE_PATH);
    const files = await unzip(decodeJobPack(built.pack).jobhome);
    const mod = files.find((f) => f.name === JOB_MODULE_PATH);
    expect(mod?.data.toString()).toContain('__discoWorkerApi');
  });

  it('sends worker API functions by name', async () => {
    const built = await buildJobPack(
      { input: ['raw://x'], map: (e: unknown) => [[e, 1]], mapReader: chainReader },
      ctx,
    );
    expect(built.jobdata.functions.mapReader).toEqual({ source: 'chainReader' });
    expect(built.jobdict.prefix).toBe('Job');
    expect(built.jobdict['reduce?']).toBe(false);
  });

  it('computes nr_reduces and inputs like the classic worker', async () => {
    const index: Record<string, { label: string; url: string }[]> = {
      'dir://n1/disco/n1/ab/J/.disco/map-index.txt.gz': [
        { label: '1', url: 'disco://n1/p/part-1' },
        { label: '0', url: 'disco://n1/p/part-0' },
      ],
      'dir://n2/disco/n2/ab/J/.disco/map-index.txt.gz': [{ label: '4', url: 'disco://n2/p/part-4' }],
    };
    const readIndex: IndexReader = async (url) => index[url] ?? [];
    const dirs = Object.keys(index);
    const reduce = (iter: Iterable<unknown>) => iter;

    // Reduce only, dir:// inputs: inputs kept, nr_reduces = 1 + the largest label.
    const r = await buildJobPack({ input: dirs, reduce }, { ...ctx, readIndex });
    expect(r.jobdict.input).toEqual(dirs);
    expect(r.jobdict.nr_reduces).toBe(5);
    expect(r.jobdict['map?']).toBe(false);
    // merge_partitions (old name accepted) forces one reduce.
    const m = await buildJobPack({ input: dirs, reduce, merge_partitions: true } as never, {
      ...ctx,
      readIndex,
    });
    expect(m.jobdict.nr_reduces).toBe(1);
    // With a map, dir:// inputs are expanded to their files (sorted by label), as replica lists.
    const withMap = await buildJobPack(
      { input: [dirs[0]], map: (x: unknown) => [[x, 1]], partitions: null },
      {
        ...ctx,
        readIndex,
      },
    );
    expect(withMap.jobdict.input).toEqual([['disco://n1/p/part-0'], ['disco://n1/p/part-1']]);
    expect(withMap.jobdict.nr_reduces).toBe(1);
    expect(withMap.jobdata.partitions).toBe(0);
    // Reduce only, plain inputs: one reduce.
    const plain = await buildJobPack({ input: ['raw://a'], reduce }, ctx);
    expect(plain.jobdict.nr_reduces).toBe(1);
  });

  it('detects the reduce(iter, out, params) style', async () => {
    const built = await buildJobPack(
      {
        input: ['raw://a'],
        reduce: (
          iter: Iterable<[unknown, unknown]>,
          out: { add(k: unknown, v: unknown): void },
          _p: unknown,
        ) => {
          for (const [k, v] of iter) out.add(k, v);
        },
      },
      ctx,
    );
    expect(built.jobdata.reduceStyle).toBe('out');
  });

  it('refuses bad jobs with clear errors', async () => {
    await expect(buildJobPack({ input: [] }, ctx)).rejects.toThrow(/map or a reduce/);
    await expect(buildJobPack({ name: 'a/b', map: () => [] }, ctx)).rejects.toThrow(/invalid prefix/);
    await expect(buildJobPack({ map: () => [], partitions: -1 }, ctx)).rejects.toThrow(/partitions/);
    await expect(buildJobPack({ map: () => [], partitons: 2 } as never, ctx)).rejects.toThrow(
      /unknown job options key 'partitons'/,
    );
    await expect(buildJobPack({ map: () => [], requiredFiles: { '../x': 'y' } }, ctx)).rejects.toThrow(
      /plain file name/,
    );
    expect(() => workerRuntime('/nonexistent/dist/worker.js')).toThrow(/run npm run build/);
  });

  it('parses sort buffer sizes', () => {
    expect(parseByteSize(1000)).toBe(1000);
    expect(parseByteSize('64K')).toBe(65536);
    expect(parseByteSize('1.5m')).toBe(1.5 * 1024 * 1024);
    expect(parseByteSize('10%')).toBeGreaterThan(1024);
    expect(() => parseByteSize('lots')).toThrow();
  });

  it('is fast when resubmitting the same module job', async () => {
    const job = new Count({ settings: { DISCO_JOB_OWNER: 'o' } });
    await job.build({ input: ['raw://x'] });
    const t0 = performance.now();
    await job.build({ input: ['raw://y'] });
    expect(performance.now() - t0).toBeLessThan(50);
  });
});
