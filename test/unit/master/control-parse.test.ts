/** The hand-written validation of hot control messages agrees with the schemas. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MasterToNodeSchema,
  NodeToMasterSchema,
  parseMasterToNode,
  parseNodeToMaster,
  splitControlFrame,
} from '../../../src/protocol/control.js';

const ref = { job: 'J@1:2:3', mode: 'map', taskid: 3, attempt: 1 };

describe('control message validation', () => {
  it('accepts the hot messages, dropping unknown keys as the schemas do', () => {
    for (const msg of [
      { type: 'task_done', ...ref, results: ['dir://n/x.results'], durationMs: 4, extra: 1 },
      { type: 'task_started', ...ref, extra: true },
      { type: 'task_failed', ...ref, kind: 'error', message: 'boom' },
      { type: 'events', job: 'J@1:2:3', messages: ['MSG: [map:3] hi'] },
    ]) {
      const r = parseNodeToMaster(msg);
      expect(r).toEqual({ ok: true, value: NodeToMasterSchema.parse(msg) });
    }
    const run = {
      type: 'run_task',
      task: { ...ref, inputs: [['raw://a', 'raw://b']], x: 1 },
      prefetched: true,
    };
    expect(parseMasterToNode(run)).toEqual(MasterToNodeSchema.parse(run));
    const kill = { type: 'kill_task', task: ref };
    expect(parseMasterToNode(kill)).toEqual(MasterToNodeSchema.parse(kill));
  });

  it('refuses exactly what the schemas refuse', () => {
    const value = fc.oneof(
      fc.constant(undefined),
      fc.constant(null),
      fc.constantFrom('map', 'reduce', 'x', '', 'J@1:2:3'),
      fc.constantFrom(-1, 0, 1, 2.5, Number.NaN),
      fc.boolean(),
      fc.constant([]),
      fc.constant([['raw://a']]),
      fc.constant([[]]),
      fc.constant(['a']),
    );
    const arb = fc.record(
      {
        type: fc.constantFrom('task_done', 'task_started', 'task_failed', 'events', 'run_task', 'kill_task'),
        job: value,
        mode: value,
        taskid: value,
        attempt: value,
        results: value,
        durationMs: value,
        kind: fc.constantFrom('error', 'fatal', 'other', undefined),
        message: value,
        messages: value,
        prefetched: value,
        inputs: value,
      },
      { requiredKeys: ['type'] },
    );
    fc.assert(
      fc.property(arb, fc.boolean(), (m, nested) => {
        const { inputs, ...flat } = m;
        const toNode = nested ? { type: m.type, task: { ...flat, inputs }, prefetched: m.prefetched } : m;
        expect(parseNodeToMaster(m).ok).toBe(NodeToMasterSchema.safeParse(m).success);
        expect(parseMasterToNode(toNode) !== null).toBe(MasterToNodeSchema.safeParse(toNode).success);
      }),
      { numRuns: 2000 },
    );
  });

  it('splits a frame into its messages', () => {
    expect(splitControlFrame('{"type":"status"}')).toEqual([{ type: 'status' }]);
    expect(splitControlFrame('[{"a":1},{"b":2}]')).toEqual([{ a: 1 }, { b: 2 }]);
    expect(() => splitControlFrame('{')).toThrow();
  });
});
