/**
 * The master's end of the control channel (src/protocol/control.ts): nodes dial in with a
 * WebSocket on the master's HTTP port at {@link CONTROL_PATH}. Handshake: `challenge` →
 * `hello` (checked: protocol version, HMAC proof of `DISCO_SECRET`, host in the config table)
 * → `welcome` or `refused`. Every later message is validated ({@link parseNodeToMaster});
 * a message that does not validate closes the connection (its tasks are then retried
 * elsewhere rather than left hanging). Messages sent in one event-loop turn go out as one
 * frame ({@link FrameBatcher}); a node's frames may likewise carry several messages.
 *
 * Liveness: a WebSocket ping every 15 s; a node that misses one is dropped.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { newNonce, proof, verifyProof } from '../../common/auth.js';
import {
  CONTROL_PATH,
  CONTROL_VERSION,
  FrameBatcher,
  type MasterToNode,
  type NodeToMaster,
  parseNodeToMaster,
  splitControlFrame,
} from '../../protocol/control.js';
import type { ClusterConfig } from './config.js';
import type { NodeConnection, NodeRegistry } from './nodes.js';

/** Largest control message accepted (an `events` batch of a chatty task). */
export const MAX_CONTROL_MESSAGE = 64 * 1024 * 1024;
const HELLO_TIMEOUT_MS = 10_000;
const PING_INTERVAL_MS = 15_000;

export interface ControlChannelDeps {
  secret: string;
  /** `DISCO_MASTER` as the master sees it (sent in `welcome`). */
  masterUrl: string;
  config: ClusterConfig;
  registry: NodeRegistry;
  log: Logger;
  /** A node finished its handshake. */
  onConnected(host: string): void;
  /** A node's current connection is gone (closed, timed out or replaced). */
  onLost(host: string): void;
  /** Any message after the handshake. */
  onMessage(host: string, msg: Exclude<NodeToMaster, { type: 'hello' }>): void;
}

class WsConnection implements NodeConnection {
  alive = true;
  private readonly out: FrameBatcher<MasterToNode>;

  constructor(
    readonly host: string,
    readonly ws: WebSocket,
  ) {
    this.out = new FrameBatcher((text) => {
      if (this.ws.readyState === this.ws.OPEN) this.ws.send(text);
    });
  }

  send(msg: MasterToNode): boolean {
    if (this.ws.readyState !== this.ws.OPEN) return false;
    this.out.push(msg);
    return true;
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING)
      this.ws.close(code, reason);
  }
}

