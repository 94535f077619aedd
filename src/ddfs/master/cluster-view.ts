/**
 * The DDFS view of the cluster on the master (`ddfs_master.erl` nodes and blacklists): every
 * configured host is a DDFS node; a node is **readable** while its control connection is up
 * (the others form the read blacklist, whose size decides whether reads are safe, §5.4), and
 * **writable** when it is also not manually blacklisted nor on the GC blacklist.
 */
import type { ClusterConfig } from '../../master/cluster/config.js';
import type { NodeRegistry } from '../../master/cluster/nodes.js';
import type { NodeSpace } from './placement.js';

/** Read-only queries over config + registry; cheap enough to call per request. */
export class ClusterView {
  constructor(
    private readonly config: ClusterConfig,
    private readonly registry: NodeRegistry,
  ) {}

  /** Every DDFS node (configured host). */
  all(): string[] {
    return this.config.hosts().map((h) => h.name);
  }

  isNode(host: string): boolean {
    return this.config.host(host) !== undefined;
  }

  /** Nodes we can read from now. */
  readable(): string[] {
    return this.all().filter((h) => this.registry.isConnected(h));
  }

  /** Aborted as soon as `host` is not readable any more (already, when it is not now). */
  lostSignal(host: string): AbortSignal {
    return this.registry.lostSignal(host);
  }

  /** How many DDFS nodes are unreachable (the read blacklist). */
  unreachable(): number {
    return this.all().filter((h) => !this.registry.isConnected(h)).length;
  }

  /** Nodes that must not receive new objects. */
  writeExcluded(): Set<string> {
    const gc = new Set(this.config.gcBlacklist());
    return new Set(
      this.all().filter((h) => !this.registry.isConnected(h) || this.config.isBlacklisted(h) || gc.has(h)),
    );
  }

  gcBlacklist(): string[] {
    return this.config.gcBlacklist();
  }

  /** Free space of every node as last reported (0 when unknown). */
  space(): NodeSpace[] {
    const info = this.registry.nodeinfo(new Map());
    return this.all().map((host) => ({ host, free: info[host]?.diskfree ?? 0 }));
  }

  /** A string that changes whenever the set of readable nodes does. */
  epoch(): string {
    return this.readable().join(',');
  }
}
