/**
 * The wire layer: framing, codecs, the handshake, and a node that gets garbage, bad messages
 * and wrong secrets — it answers with clear errors and keeps serving.
 */
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { JobCluster } from '../../src/dispy/index.js';
import { deepFreeze } from '../../src/dispy/node/job-scope.js';
import { decodeData, encodeData, packMessage } from '../../src/dispy/protocol/codec.js';
import { encodeFrame, FrameReader } from '../../src/dispy/protocol/framing.js';
import { AuthError, connect, listen } from '../../src/dispy/protocol/transport.js';
import { cleanupAll, startNode } from './helpers.js';

afterAll(cleanupAll);

describe('framing and codecs', () => {
  it('reassembles frames split anywhere and refuses oversized ones', () => {
    const frames = [Buffer.from('a'), Buffer.alloc(70_000, 1), Buffer.alloc(0), Buffer.from('xyz')].map(
      encodeFrame,
    );
    const all = Buffer.concat(frames);
    for (const step of [1, 3, 7, 4096, all.length]) {
      const r = new FrameReader(1 << 20);
      const got: Buffer[] = [];
      for (let i = 0; i < all.length; i += step) got.push(...r.push(all.subarray(i, i + step)));
      expect(got.map((g) => g.length)).toEqual([1, 70_000, 0, 3]);
    }
    expect(() => new FrameReader(10).push(encodeFrame(Buffer.alloc(11)))).toThrow(/exceeds the limit/);
  });

  it('encodes data faithfully and never runs code when decoding', () => {
    const v = {
      m: new Map([['k', [1n, new Date(5)]]]),
      s: new Set(['x']),
      r: /a+/g,
      u: undefined,
      e: new TypeError('t'),
    };
    const back = decodeData(encodeData(v)) as typeof v;
    expect(back.m.get('k')).toEqual([1n, new Date(5)]);
    expect(back.s.has('x')).toBe(true);
    expect(back.r.source).toBe('a+');
    expect(back.e).toBeInstanceOf(TypeError);
    expect(() => encodeData({ f: () => 1 })).toThrow(/cannot be sent/);
    expect(() => decodeData(Buffer.from([0xff, 0x0f, 0x99]))).toThrow(/undecodable/);
  });

  it('deep-freezes shared data (maps and sets become read-only)', () => {
    const d = deepFreeze({ a: [1, { b: 2 }], m: new Map([[1, 2]]), s: new Set([1]) });
    expect(Object.isFrozen(d.a[1])).toBe(true);
    expect(() => d.m.set(3, 4)).toThrow(/read-only/);
    expect(() => d.s.add(2)).toThrow(/read-only/);
  });
});

describe('handshake', () => {
  it('authenticates both ways and refuses wrong secrets and versions', async () => {
    const srv = await listen({
      host: '127.0.0.1',
      port: 0,
      secret: 'k',
      role: 'node',
      name: 't',
      info: () => ({ hi: 1 }),
      onConnection: (conn) => conn.onMessage((m) => (m.t === 'info' ? { pong: true } : undefined)),
    });
    try {
      const ok = await connect({
        host: '127.0.0.1',
        port: srv.port,
        secret: 'k',
        role: 'client',
        clientId: 'c',
      });
      expect(ok.info).toEqual({ hi: 1 });
      expect(await ok.conn.request({ t: 'info' })).toMatchObject({ pong: true });
      ok.conn.close();
      await expect(
        connect({ host: '127.0.0.1', port: srv.port, secret: 'nope', role: 'client', clientId: 'c' }),
      ).rejects.toBeInstanceOf(AuthError);
      await expect(
        connect({ host: '127.0.0.1', port: srv.port, secret: '', role: 'client', clientId: 'c' }),
      ).rejects.toThrow(/authentication failed/);
    } finally {
      await srv.close();
    }
  });
});

/** Raw socket speaking frames, to send what a well-behaved peer would not. */
async function rawSession(
  port: number,
): Promise<{ send: (b: Buffer) => void; frames: () => Promise<unknown[]>; close: () => void }> {
  const { unpackMessage } = await import('../../src/dispy/protocol/codec.js');
  const sock = net.connect(port, '127.0.0.1');
  const reader = new FrameReader();
  const got: unknown[] = [];
  sock.on('data', (d) => {
    for (const f of reader.push(d)) got.push(unpackMessage(f));
  });
  await new Promise((r) => sock.once('connect', r));
  return {
    send: (b) => sock.write(b),
    frames: async () => {
      await new Promise((r) => setTimeout(r, 150));
      return got.splice(0);
    },
    close: () => sock.destroy(),
  };
}

describe('a node under bad input', () => {
  it('answers garbage and invalid messages with errors and keeps serving', async () => {
    const node = await startNode();
    // Garbage before authentication: refused, connection closed.
    const g = await rawSession(node.port);
    g.send(Buffer.from('GET / HTTP/1.0\r\n\r\n'));
    const f1 = await g.frames();
    expect(f1[0]).toMatchObject({ t: 'hello' });
    expect(JSON.stringify(f1)).toMatch(/exceeds the limit|expected 'auth'|undecodable/);
    g.close();
    // A valid handshake, then invalid messages: clear errors, the connection stays usable.
    const { conn } = await connect({
      host: '127.0.0.1',
      port: node.port,
      secret: '',
      role: 'client',
      clientId: 'x',
    });
    const errors: string[] = [];
    conn.onMessage((m) => {
      if (m.t === 'error') errors.push(m.message);
    });
    conn.socket.write(encodeFrame(packMessage({ t: 'job', computeId: 'nope' })));
    conn.socket.write(encodeFrame(packMessage({ t: 'no-such-type' })));
    conn.socket.write(encodeFrame(Buffer.from([0xc1, 0xc1])));
    await expect(conn.request({ t: 'close', computeId: 'nope', terminate: false })).rejects.toThrow(
      /unknown computation/,
    );
    expect(errors.join('\n')).toMatch(/invalid 'job' message/);
    expect(errors.join('\n')).toMatch(/invalid 'no-such-type' message/);
    expect(await conn.request({ t: 'info' })).toHaveProperty('info');
    conn.close();
    // And the node still runs jobs.
    const c = new JobCluster((x: number) => x + 1, { nodes: [['127.0.0.1', node.port]] });
    expect(await c.submit(1)).toBe(2);
    await c.close();
  });

  it('reports a computation with a syntax error clearly', async () => {
    const node = await startNode();
    const { NodeLink } = await import('../../src/dispy/client/node-link.js');
    const link = new NodeLink({
      host: '127.0.0.1',
      port: node.port,
      secret: '',
      role: 'client',
      clientId: 'broken-client',
      files: [],
      handler: { onMessage: () => undefined, onLost: () => undefined },
      spec: {
        computeId: 'broken1',
        token: 'token-token-token',
        name: 'broken',
        kind: 'function',
        source: 'var __dispy_compute = (function (x) { return x +; });',
        entry: '__dispy_compute',
        cleanup: true,
        files: [],
        pulseInterval: 10,
        timeout: 0,
      },
    });
    await link.connect();
    await expect(link.setUp(1)).rejects.toThrow(/SyntaxError/);
    link.destroy();
  });
});
