/**
 * UDP discovery for a dispynode: it answers clients' `ping`s with a `pong` (its address, CPUs
 * and whether it is busy), and while free announces itself on the broadcast addresses every
 * `pingInterval` seconds (and once shortly after starting), so clients that started first
 * find it.
 *
 * @example
 * const announcer = new NodeAnnouncer({ options, port: () => node.port, ipAddr: () => node.ipAddr, holder, log });
 * await announcer.start(); // a node without UDP still serves TCP: failures are logged
 * announcer.close();
 */
import type { Logger } from 'pino';
import { broadcastAddresses } from '../discovery/addresses.js';
import { UdpEndpoint } from '../discovery/udp.js';
import { DISPY_PROTOCOL_VERSION } from '../protocol/constants.js';
import type { Datagram } from '../protocol/messages.js';
import type { ResolvedNodeOptions } from './options.js';

export interface NodeAnnouncerDeps {
  options: Pick<
    ResolvedNodeOptions,
    'secret' | 'name' | 'cpus' | 'ipAddr' | 'broadcast' | 'clientPort' | 'pingInterval'
  >;
  /** The node's TCP port (also its UDP port). */
  port: () => number;
  /** The address clients should use for the node. */
  ipAddr: () => string;
  /** The client the node serves (null when free). */
  holder: () => string | null;
  log: Logger;
}

export class NodeAnnouncer {
  private udp: UdpEndpoint | null = null;
  private announceTimer: NodeJS.Timeout | null = null;

  constructor(private readonly deps: NodeAnnouncerDeps) {}

  async start(): Promise<void> {
    const { options: o, log } = this.deps;
    try {
      this.udp = await UdpEndpoint.open({
        port: this.deps.port(),
        secret: o.secret,
        onRejected: (from) => log.debug(`dropped a discovery datagram from ${from.address}: bad signature`),
        onDatagram: (d, from) => {
          if (d.t !== 'ping' || d.v !== DISPY_PROTOCOL_VERSION) return;
          const to = d.replyAddr || d.origin || from.address;
          log.debug(
            `ping from ${from.address}:${from.port}${d.relayed ? ' (relayed)' : ''}: answering ${to}:${d.replyPort}`,
          );
          this.udp?.send(this.pong(), d.replyPort, [to]);
        },
        onError: (e) => log.warn(`discovery socket: ${e.message}`),
      });
    } catch (e) {
      log.warn(`UDP discovery disabled: ${(e as Error).message}`);
      return;
    }
    const announce = () => {
      if (this.deps.holder()) return;
      const to = o.broadcast ?? broadcastAddresses(o.ipAddr);
      if (to.length) this.udp?.send(this.pong(), o.clientPort, to);
    };
    setTimeout(announce, 200).unref();
    if (o.pingInterval > 0) {
      this.announceTimer = setInterval(announce, o.pingInterval * 1000);
      this.announceTimer.unref();
    }
  }

  close(): void {
    if (this.announceTimer) clearInterval(this.announceTimer);
    this.udp?.close();
  }

  private pong(): Datagram {
    const { options: o } = this.deps;
    return {
      t: 'pong',
      v: DISPY_PROTOCOL_VERSION,
      ipAddr: this.deps.ipAddr(),
      port: this.deps.port(),
      name: o.name,
      cpus: o.cpus,
      busy: this.deps.holder() !== null,
    };
  }
}
