/**
 * Computations whose client went away: their results are written to disk and kept until
 * acknowledged; a client that comes back (a reconnecting `JobCluster`, `faultRecoverJobs`, a
 * restarted dispyscheduler) takes the computation over with `recover` (proving it with the
 * computation's token) and gets every unacknowledged result. A computation whose client stays
 * away for `zombieInterval` minutes is a zombie and is closed, its jobs terminated.
 *
 * @example
 * const recovery = new Recovery({ comps, zombieInterval: 60, busy: () => runner.running, closeComputation, log });
 * conn.onClose(() => recovery.clientGone(session));
 * const reply = await recovery.recover(session, recoverMessage);
 */
import type { Logger } from 'pino';
import type { HandlerResult } from '../protocol/connection.js';
import { ReplyError } from '../protocol/connection.js';
import type { JobResult, MessageOf } from '../protocol/messages.js';
import type { NodeComp } from './computation.js';
import { type Session, startPulses } from './session.js';

export interface RecoveryDeps {
  comps: ReadonlyMap<string, NodeComp>;
  /** Minutes a computation may stay without its client before it is closed. */
  zombieInterval: number;
  /** Jobs running now (for pulses). */
  busy: () => number;
  closeComputation: (comp: NodeComp, terminate: boolean) => Promise<void>;
  log: Logger;
}

export class Recovery {
  constructor(private readonly deps: RecoveryDeps) {}

  /** The session's connection closed: its computations keep their results and wait for a client. */
  clientGone(s: Session): void {
    for (const id of s.comps) {
      const comp = this.deps.comps.get(id);
      if (!comp || comp.session !== s) continue;
      comp.session = null;
      this.deps.log.info(`client of computation ${comp.spec.name} (${id}) went away; keeping its results`);
      for (const r of comp.unacked.values()) comp.stored.save(r);
      this.armZombie(comp);
    }
  }

  /** Close the computation after `zombieInterval` minutes unless a client takes it over. */
  armZombie(comp: NodeComp): void {
    if (comp.zombieTimer) clearTimeout(comp.zombieTimer);
    comp.zombieTimer = setTimeout(() => {
      comp.zombieTimer = null;
      if (comp.session) return;
      this.deps.log.warn(`computation ${comp.spec.name} (${comp.spec.computeId}) is a zombie: cleaning up`);
      void this.deps.closeComputation(comp, true);
    }, this.deps.zombieInterval * 60_000);
    comp.zombieTimer.unref();
  }

  /** The session takes the computation over and gets its unacknowledged results and job states. */
  async recover(s: Session, m: MessageOf<'recover'>): Promise<HandlerResult> {
    const comp = this.deps.comps.get(m.computeId);
    if (!comp || comp.state === 'closed')
      throw new ReplyError(`unknown computation ${m.computeId}`, 'unknown');
    if (comp.spec.token !== m.token) throw new ReplyError('wrong computation token', 'auth');
    if (comp.session && comp.session !== s) {
      comp.session.comps.delete(m.computeId);
    }
    comp.session = s;
    comp.clientId = s.clientId;
    s.comps.add(m.computeId);
    if (comp.zombieTimer) clearTimeout(comp.zombieTimer);
    comp.zombieTimer = null;
    startPulses(s, comp.spec.pulseInterval, this.deps.busy);
    // Results on disk but not in memory (kept by an earlier life of this computation); loading
    // waits for writes and removals in flight, so an acknowledged result never comes back.
    for (const r of await comp.stored.load((uid) => comp.unacked.has(uid))) comp.unacked.set(r.uid, r);
    const results: JobResult[] = [...comp.unacked.values()];
    return {
      results,
      cpus: comp.cpus,
      running: [...comp.jobs.values()].filter((j) => j.state === 'running').map((j) => j.uid),
      // A job sent ahead to a busy worker waits there: queued too.
      queued: [...comp.jobs.values()].filter((j) => j.state !== 'running').map((j) => j.uid),
    };
  }

  /** The client has these results: they are dropped from memory and disk. */
  acknowledge(s: Session, m: MessageOf<'ack'>): HandlerResult {
    const comp = this.deps.comps.get(m.computeId);
    if (!comp || comp.session !== s) return;
    for (const uid of m.uids) {
      comp.unacked.delete(uid);
      comp.stored.drop(uid);
    }
  }
}
