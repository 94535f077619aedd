/**
 * What a dispynode holds in memory about each computation a client sent it ({@link NodeComp})
 * and each of its jobs ({@link NodeJob}), with the small helpers the node's parts share.
 *
 * A job is in exactly one of: the node's queue (`queued`), waiting in a busy worker (`sent`),
 * or running. Its result stays in `unacked` until the client acknowledges it.
 *
 * @example
 * const comp = ownComputation(comps, session, m.computeId); // throws a ReplyError if not the session's
 * const w = await pool.load(workerLoadMessage(comp, { name, ipAddr, maxOutput }));
 */
import { ReplyError } from '../protocol/connection.js';
import type { ComputeSpec, JobResult } from '../protocol/messages.js';
import type { ToWorker } from '../protocol/worker-protocol.js';
import type { FileSink } from './file-sink.js';
import type { ProgramRun } from './program.js';
import type { ResultStore } from './result-store.js';
import type { Session } from './session.js';
import type { WorkerHandle } from './worker-pool.js';

export interface NodeJob {
  uid: number;
  comp: NodeComp;
  args: Uint8Array;
  timeout: number;
  /** `sent`: handed ahead to a busy worker, waiting there (not counted as running). */
  state: 'queued' | 'sent' | 'running';
  startTime: number;
  worker: WorkerHandle | null;
  program: ProgramRun | null;
  timer: NodeJS.Timeout | null;
  /** Why the node stopped the job (cancel, timeout); the job then ends `Terminated`. */
  stopReason: string | null;
}

export interface NodeComp {
  spec: ComputeSpec;
  clientId: string;
  dir: string;
  /** Directory made for this computation (deleted at cleanup), or null when `destPath` was given. */
  ownDir: boolean;
  session: Session | null;
  cpus: number;
  running: number;
  state: 'files' | 'setup' | 'ready' | 'closing' | 'closed';
  setupArgs: Uint8Array | undefined;
  /** Encoded records shared read-only with jobs: depends data, setup's data. */
  shared: Uint8Array[];
  setupWorker: WorkerHandle | null;
  idle: WorkerHandle[];
  loading: number;
  jobs: Map<number, NodeJob>;
  /** Results not yet acknowledged by the client (the source of truth for recovery). */
  unacked: Map<number, JobResult>;
  /** Results kept on disk while the client is away (until acknowledged). */
  stored: ResultStore;
  files: FileSink;
  zombieTimer: NodeJS.Timeout | null;
  jobsDone: number;
  cpuTime: number;
  idleWaiters: (() => void)[];
}

/** The computation, which must belong to this session. */
export function ownComputation(
  comps: ReadonlyMap<string, NodeComp>,
  s: Session,
  computeId: string,
): NodeComp {
  const comp = comps.get(computeId);
  if (!comp || comp.state === 'closed') throw new ReplyError(`unknown computation ${computeId}`, 'unknown');
  if (comp.session !== s)
    throw new ReplyError(`computation ${computeId} belongs to another connection`, 'owner');
  return comp;
}

/** The message that binds a worker process to the computation. */
export function workerLoadMessage(
  comp: NodeComp,
  node: { name: string; ipAddr: string; maxOutput: number },
): Extract<ToWorker, { t: 'load' }> {
  return {
    t: 'load',
    computeId: comp.spec.computeId,
    source: comp.spec.source ?? '',
    entry: comp.spec.entry,
    ...(comp.spec.setup ? { setupFn: comp.spec.setup } : {}),
    ...(comp.spec.cleanupFn ? { cleanupFn: comp.spec.cleanupFn } : {}),
    dir: comp.dir,
    nodeName: node.name,
    nodeIpAddr: node.ipAddr,
    shared: comp.shared,
    maxOutput: node.maxOutput,
  };
}
