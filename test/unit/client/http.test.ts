import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { backoffDelay, readRange, request, totalSize } from '../../../src/client/http.js';
import { CommError } from '../../../src/common/errors.js';
import { startTestServer, type TestServer } from './test-server.js';

const FAST = { retries: 3, baseDelayMs: 1, maxDelayMs: 5 };

describe('client http', () => {
  let srv: TestServer;
  beforeEach(async () => {
    srv = await startTestServer();
  });
  afterEach(async () => {
    await srv.close();
  });

  it('retries 503 answers, then succeeds', async () => {
    let n = 0;
    srv.handlers.set('/busy', (_req, res) => {
      n++;
      if (n < 3) {
        res.writeHead(503);
        res.end('Temporary server error. Try again.');
      } else {
        res.end('"ok"');
      }
    });
    const r = await request(`${srv.base}/busy`, { retry: FAST });
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('"ok"');
    expect(n).toBe(3);
  });

  it('gives up after the last retry with a CommError carrying the status', async () => {
    srv.handlers.set('/down', (_req, res) => {
      res.writeHead(503);
      res.end('busy');
    });
    const e = await request(`${srv.base}/down`, { retry: FAST }).catch((x) => x);
    expect(e).toBeInstanceOf(CommError);
    expect(e.status).toBe(503);
    expect(srv.requests.length).toBe(4);
  });

  it('does not retry other errors', async () => {
    const e = await request(`${srv.base}/missing`, { retry: FAST }).catch((x) => x);
    expect(e).toBeInstanceOf(CommError);
    expect(e.status).toBe(404);
    expect(e.message).toContain('Not found.');
    expect(srv.requests.length).toBe(1);
  });

  it('retries refused connections and reports status 0', async () => {
    const port = srv.port;
    await srv.close();
    const t0 = Date.now();
    const e = await request(`http://127.0.0.1:${port}/x`, { retry: FAST }).catch((x) => x);
    expect(e).toBeInstanceOf(CommError);
    expect(e.status).toBe(0);
    expect(Date.now() - t0).toBeLessThan(2000);
    srv = await startTestServer();
  });

  it('does not repeat a non-idempotent request after the server saw it', async () => {
    srv.handlers.set('/reset', (req) => req.socket.destroy());
    const e = await request(`${srv.base}/reset`, { body: 'x', idempotent: false, retry: FAST }).catch(
      (x) => x,
    );
    expect(e).toBeInstanceOf(CommError);
    expect(srv.requests.length).toBe(1);
  });

  it('times out', async () => {
    srv.handlers.set('/slow', () => undefined);
    const e = await request(`${srv.base}/slow`, {
      timeoutMs: 100,
      retry: { retries: 0, baseDelayMs: 0, maxDelayMs: 0 },
    }).catch((x) => x);
    expect(e).toBeInstanceOf(CommError);
    expect(e.message).toMatch(/no answer/);
  });

  it('follows redirects', async () => {
    srv.handlers.set('/old', (_req, res) => {
      res.writeHead(302, { location: '/new' });
      res.end();
    });
    srv.files.set('/new', Buffer.from('moved'));
    expect((await request(`${srv.base}/old`)).body.toString()).toBe('moved');
  });

  it('reads remote files in ranged chunks', async () => {
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
    srv.files.set('/f', data);
    const chunks: Buffer[] = [];
    for await (const c of readRange(`${srv.base}/f`, { chunkSize: 300 })) chunks.push(c);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    expect(chunks.map((c) => c.length)).toEqual([300, 300, 300, 100]);
    expect(srv.requests.map((r) => r.range)).toEqual([
      'bytes=0-299',
      'bytes=300-599',
      'bytes=600-899',
      'bytes=900-999',
    ]);
  });

  it('reads an empty file and a server without range support', async () => {
    srv.files.set('/empty', Buffer.alloc(0));
    const got: Buffer[] = [];
    for await (const c of readRange(`${srv.base}/empty`)) got.push(c);
    expect(got).toEqual([]);
    srv.handlers.set('/norange', (_req, res) => res.end('whole body'));
    const parts: Buffer[] = [];
    for await (const c of readRange(`${srv.base}/norange`, { chunkSize: 3 })) parts.push(c);
    expect(Buffer.concat(parts).toString()).toBe('whole body');
  });

  it('computes sizes and back-off delays', () => {
    expect(totalSize({ 'content-range': 'bytes 0-9/1234' })).toBe(1234);
    expect(totalSize({ 'content-length': '55' })).toBe(55);
    expect(totalSize({})).toBeUndefined();
    for (let n = 0; n < 12; n++) {
      const d = backoffDelay(n, { retries: 9, baseDelayMs: 100, maxDelayMs: 1000 });
      expect(d).toBeGreaterThanOrEqual(100);
      expect(d).toBeLessThanOrEqual(Math.min(1000, 100 * 2 ** n));
    }
  });
});
