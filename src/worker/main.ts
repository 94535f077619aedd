/**
 * The TypeScript worker runtime (`disco-worker.mjs` in a job home, or a node's warm worker):
 * speaks worker protocol 1.0 on stdin/stderr, runs tasks until the node closes stdin. Each
 * task runs with its job's `Worker` (`job-worker.ts`): the classic worker, or the custom
 * `Worker` subclass the job was built with.
 *
 * Task outcomes: `DONE` after a successful task (then `TASK ""` again, reuse), `ERROR` for
 * failures worth a retry elsewhere (data, I/O, memory), `FATAL` for everything else (see
 * `failure.ts`). After `ERROR`/`FATAL` the worker waits for the node to end it.
 *
 * @example
 * // node dist/worker.js   (normally started by a node, never by hand)
 */

import { ClassicWorker } from './classic-worker.js';
import { captureConsole } from './console-capture.js';
import { setMessageSink } from './context.js';
import { classifyFailure } from './failure.js';
import { workerForJob } from './job-worker.js';
import { EndOfInput, ProtocolClient } from './protocol-client.js';
import { loadJob, runTask } from './task.js';
import { runWorkerTask } from './task-io.js';

const client = new ProtocolClient();
/** True between receiving a task and finishing it: only then may messages go out. */
let active = false;

function sendMessage(text: string): void {
  if (active) client.msg(text);
}

/** End the current task with ERROR/FATAL for `e`, wait to be stopped, exit. */
function fail(e: unknown): never {
  if (e instanceof EndOfInput) process.exit(0);
  const f = classifyFailure(e);
  try {
    if (f.kind === 'ERROR') client.error(f.text);
    else client.fatal(f.text);
  } catch {
    // the node is gone; nothing left to tell
  }
  active = false;
  client.waitForEnd();
  process.exit(1);
}

async function main(): Promise<void> {
  captureConsole(sendMessage);
  setMessageSink(sendMessage);
  process.on('uncaughtException', (e) => (active ? fail(e) : process.exit(1)));
  process.on('unhandledRejection', (e) => (active ? fail(e) : process.exit(1)));
  try {
    client.hello();
  } catch (e) {
    if (e instanceof EndOfInput) process.exit(0);
    throw e;
  }
  for (;;) {
    const task = client.nextTask();
    if (!task) process.exit(0);
    active = true;
    try {
      const job = await loadJob(task.jobfile);
      const worker = await workerForJob(job);
      // Classic tasks speak the protocol themselves (and set up their own context and OOB
      // state): going through runWorkerTask would do that set-up twice per task.
      if (worker instanceof ClassicWorker) await runTask(client, task);
      else await runWorkerTask(worker, client, task, job);
      active = false;
      client.done();
    } catch (e) {
      fail(e);
    }
    if (!client.reuse) process.exit(0);
  }
}

main().catch((e) => fail(e));
