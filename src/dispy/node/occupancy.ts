/**
 * Which client a dispynode serves, and how many it has served: a node serves one client
 * program at a time (its computations, running jobs or open connection hold the node), and
 * with `--serve N` it stops once N clients have come and gone.
 *
 * @example
 * const occupancy = new Occupancy({ comps, serve: 1, log, stop: () => void node.stop() });
 * if (occupancy.holder() !== clientId) refuse();
 * occupancy.markBusy();   // a computation arrived
 * occupancy.checkFree();  // whenever a job ends, a computation closes or a client leaves
 */
import type { Logger } from 'pino';
import type { NodeComp } from './computation.js';

export interface OccupancyDeps {
  comps: ReadonlyMap<string, NodeComp>;
  /** Clients to serve before stopping (0 or less: no limit). */
  serve: number;
  log: Logger;
  stop: () => void;
}

export class Occupancy {
  private served = 0;
  private wasBusy = false;

  constructor(private readonly deps: OccupancyDeps) {}

  /** The client this node is serving (null when free). */
  holder(): string | null {
    for (const c of this.deps.comps.values()) {
      if (c.state === 'closed') continue;
      if (c.session || c.jobs.size > 0) return c.clientId;
    }
    return null;
  }

  /** A client's computation arrived: the node counts as busy until it is free again. */
  markBusy(): void {
    this.wasBusy = true;
  }

  /** Count served clients when the node becomes free; stop after `serve` of them. */
  checkFree(): void {
    if (!this.wasBusy || this.holder() !== null) return;
    const open = [...this.deps.comps.values()].some((c) => c.session !== null);
    if (open) return;
    this.wasBusy = false;
    this.served++;
    if (this.deps.serve > 0 && this.served >= this.deps.serve) {
      this.deps.log.info(`served ${this.served} clients: stopping`);
      this.deps.stop();
    }
  }
}
