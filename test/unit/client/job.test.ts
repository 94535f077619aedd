import { describe, expect, it, vi } from 'vitest';
import { Disco, masterUrl } from '../../../src/client/disco.js';
import { Job } from '../../../src/client/job.js';
import type { JobListEntry } from '../../../src/client/job-history.js';
import { isJobShortcut, resolveJobRef } from '../../../src/client/job-history.js';
import { normalizeOptions } from '../../../src/client/job-options.js';
import { startTestServer } from './test-server.js';

const settings = { DISCO_MASTER: 'http://127.0.0.1:1', DISCO_JOB_OWNER: 'me@here' };

describe('Job options', () => {
  it('takes options from run(), the constructor, instance and static members, in that order', () => {
    class Grep extends Job {
      static partitions = 4;
      static sort = true;
      static params = 'static';
      static *map(line: string) {
        yield [line, 1];
      }
      mapReader(s: unknown) {
        return s;
      }
    }
    const g = new Grep({ settings, params: 'ctor' });
    expect(g.name).toBe('Grep');
    const o = g.jobOptions({ partitions: 1 });
    expect(o.partitions).toBe(1);
    expect(o.sort).toBe(true);
    expect(o.params).toBe('ctor');
    expect(o.map).toBe(Grep.map);
    expect(o.mapReader).toBe(Grep.prototype.mapReader);
    expect(o.name).toBe('Grep');
    expect(g.jobOptions({ name: 'Other' }).name).toBe('Other');
    // null in run() means "none", not "not given".
    expect(g.jobOptions({ partitions: null }).partitions).toBeNull();
    // Job's own methods are not options.
    expect(Object.keys(new Job({ settings }).jobOptions())).toEqual(['name']);
  });

  it('accepts the original snake_case names once-warned', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      class Old extends Job {
        static map_reader = (s: unknown) => s;
        static nr_reduces = 3;
      }
      const o = new Old({ settings }).jobOptions({ status_interval: 0 } as never);
      expect(o.mapReader).toBe(Old.map_reader);
      expect(o.partitions).toBe(3);
      expect(o.statusInterval).toBe(0);
      expect(normalizeOptions({ required_files: ['x'] })).toEqual({ requiredFiles: ['x'] });
      const names = warn.mock.calls.map((c) => String(c[0]));
      expect(names.some((m) => m.includes("'map_reader'"))).toBe(true);
      expect(names.some((m) => m.includes("'nr_reduces'"))).toBe(true);
      // Each name warns once per process.
      new Old({ settings }).jobOptions();
      expect(warn.mock.calls.filter((c) => String(c[0]).includes("'map_reader'"))).toHaveLength(1);
    } finally {
      warn.mockRestore();
    }
  });

  it('refuses unknown option names', () => {
    expect(() => new Job({ settings, partitons: 3 } as never)).toThrow(/unknown Job key 'partitons'/);
  });

  it('proxies the Disco job methods with its name', async () => {
    const srv = await startTestServer();
    try {
      srv.handlers.set('/disco/ctrl/kill_job', (_req, res) => res.end('""'));
      srv.handlers.set('/disco/ctrl/jobinfo', (_req, res) => res.end(JSON.stringify({ active: 'dead' })));
      const job = new Job({ name: 'J@1:2:3', master: srv.base });
      await job.kill();
      expect((await job.jobinfo()).active).toBe('dead');
      expect(srv.requests[0].body.toString()).toBe('"J@1:2:3"');
      expect(srv.requests[1].url).toBe('/disco/ctrl/jobinfo?name=J@1:2:3');
    } finally {
      await srv.close();
    }
  });
});

