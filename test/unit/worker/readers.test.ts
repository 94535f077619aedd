import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DataError } from '../../../src/common/errors.js';
import { BufferSource, RecordWriter } from '../../../src/protocol/record-stream.js';
import { chainReader, mapLineReader } from '../../../src/worker/func.js';
import { type ReplicaProtocol, readInput } from '../../../src/worker/inputs.js';
import { autoReader, openChain } from '../../../src/worker/readers/chain.js';
import { readIndex } from '../../../src/worker/readers/dir.js';
import { InputStream } from '../../../src/worker/readers/input-stream.js';
import { splitLines } from '../../../src/worker/readers/lines.js';
import { type OpenContext, openUrl } from '../../../src/worker/readers/open-url.js';
import { tempDir } from './helpers.js';

function records(pairs: [unknown, unknown][], opts: { compress?: boolean } = {}): Buffer {
  const chunks: Buffer[] = [];
  const w = new RecordWriter((b) => chunks.push(b), opts);
  for (const [k, v] of pairs) w.write(k, v);
  w.close();
  return Buffer.concat(chunks);
}

function context(root: string): OpenContext {
  const tmpDir = path.join(root, 'tmp');
  mkdirSync(tmpDir, { recursive: true });
  return {
    host: 'me',
    discoPort: 8989,
    discoData: path.join(root, 'data'),
    ddfsData: path.join(root, 'ddfs'),
    master: 'http://127.0.0.1:9',
    tmpDir,
  };
}

/** A byte source that hands out at most `n` bytes per read. */
function chunky(data: Buffer, n: number) {
  const src = new BufferSource(data);
  return { read: (m: number) => src.read(Math.min(m, n)) };
}

describe('line splitting', () => {
  it('handles lines and UTF-8 characters across chunk boundaries (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.string({ unit: 'grapheme' }).map((s) => s.replace(/[\r\n]/g, '')),
          { maxLength: 20 },
        ),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 1, max: 9 }),
        (lines, crlf, trailing, chunk) => {
          const nl = crlf ? '\r\n' : '\n';
          let text = lines.join(nl);
          if (trailing && lines.length > 0) text += nl;
          const got = [...splitLines(chunky(Buffer.from(text), chunk), chunk)];
          const want = text.split(nl);
          if (want[want.length - 1] === '') want.pop();
          expect(got).toEqual(want);
        },
      ),
    );
  });

  it('keeps inner empty lines and drops only the final terminator', () => {
    expect([...splitLines(new BufferSource(Buffer.from('a\n\nb\n')))]).toEqual(['a', '', 'b']);
    expect([...splitLines(new BufferSource(Buffer.from('a\nb')))]).toEqual(['a', 'b']);
  });
});

describe('opening URLs', () => {
  it('reads raw:// data after the scheme', () => {
    const ctx = context(tempDir());
    const s = openUrl('raw://hello\nworld', ctx);
    expect(s.size).toBe(11);
    expect([...s]).toEqual(['hello', 'world']);
  });

  it('reads file:// URLs, plain paths and local disco:// URLs from disk', () => {
    const root = tempDir();
    const ctx = context(root);
    const file = path.join(ctx.discoData, 'me', 'ab', 'job', 'in.txt');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, 'x\ny\n');
    expect([...openUrl(`file://${file}`, ctx)]).toEqual(['x', 'y']);
    expect([...openUrl(file, ctx)]).toEqual(['x', 'y']);
    expect([...openUrl('disco://me/disco/me/ab/job/in.txt', ctx)]).toEqual(['x', 'y']);
    expect([...openUrl('http://me:8989/disco/me/ab/job/in.txt', ctx)]).toEqual(['x', 'y']);
    expect(() => openUrl(path.join(root, 'missing'), ctx)).toThrow(/ENOENT/);
    expect(() => openUrl('ftp://x/y', ctx)).toThrow(/unsupported/);
  });

  it('reads local dir:// indexes, filtered by label', () => {
    const ctx = context(tempDir());
    const idx = path.join(ctx.discoData, 'me', 'ab', 'job', '.disco', 'map-index.txt.gz');
    mkdirSync(path.dirname(idx), { recursive: true });
    writeFileSync(idx, gzipSync('0 disco://me/disco/a\n1 disco://me/disco/b\n0 disco://other/disco/c\n'));
    const url = 'dir://me/disco/me/ab/job/.disco/map-index.txt.gz';
    expect(readIndex(url, ctx).map((e) => e.url)).toHaveLength(3);
    expect(readIndex(url, ctx, '0').map((e) => e.url)).toEqual([
      'disco://me/disco/a',
      'disco://other/disco/c',
    ]);
    writeFileSync(idx, 'not gzip');
    expect(() => readIndex(url, ctx)).toThrow(DataError);
  });
});

