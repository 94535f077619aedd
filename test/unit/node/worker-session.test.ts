import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Settings } from '../../../src/common/settings.js';
import type { TaskRunner } from '../../../src/node/task-runner.js';
import { hexHash } from '../../../src/protocol/names.js';
import { HOST, jobName, newRunner, Outbox, prepareJobHome, task, tempRoot, testSettings } from './harness.js';

let root: string;
let settings: Settings;
let outbox: Outbox;
let runner: TaskRunner;

beforeEach(async () => {
  root = await tempRoot();
  settings = testSettings(root);
  outbox = new Outbox();
  runner = newRunner(settings, outbox, {
    timeouts: { firstOutputMs: 2000, stuckMs: 700, lastWordsMs: 300 },
    // The node's own settings must never reach a worker.
    baseEnv: { ...process.env, DISCO_PORT: '1234', DISCO_SETTINGS: 'DISCO_PORT,MY_SETTING', MY_SETTING: 'x' },
  });
});

afterEach(async () => {
  runner.close();
  await fs.rm(root, { recursive: true, force: true });
});

async function runScenario(scenario: string, inputs: string[][] = [], taskid = 0) {
  const job = jobName();
  const home = await prepareJobHome(settings, job, { jobenvs: { TEST_SCENARIO: scenario } });
  runner.run(task(job, taskid, inputs));
  const outcome = await outbox.outcome(job, taskid);
  return { job, home, outcome, events: () => outbox.events(job) };
}

