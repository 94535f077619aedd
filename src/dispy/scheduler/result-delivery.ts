/**
 * Results on their way from nodes (or from the scheduler itself) to the client.
 *
 * A result stays in `unacked` until the client acknowledges it, and only then is it
 * acknowledged to the node that ran the job (`ackTo`): a node keeps each result until the
 * client has it. Results the client is not there to take, and results the scheduler made
 * itself (no node holds them), are written to the computation's `ResultStore` so that a
 * restarted scheduler still has them.
 *
 * @example
 * deliver(c, madeResult(c, uid, 'Cancelled'), true);
 * // …the client sends `ack`:
 * acknowledged(c, uid);
 */
import type { JobResult } from '../protocol/messages.js';
import type { SchedCluster } from './computation.js';

/** A result the scheduler reports itself (the job never reached a node, or its node is gone). */
export function madeResult(
  c: SchedCluster,
  uid: number,
  status: JobResult['status'],
  exception?: string,
  ipAddr = '',
): JobResult {
  const now = Date.now() / 1000;
  return {
    computeId: c.computeId,
    uid,
    status,
    stdout: '',
    stderr: '',
    ...(exception !== undefined ? { exception } : {}),
    startTime: now,
    endTime: now,
    ipAddr,
  };
}

/**
 * Hand a result to the client (kept until it acknowledges). Results the client is not there
 * to take, and results the scheduler made itself (`made`: no node holds them), go to disk.
 */
export function deliver(c: SchedCluster, r: JobResult, made = false): void {
  c.unacked.set(r.uid, r);
  const conn = c.session?.conn;
  if (conn && !conn.closed) {
    conn.send({ t: 'result', ...r });
    if (made) c.stored.save(r);
  } else c.stored.save(r);
}

/** The client has a result: forget it here, and let the node that ran the job forget it too. */
export function acknowledged(c: SchedCluster, uid: number): void {
  c.unacked.delete(uid);
  c.stored.drop(uid);
  const link = c.ackTo.get(uid);
  if (link) {
    c.ackTo.delete(uid);
    link.ack(uid);
  }
}

/** The client is gone (or the scheduler stops): every result it has not acknowledged goes to disk. */
export function storeUnacked(c: SchedCluster): void {
  for (const r of c.unacked.values()) c.stored.save(r);
}
