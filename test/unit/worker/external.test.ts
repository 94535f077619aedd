/**
 * The external-program interface without a cluster: netstring parameters, the key-value
 * framing (property tests over arbitrary chunkings), stderr lines, the helper-thread channel
 * to a child process (large volumes both ways), and whole map/reduce runs against small
 * programs written here in JavaScript.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobError, ProtocolError } from '../../../src/common/errors.js';
import {
  decodeNetstringParams,
  encodeNetstringParams,
  encodeResultList,
  PairBatch,
  ResultListDecoder,
} from '../../../src/protocol/external.js';
import { ChildChannel } from '../../../src/worker/external/child-channel.js';
import {
  batchMapEntry,
  externalBytes,
  programEnv,
  runExternalMap,
  runExternalReduce,
} from '../../../src/worker/external/run-external.js';
import { classifyStderrLine, StderrLines } from '../../../src/worker/external/stderr-lines.js';
import { netstrReader } from '../../../src/worker/readers/netstr.js';

describe('netstring parameters', () => {
  it('encodes as the original netstring module: <length>\\n then "<klen> <k> <vlen> <v>\\n" per entry', () => {
    const body = '5 test1 5 1,2,3\n13 one two three 8 dim\ndam\n\n';
    expect(encodeNetstringParams({ test1: '1,2,3', 'one two three': 'dim\ndam\n' }).toString()).toBe(
      `${body.length}\n${body}`,
    );
    expect(encodeNetstringParams({}).toString()).toBe('0\n');
    // Lengths count bytes, so a C reader can use them as they are.
    expect(encodeNetstringParams({ é: 'ü€' }).toString()).toBe('13\n2 é 5 ü€\n');
  });

  it('decodes what it encodes, for any strings', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' })), (d) => {
        const bytes = Buffer.concat([encodeNetstringParams(d), Buffer.from('trailing pairs')]);
        const { entries, length } = decodeNetstringParams(bytes);
        expect(Object.fromEntries(entries)).toEqual(d);
        expect(bytes.subarray(length).toString()).toBe('trailing pairs');
      }),
    );
  });

  it("property: the block's body is version 0 netstring records (netstrReader reads the entries)", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' })), (d) => {
        const block = encodeNetstringParams(d);
        const body = block.subarray(block.indexOf(0x0a) + 1);
        expect(Object.fromEntries(netstrReader(body))).toEqual(d);
      }),
    );
  });

  it('refuses malformed blocks', () => {
    expect(() => decodeNetstringParams(Buffer.from('x\n'))).toThrow(ProtocolError);
    expect(() => decodeNetstringParams(Buffer.from('10\n1 a 1 b\n'))).toThrow(/truncated/);
    expect(() => decodeNetstringParams(Buffer.from('8\n1 a 9 b\n'))).toThrow(/overruns/);
  });
});

const pairArb = fc.tuple(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 }));

describe('key-value framing', () => {
  it('writes <key size><key><value size><value>, sizes 32-bit little-endian', () => {
    const b = new PairBatch(8);
    b.add('ab', Buffer.from([1, 2, 3]));
    b.add('é', '');
    expect(b.pairs).toBe(2);
    const bytes = Buffer.from(b.take());
    expect([...bytes]).toEqual([2, 0, 0, 0, 97, 98, 3, 0, 0, 0, 1, 2, 3, 2, 0, 0, 0, 0xc3, 0xa9, 0, 0, 0, 0]);
    expect(b.length).toBe(0);
    expect(b.take().byteLength).toBe(0);
  });

  it('decodes result lists however the stream is cut into chunks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(pairArb, { maxLength: 5 }), { maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 20 }),
        (lists, cuts) => {
          const stream = Buffer.concat(lists.map((l) => encodeResultList(l)));
          const got: [Buffer, Buffer][] = [];
          const d = new ResultListDecoder((k, v) => got.push([k, v]));
          for (let i = 0, c = 0; i < stream.length; c++) {
            const n = cuts[c % cuts.length];
            d.push(stream.subarray(i, i + n));
            i += n;
          }
          expect(d.lists).toBe(lists.length);
          expect(d.midList).toBe(false);
          expect(got.map(([k, v]) => [new Uint8Array(k), new Uint8Array(v)])).toEqual(
            lists.flat().map(([k, v]) => [new Uint8Array(k), new Uint8Array(v)]),
          );
        },
      ),
    );
  });

  it('gathers a large pair arriving in many chunks', () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 7, 'x');
    const stream = encodeResultList([['k', big]]);
    const got: Buffer[] = [];
    const d = new ResultListDecoder((_k, v) => got.push(v));
    for (let i = 0; i < stream.length; i += 65536) {
      d.push(stream.subarray(i, i + 65536));
      if (i + 65536 < stream.length) expect(d.midList).toBe(true);
    }
    expect(d.lists).toBe(1);
    expect(got[0].equals(big)).toBe(true);
  });

  it('reports text on stdout as an impossible size', () => {
    const d = new ResultListDecoder(() => {}, 1024);
    expect(() => d.push(Buffer.from('\x01\x00\x00\x00hello world\n'))).toThrow(/key of \d+ bytes .*stderr/);
  });
});

describe('stderr lines', () => {
  it('classifies message, error and other lines', () => {
    expect(classifyStderrLine('**<MSG> 10 pairs ')).toEqual({ kind: 'msg', text: '10 pairs' });
    expect(classifyStderrLine('**<MSG>no space')).toEqual({ kind: 'msg', text: 'no space' });
    expect(classifyStderrLine('**<ERR> bad input')).toEqual({ kind: 'err', text: 'bad input' });
    expect(classifyStderrLine('Segmentation fault\r')).toEqual({ kind: 'other', text: 'Segmentation fault' });
  });

  it('splits chunks into lines, keeps the last ones, and delivers a last unterminated line at the end', () => {
    const lines: string[] = [];
    const s = new StderrLines((l) => lines.push(l));
    s.push(Buffer.from('one\ntw'));
    s.push(Buffer.from('o\n'));
    for (let i = 0; i < 25; i++) s.push(Buffer.from(`l${i}\n`));
    s.push(Buffer.from('end'));
    expect(lines.slice(0, 2)).toEqual(['one', 'two']);
    s.end();
    expect(lines.at(-1)).toBe('end');
    expect(s.tail()).toHaveLength(20);
    expect(s.tail().at(-1)).toBe('end');
  });
});

describe('entries as pairs', () => {
  it('turns map entries and reduce pairs into bytes', () => {
    const batched = (...entries: unknown[]) => {
      const batch = new PairBatch(8);
      for (const e of entries) batchMapEntry(batch, e);
      return Buffer.from(batch.take());
    };
    const b = Buffer.from('x');
    const pairs = (...p: [string | Buffer, string | Buffer][]) => encodeResultList(p).subarray(4);
    expect(batched('line', b, ['k', 3])).toEqual(pairs(['', 'line'], ['', b], ['k', '3']));
    expect(externalBytes(null, 'v')).toBe('');
    expect(externalBytes(10n, 'v')).toBe('10');
    expect(() => batchMapEntry(new PairBatch(8), { a: 1 })).toThrow(/strings, bytes or \[key, value\] pairs/);
    expect(() => externalBytes({ a: 1 }, 'reduce input value')).toThrow(
      /reduce input value: .*strings or bytes/,
    );
  });
});

describe('program environment', () => {
  it('puts the program directory first on LD_LIBRARY_PATH, job-home relative entries made absolute', () => {
    const old = process.env.LD_LIBRARY_PATH;
    process.env.LD_LIBRARY_PATH = 'lib:/opt/x';
    try {
      expect(programEnv('/h/ext/map', '/h').LD_LIBRARY_PATH).toBe('/h/ext/map:/h/lib:/opt/x');
    } finally {
      if (old === undefined) delete process.env.LD_LIBRARY_PATH;
      else process.env.LD_LIBRARY_PATH = old;
    }
  });
});

describe('child channel', () => {
  it('moves large volumes both ways through a program without deadlock', () => {
    const ch = ChildChannel.spawn({ file: '/bin/cat', args: [], cwd: os.tmpdir(), env: process.env });
    let got = 0;
    const out = createHash('sha1');
    const sent = createHash('sha1');
    ch.onStdout = (b) => {
      got += b.length;
      out.update(b);
    };
    const total = 24 * 1024 * 1024;
    for (let n = 0; n < total; n += 256 * 1024) {
      const chunk = Buffer.from(new ArrayBuffer(256 * 1024)).fill(n % 251);
      sent.update(chunk);
      ch.write(chunk.buffer as ArrayBuffer); // never reads on its own: write() must keep both pipes moving
    }
    ch.endInput();
    while (!ch.exit) ch.poll(true);
    expect(got).toBe(total);
    expect(out.digest('hex')).toBe(sent.digest('hex'));
    expect(ch.exit).toEqual({ code: 0, signal: null });
  });

  it('reports programs that cannot start, exit codes and signals', () => {
    expect(() =>
      ChildChannel.spawn({ file: '/nonexistent/prog', args: [], cwd: os.tmpdir(), env: process.env }),
    ).toThrow(/cannot start \/nonexistent\/prog: .*ENOENT/);
    const run = (script: string) => {
      const ch = ChildChannel.spawn({ file: '/bin/sh', args: ['-c', script], cwd: os.tmpdir(), env: {} });
      while (!ch.exit) ch.poll(true);
      return ch.exit;
    };
    expect(run('exit 3')).toEqual({ code: 3, signal: null });
    expect(run('kill -ABRT $$')).toEqual({ code: null, signal: 'SIGABRT' });
  });
});

/**
 * A map/reduce program in JavaScript for these tests: checks the parameter block, answers
 * each pair with `copies` copies (map), or sums value lengths and answers at the end (reduce).
 * Its behaviour is set by the parameter block: `<copies> <mode>\n`.
 */
