import { afterEach, describe, expect, it } from 'vitest';
import { Disco } from '../../../src/client/disco.js';
import { EventMonitor, formatEvent, formatStatus } from '../../../src/client/event-monitor.js';
import { parseEventLines, sliceFromOffset } from '../../../src/client/events.js';
import { startTestServer, type TestServer } from './test-server.js';

const line = (t: string, host: string, msg: string) => `${JSON.stringify([t, host, msg])}\n`;
const JOB = 'Job@5dc:abcde:12345';

describe('event line parsing', () => {
  it('yields complete lines with the byte offset after each', () => {
    const a = line('2024/01/01 10:00:00', 'master', 'New job initialized!');
    const b = line('2024/01/01 10:00:01', 'node1', 'MSG: [map:0] héllo');
    const { events, next } = parseEventLines(Buffer.from(a + b), 0);
    expect(events.map((e) => e.message)).toEqual(['New job initialized!', 'MSG: [map:0] héllo']);
    expect(events[0].offset).toBe(Buffer.byteLength(a));
    expect(events[1].offset).toBe(Buffer.byteLength(a + b)); // bytes, not characters
    expect(next).toBe(Buffer.byteLength(a + b));
  });

  it('leaves a partial last line for the next read', () => {
    const a = line('t', 'master', 'one');
    const { events, next } = parseEventLines(Buffer.from(`${a}["t","master","tw`), 100);
    expect(events).toHaveLength(1);
    expect(events[0].offset).toBe(100 + a.length);
    expect(next).toBe(100 + a.length);
  });

  it('stops at an undecodable line', () => {
    const { events, next } = parseEventLines(
      Buffer.from(`${line('t', 'h', 'a')}garbage\n${line('t', 'h', 'b')}`),
      0,
    );
    expect(events.map((e) => e.message)).toEqual(['a']);
    expect(next).toBe(line('t', 'h', 'a').length);
  });

  it('slices whole-file answers at the offset', () => {
    const body = Buffer.from('0123456789');
    expect(sliceFromOffset(206, body, 4).toString()).toBe('0123456789');
    expect(sliceFromOffset(200, body, 4).toString()).toBe('456789');
    expect(sliceFromOffset(200, body, 40).length).toBe(0);
    expect(sliceFromOffset(200, Buffer.alloc(0), 40).length).toBe(0);
  });

  it('formats events and status lines like the original', () => {
    const ev = { time: '2024/01/01 10:00:00', host: 'master', message: 'READY: Job finished in 0:00:01.000' };
    expect(formatEvent(ev, 'nocolor')).toBe('2024/01/01 10:00:00 master READY: Job finished in 0:00:01.000');
    expect(formatEvent(ev, 'json')).toBe(JSON.stringify([ev.time, ev.host, ev.message]));
    expect(formatEvent(ev, 'color')).toContain('\x1b[');
    expect(formatStatus({ mapi: [1, 2, 3, 0], redi: [4, 0, 0, 0] })).toBe(
      'Status: [map] 1 waiting, 2 running, 3 done, 0 failed',
    );
    expect(formatStatus({ mapi: [0, 0, 5, 0], redi: [1, 1, 0, 0] })).toBe(
      'Status: [reduce] 1 waiting, 1 running, 0 done, 0 failed',
    );
  });
});

describe('Disco.events over HTTP', () => {
  let srv: TestServer;
  afterEach(async () => {
    await srv.close();
  });

  for (const emptyPastEnd of [true, false]) {
    it(`streams by offset with Range requests (${emptyPastEnd ? 'empty' : 'whole file'} past the end)`, async () => {
      srv = await startTestServer({ emptyPastEnd });
      let file = line('2024/01/01 10:00:00', 'master', 'New job initialized!');
      srv.files.set('/disco/ctrl/rawevents', () => Buffer.from(file));
      const disco = new Disco({ master: srv.base, retry: { retries: 0, baseDelayMs: 0, maxDelayMs: 0 } });

      const first = [];
      for await (const ev of disco.events(JOB)) first.push(ev);
      expect(first.map((e) => e.message)).toEqual(['New job initialized!']);
      expect(srv.requests[0].range).toBeUndefined();
      expect(srv.requests[0].url).toBe(`/disco/ctrl/rawevents?name=${JOB}`);

      // Nothing new: the read at the end of the file yields nothing (whatever the server answers).
      const none = [];
      for await (const ev of disco.events(JOB, { offset: first[0].offset })) none.push(ev);
      expect(none).toEqual([]);
      expect(srv.requests[1].range).toBe(`bytes=${first[0].offset}-`);

      // A complete line and a partial one arrive: only the complete one is taken.
      file += line('2024/01/01 10:00:01', 'node1', 'MSG: [map:0] hello');
      const partial = '["2024/01/01 10:00:02","master","REA';
      file += partial;
      const more = [];
      for await (const ev of disco.events(JOB, { offset: first[0].offset })) more.push(ev);
      expect(more.map((e) => e.message)).toEqual(['MSG: [map:0] hello']);
      expect(more[0].offset).toBe(Buffer.byteLength(file) - partial.length);

      file += 'DY: Job finished in 0:00:01.000"]\n';
      const last = [];
      for await (const ev of disco.events(JOB, { offset: more[0].offset })) last.push(ev);
      expect(last.map((e) => e.message)).toEqual(['READY: Job finished in 0:00:01.000']);
      expect(last[0].offset).toBe(Buffer.byteLength(file));
    });
  }

  it('follows a job until it ends, and the event monitor prints it', async () => {
    srv = await startTestServer({ emptyPastEnd: true });
    let file = line('t0', 'master', 'Starting job');
    let polls = 0;
    srv.files.set('/disco/ctrl/rawevents', () => Buffer.from(file));
    srv.handlers.set('/disco/ctrl/get_results', (_req, res, body) => {
      const [timeout, names] = JSON.parse(body.toString()) as [number, string[]];
      expect(timeout).toBe(50);
      polls++;
      if (polls === 1) file += line('t1', 'node1', 'DONE: [map:0] Task finished in 0:00:00.010');
      if (polls === 2) file += line('t2', 'master', 'READY: Job finished in 0:00:00.100');
      const status = polls >= 2 ? 'ready' : 'active';
      setTimeout(() => res.end(JSON.stringify([[names[0], [status, []]]])), status === 'active' ? 50 : 0);
    });
    srv.handlers.set('/disco/ctrl/jobinfo', (_req, res) =>
      res.end(JSON.stringify({ mapi: [0, 0, 1, 0], redi: [0, 0, 0, 0] })),
    );
    const disco = new Disco({ master: srv.base });
    const msgs = [];
    for await (const ev of disco.events(JOB, { follow: true, pollInterval: 50 })) msgs.push(ev.message);
    expect(msgs).toEqual([
      'Starting job',
      'DONE: [map:0] Task finished in 0:00:00.010',
      'READY: Job finished in 0:00:00.100',
    ]);

    const out: string[] = [];
    const sink = { write: (s: string) => out.push(s) };
    const monitor = new EventMonitor(disco, JOB, 'nocolor', sink, sink);
    await monitor.refresh();
    await monitor.refresh(); // nothing new, same status: prints nothing
    expect(out).toEqual([
      't0 master Starting job\n',
      't1 node1 DONE: [map:0] Task finished in 0:00:00.010\n',
      't2 master READY: Job finished in 0:00:00.100\n',
      'Status: [map] 0 waiting, 0 running, 1 done, 0 failed\n',
    ]);
  });
});