describe('readers', () => {
  it('autoReader decodes record streams and reads anything else as lines', () => {
    const rec = InputStream.fromBytes(
      records([
        ['k', { v: 1 }],
        [2, [3]],
      ]),
      'x',
    );
    expect([...autoReader(rec, null, 'x')]).toEqual([
      ['k', { v: 1 }],
      [2, [3]],
    ]);
    expect([...autoReader(InputStream.fromBytes('é\nb', 'x'), null, 'x')]).toEqual(['é', 'b']);
    expect([...autoReader(['a', 'b'], null, 'x')]).toEqual(['a', 'b']);
  });

  it('reads concatenated, compressed and uncompressed streams', () => {
    const data = Buffer.concat([records([['a', 1]]), records([['b', 2]], { compress: false })]);
    expect([...chainReader(InputStream.fromBytes(data, 'x'))]).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
  });

  it('refuses corrupted hunks with a DataError', () => {
    const data = records([['hello', 'world']], { compress: false });
    data[16] ^= 0xff; // flip a byte of the body: CRC mismatch
    expect(() => [...chainReader(InputStream.fromBytes(data, 'x'))]).toThrow(DataError);
    const truncated = records([['hello', 'world']]).subarray(0, 20);
    expect(() => [...chainReader(InputStream.fromBytes(truncated, 'x'))]).toThrow(/truncated/);
  });

  it('mapLineReader reads streams, strings and iterables of lines', () => {
    expect([...mapLineReader(InputStream.fromBytes('a\r\nb\n', 'x'))]).toEqual(['a', 'b']);
    expect([...mapLineReader('p\nq')]).toEqual(['p', 'q']);
    expect([...mapLineReader(['x\n', 'y'])]).toEqual(['x', 'y']);
  });
});

describe('input stream chain', () => {
  const open = (url: string) => InputStream.fromBytes(url.slice('raw://'.length), url);

  it('applies stream functions in order, then the reader', () => {
    const s1 = (stream: unknown) => `a${(stream as InputStream).read().toString()}`;
    const s2 = (stream: unknown, size: number | null, url: string) => [
      InputStream.fromBytes(`b${(stream as InputStream).read().toString()}`, url),
      size,
      `${url}#2`,
    ];
    const reader = function* (stream: unknown, _size: number | null, url: string) {
      yield [url, (stream as InputStream).read().toString()];
    };
    const opened = openChain('raw://x', open, [s1, s2], reader, {});
    expect([...opened.entries]).toEqual([['raw://x#2', 'bax']]);
    opened.close();
  });

  it('a null reader iterates the last stream as it is', () => {
    expect([...openChain('raw://1\n2', open, [], null, {}).entries]).toEqual(['1', '2']);
    const gen = function* () {
      yield 'custom';
    };
    expect([...openChain('raw://1', open, [() => gen()], null, {}).entries]).toEqual(['custom']);
  });

  it('refuses async readers', () => {
    expect(() => openChain('raw://1', open, [], async () => [], {})).toThrow(/synchronous/);
  });
});

describe('replica fail-over', () => {
  const ctx = context(tempDir());
  const open = (url: string) => openChain(url, (u) => openUrl(u, ctx), [], undefined, {});

  it('moves to the next replica, skipping entries already delivered', () => {
    const bad = records(
      [
        ['a', 1],
        ['b', 2],
        ['c', 3],
      ],
      { compress: false },
    );
    // Corrupt the second hunk: write records in separate streams and break the last one.
    const first = records([['a', 1]]);
    const second = records(
      [
        ['b', 2],
        ['c', 3],
      ],
      { compress: false },
    );
    second[16] ^= 0xff;
    const file = path.join(ctx.tmpDir, 'bad');
    writeFileSync(file, Buffer.concat([first, second]));
    const good = path.join(ctx.tmpDir, 'good');
    writeFileSync(good, bad);
    const calls: string[] = [];
    const proto: ReplicaProtocol = {
      include: (iid) => {
        calls.push(`include ${iid}`);
        return [
          [0, file],
          [1, good],
        ];
      },
      inputFailed: () => {
        throw new Error('not expected');
      },
    };
    const got = [...readInput({ iid: 0, replicas: [] }, proto, open)];
    expect(got).toEqual([
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ]);
    expect(calls).toEqual(['include 0']);
  });

  it('reports INPUT_ERR when all replicas failed, continues with RETRY, gives up on FAIL', () => {
    const missing = path.join(ctx.tmpDir, 'missing');
    const sent: unknown[] = [];
    let retried = false;
    const proto: ReplicaProtocol = {
      include: () => [[0, missing]],
      inputFailed: (iid, rids) => {
        sent.push([iid, rids]);
        if (retried) return null;
        retried = true;
        return [
          [0, missing],
          [1, 'raw://ok'],
        ];
      },
    };
    expect([...readInput({ iid: 3, replicas: [] }, proto, open)]).toEqual(['ok']);
    expect(sent).toEqual([[3, [0]]]);
    const failing: ReplicaProtocol = { include: () => [[0, missing]], inputFailed: () => null };
    expect(() => [...readInput({ iid: 0, replicas: [] }, failing, open)]).toThrow(
      /Exhausted all available replicas/,
    );
  });

  it('does not treat errors of the consumer as read failures', () => {
    const proto: ReplicaProtocol = {
      include: () => [[0, 'raw://a\nb']],
      inputFailed: () => {
        throw new Error('consumer errors must not fail replicas');
      },
    };
    expect(() => {
      for (const e of readInput({ iid: 0, replicas: [] }, proto, open))
        throw new DataError(`map failed on ${e}`);
    }).toThrow('map failed on a');
  });
});
