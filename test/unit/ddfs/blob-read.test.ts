/** pipeBlob: reads, ranges, slow writers, failover between replicas, busy nodes, failing writers. */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommError } from '../../../src/common/errors.js';
import { pipeBlob, type StreamBlobOptions, streamBlob } from '../../../src/ddfs/client/blob-read.js';
import { type DataServer, startDataServer } from '../../../src/node/data-server.js';

const BLOB = randomBytes(3 * 1024 * 1024 + 777);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
let root: string;
let data: DataServer;
let blobUrl: string;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'ddfs-read-'));
  await fs.mkdir(path.join(root, 'ddfs/vol0/blob/ab'), { recursive: true });
  await fs.writeFile(path.join(root, 'ddfs/vol0/blob/ab/b$5dc-1-2'), BLOB);
  data = await startDataServer({
    listenHost: '127.0.0.1',
    port: 0,
    discoData: path.join(root, 'disco'),
    ddfsData: path.join(root, 'ddfs'),
  });
  blobUrl = `http://127.0.0.1:${data.port}/ddfs/vol0/blob/ab/b$5dc-1-2`;
});

afterAll(async () => {
  await data.close();
  await fs.rm(root, { recursive: true, force: true });
});

/** A server answering with `handler`; closed by the returned function. */
async function server(handler: http.RequestListener): Promise<{ url: string; close: () => void }> {
  const s = http.createServer(handler);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/ddfs/vol0/blob/ab/b$5dc-1-2`,
    close: () => {
      s.closeAllConnections();
      s.close();
    },
  };
}

/**
 * Read with pipeBlob: each buffer copied before the call returns (or, `slow`, kept until the
 * returned promise resolves).
 */
async function read(replicas: string[], opts: StreamBlobOptions & { slow?: boolean } = {}) {
  const parts: Buffer[] = [];
  const errors: string[] = [];
  const n = await pipeBlob(
    replicas,
    (b) => {
      if (!opts.slow) {
        parts.push(Buffer.from(b));
        return;
      }
      return new Promise<void>((resolve) =>
        setTimeout(() => {
          parts.push(Buffer.from(b));
          resolve();
        }, 1),
      );
    },
    { ...opts, onReplicaError: (_u, e) => errors.push(e.message) },
  );
  const all = Buffer.concat(parts);
  expect(all.length).toBe(n);
  return { all, errors };
}

describe('pipeBlob', () => {
  it('reads a blob byte for byte, also with a slow writer', async () => {
    expect(sha((await read([blobUrl], {})).all)).toBe(sha(BLOB));
    expect(sha((await read([blobUrl], { slow: true })).all)).toBe(sha(BLOB));
  });

  it('starts at an unaligned offset', async () => {
    const { all } = await read([blobUrl], { start: 1024 * 1024 + 3 });
    expect(sha(all)).toBe(sha(BLOB.subarray(1024 * 1024 + 3)));
  });

  it('moves on from a dead replica and from a missing one', async () => {
    const dead = await server(() => undefined);
    dead.close();
    const missing = blobUrl.replace('b$5dc-1-2', 'nope$5dc-1-2');
    const { all, errors } = await read([dead.url, missing, blobUrl], {});
    expect(sha(all)).toBe(sha(BLOB));
    expect(errors).toHaveLength(2);
    expect(errors[1]).toMatch(/^Not found\./);
  });

  it('continues on the next replica with a range after a connection breaks mid-body', async () => {
    const broken = await server((_req, res) => {
      res.writeHead(200, { 'Content-Length': BLOB.length });
      res.write(BLOB.subarray(0, 1500 * 1024), () => setTimeout(() => res.destroy(), 20));
    });
    // This one ignores ranges: the bytes delivered already are skipped.
    const whole = await server((_req, res) => {
      res.writeHead(200, { 'Content-Length': BLOB.length });
      res.end(BLOB);
    });
    try {
      const { all, errors } = await read([broken.url, whole.url], {});
      expect(errors[0]).toMatch(/read failed at byte \d+: connection closed before the end/);
      expect(sha(all)).toBe(sha(BLOB));
    } finally {
      broken.close();
      whole.close();
    }
  });

  it('retries a busy (503) replica, reads chunked answers, and reports other statuses', async () => {
    let calls = 0;
    const busy = await server((_req, res) => {
      calls++;
      if (calls < 3) {
        res.writeHead(503, { 'Content-Length': 4 });
        res.end('busy');
        return;
      }
      // No Content-Length: chunked (the plain-socket reader hands this one to http.get).
      res.writeHead(200);
      res.write(BLOB.subarray(0, 1000));
      res.end(BLOB.subarray(1000));
    });
    const gone = await server((_req, res) => {
      res.writeHead(410, { 'Content-Type': 'text/plain' });
      res.end('gone for good');
    });
    try {
      expect(sha((await read([busy.url], {})).all)).toBe(sha(BLOB));
      expect(calls).toBeGreaterThanOrEqual(3);
      const e = await pipeBlob([gone.url], () => undefined, {}).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(CommError);
      expect((e as CommError).message).toMatch(/^gone for good/);
      expect((e as CommError).status).toBe(410);
    } finally {
      busy.close();
      gone.close();
    }
  });

  it('stops at a failing writer without trying other replicas', async () => {
    const tried: string[] = [];
    const e = await pipeBlob(
      [blobUrl, blobUrl],
      () => {
        throw new Error('disk full');
      },
      { onReplicaError: (u) => tried.push(u) },
    ).catch((x: unknown) => x);
    expect((e as Error).message).toBe('disk full');
    expect(tried).toEqual([]);
  });
});

describe('streamBlob (pipeBlob pulled by the consumer)', () => {
  it('yields the blob byte for byte, from an offset, moving on from a dead replica', async () => {
    const dead = await server(() => undefined);
    dead.close();
    const errors: string[] = [];
    const parts: Buffer[] = [];
    const start = 1024 * 1024 + 3;
    for await (const b of streamBlob([dead.url, blobUrl], {
      start,
      onReplicaError: (_u, e) => errors.push(e.message),
    }))
      parts.push(Buffer.from(b));
    expect(sha(Buffer.concat(parts))).toBe(sha(BLOB.subarray(start)));
    expect(errors).toHaveLength(1);
    await expect(streamBlob([dead.url]).next()).rejects.toBeInstanceOf(CommError);
  });

  it('a consumer stopping early ends the transfer: its connection is closed', async () => {
    let closed!: () => void;
    const gone = new Promise<void>((r) => (closed = r));
    const big = await server((_req, res) => {
      res.writeHead(200, { 'Content-Length': 64 * 1024 * 1024 });
      res.write(Buffer.alloc(1024 * 1024));
      res.on('close', closed);
    });
    try {
      for await (const b of streamBlob([big.url])) {
        expect(b.length).toBeGreaterThan(0);
        break;
      }
      await gone;
    } finally {
      big.close();
    }
  });
});
