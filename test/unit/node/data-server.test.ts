import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DataServer, startDataServer } from '../../../src/node/data-server.js';
import { tempRoot } from './harness.js';

/** Several read buffers long and not a whole number of them. */
const BIG = randomBytes(5 * 1024 * 1024 + 4321);
let root: string;
let server: DataServer;
let base: string;

beforeAll(async () => {
  root = await tempRoot();
  await fs.mkdir(path.join(root, 'data/host/ab/job'), { recursive: true });
  await fs.mkdir(path.join(root, 'ddfs/vol0/blob/12'), { recursive: true });
  await fs.writeFile(path.join(root, 'data/host/ab/job/file'), '0123456789');
  await fs.writeFile(path.join(root, 'data/empty'), '');
  await fs.writeFile(path.join(root, 'ddfs/vol0/blob/12/b$1-2-3'), 'blob');
  await fs.writeFile(path.join(root, 'secret'), 'do not serve');
  await fs.writeFile(path.join(root, 'ddfs/vol0/blob/12/big$1-2-3'), BIG);
  server = await startDataServer({
    listenHost: '127.0.0.1',
    port: 0,
    discoData: path.join(root, 'data'),
    ddfsData: path.join(root, 'ddfs'),
  });
  base = `http://127.0.0.1:${server.port}`;
});

afterAll(async () => {
  await server.close();
  await fs.rm(root, { recursive: true, force: true });
});

/** A request with the path sent exactly as given (fetch would normalise `..`). */
function rawGet(p: string, method = 'GET'): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(server.port, '127.0.0.1', () => {
      sock.write(`${method} ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    });
    let head = '';
    sock.on('data', (d) => {
      head += d.toString('latin1');
    });
    sock.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0)));
    sock.on('error', reject);
  });
}

describe('data server', () => {
  it('serves /disco and /ddfs files with ranges, never 416', async () => {
    const full = await fetch(`${base}/disco/host/ab/job/file`);
    expect(full.status).toBe(200);
    expect(await full.text()).toBe('0123456789');

    const part = await fetch(`${base}/disco/host/ab/job/file`, { headers: { Range: 'bytes=2-5' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 2-5/10');
    expect(await part.text()).toBe('2345');

    const past = await fetch(`${base}/disco/host/ab/job/file`, { headers: { Range: 'bytes=10-' } });
    expect(past.status).toBe(200);
    expect(await past.text()).toBe('0123456789');
    const empty = await fetch(`${base}/disco/empty`, { headers: { Range: 'bytes=0-99' } });
    expect(empty.status).toBe(200);
    expect(await empty.text()).toBe('');

    const blob = await fetch(`${base}/ddfs/vol0/blob/12/b$1-2-3`);
    expect(await blob.text()).toBe('blob');
    const proxied = await fetch(`${base}/proxy/somenode/GET/ddfs/vol0/blob/12/b$1-2-3`);
    expect(await proxied.text()).toBe('blob');
    const head = await fetch(`${base}/disco/host/ab/job/file`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('10');
  });

  it('refuses path tricks, directories and other methods', async () => {
    expect(await rawGet('/disco/../secret')).toBe(404);
    expect(await rawGet('/disco/host/../../secret')).toBe(404);
    expect(await rawGet('/disco/%2e%2e/secret')).toBe(404);
    expect(await rawGet('/disco/%2E%2E/%2E%2E/etc/passwd')).toBe(404);
    expect(await rawGet('/ddfs/..%2fsecret')).toBe(404);
    expect(await rawGet('/disco/missing')).toBe(404);
    expect(await rawGet('/other/file')).toBe(404);
    expect(await rawGet('/disco/host/ab')).toBe(403);
    expect(await rawGet('/disco/host/ab/job/file', 'PUT')).toBe(501);
    expect(await rawGet('/disco/host/ab/job/file', 'DELETE')).toBe(501);
  });

  it('sends large files and unaligned ranges byte for byte, several at once', async () => {
    const url = `${base}/ddfs/vol0/blob/12/big$1-2-3`;
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const ranges: [number, number | ''][] = [
      [0, ''],
      [1048575, 3145729],
      [BIG.length - 1, ''],
      [12345, ''],
      [0, 0],
    ];
    const got = await Promise.all(
      ranges.map(async ([a, b]) => {
        const r = await fetch(url, { headers: { Range: `bytes=${a}-${b}` } });
        return {
          status: r.status,
          range: r.headers.get('content-range'),
          body: Buffer.from(await r.arrayBuffer()),
        };
      }),
    );
    for (const [i, [a, b]] of ranges.entries()) {
      const end = b === '' ? BIG.length - 1 : b;
      expect(got[i].status).toBe(206);
      expect(got[i].range).toBe(`bytes ${a}-${end}/${BIG.length}`);
      expect(sha(got[i].body)).toBe(sha(BIG.subarray(a, end + 1)));
    }
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.headers.get('content-length')).toBe(String(BIG.length));
  });

  it('survives readers that go away mid-transfer, and serves the next ones correctly', async () => {
    for (let i = 0; i < 4; i++) {
      await new Promise<void>((resolve, reject) => {
        const req = http.get(`${base}/ddfs/vol0/blob/12/big$1-2-3`, (res) => {
          let n = 0;
          res.on('data', (d: Buffer) => {
            n += d.length;
            if (n > 1024 * 1024 * (i + 1)) req.destroy();
          });
          res.on('close', () => resolve());
        });
        req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve() : reject(e)));
      });
    }
    // A reader that reads slowly: the server waits, then finishes.
    const body = await new Promise<Buffer>((resolve, reject) => {
      http
        .get(`${base}/ddfs/vol0/blob/12/big$1-2-3`, (res) => {
          const parts: Buffer[] = [];
          res.pause();
          const t = setInterval(() => {
            let d: Buffer | null;
            while ((d = res.read(256 * 1024) as Buffer | null) !== null) parts.push(d);
          }, 5);
          res.on('end', () => {
            clearInterval(t);
            resolve(Buffer.concat(parts));
          });
          res.on('readable', () => undefined);
        })
        .on('error', reject);
    });
    expect(body.equals(BIG)).toBe(true);
    const again = Buffer.from(await (await fetch(`${base}/ddfs/vol0/blob/12/big$1-2-3`)).arrayBuffer());
    expect(again.equals(BIG)).toBe(true);
    expect(await (await fetch(`${base}/disco/host/ab/job/file`)).text()).toBe('0123456789');
  });
});
