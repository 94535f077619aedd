import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordsFromChunks, resultIterator } from '../../../src/client/result-iterator.js';
import { DataError } from '../../../src/common/errors.js';
import { loadSettings } from '../../../src/common/settings.js';
import { mapLineReader } from '../../../src/index.js';
import { encodeIndex } from '../../../src/protocol/index-file.js';
import { type KV, RecordWriter } from '../../../src/protocol/record-stream.js';
import { startTestServer, type TestServer } from './test-server.js';

function recordStream(records: KV[], opts: { compress?: boolean } = {}): Buffer {
  const chunks: Buffer[] = [];
  const w = new RecordWriter((b) => chunks.push(b), opts);
  for (const [k, v] of records) w.write(k, v);
  w.close();
  return Buffer.concat(chunks);
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function* split(buf: Buffer, sizes: number[]): AsyncGenerator<Buffer> {
  let pos = 0;
  let i = 0;
  while (pos < buf.length) {
    const n = sizes[i++ % sizes.length];
    yield buf.subarray(pos, pos + n);
    pos += n;
  }
}

describe('record decoding from chunks', () => {
  const records: KV[] = Array.from({ length: 300 }, (_, i) => [`key-${i}`, { n: i, list: [i, 'x'] }]);
  it('decodes whatever the chunk boundaries (compressed and not, concatenated streams)', async () => {
    for (const compress of [true, false]) {
      const data = Buffer.concat([
        recordStream(records.slice(0, 100), { compress }),
        recordStream(records.slice(100), { compress }),
      ]);
      for (const sizes of [[5], [7, 13], [14], [data.length], [1000, 3]]) {
        expect(await collect(recordsFromChunks(split(data, sizes), 'test://x'))).toEqual(records);
      }
    }
  });

  it('reports truncated and corrupt data as DataError', async () => {
    const data = recordStream(records);
    await expect(
      collect(recordsFromChunks(split(data.subarray(0, data.length - 20), [50]), 'u')),
    ).rejects.toBeInstanceOf(DataError);
    const bad = Buffer.from(data);
    bad[20] ^= 0xff;
    await expect(collect(recordsFromChunks(split(bad, [64]), 'u'))).rejects.toBeInstanceOf(DataError);
  });
});

describe('resultIterator', () => {
  let srv: TestServer;
  let tmp: string;
  const settings = loadSettings({ DISCO_PORT: '1', DISCO_MASTER: 'http://127.0.0.1:1' });
  beforeAll(async () => {
    srv = await startTestServer();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'disco-results-'));
  });
  afterAll(async () => {
    await srv.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('expands dir:// results and reads every data file over HTTP (host:port node names)', async () => {
    const host = `127.0.0.1:${srv.port}`;
    const job = 'disco/n1/ab/Count@5dc:1:2';
    srv.files.set(
      `/${job}/part-0`,
      recordStream([
        ['a', 1],
        ['b', 2],
      ]),
    );
    srv.files.set(`/${job}/part-1`, recordStream([['c', 3]]));
    srv.files.set(
      `/${job}/.disco/reduce-index.txt.gz`,
      encodeIndex([
        { label: '1', url: `disco://${host}/${job}/part-1` },
        { label: '0', url: `disco://${host}/${job}/part-0` },
      ]),
    );
    const seen: unknown[] = [];
    const got = await collect(
      resultIterator([`dir://${host}/${job}/.disco/reduce-index.txt.gz`], {
        settings,
        notifier: (u) => seen.push(u),
      }),
    );
    expect(got).toEqual([
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ]);
    expect(seen).toEqual([[`disco://${host}/${job}/part-0`], [`disco://${host}/${job}/part-1`]]);
  });

  it('falls back to the next replica without repeating records', async () => {
    srv.files.set(
      '/good',
      recordStream([
        ['x', 1],
        ['y', 2],
      ]),
    );
    let calls = 0;
    srv.handlers.set('/flaky', (req, res) => {
      calls++;
      // Two hunks (two concatenated streams). The first ranged read gets only the first one
      // (a short 206), the next read fails: one record was delivered before the failure.
      const first = recordStream([['x', 1]]);
      const total = first.length + recordStream([['y', 2]]).length;
      if (req.headers.range?.startsWith('bytes=0-')) {
        res.writeHead(206, { 'content-range': `bytes 0-${first.length - 1}/${total}` });
        res.end(first);
      } else {
        res.writeHead(500);
        res.end('disk on fire');
      }
    });
    const got = await collect(
      resultIterator([[`${srv.base}/missing`, `${srv.base}/good`]], {
        settings,
        retry: { retries: 0, baseDelayMs: 0, maxDelayMs: 0 },
      }),
    );
    expect(got).toEqual([
      ['x', 1],
      ['y', 2],
    ]);
    const again = await collect(
      resultIterator([[`${srv.base}/flaky`, `${srv.base}/good`]], {
        settings,
        retry: { retries: 0, baseDelayMs: 0, maxDelayMs: 0 },
      }),
    );
    expect(again).toEqual([
      ['x', 1],
      ['y', 2],
    ]);
    expect(calls).toBe(2);
    await expect(collect(resultIterator([`${srv.base}/missing`], { settings }))).rejects.toThrow(/Not found/);
  });

  it('reads local files, and custom readers over spooled remote files', async () => {
    const file = path.join(tmp, 'local');
    writeFileSync(file, recordStream([['local', true]]));
    expect(await collect(resultIterator([file, `file://${file}`], { settings }))).toEqual([
      ['local', true],
      ['local', true],
    ]);
    srv.files.set('/text', Buffer.from('line one\nline two\n'));
    const lines = await collect(resultIterator([`${srv.base}/text`], { settings, reader: mapLineReader }));
    expect(lines).toEqual(['line one', 'line two']);
  });
});
