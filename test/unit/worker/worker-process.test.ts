/**
 * End to end: the bundled worker as a real process, driven by a scripted fake node over the
 * worker protocol (stdin replies, stdout+stderr messages).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeParams } from '../../../src/protocol/jobdata.js';
import { hexHash } from '../../../src/protocol/names.js';
import { BufferSource, type KV, readRecords } from '../../../src/protocol/record-stream.js';
import type { Frame } from '../../../src/protocol/worker-protocol.js';
import { defaultPartition } from '../../../src/worker/func.js';
import { Params } from '../../../src/worker/params.js';
import { type Answer, bundleWorker, converse, makeJob, scriptedNode, tempDir } from './helpers.js';

let worker = '';
beforeAll(async () => {
  worker = await bundleWorker(tempDir());
});

const of = (frames: Frame[], type: string) => frames.filter((f) => f.type === type).map((f) => f.body);

/** A fake node granting `pipeline`: no MSG/OUTPUT replies, each task sent with its inputs. */
function pipelineNode(node: (f: Frame, frames: Frame[]) => Answer): (f: Frame, frames: Frame[]) => Answer {
  return (f, frames) => {
    if (f.type === 'WORKER') return { type: 'OK', body: { pipeline: true } };
    if (f.type === 'MSG' || f.type === 'OUTPUT') return null;
    const a = node(f, frames);
    if (f.type !== 'TASK' || a === null || a === 'close' || 'raw' in a) return a;
    const input = node({ type: 'INPUT', body: '', size: 2 }, frames) as { type: string; body: unknown };
    return { raw: [a, input] };
  };
}

function readRecordFile(file: string): KV[] {
  return [...readRecords(new BufferSource(readFileSync(file)))];
}

const TEXT = ['the quick brown fox', 'jumps over the lazy dog', 'the end'];

/** A small HTTP server in this process (the worker is another process, so blocking is fine). */
function serve(handler: http.RequestListener): Promise<{ url: string; close(): void }> {
  return new Promise((resolve) => {
    const server = http.createServer(handler);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ url: `http://127.0.0.1:${port}`, close: () => server.close() });
    });
  });
}

