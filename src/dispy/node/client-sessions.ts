/**
 * A dispynode's client connections: one {@link Session} per connection (a `JobCluster`
 * process or a dispyscheduler), its requests handed to the part that serves them, and what
 * happens when it goes away (its computations wait for a client to recover them).
 *
 * A computation belongs to the connection that sent it (or that took it over with `recover`);
 * requests for it from another connection are refused.
 *
 * @example
 * const sessions = new ClientSessions({ comps, lifecycle, runner, recovery, files, occupancy, info, log });
 * listen({ ..., onConnection: (conn, peer) => sessions.onConnection(conn, peer) });
 */
import type { Logger } from 'pino';
import { ProtocolError } from '../../common/errors.js';
import type { Connection, HandlerResult } from '../protocol/connection.js';
import type { Message, MessageOf, NodeInfo } from '../protocol/messages.js';
import type { PeerIdentity } from '../protocol/transport.js';
import { type NodeComp, ownComputation } from './computation.js';
import type { ComputationLifecycle } from './computation-lifecycle.js';
import type { FileTransfer } from './file-transfer.js';
import type { JobRunner } from './job-runner.js';
import type { Occupancy } from './occupancy.js';
import type { Recovery } from './recovery.js';
import type { Session } from './session.js';

export interface ClientSessionsDeps {
  comps: ReadonlyMap<string, NodeComp>;
  lifecycle: ComputationLifecycle;
  runner: JobRunner;
  recovery: Recovery;
  files: FileTransfer;
  occupancy: Occupancy;
  /** What the node tells clients about itself. */
  info: () => NodeInfo;
  log: Logger;
}

export class ClientSessions {
  private readonly sessions = new Set<Session>();

  constructor(private readonly deps: ClientSessionsDeps) {}

  /** A client connected (and authenticated). */
  onConnection(conn: Connection, peer: PeerIdentity): void {
    const s: Session = {
      conn,
      clientId: peer.clientId,
      address: peer.address,
      comps: new Set(),
      pulseTimer: null,
      pulseSec: 0,
    };
    this.sessions.add(s);
    conn.onMessage((m) => this.handle(s, m));
    conn.onClose(() => this.detach(s));
  }

  /** Stop pulses and close every connection (the node stops). */
  closeAll(): void {
    for (const s of this.sessions) {
      if (s.pulseTimer) clearInterval(s.pulseTimer);
      s.conn.close();
    }
  }

  private handle(s: Session, m: Message): HandlerResult | Promise<HandlerResult> {
    const { lifecycle, runner, recovery, files } = this.deps;
    switch (m.t) {
      case 'info':
        return { info: this.deps.info() };
      case 'compute':
        return lifecycle.compute(s, m);
      case 'file':
        return this.file(s, m, false);
      case 'sendFile':
        return this.file(s, m, true);
      case 'setup':
        return this.setup(s, m);
      case 'job':
        return runner.submit(s, this.deps.comps.get(m.computeId), m);
      case 'cancel': {
        const comp = this.own(s, m.computeId);
        const job = comp.jobs.get(m.uid);
        if (job) runner.stopJob(job, 'Cancelled');
        return;
      }
      case 'close':
        return this.close(s, m);
      case 'recover':
        return recovery.recover(s, m);
      case 'ack':
        return recovery.acknowledge(s, m);
      case 'setCpus':
        return lifecycle.setCpus(this.own(s, m.computeId), m.cpus);
      case 'jobs': {
        const comp = this.own(s, m.computeId);
        return { uids: [...comp.jobs.keys()] };
      }
      case 'xferDone':
        return files.done(m);
      case 'pulse':
        return;
      case 'error':
        this.deps.log.warn(`client ${s.address} reports: ${m.message}`);
        return;
      default:
        throw new ProtocolError(`a node does not handle '${m.t}' messages`);
    }
  }

  // These are async so that a refusal (not the session's computation) rejects, as their work does.

  private async file(
    s: Session,
    m: MessageOf<'file'> | MessageOf<'sendFile'>,
    anyPath: boolean,
  ): Promise<HandlerResult> {
    return this.deps.files.receive(this.own(s, m.computeId), m, anyPath);
  }

  private async setup(s: Session, m: MessageOf<'setup'>): Promise<HandlerResult> {
    return this.deps.lifecycle.setup(this.own(s, m.computeId), m);
  }

  private async close(s: Session, m: MessageOf<'close'>): Promise<HandlerResult> {
    await this.deps.lifecycle.close(this.own(s, m.computeId), m.terminate);
    return {};
  }

  private detach(s: Session): void {
    this.sessions.delete(s);
    if (s.pulseTimer) clearInterval(s.pulseTimer);
    this.deps.recovery.clientGone(s);
    this.deps.occupancy.checkFree();
  }

  /** The computation, which must belong to this session. */
  private own(s: Session, computeId: string): NodeComp {
    return ownComputation(this.deps.comps, s, computeId);
  }
}
