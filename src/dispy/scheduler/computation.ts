/**
 * What dispyscheduler holds in memory about each computation a client sent it ({@link SchedCluster}),
 * and about each client connection ({@link ClientSession}), with the small helpers every part of
 * the scheduler shares: job keys in the {@link SchedulerState}, node allocations, and results the
 * scheduler makes itself.
 *
 * Jobs are known to the `SchedulerState` as `<computeId>/<uid>` ({@link jobKey}).
 *
 * @example
 * const c = newComputation(spec, dir, session, { allocs: [{ host: '*', cpus: 0 }], exclusive: false, nodeToken, created: Date.now() }, settings);
 * const key = jobKey(c.computeId, 7); // `${computeId}/7`
 */
import path from 'node:path';
import type { Logger } from 'pino';
import { safeJoin } from '../../common/fs-atomic.js';
import type { LocalFile } from '../client/computation.js';
import { NodeAllocate } from '../client/dispy-node.js';
import type { NodeLink } from '../client/node-link.js';
import { FileSink } from '../node/file-sink.js';
import { ResultStore } from '../node/result-store.js';
import type { Connection } from '../protocol/connection.js';
import type { ComputeSpec, JobResult, NodeAllocSpec } from '../protocol/messages.js';

/** One client connection and the computations it owns. */
export interface ClientSession {
  conn: Connection;
  clientId: string;
  address: string;
  clusters: Set<string>;
  pulseTimer: NodeJS.Timeout | null;
}

export interface SchedJob {
  uid: number;
  args: Uint8Array;
  timeout: number;
  pinned?: string;
  /** Found running on a node after a restart (its arguments are not known here: never resubmitted). */
  recovered?: boolean;
}

export interface NodeStats {
  jobsDone: number;
  cpuTime: number;
  busy: number;
}

export interface SchedCluster {
  computeId: string;
  token: string;
  spec: ComputeSpec;
  nodeSpec: ComputeSpec;
  allocs: { alloc: NodeAllocate; setupArgs?: Uint8Array }[];
  /** `allocs` as received (for the record on disk). */
  allocSpecs: NodeAllocSpec[];
  session: ClientSession | null;
  files: FileSink;
  localFiles: LocalFile[];
  /** `waiting`: held back by an `exclusive` rule (jobs queue, nothing is set up on nodes). */
  state: 'files' | 'waiting' | 'scheduled' | 'closing' | 'closed';
  exclusive: boolean;
  /** The client was told it waits: it gets a `scheduled` event when admitted. */
  toldWaiting: boolean;
  created: number;
  links: Map<string, NodeLink>;
  /** Nodes where the computation was set up (kept on disk for a restart). */
  nodeKeys: Set<string>;
  /** Attachments to nodes in progress. */
  attaching: Map<string, Promise<void>>;
  /** Restored from disk: until its nodes are reattached, `recover` waits for this. */
  restoring: Promise<void> | null;
  restored: boolean;
  jobs: Map<number, SchedJob>;
  unacked: Map<number, JobResult>;
  /** The node link to acknowledge a result on once the client acknowledged it. */
  ackTo: Map<number, NodeLink>;
  /** Results on disk while the client is away (and results the scheduler made itself). */
  stored: ResultStore;
  /** Writes of the record, in order. */
  saving: Promise<void>;
  stats: Map<string, NodeStats>;
  zombieTimer: NodeJS.Timeout | null;
  idleWaiters: (() => void)[];
  reentrant: boolean;
  submitted: number;
}

/** Scheduler-wide settings every new computation takes. */
export interface ComputationSettings {
  pulseInterval: number;
  cleanupNodes: boolean;
  maxFileSize: number;
  log: Logger;
}

/** How a computation came about (from a client's `compute`, or from its record on disk). */
export interface ComputationOrigin {
  allocs: NodeAllocSpec[];
  exclusive: boolean;
  nodeToken: string;
  created: number;
}

/** The key of a job in the {@link SchedulerState}. */
export function jobKey(computeId: string, uid: number): string {
  return `${computeId}/${uid}`;
}

/** The uid part of a {@link jobKey}. */
export function uidOfKey(key: string): number {
  return Number(key.slice(key.lastIndexOf('/') + 1));
}

/** The computeId part of a {@link jobKey}. */
export function computeIdOfKey(key: string): string {
  return key.slice(0, key.lastIndexOf('/'));
}

export function toAlloc(n: NodeAllocSpec): { alloc: NodeAllocate; setupArgs?: Uint8Array } {
  return {
    alloc: new NodeAllocate(n.host, { cpus: n.cpus, ...(n.port ? { port: n.port } : {}) }),
    ...(n.setupArgs ? { setupArgs: n.setupArgs } : {}),
  };
}

/** `host[:port]` of a node as discovery takes it. */
export function hostSpec(n: { host: string; port?: number }): string {
  return n.port ? `${n.host}:${n.port}` : n.host;
}

/** A computation in state `files` (its files arrive next), kept in `dir`. */
export function newComputation(
  spec: ComputeSpec,
  dir: string,
  session: ClientSession | null,
  o: ComputationOrigin,
  settings: ComputationSettings,
): SchedCluster {
  return {
    computeId: spec.computeId,
    token: spec.token,
    spec,
    nodeSpec: {
      ...spec,
      token: o.nodeToken,
      pulseInterval: settings.pulseInterval,
      cleanup: spec.cleanup || settings.cleanupNodes,
    },
    allocs: o.allocs.map((n) => toAlloc(n)),
    allocSpecs: [...o.allocs],
    session,
    files: new FileSink(dir, settings.maxFileSize),
    localFiles: spec.files.map((f) => ({ ...f, abs: safeJoin(dir, f.path) ?? path.join(dir, '_invalid') })),
    state: 'files',
    exclusive: o.exclusive,
    toldWaiting: false,
    created: o.created,
    links: new Map(),
    nodeKeys: new Set(),
    attaching: new Map(),
    restoring: null,
    restored: false,
    jobs: new Map(),
    unacked: new Map(),
    ackTo: new Map(),
    stored: new ResultStore(path.join(dir, '.dispy-results'), settings.log),
    saving: Promise.resolve(),
    stats: new Map(),
    zombieTimer: null,
    idleWaiters: [],
    reentrant: spec.reentrant ?? false,
    submitted: 0,
  };
}

export function statsOf(c: SchedCluster, key: string): NodeStats {
  let st = c.stats.get(key);
  if (!st) {
    st = { jobsDone: 0, cpuTime: 0, busy: 0 };
    c.stats.set(key, st);
  }
  return st;
}

/** Wake whoever waits for the computation to have no jobs left (closing). */
export function wakeIfIdle(c: SchedCluster): void {
  if (c.jobs.size === 0) for (const w of c.idleWaiters.splice(0)) w();
}
