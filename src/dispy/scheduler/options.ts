/**
 * dispyscheduler's options and their defaults.
 *
 * @example
 * const o = resolveSchedulerOptions({ port: 0, ipAddr: '127.0.0.1' });
 * console.log(o.policy); // 'earliest-job'
 */
import os from 'node:os';
import type { Logger } from 'pino';
import { DEFAULT_NODE_PORT, DEFAULT_PULSE_INTERVAL, DEFAULT_SCHEDULER_PORT } from '../protocol/constants.js';
import type { PolicyName } from './policy.js';

export interface SchedulerOptions {
  /** Nodes for all computations: hosts, `host:port`, wildcards (default `['*']`). */
  nodes?: string[];
  ipAddr?: string;
  extIpAddr?: string;
  /** Port clients connect to (default 51349; 0 = any). */
  port?: number;
  /** Port nodes serve on (default 51348). */
  nodePort?: number;
  nodeSecret?: string;
  nodeCertfile?: string;
  nodeKeyfile?: string;
  clusterSecret?: string;
  clusterCertfile?: string;
  clusterKeyfile?: string;
  /** Seconds between pulses (to clients; asked of nodes); dead after 5 × this. Default 10. */
  pulseInterval?: number;
  /** Seconds between repeated node discovery (0 = only at start). */
  pingInterval?: number;
  /** Minutes after which computations of a vanished client are closed. */
  zombieInterval?: number;
  destPathPrefix?: string;
  maxFileSize?: number;
  policy?: PolicyName;
  /** Force `cleanup` of every computation's files on the nodes. */
  cleanupNodes?: boolean;
  discovery?: boolean;
  broadcast?: string[];
  /** Delete files a previous scheduler left under `destPathPrefix`. */
  clean?: boolean;
  log?: Logger;
}

/** {@link SchedulerOptions} with the defaults filled in (`log` and `clean` are kept apart). */
export type ResolvedSchedulerOptions = Required<
  Omit<SchedulerOptions, 'log' | 'ipAddr' | 'extIpAddr' | 'broadcast' | 'clean'>
> &
  Pick<SchedulerOptions, 'ipAddr' | 'extIpAddr' | 'broadcast'>;

export function resolveSchedulerOptions(opts: SchedulerOptions): ResolvedSchedulerOptions {
  return {
    nodes: opts.nodes ?? ['*'],
    ipAddr: opts.ipAddr,
    extIpAddr: opts.extIpAddr,
    port: opts.port ?? DEFAULT_SCHEDULER_PORT,
    nodePort: opts.nodePort ?? DEFAULT_NODE_PORT,
    nodeSecret: opts.nodeSecret ?? '',
    nodeCertfile: opts.nodeCertfile ?? '',
    nodeKeyfile: opts.nodeKeyfile ?? '',
    clusterSecret: opts.clusterSecret ?? '',
    clusterCertfile: opts.clusterCertfile ?? '',
    clusterKeyfile: opts.clusterKeyfile ?? '',
    pulseInterval: opts.pulseInterval ?? DEFAULT_PULSE_INTERVAL,
    pingInterval: opts.pingInterval ?? 0,
    zombieInterval: opts.zombieInterval ?? 60,
    destPathPrefix: opts.destPathPrefix ?? os.tmpdir(),
    maxFileSize: opts.maxFileSize ?? 0,
    policy: opts.policy ?? 'earliest-job',
    cleanupNodes: opts.cleanupNodes ?? false,
    discovery: opts.discovery ?? true,
    broadcast: opts.broadcast,
  };
}
