/**
 * Console output while waiting for a job: `wait({ show: true })` prints the events in order
 * with colours only on a terminal, and the progress bar draws only on a terminal.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { eventFormat } from '../../../src/client/event-monitor.js';
import { formatProgress, JobProgress, progressOf } from '../../../src/client/progress-bar.js';
import { Disco } from '../../../src/index.js';
import { startTestServer, type TestServer } from './test-server.js';

const JOB = 'Con@1:2:3';
const line = (t: string, h: string, m: string) => `${JSON.stringify([t, h, m])}\n`;

/** A fake master whose job runs for `polls` get_results calls, adding an event each time. */
async function fakeMaster(): Promise<TestServer> {
  const srv = await startTestServer({ emptyPastEnd: true });
  let file = line('2024/01/01 10:00:00', 'master', 'Starting job');
  let polls = 0;
  srv.files.set('/disco/ctrl/rawevents', () => Buffer.from(file));
  srv.handlers.set('/disco/ctrl/get_results', (_req, res) => {
    polls++;
    if (polls === 1) file += line('2024/01/01 10:00:01', 'node1', 'WARNING: [map:0] flaky disk');
    if (polls === 2) file += line('2024/01/01 10:00:02', 'node1', 'ERROR: [map:1] worse');
    if (polls === 3) file += line('2024/01/01 10:00:03', 'master', 'READY: Job finished in 0:00:03.000');
    const status = polls >= 3 ? 'ready' : 'active';
    res.end(JSON.stringify([[JOB, [status, status === 'ready' ? ['dir://n/x'] : []]]]));
  });
  srv.handlers.set('/disco/ctrl/jobinfo', (_req, res) =>
    res.end(JSON.stringify({ mapi: [1, 1, polls, 0], redi: [0, 0, 0, 0] })),
  );
  return srv;
}

let srv: TestServer;
let written: string[];
let tty: PropertyDescriptor | undefined;
const noColor = process.env.NO_COLOR;

function setTty(on: boolean): void {
  Object.defineProperty(process.stderr, 'isTTY', { value: on, configurable: true });
  Object.defineProperty(process.stderr, 'columns', { value: 100, configurable: true });
}

beforeEach(async () => {
  srv = await fakeMaster();
  written = [];
  tty = Object.getOwnPropertyDescriptor(process.stderr, 'isTTY');
  delete process.env.NO_COLOR;
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    written.push(String(s));
    return true;
  });
});
afterEach(async () => {
  vi.restoreAllMocks();
  if (tty) Object.defineProperty(process.stderr, 'isTTY', tty);
  else delete (process.stderr as { isTTY?: boolean }).isTTY;
  delete (process.stderr as { columns?: number }).columns;
  if (noColor !== undefined) process.env.NO_COLOR = noColor;
  await srv.close();
});

describe('wait({ show: true })', () => {
  it('prints every event in order, without colours when not on a terminal', async () => {
    setTty(false);
    const disco = new Disco({ master: srv.base });
    expect(await disco.wait(JOB, { show: true, pollInterval: 10 })).toEqual(['dir://n/x']);
    const text = written.join('');
    expect(text).not.toContain('\x1b');
    const events = written.filter((w) => /^2024\//.test(w));
    expect(events).toEqual([
      '2024/01/01 10:00:00 master Starting job\n',
      '2024/01/01 10:00:01 node1 WARNING: [map:0] flaky disk\n',
      '2024/01/01 10:00:02 node1 ERROR: [map:1] worse\n',
      '2024/01/01 10:00:03 master READY: Job finished in 0:00:03.000\n',
    ]);
    expect(text).toContain('Status: [map] ');
  });

  it('colours events on a terminal (unless NO_COLOR)', async () => {
    setTty(true);
    const disco = new Disco({ master: srv.base });
    await disco.wait(JOB, { show: true, pollInterval: 10 });
    const text = written.join('');
    expect(text).toContain('\x1b[31mERROR: [map:1] worse\x1b[0m');
    expect(text).toContain(`${JOB}:`);
    expect(eventFormat(true, { write: () => true, isTTY: true })).toBe('color');
    process.env.NO_COLOR = '1';
    expect(eventFormat(true, { write: () => true, isTTY: true })).toBe('nocolor');
    expect(eventFormat(true, { write: () => true, isTTY: false })).toBe('nocolor');
    expect(eventFormat('json', { write: () => true, isTTY: true })).toBe('json');
  });
});

describe('progress bar', () => {
  it('draws nothing when not on a terminal', async () => {
    setTty(false);
    const disco = new Disco({ master: srv.base });
    await disco.wait(JOB, { progress: true, show: false, pollInterval: 10 });
    expect(written).toEqual([]);
    expect(JobProgress.forSink({ write: () => true, isTTY: false }, JOB)).toBeNull();
  });

  it('redraws one line in place on a terminal and erases it at the end', async () => {
    setTty(true);
    const disco = new Disco({ master: srv.base });
    await disco.wait(JOB, { progress: true, show: false, pollInterval: 10 });
    expect(written.length).toBeGreaterThan(1);
    for (const w of written) expect(w.startsWith('\r\x1b[2K')).toBe(true);
    expect(written.some((w) => w.includes(`${JOB} map [`))).toBe(true);
    expect(written.at(-1)).toBe('\r\x1b[2K');
  });

  it('formats phase, counts, rate and time within the width', () => {
    expect(progressOf({ mapi: [2, 1, 7, 1], redi: [0, 0, 0, 0] })).toEqual({
      phase: 'map',
      done: 7,
      running: 1,
      failed: 1,
      total: 10,
    });
    expect(progressOf({ mapi: [0, 0, 10, 0], redi: [3, 1, 0, 0] }).phase).toBe('reduce');
    const s = {
      phase: 'map' as const,
      done: 5,
      total: 10,
      running: 2,
      failed: 1,
      rate: 2.5,
      elapsedMs: 65_000,
    };
    const l = formatProgress('Job@1:2:3', s, 100);
    expect(l).toBe(
      `Job@1:2:3 map [${'█'.repeat(15)}${'░'.repeat(15)}] 5/10 · 2 running · 1 failed · 2.5 tasks/s · 01:05`,
    );
    expect(formatProgress('Job@1:2:3', s, 40).length).toBeLessThanOrEqual(40);
  });
});
