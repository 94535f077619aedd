/**
 * `ddfs xcat`'s bytes path (src/cli/xcat-lines.ts, xcat-fast.ts) prints exactly what the
 * general path prints (records decoded, each line built by `recordLine`): on tricky records
 * in memory, then through the CLI on a one-node cluster, against `xcat -T` (which reads with
 * the result iterator).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { recordLine, XcatLines } from '../../../src/cli/xcat-lines.js';
import { DataError } from '../../../src/common/errors.js';
import { PACKAGE_ROOT } from '../../../src/common/settings.js';
import {
  BufferSource,
  HunkReader,
  hunkHeader,
  RecordWriter,
  readRecords,
} from '../../../src/protocol/record-stream.js';
import { type Cluster, startCluster } from '../../harness/cluster.js';

/** A record stream of `records`, in hunks of about `hunkSize` bytes. */
function stream(
  records: readonly [unknown, unknown][],
  opts: { compress?: boolean; hunkSize?: number } = {},
) {
  const parts: Buffer[] = [];
  const w = new RecordWriter((b) => parts.push(Buffer.from(b)), opts);
  for (const [k, v] of records) w.write(k, v);
  w.close();
  return Buffer.concat(parts);
}

/** One uncompressed hunk of raw MessagePack bytes (values a writer would not produce). */
function rawHunk(body: Buffer): Buffer {
  return Buffer.concat([hunkHeader(false, zlib.crc32(body), body.length), body]);
}

/** What the general path prints: decoded records, one `recordLine` each. */
function general(data: Buffer, skip = 0): Buffer {
  const lines: string[] = [];
  let i = 0;
  for (const rec of readRecords(new BufferSource(data))) if (i++ >= skip) lines.push(recordLine(rec, false));
  return Buffer.from(lines.length > 0 ? `${lines.join('\n')}\n` : '');
}

/** What the bytes path prints (the first hunk's first `skip` records left out). */
function fast(data: Buffer, skip = 0): Buffer {
  const out: Buffer[] = [];
  const lines = new XcatLines((b) => out.push(Buffer.from(b)));
  const hunks = new HunkReader(new BufferSource(data), { url: 'test' });
  let left = skip;
  for (let body = hunks.nextBody(); body !== null; body = hunks.nextBody()) {
    const n = lines.addHunk(body, 'test', left);
    left = Math.max(0, left - n);
  }
  lines.end();
  return Buffer.concat(out);
}

function same(data: Buffer): Buffer {
  const want = general(data);
  const got = fast(data);
  expect(got.length).toBe(want.length);
  expect(got.equals(want)).toBe(true);
  return got;
}

const nonUtf8 = Buffer.from([0x66, 0xff, 0xfe, 0x80, 0x41, 0xc3]);
const tricky: [unknown, unknown][] = [
  ['plain line', null],
  ['', null],
  ['héllo wörld ☃ 😀 日本語', null],
  ['x'.repeat(127), null],
  ['y'.repeat(128), null],
  ['z'.repeat(70_000), null],
  [Buffer.from('bytes as text'), null],
  [nonUtf8, null],
  [Buffer.from(''), null],
  ['\ud800 lone', null],
  ['\ufeffbyte order mark', null],
  [`\ufeff${'b'.repeat(100)}`, `\ufeff${'v'.repeat(200)}`],
  [`${'\udc00'.repeat(40)}${'w'.repeat(40)}`, null],
  ['key', 'value'],
  ['key', ''],
  ['', 'value'],
  ['tab\tinside', 'new\nline'],
  ['k', nonUtf8],
  ['k', Buffer.from('ünïcode bytes')],
  ['int', 0],
  ['int', 127],
  ['int', -1],
  ['int', -32],
  ['int', -33],
  ['int', 128],
  ['int', 255],
  ['int', 256],
  ['int', 65_535],
  ['int', 65_536],
  ['int', 2 ** 32 - 1],
  ['int', -128],
  ['int', -129],
  ['int', -32_768],
  ['int', -32_769],
  ['int', -(2 ** 31)],
  ['int', 2 ** 40],
  ['float', 1.5],
  ['float', -0],
  ['float', Number.NaN],
  ['bool', true],
  ['bool', false],
  [true, false],
  [42, 'forty-two'],
  [null, null],
  [null, 'v'],
  ['arr', [1, 'a', null]],
  ['map', { a: 1, b: [true] }],
  [['array', 'key'], null],
  [{ o: 1 }, { p: 'q' }],
];

