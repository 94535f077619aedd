import { describe, expect, it } from 'vitest';
import { findExportPath, functionRef, functionSource } from '../../../src/client/function-ref.js';
import { chainReader } from '../../../src/index.js';
import * as mod from './fixtures/count-job.js';

/** Evaluate a source the way the worker does: as an expression. */
function evalSource(src: string): (...a: unknown[]) => unknown {
  return new Function(`return (${src}\n);`)() as (...a: unknown[]) => unknown;
}

describe('function references', () => {
  it('finds exports by identity: static members, prototype methods, object members', () => {
    expect(findExportPath(mod, mod.Count.map)).toEqual(['Count', 'map']);
    expect(findExportPath(mod, mod.Count.reduce)).toEqual(['Count', 'reduce']);
    expect(findExportPath(mod, mod.Upper.prototype.map)).toEqual(['Upper', 'prototype', 'map']);
    expect(findExportPath(mod, mod.plainMap)).toEqual(['plainMap']);
    expect(findExportPath(mod, mod.fns.reduce)).toEqual(['fns', 'reduce']);
    expect(findExportPath(mod, () => 1)).toBeNull();
  });

  it('finds inherited static members through the class chain', () => {
    // biome-ignore lint/complexity/noStaticOnlyClass: the shape of a Job subclass with static job functions
    class Base {
      static map(x: unknown) {
        return [[x, 1]];
      }
    }
    class Derived extends Base {}
    expect(findExportPath({ Derived }, Base.map)).toEqual(['Derived', 'map']);
  });

  it('prefers module exports, falls back to source', () => {
    expect(functionRef(mod.Count.map, { moduleExports: mod }, 'map')).toEqual({ export: ['Count', 'map'] });
    const own = (line: string) => [[line, 1]];
    const ref = functionRef(own, { moduleExports: mod }, 'map');
    expect('source' in ref && evalSource(ref.source)('x')).toEqual([['x', 1]]);
  });

  it('references worker API functions by name', () => {
    const apiNames = new Map<unknown, string>([[chainReader, 'chainReader']]);
    expect(functionRef(chainReader, { apiNames }, 'mapReader')).toEqual({ source: 'chainReader' });
  });

  it('turns method shorthand into function expressions', () => {
    const o = {
      map(line: string) {
        return [[line, 1]];
      },
      *gen(n: number) {
        yield n;
        yield n + 1;
      },
      async later(x: number) {
        return x * 2;
      },
      delete(x: number) {
        return -x;
      },
    };
    expect(evalSource(functionSource(o.map, 'map'))('a')).toEqual([['a', 1]]);
    expect([...(evalSource(functionSource(o.gen, 'gen'))(3) as Iterable<number>)]).toEqual([3, 4]);
    expect(functionSource(o.later, 'later')).toMatch(/^async function/);
    expect(evalSource(functionSource(o.delete, 'delete'))(2)).toBe(-2);
    // biome-ignore lint/complexity/noStaticOnlyClass: the shape of a Job subclass with static job functions
    class K {
      static *reduce(iter: Iterable<[string, number]>) {
        for (const kv of iter) yield kv;
      }
    }
    expect([...(evalSource(functionSource(K.reduce, 'reduce'))([['a', 1]]) as Iterable<unknown>)]).toEqual([
      ['a', 1],
    ]);
  });

  it('keeps ordinary functions and arrows as they are', () => {
    function named(a: number) {
      return a + 1;
    }
    expect(functionSource(named, 'f')).toBe(named.toString());
    const arrow = (a: number) => a * 3;
    expect(evalSource(functionSource(arrow, 'f'))(2)).toBe(6);
  });

  it('undoes test-runner import rewriting for worker API names only', () => {
    const viaRunner = new Function(
      'iter',
      'return __vi_import_0__.kvgroup((0, __vi_import_1__.sorted)(iter));',
    );
    expect(functionSource(viaRunner, 'reduce')).toContain('return kvgroup((0, sorted)(iter));');
    const own = new Function('x', 'return __vi_import_2__.myHelper(x);');
    expect(() => functionSource(own, 'map')).toThrow(/rewritten by the test runner/);
  });

  it('refuses what cannot travel as source', () => {
    expect(() => functionSource(Math.max, 'map')).toThrow(/built-in or bound/);
    expect(() => functionSource(((x: number) => x).bind(null), 'map')).toThrow(/built-in or bound/);
    expect(() => functionSource(class A {}, 'map')).toThrow(/class/);
    expect(() => functionRef('nope', {}, 'map')).toThrow(/must be a function/);
  });
});
