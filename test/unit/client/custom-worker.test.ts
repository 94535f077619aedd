/** The job pack of a custom `Worker` (src/client/custom-worker.ts): hooks, defaults, errors. */
import { describe, expect, it } from 'vitest';
import { LineStats, LineStatsJob } from '../../../examples/custom-worker.js';
import type { IndexReader } from '../../../src/client/inputs.js';
import { buildJobPack } from '../../../src/client/jobpack-builder.js';
import { loadSettings } from '../../../src/common/settings.js';
import { Job, Worker } from '../../../src/index.js';
import {
  JobDataSchema,
  WORKER_API_GLOBAL,
  WORKER_MODULE_PATH,
  WORKER_PATH,
  WORKER_RUNTIME_VERSION,
} from '../../../src/protocol/jobdata.js';
import { decodeJobPack } from '../../../src/protocol/jobpack.js';
import { Configurable, hiddenWorker } from './fixtures/custom-workers.js';
import { unzip } from './zip-entries.js';

const settings = loadSettings({ DISCO_JOB_OWNER: 'tester@host', DISCO_PORT: '8989' });
const runtime = Buffer.from('#!/usr/bin/env node\n');
const noIndex: IndexReader = async (url) => {
  throw new Error(`unexpected index read ${url}`);
};
const ctx = { settings, workerRuntime: () => runtime, readIndex: noIndex };

describe('custom worker job pack', () => {
  it("holds the worker's job dict fields, environment, job home files and fields", async () => {
    const job = new LineStatsJob({ settings });
    const built = await job.build({ input: ['raw://a b', 'raw://c'], jobenvs: { EXTRA: '1' } });
    expect(built.jobdict).toMatchObject({
      prefix: 'LineStatsJob',
      worker: WORKER_PATH,
      'map?': true,
      'reduce?': true,
      nr_reduces: 1,
      owner: 'tester@host',
      ts_worker: WORKER_RUNTIME_VERSION,
      input: ['raw://a b', 'raw://c'],
      line_stats: { format: 1, inputs: 2 },
    });
    expect(built.jobenvs).toEqual({ LINE_STATS_WORD: "[\\p{L}\\p{N}']+", EXTRA: '1' });
    // The #private stop word list is a file, not a field.
    expect(built.jobdata.worker).toEqual({
      module: WORKER_MODULE_PATH,
      export: ['LineStats'],
      fields: { foldCase: true },
    });
    expect(JobDataSchema.parse(built.jobdata)).toEqual(built.jobdata);
    const files = new Map((await unzip(decodeJobPack(built.pack).jobhome)).map((f) => [f.name, f.data]));
    expect([...files.keys()].sort()).toEqual([WORKER_PATH, 'lib/stopwords.txt', WORKER_MODULE_PATH].sort());
    expect(files.get('lib/stopwords.txt')?.toString()).toBe('a\nan\nand\nof\nthe\nto');
    // The bundle reaches the library through the worker's API object, never a copy of it.
    const code = files.get(WORKER_MODULE_PATH)?.toString() ?? '';
    expect(code).toContain(WORKER_API_GLOBAL);
    expect(code).not.toContain('class ProtocolClient');
  });

  it('defaults: a plain Job is named after its worker; one map per input, no reduce', async () => {
    const job = new Job({ worker: new Configurable(), input: ['raw://x'] });
    const built = await job.build();
    expect(built.jobdict).toMatchObject({
      prefix: 'Configurable',
      'map?': true,
      'reduce?': false,
      nr_reduces: 1,
    });
    expect(built.jobdata.worker?.fields).toEqual({ mode: 'plain' });
  });

  it('warmStart false leaves the warm pool out (no ts_worker)', async () => {
    const w = Object.assign(new Configurable(), { mode: 'cold' as const });
    const built = await buildJobPack({ worker: w, input: ['raw://x'] }, ctx);
    expect(built.jobdict.ts_worker).toBeUndefined();
    expect(built.jobdict.worker).toBe(WORKER_PATH);
  });

  it('refuses what cannot work, saying how to fix it', async () => {
    const build = (worker: Worker, extra: object = {}) =>
      buildJobPack({ worker, input: ['raw://x'], ...extra }, ctx);
    await expect(build(hiddenWorker())).rejects.toThrow(
      /Hidden is not exported by .*custom-workers\.ts.*export it/,
    );
    class NoModule extends Worker {
      override run(): void {}
    }
    await expect(build(new NoModule())).rejects.toThrow(/static module = import\.meta\.url/);
    await expect(build(Object.assign(new Configurable(), { mode: 'badEnv' }))).rejects.toThrow(
      /Configurable\.jobEnvs\(\): N must be a string/,
    );
    await expect(build(Object.assign(new Configurable(), { mode: 'badDict' }))).rejects.toThrow(
      /Configurable\.jobDict\(\): nr_reduces/,
    );
    await expect(buildJobPack({ worker: { run() {} } as unknown as Worker, input: [] }, ctx)).rejects.toThrow(
      /instance of a class extending Worker/,
    );
    // buildJobPack itself: the default name prefix.
    expect((await build(new LineStats())).jobdict.prefix).toBe('Job');
  });
});
