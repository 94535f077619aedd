/** Shared set-up of the node tests: a data directory, settings, prepared job homes, a runner. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Settings } from '../../../src/common/settings.js';
import { TaskRunner, type TaskRunnerOptions } from '../../../src/node/task-runner.js';
import type { NodeToMaster, TaskSpec } from '../../../src/protocol/control.js';
import { encodeJobPack, type JobDict } from '../../../src/protocol/jobpack.js';
import { hexHash } from '../../../src/protocol/names.js';

export const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
export const HOST = 'testnode';

let jobCounter = 0;
/** A fresh valid job name. */
export function jobName(prefix = 'Test'): string {
  jobCounter += 1;
  return `${prefix}@5dc:${(Date.now() % 0xfffff).toString(16)}:${(process.pid * 1000 + jobCounter).toString(16)}`;
}

export async function tempRoot(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'disco-node-test-'));
}

export function testSettings(root: string, extra: Record<string, string> = {}): Settings {
  return new Settings(
    {
      DISCO_DATA: path.join(root, 'data'),
      DDFS_DATA: path.join(root, 'ddfs'),
      DISCO_PORT: '8989',
      DDFS_PUT_PORT: '8990',
      DISCO_WORKER_POOL: '1',
      DISCO_SECRET: '',
      ...extra,
    },
    {},
    {},
  );
}

export function testJobDict(extra: Partial<JobDict> = {}): JobDict {
  return {
    prefix: 'Test',
    input: [],
    worker: 'worker.mjs',
    owner: 'tester@localhost',
    nr_reduces: 1,
    scheduler: {},
    'map?': true,
    ...extra,
  };
}

/** Lay out a job home on disk as the node would have prepared it. */
export async function prepareJobHome(
  settings: Settings,
  job: string,
  opts: { jobenvs?: Record<string, string>; jobdict?: Partial<JobDict> } = {},
): Promise<string> {
  const dir = path.join(settings.get('DISCO_DATA'), HOST, hexHash(job), job);
  await fs.mkdir(dir, { recursive: true });
  const pack = encodeJobPack({
    jobdict: testJobDict(opts.jobdict),
    jobenvs: opts.jobenvs ?? {},
    jobhome: new Uint8Array(),
  });
  await fs.writeFile(path.join(dir, 'jobfile'), pack);
  for (const f of ['worker.mjs', 'proto.mjs']) await fs.copyFile(path.join(FIXTURES, f), path.join(dir, f));
  await fs.chmod(path.join(dir, 'worker.mjs'), 0o755);
  await fs.writeFile(path.join(dir, '.jobhome'), '');
  return dir;
}

/** Messages a runner sent to its "master", with waiting helpers. */
export class Outbox {
  readonly sent: NodeToMaster[] = [];
  private waiters: (() => void)[] = [];

  readonly send = (msg: NodeToMaster): void => {
    this.sent.push(msg);
    for (const w of this.waiters.splice(0)) w();
  };

  async waitFor<T extends NodeToMaster>(pred: (m: NodeToMaster) => m is T, timeoutMs = 4000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.sent.find(pred);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; sent so far: ${JSON.stringify(this.sent).slice(0, 2000)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** The outcome (task_done or task_failed) of a task attempt. */
  outcome(job: string, taskid = 0, timeoutMs = 4000) {
    return this.waitFor(
      (m): m is Extract<NodeToMaster, { type: 'task_done' | 'task_failed' }> =>
        (m.type === 'task_done' || m.type === 'task_failed') && m.job === job && m.taskid === taskid,
      timeoutMs,
    );
  }

  /** Every event message of `job` sent so far. */
  events(job: string): string[] {
    return this.sent.flatMap((m) => (m.type === 'events' && m.job === job ? m.messages : []));
  }
}

export function task(
  job: string,
  taskid = 0,
  inputs: string[][] = [],
  mode: 'map' | 'reduce' = 'map',
): TaskSpec {
  return { job, mode, taskid, attempt: 0, inputs };
}

export function newRunner(
  settings: Settings,
  outbox: Outbox,
  extra: Partial<TaskRunnerOptions> = {},
): TaskRunner {
  return new TaskRunner({
    settings,
    host: HOST,
    send: outbox.send,
    masterUrl: () => 'http://master.invalid:8989',
    prestart: null,
    ...extra,
  });
}
