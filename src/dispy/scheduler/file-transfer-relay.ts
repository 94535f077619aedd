/**
 * Relays `dispySendFile` transfers from nodes to clients. Transfer ids are chosen by each
 * node, so the scheduler gives every (node, transfer) its own id toward the client, and sends
 * the client's `xferDone` back to the node under the node's id.
 *
 * @example
 * const relay = new FileTransferRelay();
 * session.conn.send({ ...m, xferId: relay.idFor(link, m.xferId) });
 * relay.done(clientXferDone); // forwarded to the node
 */
import type { NodeLink } from '../client/node-link.js';
import type { MessageOf } from '../protocol/messages.js';

export class FileTransferRelay {
  private readonly byClientId = new Map<number, { link: NodeLink; xferId: number }>();
  private readonly byNodeXfer = new Map<string, number>();
  private nextId = 1;

  /** The id toward the client of the node's transfer `nodeXfer` (chunks of one transfer keep one id). */
  idFor(link: NodeLink, nodeXfer: number): number {
    const k = `${link.key}/${nodeXfer}`;
    let id = this.byNodeXfer.get(k);
    if (id === undefined) {
      id = this.nextId++;
      this.byNodeXfer.set(k, id);
    }
    this.byClientId.set(id, { link, xferId: nodeXfer });
    return id;
  }

  /** The client finished (or refused) a transfer: tell the node that sent it. */
  done(m: MessageOf<'xferDone'>): void {
    const x = this.byClientId.get(m.xferId);
    if (!x) return;
    this.byClientId.delete(m.xferId);
    this.byNodeXfer.delete(`${x.link.key}/${x.xferId}`);
    x.link.conn?.send({ ...m, computeId: x.link.opts.spec.computeId, xferId: x.xferId });
  }
}
