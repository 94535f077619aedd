/** The pure GC planner (wire spec §5.6): what is deleted, kept, re-replicated, rewritten. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type GcInput, type LiveTag, planGc, rewriteUrls } from '../../../src/ddfs/master/gc-plan.js';
import { objectUrl, unpackObjName } from '../../../src/ddfs/names.js';
import type { ObjectEntry } from '../../../src/ddfs/node-api.js';

const DAY = 24 * 3600_000;
const NOW = Date.UTC(2024, 0, 10);
const SNAP = NOW * 1000;
/** A DDFS timestamp `ms` before the snapshot. */
function ts(msBefore: number): string {
  const us = (NOW - msBefore) * 1000;
  const secs = Math.floor(us / 1e6);
  return `${Math.floor(secs / 1e6).toString(16)}-${(secs % 1e6).toString(16)}-${(us % 1e6).toString(16)}`;
}
const blobUrl = (host: string, obj: string) => objectUrl(host, 'vol0', 'blob', obj);

function input(extra: Partial<GcInput>): GcInput {
  return {
    now: NOW,
    snapshotTime: SNAP,
    live: new Map(),
    deleted: new Set(),
    nodes: [],
    blobK: 2,
    tagK: 2,
    writableNodes: 3,
    gcBlacklist: new Set(),
    orphanExpiryMs: 5 * DAY,
    ...extra,
  };
}

const entry = (obj: string, ageMs: number, size = 10): ObjectEntry => ['vol0', obj, size, NOW - ageMs];

