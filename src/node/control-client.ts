/**
 * The node's end of the control channel (src/protocol/control.ts): a WebSocket to
 * `<master>/disco/node/connect` that the node dials and keeps dialling.
 *
 * Handshake: the master sends `challenge{nonce}`; the node answers `hello` with
 * `auth = hmac(DISCO_SECRET, masterNonce)` and its own nonce; the master answers `welcome`
 * with `hmac(DISCO_SECRET, nodeNonce)`, which the node checks, so both sides prove the
 * secret (an empty secret means no authentication). Every incoming message is validated
 * ({@link parseMasterToNode}); invalid ones are logged and dropped. A frame may carry several
 * messages (a JSON array); what the node sends in one event-loop turn goes out as one frame.
 *
 * Liveness: a handshake must finish within `handshakeTimeoutMs`; once connected, a
 * WebSocket ping goes out every `pingIntervalMs` and a connection that answered none of the
 * last two is dropped. Any loss of the connection is followed by a reconnect after a bounded,
 * growing back-off (0.2 s doubling up to 5 s, with jitter), reset by a successful handshake.
 * While disconnected, {@link ControlClient.send} drops messages: the master re-runs the
 * tasks of a node it lost, so their late results are not wanted.
 */
import type { Logger } from 'pino';
import WebSocket from 'ws';
import { newNonce, proof, verifyProof } from '../common/auth.js';
import {
  CONTROL_PATH,
  CONTROL_VERSION,
  FrameBatcher,
  type MasterToNode,
  type NodeToMaster,
  parseMasterToNode,
  splitControlFrame,
} from '../protocol/control.js';

/** What the node tells the master when it says hello. */
export interface HelloInfo {
  dataPort: number;
  /** Port of the node's loopback metrics server, when it has no data server. */
  metricsPort?: number;
  putPort: number;
  diskFree: number;
  diskUsed: number;
}

/** Wiring of a {@link ControlClient} to the node. */
export interface ControlClientOptions {
  /** Master base URL (`http://host:port`); `ws(s)://` is derived from it. */
  master: string;
  host: string;
  secret: string;
  hello: () => Promise<HelloInfo>;
  /** The handshake succeeded. */
  onWelcome: (welcome: { master: string; maxWorkers: number }) => void;
  /** A validated message after the handshake. */
  onMessage: (msg: MasterToNode) => void;
  onDisconnect?: () => void;
  log: Logger;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  handshakeTimeoutMs?: number;
  pingIntervalMs?: number;
}

type Phase = 'idle' | 'challenge' | 'welcome' | 'ready';

/** The node's control channel connection; see the module docs. */
export class ControlClient {
  private ws: WebSocket | null = null;
  private phase: Phase = 'idle';
  private attempt = 0;
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private handshakeTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private missedPongs = 0;
  private nonce = '';
  private readonly out = new FrameBatcher<NodeToMaster>((text) => {
    if (this.connected) this.ws!.send(text);
  });

  constructor(private readonly opts: ControlClientOptions) {}

