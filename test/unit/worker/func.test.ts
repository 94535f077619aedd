import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  defaultPartition,
  kvgroup,
  nopMap,
  nopReduce,
  sorted,
  sum,
  sumCombiner,
  sumReduce,
} from '../../../src/worker/func.js';
import {
  canonicalKey,
  compareKeys,
  fnv1aBytes,
  fnv1aString,
  keyHash,
} from '../../../src/worker/key-order.js';
import { bundle, tempDir } from './helpers.js';

describe('kvgroup', () => {
  it('groups consecutive equal keys lazily', () => {
    const groups: [string, number[]][] = [];
    for (const [k, vs] of kvgroup([
      ['a', 1],
      ['a', 2],
      ['b', 3],
      ['a', 4],
    ] as [string, number][]))
      groups.push([k, [...vs]]);
    expect(groups).toEqual([
      ['a', [1, 2]],
      ['b', [3]],
      ['a', [4]],
    ]);
  });

  it('skips what a group consumer leaves, like groupby', () => {
    const keys = [
      ...kvgroup([
        ['a', 1],
        ['a', 2],
        ['b', 3],
      ] as [string, number][]),
    ].map(([k]) => k);
    expect(keys).toEqual(['a', 'b']);
    const partial: [string, number[]][] = [];
    for (const [k, vs] of kvgroup([
      ['a', 1],
      ['a', 2],
      ['a', 3],
      ['b', 4],
    ] as [string, number][])) {
      const first = vs[Symbol.iterator]().next().value as number;
      partial.push([k, [first]]);
    }
    expect(partial).toEqual([
      ['a', [1]],
      ['b', [4]],
    ]);
  });

  it('groups structurally equal keys', () => {
    const g = [
      ...kvgroup([
        [['x', 1], 1],
        [['x', 1], 2],
      ] as [unknown, number][]),
    ];
    expect(g).toHaveLength(1);
  });

  it('works with sorted() as the word-count idiom', () => {
    const words = 'b a c a b a'.split(' ').map((w) => [w, 1] as [string, number]);
    const counts: [string, number][] = [];
    for (const [w, cs] of kvgroup(sorted(words))) counts.push([w, sum(cs)]);
    expect(counts).toEqual([
      ['a', 3],
      ['b', 2],
      ['c', 1],
    ]);
  });
});

describe('sorted and compareKeys', () => {
  it('orders numbers numerically and strings by code units, stably', () => {
    expect(
      sorted([
        [10, 'x'],
        [9, 'y'],
        [10, 'z'],
      ] as [number, string][]),
    ).toEqual([
      [9, 'y'],
      [10, 'x'],
      [10, 'z'],
    ]);
    expect(
      sorted([
        ['b', 0],
        ['B', 0],
        ['a', 0],
      ] as [string, number][]).map(([k]) => k),
    ).toEqual(['B', 'a', 'b']);
  });

  it('is a total order across types', () => {
    const keys = ['s', 2, null, undefined, true, [1], { a: 1 }, Buffer.from('x'), 1n, new Date(5)];
    // Array#sort never passes undefined to the comparator; sort boxed keys instead.
    const s = keys.map((k) => [k]).sort((a, b) => compareKeys(a[0], b[0]));
    expect(s.map(([k]) => canonicalKey(k))).toEqual([
      'u',
      'n',
      't',
      'b1',
      'd2',
      '"s"',
      'x78',
      'D5',
      '[d1]',
      '{"a":d1}',
    ]);
  });

  it('is antisymmetric and transitive (property)', () => {
    const key = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.double(),
      fc.constant(null),
      fc.boolean(),
      fc.array(fc.oneof(fc.string({ maxLength: 3 }), fc.integer({ min: -3, max: 3 })), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 2 }), fc.integer(), { maxKeys: 2 }),
    );
    fc.assert(
      fc.property(key, key, key, (a, b, c) => {
        expect(Math.sign(compareKeys(a, b))).toBe(-Math.sign(compareKeys(b, a)) || 0);
        if (compareKeys(a, b) <= 0 && compareKeys(b, c) <= 0)
          expect(compareKeys(a, c)).toBeLessThanOrEqual(0);
      }),
    );
  });
});

describe('hashing and partitions', () => {
  it('FNV-1a of strings equals FNV-1a of their UTF-8 bytes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        expect(fnv1aString(s)).toBe(fnv1aBytes(Buffer.from(s, 'utf8')));
      }),
    );
    expect(fnv1aString('a\ud800b')).toBe(fnv1aBytes(Buffer.from('a\ud800b', 'utf8')));
    // Reference value of FNV-1a 32 for "a".
    expect(fnv1aString('a')).toBe(0xe40c292c);
  });

  it('labels are in range and depend on the key only', () => {
    for (const k of ['a', 'b', 42, [1, 2], { z: 1, a: 2 }]) {
      const p = defaultPartition(k, 7);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(7);
    }
    expect(keyHash({ z: 1, a: 2 })).toBe(keyHash({ a: 2, z: 1 }));
    expect(defaultPartition('x', 0)).toBe(0);
  });

  it('gives the same labels in a separate process', async () => {
    const dir = tempDir();
    const script = path.join(dir, 'p.ts');
    writeFileSync(
      script,
      `import { defaultPartition } from ${JSON.stringify(path.resolve('src/worker/func.ts'))};\n` +
        `const keys = JSON.parse(process.argv[2]);\n` +
        `process.stdout.write(JSON.stringify(keys.map((k) => defaultPartition(k, 13))));\n`,
    );
    const out = await bundle(path.relative(process.cwd(), script), path.join(dir, 'p.mjs'));
    const keys = ['hello', 'world', 'ünïcödé', '😀', 17, -3.5, [1, 'a'], { b: [true, null] }, ''];
    const child = JSON.parse(
      execFileSync(process.execPath, [out, JSON.stringify(keys)], { encoding: 'utf8' }),
    );
    expect(child).toEqual(keys.map((k) => defaultPartition(k, 13)));
  });
});

describe('classic helpers', () => {
  it('nopMap passes pairs on and wraps anything else', () => {
    expect([...nopMap(['k', 'v'])]).toEqual([['k', 'v']]);
    expect([...nopMap('line')]).toEqual([['line', null]]);
  });

  it('nopReduce copies to out', () => {
    const got: unknown[] = [];
    nopReduce([['a', 1]], { add: (k, v) => got.push([k, v]) });
    expect(got).toEqual([['a', 1]]);
  });

  it('sumCombiner accumulates until done', () => {
    const buf = new Map<unknown, unknown>();
    expect(sumCombiner('a', 1, buf, false)).toBeUndefined();
    sumCombiner('a', 2, buf, false);
    sumCombiner(['x'], 5, buf, false);
    sumCombiner(['x'], 1, buf, false);
    expect([...(sumCombiner(null, null, buf, true) ?? [])]).toEqual([
      ['a', 3],
      [['x'], 6],
    ]);
  });

  it('sumReduce sums per key in first-seen order', () => {
    expect(
      sumReduce([
        ['b', 1],
        ['a', 2],
        ['b', 3],
      ]),
    ).toEqual([
      ['b', 4],
      ['a', 2],
    ]);
  });

  it('sum handles numbers, bigints and empty input', () => {
    expect(sum([1, 2, 3])).toBe(6);
    expect(sum([1n, 2n])).toBe(3n);
    expect(sum([] as number[])).toBe(0);
  });
});
