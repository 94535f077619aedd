/**
 * The dispy daemons as classes, for embedding (tests, a supervisor process, a single-machine
 * setup): `dispynode`, `dispyscheduler`, `dispynetrelay` without their command lines.
 *
 * @example
 * import { startDispyNode } from './daemons.js';
 * const node = await startDispyNode({ ipAddr: '127.0.0.1', nodePort: 0, cpus: 2, secret: 's' });
 * // ... new JobCluster(f, { nodes: [['127.0.0.1', node.port]], secret: 's' })
 * await node.stop();
 */
export { DispyNodeDaemon, startDispyNode } from './node/daemon.js';
export { effectiveCpus, type NodeOptions, parseSize } from './node/options.js';
export { DispyNetRelay, type RelayOptions } from './relay/relay.js';
export { DispyScheduler, type SchedulerOptions } from './scheduler/daemon.js';
export { POLICIES, type PolicyName, SchedulerState } from './scheduler/policy.js';
