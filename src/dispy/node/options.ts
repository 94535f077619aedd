/**
 * Options of a dispynode (the original's command line, in camelCase) and their defaults.
 *
 * @example
 * const o = resolveNodeOptions({ cpus: -1, secret: 's', ipAddr: '127.0.0.1', nodePort: 0 });
 */
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_CLIENT_PORT, DEFAULT_NODE_PORT } from '../protocol/constants.js';

export interface NodeOptions {
  /** CPUs to use: 0 = all, negative = all but that many (at least 1 is used). */
  cpus?: number;
  secret?: string;
  /** Address to serve on (default: all interfaces). */
  ipAddr?: string;
  /** Address clients should use to reach this node (NAT / EC2), default `ipAddr` or the host's. */
  extIpAddr?: string;
  /** TCP (and UDP discovery) port; 0 = any free port. */
  nodePort?: number;
  /** Port clients listen on for announcements (UDP), where the node announces itself at start. */
  clientPort?: number;
  /** Directory under which `dispy/node/` holds computations' files. */
  destPathPrefix?: string;
  /** Largest file (bytes) accepted from clients or sent with `dispySendFile`; 0 = unlimited. */
  maxFileSize?: number;
  /** Minutes after which a computation whose client vanished is cleaned up. */
  zombieInterval?: number;
  /** Seconds between re-announcements while idle (0 = only at start). */
  pingInterval?: number;
  /** Exit after serving this many clients (-1 = forever). */
  serve?: number;
  /** Kill processes and delete files left by a previous dispynode that did not stop cleanly. */
  clean?: boolean;
  certfile?: string;
  keyfile?: string;
  name?: string;
  /** UDP discovery (answer pings, announce); broadcast only to {@link broadcast} addresses. */
  discovery?: boolean;
  /** Broadcast addresses for announcements; default: those of the serving interfaces. */
  broadcast?: string[];
  /** Seconds between SIGINT and SIGTERM (and SIGTERM and SIGKILL) when a job is cancelled. */
  cancelGrace?: number;
  /** Largest captured stdout + stderr of one job (bytes). */
  maxOutput?: number;
  /** Path of the worker script (default: the built `dist/dispy-worker.js`). */
  workerScript?: string;
}

export type ResolvedNodeOptions = Required<
  Omit<NodeOptions, 'ipAddr' | 'extIpAddr' | 'certfile' | 'keyfile' | 'broadcast'>
> &
  Pick<NodeOptions, 'ipAddr' | 'extIpAddr' | 'certfile' | 'keyfile' | 'broadcast'>;

/** CPUs to use for a `--cpus` value (0 = all, negative = leave that many free). */
export function effectiveCpus(requested: number, available = os.availableParallelism()): number {
  if (requested > 0) return Math.min(requested, available);
  return Math.max(1, available + requested);
}

/** Parse `10M`, `512k`, `1G` or a plain number of bytes. */
export function parseSize(s: string | number): number {
  if (typeof s === 'number') return s;
  const m = /^(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)[bB]?$/.exec(s.trim());
  if (!m) throw new Error(`invalid size ${JSON.stringify(s)} (e.g. 10M, 512k)`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2].toLowerCase()] ?? 1;
  return Math.round(Number(m[1]) * mult);
}

export function resolveNodeOptions(o: NodeOptions): ResolvedNodeOptions {
  if (o.cpus !== undefined && o.cpus > os.availableParallelism()) {
    throw new Error(`--cpus ${o.cpus} exceeds the ${os.availableParallelism()} CPUs of this machine`);
  }
  return {
    cpus: effectiveCpus(o.cpus ?? 0),
    secret: o.secret ?? '',
    ipAddr: o.ipAddr,
    extIpAddr: o.extIpAddr,
    nodePort: o.nodePort ?? DEFAULT_NODE_PORT,
    clientPort: o.clientPort ?? DEFAULT_CLIENT_PORT,
    destPathPrefix: o.destPathPrefix ?? os.tmpdir(),
    maxFileSize: o.maxFileSize ?? 10 * 1024 * 1024,
    zombieInterval: o.zombieInterval ?? 60,
    pingInterval: o.pingInterval ?? 0,
    serve: o.serve ?? -1,
    clean: o.clean ?? false,
    certfile: o.certfile,
    keyfile: o.keyfile,
    name: o.name ?? os.hostname(),
    discovery: o.discovery ?? true,
    broadcast: o.broadcast,
    cancelGrace: o.cancelGrace ?? 2,
    maxOutput: o.maxOutput ?? 16 * 1024 * 1024,
    workerScript: o.workerScript ?? '',
  };
}

/** Root of a node's files: `<prefix>/dispy/node`. */
export function nodeRoot(prefix: string): string {
  return path.join(prefix, 'dispy', 'node');
}
