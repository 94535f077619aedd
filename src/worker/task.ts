/**
 * One task, start to finish (wire spec §3, §6): load the job (once per job: job pack,
 * jobdata, job module, job functions), apply `jobenvs` and move into the job home, ask for
 * the inputs (`INPUT ""`), run the map or reduce phase with fresh per-task state (context,
 * params, outputs), then report the outputs (`OUTPUT` each, `MSG "Results sent to master"`)
 * or save them to DDFS. The caller sends `DONE`, or `ERROR`/`FATAL` when this throws.
 *
 * @example
 * await runTask(client, task);
 * client.done();
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { JobError } from '../common/errors.js';
import { type JobData, JobDataSchema } from '../protocol/jobdata.js';
import { decodeJobPack, type JobPack } from '../protocol/jobpack.js';
import type { TaskInfo } from '../protocol/worker-protocol.js';
import { setTaskContext } from './context.js';
import { runMap } from './map.js';
import { openTaskOob, type TaskOob } from './oob.js';
import { OutputFactory } from './output-set.js';
import type { ProtocolClient } from './protocol-client.js';
import { type OpenedInput, openChain } from './readers/chain.js';
import { openUrl, taskOpenContext } from './readers/open-url.js';
import { runReduce } from './reduce.js';
import { refusePartitionedSave, reportOutputs } from './save.js';
import { makeTaskPaths } from './task-paths.js';
import { profiledPhase } from './task-profile.js';
import type { TaskRun } from './task-run.js';
import {
  decodeJobParams,
  importJobModule,
  type JobFunctions,
  resolveJobFunctions,
  type UserFunction,
} from './user-code.js';

/** A job as loaded by this process (a worker process serves one job). */
export interface LoadedJob {
  jobfile: string;
  jobhome: string;
  pack: JobPack;
  data: JobData;
  module: Record<string, unknown> | null;
  fns: JobFunctions;
}

let loaded: LoadedJob | null = null;

/** Parse the jobdata section of a TypeScript job's pack. */
export function parseJobData(bytes: Uint8Array): JobData {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new JobError(
      'the job pack has no TypeScript jobdata (JSON); was it built for another worker (e.g. a Python pickle)?',
    );
  }
  const r = JobDataSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new JobError(`invalid jobdata: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return r.data;
}

function enterJob(pack: JobPack, jobhome: string): void {
  for (const [k, v] of Object.entries(pack.jobenvs)) process.env[k] = v;
  process.chdir(jobhome);
}

/** Load the job of `jobfile`, or return it when this process already has it. */
export async function loadJob(jobfile: string): Promise<LoadedJob> {
  if (loaded && loaded.jobfile === jobfile) {
    enterJob(loaded.pack, loaded.jobhome);
    return loaded;
  }
  const pack = decodeJobPack(readFileSync(jobfile));
  const data = parseJobData(pack.jobdata);
  const jobhome = path.dirname(path.resolve(jobfile));
  enterJob(pack, jobhome);
  const module = data.module ? await importJobModule(path.join(jobhome, data.module)) : null;
  const fns = resolveJobFunctions(data, module);
  loaded = { jobfile, jobhome, pack, data, module, fns };
  return loaded;
}

/** Run `task` (see module docs). Throws on failure; the task's temporary files are removed either way. */
export async function runTask(client: ProtocolClient, task: TaskInfo): Promise<void> {
  const job = await loadJob(task.jobfile);
  const { data, fns } = job;
  const jobdict = job.pack.jobdict;
  // Before the map runs, not after: the job fails without reading its inputs.
  refusePartitionedSave(task.mode, job, data.partitions > 0);

  const inputs = client.inputs();
  setTaskContext({ task, inputs: inputs.map(([, , replicas]) => replicas.map(([, url]) => url)) });
  const paths = makeTaskPaths(job.jobhome, task.mode, task.taskid);
  const openInputs = new Set<OpenedInput>();
  let outputs: OutputFactory | null = null;
  let oob: TaskOob | null = null;
  try {
    const params = decodeJobParams(data.params);
    const openCtx = taskOpenContext(task, () => paths.tmp);
    oob = openTaskOob({ master: task.master, jobname: task.jobname, ctx: openCtx });
    const isMap = task.mode === 'map';
    outputs = new OutputFactory({
      jobhome: job.jobhome,
      paths,
      streams: (isMap ? fns.mapOutputStream : fns.reduceOutputStream) ?? [],
      writer: (isMap ? fns.mapWriter : fns.reduceWriter) as UserFunction | null | undefined,
      params,
    });
    const run: TaskRun = {
      task,
      jobhome: job.jobhome,
      jobdict,
      data,
      fns,
      params,
      paths,
      inputs,
      proto: client,
      openCtx,
      msg: (text, opts) => client.msg(text, opts),
      openInput: (url, streams, reader) => {
        const opened = openChain(url, (u) => openUrl(u, openCtx), streams, reader, params);
        openInputs.add(opened);
        return {
          entries: opened.entries,
          close: () => {
            openInputs.delete(opened);
            opened.close();
          },
        };
      },
      outputs,
    };
    const produced = await profiledPhase(data.profile, paths.uid, () =>
      isMap ? runMap(run) : runReduce(run),
    );
    outputs.closeAll();
    // OOB results are in their tag before DONE, so the next phase or job can read them.
    oob.flush();
    reportOutputs(client, task, job, produced);
  } catch (e) {
    outputs?.abortAll();
    oob?.flushQuietly();
    throw e;
  } finally {
    for (const o of openInputs) o.close();
    oob?.close();
    paths.cleanup();
    setTaskContext(null);
  }
}
