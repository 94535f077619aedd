/**
 * The original's job option names (Disco 0.2–0.4) and the job-function helpers as the client
 * sends them: old names are accepted with a deprecation warning, `nrMaps`/`memSortLimit`
 * become the limits that stand for them, and every helper travels by its API name.
 */
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import type { IndexReader } from '../../../src/client/inputs.js';
import { canonicalOptionName, normalizeOptions } from '../../../src/client/job-options.js';
import { buildJobPack } from '../../../src/client/jobpack-builder.js';
import { loadSettings } from '../../../src/common/settings.js';
import * as lib from '../../../src/index.js';
import { WORKER_API_NAMES } from '../../../src/protocol/jobdata.js';
import { workerApi } from '../../../src/worker/api.js';

const settings = loadSettings({ DISCO_JOB_OWNER: 'tester@host', DISCO_PORT: '8989' });
const noIndex: IndexReader = async (url) => {
  throw new Error(`unexpected index read ${url}`);
};
const ctx = { settings, workerRuntime: () => Buffer.from('worker'), readIndex: noIndex };
const map = (line: string) => [[line, 1]];

let warn: MockInstance<typeof process.emitWarning>;
beforeEach(() => {
  warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
});
afterEach(() => warn.mockRestore());
const warnings = () => warn.mock.calls.map((c) => String(c[0]));

describe('old job option names', () => {
  it('nrMaps / nr_maps limit the tasks running at once (scheduler max_cores), with a warning', async () => {
    const base = { name: 'Old', input: ['raw://a', 'raw://b'], map };
    const plain = await buildJobPack(base, ctx);
    expect(plain.jobdict.scheduler.max_cores).toBeUndefined();
    expect((await buildJobPack({ ...base, nrMaps: 3 }, ctx)).jobdict.scheduler.max_cores).toBe(3);
    const both = await buildJobPack({ ...base, nr_maps: 3, scheduler: { max_cores: 2 } } as never, ctx);
    expect(both.jobdict.scheduler.max_cores).toBe(2);
    const smaller = await buildJobPack(
      { ...base, nrMaps: 1, scheduler: { maxCores: 8, forceLocal: true } },
      ctx,
    );
    expect(smaller.jobdict.scheduler).toEqual({ max_cores: 1, force_local: true });
    await expect(buildJobPack({ ...base, nrMaps: 0 }, ctx)).rejects.toThrow(
      /nrMaps must be a positive integer/,
    );
    expect(warnings()).toEqual(
      expect.arrayContaining([
        "job option 'nrMaps' is deprecated; use 'scheduler.maxCores'",
        "job option 'nr_maps' is deprecated; use 'scheduler.maxCores'",
      ]),
    );
  });

  it('memSortLimit / mem_sort_limit become the sort buffer size, unless sortBufferSize is given', async () => {
    const base = { name: 'Old', input: ['raw://a'], map, sort: true };
    expect((await buildJobPack({ ...base, memSortLimit: 4096 }, ctx)).jobdata.sortBufferSize).toBe(4096);
    expect((await buildJobPack({ ...base, mem_sort_limit: '2M' } as never, ctx)).jobdata.sortBufferSize).toBe(
      2 * 1024 * 1024,
    );
    const both = await buildJobPack({ ...base, memSortLimit: 4096, sortBufferSize: '1K' }, ctx);
    expect(both.jobdata.sortBufferSize).toBe(1024);
    expect(warnings()).toEqual(
      expect.arrayContaining([
        "job option 'memSortLimit' is deprecated; use 'sortBufferSize'",
        "job option 'mem_sort_limit' is deprecated; use 'sortBufferSize'",
      ]),
    );
  });

  it('the writers (deprecated in 0.3) and init functions (0.4) still work, with a warning once each', () => {
    const fn = () => [];
    const o = normalizeOptions({ mapInit: fn, reduce_init: fn, mapWriter: fn, reduce_writer: fn });
    expect(Object.keys(o).sort()).toEqual(['mapInit', 'mapWriter', 'reduceInit', 'reduceWriter']);
    normalizeOptions({ mapInit: fn });
    expect(warnings()).toEqual([
      "job option 'mapInit' is deprecated; use 'mapInputStream or mapReader'",
      "job option 'reduce_init' is deprecated; use 'reduceInputStream or reduceReader'",
      "job option 'mapWriter' is deprecated; use 'mapOutputStream (a function ending the chain with add(key, value))'",
      "job option 'reduce_writer' is deprecated; use 'reduceOutputStream (a function ending the chain with add(key, value))'",
    ]);
  });

  it('a Job subclass may still say `static nr_maps` / `static mem_sort_limit`', async () => {
    class Old extends lib.Job {
      static map = map;
      static nr_maps = 2;
      static mem_sort_limit = 8192;
    }
    const built = await buildJobPack(new Old({ settings }).jobOptions({ input: ['raw://x'] }), ctx);
    expect(built.jobdict.scheduler.max_cores).toBe(2);
    expect(built.jobdata.sortBufferSize).toBe(8192);
  });
  // Last: the warnings above are once per process.
  it('every option name of the original documents is accepted', () => {
    const original = [
      // Disco 0.2 Job
      'name',
      'input',
      'map',
      'map_reader',
      'map_writer',
      'reduce',
      'reduce_reader',
      'reduce_writer',
      'partition',
      'combiner',
      'nr_maps',
      'nr_reduces',
      'sort',
      'params',
      'mem_sort_limit',
      'ext_params',
      'required_files',
      'required_modules',
      'status_interval',
      'profile',
      // 0.3 JobDict and 0.4 classic Worker
      'map_init',
      'map_input_stream',
      'map_output_stream',
      'reduce_init',
      'reduce_input_stream',
      'reduce_output_stream',
      'partitions',
      'merge_partitions',
      'scheduler',
      'sort_buffer_size',
      'save',
      'owner',
    ];
    for (const name of original) expect(canonicalOptionName(name), name).not.toBeNull();
    expect(canonicalOptionName('map_input_stream')).toBe('mapInputStream');
    expect(canonicalOptionName('nr_maps')).toBe('nrMaps');
    expect(canonicalOptionName('mem_sort_limit')).toBe('memSortLimit');
  });
});