  /** True once the handshake is done and until the connection drops. */
  get connected(): boolean {
    return this.phase === 'ready' && this.ws?.readyState === WebSocket.OPEN;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  /** Send a message if connected; returns whether it was sent. */
  send(msg: NodeToMaster): boolean {
    if (!this.connected) return false;
    this.out.push(msg);
    return true;
  }

  /** Close the connection and stop reconnecting. */
  async close(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 1000);
      ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      ws.close(1001, 'node shutting down');
    });
  }

  private url(): string {
    const base = this.opts.master.replace(/\/$/, '').replace(/^http(s?):\/\//, 'ws$1://');
    return `${base}${CONTROL_PATH}`;
  }

  private connect(): void {
    if (this.stopped) return;
    const ws = new WebSocket(this.url(), {
      handshakeTimeout: this.opts.handshakeTimeoutMs ?? 10_000,
      maxPayload: 64 * 1024 * 1024,
    });
    this.ws = ws;
    this.phase = 'challenge';
    this.nonce = newNonce();
    this.handshakeTimer = setTimeout(() => {
      this.opts.log.warn('control channel handshake timed out');
      ws.terminate();
    }, this.opts.handshakeTimeoutMs ?? 10_000);
    ws.on('message', (data) => this.onData(ws, data.toString()));
    ws.on('pong', () => {
      this.missedPongs = 0;
    });
    ws.on('error', (e) => this.opts.log.debug({ err: e }, 'control channel error'));
    ws.on('close', () => this.onClose(ws));
  }

  private onData(ws: WebSocket, text: string): void {
    if (ws !== this.ws) return;
    let items: unknown[];
    try {
      items = splitControlFrame(text);
    } catch {
      this.opts.log.warn({ text: text.slice(0, 200) }, 'control message is not JSON; ignored');
      return;
    }
    for (const raw of items) {
      if (ws !== this.ws) return;
      const msg = parseMasterToNode(raw);
      if (!msg) {
        this.opts.log.warn({ text: JSON.stringify(raw)?.slice(0, 200) }, 'invalid control message; ignored');
        continue;
      }
      this.onMessage(ws, msg);
    }
  }

  private onMessage(ws: WebSocket, msg: MasterToNode): void {
    if (msg.type === 'refused') {
      this.opts.log.error({ reason: msg.reason }, 'master refused this node');
      ws.close();
      return;
    }
    switch (this.phase) {
      case 'challenge':
        if (msg.type !== 'challenge') {
          this.protocolError(ws, `expected challenge, got ${msg.type}`);
          return;
        }
        if (msg.version !== CONTROL_VERSION) {
          this.protocolError(ws, `master speaks control version ${msg.version}, not ${CONTROL_VERSION}`);
          return;
        }
        this.phase = 'welcome';
        void this.sayHello(ws, msg.nonce);
        return;
      case 'welcome':
        if (msg.type !== 'welcome') {
          this.protocolError(ws, `expected welcome, got ${msg.type}`);
          return;
        }
        if (!verifyProof(this.opts.secret, this.nonce, msg.auth)) {
          this.protocolError(ws, 'the master did not prove DISCO_SECRET');
          return;
        }
        this.phase = 'ready';
        this.attempt = 0;
        if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
        this.handshakeTimer = null;
        this.startPings(ws);
        this.opts.log.info({ master: msg.master, maxWorkers: msg.maxWorkers }, 'connected to master');
        this.opts.onWelcome({ master: msg.master, maxWorkers: msg.maxWorkers });
        return;
      case 'ready':
        this.opts.onMessage(msg);
        return;
      default:
        return;
    }
  }

  private async sayHello(ws: WebSocket, masterNonce: string): Promise<void> {
    let info: HelloInfo;
    try {
      info = await this.opts.hello();
    } catch (e) {
      this.opts.log.error({ err: e }, 'could not gather hello information');
      ws.terminate();
      return;
    }
    if (ws !== this.ws || ws.readyState !== WebSocket.OPEN) return;
    const hello: NodeToMaster = {
      type: 'hello',
      version: CONTROL_VERSION,
      host: this.opts.host,
      pid: process.pid,
      nonce: this.nonce,
      auth: proof(this.opts.secret, masterNonce),
      ...info,
    };
    ws.send(JSON.stringify(hello));
  }

  private protocolError(ws: WebSocket, why: string): void {
    this.opts.log.error({ why }, 'control channel protocol error');
    ws.terminate();
  }

  private startPings(ws: WebSocket): void {
    this.missedPongs = 0;
    const every = this.opts.pingIntervalMs ?? 10_000;
    this.pingTimer = setInterval(() => {
      if (this.missedPongs >= 2) {
        this.opts.log.warn('master stopped answering pings; reconnecting');
        ws.terminate();
        return;
      }
      this.missedPongs += 1;
      try {
        ws.ping();
      } catch {
        // The close handler reconnects.
      }
    }, every);
  }

  private onClose(ws: WebSocket): void {
    if (ws !== this.ws) return;
    const wasReady = this.phase === 'ready';
    this.ws = null;
    this.out.clear();
    this.phase = 'idle';
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.handshakeTimer = null;
    this.pingTimer = null;
    if (wasReady) {
      this.opts.log.warn('lost the control channel to the master');
      this.opts.onDisconnect?.();
    }
    if (this.stopped) return;
    const min = this.opts.minBackoffMs ?? 200;
    const max = this.opts.maxBackoffMs ?? 5000;
    const base = Math.min(max, min * 2 ** this.attempt);
    this.attempt += 1;
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }
}
