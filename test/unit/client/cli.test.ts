import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigTable } from '../../../src/cli/cluster-commands.js';
import { main } from '../../../src/cli/disco.js';
import { absoluteIfLocal, parseAssignment } from '../../../src/cli/job-commands.js';
import { parseModuleSpec } from '../../../src/cli/run-module.js';
import { encodeIndex } from '../../../src/protocol/index-file.js';
import { decodeJobPack } from '../../../src/protocol/jobpack.js';
import { RecordWriter } from '../../../src/protocol/record-stream.js';
import { startTestServer, type TestServer } from './test-server.js';

const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'count-job.ts');

async function disco(...args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['node', 'disco', ...args], {
    out: (t) => out.push(t.replace(/\n$/, '')),
    err: (t) => err.push(t.replace(/\n$/, '')),
  });
  return { code, out, err };
}

describe('disco command line: parsing helpers', () => {
  it('splits module specs', () => {
    expect(parseModuleSpec('jobs/wc.ts:WordCount')).toEqual({
      file: path.resolve('jobs/wc.ts'),
      exportName: 'WordCount',
    });
    expect(parseModuleSpec('jobs/wc.ts')).toEqual({ file: path.resolve('jobs/wc.ts'), exportName: null });
  });

  it('parses key=value with JSON values', () => {
    expect(parseAssignment('params={"pattern":"x"}')).toEqual(['params', { pattern: 'x' }]);
    expect(parseAssignment('partitions=4')).toEqual(['partitions', 4]);
    expect(parseAssignment('params=hello world')).toEqual(['params', 'hello world']);
    expect(() => parseAssignment('novalue')).toThrow(/key=value/);
  });

  it('makes relative paths of existing local files absolute', () => {
    const rel = path.relative(process.cwd(), FIXTURE);
    expect(absoluteIfLocal(rel)).toBe(FIXTURE);
    expect(absoluteIfLocal('no/such/file')).toBe('no/such/file');
    expect(absoluteIfLocal('raw://x')).toBe('raw://x');
    expect(absoluteIfLocal('/abs/x')).toBe('/abs/x');
  });

  it('parses config tables as JSON or lines', () => {
    expect(parseConfigTable('[["n1:4", 2]]')).toEqual([['n1:4', '2']]);
    expect(parseConfigTable('# hosts\nnode01:10 4\nmaster 1\n')).toEqual([
      ['node01:10', '4'],
      ['master', '1'],
    ]);
    expect(() => parseConfigTable('[["only-one"]]')).toThrow(/expected \[hostspec, cores\]/);
  });
});

