/**
 * `ddfs xcat`'s bytes path (src/cli/xcat-lines.ts, xcat-fast.ts) prints exactly what the
 * general path prints (records decoded, each line built by `recordLine`): on tricky records
 * in memory, then through the CLI on a one-node cluster, against `xcat -T` (which reads with
 * the result iterator).
 */
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { xcatFast } from '../../../src/cli/xcat-fast.js';
import { recordLine, XcatLines } from '../../../src/cli/xcat-lines.js';
import { NO_RETRY } from '../../../src/client/http.js';
import { DataError } from '../../../src/common/errors.js';
import { loadSettings } from '../../../src/common/settings.js';
import { objectRelPath } from '../../../src/ddfs/names.js';
import {
  BufferSource,
  HunkReader,
  hunkHeader,
  RecordWriter,
  readRecords,
} from '../../../src/protocol/record-stream.js';
import { runCli } from '../../harness/cli.js';
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
  const ddfs = (args: string[]) =>
    runCli('ddfs', args, { env: { ...c.env, DISCO_ROOT: path.join(c.root, 'cli') }, cwd: tmp });

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

describe('xcat bytes path: output held in memory', () => {
  /** Largest buffer handed on, and all of the output, for hunk `data`. */
  function sizes(data: Buffer): { max: number; out: Buffer } {
    const out: Buffer[] = [];
    const lines = new XcatLines((b) => out.push(Buffer.from(b)));
    const hunks = new HunkReader(new BufferSource(data), { url: 'test' });
    for (let body = hunks.nextBody(); body !== null; body = hunks.nextBody()) lines.addHunk(body, 'test');
    lines.end();
    return { max: Math.max(...out.map((b) => b.length)), out: Buffer.concat(out) };
  }

  test('a hunk whose lines are much longer than its records is handed on in 2 MiB buffers', () => {
    // [false, false] records: 2 bytes each, 12 bytes printed.
    const falses = Buffer.alloc(1 << 20, 0xc2);
    const bad = Buffer.from([0xa4, 0x61, 0xff, 0xc3, 0x28, 0xc0]); // a string that is not UTF-8, nil
    const long = Buffer.concat([Buffer.from([0xd9, 200]), Buffer.alloc(200, 0xe9), Buffer.from([0xc0])]);
    // Text first, then the numbers; text that is not UTF-8 before the buffer is full, or after.
    for (const body of [
      Buffer.concat([Buffer.from([0xa1, 0x61, 0xc0]), falses]),
      Buffer.concat([bad, falses]),
      Buffer.concat([falses, bad, long, Buffer.from([0xa2, 0x6f, 0x6b, 0xc0])]),
    ]) {
      const data = rawHunk(body);
      const got = sizes(data);
      expect(got.out.equals(general(data))).toBe(true);
      expect(got.max).toBeLessThanOrEqual(Math.max(2 << 20, body.length * 1.25 + 64));
    }
  });
});

