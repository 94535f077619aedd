/**
 * dispy for TypeScript: run a function or a program on many machines with many argument sets
 * and get results, output and errors back.
 *
 * - {@link JobCluster}: the computation, its nodes, and a scheduler in this process.
 * - {@link SharedJobCluster}: the same through a `dispyscheduler`, so several programs share nodes.
 * - {@link DispyJob}: one submitted job (awaitable); {@link NodeAllocate} chooses nodes and CPUs.
 * - {@link faultRecoverJobs}: results of the jobs of a client that crashed.
 * - Inside computations: `dispyProvisionalResult`, `dispySendFile`, `dispyNodeName`, `dispyJobPath`.
 *
 * @example
 * import { JobCluster } from 'disco-ts';
 * function compute(n: number) {
 *   const os = require('node:os');
 *   return `${os.hostname()}: ${n * 2}`;
 * }
 * const cluster = new JobCluster(compute, { nodes: ['10.0.0.2', '10.0.0.*'] });
 * const jobs = [1, 2, 3].map((n) => cluster.submit(n));
 * for (const j of jobs) console.log(await j);
 * cluster.printStatus();
 * await cluster.close();
 */
export {
  type ArgsOf,
  type ClusterCommonOptions,
  type ClusterStatus,
  type ClusterStatusCallback,
  DispyNoNodesError,
  type JobCallback,
  type ResultOf,
  type SubmitOptions,
} from './client/cluster-base.js';
export type { Depend } from './client/computation.js';
export { DispyJob, DispyJobError } from './client/dispy-job.js';
export { DispyNode, NodeAllocate, type NodeAllocateOptions, type NodeSpec } from './client/dispy-node.js';
export { type FaultRecoverOptions, faultRecoverJobs, newestRecoverFile } from './client/fault-recover.js';
export { JobCluster, type JobClusterOptions } from './client/job-cluster.js';
export { SharedJobCluster, type SharedJobClusterOptions } from './client/shared-job-cluster.js';
export {
  dispyJobId,
  dispyJobPath,
  dispyNodeIpAddr,
  dispyNodeName,
  dispyProvisionalResult,
  dispySendFile,
} from './job-api.js';
export type { MonitorCluster, MonitorJob, MonitorNode, MonitorSource } from './monitor/model.js';
export { type Monitor, type MonitorOptions, startMonitor } from './monitor/server.js';
// Named Dispy* so that they sit next to Disco's exports (which have a `JobStatus` type) without a clash.
export {
  DISPY_PROTOCOL_VERSION,
  JobStatus as DispyJobStatus,
  NodeStatus as DispyNodeStatus,
} from './protocol/constants.js';
export { AuthError as DispyAuthError } from './protocol/transport.js';