describe('Disco client', () => {
  it('normalises master addresses', () => {
    expect(masterUrl('disco://localhost', 8989)).toBe('http://localhost:8989');
    expect(masterUrl('localhost:9000', 8989)).toBe('http://localhost:9000');
    expect(masterUrl('http://m:8989/', 8989)).toBe('http://m:8989');
    expect(new Disco({ settings: { DISCO_MASTER_HOST: 'mh', DISCO_PORT: '7000' } }).master).toBe(
      'http://mh:7000',
    );
  });

  it('submits, waits and reports failures', async () => {
    const srv = await startTestServer();
    try {
      const status = new Map([
        ['Good@1:2:3', 'ready'],
        ['Bad@1:2:3', 'dead'],
      ]);
      srv.handlers.set('/disco/job/new', (_req, res, body) => {
        res.end(body.length > 3 ? '["ok","Good@1:2:3"]' : '["error","Job failed to start: invalid header"]');
      });
      srv.handlers.set('/disco/ctrl/get_results', (_req, res, body) => {
        const [, names] = JSON.parse(body.toString()) as [number, string[]];
        res.end(
          JSON.stringify(
            names.map((n) => [
              n,
              [status.get(n) ?? 'unknown job', status.get(n) === 'ready' ? ['dir://h/x'] : []],
            ]),
          ),
        );
      });
      const disco = new Disco({ master: srv.base });
      expect(await disco.submit(Buffer.from('pack'))).toBe('Good@1:2:3');
      await expect(disco.submit(Buffer.from('x'))).rejects.toThrow(
        /Failed to submit jobpack: Job failed to start: invalid header/,
      );
      expect(await disco.wait('Good@1:2:3', { show: false })).toEqual(['dir://h/x']);
      await expect(disco.wait('Bad@1:2:3', { show: false })).rejects.toThrow(
        /Job Bad@1:2:3 failed: Status dead/,
      );
      await expect(disco.wait('Nope@1:2:3', { show: false })).rejects.toThrow(/Status unknown job/);
      expect(await disco.results('Good@1:2:3')).toEqual(['ready', ['dir://h/x']]);
      const [inactive, active] = await disco.results(['Good@1:2:3', 'Bad@1:2:3']);
      expect(inactive.map((e) => e[0])).toEqual(['Good@1:2:3', 'Bad@1:2:3']);
      expect(active).toEqual([]);
    } finally {
      await srv.close();
    }
  });

  it('sets the config table only when the master says "table saved!"', async () => {
    const srv = await startTestServer();
    try {
      srv.handlers.set('/disco/ctrl/save_config_table', (_req, res, body) => {
        const rows = JSON.parse(body.toString()) as string[][];
        if (rows.length === 2 && rows[0][0] === rows[1][0]) {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end('"duplicate nodes"');
        } else res.end('"table saved!"');
      });
      const disco = new Disco({ master: srv.base });
      await disco.config([['n1', '2']]);
      await expect(
        disco.setConfig([
          ['n1', '2'],
          ['n1', '3'],
        ]),
      ).rejects.toThrow(/^duplicate nodes$/);
    } finally {
      await srv.close();
    }
  });
});

describe('job name shortcuts', () => {
  const list: JobListEntry[] = [
    [1700000003, 'active', 'Grep@5dc:3:0'],
    [1700000002, 'ready', 'WordCount@5dc:2:0'],
    [1700000001, 'dead', 'WordCount@5dc:1:0'],
  ];
  it('resolves @ and @?text against the newest-first job list', () => {
    expect(resolveJobRef('@', list)).toBe('Grep@5dc:3:0');
    expect(resolveJobRef('@?Word', list)).toBe('WordCount@5dc:2:0');
    expect(resolveJobRef('@?5dc:1', list)).toBe('WordCount@5dc:1:0');
    expect(resolveJobRef('Plain@1:2:3', list)).toBe('Plain@1:2:3');
    expect(() => resolveJobRef('@?Nope', list)).toThrow(/no job whose name contains "Nope"/);
    expect(() => resolveJobRef('@', [])).toThrow(/no jobs yet/);
    expect(isJobShortcut('@')).toBe(true);
    expect(isJobShortcut('@?x')).toBe(true);
    expect(isJobShortcut('x@1:2:3')).toBe(false);
  });
});