describe('planGc', () => {
  it('keeps referenced blobs, deletes only old orphans', () => {
    const a = `a$${ts(10 * DAY)}`;
    const old = `old$${ts(10 * DAY)}`;
    const fresh = `fresh$${ts(1000)}`;
    const live = new Map<string, LiveTag>([
      ['t', { id: `t$${ts(DAY)}`, urls: [[blobUrl('n1', a), blobUrl('n2', a)]], replicas: ['n1', 'n2'] }],
    ]);
    const plan = planGc(
      input({
        live,
        nodes: [
          { host: 'n1', blobs: [entry(a, 10 * DAY), entry(old, 10 * DAY), entry(fresh, 1000)], tags: [] },
          { host: 'n2', blobs: [entry(a, 10 * DAY)], tags: [] },
        ],
      }),
    );
    expect(plan.deletes.get('n1')).toEqual([['vol0', 'blob', old]]);
    expect(plan.deletes.has('n2')).toBe(false);
    expect(plan.stats.blobsDeleted).toEqual([1, 10]);
    expect(plan.stats.blobsKept).toEqual([3, 30]);
    expect(plan.locations.get(a)).toEqual([
      { host: 'n1', vol: 'vol0' },
      { host: 'n2', vol: 'vol0' },
    ]);
    expect(plan.underReplicated).toEqual([]);
  });

  it('deletes older tag versions and deleted tags at once, keeps live and newer versions', () => {
    const live = new Map<string, LiveTag>([['t', { id: `t$${ts(DAY)}`, urls: [], replicas: ['n1'] }]]);
    const tags = [
      entry(`t$${ts(2 * DAY)}`, 0),
      entry(`t$${ts(DAY)}`, 0),
      entry(`t$${ts(-1000)}`, 0), // written after the snapshot
      entry(`gone$${ts(DAY)}`, 0),
      entry(`gone$${ts(-1000)}`, 0), // recreated during the run
      entry(`unknown$${ts(DAY)}`, 0),
      entry(`unknownold$${ts(10 * DAY)}`, 10 * DAY),
    ];
    const plan = planGc(
      input({ live, deleted: new Set(['gone']), nodes: [{ host: 'n1', blobs: [], tags }] }),
    );
    expect(plan.deletes.get('n1')?.map((d) => d[2])).toEqual([
      `t$${ts(2 * DAY)}`,
      `gone$${ts(DAY)}`,
      `unknownold$${ts(10 * DAY)}`,
    ]);
    expect(plan.deletedWithoutFiles).toEqual([]);
  });

  it('never deletes on GC-blacklisted nodes and does not count their replicas as usable', () => {
    const a = `a$${ts(10 * DAY)}`;
    const live = new Map<string, LiveTag>([
      ['t', { id: `t$${ts(DAY)}`, urls: [[blobUrl('bl', a), blobUrl('n1', a)]], replicas: ['bl', 'n1'] }],
    ]);
    const plan = planGc(
      input({
        live,
        gcBlacklist: new Set(['bl']),
        nodes: [
          { host: 'bl', blobs: [entry(a, 0), entry(`orphan$${ts(10 * DAY)}`, 10 * DAY)], tags: [] },
          { host: 'n1', blobs: [entry(a, 0)], tags: [] },
        ],
      }),
    );
    expect(plan.deletes.size).toBe(0);
    expect(plan.underReplicated).toEqual([
      {
        obj: a,
        locations: [
          { host: 'bl', vol: 'vol0' },
          { host: 'n1', vol: 'vol0' },
        ],
        missing: 1,
      },
    ]);
    expect(plan.tagsToRereplicate).toEqual(['t']);
  });

  it('re-writes a tag only when more replicas are possible', () => {
    const live = new Map<string, LiveTag>([['t', { id: `t$${ts(DAY)}`, urls: [], replicas: ['n1'] }]]);
    expect(planGc(input({ live, tagK: 3, writableNodes: 1 })).tagsToRereplicate).toEqual([]);
    expect(planGc(input({ live, tagK: 3, writableNodes: 2 })).tagsToRereplicate).toEqual(['t']);
  });

  it('reports deleted tags whose files are all gone', () => {
    const plan = planGc(
      input({
        deleted: new Set(['x', 'y']),
        nodes: [{ host: 'n', blobs: [], tags: [entry(`y$${ts(-5)}`, 0)] }],
      }),
    );
    expect(plan.deletedWithoutFiles).toEqual(['x']);
  });

  it('never plans to delete a referenced blob or a live tag version (property)', () => {
    const name = fc.constantFrom('a', 'b', 'c', 'd');
    const age = fc.integer({ min: -DAY, max: 20 * DAY });
    const obj = fc.tuple(name, age).map(([n, a]) => `${n}$${ts(a)}`);
    const host = fc.constantFrom('n1', 'n2', 'n3');
    fc.assert(
      fc.property(
        fc.array(fc.tuple(host, obj, age), { maxLength: 20 }),
        fc.array(fc.tuple(host, obj, age), { maxLength: 20 }),
        fc.uniqueArray(obj, { maxLength: 3 }),
        fc.subarray(['a', 'b', 'c', 'd']),
        (blobs, tagFiles, refs, deletedNames) => {
          const liveId = `a$${ts(DAY)}`;
          const live = new Map<string, LiveTag>();
          if (!deletedNames.includes('a'))
            live.set('a', { id: liveId, urls: refs.map((r) => [blobUrl('n1', r)]), replicas: ['n1'] });
          const nodes = ['n1', 'n2', 'n3'].map((h) => ({
            host: h,
            blobs: blobs.filter((b) => b[0] === h).map(([, o, a]) => entry(o, a)),
            tags: tagFiles.filter((b) => b[0] === h).map(([, o, a]) => entry(o, a)),
          }));
          const plan = planGc(
            input({ live, deleted: new Set(deletedNames.filter((n) => n !== 'a' || !live.has('a'))), nodes }),
          );
          for (const list of plan.deletes.values())
            for (const [, type, o] of list) {
              if (type === 'blob') expect(live.has('a') && refs.includes(o)).toBe(false);
              else {
                expect(live.has('a') && o === liveId).toBe(false);
                // Nothing written after the snapshot is ever deleted.
                expect(unpackObjName(o)!.time).toBeLessThan(SNAP);
              }
            }
        },
      ),
    );
  });
});

describe('rewriteUrls', () => {
  const a = 'a$5dc-1-1';
  const loc = new Map([
    [
      a,
      [
        { host: 'n1', vol: 'vol0' },
        { host: 'n3', vol: 'vol1' },
      ],
    ],
  ]);

  it('adds found replicas, sorted; leaves other sets alone', () => {
    const urls = [[blobUrl('n1', a)], ['tag://x'], ['http://elsewhere/file']];
    expect(rewriteUrls(urls, loc, new Set(), 2, true)).toEqual([
      [blobUrl('n1', a), objectUrl('n3', 'vol1', 'blob', a)],
      ['tag://x'],
      ['http://elsewhere/file'],
    ]);
    expect(
      rewriteUrls([[blobUrl('n1', a), objectUrl('n3', 'vol1', 'blob', a)]], loc, new Set(), 2, true),
    ).toBeNull();
  });

  it('drops blacklisted replicas only when enough remain and the tag is unchanged', () => {
    const set = [blobUrl('bl', a), blobUrl('n1', a)];
    expect(rewriteUrls([set], loc, new Set(['bl']), 2, true)).toEqual([
      [blobUrl('n1', a), objectUrl('n3', 'vol1', 'blob', a)],
    ]);
    expect(rewriteUrls([set], loc, new Set(['bl']), 3, true)?.[0]).toHaveLength(3);
    expect(rewriteUrls([set], loc, new Set(['bl']), 2, false)?.[0]).toHaveLength(3);
  });
});
