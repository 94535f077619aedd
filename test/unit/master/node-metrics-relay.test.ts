/**
 * The master's relay of a node's metrics (`/metrics/node/<host>`) against a misbehaving metrics
 * exporter: a plain HTTP server in the test stands in for it (it is not one of our components),
 * announced by a node's hello. A reply past the 8 MiB limit is cut off there, not read to its end.
 */
import http from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Listening, listen } from '../../../src/common/http-listen.js';
import { FakeNode } from './fake-node.js';
import { rootWithHosts, startTestMaster, type TestMaster } from './helpers.js';

const LIMIT = 8 << 20;
const CHUNK = Buffer.alloc(64 << 10, 'x');

let m: TestMaster;
let exporter: Listening;
let node: FakeNode;
/** Bytes the exporter sends per request, and what it managed to send of each. */
let replyBytes = 0;
let sent: Promise<number> = Promise.resolve(0);

beforeAll(async () => {
  m = await startTestMaster({}, rootWithHosts([['exporter1', '1']]));
  // Writes `replyBytes` without a Content-Length, as fast as the reader takes them.
  exporter = await listen(
    http.createServer((_req, res) => {
      sent = new Promise((resolve) => {
        let n = 0;
        let gone = false;
        res.on('close', () => {
          gone = true;
          resolve(n);
        });
        const pump = () => {
          while (!gone && n < replyBytes) {
            const part = CHUNK.subarray(0, Math.min(CHUNK.length, replyBytes - n));
            n += part.length;
            if (!res.write(part)) return void res.once('drain', pump);
          }
          if (!gone) res.end();
        };
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        pump();
      });
    }),
    0,
    '127.0.0.1',
  );
  ({ node } = await FakeNode.connect(m.url, 'exporter1', '', { metricsPort: exporter.port }));
});
afterAll(async () => {
  await node?.close();
  await exporter?.close();
  await m?.destroy();
});

it('relays a reply under the limit whole', async () => {
  replyBytes = 1 << 20;
  const r = await fetch(`${m.url}/metrics/node/exporter1`);
  expect(r.status).toBe(200);
  expect((await r.arrayBuffer()).byteLength).toBe(replyBytes);
  expect(await sent).toBe(replyBytes);
});

it('stops reading a reply at the 8 MiB limit and answers 502', async () => {
  replyBytes = 256 << 20;
  const t0 = Date.now();
  const r = await fetch(`${m.url}/metrics/node/exporter1`);
  expect(r.status).toBe(502);
  expect(await r.text()).toMatch(/metrics of node exporter1 failed: .*larger than 8388608 bytes/);
  // The exporter saw its connection closed after little more than the limit (socket buffers).
  const n = await sent;
  expect(n).toBeGreaterThan(LIMIT);
  expect(n).toBeLessThan(LIMIT + (32 << 20));
  expect(Date.now() - t0).toBeLessThan(4000);
});
