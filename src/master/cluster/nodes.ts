/**
 * The node registry: which configured hosts have a live control connection, their task
 * statistics (`job_ok`, `data_error`, `error`) and disk figures, and the scheduler's view of
 * them (wire spec §1.2.1, §4.2).
 *
 * Concurrency invariant: one registry per master; at most one connection per host — a node
 * reconnecting under the same name replaces the old connection (see {@link NodeRegistry.attach}).
 */
import { setMaxListeners } from 'node:events';
import type { MasterToNode } from '../../protocol/control.js';
import type { NodeInfo } from '../../protocol/nodeinfo.js';
import type { SchedNode } from '../scheduler/types.js';
import type { ClusterConfig } from './config.js';

/** A live control connection to one node. */
export interface NodeConnection {
  readonly host: string;
  /** Send a message; false when the connection is no longer open. */
  send(msg: MasterToNode): boolean;
  close(code: number, reason: string): void;
}

/** Counters shown by nodeinfo. */
export interface NodeStats {
  jobOk: number;
  dataError: number;
  error: number;
}

interface NodeState {
  conn: NodeConnection | null;
  stats: NodeStats;
  disk: { free: number; used: number } | null;
  /** Where the node's `/metrics` is read (from its hello). */
  metricsUrl: string | null;
  /** Aborted when the node is lost; one per stretch of connection (a replaced one keeps it). */
  lost: AbortController | null;
}

/** Connections, statistics and disk figures of the configured nodes. */
export class NodeRegistry {
  private readonly nodes = new Map<string, NodeState>();

  constructor(private readonly config: ClusterConfig) {}

  private state(host: string): NodeState {
    let s = this.nodes.get(host);
    if (!s) {
      s = {
        conn: null,
        stats: { jobOk: 0, dataError: 0, error: 0 },
        disk: null,
        metricsUrl: null,
        lost: null,
      };
      this.nodes.set(host, s);
    }
    return s;
  }

  /**
   * Register a new connection for its host. Returns the connection it replaces (the caller
   * closes it and treats its tasks as lost), if any.
   */
  attach(
    conn: NodeConnection,
    disk: { free: number; used: number },
    metricsUrl: string | null = null,
  ): NodeConnection | null {
    const s = this.state(conn.host);
    const old = s.conn;
    s.conn = conn;
    s.disk = disk;
    s.metricsUrl = metricsUrl;
    if (!s.lost) {
      s.lost = new AbortController();
      // Every long call to the node (DDFS GC) listens on it at once.
      setMaxListeners(0, s.lost.signal);
    }
    return old;
  }

  /**
   * A signal aborted the moment `host` is lost (its connection closes, it misses a heartbeat,
   * it leaves the config), already aborted when it is not connected: long calls to a node pass
   * it so they stop at once instead of waiting for their timeout.
   *
   * @example
   * await fetch(url, { signal: registry.lostSignal(host) });
   */
  lostSignal(host: string): AbortSignal {
    const s = this.nodes.get(host);
    if (s?.conn && s.lost) return s.lost.signal;
    return AbortSignal.abort(new Error(`node ${host} is not connected`));
  }

  /** The URL of a connected node's `/metrics` (null when not connected or unknown). */
  metricsUrl(host: string): string | null {
    const s = this.nodes.get(host);
    return s?.conn ? s.metricsUrl : null;
  }

  /** Forget a connection; true when it was the host's current one (so the node is now lost). */
  detach(conn: NodeConnection): boolean {
    const s = this.nodes.get(conn.host);
    if (!s || s.conn !== conn) return false;
    s.conn = null;
    s.lost?.abort(new Error(`node ${conn.host} disconnected`));
    s.lost = null;
    return true;
  }

  connection(host: string): NodeConnection | null {
    return this.nodes.get(host)?.conn ?? null;
  }

  isConnected(host: string): boolean {
    return this.connection(host) !== null;
  }

  connectedHosts(): string[] {
    return [...this.nodes.entries()].filter(([, s]) => s.conn).map(([h]) => h);
  }

  /** Send to one node; false when it is not connected. */
  send(host: string, msg: MasterToNode): boolean {
    return this.connection(host)?.send(msg) ?? false;
  }

  broadcast(msg: MasterToNode): void {
    for (const s of this.nodes.values()) s.conn?.send(msg);
  }

  setDisk(host: string, free: number, used: number): void {
    this.state(host).disk = { free, used };
  }

  /** Count a task outcome for nodeinfo: `ok` → job_ok, `error` → data_error, `fatal` → error. */
  countOutcome(host: string, outcome: 'ok' | 'error' | 'fatal'): void {
    const st = this.state(host).stats;
    if (outcome === 'ok') st.jobOk++;
    else if (outcome === 'error') st.dataError++;
    else st.error++;
  }

  /** The scheduler's node list: every configured host. */
  schedNodes(): SchedNode[] {
    return this.config.hosts().map((h) => ({
      name: h.name,
      maxWorkers: h.cores,
      connected: this.isConnected(h.name),
      blacklisted: this.config.isBlacklisted(h.name),
    }));
  }

  /** The nodeinfo object; `tasks` maps a host to the job name of each task running there. */
  nodeinfo(tasks: Map<string, string[]>): Record<string, NodeInfo> {
    const out: Record<string, NodeInfo> = {};
    for (const h of this.config.hosts()) {
      const s = this.nodes.get(h.name);
      const info: NodeInfo = {
        job_ok: s?.stats.jobOk ?? 0,
        data_error: s?.stats.dataError ?? 0,
        error: s?.stats.error ?? 0,
        max_workers: h.cores,
        connected: !!s?.conn,
        blacklisted: this.config.isBlacklisted(h.name),
      };
      const t = tasks.get(h.name);
      if (t && t.length > 0) info.tasks = t;
      if (s?.conn && s.disk) {
        info.diskfree = s.disk.free;
        info.diskused = s.disk.used;
      }
      out[h.name] = info;
    }
    return out;
  }
}