describe('xcat bytes path: the same bytes as decoded records', () => {
  test('tricky records, compressed or not, in one hunk or many', () => {
    same(stream(tricky));
    same(stream(tricky, { compress: true }));
    same(stream(tricky, { hunkSize: 64 }));
  });

  test('chunked text: lines of every length across hunks and output buffers', () => {
    const recs: [unknown, unknown][] = [];
    for (let i = 0; i < 60_000; i++)
      recs.push([`line ${i} ${'é'.repeat(i % 7)}${'w'.repeat(i % 300)}`, null]);
    recs.push(['l'.repeat(3 << 20), null]);
    for (let i = 0; i < 1000; i++) recs.push([i % 3 === 0 ? '' : `after ${i}`, null]);
    const got = same(stream(recs));
    expect(got.length).toBeGreaterThan(4 << 20);
  });

  test('a hunk with text, then other records, then text again', () => {
    const recs: [unknown, unknown][] = [];
    for (let i = 0; i < 500; i++) recs.push([`w${i}`, i % 100 === 50 ? { n: i } : i % 10 === 0 ? i : null]);
    same(stream(recs));
  });

  test('strings that are not UTF-8 (written by other writers) print as the decoder reads them', () => {
    const body = Buffer.concat([
      Buffer.from([0xa3, 0x61, 0x62, 0x63, 0xc0]), // "abc", nil
      Buffer.from([0xa4, 0x61, 0xff, 0xc3, 0x28, 0xc0]), // invalid bytes, nil
      Buffer.from([0xa2, 0xed, 0xa0, 0xa1, 0x78]), // half a surrogate's bytes, "x"
      Buffer.from([0xd9, 0x03, 0xe2, 0x82, 0xac, 0xa2, 0xc3, 0xa9]), // "€" (str 8), "é"
      Buffer.from([0xa1, 0x6b, 0xa3, 0xf0, 0x9f, 0x98]), // "k", a truncated 4-byte sequence
    ]);
    same(rawHunk(body));
    // Long invalid strings (the copy path for long text) and a valid hunk after an invalid one.
    const long = Buffer.concat([Buffer.from([0xd9, 200]), Buffer.alloc(200, 0xe9), Buffer.from([0xc0])]);
    same(Buffer.concat([rawHunk(long), stream([['fine', null]])]));
  });

  test('extension types (undefined, dates, sets) go through the decoder whole', () => {
    same(
      stream([
        ['u', undefined],
        ['d', new Date(0)],
        ['s', new Set([1])],
        ['plain', null],
      ]),
    );
  });

  test('records already printed from another replica are skipped', () => {
    const data = stream(tricky, { hunkSize: 128 });
    for (const skip of [0, 1, 5, 17, tricky.length - 1, tricky.length])
      expect(fast(data, skip).equals(general(data, skip))).toBe(true);
  });

  test('an odd number of values is a data error, nothing printed', () => {
    const odd = rawHunk(Buffer.from([0xa1, 0x61, 0xc0, 0xa1, 0x62]));
    expect(() => general(odd)).toThrow(DataError);
    expect(() => fast(odd)).toThrow(/odd number of values/);
  });
});

