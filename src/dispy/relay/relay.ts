/**
 * dispynetrelay: brings discovery across a router. A client lists the relay's address (and a
 * wildcard for the network behind it) in `nodes`; the client's ping reaches the relay by
 * unicast UDP, and the relay broadcasts it (marked `relayed`, with the client's address as
 * the reply address) on its other networks. Nodes there answer the client directly and the
 * client connects to them as usual (over the routed network). Node announcements heard on the
 * relay's networks are forwarded to the clients that pinged through it recently (and to
 * `--scheduler_node`s).
 *
 * The relay needs no secret: it passes signed datagrams on unchanged (it only adds `relayed`
 * and `origin`, which signatures do not cover); nodes and clients check the signatures. Every
 * connection a client then makes to a node is authenticated as usual.
 *
 * @example
 * const relay = new DispyNetRelay({ nodePort: 51348, clientPort: 51347, broadcast: ['10.0.2.255'] });
 * await relay.start();
 */
import { type Logger, pino } from 'pino';
import { broadcastAddresses } from '../discovery/addresses.js';
import { UdpEndpoint } from '../discovery/udp.js';
import { DEFAULT_CLIENT_PORT, DEFAULT_NODE_PORT, DISPY_PROTOCOL_VERSION } from '../protocol/constants.js';
import type { Datagram } from '../protocol/messages.js';

export interface RelayOptions {
  /** Port to hear clients' pings on (the node port, since clients ping nodes there). */
  relayPort?: number;
  /** Port nodes listen on (where relayed pings go). */
  nodePort?: number;
  /** Port clients hear node announcements on (where forwarded announcements go). */
  clientPort?: number;
  /** Broadcast addresses to relay pings to (default: those of this machine's interfaces). */
  broadcast?: string[];
  /** Local address whose interface is relayed to (default: all). */
  ipAddr?: string;
  /** `host:port` of dispyschedulers that get node announcements too. */
  schedulers?: string[];
  /** How long (s) a client that pinged is sent node announcements (default 600). */
  clientTtl?: number;
  log?: Logger;
}

export class DispyNetRelay {
  private pings: UdpEndpoint | null = null;
  private announcements: UdpEndpoint | null = null;
  private readonly clients = new Map<string, { addr: string; port: number; until: number }>();
  readonly log: Logger;
  relayed = 0;

  constructor(readonly opts: RelayOptions = {}) {
    this.log = opts.log ?? pino({ name: 'dispynetrelay', level: 'silent' });
  }

  private targets(): string[] {
    return this.opts.broadcast ?? broadcastAddresses(this.opts.ipAddr);
  }

  async start(): Promise<void> {
    const nodePort = this.opts.nodePort ?? DEFAULT_NODE_PORT;
    const ttl = (this.opts.clientTtl ?? 600) * 1000;
    this.pings = await UdpEndpoint.open({
      port: this.opts.relayPort ?? nodePort,
      onDatagram: (d, from) => {
        if (d.t !== 'ping' || d.v !== DISPY_PROTOCOL_VERSION || d.relayed) return;
        const replyAddr = d.replyAddr || from.address;
        this.clients.set(`${replyAddr}:${d.replyPort}`, {
          addr: replyAddr,
          port: d.replyPort,
          until: Date.now() + ttl,
        });
        const to = this.targets();
        this.relayed++;
        this.log.info(`relaying ping of ${replyAddr}:${d.replyPort} to ${to.join(', ')}`);
        this.pings?.send(
          { ...d, relayed: true, ...(d.replyAddr ? {} : { origin: from.address }) },
          nodePort,
          to,
        );
      },
      onError: (e) => this.log.warn(`relay socket: ${e.message}`),
    });
    this.announcements = await UdpEndpoint.open({
      port: this.opts.clientPort ?? DEFAULT_CLIENT_PORT,
      onDatagram: (d) => this.forwardAnnouncement(d),
      onError: (e) => this.log.warn(`announcement socket: ${e.message}`),
    }).catch((e: Error) => {
      this.log.warn(`not forwarding node announcements: ${e.message}`);
      return null;
    });
  }

  private forwardAnnouncement(d: Datagram): void {
    if (d.t !== 'pong' || d.v !== DISPY_PROTOCOL_VERSION) return;
    const now = Date.now();
    for (const [k, c] of this.clients) {
      if (c.until < now) this.clients.delete(k);
      else this.announcements?.send(d, c.port, [c.addr]);
    }
    for (const s of this.opts.schedulers ?? []) {
      const m = /^(.*):(\d+)$/.exec(s);
      if (m) this.announcements?.send(d, Number(m[2]), [m[1]]);
    }
  }

  stop(): void {
    this.pings?.close();
    this.announcements?.close();
  }
}
