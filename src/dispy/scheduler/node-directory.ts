/**
 * The nodes dispyscheduler knows: finds them (explicit hosts probed over TCP, wildcards by UDP
 * broadcast), learns their CPUs and names, and remembers what happened to each address tried
 * (`tried`, shown in a computation's status). What to do with a node found is the caller's
 * (`onFound`: attach the computations there).
 *
 * @example
 * const dir = new NodeDirectory(options, { identity: () => id, isStopping: () => false, onFound: async (n) => {}, log });
 * await dir.openUdp();
 * await dir.discover(['127.0.0.1:51348', '10.0.0.*']);
 */
import dns from 'node:dns/promises';
import type { Logger } from 'pino';
import { errorMessage } from '../../common/errors.js';
import { NodeAllocate } from '../client/dispy-node.js';
import { broadcastAddresses, isIpv4, isWildcard } from '../discovery/addresses.js';
import { UdpEndpoint } from '../discovery/udp.js';
import { DISPY_PROTOCOL_VERSION } from '../protocol/constants.js';
import { type NodeInfo, NodeInfoSchema } from '../protocol/messages.js';
import { connect } from '../protocol/transport.js';
import type { ResolvedSchedulerOptions } from './options.js';

export interface NodeEntry {
  key: string;
  host: string;
  port: number;
  info: NodeInfo;
}

export type NodeDirectoryOptions = Pick<
  ResolvedSchedulerOptions,
  'nodes' | 'nodePort' | 'nodeSecret' | 'nodeCertfile' | 'nodeKeyfile' | 'discovery' | 'ipAddr' | 'broadcast'
>;

export interface NodeDirectoryDeps {
  /** The scheduler's identity toward nodes (known once it has started). */
  identity: () => string;
  isStopping: () => boolean;
  /** A node was found: resolves once the computations are attached there. */
  onFound: (n: NodeEntry) => Promise<void>;
  log: Logger;
}

export class NodeDirectory {
  /** Nodes found, by `host:port`. */
  readonly nodes = new Map<string, NodeEntry>();
  /** What happened to each address tried (for status). */
  readonly tried = new Map<string, string>();
  private readonly probing = new Map<string, Promise<void>>();
  private udp: UdpEndpoint | null = null;

  constructor(
    private readonly o: NodeDirectoryOptions,
    private readonly deps: NodeDirectoryDeps,
  ) {}

  /** Listen for node announcements when wildcards are to be found (and discovery is on). */
  async openUdp(): Promise<void> {
    if (!this.o.discovery || !this.o.nodes.some(isWildcard)) return;
    this.udp = await UdpEndpoint.open({
      port: 0,
      secret: this.o.nodeSecret,
      onDatagram: (d, from) => {
        if (d.t !== 'pong' || d.v !== DISPY_PROTOCOL_VERSION) return;
        const host = d.ipAddr || from.address;
        if (!this.o.nodes.some((p) => new NodeAllocate(p.split(':')[0]).matches(host, d.name))) return;
        void this.probe(host, d.port);
      },
    }).catch((e: Error) => {
      this.deps.log.warn(`UDP discovery unavailable: ${e.message}`);
      return null;
    });
  }

  close(): void {
    this.udp?.close();
  }

  parseHost(spec: string): { host: string; port: number } {
    const m = /^(.*):(\d+)$/.exec(spec);
    return m ? { host: m[1], port: Number(m[2]) } : { host: spec, port: this.o.nodePort };
  }

  /** The key of a node given as key, address, name or host; undefined when not known. */
  keyOf(node: string): string | undefined {
    if (this.nodes.has(node)) return node;
    for (const n of this.nodes.values())
      if (n.info.ipAddr === node || n.info.name === node || n.host === node) return n.key;
    return undefined;
  }

  /** The node is gone for everybody (it is found again if it comes back). */
  forget(key: string): void {
    this.nodes.delete(key);
  }

  /**
   * Find nodes: explicit ones are probed over TCP, wildcards by broadcast. Resolves when the
   * explicit ones have been probed (and the computations attached there).
   */
  async discover(specs: string[]): Promise<void> {
    let broadcast = false;
    const probes: Promise<void>[] = [];
    await Promise.all(
      specs.map(async (spec) => {
        const { host, port } = this.parseHost(spec);
        if (isWildcard(host)) {
          broadcast = true;
          return;
        }
        let address = host;
        if (!isIpv4(host)) {
          try {
            address = (await dns.lookup(host, { family: 4 })).address;
          } catch (e) {
            this.tried.set(host, `cannot resolve: ${errorMessage(e)}`);
            return;
          }
        }
        probes.push(this.probe(address, port));
      }),
    );
    if (broadcast && this.udp) {
      const to = this.o.broadcast ?? broadcastAddresses(this.o.ipAddr);
      if (to.length) {
        this.udp.send(
          {
            t: 'ping',
            v: DISPY_PROTOCOL_VERSION,
            replyAddr: '',
            replyPort: this.udp.port,
            clientId: this.deps.identity(),
          },
          this.o.nodePort,
          to,
        );
      }
    }
    await Promise.all(probes);
  }

  /**
   * Learn a node's CPUs and name, then hand it to `onFound`. Resolves when that is done
   * (concurrent calls for one node share the work).
   */
  probe(host: string, port: number): Promise<void> {
    const key = `${host}:${port}`;
    if (this.nodes.has(key) || this.deps.isStopping()) return Promise.resolve();
    let p = this.probing.get(key);
    if (!p) {
      p = this.doProbe(host, port).finally(() => this.probing.delete(key));
      this.probing.set(key, p);
    }
    return p;
  }

  private async doProbe(host: string, port: number): Promise<void> {
    const key = `${host}:${port}`;
    let n: NodeEntry;
    try {
      const { conn, info } = await connect({
        host,
        port,
        secret: this.o.nodeSecret,
        role: 'scheduler',
        clientId: this.deps.identity(),
        certfile: this.o.nodeCertfile || undefined,
        keyfile: this.o.nodeKeyfile || undefined,
        label: `node ${key}`,
      });
      conn.close();
      n = { key, host, port, info: NodeInfoSchema.parse(info) };
    } catch (e) {
      this.tried.set(key, errorMessage(e));
      return;
    }
    this.nodes.set(key, n);
    this.tried.set(key, 'found');
    await this.deps.onFound(n);
  }
}
