/**
 * What the monitor page shows, and what it may do: the data model shared by the monitor
 * server and its sources (a `JobCluster`, a `SharedJobCluster`, a `dispyscheduler`).
 */
export interface MonitorNode {
  ipAddr: string;
  port: number;
  name: string;
  cpus: number;
  busy: number;
  jobsDone: number;
  /** Seconds of job execution. */
  cpuTime: number;
  tx: number;
  rx: number;
  updateTime: number;
}

export interface MonitorJob {
  uid: number;
  id: string;
  status: string;
  node: string;
  startTime: number | null;
  args: string;
}

export interface MonitorCluster {
  computeId: string;
  name: string;
  submitted: number;
  done: number;
  pending: number;
  nodes: MonitorNode[];
  jobs: MonitorJob[];
}

export interface MonitorSource {
  monitorStatus(): MonitorCluster[];
  /** Cancel a job; false when it is unknown or done. */
  monitorCancel(computeId: string, uid: number): boolean;
}

/** A short text form of job arguments for the page. */
export function describeArgs(args: readonly unknown[], max = 120): string {
  let s: string;
  try {
    s = JSON.stringify(args, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)) ?? '';
  } catch {
    s = String(args);
  }
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
