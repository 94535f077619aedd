/**
 * dispy constants: default ports (the seeds' 51347/51348), limits and job status names.
 *
 * Ports: a client (`JobCluster`) listens for discovery replies on {@link DEFAULT_CLIENT_PORT}
 * (UDP), nodes serve on {@link DEFAULT_NODE_PORT} (TCP + UDP), `dispyscheduler` serves clients
 * on {@link DEFAULT_SCHEDULER_PORT} (TCP) and talks to nodes like a client.
 */

/** Version of this wire protocol; peers with another version are refused with a clear error. */
export const DISPY_PROTOCOL_VERSION = 1;

export const DEFAULT_CLIENT_PORT = 51347;
export const DEFAULT_NODE_PORT = 51348;
export const DEFAULT_SCHEDULER_PORT = 51349;
export const DEFAULT_MONITOR_PORT = 8181;

/** Largest frame accepted (bytes); larger frames close the connection with an error. */
export const MAX_FRAME_BYTES = 512 * 1024 * 1024;
/** Size of file chunks on the wire. */
export const FILE_CHUNK_BYTES = 1024 * 1024;
/** Time limit of one request/response exchange and of connection handshakes (ms). */
export const MSG_TIMEOUT_MS = 10_000;
/** Default seconds between node pulses; a node is presumed dead after 5 × this without news. */
export const DEFAULT_PULSE_INTERVAL = 10;
/** A node is presumed dead after this many pulse intervals without a message. */
export const DEAD_PULSES = 5;

/**
 * Jobs a client (or dispyscheduler) keeps in flight per CPU of a node: one running and one
 * waiting on the node, so a CPU starts its next job without waiting for a round trip to the
 * client. (Jobs waiting on a node can still be cancelled; they are rescheduled if it dies.)
 */
export const JOBS_IN_FLIGHT_PER_CPU = 2;

/** Jobs in flight for a node that gives `cpus` CPUs. */
export function jobsInFlight(cpus: number): number {
  return cpus * JOBS_IN_FLIGHT_PER_CPU;
}

/**
 * Status of a {@link DispyJob} (the original's class constants, as strings).
 * `Finished`, `Terminated`, `Cancelled` and `Abandoned` are final.
 */
export const JobStatus = {
  Created: 'Created',
  Running: 'Running',
  ProvisionalResult: 'ProvisionalResult',
  Cancelled: 'Cancelled',
  Terminated: 'Terminated',
  Abandoned: 'Abandoned',
  Finished: 'Finished',
} as const;
export type JobStatus = (typeof JobStatus)[keyof typeof JobStatus];

export const FINAL_STATUSES: ReadonlySet<JobStatus> = new Set([
  JobStatus.Cancelled,
  JobStatus.Terminated,
  JobStatus.Abandoned,
  JobStatus.Finished,
]);

/** Status of a {@link DispyNode} as reported to `clusterStatus` callbacks and the monitor. */
export const NodeStatus = {
  Initialized: 'Initialized',
  Closed: 'Closed',
  Dead: 'Dead',
} as const;
export type NodeStatus = (typeof NodeStatus)[keyof typeof NodeStatus];
