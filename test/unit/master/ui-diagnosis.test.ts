/** The job page's answers (slowest task, failed attempts) computed from a job's attempts. */
import { describe, expect, it } from 'vitest';
import { MAX_FAILED_SHOWN, taskHighlights } from '../../../src/master/http/ui/diagnosis.js';
import { TaskHistory, taskTable } from '../../../src/master/metrics/task-history.js';

const ref = (mode: 'map' | 'reduce', taskid: number, attempt = 0) => ({ mode, taskid, attempt });

function highlightsOf(h: TaskHistory, nrMap: number, nrReduce: number, active: boolean, now: number) {
  return taskHighlights(taskTable(h.attempts, { nrMap, nrReduce, active, now }), h.attempts);
}

describe('job page diagnosis', () => {
  it('names a running straggler against the median of its phase', () => {
    const h = new TaskHistory();
    for (let i = 0; i < 4; i++) h.assigned(ref('map', i), `n${i % 2}`, 0);
    for (let i = 0; i < 3; i++) h.ended(ref('map', i), 'done', 400 + i * 100); // 400, 500, 600 ms
    const s = highlightsOf(h, 4, 0, true, 5000).slowest;
    // map:3 has run 5000 ms; the median of 400, 500, 600, 5000 is 550.
    expect(s).toEqual({
      mode: 'map',
      taskid: 3,
      node: 'n1',
      status: 'running',
      durationMs: 5000,
      medianMs: 550,
      factor: 5000 / 550,
      straggler: true,
    });
  });

  it('a slowest task that is not much slower is no straggler; a phase of one task has none', () => {
    const h = new TaskHistory();
    h.assigned(ref('map', 0), 'n1', 0);
    h.assigned(ref('map', 1), 'n1', 0);
    h.ended(ref('map', 0), 'done', 300);
    h.ended(ref('map', 1), 'done', 900); // 3× the other, but only 600 ms longer
    h.assigned(ref('reduce', 0), 'n1', 900);
    h.ended(ref('reduce', 0), 'done', 9900); // the longest task, alone in its phase
    const s = highlightsOf(h, 2, 1, false, 10_000).slowest;
    expect(s).toMatchObject({ mode: 'map', taskid: 1, durationMs: 900, medianMs: 600, straggler: false });
  });

  it('lists failed attempts with the node that retried them and the task outcome', () => {
    const h = new TaskHistory();
    h.assigned(ref('map', 0), 'bad', 0);
    h.assigned(ref('map', 1), 'good', 0);
    h.ended(ref('map', 0), 'error', 10, 'DataError: checksum mismatch');
    h.assigned(ref('map', 0, 1), 'good', 20);
    h.ended(ref('map', 0, 1), 'done', 30);
    h.ended(ref('map', 1), 'fatal', 40, 'TypeError: x is undefined\n    at map');
    const d = highlightsOf(h, 2, 0, false, 50);
    expect(d.failedAttemptsTotal).toBe(2);
    expect(d.failedAttempts).toEqual([
      {
        mode: 'map',
        taskid: 0,
        attempt: 0,
        node: 'bad',
        outcome: 'error',
        message: 'DataError: checksum mismatch',
        retriedOn: 'good',
        taskStatus: 'done',
      },
      {
        mode: 'map',
        taskid: 1,
        attempt: 0,
        node: 'good',
        outcome: 'fatal',
        message: 'TypeError: x is undefined\n    at map',
        retriedOn: null,
        taskStatus: 'failed',
      },
    ]);
  });

  it('keeps the first few failed attempts and counts all of them', () => {
    const h = new TaskHistory();
    for (let a = 0; a < MAX_FAILED_SHOWN + 5; a++) {
      h.assigned(ref('map', 0, a), `n${a}`, a * 10);
      h.ended(ref('map', 0, a), 'lost', a * 10 + 5);
    }
    const d = highlightsOf(h, 1, 0, true, 1000);
    expect(d.failedAttemptsTotal).toBe(MAX_FAILED_SHOWN + 5);
    expect(d.failedAttempts).toHaveLength(MAX_FAILED_SHOWN);
    expect(d.failedAttempts[0]).toMatchObject({
      node: 'n0',
      retriedOn: 'n1',
      message: null,
      outcome: 'lost',
    });
  });
});