/** The WebSocket endpoint nodes connect to; one per master. */
export class ControlChannel {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CONTROL_MESSAGE });
  private readonly conns = new Set<WsConnection>();
  private readonly pinger: NodeJS.Timeout;

  constructor(private readonly deps: ControlChannelDeps) {
    this.wss.on('connection', (ws: WebSocket) => this.handshake(ws));
    this.pinger = setInterval(() => this.ping(), PING_INTERVAL_MS);
    this.pinger.unref();
  }

  /** Take over an HTTP upgrade request for the control path; false if it is not ours. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const p = (req.url ?? '').split('?')[0];
    if (p !== CONTROL_PATH) return false;
    this.wss.handleUpgrade(req, socket, head, (ws) => this.wss.emit('connection', ws, req));
    return true;
  }

  /** After a config change: drop nodes no longer configured, tell the others their slots. */
  configChanged(): void {
    for (const c of this.conns) {
      const h = this.deps.config.host(c.host);
      if (!h) c.close(4001, 'removed from the config table');
      else c.send({ type: 'set_max_workers', maxWorkers: h.cores });
    }
  }

  async close(): Promise<void> {
    clearInterval(this.pinger);
    for (const c of this.conns) c.ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private ping(): void {
    for (const c of this.conns) {
      if (!c.alive) {
        this.deps.log.warn({ host: c.host }, 'node missed a heartbeat; dropping it');
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }

  private handshake(ws: WebSocket): void {
    const nonce = newNonce();
    const send = (m: MasterToNode) => ws.send(JSON.stringify(m));
    const refuse = (reason: string) => {
      this.deps.log.warn({ reason }, 'node refused');
      send({ type: 'refused', reason });
      ws.close(4003, reason.slice(0, 120));
    };
    const timer = setTimeout(() => refuse('no hello within 10 s'), HELLO_TIMEOUT_MS);
    ws.once('close', () => clearTimeout(timer));
    // Before the handshake completes errors only end the attempt (an unheard 'error' would throw).
    ws.on('error', (e) => this.deps.log.debug({ err: e }, 'control connection error during handshake'));
    ws.once('message', (data: RawData) => {
      clearTimeout(timer);
      const msg = parseMessage(data);
      if (!msg.ok) return refuse(msg.error);
      const hello = msg.value;
      if (hello.type !== 'hello') return refuse(`expected hello, got ${hello.type}`);
      if (hello.version !== CONTROL_VERSION)
        return refuse(`control protocol version ${hello.version} is not the master's ${CONTROL_VERSION}`);
      if (!verifyProof(this.deps.secret, nonce, hello.auth))
        return refuse('authentication failed: DISCO_SECRET differs between node and master');
      const configured = this.deps.config.host(hello.host);
      if (!configured) return refuse(`host ${hello.host} is not in the master's config table`);
      this.accept(ws, hello, configured.cores);
    });
    send({ type: 'challenge', version: CONTROL_VERSION, nonce });
  }

  private accept(ws: WebSocket, hello: Extract<NodeToMaster, { type: 'hello' }>, cores: number): void {
    const conn = new WsConnection(hello.host, ws);
    this.conns.add(conn);
    const old = this.deps.registry.attach(
      conn,
      { free: hello.diskFree, used: hello.diskUsed },
      nodeMetricsUrl(hello),
    );
    if (old) {
      this.deps.log.info({ host: hello.host }, 'node reconnected; replacing its old connection');
      old.close(4000, 'replaced by a new connection');
      this.deps.onLost(hello.host);
    }
    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.on('message', (data: RawData) => {
      conn.alive = true;
      let items: unknown[];
      try {
        items = splitControlFrame(rawText(data));
      } catch {
        items = [undefined];
      }
      for (const item of items) {
        const msg = item === undefined ? notJson : parseNodeToMaster(item);
        if (!msg.ok || msg.value.type === 'hello') {
          const error = msg.ok ? 'unexpected second hello' : msg.error;
          this.deps.log.warn({ host: conn.host, error }, 'invalid control message; closing the connection');
          conn.close(1008, error.slice(0, 120));
          return;
        }
        try {
          this.deps.onMessage(conn.host, msg.value);
        } catch (e) {
          this.deps.log.error({ host: conn.host, err: e }, 'handling a node message failed');
        }
      }
    });
    ws.on('close', () => {
      this.conns.delete(conn);
      if (this.deps.registry.detach(conn)) {
        this.deps.log.info({ host: conn.host }, 'node disconnected');
        this.deps.onLost(conn.host);
      }
    });
    ws.on('error', (e) => this.deps.log.warn({ host: conn.host, err: e }, 'control connection error'));
    // The handshake's last message goes out on its own, ahead of any batch.
    const welcome: MasterToNode = {
      type: 'welcome',
      auth: proof(this.deps.secret, hello.nonce),
      master: this.deps.masterUrl,
      maxWorkers: cores,
    };
    ws.send(JSON.stringify(welcome));
    this.deps.log.info({ host: hello.host, pid: hello.pid }, 'node connected');
    this.deps.onConnected(hello.host);
  }
}

const notJson = { ok: false, error: 'control message is not JSON' } as const;

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8');
}

/** The handshake's one message (a single object, never a batch). */
function parseMessage(data: RawData): { ok: true; value: NodeToMaster } | { ok: false; error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(rawText(data));
  } catch {
    return notJson;
  }
  return parseNodeToMaster(raw);
}

/**
 * Where a node's `/metrics` is: its own loopback metrics server when it has no data server (it
 * runs on this machine), else its data server.
 */
export function nodeMetricsUrl(
  hello: Pick<Extract<NodeToMaster, { type: 'hello' }>, 'host' | 'dataPort' | 'metricsPort'>,
): string {
  if (hello.metricsPort !== undefined) return `http://127.0.0.1:${hello.metricsPort}/metrics`;
  const name = hello.host.replace(/:\d+$/, '');
  return `http://${name.includes(':') ? `[${name}]` : name}:${hello.dataPort}/metrics`;
}