/** An HTTP server on loopback; `hits` has the range header (or '') of each request. */
async function server(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void,
): Promise<{ url: string; hits: string[]; close: () => Promise<void> }> {
  const hits: string[] = [];
  const srv = http.createServer((req, res) => {
    hits.push(req.headers.range ?? '');
    handler(req, res, hits.length);
  });
  await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', ok));
  const { port } = srv.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/blob`,
    hits,
    close: () =>
      new Promise<void>((ok) => {
        srv.closeAllConnections();
        srv.close(() => ok());
      }),
  };
}

/** Answers `data` (206 from a range's start), written in pieces of `piece()` bytes. */
function serveData(data: Buffer, piece: (at: number) => number = () => 64 << 10) {
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    const m = /bytes=(\d+)-(\d*)/.exec(req.headers.range ?? '');
    let body = data;
    if (m) {
      const a = Number(m[1]);
      const b = m[2] ? Math.min(Number(m[2]) + 1, data.length) : data.length;
      body = data.subarray(a, b);
      res.writeHead(206, { 'content-range': `bytes ${a}-${b - 1}/${data.length}` });
    } else res.writeHead(200, { 'content-length': data.length });
    let p = 0;
    const step = () => {
      if (p >= body.length) return void res.end();
      const from = p;
      p = Math.min(body.length, p + piece(p));
      // Written as the client takes them (a paused reader is not flooded).
      if (res.write(body.subarray(from, p))) setImmediate(step);
      else res.once('drain', step);
    };
    step();
  };
}

/**
 * xcatFast's output for `urls`, through a sink that waits `stall(n)` ms in its n-th write and
 * notes writes started before the one before them ended, and writes not ended at the return.
 */
async function xcat(
  urls: (string | string[])[],
  opts: {
    stall?: (n: number) => number;
    idleTimeoutMs?: number;
    ddfsData?: string;
    onWrite?: () => void;
  } = {},
): Promise<{ out: Buffer; overlap: boolean; unfinished: number }> {
  const out: Buffer[] = [];
  let busy = 0;
  let overlap = false;
  let calls = 0;
  await xcatFast(urls, {
    settings: loadSettings({ DDFS_DATA: opts.ddfsData ?? '/nonexistent' }),
    retry: NO_RETRY,
    idleTimeoutMs: opts.idleTimeoutMs,
    write: async (b) => {
      if (busy > 0) overlap = true;
      busy++;
      opts.onWrite?.();
      out.push(Buffer.from(b));
      const ms = opts.stall?.(++calls) ?? 0;
      if (ms > 0) await new Promise((ok) => setTimeout(ok, ms));
      busy--;
    },
  });
  return { out: Buffer.concat(out), overlap, unfinished: busy };
}

/** Text records of about `mb` MiB in hunks of 100 KiB, compressed, and a few tricky ones. */
function bigText(mb: number): Buffer {
  const recs: [unknown, unknown][] = [];
  for (let i = 0, n = 0; n < mb << 20; i++) {
    const line = `line ${i} ${'é'.repeat(i % 7)}${'w'.repeat(i % 200)}`;
    n += line.length;
    recs.push([line, i % 50 === 0 ? i : null]);
  }
  return Buffer.concat([stream(recs, { hunkSize: 100 << 10, compress: true }), stream(tricky)]);
}

describe('xcat bytes path over HTTP', () => {
  const closers: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of closers) await c();
  });
  async function serve(handler: Parameters<typeof server>[0]) {
    const s = await server(handler);
    closers.push(s.close);
    return s;
  }

  test('hunks cut from pieces of any size, header and body split anywhere', async () => {
    const data = Buffer.concat([
      stream(tricky, { hunkSize: 128 }),
      bigText(1),
      stream(tricky, { compress: true }),
    ]);
    const want = general(data);
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return 1 + (seed % n);
    };
    // Pieces of 1-3 bytes are slow to serve: only the first hunks in them.
    for (const piece of [
      (at: number) => (at < 20_000 ? rnd(3) : rnd(5000)),
      () => rnd(20) + (rnd(10) === 1 ? 50_000 : 0),
      () => rnd(5000),
      () => rnd(200_000),
    ]) {
      const s = await serve(serveData(data, piece));
      const got = await xcat([s.url]);
      expect(got.out.equals(want)).toBe(true);
      expect(s.hits).toEqual(['']);
    }
  }, 60_000);

  test('a connection broken mid-blob: the rest asked for from where it broke', async () => {
    const data = bigText(3);
    const cut = Math.floor(data.length * 0.55);
    const s = await serve((req, res, n) => {
      if (n > 1) return serveData(data)(req, res);
      res.writeHead(200, { 'content-length': data.length });
      res.write(data.subarray(0, cut), () => setTimeout(() => res.destroy(), 50));
    });
    const got = await xcat([s.url]);
    expect(got.out.equals(general(data))).toBe(true);
    expect(s.hits[0]).toBe('');
    expect(s.hits.length).toBeGreaterThan(1);
    const from = Number(/bytes=(\d+)-/.exec(s.hits[1])?.[1]);
    expect(from).toBeGreaterThan(0);
    expect(from).toBeLessThanOrEqual(cut);
  }, 60_000);

  test('output that stalls longer than the idle limit: one GET, records in order', async () => {
    const data = bigText(6);
    const s = await serve(serveData(data));
    const got = await xcat([s.url], { stall: (n) => (n === 1 ? 1500 : 0), idleTimeoutMs: 300 });
    expect(got.overlap).toBe(false);
    expect(got.unfinished).toBe(0);
    expect(got.out.equals(general(data))).toBe(true);
    // The paused response was not timed out (and resumed by ranged GETs).
    expect(s.hits).toEqual(['']);
  }, 60_000);

  test('a connection broken while a write waits: the resumed writes come after it', async () => {
    // Hunks a few KiB on the wire whose lines are MiBs: output to write after the first one.
    const hunk = () => {
      const body = Buffer.alloc(1 << 20, 0xc2);
      const z = zlib.deflateSync(body);
      return Buffer.concat([hunkHeader(true, zlib.crc32(body), z.length), z]);
    };
    const data = Buffer.concat([hunk(), hunk(), hunk()]);
    const s = await serve((req, res, n) => {
      if (n > 1) return serveData(data)(req, res);
      res.writeHead(200, { 'content-length': data.length });
      res.write(data.subarray(0, hunk().length + 100), () => setTimeout(() => res.destroy(), 50));
    });
    const got = await xcat([s.url], { stall: (n) => (n === 1 ? 800 : 0) });
    expect(got.overlap).toBe(false);
    expect(got.unfinished).toBe(0);
    expect(got.out.equals(general(data))).toBe(true);
  }, 60_000);

  test('a replica that fails before its first byte: the next one at once', async () => {
    const data = stream(tricky, { hunkSize: 128 });
    const dead = await serve((req) => req.socket.destroy());
    const good = await serve(serveData(data));
    const t0 = Date.now();
    const out: Buffer[] = [];
    // The default retries (9, over about 30 s) were spent on the dead replica before.
    await xcatFast([[dead.url, good.url]], {
      settings: loadSettings({ DDFS_DATA: '/nonexistent' }),
      write: async (b) => void out.push(Buffer.from(b)),
    });
    expect(Buffer.concat(out).equals(general(data))).toBe(true);
    expect(dead.hits.length).toBe(1);
    expect(Date.now() - t0).toBeLessThan(5000);
  }, 90_000);

  test('a replica broken part way, then a local file: read from there, the first not again', async () => {
    const data = stream(tricky, { hunkSize: 128 });
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'xcat-fall-'));
    try {
      writeFileSync(path.join(tmp, 'copy'), data);
      const broken = await serve((_req, res, n) => {
        if (n > 1) return void res.socket?.destroy();
        res.writeHead(200, { 'content-length': data.length });
        res.write(data.subarray(0, data.length >> 1), () => setTimeout(() => res.destroy(), 50));
      });
      const got = await xcat([[broken.url, path.join(tmp, 'copy')]]);
      expect(got.out.equals(general(data))).toBe(true);
      // The GET and one ranged GET (no retries): the result iterator did not read it again.
      expect(broken.hits.length).toBe(2);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 60_000);

  test('a local replica that cannot be read: the next replica', async () => {
    const data = stream(tricky, { hunkSize: 128 });
    const good = await serve(serveData(data));
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'xcat-eio-'));
    try {
      const obj = 'xcat-eio$5f3a1b2c-1a2b-3c4d';
      const file = path.join(tmp, objectRelPath('vol0', 'blob', obj));
      mkdirSync(path.dirname(file), { recursive: true });
      // A regular file, readable, whose first read fails (EIO).
      symlinkSync('/proc/self/mem', file);
      const local = `disco://localhost/ddfs/${objectRelPath('vol0', 'blob', obj)}`;
      const got = await xcat([[local, good.url]], { ddfsData: tmp });
      expect(got.out.equals(general(data))).toBe(true);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 60_000);

  test('a local file of large records is printed as it is read', async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'xcat-local-'));
    try {
      const file = path.join(tmp, 'big');
      const recs: [unknown, unknown][] = [];
      for (let i = 0; i < 300; i++) recs.push([`r${i}`, `${i}`.repeat(10_000)]);
      const data = stream(recs);
      writeFileSync(file, data);
      let openAtFirstWrite: boolean | undefined;
      const got = await xcat([file], {
        onWrite: () => {
          openAtFirstWrite ??= readdirSync('/proc/self/fd').some((fd) => {
            try {
              return readlinkSync(`/proc/self/fd/${fd}`) === file;
            } catch {
              return false;
            }
          });
        },
      });
      expect(got.out.equals(general(data))).toBe(true);
      // Lines were handed on before the file was read to its end (and closed).
      expect(openAtFirstWrite).toBe(true);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 60_000);
});