describe('worker session (protocol 1.0)', () => {
  it('runs a task: TASK info, env, PING, INPUT, OUTPUT lines in the .results file, DONE', async () => {
    const { job, home, outcome, events } = await runScenario('happy', [['raw://a', 'raw://b'], ['raw://c']]);
    expect(outcome.type).toBe('task_done');
    if (outcome.type !== 'task_done') return;
    const hh = hexHash(job);
    const base = `${HOST}/disco/${HOST}/${hh}/${job}`;
    expect(outcome.results).toHaveLength(2);
    const [dir, tag] = outcome.results;
    expect(tag).toBe('tag://my:tag');
    expect(dir).toMatch(
      new RegExp(`^dir://${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/\\.disco/map-0-\\d+\\.results$`),
    );
    const file = path.join(home, '.disco', path.basename(dir));
    expect(await fs.readFile(file, 'utf8')).toBe(
      `0 part://${base}/out/map-0/part-0\n1 part://${base}/out/map-0/part-1\n`,
    );

    const ev = events();
    const info = JSON.parse(
      ev.find((e) => e.startsWith('MSG: [map:0] task '))!.slice('MSG: [map:0] task '.length),
    );
    expect(Object.keys(info).sort()).toEqual(
      [
        'taskid',
        'master',
        'disco_port',
        'put_port',
        'ddfs_data',
        'disco_data',
        'mode',
        'jobfile',
        'jobname',
        'host',
      ].sort(),
    );
    expect(info).toMatchObject({
      taskid: 0,
      master: 'http://master.invalid:8989',
      disco_port: 8989,
      put_port: 8990,
      mode: 'map',
      jobname: job,
      host: HOST,
      jobfile: path.join(home, 'jobfile'),
      disco_data: path.resolve(settings.get('DISCO_DATA')),
    });
    const env = JSON.parse(
      ev.find((e) => e.startsWith('MSG: [map:0] env '))!.slice('MSG: [map:0] env '.length),
    );
    expect(env).toEqual({ port: null, seed: '0', warn: 'ignore', cwd: home });
    expect(ev).toContain('MSG: [map:0] ping {"type":"OK","body":"pong"}');
    expect(ev).toContain(
      `MSG: [map:0] inputs {"type":"INPUT","body":["done",[[0,"ok",[[0,"raw://a"],[1,"raw://b"]]],[1,"ok",[[0,"raw://c"]]]]]}`,
    );
    expect(ev.at(-1)).toMatch(/^DONE: \[map:0\] Task finished in 0:00:\d\d\.\d{3}$/);
  });

  it('falls back over replicas with INPUT_ERR (RETRY, preference order, FAIL)', async () => {
    const { outcome, events } = await runScenario('inputs', [
      ['http://r0/x', 'http://r1/x', 'http://r2/x'],
      ['raw://z'],
    ]);
    expect(outcome).toMatchObject({ type: 'task_failed', kind: 'error', message: 'all replicas failed' });
    const ev = events();
    expect(ev).toContain('MSG: [map:0] err0 {"type":"RETRY","body":[[1,"http://r1/x"],[2,"http://r2/x"]]}');
    // The failed replica goes last; the others keep their order.
    expect(ev).toContain(
      'MSG: [map:0] include {"type":"INPUT","body":["done",[[0,"ok",[[1,"http://r1/x"],[2,"http://r2/x"],[0,"http://r0/x"]]]]]}',
    );
    expect(ev).toContain('MSG: [map:0] exclude {"type":"INPUT","body":["done",[[1,"ok",[[0,"raw://z"]]]]]}');
    expect(ev).toContain('MSG: [map:0] err1 {"type":"RETRY","body":[[2,"http://r2/x"],[0,"http://r0/x"]]}');
  });

  it('fails a MSG flood fatally', async () => {
    const { outcome } = await runScenario('flood');
    expect(outcome).toMatchObject({ type: 'task_failed', kind: 'fatal' });
    if (outcome.type === 'task_failed')
      expect(outcome.message).toMatch(
        /^Worker is behaving badly: Sent 16 events in a second, ignoring replies\.$/,
      );
  });

  it('delays replies past 5 messages a second', async () => {
    const t0 = Date.now();
    const { outcome, events } = await runScenario('slowmsg');
    expect(outcome.type).toBe('task_done');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(3 * 200);
    expect(events().filter((e) => e.startsWith('MSG:'))).toHaveLength(8);
  });

  it('reports broken framing with the last words', async () => {
    const { outcome } = await runScenario('garbage');
    expect(outcome).toMatchObject({ type: 'task_failed', kind: 'error' });
    if (outcome.type === 'task_failed') {
      expect(outcome.message).toMatch(/^Worker died\. Last words:\nTraceback \(most recent call last\):\n/);
      expect(outcome.message).toContain('Boom: it broke');
    }
  });

  it('reports a crash with the exit code', async () => {
    const { outcome } = await runScenario('crash');
    expect(outcome).toMatchObject({
      type: 'task_failed',
      kind: 'error',
      message: 'Worker crashed! (exit code: 3)',
    });
  });

  it('maps FATAL and ERROR', async () => {
    expect((await runScenario('fatal')).outcome).toMatchObject({
      kind: 'fatal',
      message: 'user code exploded',
    });
    expect((await runScenario('error', [], 1)).outcome).toMatchObject({
      kind: 'error',
      message: 'cannot read input',
    });
  });

  it('refuses other worker versions, invalid JSON and outputs outside the job home (fatal)', async () => {
    const v = await runScenario('badversion');
    expect(v.outcome).toMatchObject({ kind: 'fatal', message: 'Invalid worker version: "1.1"' });
    const j = await runScenario('badjson');
    expect(j.outcome).toMatchObject({ kind: 'fatal' });
    const e = await runScenario('escape');
    expect(e.outcome).toMatchObject({ kind: 'fatal' });
    if (e.outcome.type === 'task_failed') expect(e.outcome.message).toMatch(/outside the job home/);
  });

  it('times out silent and stuck workers (errors)', async () => {
    const s = await runScenario('silent');
    expect(s.outcome).toMatchObject({ kind: 'error', message: 'Worker did not send its PID in 2 seconds' });
    const m = await runScenario('stuck');
    expect(m.outcome).toMatchObject({ kind: 'error', message: 'Worker stuck in the middle of a message' });
  });

  it('kills a task on kill_task without reporting it', async () => {
    const job = jobName();
    await prepareJobHome(settings, job, { jobenvs: { TEST_SCENARIO: 'silent' } });
    const spec = task(job);
    runner.run(spec);
    await new Promise((r) => setTimeout(r, 200));
    expect(runner.running).toBe(1);
    runner.killTask(spec);
    expect(runner.running).toBe(0);
    await new Promise((r) => setTimeout(r, 900));
    expect(outbox.sent.filter((m) => m.type === 'task_failed' || m.type === 'task_done')).toEqual([]);
  });
});
