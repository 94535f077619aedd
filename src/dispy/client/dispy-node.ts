/**
 * `DispyNode` (what a cluster knows about a node: `cluster.status().nodes`) and
 * `NodeAllocate` (how a cluster asks for nodes: which hosts, how many CPUs, setup arguments).
 *
 * @example
 * new JobCluster(compute, {
 *   nodes: [new NodeAllocate('192.168.3.*', { cpus: 2 }), ['10.0.0.5', 51400], 'node7'],
 * });
 *
 * // Choose CPUs by platform (or anything else) by overriding allocate():
 * class BigOnly extends NodeAllocate {
 *   override allocate(ipAddr: string, name: string, cpus: number) { return cpus >= 8 ? cpus : 0; }
 * }
 */
import { matchesPattern } from '../discovery/addresses.js';

export class DispyNode {
  static readonly Initialized = 'Initialized';
  static readonly Closed = 'Closed';
  static readonly Dead = 'Dead';

  /** CPUs this cluster uses on the node. */
  cpus: number;
  /** CPUs running this cluster's jobs. */
  busy = 0;
  jobsDone = 0;
  /** Seconds of job execution on the node (wall time). */
  cpuTime = 0;
  /** Bytes sent to / received from the node. */
  tx = 0;
  rx = 0;
  /** Last time the node was heard from (seconds since the epoch). */
  updateTime = Date.now() / 1000;
  /** CPUs the node has. */
  availCpus: number;
  platform = '';

  constructor(
    readonly ipAddr: string,
    readonly port: number,
    readonly name: string,
    cpus: number,
  ) {
    this.cpus = cpus;
    this.availCpus = cpus;
  }

  toJSON(): Record<string, unknown> {
    return {
      ipAddr: this.ipAddr,
      port: this.port,
      name: this.name,
      cpus: this.cpus,
      busy: this.busy,
      jobsDone: this.jobsDone,
      cpuTime: this.cpuTime,
      tx: this.tx,
      rx: this.rx,
      updateTime: this.updateTime,
    };
  }
}

export interface NodeAllocateOptions {
  /** Port of the node (default: the cluster's `nodePort`). */
  port?: number;
  /** CPUs to use: 0 = all, n > 0 = at most n, n < 0 = all but n. */
  cpus?: number;
  /** Arguments for `setup` (and `cleanup`) on the matching nodes. */
  setupArgs?: unknown[];
}

export class NodeAllocate {
  readonly port: number | undefined;
  readonly cpus: number;
  readonly setupArgs: unknown[];

  constructor(
    /** Host name, IP address, or a pattern with `*` (e.g. `192.168.3.*`). */
    readonly host: string,
    opts: NodeAllocateOptions = {},
  ) {
    this.port = opts.port;
    this.cpus = opts.cpus ?? 0;
    this.setupArgs = opts.setupArgs ?? [];
  }

  /** Whether this allocation is about the node at `ipAddr` (named `name`). */
  matches(ipAddr: string, name: string): boolean {
    return matchesPattern(this.host, ipAddr, name);
  }

  /**
   * CPUs to use on a matching node that has `cpus` available (0 = do not use it). Override
   * to choose nodes by name, platform or size.
   */
  allocate(_ipAddr: string, _name: string, cpus: number, _platform = ''): number {
    if (this.cpus > 0) return Math.min(this.cpus, cpus);
    if (this.cpus < 0) return Math.max(0, cpus + this.cpus);
    return cpus;
  }
}

/** What `nodes` may contain: a host (or pattern), `[host, port]`, or a {@link NodeAllocate}. */
export type NodeSpec =
  | string
  | [string, number]
  | NodeAllocate
  | { host: string; port?: number; cpus?: number; setupArgs?: unknown[] };

/** Normalize a `nodes` option. */
export function toNodeAllocs(nodes: NodeSpec | NodeSpec[] | undefined): NodeAllocate[] {
  const list =
    nodes === undefined ? ['*'] : Array.isArray(nodes) && !isPair(nodes) ? nodes : [nodes as NodeSpec];
  return list.map((n) => {
    if (n instanceof NodeAllocate) return n;
    if (typeof n === 'string') return new NodeAllocate(n);
    if (Array.isArray(n)) return new NodeAllocate(n[0], { port: n[1] });
    return new NodeAllocate(n.host, n);
  });
}

function isPair(x: unknown): x is [string, number] {
  return Array.isArray(x) && x.length === 2 && typeof x[0] === 'string' && typeof x[1] === 'number';
}
