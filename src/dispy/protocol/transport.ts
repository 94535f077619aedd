/**
 * TCP/TLS transport with the dispy handshake.
 *
 * Server side ({@link listen}): every accepted socket gets `hello{nonce}`; the peer must answer
 * `auth{proof = HMAC(secret, "c:" + nonce), nonce'}` within the message timeout; the server
 * answers `welcome{proof = HMAC(secret, "s:" + nonce'), info}` or `error` and closes. Client side
 * ({@link connect}) checks the server's proof, so both sides prove they know the secret and no
 * proof can be replayed (fresh nonces, distinct prefixes per direction). With an empty secret
 * anything is accepted, as in the original.
 *
 * TLS (`certfile`/`keyfile`) as in the original: the server presents `certfile` (key from
 * `keyfile` or from `certfile` itself); the client verifies the server's certificate against
 * its own `certfile` (one self-signed certificate shared by the cluster), without a host name
 * check.
 *
 * @example
 * const srv = await listen({ host: '127.0.0.1', port: 0, secret: 's', role: 'node', name: 'n1',
 *   info: () => ({ ... }), onConnection: (conn, peer) => conn.onMessage(handle) });
 * const { conn, info } = await connect({ host: '127.0.0.1', port: srv.port, secret: 's',
 *   role: 'client', clientId: 'c1', label: 'node n1' });
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { newNonce, proof, verifyProof } from '../../common/auth.js';
import { DiscoError } from '../../common/errors.js';
import { Connection } from './connection.js';
import { DISPY_PROTOCOL_VERSION, MAX_FRAME_BYTES, MSG_TIMEOUT_MS } from './constants.js';

/** Largest frame before authentication (hello/auth/welcome are small). */
const HANDSHAKE_MAX_FRAME = 64 * 1024;

import type { Message, MessageOf, Role } from './messages.js';

/** Authentication (secret or TLS) failed. */
export class AuthError extends DiscoError {
  override name = 'AuthError';
}

/** TLS material: `certfile` (PEM) and `keyfile` (PEM; optional when the key is in certfile). */
export interface TlsFiles {
  certfile?: string;
  keyfile?: string;
}

export interface PeerIdentity {
  role: Role;
  clientId: string;
  address: string;
  port: number;
}

export interface ListenOptions extends TlsFiles {
  host?: string;
  port: number;
  secret: string;
  role: Role;
  name: string;
  /** What to tell authenticated peers about this server (the `welcome` info). */
  info: () => Record<string, unknown>;
  onConnection: (conn: Connection, peer: PeerIdentity) => void;
  /** Called for refused connections (bad secret, version, garbage). */
  onRefused?: (address: string, reason: string) => void;
  timeoutMs?: number;
}

export interface Listener {
  server: net.Server;
  port: number;
  host: string;
  close(): Promise<void>;
}

function tlsContext(files: TlsFiles): { cert: Buffer; key: Buffer } | null {
  if (!files.certfile) return null;
  const cert = readFileSync(files.certfile);
  const key = files.keyfile ? readFileSync(files.keyfile) : cert;
  return { cert, key };
}

/** Start a server that authenticates every connection before handing it to `onConnection`. */
export async function listen(opts: ListenOptions): Promise<Listener> {
  const creds = tlsContext(opts);
  const timeoutMs = opts.timeoutMs ?? MSG_TIMEOUT_MS;
  /** Sockets still in the handshake: closing the listener drops them. */
  const unauthenticated = new Set<net.Socket>();
  const onSocket = (socket: net.Socket) => {
    socket.setNoDelay(true);
    unauthenticated.add(socket);
    socket.once('close', () => unauthenticated.delete(socket));
    const address = socket.remoteAddress ?? '?';
    const port = socket.remotePort ?? 0;
    const conn = new Connection(socket, { label: `${address}:${port}`, maxFrame: HANDSHAKE_MAX_FRAME });
    const nonce = newNonce();
    const timer = setTimeout(() => refuse('no authentication within the time limit'), timeoutMs);
    const refuse = (reason: string) => {
      clearTimeout(timer);
      opts.onRefused?.(address, reason);
      conn.send({ t: 'error', message: reason, code: 'auth' });
      conn.close();
    };
    conn.onClose(() => clearTimeout(timer));
    conn.onMessage((msg) => {
      if (msg.t !== 'auth') return refuse(`expected 'auth', got '${msg.t}'`);
      if (msg.v !== DISPY_PROTOCOL_VERSION) {
        return refuse(
          `protocol version ${msg.v} is not supported (this side speaks ${DISPY_PROTOCOL_VERSION})`,
        );
      }
      if (!verifyProof(opts.secret, `c:${nonce}`, msg.proof)) {
        return refuse('authentication failed: wrong secret');
      }
      clearTimeout(timer);
      unauthenticated.delete(socket);
      conn.setMaxFrame(MAX_FRAME_BYTES);
      conn.send({ t: 'welcome', proof: proof(opts.secret, `s:${msg.nonce}`), info: opts.info() });
      // Hand over: messages wait until the application installs its own handler.
      conn.onMessage(null);
      opts.onConnection(conn, { role: msg.role, clientId: msg.clientId, address, port });
    });
    conn.send({ t: 'hello', v: DISPY_PROTOCOL_VERSION, role: opts.role, nonce, name: opts.name });
  };
  const server = creds
    ? tls.createServer({ cert: creds.cert, key: creds.key }, onSocket)
    : net.createServer(onSocket);
  if (creds) {
    server.on('tlsClientError', (err: Error, sock: tls.TLSSocket) => {
      opts.onRefused?.(sock.remoteAddress ?? '?', `TLS: ${err.message}`);
    });
    // Raw sockets before and during the TLS handshake.
    server.on('connection', (socket: net.Socket) => {
      unauthenticated.add(socket);
      socket.once('close', () => unauthenticated.delete(socket));
    });
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as net.AddressInfo;
  return {
    server,
    port: addr.port,
    host: addr.address,
    // Stops accepting and drops connections still in their handshake; resolves when the
    // established ones (the application's to close) are gone.
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of unauthenticated) s.destroy();
        unauthenticated.clear();
      }),
  };
}

