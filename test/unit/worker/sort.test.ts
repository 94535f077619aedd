import { readdirSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MinHeap } from '../../../src/worker/heap.js';
import { compareKeys } from '../../../src/worker/key-order.js';
import { externalSort, type SortStats } from '../../../src/worker/sort/external-sort.js';
import { tempDir } from './helpers.js';

type KV = [unknown, unknown];

/** The reference: stable in-memory sort by key. */
function reference(records: KV[]): KV[] {
  return records
    .map((r, i) => [r, i] as const)
    .sort((a, b) => compareKeys(a[0][0], b[0][0]) || a[1] - b[1])
    .map(([r]) => r);
}

const keyArb = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.integer({ min: -50, max: 50 }),
  fc.constantFrom('a', 'b', 'c'),
  fc.tuple(fc.constantFrom('x', 'y'), fc.integer({ min: 0, max: 3 })),
);

describe('externalSort', () => {
  it('matches a stable in-memory sort with many spilled runs (property)', () => {
    const dir = tempDir();
    fc.assert(
      fc.property(
        fc.array(fc.tuple(keyArb, fc.integer()), { maxLength: 300 }),
        fc.integer({ min: 64, max: 2000 }),
        fc.integer({ min: 2, max: 5 }),
        (records, bufferSize, fanIn) => {
          const out = [...externalSort(records as KV[], { bufferSize, tmpDir: dir, fanIn })];
          expect(out).toEqual(reference(records as KV[]));
          expect(readdirSync(dir)).toEqual([]);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('spills and merges in several passes, memory bounded by the buffer', () => {
    const dir = tempDir();
    const n = 20000;
    let spills = 0;
    const input = function* (): Generator<KV> {
      for (let i = 0; i < n; i++) yield [`k${(i * 7919) % 1000}`, i];
    };
    const out = [
      ...externalSort(input(), { bufferSize: 4096, tmpDir: dir, fanIn: 8, onSpill: () => spills++ }),
    ];
    expect(spills).toBeGreaterThan(100);
    expect(out).toHaveLength(n);
    for (let i = 1; i < n; i++) {
      const c = compareKeys(out[i - 1][0], out[i][0]);
      expect(c).toBeLessThanOrEqual(0);
      // Stable: equal keys keep input order.
      if (c === 0) expect(out[i - 1][1] as number).toBeLessThan(out[i][1] as number);
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('keeps small inputs in memory and removes runs when stopped early', () => {
    const dir = tempDir();
    expect([
      ...externalSort(
        [
          ['b', 1],
          ['a', 2],
        ] as KV[],
        { bufferSize: 1 << 20, tmpDir: dir },
      ),
    ]).toEqual([
      ['a', 2],
      ['b', 1],
    ]);
    const records: KV[] = Array.from({ length: 500 }, (_, i) => [500 - i, 'x'.repeat(20)]);
    const it = externalSort(records, { bufferSize: 256, tmpDir: dir });
    expect(it.next().value).toEqual([1, 'x'.repeat(20)]);
    expect(readdirSync(dir).length).toBeGreaterThan(0);
    it.return(undefined);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('merges just enough runs first for one final merge (stable)', () => {
    const dir = tempDir();
    const records: KV[] = Array.from({ length: 10000 }, (_, i) => [`k${(i * 7919) % 613}`, i]);
    const sorted = (fanIn: number) => {
      const stats: SortStats = { records: 0, runs: 0, bytesSpilled: 0, mergePasses: 0 };
      const out = [...externalSort(records, { bufferSize: 16 << 10, tmpDir: dir, fanIn, stats })];
      expect(out).toEqual(reference(records));
      return stats;
    };
    const once = sorted(1000);
    expect(once.mergePasses).toBe(1);
    // Two more runs than the fan-in: one merge of three runs, then the final merge.
    const fanIn = once.runs - 2;
    const twice = sorted(fanIn);
    expect(twice.mergePasses).toBe(2);
    expect(twice.runs).toBe(once.runs + 1);
    expect(twice.bytesSpilled).toBeLessThan(once.bytesSpilled * 1.5);
    // Far more runs than the fan-in: several sweeps, every record written several times.
    const many = sorted(2);
    expect(many.mergePasses).toBeGreaterThan(3);
    expect(many.bytesSpilled).toBeGreaterThan(once.bytesSpilled * 3);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('MinHeap', () => {
  it('pops in order (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer()), (xs) => {
        const h = new MinHeap<number>((a, b) => a - b);
        for (const x of xs) h.push(x);
        const out: number[] = [];
        while (h.size > 0) out.push(h.pop() as number);
        expect(out).toEqual([...xs].sort((a, b) => a - b));
      }),
    );
  });
});
