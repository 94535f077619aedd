/**
 * A task run in this process, without a node or a worker process: the {@link TaskRun} that
 * `task.ts` would build, for map and reduce over `file://` and `raw://` inputs, with a job home
 * in a new temporary directory. Used by the worker's unit tests and by bench/sort.ts; it
 * imports nothing heavy (no esbuild), so the benchmark's peak RSS stays its own.
 *
 * @example
 * const run = inProcessRun('map', { map: (line) => [[line, 1]] }, ['raw://a\nb'], { partitions: 2 });
 * const outputs = runMap(run);
 * run.outputs.closeAll();
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { InputEntry } from '../../../src/protocol/worker-protocol.js';
import { OutputFactory } from '../../../src/worker/output-set.js';
import { openChain } from '../../../src/worker/readers/chain.js';
import { openUrl } from '../../../src/worker/readers/open-url.js';
import { makeTaskPaths } from '../../../src/worker/task-paths.js';
import type { TaskRun } from '../../../src/worker/task-run.js';
import type { JobFunctions } from '../../../src/worker/user-code.js';

/** The jobdata of a job that sets nothing (`params` undefined). */
export const JOBDATA_DEFAULTS = {
  version: 1,
  module: null,
  functions: {},
  params: { $undef: 1 },
  partitions: 0,
  mergePartitions: false,
  sort: false,
  sortBufferSize: 64 * 1024 * 1024,
  statusInterval: 100000,
  save: false,
  profile: false,
  reduceStyle: 'iter',
  extra: {},
} as const;

/**
 * A map or reduce task of job `J@1:2:3` on host `me` over `inputs` (one replica each), with
 * the jobdata {@link JOBDATA_DEFAULTS} (params null) changed by `data`. Its task messages are
 * collected in `msgs`; the master address is a closed port.
 */
export function inProcessRun(
  mode: 'map' | 'reduce',
  fns: JobFunctions,
  inputs: readonly string[],
  data: Partial<TaskRun['data']> = {},
): TaskRun & { msgs: string[] } {
  const jobhome = path.join(mkdtempSync(path.join(os.tmpdir(), 'disco-task-run-')), 'job');
  const paths = makeTaskPaths(jobhome, mode, 0);
  const openCtx = {
    host: 'me',
    discoPort: 8989,
    discoData: jobhome,
    ddfsData: jobhome,
    master: 'http://127.0.0.1:9',
    tmpDir: paths.tmp,
  };
  const entries: InputEntry[] = inputs.map((u, i) => [i, 'ok', [[0, u]]]);
  const params = {};
  const msgs: string[] = [];
  return {
    msgs,
    task: {
      taskid: 0,
      master: openCtx.master,
      disco_port: 8989,
      put_port: 8990,
      ddfs_data: jobhome,
      disco_data: jobhome,
      mode,
      jobfile: path.join(jobhome, 'jobfile'),
      jobname: 'J@1:2:3',
      host: 'me',
    },
    jobhome,
    jobdict: { prefix: 'J', input: [], worker: 'w', owner: 'o', nr_reduces: 1, scheduler: {} },
    data: { ...JOBDATA_DEFAULTS, params: null, ...data } as TaskRun['data'],
    fns,
    params,
    paths,
    inputs: entries,
    proto: { include: (iid) => entries[iid][2], inputFailed: () => null },
    openCtx,
    msg: (text) => msgs.push(text),
    openInput: (url, streams, reader) => openChain(url, (u) => openUrl(u, openCtx), streams, reader, params),
    outputs: new OutputFactory({
      jobhome,
      paths,
      streams: (mode === 'map' ? fns.mapOutputStream : fns.reduceOutputStream) ?? [],
      writer: undefined,
      params,
    }),
  };
}