describe('worker process', () => {
  it('runs a partitioned map over raw:// inputs, then (reused) a sorted reduce over a local dir:// index', async () => {
    const job = makeJob(tempDir(), {
      partitions: 3,
      sort: true,
      sortBufferSize: 256,
      statusInterval: 2,
      functions: {
        map: {
          source: `(line, params) => { console.log('mapping', line); return line.split(' ').map((w) => [w, params.one]); }`,
        },
        reduce: { source: 'function* (iter) { for (const [w, cs] of kvgroup(iter)) yield [w, sum(cs)]; }' },
      },
      params: encodeParams(new Params({ one: 1 })),
    });
    const jobPath = `${job.host}/${hexHash(job.name)}/${job.name}`;
    const conv = await converse(
      worker,
      scriptedNode([job.task('map', 0), job.task('reduce', 0)], (task, frames) => {
        if (task.mode === 'map') return TEXT.map((t, i) => [i, [`raw://${t}`]]);
        // The map's index, as the node's shuffle would write it (without concatenating).
        const lines = (of(frames, 'OUTPUT') as string[][]).map(
          ([rel, , label]) => `${label} disco://${job.host}/disco/${jobPath}/${rel}\n`,
        );
        const idx = path.join(job.jobhome, '.disco', 'map-index.txt.gz');
        mkdirSync(path.dirname(idx), { recursive: true });
        writeFileSync(idx, gzipSync(lines.join('')));
        return [[0, [`dir://${job.host}/disco/${jobPath}/.disco/map-index.txt.gz`]]];
      }),
    );
    expect(conv.parseError).toBeNull();
    expect(conv.stray).toBe('');
    expect(conv.code).toBe(0);
    const types = conv.frames.map((f) => f.type);
    expect(types[0]).toBe('WORKER');
    expect(conv.frames[0].body).toMatchObject({ version: '1.0', reuse: true, pid: expect.any(Number) });
    expect(types.filter((t) => t === 'DONE')).toHaveLength(2);
    expect(types.filter((t) => t === 'TASK')).toHaveLength(3);
    expect(of(conv.frames, 'INPUT').slice(0, 4)).toEqual([
      '',
      ['include', [0]],
      ['include', [1]],
      ['include', [2]],
    ]);

    const msgs = of(conv.frames, 'MSG') as string[];
    expect(msgs).toContain('mapping the quick brown fox');
    expect(msgs).toContain('2 entries mapped');
    expect(msgs).toContain('Done: 3 entries mapped');
    expect(msgs.filter((m) => m === 'Results sent to master')).toHaveLength(2);

    // Map outputs: one per label, every record in the partition its label says.
    const outputs = of(conv.frames, 'OUTPUT') as string[][];
    const mapOutputs = outputs.filter(([, type]) => type === 'part');
    expect(mapOutputs.length).toBeGreaterThan(1);
    const all: KV[] = [];
    for (const [rel, , label] of mapOutputs) {
      expect(rel).toMatch(/^[0-9a-f]{2}\/map:0-[0-9a-f]{2}-\d+\/map-\d$/);
      expect(rel.slice(0, 2)).toBe(hexHash(rel.split('/')[1]));
      const recs = readRecordFile(path.join(job.jobhome, rel));
      for (const [k] of recs) expect(String(defaultPartition(k, 3))).toBe(label);
      all.push(...recs);
    }
    expect(all.map(([k]) => k).sort()).toEqual(TEXT.join(' ').split(' ').sort());

    // Reduce output: partition 0's words, counted, in key order.
    const reduceOut = outputs.find(([, type]) => type === 'disco') as string[];
    expect(reduceOut[0]).toMatch(/^[0-9a-f]{2}\/reduce:0-[0-9a-f]{2}-\d+\/reduce:0-[0-9a-f]{2}-\d+$/);
    expect(reduceOut[2]).toBe('0');
    const counts = new Map<string, number>();
    for (const w of TEXT.join(' ').split(' '))
      if (defaultPartition(w, 3) === 0) counts.set(w, (counts.get(w) ?? 0) + 1);
    const expected = [...counts].sort(([a], [b]) => (a < b ? -1 : 1));
    expect(readRecordFile(path.join(job.jobhome, reduceOut[0]))).toEqual(expected);
  });

  it('loads a bundled job module and calls {export} members', async () => {
    const job = makeJob(
      tempDir(),
      {
        module: 'lib/job.mjs',
        reduceStyle: 'out',
        functions: {
          map: { export: ['WordCount', 'map'] },
          reduce: { export: ['WordCount', 'reduce'] },
          reduceReader: { source: 'null' },
        },
      },
      {
        jobenvs: { WORDCOUNT_SUFFIX: '!' },
        files: {
          'lib/job.mjs': `
            const { Job, thisPartition, thisName } = globalThis.__discoWorkerApi;
            export class WordCount extends Job {
              static suffix() { return process.env.WORDCOUNT_SUFFIX; }
              static map(line) { return line.split(' ').map((w) => [w + this.suffix(), thisPartition()]); }
              static reduce(iter, out) { for (const line of iter) out.add(line, thisName()); }
            }`,
        },
      },
    );
    const conv = await converse(
      worker,
      scriptedNode([job.task('map', 7), job.task('reduce', 0)], (task) =>
        task.mode === 'map' ? [[0, ['raw://a b']]] : [[0, ['raw://x\ny']]],
      ),
    );
    expect(conv.stray).toBe('');
    const outputs = of(conv.frames, 'OUTPUT') as string[][];
    expect(outputs).toHaveLength(2);
    expect(outputs[0][1]).toBe('disco');
    expect(readRecordFile(path.join(job.jobhome, outputs[0][0]))).toEqual([
      ['a!', 7],
      ['b!', 7],
    ]);
    expect(readRecordFile(path.join(job.jobhome, outputs[1][0]))).toEqual([
      ['x', job.name],
      ['y', job.name],
    ]);
  });

  it('pipelines once the node grants it: one write per task, inputs taken from the TASK reply', async () => {
    const job = makeJob(tempDir(), {
      statusInterval: 1,
      functions: { map: { source: `(line) => { console.log('saw', line); return [[line, 1]]; }` } },
    });
    const node = scriptedNode([job.task('map', 0), job.task('map', 1)], (task) => [
      [0, [`raw://line${task.taskid}`]],
    ]);
    const conv = await converse(worker, pipelineNode(node));
    expect(conv.parseError).toBeNull();
    expect(conv.stray).toBe('');
    expect(conv.code).toBe(0);
    expect(conv.frames[0].body).toMatchObject({ reuse: true, pipeline: true });
    const types = conv.frames.map((f) => f.type);
    expect(types).not.toContain('INPUT');
    expect(types.filter((t) => t === 'DONE')).toHaveLength(2);
    expect(types.filter((t) => t === 'OUTPUT')).toHaveLength(2);
    const msgs = of(conv.frames, 'MSG') as string[];
    for (const id of [0, 1]) expect(msgs).toContain(`saw line${id}`);
    expect(msgs.filter((m) => m === 'Done: 1 entries mapped')).toHaveLength(2);
    expect(msgs.filter((m) => m === 'Results sent to master')).toHaveLength(2);
    // Per task: the summary goes out before the outputs, the closing message before DONE.
    const t0 = types.slice(0, types.indexOf('DONE') + 1);
    expect(t0.slice(-2)).toEqual(['MSG', 'DONE']);
    expect(t0.lastIndexOf('MSG', t0.indexOf('OUTPUT'))).toBeGreaterThan(t0.indexOf('INPUT'));
  });

  it('pipelined, still asks the node for replicas once one failed', async () => {
    const root = tempDir();
    const job = makeJob(root, { functions: { map: { source: '(l) => [[l, 1]]' } } });
    const missing = path.join(root, 'missing.txt');
    const conv = await converse(
      worker,
      pipelineNode(scriptedNode([job.task('map', 0)], () => [[0, [missing, path.join(root, 'gone')]]])),
    );
    expect(conv.frames.map((f) => f.type).filter((t) => t.startsWith('INPUT'))).toEqual(['INPUT_ERR']);
    expect(of(conv.frames, 'INPUT_ERR')).toEqual([[0, [0, 1]]]);
    expect(of(conv.frames, 'ERROR')).toHaveLength(1);
  });

  it('ends with FATAL (with the stack) for bugs and ERROR for data errors', async () => {
    const bug = makeJob(tempDir(), {
      functions: { map: { source: '(line) => { const o = undefined; return o.field; }' } },
    });
    const c1 = await converse(
      worker,
      scriptedNode([bug.task('map', 0)], () => [[0, ['raw://x']]]),
    );
    const fatal = of(c1.frames, 'FATAL') as string[];
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toMatch(/TypeError/);
    expect(fatal[0]).toMatch(/\n\s+at /);
    expect(of(c1.frames, 'DONE')).toHaveLength(0);
    expect(c1.code).toBe(1);

    const retry = makeJob(tempDir(), { functions: { map: { source: '() => dataErr("flaky input")' } } });
    const c2 = await converse(
      worker,
      scriptedNode([retry.task('map', 0)], () => [[0, ['raw://x']]]),
    );
    expect(of(c2.frames, 'ERROR')).toEqual(['DataError: flaky input']);

    const stop = makeJob(tempDir(), { functions: { map: { source: '() => err("no way")' } } });
    const c3 = await converse(
      worker,
      scriptedNode([stop.task('map', 0)], () => [[0, ['raw://x']]]),
    );
    expect(of(c3.frames, 'FATAL')).toEqual(['no way']);
  });

  it('save: true with partitioned map output fails the job before the map reads its input', async () => {
    const job = makeJob(
      tempDir(),
      {
        save: true,
        partitions: 2,
        functions: { map: { source: '(l) => { msg("read " + l); return [[l, 1]]; }' } },
      },
      { jobdict: { 'reduce?': false } },
    );
    const conv = await converse(
      worker,
      scriptedNode([job.task('map', 0)], () => [[0, ['raw://x']]]),
    );
    expect(of(conv.frames, 'FATAL')).toEqual([
      expect.stringMatching(/Storing partitioned outputs in DDFS is not yet supported/),
    ]);
    expect(of(conv.frames, 'MSG')).not.toContain('read x');
    expect(of(conv.frames, 'OUTPUT')).toEqual([]);
  });

  it('fails over between replicas and reports exhausted inputs with INPUT_ERR', async () => {
    const root = tempDir();
    const job = makeJob(root, { functions: { map: { source: '(l) => [[l, 1]]' } } });
    const missing = path.join(root, 'missing.txt');
    const ok = await converse(
      worker,
      scriptedNode([job.task('map', 0)], () => [[0, [missing, 'raw://second']]]),
    );
    expect(of(ok.frames, 'INPUT_ERR')).toEqual([]);
    const out = of(ok.frames, 'OUTPUT') as string[][];
    expect(readRecordFile(path.join(job.jobhome, out[0][0]))).toEqual([['second', 1]]);

    const bad = await converse(
      worker,
      scriptedNode([job.task('map', 0)], () => [[0, [missing]]]),
    );
    expect(of(bad.frames, 'INPUT_ERR')).toEqual([[0, [0]]]);
    const err = of(bad.frames, 'ERROR') as string[];
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/Exhausted all available replicas, last error was: ENOENT/);
  });

  describe('over HTTP', () => {
    let server: { url: string; close(): void };
    const seen: string[] = [];
    const blobs: Record<string, Buffer> = {};
    let tagPost: unknown = null;
    beforeAll(async () => {
      let busy = 1;
      server = await serve((req, res) => {
        seen.push(`${req.method} ${req.url} ${req.headers.range ?? ''}`.trim());
        const chunks: Buffer[] = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
          if (req.url === '/data/resume.txt') {
            const body = Buffer.from('alpha\nbeta\ngamma\n');
            const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
            if (range) {
              const from = Number(range[1]);
              res.writeHead(206, { 'Content-Range': `bytes ${from}-${body.length - 1}/${body.length}` });
              res.end(body.subarray(from));
            } else {
              // Promise the whole body, send part of it, drop the connection.
              res.writeHead(200, { 'Content-Length': body.length });
              res.write(body.subarray(0, 8));
              setTimeout(() => res.destroy(), 20);
            }
          } else if (req.url === '/data/input.txt') {
            if (busy-- > 0) {
              res.writeHead(503).end('busy');
              return;
            }
            res.writeHead(200, { 'Content-Type': 'text/plain' }).end('one\ntwo\n');
          } else if (req.url?.startsWith('/ddfs/new_blob/')) {
            const name = decodeURIComponent(req.url.slice('/ddfs/new_blob/'.length).split('?')[0]);
            res.writeHead(200).end(JSON.stringify([`${server.url}/ddfs/${name}$1-2-3`]));
          } else if (req.method === 'PUT' && req.url?.startsWith('/ddfs/')) {
            const name = decodeURIComponent(req.url.slice('/ddfs/'.length));
            blobs[name] = Buffer.concat(chunks);
            res.writeHead(201).end(JSON.stringify(`disco://testhost/ddfs/vol0/blob/ab/${name}`));
          } else if (req.method === 'POST' && req.url?.startsWith('/ddfs/tag/')) {
            tagPost = { url: req.url, body: JSON.parse(Buffer.concat(chunks).toString()) };
            res.writeHead(200).end(JSON.stringify(['disco://testhost/ddfs/vol0/tag/ab/t$1-2-3']));
          } else res.writeHead(404).end('Not found.');
        });
      });
    });
    afterAll(() => server.close());

    it('downloads remote inputs, retrying a busy server', async () => {
      const job = makeJob(tempDir(), { functions: { map: { source: '(l) => [[l, l.length]]' } } });
      const conv = await converse(
        worker,
        scriptedNode([job.task('map', 0)], () => [[0, [`${server.url}/data/input.txt`]]]),
      );
      expect(conv.stray).toBe('');
      expect(seen.filter((s) => s.startsWith('GET /data/input.txt'))).toHaveLength(2);
      const out = of(conv.frames, 'OUTPUT') as string[][];
      expect(readRecordFile(path.join(job.jobhome, out[0][0]))).toEqual([
        ['one', 3],
        ['two', 3],
      ]);
    });

    it('resumes a broken download with a Range request', async () => {
      const job = makeJob(tempDir(), { functions: { map: { source: '(l) => [[l, 1]]' } } });
      const conv = await converse(
        worker,
        scriptedNode([job.task('map', 0)], () => [[0, [`${server.url}/data/resume.txt`]]]),
      );
      expect(seen.filter((s) => s.startsWith('GET /data/resume.txt'))).toEqual([
        'GET /data/resume.txt',
        'GET /data/resume.txt bytes=8-',
      ]);
      const out = of(conv.frames, 'OUTPUT') as string[][];
      expect(readRecordFile(path.join(job.jobhome, out[0][0])).map(([k]) => k)).toEqual([
        'alpha',
        'beta',
        'gamma',
      ]);
    });

    it('put() sends the bytes of a string, or of a view into a larger buffer, as a blob; one tag update', async () => {
      const map = `(l) => {
        const big = Buffer.alloc(64 * 1024, 0x78);
        big.write('value', 100);
        put('bytes-key', big.subarray(100, 105));
        put('text-key', 'h\u00e9llo ' + l);
        return [[l, 1]];
      }`;
      const job = makeJob(tempDir(), { functions: { map: { source: map } } });
      const task = { ...job.task('map', 0), master: server.url };
      const conv = await converse(
        worker,
        scriptedNode([task], () => [[0, ['raw://p']]]),
      );
      expect(of(conv.frames, 'FATAL')).toEqual([]);
      expect(blobs['bytes-key$1-2-3']?.toString()).toBe('value');
      expect(blobs['text-key$1-2-3']?.toString()).toBe('héllo p');
      // The next test counts the blobs it saves.
      for (const k of Object.keys(blobs)) delete blobs[k];
      // Newest first, so the last put of a key wins.
      expect(tagPost).toEqual({
        url: `/ddfs/tag/disco:job:oob:${job.name}?delayed=1`,
        body: [
          ['disco://testhost/ddfs/vol0/blob/ab/text-key$1-2-3'],
          ['disco://testhost/ddfs/vol0/blob/ab/bytes-key$1-2-3'],
        ],
      });
    });

    it('saves results to DDFS with save: true', async () => {
      const job = makeJob(
        tempDir(),
        {
          save: true,
          functions: { reduce: { source: 'function* (iter) { for (const l of iter) yield [l, 0]; }' } },
        },
        { jobdict: { 'map?': false } },
      );
      const task = { ...job.task('reduce', 0), master: server.url };
      const conv = await converse(
        worker,
        scriptedNode([task], () => [[0, ['raw://p\nq']]]),
      );
      const tag = `disco:job:results:${job.name}`;
      expect(of(conv.frames, 'OUTPUT')).toEqual([[tag, 'tag']]);
      expect(of(conv.frames, 'MSG')).toContain('Results saved to DDFS');
      const names = Object.keys(blobs);
      expect(names).toHaveLength(1);
      expect(names[0]).toMatch(new RegExp(`^disco:blob:${job.name}:reduce:0-[0-9a-f]{2}-\\d+\\$1-2-3$`));
      expect([...readRecords(new BufferSource(blobs[names[0]]))]).toEqual([
        ['p', 0],
        ['q', 0],
      ]);
      expect(tagPost).toEqual({
        url: `/ddfs/tag/${tag}?delayed=1&update=1`,
        body: [[`disco://testhost/ddfs/vol0/blob/ab/${names[0]}`]],
      });
    });
  });
});