describe('disco command line against a fake master', () => {
  let srv: TestServer;
  const job = 'WordCount@5dc:2:0';
  const packs: Buffer[] = [];
  beforeAll(async () => {
    srv = await startTestServer();
    const host = `127.0.0.1:${srv.port}`;
    const chunks: Buffer[] = [];
    const w = new RecordWriter((b) => chunks.push(b));
    w.write('hello', 2);
    w.write({ k: 1 }, [1, 2]);
    w.close();
    srv.files.set('/disco/n1/ab/wc/part-0', Buffer.concat(chunks));
    srv.files.set(
      '/disco/n1/ab/wc/.disco/reduce-index.txt.gz',
      encodeIndex([{ label: '0', url: `disco://${host}/disco/n1/ab/wc/part-0` }]),
    );
    const results = [`dir://${host}/disco/n1/ab/wc/.disco/reduce-index.txt.gz`];
    srv.handlers.set('/disco/ctrl/joblist', (_q, res) =>
      res.end(
        JSON.stringify([
          [3, 'active', 'Grep@5dc:3:0'],
          [2, 'ready', job],
          [1, 'dead', 'WordCount@5dc:1:0'],
        ]),
      ),
    );
    srv.handlers.set('/disco/ctrl/get_results', (_q, res, body) => {
      const [, names] = JSON.parse(body.toString()) as [number, string[]];
      res.end(
        JSON.stringify(
          names.map((n) => [
            n,
            n === job ? ['ready', results] : n.startsWith('Grep') ? ['active', []] : ['dead', []],
          ]),
        ),
      );
    });
    srv.handlers.set('/disco/job/new', (_q, res, body) => {
      packs.push(body);
      res.end(JSON.stringify(['ok', 'Count@5dc:9:0']));
    });
    srv.handlers.set('/disco/ctrl/nodeinfo', (_q, res) =>
      res.end(
        JSON.stringify({
          n1: {
            job_ok: 3,
            data_error: 0,
            error: 1,
            max_workers: 4,
            connected: true,
            blacklisted: false,
            diskfree: 2048,
          },
        }),
      ),
    );
  });
  afterAll(async () => {
    await srv.close();
  });

  it('prints help and refuses unknown commands', async () => {
    const help = await disco('--help');
    expect(help.code).toBe(0);
    expect(help.out.join('\n')).toMatch(/results \[options\] <job>/);
    // Usage errors exit 2, as ddfs and the original's optparse do.
    expect((await disco('frobnicate')).code).toBe(2);
    expect((await disco('results')).code).toBe(2);
  });

  it('lists jobs, resolves @ and @?, prints results as key TAB value', async () => {
    const m = ['--master', srv.base];
    expect((await disco(...m, 'jobs')).out).toEqual(['Grep@5dc:3:0', job, 'WordCount@5dc:1:0']);
    expect((await disco(...m, 'jobs', '-S')).out[1]).toBe(`${job}\tready`);
    const r = await disco(...m, 'results', '@?WordCount');
    expect(r.code).toBe(0);
    expect(r.out).toEqual(['hello\t2', '{"k":1}\t[1,2]']);
    expect((await disco(...m, 'results', '@?WordCount', '--json')).out).toEqual([
      '["hello",2]',
      '[{"k":1},[1,2]]',
    ]);
    expect((await disco(...m, 'results', job, '--urls')).out[0]).toMatch(
      /^dir:\/\/127\.0\.0\.1:\d+\/disco\/n1/,
    );
    const active = await disco(...m, 'results', '@');
    expect(active.code).toBe(1);
    expect(active.err[0]).toMatch(/^disco: job Grep@5dc:3:0 is active/);
    const dead = await disco(...m, 'wait', 'WordCount@5dc:1:0');
    expect(dead.code).toBe(1);
    expect(dead.err).toEqual(['disco: Job WordCount@5dc:1:0 failed: Status dead']);
    const none = await disco(...m, 'info', '@?Nothing');
    expect(none.err).toEqual(['disco: no job whose name contains "Nothing"']);
  });

  it('shows nodes as a table or JSON', async () => {
    const t = await disco('--master', srv.base, 'nodeinfo');
    expect(t.out[0]).toMatch(/^node\s+state\s+slots/);
    expect(t.out[0]).toContain('disk free');
    expect(t.out[0].split('\n')[1]).toMatch(/^n1\s+connected\s+4\s+0\s+3\s+0\s+1\s+2\.0 MiB$/);
    const j = await disco('--master', srv.base, 'nodeinfo', '--json');
    expect(JSON.parse(j.out[0]).n1.max_workers).toBe(4);
  });

  it('runs a job module: builds the pack from the module and prints the job name', async () => {
    const r = await disco(
      '--master',
      srv.base,
      'run',
      `${FIXTURE}:Count`,
      'raw://ab',
      '--partitions',
      '3',
      '-P',
      'params={"x":1}',
    );
    expect(r.err).toEqual([]);
    expect(r.out).toEqual(['Count@5dc:9:0']);
    const pack = decodeJobPack(packs[packs.length - 1]);
    expect(pack.jobdict.prefix).toBe('Count');
    expect(pack.jobdict.input).toEqual(['raw://ab']);
    expect(pack.jobdict.nr_reduces).toBe(3);
    const jobdata = JSON.parse(Buffer.from(pack.jobdata).toString());
    expect(jobdata.functions.map).toEqual({ export: ['Count', 'map'] });
    expect(jobdata.params).toEqual({ x: 1 });
    // Without :Export, a module with several jobs must say which.
    const amb = await disco('--master', srv.base, 'run', FIXTURE, 'raw://a');
    expect(amb.code).toBe(1);
    expect(amb.err[0]).toMatch(/exports several jobs \(Count, Upper\)/);
  });

  it('reports an unreachable master in one line, and status 3 when stopped', async () => {
    const dead = 'http://127.0.0.1:9';
    const s = await disco('--master', dead, 'status');
    expect(s.code).toBe(3);
    expect(s.err).toEqual([`master stopped (${dead})`]);
    const debug = process.env.DISCO_DEBUG;
    delete process.env.DISCO_DEBUG;
    const e = await disco('--master', dead, 'master-version').finally(() => {
      if (debug !== undefined) process.env.DISCO_DEBUG = debug;
    });
    expect(e.code).toBe(1);
    expect(e.err).toHaveLength(1);
    expect(e.err[0]).toMatch(/^disco: .*is the Disco master running at http:\/\/127\.0\.0\.1:9\?/);
  });
});
