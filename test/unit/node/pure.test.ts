import { describe, expect, it } from 'vitest';
import { splitHost } from '../../../src/node/daemon.js';
import { Gate } from '../../../src/node/gate.js';
import { TaskInputs } from '../../../src/node/task-inputs.js';
import { MsgThrottle } from '../../../src/node/throttle.js';
import { workerEnv } from '../../../src/node/worker-env.js';

describe('MSG throttle', () => {
  it('allows 5 a second, delays up to 15, then fails', () => {
    const t = new MsgThrottle();
    const kinds = Array.from({ length: 16 }, (_, i) => t.push(1000 + i).kind);
    expect(kinds.slice(0, 5)).toEqual(Array(5).fill('ok'));
    expect(kinds.slice(5, 15)).toEqual(Array(10).fill('delay'));
    expect(kinds[15]).toBe('fatal');
  });

  it('settles a synchronous worker: the window drops one entry per message', () => {
    const t = new MsgThrottle();
    let now = 0;
    for (let i = 0; i < 100; i++) {
      const v = t.push(now);
      expect(v.kind).not.toBe('fatal');
      now += v.kind === 'delay' ? 200 : 10;
    }
  });
});

describe('task inputs', () => {
  it('numbers inputs and replicas and orders replicas by failure', () => {
    const inputs = new TaskInputs([['a', 'b'], ['c']]);
    expect(inputs.reply('')).toEqual([
      'done',
      [
        [
          0,
          'ok',
          [
            [0, 'a'],
            [1, 'b'],
          ],
        ],
        [1, 'ok', [[0, 'c']]],
      ],
    ]);
    expect(inputs.fail(0, [0])).toEqual({ type: 'RETRY', body: [[1, 'b']] });
    expect(inputs.reply(['include', [0, 7]])).toEqual([
      'done',
      [
        [
          0,
          'ok',
          [
            [1, 'b'],
            [0, 'a'],
          ],
        ],
      ],
    ]);
    expect(inputs.fail(0, [1])).toEqual({ type: 'RETRY', body: [[0, 'a']] });
    expect(inputs.fail(1, [0])).toEqual({ type: 'FAIL', body: '' });
    expect(inputs.fail(5, [0])).toBeNull();
    expect(inputs.reply(['exclude', [0]])).toEqual(['done', [[1, 'ok', [[0, 'c']]]]]);
  });
});

describe('worker environment', () => {
  it('drops Disco settings, adds the Python fixes, applies jobenvs last', () => {
    const env = workerEnv(
      {
        PATH: '/bin',
        DISCO_PORT: '1',
        DDFS_DATA: '/d',
        DISCO_SETTINGS: 'CUSTOM',
        CUSTOM: 'x',
        PYTHONHASHSEED: '7',
      },
      { PYTHONPATH: 'lib', PYTHONWARNINGS: 'default' },
    );
    expect(env).toEqual({ PATH: '/bin', PYTHONHASHSEED: '0', PYTHONWARNINGS: 'default', PYTHONPATH: 'lib' });
  });
});

describe('gate', () => {
  it('queues past the active limit and refuses past the queue limit', async () => {
    const g = new Gate(1, 1, 50);
    const first = await g.acquire();
    expect(typeof first).toBe('function');
    const second = g.acquire();
    expect(await g.acquire()).toBe('full');
    (first as () => void)();
    const granted = await second;
    expect(typeof granted).toBe('function');
    expect(await g.acquire()).toBe('timeout');
    (granted as () => void)();
    expect(g.stats).toEqual({ active: 0, queued: 0 });
  });
});

describe('host names', () => {
  it('splits name:port', () => {
    expect(splitHost('node1')).toEqual({ name: 'node1', port: null });
    expect(splitHost('localhost:9001')).toEqual({ name: 'localhost', port: 9001 });
    expect(splitHost('10.0.0.2')).toEqual({ name: '10.0.0.2', port: null });
  });
});
