/**
 * The task journal (src/master/metrics/task-journal.ts): batched appends, replay after a crash
 * (a cut-off last line included), removal once `tasks.json` exists, and the observatory reading
 * the history of a job whose master died (a new observatory on the same directory, as after a
 * SIGKILL and restart: nothing was closed).
 */
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Observatory } from '../../../src/master/metrics/observatory.js';
import { TaskHistory } from '../../../src/master/metrics/task-history.js';
import { replayJournal, TaskJournal } from '../../../src/master/metrics/task-journal.js';

const log = pino({ level: 'silent' });
const ref = (mode: 'map' | 'reduce', taskid: number, attempt = 0) => ({ mode, taskid, attempt });
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'journal-'));
  dirs.push(d);
  return d;
}

/** The same events into a history and a journal. */
function record(h: TaskHistory, j: TaskJournal, job: string): void {
  const steps: [string, ...unknown[]][] = [
    ['a', ref('map', 0), 'n1', 10, false],
    ['a', ref('map', 1), 'n2', 10, false],
    ['a', ref('map', 2), 'n1', 20, true],
    ['e', ref('map', 0), 'done', 100],
    ['s', ref('map', 2), 100],
    ['e', ref('map', 1), 'error', 120, 'bad "input"\nline two'],
    ['a', ref('map', 1, 1), 'n1', 130, false],
    ['a', ref('reduce', 0), 'n2', 150, false],
  ];
  for (const [kind, r, ...rest] of steps) {
    const a = r as ReturnType<typeof ref>;
    if (kind === 'a') {
      h.assigned(a, rest[0] as string, rest[1] as number, rest[2] as boolean);
      j.assigned(job, a, rest[0] as string, rest[1] as number, rest[2] as boolean);
    } else if (kind === 's') {
      h.started(a, rest[0] as number);
      j.started(job, a, rest[0] as number);
    } else {
      h.ended(a, rest[0] as 'done', rest[1] as number, rest[2] as string | undefined);
      j.ended(job, a, rest[0] as 'done', rest[1] as number, rest[2] as string | undefined);
    }
  }
}

describe('task journal', () => {
  it('replays to the history it recorded, running attempts included', async () => {
    const dir = tmp();
    const file = path.join(dir, 'tasks.log');
    const j = new TaskJournal(() => file, log, 60_000);
    const h = new TaskHistory();
    record(h, j, 'J');
    // Batched: nothing is on disk before a flush.
    expect(existsSync(file)).toBe(false);
    await j.flush('J');
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(8);
    const back = await replayJournal(file);
    expect(back?.attempts).toEqual(h.attempts);
    expect(back?.attempts.filter((a) => a.outcome === 'running').map((a) => a.taskid)).toEqual([2, 1, 0]);
  });

  it('skips a line cut short by a crash and ignores garbage', async () => {
    const dir = tmp();
    const file = path.join(dir, 'tasks.log');
    const j = new TaskJournal(() => file, log, 60_000);
    const h = new TaskHistory();
    record(h, j, 'J');
    await j.close();
    appendFileSync(file, '{"not":"a row"}\n[2,0,1,1,200,1');
    expect((await replayJournal(file))?.attempts).toEqual(h.attempts);
    expect(await replayJournal(path.join(dir, 'missing.log'))).toBeNull();
  });

  it('appends on its own after the flush interval, in order, and removes the file', async () => {
    const dir = tmp();
    const file = path.join(dir, 'tasks.log');
    const j = new TaskJournal(() => file, log, 20);
    j.assigned('J', ref('map', 0), 'n1', 1, false);
    await new Promise((r) => setTimeout(r, 100));
    expect(readFileSync(file, 'utf8')).toBe('[0,0,0,0,"n1",1,0]\n');
    j.ended('J', ref('map', 0), 'done', 2);
    // Removal waits for the pending append's turn and drops what was not written.
    await j.remove('J');
    expect(existsSync(file)).toBe(false);
    await j.close();
    expect(existsSync(file)).toBe(false);
  });

  it('a job directory that is gone (purged) is not an error', async () => {
    const j = new TaskJournal(() => path.join(tmp(), 'gone', 'tasks.log'), log, 60_000);
    j.assigned('J', ref('map', 0), 'n1', 1, false);
    await expect(j.flush('J')).resolves.toBeUndefined();
  });
});

describe('observatory after a crash', () => {
  it('shows the tasks of a job whose master died while it ran, then keeps them in tasks.json', async () => {
    const root = tmp();
    const jobDir = (job: string) => path.join(root, job);
    mkdirSync(jobDir('J'));
    const o = new Observatory(jobDir, log);
    o.jobSubmitted('J');
    o.taskAssigned({ job: 'J', node: 'n1', ...ref('map', 0) });
    o.taskAssigned({ job: 'J', node: 'n2', ...ref('map', 1) });
    o.taskEnded({ job: 'J', node: 'n1', ...ref('map', 0) }, 'done');
    const live = (await o.history('J'))!.attempts.map((a) => ({ ...a }));
    // The batch interval passes, then the master is killed (no close, no tasks.json).
    await new Promise((r) => setTimeout(r, 700));
    expect(existsSync(path.join(root, 'J', 'tasks.json'))).toBe(false);

    const restarted = new Observatory(jobDir, log);
    const h = await restarted.history('J');
    expect(h?.attempts).toEqual(live);
    expect(h?.attempts.map((a) => a.outcome)).toEqual(['done', 'running']);
    // Read once from the journal, then kept as tasks.json.
    await restarted.close();
    expect(existsSync(path.join(root, 'J', 'tasks.json'))).toBe(true);
    expect(existsSync(path.join(root, 'J', 'tasks.log'))).toBe(false);
    expect((await new Observatory(jobDir, log).history('J'))?.attempts).toEqual(live);
    await o.close();
  });
});
