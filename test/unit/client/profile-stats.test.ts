/** Profile tables and merging (src/client/profile-stats.ts) on handmade and real V8 profiles. */
import { Session } from 'node:inspector/promises';
import { describe, expect, test } from 'vitest';
import {
  type CpuProfile,
  functionStats,
  mergeProfiles,
  ProfileStats,
  parseCpuProfile,
  parseSortKey,
} from '../../../src/client/profile-stats.js';

function frame(functionName: string, line = 0, url = 'file:///jobs/job.mjs') {
  return { functionName, scriptId: '7', url, lineNumber: line, columnNumber: 2 };
}

/**
 * (root) → main → slow, fast; (root) → (garbage collector). Six samples of 1 ms each:
 * slow ×3, fast ×1, main ×1, GC ×1.
 */
function handmade(): CpuProfile {
  return {
    nodes: [
      { id: 1, callFrame: frame('(root)', -1, ''), hitCount: 0, children: [2, 5] },
      { id: 2, callFrame: frame('main', 10), hitCount: 1, children: [3, 4] },
      { id: 3, callFrame: frame('slow', 20), hitCount: 3, children: [] },
      { id: 4, callFrame: frame('fast', 30), hitCount: 1 },
      { id: 5, callFrame: frame('(garbage collector)', -1, ''), hitCount: 1 },
    ],
    startTime: 0,
    endTime: 6010,
    samples: [3, 3, 3, 4, 2, 5],
    timeDeltas: [10, 1000, 1000, 1000, 1000, 1000],
  };
}

/** (root) → rec → rec → leaf: a recursive function, sampled in the inner call and in leaf. */
function recursive(): CpuProfile {
  return {
    nodes: [
      { id: 1, callFrame: frame('(root)', -1, ''), children: [2] },
      { id: 2, callFrame: frame('rec', 5), children: [3] },
      { id: 3, callFrame: frame('rec', 5), children: [4] },
      { id: 4, callFrame: frame('leaf', 9) },
    ],
    startTime: 100,
    endTime: 2100,
    samples: [3, 4],
    timeDeltas: [0, 1000],
  };
}

const byName = (rows: ReturnType<typeof functionStats>) => new Map(rows.map((r) => [r.name, r]));

describe('functionStats', () => {
  test('self time is where samples landed, total time adds every caller on the stack', () => {
    const rows = byName(functionStats([handmade()]));
    expect(rows.has('(root)')).toBe(false);
    expect(rows.get('slow')).toMatchObject({ samples: 3, selfMs: 3, totalMs: 3, line: 21, column: 3 });
    expect(rows.get('fast')).toMatchObject({ samples: 1, selfMs: 1, totalMs: 1 });
    expect(rows.get('main')).toMatchObject({ samples: 1, selfMs: 1, totalMs: 5 });
    expect(rows.get('(garbage collector)')).toMatchObject({ selfMs: 1, totalMs: 1, line: 0 });
  });

  test('a recursive function counts once per sample in its total time', () => {
    const rows = byName(functionStats([recursive()]));
    expect(rows.get('rec')).toMatchObject({ selfMs: 1, totalMs: 2 });
    expect(rows.get('leaf')).toMatchObject({ selfMs: 1, totalMs: 1 });
  });

  test('profiles add up, and the same function in different processes (script ids) is one row', () => {
    const other = handmade();
    for (const n of other.nodes) n.callFrame.scriptId = '99';
    const rows = byName(functionStats([handmade(), other]));
    expect(rows.get('slow')).toMatchObject({ samples: 6, selfMs: 6, totalMs: 6 });
    expect(rows.get('main')?.totalMs).toBe(10);
  });
});

describe('mergeProfiles', () => {
  test('equal call paths merge; samples follow each other with their own spacing', () => {
    const a = handmade();
    const m = mergeProfiles([a, handmade(), recursive()]);
    // handmade's 5 nodes once, plus rec, rec, leaf under the one root.
    expect(m.nodes).toHaveLength(8);
    expect(m.nodes.filter((n) => n.callFrame.functionName === '(root)')).toHaveLength(1);
    expect(m.samples).toHaveLength(6 + 6 + 2);
    expect(m.timeDeltas).toHaveLength(m.samples!.length);
    expect(m.nodes.find((n) => n.callFrame.functionName === 'slow')?.hitCount).toBe(6);
    // The second profile starts after the first one's tail (1 ms) and its own head (10 µs).
    expect(m.timeDeltas![6]).toBe(1000 + 10);
    expect(m.endTime - m.startTime).toBe(6010 + 6010 + 2000);
    // Every child id exists, and each node is some node's child exactly once (a tree).
    const ids = new Set(m.nodes.map((n) => n.id));
    const kids = m.nodes.flatMap((n) => n.children ?? []);
    expect(kids.every((k) => ids.has(k))).toBe(true);
    expect(new Set(kids).size).toBe(m.nodes.length - 1);
    // The merged profile is itself valid and keeps the functions' times.
    const rows = byName(functionStats([parseCpuProfile(JSON.parse(JSON.stringify(m)))]));
    expect(rows.get('slow')?.selfMs).toBeCloseTo(6, 5);
    expect(rows.get('rec')?.totalMs).toBeCloseTo(2, 5);
  });

  test('refuses to merge nothing', () => {
    expect(() => mergeProfiles([])).toThrow(/no profiles/);
  });
});

