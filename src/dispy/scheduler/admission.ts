/**
 * Which computations may run: `exclusive` ones run only while no other computation runs, and
 * keep others waiting while they run. Waiting computations are admitted first come, first
 * served (a computation behind a waiting one waits too, even if it could run).
 *
 * @example
 * const admission = new Admission({ computations: () => clusters.values(), onAdmitted: (c) => useNodes(c) });
 * admission.enqueue(c);
 * admission.admit(); // again whenever a computation closes
 */
import type { SchedCluster } from './computation.js';

export interface AdmissionDeps {
  /** Every computation the scheduler has (running ones decide who may start). */
  computations: () => Iterable<SchedCluster>;
  /** A computation was admitted (its state is `scheduled` now). */
  onAdmitted: (c: SchedCluster) => void;
}

export class Admission {
  /** Computations held back by `exclusive` rules, first come first. */
  private readonly waiting: SchedCluster[] = [];

  constructor(private readonly deps: AdmissionDeps) {}

  /** The computation waits for its turn (call {@link admit} to let it in when it may). */
  enqueue(c: SchedCluster): void {
    c.state = 'waiting';
    this.waiting.push(c);
  }

  /** Whether the computation still waits for its turn. */
  isWaiting(c: SchedCluster): boolean {
    return c.state === 'waiting';
  }

  /**
   * Admit waiting computations in order while the `exclusive` rules allow: an exclusive one
   * only when no other runs, any other only when no exclusive one runs.
   */
  admit(): void {
    while (this.waiting.length > 0) {
      const c = this.waiting[0];
      if (c.state !== 'waiting') {
        this.waiting.shift();
        continue;
      }
      for (const x of this.deps.computations()) {
        if (x !== c && (x.state === 'scheduled' || x.state === 'closing') && (c.exclusive || x.exclusive))
          return;
      }
      this.waiting.shift();
      c.state = 'scheduled';
      this.deps.onAdmitted(c);
    }
  }
}
