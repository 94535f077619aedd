import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  cleanFilter,
  EventLog,
  formatEventLine,
  jobEventsBody,
  readNewestEvents,
  sanitizeMessage,
} from '../../../src/master/jobs/events.js';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'disco-events-'));

describe('event lines', () => {
  it('have the original format', () => {
    const at = new Date(2024, 0, 2, 3, 4, 5);
    expect(formatEventLine('master', 'Starting job', at)).toBe(
      '["2024/01/02 03:04:05","master","Starting job"]\n',
    );
    expect(formatEventLine('n1', 'MSG: [map:0] say "hi"\n', at)).toBe(
      '["2024/01/02 03:04:05","n1","MSG: [map:0] say \\"hi\\"\\n"]\n',
    );
  });

  it('replace messages that are not valid Unicode', () => {
    expect(sanitizeMessage(Buffer.from([0x61, 0xff, 0x0a]))).toBe(
      'WARNING: Binary message data: \\x61\\xff\\x0a',
    );
    expect(sanitizeMessage(Buffer.from('héllo'))).toBe('héllo');
    expect(sanitizeMessage('a\ud800b')).toBe('WARNING: Binary message data: \\x61\\xef\\xbf\\xbd\\x62');
    expect(sanitizeMessage('emoji 😀')).toBe('emoji 😀');
  });
});

describe('jobevents', () => {
  it('cleans filters like the original', () => {
    expect(cleanFilter('WARNING: [map:0] "x";$(rm)')).toBe('warning:[map:0]x;rm');
    expect(cleanFilter('a b!@c')).toBe('ab!@c');
  });

  it('returns the newest matching lines first, at most 1000', async () => {
    const f = path.join(tmp(), 'events');
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++)
      lines.push(formatEventLine('h', i % 2 ? `WARNING: odd ${i}` : `even ${i}`));
    writeFileSync(f, lines.join(''));
    const newest = await readNewestEvents(f, 3);
    expect(newest.map((l) => JSON.parse(l)[2])).toEqual([
      'WARNING: odd 2999',
      'even 2998',
      'WARNING: odd 2997',
    ]);
    const warn = await readNewestEvents(f, 2, 'warning');
    expect(warn.map((l) => JSON.parse(l)[2])).toEqual(['WARNING: odd 2999', 'WARNING: odd 2997']);
    expect(await readNewestEvents(f, 5000)).toHaveLength(1000);
    const odd = await readNewestEvents(f, 1000, 'ODD');
    expect(odd.every((l) => l.includes('WARNING: odd'))).toBe(true);
    expect(odd).toHaveLength(1000);
    // Spaces are dropped from a filter, as the original does before its grep.
    expect(await readNewestEvents(f, 10, 'even 1')).toEqual([]);
    expect(JSON.parse(jobEventsBody(newest))).toHaveLength(3);
    expect(await readNewestEvents(path.join(tmp(), 'missing'), 10)).toEqual([]);
  });

  it('finds the first line of a file', async () => {
    const f = path.join(tmp(), 'events');
    writeFileSync(f, formatEventLine('h', 'only'));
    expect((await readNewestEvents(f, 10)).map((l) => JSON.parse(l)[2])).toEqual(['only']);
  });
});

describe('EventLog', () => {
  it('buffers and appends on flush, in order', async () => {
    const f = path.join(tmp(), 'events');
    const log = new EventLog(f);
    log.add('master', 'one');
    log.add('n1', 'two');
    await log.flush();
    log.add('master', 'three');
    await log.sync();
    const got = readFileSync(f, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l)[2]);
    expect(got).toEqual(['one', 'two', 'three']);
  });

  it('flushes by itself within the flush interval', async () => {
    const f = path.join(tmp(), 'events');
    const log = new EventLog(f);
    log.add('master', 'later');
    await new Promise((r) => setTimeout(r, 400));
    expect(readFileSync(f, 'utf8')).toContain('later');
  });
});
