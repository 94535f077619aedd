/**
 * One framed, validated, multiplexed dispy connection over TCP or TLS.
 *
 * - {@link Connection.send} queues a message; all messages queued within one tick go out in
 *   one write (cork/uncork), so a burst of jobs or results costs one syscall.
 * - {@link Connection.request} sends a request with a fresh `id` and resolves with the `ok`
 *   reply (or rejects with {@link RemoteError} on `error`, {@link TimeoutError} after the limit).
 * - Incoming messages are validated with {@link MessageSchema}; replies settle their request,
 *   everything else goes to the handler. A request the handler answers (returns a value or
 *   throws) is replied to automatically. An invalid message gets an `error` reply and the
 *   connection keeps serving; a broken frame closes it.
 *
 * Concurrency: all state is owned by the event loop; handlers run one message at a time in
 * arrival order (async handlers may interleave at their awaits).
 *
 * @example
 * const conn = new Connection(socket, { label: 'node 10.0.0.2:51348' });
 * conn.onMessage((m) => { if (m.t === 'pulse') alive(); });
 * const r = await conn.request({ t: 'info' });
 */
import type { Duplex } from 'node:stream';
import { DiscoError, ProtocolError } from '../../common/errors.js';
import { packMessage, unpackMessage } from './codec.js';
import { MAX_FRAME_BYTES, MSG_TIMEOUT_MS } from './constants.js';
import { FrameReader } from './framing.js';
import { type Message, MessageSchema } from './messages.js';

/** `DISPY_TRACE=1` prints every message received (debugging aid). */
const TRACE = Boolean(process.env.DISPY_TRACE);

/** The peer answered a request with an error. */
export class RemoteError extends DiscoError {
  override name = 'RemoteError';
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** A request got no answer in time, or the connection closed before it did. */
export class TimeoutError extends DiscoError {
  override name = 'TimeoutError';
}

/** An error a handler throws to answer a request with a specific `code`. */
export class ReplyError extends DiscoError {
  override name = 'ReplyError';
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** Reply payload of a request: the `ok` message without its envelope. */
export type Reply = Record<string, unknown>;

/** What a handler may return for a request: the reply fields (or nothing for a bare `ok`). */
// biome-ignore lint/suspicious/noConfusingVoidType: handlers written as `void` functions are fine.
export type HandlerResult = Reply | undefined | void;
export type MessageHandler = (msg: Message, conn: Connection) => HandlerResult | Promise<HandlerResult>;

export interface ConnectionOptions {
  /** For error messages and logs: who is on the other side. */
  label: string;
  maxFrame?: number;
  /** Default request timeout (ms). */
  timeoutMs?: number;
}

interface Pending {
  resolve: (r: Reply) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout | null;
}

type OutMessage = {
  [K in Message['t']]: Omit<Extract<Message, { t: K }>, 'id'> & { id?: number };
}[Message['t']];

export class Connection {
  readonly label: string;
  /** Bytes sent and received, frames included. */
  tx = 0;
  rx = 0;
  /** Time of the last message received (ms since epoch). */
  lastHeard = Date.now();
  closed = false;
  private readonly reader: FrameReader;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private handler: MessageHandler | null = null;
  private readonly closeHandlers: ((err: Error | null) => void)[] = [];
  private corked = false;
  private readonly timeoutMs: number;
  private buffered: Message[] = [];
  private closeError: Error | null = null;
  private broken = false;

  constructor(
    readonly socket: Duplex,
    opts: ConnectionOptions,
  ) {
    this.label = opts.label;
    this.reader = new FrameReader(opts.maxFrame ?? MAX_FRAME_BYTES);
    this.timeoutMs = opts.timeoutMs ?? MSG_TIMEOUT_MS;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e) => this.shutdown(e));
    socket.on('close', () => this.shutdown(null));
    socket.on('end', () => socket.end());
  }

  /**
   * Set the handler of non-reply messages; messages received before are delivered now.
   * `null` holds incoming messages until a handler is set.
   */
  onMessage(handler: MessageHandler | null): void {
    this.handler = handler;
    if (!handler) return;
    const early = this.buffered;
    this.buffered = [];
    for (const m of early) this.dispatch(m);
  }

  /** Called once when the connection closes (with the error that closed it, if any). */
  onClose(fn: (err: Error | null) => void): void {
    if (this.closed) queueMicrotask(() => fn(this.closeError));
    else this.closeHandlers.push(fn);
  }

  /** Queue one message; it is written at the end of the current tick with the others. */
  send(msg: OutMessage | Message): boolean {
    if (this.closed) return false;
    const payload = packMessage(msg);
    this.tx += payload.length + 4;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    // Header and payload as two writes (joined by cork into one writev): no copy of big payloads.
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32BE(payload.length, 0);
    this.socket.write(head);
    this.socket.write(payload);
    return true;
  }