describe('ddfs xcat through the CLI', () => {
  let c: Cluster;
  let tmp: string;
  const DDFS = path.join(PACKAGE_ROOT, 'bin', 'ddfs');

  function ddfs(args: string[]): Promise<{ code: number; out: Buffer; err: string }> {
    return new Promise((resolve, reject) => {
      const p = spawn(DDFS, args, {
        env: { ...process.env, ...c.env, DISCO_ROOT: path.join(c.root, 'cli') },
        cwd: tmp,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      let err = '';
      p.stdout.on('data', (b: Buffer) => out.push(b));
      p.stderr.on('data', (b: Buffer) => {
        err += b.toString('utf8');
      });
      p.on('error', reject);
      p.on('close', (code) => resolve({ code: code ?? -1, out: Buffer.concat(out), err }));
    });
  }

  beforeAll(async () => {
    c = await startCluster({
      nodes: 1,
      cores: 1,
      env: { DDFS_BLOB_REPLICAS: '1', DDFS_TAG_REPLICAS: '1', DDFS_TAG_MIN_REPLICAS: '1' },
    });
    tmp = mkdtempSync(path.join(os.tmpdir(), 'xcat-fast-'));
    writeFileSync(path.join(tmp, 'identity.mjs'), 'export function same(stream) { return stream; }\n');
    const text = Array.from(
      { length: 30_000 },
      (_, i) => `line ${i} ${'ü'.repeat(i % 5)} ${'x'.repeat(i % 90)}`,
    );
    text.splice(100, 0, '', '', 'after empty lines');
    writeFileSync(path.join(tmp, 'text.txt'), `${text.join('\n')}\n`);
    writeFileSync(
      path.join(tmp, 'records'),
      Buffer.concat([stream(tricky), stream(tricky, { compress: true })]),
    );
  }, 60_000);
  afterAll(async () => {
    await c?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('chunked text and pushed record files: the same bytes as the general path', async () => {
    expect((await ddfs(['chunk', '-S', '100k', '-z', '1', 'xf:text', './text.txt'])).code).toBe(0);
    expect((await ddfs(['push', 'xf:records', './records'])).code).toBe(0);
    const text = await ddfs(['xcat', 'xf:text']);
    expect(text).toMatchObject({ code: 0, err: '' });
    const general = await ddfs(['xcat', '-T', './identity.mjs:same', 'xf:text']);
    expect(general).toMatchObject({ code: 0, err: '' });
    expect(text.out.equals(general.out)).toBe(true);
    expect(text.out.toString('utf8').split('\n').sort()).toEqual(
      `${Array.from({ length: 30_000 }, (_, i) => `line ${i} ${'ü'.repeat(i % 5)} ${'x'.repeat(i % 90)}`)
        .concat(['', '', 'after empty lines'])
        .join('\n')}\n`
        .split('\n')
        .sort(),
    );
    const recs = await ddfs(['xcat', 'xf:records', './records']);
    expect(recs).toMatchObject({ code: 0, err: '' });
    const recsGeneral = await ddfs(['xcat', '-T', './identity.mjs:same', 'xf:records', './records']);
    expect(recs.out.equals(recsGeneral.out)).toBe(true);
    expect(
      recs.out.equals(
        Buffer.concat([general4(tricky), general4(tricky), general4(tricky), general4(tricky)]),
      ),
    ).toBe(true);
  }, 60_000);

  test('a replica that fails part way: the next one, without the records already printed', async () => {
    const whole = stream(tricky, { hunkSize: 128 });
    writeFileSync(path.join(tmp, 'whole'), whole);
    writeFileSync(path.join(tmp, 'cut'), whole.subarray(0, Math.floor(whole.length * 0.6)));
    const url = async (file: string) => {
      const r = await ddfs(['push', `xf:${file}`, `./${file}`]);
      expect(r.code).toBe(0);
      return r.out.toString('utf8').trim().slice('created: '.length);
    };
    const cut = await url('cut');
    const good = await url('whole');
    const missing = good.replace(/blob\/..\//, 'blob/00/').replace(/[^/]+$/, 'missing-0$1-2-3');
    const replicas = `${missing}\t${cut}\t${good}`;
    const got = await ddfs(['xcat', replicas]);
    expect(got).toMatchObject({ code: 0, err: '' });
    const want = await ddfs(['xcat', '-T', './identity.mjs:same', replicas]);
    expect(want).toMatchObject({ code: 0, err: '' });
    expect(got.out.equals(want.out)).toBe(true);
    expect(got.out.equals(general(whole))).toBe(true);
    // Only a cut replica: the records of its whole hunks, then the record reader's error.
    const failed = await ddfs(['xcat', cut]);
    const failedGeneral = await ddfs(['xcat', '-T', './identity.mjs:same', cut]);
    expect(failed.code).toBe(1);
    expect(failed.err).toMatch(/truncated hunk/);
    expect(failed.err).toBe(failedGeneral.err);
    expect(failed.out.equals(failedGeneral.out)).toBe(true);
  }, 60_000);
});

/** The general path's lines of records written once. */
function general4(records: readonly [unknown, unknown][]): Buffer {
  return general(stream(records));
}
