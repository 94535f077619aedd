import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Settings } from '../../../src/common/settings.js';
import type { TaskRunner } from '../../../src/node/task-runner.js';
import { WORKER_RUNTIME_VERSION } from '../../../src/protocol/jobdata.js';
import {
  FIXTURES,
  jobName,
  newRunner,
  Outbox,
  prepareJobHome,
  task,
  tempRoot,
  testSettings,
} from './harness.js';

let root: string;
let settings: Settings;
let outbox: Outbox;
let runner: TaskRunner | null = null;

beforeEach(async () => {
  root = await tempRoot();
  settings = testSettings(root);
  outbox = new Outbox();
});

afterEach(async () => {
  runner?.close();
  runner = null;
  await fs.rm(root, { recursive: true, force: true });
});

async function until(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The pid a reuse-scenario worker reported for a task. */
function pidOf(job: string, taskid: number): number {
  const ev = outbox.events(job).find((e) => e.includes(` runs ${job} map:${taskid}`));
  if (!ev) throw new Error(`no run event for ${job} ${taskid}`);
  return Number(/pid (\d+)/.exec(ev)![1]);
}

describe('warm workers', () => {
  it('gives a reusable worker the next task of the same job, never another job', async () => {
    runner = newRunner(settings, outbox);
    runner.setMaxWorkers(2);
    const a = jobName('A');
    const b = jobName('B');
    await prepareJobHome(settings, a, { jobenvs: { TEST_SCENARIO: 'reuse' } });
    await prepareJobHome(settings, b, { jobenvs: { TEST_SCENARIO: 'reuse' } });

    runner.run(task(a, 0));
    expect(await outbox.outcome(a, 0)).toMatchObject({ type: 'task_done' });
    await until(() => runner!.poolStats().parked === 1);
    runner.run(task(a, 1));
    const second = await outbox.outcome(a, 1);
    expect(second.type).toBe('task_done');
    expect(pidOf(a, 1)).toBe(pidOf(a, 0));
    // The second task's results file is its own.
    if (second.type === 'task_done') expect(second.results[0]).toMatch(/\/\.disco\/map-1-\d+\.results$/);

    await until(() => runner!.poolStats().parked === 1);
    runner.run(task(b, 0));
    expect(await outbox.outcome(b, 0)).toMatchObject({ type: 'task_done' });
    expect(pidOf(b, 0)).not.toBe(pidOf(a, 0));

    runner.killJob(a);
    await until(() => runner!.poolStats().parked === 1);
  });

  it('queues tasks beyond its slots and hands each to the worker that just finished one of the job', async () => {
    runner = newRunner(settings, outbox);
    runner.setMaxWorkers(1);
    const a = jobName('A');
    await prepareJobHome(settings, a, { jobenvs: { TEST_SCENARIO: 'reuse' } });
    runner.run(task(a, 0));
    runner.run(task(a, 1), true);
    runner.run(task(a, 2), true);
    expect(runner.running).toBe(1);
    expect(runner.queued).toBe(2);
    for (const id of [0, 1, 2]) expect(await outbox.outcome(a, id)).toMatchObject({ type: 'task_done' });
    // One process ran them all: each next task went to the worker that finished the last.
    expect(new Set([0, 1, 2].map((id) => pidOf(a, id))).size).toBe(1);
    // `task_started` for each prefetched task, right after the report that freed its slot.
    const order = outbox.sent
      .filter((m) => m.type === 'task_done' || m.type === 'task_started')
      .map((m) => `${m.type}:${'taskid' in m ? m.taskid : ''}`);
    expect(order).toEqual(['task_done:0', 'task_started:1', 'task_done:1', 'task_started:2', 'task_done:2']);
    expect(runner.running).toBe(0);
  });

  it('drops a queued task that is killed, without a report', async () => {
    runner = newRunner(settings, outbox);
    runner.setMaxWorkers(1);
    const a = jobName('A');
    await prepareJobHome(settings, a, { jobenvs: { TEST_SCENARIO: 'reuse' } });
    runner.run(task(a, 0));
    runner.run(task(a, 1), true);
    runner.run(task(a, 2), true);
    runner.killTask({ job: a, mode: 'map', taskid: 1, attempt: 0 });
    expect(runner.queued).toBe(1);
    expect(await outbox.outcome(a, 2)).toMatchObject({ type: 'task_done' });
    expect(outbox.sent.some((m) => 'taskid' in m && m.job === a && m.taskid === 1)).toBe(false);
  });

  it('pipelines with a worker that asks: no MSG/OUTPUT replies, inputs pushed with each task', async () => {
    runner = newRunner(settings, outbox);
    runner.setMaxWorkers(1);
    const a = jobName('A');
    await prepareJobHome(settings, a, { jobenvs: { TEST_SCENARIO: 'pipeline' } });
    runner.run(task(a, 0, [['raw://x0']]));
    runner.run(task(a, 1, [['raw://x1', 'raw://y1']]), true);
    for (const id of [0, 1]) {
      const out = await outbox.outcome(a, id);
      expect(out).toMatchObject({ type: 'task_done' });
      if (out.type === 'task_done')
        expect(out.results[0]).toMatch(new RegExp(`/\\.disco/map-${id}-\\d+\\.results$`));
    }
    const ev = outbox.events(a);
    expect(ev).toContain('MSG: [map:0] no reply 0 ["done",[[0,"ok",[[0,"raw://x0"]]]]]');
    expect(ev).toContain('MSG: [map:1] no reply 1 ["done",[[0,"ok",[[0,"raw://x1"],[1,"raw://y1"]]]]]');
    for (const m of ['MSG: [map:0] bye 0', 'MSG: [map:1] bye 1']) expect(ev).toContain(m);
  });

  it('uses pre-started generic workers only for jobs of the same runtime version', async () => {
    runner = newRunner(settings, outbox, {
      prestart: { file: process.execPath, args: [path.join(FIXTURES, 'worker.mjs')] },
    });
    runner.setMaxWorkers(2);
    await until(() => runner!.poolStats().ready === 2);

    // Its own worker file would crash (jobenvs), so success proves a pre-started worker ran it.
    const ts = jobName('Ts');
    await prepareJobHome(settings, ts, {
      jobenvs: { TEST_SCENARIO: 'crash' },
      jobdict: { ts_worker: WORKER_RUNTIME_VERSION },
    });
    runner.run(task(ts, 0));
    expect(await outbox.outcome(ts, 0)).toMatchObject({ type: 'task_done' });

    // Another runtime version: the job's own worker, which crashes here.
    const other = jobName('Other');
    await prepareJobHome(settings, other, {
      jobenvs: { TEST_SCENARIO: 'crash' },
      jobdict: { ts_worker: 'someone-else/9' },
    });
    runner.run(task(other, 0));
    expect(await outbox.outcome(other, 0)).toMatchObject({
      type: 'task_failed',
      message: 'Worker crashed! (exit code: 3)',
    });

    // The pool is topped up again in the background.
    await until(() => runner!.poolStats().ready === 2);
  });
});