describe('job-function helpers travel by name', () => {
  const helpers = [
    'reReader',
    'gzipReader',
    'gzipLineReader',
    'netstrReader',
    'netstrWriter',
    'oldNetstrReader',
    'objectReader',
    'objectWriter',
    'discoInputStream',
    'ignoreCorruptInputStream',
    'discoOutputStream',
    'taskInputStream',
    'taskOutputStream',
    'makeRangePartition',
    'notifier',
    'parseDir',
    'jobname',
  ] as const;

  it('each is a worker API name, the same function in the public index and in the worker', () => {
    const index = lib as unknown as Record<string, unknown>;
    const api = workerApi as unknown as Record<string, unknown>;
    for (const name of helpers) {
      expect(WORKER_API_NAMES, name).toContain(name);
      expect(typeof index[name], name).toBe('function');
      expect(api[name], name).toBe(index[name]);
    }
  });

  it('the client sends them as their names, and a range partition function as its source', async () => {
    const index = lib as unknown as Record<string, never>;
    const built = await buildJobPack(
      {
        name: 'Helpers',
        input: ['raw://1'],
        map,
        mapInputStream: helpers.map((n) => index[n]),
        mapReader: lib.gzipLineReader,
        mapWriter: lib.objectWriter,
        partition: lib.makeRangePartition(0, 10),
      },
      ctx,
    );
    const fns = built.jobdata.functions;
    expect(fns.mapInputStream).toEqual(helpers.map((n) => ({ source: n })));
    expect(fns.mapReader).toEqual({ source: 'gzipLineReader' });
    expect(fns.mapWriter).toEqual({ source: 'objectWriter' });
    expect(fns.partition).toEqual({
      source: expect.stringMatching(/^function anonymous\(key,nrPartitions,_params/),
    });
  });
});