const PROGRAM = `#!${process.execPath}
const fs = require('node:fs');
const chunks = [];
let buf = Buffer.alloc(0);
let params = null, n = 0, sum = 0;
const out = [];
function flush() { if (out.length) { fs.writeSync(1, Buffer.concat(out)); out.length = 0; } }
function u32(x) { const b = Buffer.alloc(4); b.writeUInt32LE(x); return b; }
function pair(k, v) { out.push(u32(k.length), k, u32(v.length), v); }
for (;;) {
  const b = Buffer.alloc(65536);
  let r;
  try { r = fs.readSync(0, b); } catch (e) { if (e.code === 'EAGAIN') continue; throw e; }
  if (r === 0) break;
  buf = Buffer.concat([buf, b.subarray(0, r)]);
  if (!params) {
    const nl = buf.indexOf(10);
    if (nl < 0) continue;
    params = buf.subarray(0, nl).toString().split(' ');
    buf = buf.subarray(nl + 1);
    if (params[1] === 'err') { process.stderr.write('**<ERR> the program gave up\\n'); process.exit(1); }
    process.stderr.write('**<MSG> started with ' + params.join(',') + '\\nplain line\\n');
  }
  let o = 0;
  while (buf.length - o >= 8) {
    const kl = buf.readUInt32LE(o);
    if (buf.length - o < 8 + kl) break;
    const vl = buf.readUInt32LE(o + 4 + kl);
    if (buf.length - o < 8 + kl + vl) break;
    const k = buf.subarray(o + 4, o + 4 + kl), v = buf.subarray(o + 8 + kl, o + 8 + kl + vl);
    o += 8 + kl + vl;
    n++;
    if (process.argv[2] === 'map') {
      const copies = n === 1 && params[1] === 'short' ? 0 : Number(params[0]);
      if (params[1] === 'short' && n === 2) { flush(); process.exit(0); }
      out.push(u32(copies));
      for (let i = 0; i < copies; i++) pair(k, Buffer.concat([v, Buffer.from('#' + i)]));
    } else sum += v.length;
  }
  buf = buf.subarray(o);
  if (out.length > 1000) flush();
}
if (process.argv[2] === 'reduce') { out.push(u32(1)); pair(Buffer.from('sum'), Buffer.from(String(sum))); }
flush();
if (params && params[1] === 'linger') setInterval(() => {}, 1000);
`;

