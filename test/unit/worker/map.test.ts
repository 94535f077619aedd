import { describe, expect, it } from 'vitest';
import { FileSource, readRecords } from '../../../src/protocol/record-stream.js';
import { defaultPartition, sumCombiner } from '../../../src/worker/func.js';
import { runMap } from '../../../src/worker/map.js';
import { runReduce } from '../../../src/worker/reduce.js';
import type { UserFunction } from '../../../src/worker/user-code.js';
import { inProcessRun } from './task-run-fixture.js';

function readOutput(file: string): unknown[] {
  const src = new FileSource(file);
  try {
    return [...readRecords(src)];
  } finally {
    src.close();
  }
}

const words = (line: unknown) =>
  String(line)
    .split(' ')
    .filter(Boolean)
    .map((w) => [w, 1]);

describe('map phase', () => {
  it('partitions with the default partition function', () => {
    const run = inProcessRun('map', { map: words }, ['raw://a b c a\nd a'], { partitions: 3 });
    const outs = runMap(run);
    run.outputs.closeAll();
    for (const o of outs) {
      expect(o.type).toBe('part');
      expect(o.rel).toBe(`${run.paths.rel}/map-${o.label}`);
      for (const [k] of readOutput(o.abs) as [string, number][])
        expect(String(defaultPartition(k, 3))).toBe(o.label);
    }
    const all = outs.flatMap((o) => readOutput(o.abs)) as [string, number][];
    expect(all.map(([k]) => k).sort()).toEqual(['a', 'a', 'a', 'b', 'c', 'd']);
    expect(run.msgs).toContain('Done: 2 entries mapped');
  });

  it('writes one disco output without partitions', () => {
    const run = inProcessRun('map', { map: words }, ['raw://x y'], { partitions: 0 });
    const [o, ...rest] = runMap(run);
    run.outputs.closeAll();
    expect(rest).toEqual([]);
    expect(o.type).toBe('disco');
    expect(o.label).toBe('0');
    expect(o.rel).toBe(`${run.paths.rel}/${run.paths.uid}`);
    expect(readOutput(o.abs)).toEqual([
      ['x', 1],
      ['y', 1],
    ]);
  });

  it('runs the combiner per partition, with a final done call', () => {
    const calls: [unknown, boolean][] = [];
    const combiner: UserFunction = (k, v, buf, done, params) => {
      calls.push([k, done as boolean]);
      return sumCombiner(k, v, buf as Map<unknown, unknown>, done as boolean, params);
    };
    const run = inProcessRun('map', { map: words, combiner }, ['raw://a b a\nb a c'], { partitions: 2 });
    const outs = runMap(run);
    run.outputs.closeAll();
    const sums = Object.fromEntries(outs.flatMap((o) => readOutput(o.abs)) as [string, number][]);
    expect(sums).toEqual({ a: 3, b: 2, c: 1 });
    const doneCalls = calls.filter(([, d]) => d);
    expect(doneCalls).toHaveLength(new Set(['a', 'b', 'c'].map((k) => defaultPartition(k, 2))).size);
    expect(doneCalls.every(([k]) => k === null)).toBe(true);
  });

  it('writes what a flushing combiner returns mid-way', () => {
    // Emits and clears every 2 distinct keys, as the docs ask combiners to bound memory.
    const combiner: UserFunction = (k, v, b, done) => {
      const buf = b as Map<unknown, number>;
      if (!done) buf.set(k, (buf.get(k) ?? 0) + (v as number));
      if (done || buf.size >= 2) {
        const out = [...buf];
        buf.clear();
        return out;
      }
      return null;
    };
    const run = inProcessRun('map', { map: words, combiner }, ['raw://a a b c c d'], { partitions: 0 });
    const [o] = runMap(run);
    run.outputs.closeAll();
    expect(readOutput(o.abs)).toEqual([
      ['a', 2],
      ['b', 1],
      ['c', 2],
      ['d', 1],
    ]);
  });

  it('lets mapInit consume entries and reports status every interval', () => {
    const mapInit: UserFunction = (entries) => {
      for (const _header of entries as Iterable<unknown>) break;
    };
    const run = inProcessRun('map', { map: (e) => [[e, null]], mapInit }, ['raw://h\n1\n2\n3\n4'], {
      partitions: 0,
      statusInterval: 2,
    });
    const [o] = runMap(run);
    run.outputs.closeAll();
    expect((readOutput(o.abs) as [string][]).map(([k]) => k)).toEqual(['1', '2', '3', '4']);
    expect(run.msgs).toEqual(['2 entries mapped', '4 entries mapped', 'Done: 5 entries mapped']);
  });

  it('refuses results that are not pairs, and async maps', () => {
    const run = inProcessRun('map', { map: (e) => [e] }, ['raw://x'], {});
    expect(() => runMap(run)).toThrow(/\[key, value\] pairs/);
    const run2 = inProcessRun('map', { map: async () => [] }, ['raw://x'], {});
    expect(() => runMap(run2)).toThrow(/synchronous/);
  });
});

describe('reduce phase', () => {
  it('sorts with spills and supports reduce(iter, out, params)', () => {
    const reduce: UserFunction = (iter, out) => {
      for (const [k, v] of iter as Iterable<[string, number]>)
        (out as { add(k: unknown, v: unknown): void }).add(k, v);
    };
    const text = Array.from({ length: 300 }, (_, i) => `k${(i * 37) % 100}`).join('\n');
    const run = inProcessRun(
      'reduce',
      { reduce, reduceReader: (s) => [...(s as Iterable<string>)].map((l) => [l, 1]) },
      [`raw://${text}`],
      { sort: true, sortBufferSize: 512, reduceStyle: 'out' },
    );
    const [o] = runReduce(run);
    run.outputs.closeAll();
    const keys = (readOutput(o.abs) as [string][]).map(([k]) => k);
    expect(keys).toHaveLength(300);
    expect(keys).toEqual([...keys].sort());
    expect(run.msgs.some((m) => m.startsWith('Sorting'))).toBe(true);
    expect(run.msgs).toContain('Done: 300 entries reduced');
  });

  it('always writes its output, even with no inputs', () => {
    const run = inProcessRun('reduce', { reduce: () => [] }, [], {});
    const outs = runReduce(run);
    run.outputs.closeAll();
    expect(outs).toHaveLength(1);
    expect(readOutput(outs[0].abs)).toEqual([]);
  });
});
