/** The hand-written checks of hot worker messages agree with the schemas. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodeFrame,
  FrameDecoder,
  fastTaskInfo,
  parseWorkerMessage,
  TaskInfoSchema,
  WorkerMessageSchemas,
} from '../../../src/protocol/worker-protocol.js';

const bodies = fc.oneof(
  fc.constantFrom('', 'text', 0, 1.5, null, true),
  fc.constant([]),
  fc.constant(['a', 'b']),
  fc.constant(['a', 'b', 'c']),
  fc.constant(['a', 'b', 'c', 'd']),
  fc.constant(['a', 1]),
  fc.constant(['include', [0, 1]]),
  fc.constant(['exclude', [-1]]),
  fc.constant([0, [1]]),
  fc.constant({ version: '1.0', pid: 3 }),
);

describe('worker message validation', () => {
  it('accepts and refuses exactly what the schemas do', () => {
    const types = [...Object.keys(WorkerMessageSchemas), 'NOPE'];
    fc.assert(
      fc.property(fc.constantFrom(...types), bodies, (type, body) => {
        const schema = (
          WorkerMessageSchemas as Record<string, { safeParse(v: unknown): { success: boolean } }>
        )[type];
        const ok = schema?.safeParse(body).success ?? false;
        let parsed: unknown = null;
        try {
          parsed = parseWorkerMessage({ type, body, size: 0 });
        } catch {
          parsed = null;
        }
        expect(parsed !== null).toBe(ok);
        if (parsed) expect(parsed).toEqual({ type, body });
      }),
      { numRuns: 1000 },
    );
  });

  it('checks TASK replies like the schema', () => {
    const good = {
      taskid: 1,
      master: 'http://m:8989',
      disco_port: 8989,
      put_port: 8990,
      ddfs_data: '/d',
      disco_data: '/x',
      mode: 'map',
      jobfile: '/j',
      jobname: 'J@1:2:3',
      host: 'n1',
    };
    expect(fastTaskInfo(good)).toEqual(TaskInfoSchema.parse(good));
    for (const [k, v] of Object.entries({ taskid: 1.5, mode: 'x', host: 3, master: null })) {
      const bad = { ...good, [k]: v };
      expect(fastTaskInfo(bad)).toBeNull();
      expect(TaskInfoSchema.safeParse(bad).success).toBe(false);
    }
  });

  it('encodes frames the decoder reads back, multi-byte text included', () => {
    const dec = new FrameDecoder();
    const frames = dec.push(Buffer.concat([encodeFrame('MSG', 'héllo ☃'), encodeFrame('OK', { a: [1] })]));
    expect(frames.map((f) => [f.type, f.body])).toEqual([
      ['MSG', 'héllo ☃'],
      ['OK', { a: [1] }],
    ]);
  });
});