  /** Whether the socket's buffer is over its high-water mark (callers may wait for 'drain'). */
  get congested(): boolean {
    return (this.socket as Duplex & { writableNeedDrain?: boolean }).writableNeedDrain === true;
  }

  /** Send a request and wait for its reply. */
  request(msg: OutMessage, timeoutMs = this.timeoutMs): Promise<Reply> {
    if (this.closed) {
      return Promise.reject(new TimeoutError(`connection to ${this.label} is closed`));
    }
    const reqId = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              this.pending.delete(reqId);
              reject(
                new TimeoutError(`${msg.t} request to ${this.label} got no reply within ${timeoutMs} ms`),
              );
            }, timeoutMs)
          : null;
      this.pending.set(reqId, { resolve, reject, timer });
      this.send({ ...msg, id: reqId } as Message);
    });
  }

  /** Change the largest frame accepted (small during the handshake, then the full limit). */
  setMaxFrame(bytes: number): void {
    this.reader.maxFrame = bytes;
  }

  /** Close gracefully (pending writes are flushed). */
  close(): void {
    if (this.closed) return;
    this.socket.end();
    // A peer that never reads must not keep us open forever.
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  /** Close at once. */
  destroy(err?: Error): void {
    this.socket.destroy();
    this.shutdown(err ?? null);
  }

  private onData(chunk: Buffer): void {
    this.rx += chunk.length;
    if (this.broken) return;
    let frames: Buffer[];
    try {
      frames = this.reader.push(chunk);
    } catch (e) {
      // The stream cannot be resynchronized: say why, then close.
      this.broken = true;
      this.sendError((e as Error).message, undefined, 'frame');
      process.nextTick(() => this.close());
      return;
    }
    if (frames.length > 0) this.lastHeard = Date.now();
    for (const f of frames) {
      let raw: unknown;
      try {
        raw = unpackMessage(f);
      } catch (e) {
        this.sendError((e as Error).message, undefined, 'decode');
        continue;
      }
      const parsed = MessageSchema.safeParse(raw);
      if (!parsed.success) {
        const re = typeof (raw as { id?: unknown })?.id === 'number' ? (raw as { id: number }).id : undefined;
        const t = typeof (raw as { t?: unknown })?.t === 'string' ? (raw as { t: string }).t : '?';
        this.sendError(`invalid '${t}' message: ${formatZodError(parsed.error)}`, re, 'invalid');
        continue;
      }
      this.dispatch(parsed.data);
    }
  }

  private dispatch(msg: Message): void {
    if (TRACE) process.stderr.write(`dispy trace [${this.label}] <- ${msg.t}\n`);
    if (msg.t === 'ok' || (msg.t === 'error' && msg.re !== undefined)) {
      const p = this.pending.get(msg.re as number);
      if (!p) return;
      this.pending.delete(msg.re as number);
      if (p.timer) clearTimeout(p.timer);
      if (msg.t === 'ok') p.resolve(msg as Reply);
      else p.reject(new RemoteError(`${this.label}: ${msg.message}`, msg.code));
      return;
    }
    if (!this.handler) {
      this.buffered.push(msg);
      return;
    }
    const reqId = 'id' in msg && typeof msg.id === 'number' ? msg.id : undefined;
    let out: HandlerResult | Promise<HandlerResult>;
    try {
      out = this.handler(msg, this);
    } catch (e) {
      this.answerError(e, reqId, msg.t);
      return;
    }
    if (out instanceof Promise) {
      out.then(
        (r) => reqId !== undefined && this.send({ ...(r ?? {}), t: 'ok', re: reqId } as Message),
        (e) => this.answerError(e, reqId, msg.t),
      );
    } else if (reqId !== undefined) {
      this.send({ ...(out ?? {}), t: 'ok', re: reqId } as Message);
    }
  }

  private answerError(e: unknown, reqId: number | undefined, what: string): void {
    const message = e instanceof Error ? e.message : String(e);
    const code = e instanceof ReplyError ? e.code : undefined;
    if (reqId !== undefined) this.sendError(message, reqId, code);
    else this.sendError(`${what}: ${message}`, undefined, code);
  }

  private sendError(message: string, re: number | undefined, code?: string): void {
    this.send({ t: 'error', message, ...(re !== undefined ? { re } : {}), ...(code ? { code } : {}) });
  }

  private shutdown(err: Error | null): void {
    if (this.closed) return;
    this.closed = true;
    this.closeError = err;
    const why = err ? `: ${err.message}` : '';
    for (const [, p] of this.pending) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(new TimeoutError(`connection to ${this.label} closed${why}`));
    }
    this.pending.clear();
    for (const fn of this.closeHandlers.splice(0)) fn(err);
  }
}

export function formatZodError(err: { issues: { path: (string | number)[]; message: string }[] }): string {
  return err.issues
    .slice(0, 3)
    .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}

/** Guard for messages that must not be sent by a peer in some role. */
export function unexpected(msg: Message, where: string): never {
  throw new ProtocolError(`unexpected '${msg.t}' message ${where}`);
}
