/**
 * The link between one computation and one node, used by `JobCluster` and `dispyscheduler`:
 * connect and authenticate, send the computation (`compute`, the files the node does not have
 * yet, `setup`), then carry jobs, cancellations and acknowledgements one way and results,
 * provisional results, files and pulses the other. After a lost connection,
 * {@link NodeLink.reconnect} connects again and asks the node for what happened meanwhile
 * (`recover`).
 *
 * Concurrency: owned by the cluster's event loop; acknowledgements are batched per tick.
 *
 * @example
 * const link = new NodeLink({ host, port, secret, role: 'client', spec, files, handler });
 * const cpus = await link.open({ cpus: 0, setupArgs });
 * link.sendJob(1, encodeData([2, 3]), 0);
 */
import { open as openFile } from 'node:fs/promises';
import { DiscoError } from '../../common/errors.js';
import type { Connection } from '../protocol/connection.js';
import { FILE_CHUNK_BYTES } from '../protocol/constants.js';
import {
  type ComputeSpec,
  type JobResult,
  JobResultSchema,
  type Message,
  type MessageOf,
  type NodeAllocSpec,
  type NodeInfo,
  NodeInfoSchema,
  type Role,
} from '../protocol/messages.js';
import { connect, type TlsFiles } from '../protocol/transport.js';
import type { LocalFile } from './computation.js';

export interface LinkHandler {
  onMessage(link: NodeLink, m: Message): void;
  /** The connection closed without {@link NodeLink.close}. */
  onLost(link: NodeLink, err: Error | null): void;
}

export interface NodeLinkOptions extends TlsFiles {
  host: string;
  port: number;
  secret: string;
  role: Role;
  clientId: string;
  spec: ComputeSpec;
  files: LocalFile[];
  handler: LinkHandler;
  localAddress?: string;
  timeoutMs?: number;
  /** The peer is not a node (dispyscheduler): accept its info as is. */
  infoSchema?: 'any';
}

export interface RecoverReply {
  results: JobResult[];
  running: number[];
  queued: number[];
}

export class NodeLink {
  state: 'new' | 'connecting' | 'setup' | 'ready' | 'lost' | 'closing' | 'closed' = 'new';
  conn: Connection | null = null;
  info: NodeInfo | null = null;
  /** CPUs the node allotted to the computation. */
  cpus = 0;
  /** Bytes exchanged over earlier connections (for stats). */
  private txBefore = 0;
  private rxBefore = 0;
  private acks: number[] = [];
  private abort = new AbortController();
  private ackScheduled = false;

  constructor(readonly opts: NodeLinkOptions) {}

  get key(): string {
    return `${this.opts.host}:${this.opts.port}`;
  }

  get tx(): number {
    return this.txBefore + (this.conn?.tx ?? 0);
  }

  get rx(): number {
    return this.rxBefore + (this.conn?.rx ?? 0);
  }

  /** Time (ms) the node was last heard from. */
  get lastHeard(): number {
    return this.conn?.lastHeard ?? 0;
  }

  /** Connect and authenticate; returns the node's info. */
  async connect(): Promise<NodeInfo> {
    this.state = 'connecting';
    const { conn, info } = await connect({
      host: this.opts.host,
      port: this.opts.port,
      secret: this.opts.secret,
      role: this.opts.role,
      clientId: this.opts.clientId,
      certfile: this.opts.certfile,
      keyfile: this.opts.keyfile,
      label: `node ${this.key}`,
      localAddress: this.opts.localAddress,
      timeoutMs: this.opts.timeoutMs,
      signal: this.abort.signal,
    });
    const parsed = this.opts.infoSchema
      ? { success: true as const, data: info as NodeInfo }
      : NodeInfoSchema.safeParse(info);
    if (!parsed.success) {
      conn.destroy();
      throw new DiscoError(`node ${this.key} sent invalid information about itself`);
    }
    if (this.conn) {
      this.txBefore += this.conn.tx;
      this.rxBefore += this.conn.rx;
    }
    this.conn = conn;
    this.info = parsed.data;
    conn.onMessage((m) => this.opts.handler.onMessage(this, m));
    conn.onClose((err) => {
      if (this.conn !== conn) return;
      if (this.state === 'closing' || this.state === 'closed') return;
      const was = this.state;
      this.state = 'lost';
      if (was === 'ready') this.opts.handler.onLost(this, err);
    });
    return parsed.data;
  }

  /** Send the computation and run its setup on a node; returns the CPUs the node allotted. */
  async setUp(cpus: number, setupArgs?: Uint8Array): Promise<number> {
    const r = await this.sendComputation({ cpus });
    // Setup may take long (it prepares data); its own limit is generous.
    await this.conn!.request(
      { t: 'setup', computeId: this.opts.spec.computeId, ...(setupArgs ? { setupArgs } : {}) },
      600_000,
    );
    this.cpus = typeof r.cpus === 'number' ? r.cpus : 1;
    this.state = 'ready';
    return this.cpus;
  }

  /**
   * Toward a dispyscheduler: send the computation with the nodes it may use, then ask for it to
   * be scheduled. `waiting` is true when an `exclusive` rule holds it back for now (a
   * `scheduled` event follows when it may run).
   */
  async setUpScheduled(nodes: NodeAllocSpec[], exclusive: boolean): Promise<{ waiting: boolean }> {
    await this.sendComputation({ cpus: 0, nodes, ...(exclusive ? { exclusive } : {}) });
    const r = await this.conn!.request({ t: 'schedule', computeId: this.opts.spec.computeId });
    this.state = 'ready';
    return { waiting: r.waiting === true };
  }