describe('parseCpuProfile', () => {
  test('accepts a profile and names what is wrong with anything else', () => {
    expect(parseCpuProfile(handmade()).nodes).toHaveLength(5);
    expect(() => parseCpuProfile({ nodes: [] }, 'x.cpuprofile')).toThrow(
      /x\.cpuprofile is not a V8 CPU profile/,
    );
    expect(() => parseCpuProfile({ ...handmade(), samples: [42, 3, 3, 4, 2, 5] })).toThrow(/unknown node 42/);
    expect(() => parseCpuProfile({ ...handmade(), timeDeltas: [1] })).toThrow(/differ in length/);
  });
});

describe('ProfileStats', () => {
  test('sorts by cumulative or self time and prints a pstats-like table', () => {
    const stats = new ProfileStats([handmade()]);
    expect(stats.totalMs).toBe(6);
    expect(stats.samples).toBe(6);
    expect(stats.functions.map((f) => f.name)).toEqual(['main', 'slow', '(garbage collector)', 'fast']);
    // Ties on self time: the larger total time first, then the name.
    expect(stats.sort('self').functions.map((f) => f.name)).toEqual([
      'slow',
      'main',
      '(garbage collector)',
      'fast',
    ]);
    const text = stats.toString();
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe('6 samples in 0.006 s from 1 task profile');
    expect(lines[1]).toBe('Ordered by: self time');
    expect(lines[3]).toMatch(/samples\s+self ms\s+self%\s+total ms\s+total%\s+function/);
    expect(lines[4]).toMatch(/^\s+3\s+3\.0\s+50\.0%\s+3\.0\s+50\.0%\s+slow \(job\.mjs:21\)$/);
    expect(lines).toHaveLength(4 + 4);
  });

  test('limit and filter choose the rows', () => {
    const stats = new ProfileStats([handmade()], { limit: 2 });
    const rows = (s: string) => s.trimEnd().split('\n').slice(4);
    expect(rows(stats.toString())).toHaveLength(2);
    expect(stats.toString()).toMatch(/2 of 4 functions shown/);
    expect(rows(stats.toString({ limit: 10, filter: 'FAST' }))).toEqual([
      expect.stringMatching(/fast \(job\.mjs:31\)$/),
    ]);
    expect(rows(stats.toString({ limit: 10, filter: /^\(garbage/ }))).toHaveLength(1);
    let printed = '';
    stats.print({ out: (t) => (printed += t) });
    expect(printed).toBe(stats.toString());
  });

  test('sort keys by their pstats names', () => {
    expect(parseSortKey('cumtime')).toBe('cumulative');
    expect(parseSortKey('tottime')).toBe('self');
    expect(parseSortKey('Self')).toBe('self');
    expect(() => parseSortKey('calls')).toThrow(/use cumulative or self/);
  });
});

test('a real V8 profile: a busy named function shows up with its time', async () => {
  function busyWork(ms: number): number {
    const end = Date.now() + ms;
    let x = 0;
    while (Date.now() < end) x += Math.sqrt(x + 1);
    return x;
  }
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
    busyWork(60);
    const { profile } = await session.post('Profiler.stop');
    const stats = new ProfileStats([parseCpuProfile(JSON.parse(JSON.stringify(profile)))]);
    const busy = stats.functions.find((f) => f.name === 'busyWork');
    expect(busy).toBeDefined();
    expect(busy!.totalMs).toBeGreaterThan(20);
    expect(busy!.totalMs).toBeLessThanOrEqual(stats.totalMs);
    expect(busy!.url).toMatch(/profile-stats\.test\.ts$/);
    const merged = mergeProfiles([parseCpuProfile(profile), parseCpuProfile(profile)]);
    expect(merged.samples!.length).toBe(2 * (profile.samples?.length ?? 0));
  } finally {
    session.disconnect();
  }
});
