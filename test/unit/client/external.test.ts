/** `external()` and `extParams` in job packs: what the pack carries, and the errors for bad input. */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeExtParams, external, isExternalProgram } from '../../../src/client/external.js';
import type { IndexReader } from '../../../src/client/inputs.js';
import { normalizeOptions } from '../../../src/client/job-options.js';
import { buildJobPack } from '../../../src/client/jobpack-builder.js';
import { loadSettings } from '../../../src/common/settings.js';
import { decodeNetstringParams } from '../../../src/protocol/external.js';
import { JobDataSchema } from '../../../src/protocol/jobdata.js';
import { decodeJobPack } from '../../../src/protocol/jobpack.js';
import { unzip } from './zip-entries.js';

const noIndex: IndexReader = async (url) => {
  throw new Error(`unexpected index read ${url}`);
};
const ctx = {
  settings: loadSettings({ DISCO_JOB_OWNER: 'tester@host' }),
  workerRuntime: () => Buffer.from('worker'),
  readIndex: noIndex,
};

let dir: string;
const file = (name: string) => path.join(dir, name);

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'disco-ext-unit-'));
  writeFileSync(file('cmap'), '#!/bin/sh\n', { mode: 0o750 });
  writeFileSync(file('helper.sh'), '#!/bin/sh\n', { mode: 0o755 });
  writeFileSync(file('cmap.conf'), 'lang=en\n', { mode: 0o640 });
  writeFileSync(file('plain'), 'not a program\n', { mode: 0o644 });
  chmodSync(file('cmap'), 0o750);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('external programs in job packs', () => {
  it('carries the program and its files flat under ext/<mode>/, modes kept, and refers to it', async () => {
    const built = await buildJobPack(
      {
        input: ['raw://a'],
        map: external([file('cmap'), file('cmap.conf')]),
        reduce: external([file('helper.sh')]),
        extParams: { lang: 'en', 'two words': 'x\ny' },
      },
      ctx,
    );
    const pack = decodeJobPack(built.pack);
    const home = new Map((await unzip(pack.jobhome)).map(({ name, ...file }) => [name, file]));
    expect(home.get('ext/map/cmap')).toEqual({ mode: 0o750, data: Buffer.from('#!/bin/sh\n') });
    expect(home.get('ext/map/cmap.conf')).toEqual({ mode: 0o640, data: Buffer.from('lang=en\n') });
    expect(home.get('ext/reduce/helper.sh')?.mode).toBe(0o755);
    const data = JobDataSchema.parse(JSON.parse(Buffer.from(pack.jobdata).toString()));
    expect(data.functions.map).toEqual({ external: { dir: 'ext/map', program: 'cmap' } });
    expect(data.functions.reduce).toEqual({ external: { dir: 'ext/reduce', program: 'helper.sh' } });
    expect(pack.jobdict['map?']).toBe(true);
    expect(pack.jobdict['reduce?']).toBe(true);
    expect(decodeNetstringParams(Buffer.from(data.extParams ?? '')).entries).toEqual([
      ['lang', 'en'],
      ['two words', 'x\ny'],
    ]);
  });

  it('gives a string extParams as it is; no extParams, no field', async () => {
    const a = await buildJobPack(
      { input: ['raw://a'], map: external([file('cmap')]), extParams: 'raw\0bytes' },
      ctx,
    );
    expect(a.jobdata.extParams).toBe('raw\0bytes');
    const b = await buildJobPack({ input: ['raw://a'], map: external([file('cmap')]) }, ctx);
    expect(b.jobdata.extParams).toBeUndefined();
  });

  it('accepts the original name ext_params', () => {
    expect(normalizeOptions({ ext_params: 'x' })).toEqual({ extParams: 'x' });
  });

  it('says what is wrong with bad input', async () => {
    const build = (o: object) => buildJobPack({ input: ['raw://a'], ...o }, ctx);
    await expect(build({ map: external([file('missing')]) })).rejects.toThrow(
      /external map: file .*missing does not exist/,
    );
    await expect(build({ map: external([file('plain')]) })).rejects.toThrow(
      /the program .*plain is not executable \(chmod \+x/,
    );
    await expect(build({ map: external([file('cmap'), file('helper.sh'), dir]) })).rejects.toThrow(
      /is not a regular file/,
    );
    const other = path.join(dir, 'sub');
    mkdirSync(other, { recursive: true });
    writeFileSync(path.join(other, 'cmap.conf'), 'again');
    await expect(
      build({ map: external([file('cmap'), file('cmap.conf'), path.join(other, 'cmap.conf')]) }),
    ).rejects.toThrow(/same file name cmap.conf/);
    await expect(
      build({ map: (e: string) => [[e, 1]], reduce: external([file('cmap')]), reduceStyle: 'out' }),
    ).rejects.toThrow(/external reduce writes its own results: reduceStyle 'out'/);
    await expect(build({ map: (e: string) => [[e, 1]], combiner: external([file('cmap')]) })).rejects.toThrow(
      /only map and reduce can be external programs, not combiner/,
    );
    await expect(build({ map: (e: string) => [[e, 1]], extParams: { a: 'b' } })).rejects.toThrow(
      /extParams is for external programs/,
    );
    await expect(build({ map: external([file('cmap')]), extParams: { a: 1 } })).rejects.toThrow(
      /extParams.a must be a string/,
    );
    await expect(build({ map: external([file('cmap')]), extParams: ['a'] })).rejects.toThrow(
      /extParams must be a string .* or an object of strings/,
    );
    expect(() => external([])).toThrow(/give a list of paths/);
  });

  it('external() records paths only (the worker imports job modules that call it)', () => {
    const p = external(['/nowhere/cmap', 'conf']);
    expect(isExternalProgram(p)).toBe(true);
    expect(p.program).toBe('cmap');
    expect(isExternalProgram({ files: ['x'] })).toBe(false);
    expect(encodeExtParams('as is')).toBe('as is');
  });
});
