/**
 * UDP discovery: clients (and dispyscheduler, dispynetrelay) send `ping` datagrams to nodes'
 * port — broadcast for wildcard node patterns, unicast for named nodes — and nodes answer
 * with a unicast `pong` to the address in the ping; nodes also announce themselves with a
 * `pong` broadcast to the client port when they start (and periodically with `pingInterval`).
 * Datagrams are MessagePack, validated with {@link DatagramSchema}, never larger than
 * {@link MAX_DATAGRAM}. With a `secret` they are signed when sent and dropped when received
 * without a valid signature (see `signing.ts`); every TCP connection is authenticated anyway.
 *
 * @example
 * const ep = await UdpEndpoint.open({ port: 51347, onDatagram: (d, from) => ... });
 * ep.send({ t: 'ping', ... }, 51348, ['192.168.3.255']);
 */
import dgram from 'node:dgram';
import { packMessage, unpackMessage } from '../protocol/codec.js';
import { type Datagram, DatagramSchema, MAX_DATAGRAM } from '../protocol/messages.js';
import { datagramSignatureValid, signDatagram } from './signing.js';

export interface UdpEndpointOptions {
  /** Port to listen on (0 = any). */
  port: number;
  /** Address to bind (default all interfaces: broadcasts are only received there). */
  bindAddr?: string;
  onDatagram: (d: Datagram, from: { address: string; port: number }) => void;
  onError?: (e: Error) => void;
  /** Sign what is sent and drop what is received without this secret's signature. */
  secret?: string;
  /** Called for each datagram dropped for a missing or wrong signature. */
  onRejected?: (from: { address: string; port: number }) => void;
}

export class UdpEndpoint {
  private constructor(
    readonly socket: dgram.Socket,
    private readonly secret: string,
  ) {}

  static async open(opts: UdpEndpointOptions): Promise<UdpEndpoint> {
    const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    socket.on('message', (buf, rinfo) => {
      if (buf.length > MAX_DATAGRAM) return;
      let raw: unknown;
      try {
        raw = unpackMessage(buf);
      } catch {
        return;
      }
      const parsed = DatagramSchema.safeParse(raw);
      if (!parsed.success) return;
      const from = { address: rinfo.address, port: rinfo.port };
      if (datagramSignatureValid(opts.secret ?? '', parsed.data)) opts.onDatagram(parsed.data, from);
      else opts.onRejected?.(from);
    });
    socket.on('error', (e) => opts.onError?.(e));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(opts.port, opts.bindAddr ?? '0.0.0.0', () => {
        socket.off('error', reject);
        resolve();
      });
    });
    // Broadcasts never cross a router anyway; unicast answers (pongs to a relayed ping) must.
    socket.setBroadcast(true);
    return new UdpEndpoint(socket, opts.secret ?? '');
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** Send one datagram to each address (errors, e.g. unreachable networks, are ignored). */
  send(d: Datagram, port: number, addresses: string[]): void {
    const buf = packMessage(signDatagram(this.secret, d));
    if (buf.length > MAX_DATAGRAM) throw new Error(`datagram of ${buf.length} bytes is too large`);
    for (const a of addresses) {
      this.socket.send(buf, port, a, () => undefined);
    }
  }

  close(): void {
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }
}