  /** `compute`, then the files the peer does not have yet; returns the `compute` reply. */
  private async sendComputation(
    extra: Omit<MessageOf<'compute'>, 't' | 'id' | 'spec'>,
  ): Promise<Record<string, unknown>> {
    this.state = 'setup';
    const r = await this.conn!.request({ t: 'compute', spec: this.opts.spec, ...extra });
    const have = new Set(Array.isArray(r.have) ? (r.have as string[]) : []);
    for (const f of this.opts.files) if (!have.has(f.path)) await this.sendFile(f, 'file');
    return r;
  }

  /** Send a file in chunks (`file` for computation files, `sendFile` for `cluster.sendFile`). */
  async sendFile(f: LocalFile, t: 'file' | 'sendFile'): Promise<void> {
    const conn = this.conn!;
    const fh = await openFile(f.abs, 'r');
    try {
      let offset = 0;
      do {
        const buf = Buffer.allocUnsafe(Math.min(FILE_CHUNK_BYTES, f.size - offset));
        const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
        await conn.request({
          t,
          computeId: this.opts.spec.computeId,
          path: f.path,
          offset,
          total: f.size,
          data: buf.subarray(0, bytesRead),
          mtimeMs: f.mtimeMs,
          mode: f.mode,
        });
        offset += bytesRead;
        if (bytesRead === 0 && offset < f.size) throw new DiscoError(`${f.abs} shrank while being sent`);
      } while (offset < f.size);
    } finally {
      await fh.close();
    }
  }

  sendJob(uid: number, args: Uint8Array, timeout: number, node?: string): boolean {
    if (!this.conn || this.state !== 'ready') return false;
    return this.conn.send({
      t: 'job',
      computeId: this.opts.spec.computeId,
      uid,
      args,
      ...(timeout > 0 ? { timeout } : {}),
      ...(node ? { node } : {}),
    });
  }

  cancel(uid: number): void {
    this.conn?.send({ t: 'cancel', computeId: this.opts.spec.computeId, uid });
  }

  /**
   * Acknowledge a result (batched: one `ack` per tick). The batch goes out before the
   * connection's end-of-tick write, so it shares that write with the jobs sent meanwhile.
   */
  ack(uid: number): void {
    this.acks.push(uid);
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    process.nextTick(() => {
      this.ackScheduled = false;
      const uids = this.acks;
      this.acks = [];
      if (uids.length && this.conn && !this.conn.closed) {
        this.conn.send({ t: 'ack', computeId: this.opts.spec.computeId, uids });
      }
    });
  }

  async setCpus(cpus: number): Promise<number> {
    const r = await this.conn!.request({ t: 'setCpus', computeId: this.opts.spec.computeId, cpus });
    this.cpus = r.cpus as number;
    return this.cpus;
  }

  async jobs(): Promise<number[]> {
    const r = await this.conn!.request({ t: 'jobs', computeId: this.opts.spec.computeId });
    return r.uids as number[];
  }

  /** After a lost connection: connect again and collect what the node kept. */
  async reconnect(): Promise<RecoverReply & { sameInstance: boolean }> {
    const before = this.info?.instance;
    let info: NodeInfo;
    try {
      info = await this.connect();
    } catch (e) {
      if (this.state !== 'closed') this.state = 'lost';
      throw e;
    }
    if (before && info.instance !== before) {
      return { results: [], running: [], queued: [], sameInstance: false };
    }
    const conn = this.conn!;
    let r: Record<string, unknown>;
    try {
      r = await conn.request({
        t: 'recover',
        computeId: this.opts.spec.computeId,
        token: this.opts.spec.token,
      });
    } catch (e) {
      // Not usable: drop this connection (the caller may try again with a fresh one).
      if (this.state !== 'closed') this.state = 'lost';
      conn.destroy();
      throw e;
    }
    this.state = 'ready';
    if (typeof r.cpus === 'number') this.cpus = r.cpus;
    return { ...parseRecover(r), sameInstance: true };
  }

  /** Close the computation on the node (waiting for cleanup), then the connection. */
  async close(terminate: boolean, timeoutMs = 60_000): Promise<void> {
    const conn = this.conn;
    const wasReady = this.state === 'ready' || this.state === 'setup';
    this.state = 'closing';
    try {
      if (conn && !conn.closed && wasReady) {
        await conn.request({ t: 'close', computeId: this.opts.spec.computeId, terminate }, timeoutMs);
      }
    } finally {
      this.state = 'closed';
      conn?.close();
    }
  }

  /** Drop the connection at once (dead node). */
  destroy(): void {
    this.state = 'closed';
    this.abort.abort();
    this.conn?.destroy();
  }
}

export function parseRecover(r: Record<string, unknown>): RecoverReply {
  const results = (Array.isArray(r.results) ? r.results : []).flatMap((x) => {
    const p = JobResultSchema.safeParse(x);
    return p.success ? [p.data] : [];
  });
  const nums = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is number => typeof x === 'number') : []);
  return { results, running: nums(r.running), queued: nums(r.queued) };
}

export type { MessageOf };