describe('external map and reduce runs', () => {
  let home: string;
  const messages: string[] = [];
  const ctx = (extParams: string) => ({
    jobhome: home,
    data: { extParams },
    msg: (t: string) => void messages.push(t),
  });
  const ref = (mode: 'map' | 'reduce') => ({ dir: `ext/${mode}` as const, program: 'prog.js' });

  beforeAll(() => {
    home = mkdtempSync(path.join(os.tmpdir(), 'disco-ext-run-'));
    for (const mode of ['map', 'reduce']) {
      mkdirSync(path.join(home, 'ext', mode), { recursive: true });
      writeFileSync(path.join(home, 'ext', mode, 'prog.js'), PROGRAM, { mode: 0o755 });
    }
  });
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('map: every entry answered in order, many answers per entry, messages passed on', () => {
    const entries = Array.from({ length: 20000 }, (_, i) => (i % 2 ? `line ${i}` : [`k${i}`, `v${i}`]));
    const got: [string, string][] = [];
    const stats = runExternalMap(ctx('10 ok\n'), ref('map'), entries, {
      add: (k, v) => got.push([String(k), String(v)]),
    });
    expect(stats).toEqual({ entries: 20000, lists: 20000, pairs: 200000 });
    expect(got.length).toBe(200000);
    expect(got[0]).toEqual(['k0', 'v0#0']);
    expect(got[9]).toEqual(['k0', 'v0#9']);
    expect(got[10]).toEqual(['', 'line 1#0']);
    expect(got.at(-1)).toEqual(['', 'line 19999#9']);
    expect(messages).toContain('started with 10,ok');
    expect(messages).toContain('plain line');
  });

  it('reduce: all pairs in, results when the program likes', () => {
    const entries = Array.from({ length: 5000 }, (_, i) => [`k${i}`, 'x'.repeat(i % 100)] as const);
    const got: [string, string][] = [];
    runExternalReduce(ctx('1 ok\n'), ref('reduce'), entries, {
      add: (k, v) => got.push([String(k), String(v)]),
    });
    expect(got).toEqual([['sum', String(entries.reduce((s, [, v]) => s + v.length, 0))]]);
  });

  it('kills a map program that lingers after answering everything (the task succeeds)', () => {
    const got: string[] = [];
    const t = Date.now();
    runExternalMap({ ...ctx('1 linger\n'), exitGraceMs: 200 }, ref('map'), ['a', 'b'], {
      add: (_k, v) => got.push(String(v)),
    });
    expect(got).toEqual(['a#0', 'b#0']);
    expect(Date.now() - t).toBeLessThan(5000);
    expect(messages.at(-1)).toMatch(/answered every input but did not exit within 0.2 s: killed/);
  });

  it('fails with the **<ERR> text, or when a map does not answer every entry', () => {
    const sink = { add: () => {} };
    expect(() => runExternalMap(ctx('1 err\n'), ref('map'), ['a'], sink)).toThrow(
      new JobError('the program gave up'),
    );
    expect(() => runExternalMap(ctx('1 short\n'), ref('map'), ['a', 'b', 'c'], sink)).toThrow(
      /exited before reading all its input|answered 1 of \d inputs/,
    );
    expect(() =>
      runExternalMap({ ...ctx('1 ok\n'), jobhome: path.join(home, 'nowhere') }, ref('map'), ['a'], sink),
    ).toThrow(/external map program prog.js: cannot start .*ENOENT/);
  });
});
