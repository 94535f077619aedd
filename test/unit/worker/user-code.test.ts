import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataError, JobError } from '../../../src/common/errors.js';
import { encodeParams, WORKER_API_NAMES } from '../../../src/protocol/jobdata.js';
import { workerApi } from '../../../src/worker/api.js';
import { classifyFailure } from '../../../src/worker/failure.js';
import { Params } from '../../../src/worker/params.js';
import {
  compileFunction,
  compileSource,
  decodeJobParams,
  importJobModule,
  resolveJobFunctions,
  type UserFunction,
} from '../../../src/worker/user-code.js';
import { JOBDATA_DEFAULTS, tempDir } from './helpers.js';

describe('function sources', () => {
  it('evaluates functions, arrows, methods and generator methods', () => {
    const obj = {
      m(x: number) {
        return x + 1;
      },
      *g(x: number) {
        yield x;
      },
    };
    expect((compileFunction('function f(x) { return x * 2; }') as (x: number) => number)(2)).toBe(4);
    expect((compileFunction('(x) => x * 3 // trailing comment') as (x: number) => number)(2)).toBe(6);
    expect((compileFunction(obj.m.toString()) as (x: number) => number)(1)).toBe(2);
    expect([...(compileFunction(obj.g.toString()) as (x: number) => Iterable<number>)(7)]).toEqual([7]);
    // A static method's source text, as Function#toString gives it.
    const staticMap = 'map(e) { return [[e, 1]]; }';
    expect((compileFunction(staticMap) as (e: string) => unknown)('w')).toEqual([['w', 1]]);
  });

  it('has every worker API name in scope', () => {
    const f = compileFunction(
      '(iter) => { const out = []; for (const [k, vs] of kvgroup(sorted(iter))) out.push([k, sum(vs)]); return out; }',
    ) as (it: unknown) => unknown;
    expect(
      f([
        ['b', 1],
        ['a', 2],
        ['b', 3],
      ]),
    ).toEqual([
      ['a', 2],
      ['b', 4],
    ]);
    for (const name of WORKER_API_NAMES)
      expect(compileSource(name)).toBe((workerApi as Record<string, unknown>)[name]);
    expect(() => (compileFunction('() => err("stop")') as () => void)()).toThrow(JobError);
    expect(() => (compileFunction('() => dataErr("again")') as () => void)()).toThrow(DataError);
    expect(typeof compileSource('require("node:path").join')).toBe('function');
  });

  it('treats a null source as "none" and rejects garbage', () => {
    expect(compileSource('null')).toBeNull();
    expect(() => compileFunction('{ nope')).toThrow(SyntaxError);
    expect(() => compileFunction('42')).toThrow(/not a function/);
  });
});

describe('params', () => {
  it('decodes functions and Params, fresh for every task', () => {
    const p = new Params({ n: 2, twice: (x: number) => x * 2, nested: { list: [1, undefined] } });
    const raw = JSON.parse(JSON.stringify(encodeParams(p)));
    const a = decodeJobParams(raw) as Params;
    const b = decodeJobParams(raw) as Params;
    expect(a).toBeInstanceOf(Params);
    expect((a.twice as (x: number) => number)(21)).toBe(42);
    expect(a.nested).toEqual({ list: [1, undefined] });
    (a.nested as { list: unknown[] }).list.push(9);
    expect((b.nested as { list: unknown[] }).list).toEqual([1, undefined]);
    expect(decodeJobParams({ $undef: 1 })).toBeInstanceOf(Params);
    expect(decodeJobParams({ x: 1 })).toEqual({ x: 1 });
  });
});

describe('job modules', () => {
  it('resolves {export} references through the API global, binding class members', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'job.mjs');
    writeFileSync(
      file,
      `const { Job, kvgroup, sum } = globalThis.__discoWorkerApi;
       export class WordCount extends Job {
         static words(line) { return line.split(' '); }
         static map(line) { return this.words(line).map((w) => [w, 1]); }
         static *reduce(iter) { for (const [w, cs] of kvgroup(iter)) yield [w, sum(cs)]; }
       }
       export const helpers = { reader: null };
       export function partition(key, n) { return 0; }`,
    );
    const mod = await importJobModule(file);
    const fns = resolveJobFunctions(
      {
        ...JOBDATA_DEFAULTS,
        module: 'job.mjs',
        functions: {
          map: { export: ['WordCount', 'map'] },
          reduce: { export: ['WordCount', 'reduce'] },
          partition: { export: ['partition'] },
          mapReader: { export: ['helpers', 'reader'] },
          mapInputStream: [{ source: '(s) => s' }],
        },
        params: null,
      },
      mod,
    );
    expect(fns.map?.('a b')).toEqual([
      ['a', 1],
      ['b', 1],
    ]);
    expect([
      ...((fns.reduce as UserFunction)([
        ['a', 1],
        ['a', 2],
      ]) as Iterable<unknown>),
    ]).toEqual([['a', 3]]);
    expect(fns.partition?.('k', 3)).toBe(0);
    expect(fns.mapReader).toBeNull();
    expect(fns.mapInputStream).toHaveLength(1);
    expect('combiner' in fns).toBe(false);
    expect(() =>
      resolveJobFunctions(
        { ...JOBDATA_DEFAULTS, functions: { map: { export: ['Nope', 'map'] } }, params: null },
        mod,
      ),
    ).toThrow(/no Nope.map/);
  });
});

describe('failure classification', () => {
  it('retries data, I/O and memory errors; fails the job otherwise', () => {
    expect(classifyFailure(new DataError('bad hunk', 'u')).kind).toBe('ERROR');
    const enoent = Object.assign(new Error('ENOENT: no such file'), {
      code: 'ENOENT',
      syscall: 'open',
      errno: -2,
    });
    expect(classifyFailure(enoent).kind).toBe('ERROR');
    expect(classifyFailure(new RangeError('Array buffer allocation failed')).kind).toBe('ERROR');
    expect(classifyFailure(new JobError('stop')).text).toBe('stop');
    const f = classifyFailure(new TypeError('x is undefined'));
    expect(f.kind).toBe('FATAL');
    expect(f.text).toMatch(/TypeError: x is undefined\n\s+at /);
  });
});