export interface ConnectOptions extends TlsFiles {
  host: string;
  port: number;
  secret: string;
  role: Role;
  clientId: string;
  label?: string;
  /** Local address to connect from (the client's `ipAddr`). */
  localAddress?: string;
  timeoutMs?: number;
  /** Abort the attempt (the promise rejects). */
  signal?: AbortSignal;
}

export interface Connected {
  conn: Connection;
  /** The server's `welcome` info. */
  info: Record<string, unknown>;
  /** The server's `hello`. */
  hello: MessageOf<'hello'>;
}

/** Connect and authenticate (both ways); rejects with {@link AuthError} or a network error. */
export function connect(opts: ConnectOptions): Promise<Connected> {
  const timeoutMs = opts.timeoutMs ?? MSG_TIMEOUT_MS;
  const label = opts.label ?? `${opts.host}:${opts.port}`;
  return new Promise<Connected>((resolve, reject) => {
    let done = false;
    const creds = tlsContext(opts);
    const socket = creds
      ? tls.connect({
          host: opts.host,
          port: opts.port,
          ca: creds.cert,
          checkServerIdentity: () => undefined,
          ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
        })
      : net.connect({
          host: opts.host,
          port: opts.port,
          ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
        });
    socket.setNoDelay(true);
    const conn = new Connection(socket, { label, maxFrame: HANDSHAKE_MAX_FRAME });
    const fail = (e: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      conn.destroy();
      reject(e);
    };
    const timer = setTimeout(
      () => fail(new DiscoError(`no handshake from ${label} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    if (opts.signal) {
      if (opts.signal.aborted) queueMicrotask(() => fail(new DiscoError(`connection to ${label} aborted`)));
      opts.signal.addEventListener('abort', () => fail(new DiscoError(`connection to ${label} aborted`)), {
        once: true,
      });
    }
    conn.onClose((err) =>
      fail(
        new DiscoError(
          err
            ? `cannot connect to ${label}: ${err.message}`
            : `${label} closed the connection during the handshake`,
        ),
      ),
    );
    const nonce = newNonce();
    let hello: MessageOf<'hello'> | null = null;
    conn.onMessage((msg: Message) => {
      if (done) return;
      if (msg.t === 'error') {
        return fail(
          msg.code === 'auth'
            ? new AuthError(`${label}: ${msg.message}`)
            : new DiscoError(`${label}: ${msg.message}`),
        );
      }
      if (!hello) {
        if (msg.t !== 'hello') return fail(new DiscoError(`${label} is not a dispy peer (sent '${msg.t}')`));
        if (msg.v !== DISPY_PROTOCOL_VERSION) {
          return fail(
            new DiscoError(`${label} speaks dispy protocol ${msg.v}, this side ${DISPY_PROTOCOL_VERSION}`),
          );
        }
        hello = msg;
        conn.send({
          t: 'auth',
          v: DISPY_PROTOCOL_VERSION,
          role: opts.role,
          nonce,
          proof: proof(opts.secret, `c:${msg.nonce}`),
          clientId: opts.clientId,
        });
        return;
      }
      if (msg.t !== 'welcome') return fail(new DiscoError(`${label}: expected 'welcome', got '${msg.t}'`));
      if (!verifyProof(opts.secret, `s:${nonce}`, msg.proof) || (opts.secret && !msg.proof)) {
        return fail(new AuthError(`${label} did not prove that it knows the secret`));
      }
      done = true;
      clearTimeout(timer);
      conn.setMaxFrame(MAX_FRAME_BYTES);
      conn.onMessage(null);
      resolve({ conn, info: msg.info, hello });
    });
  });
}
