/**
 * The dispy job scheduler as a pure state machine: which queued job runs on which node. Used
 * by `JobCluster` (one cluster) and `dispyscheduler` (many clusters of many clients); the
 * callers perform the effects (send the job, report it) and feed back events.
 *
 * Model: nodes have `cpus`; each cluster has an allotment of CPUs on some nodes. A job runs on
 * a node with a free CPU both overall and within its cluster's allotment; a pinned job only
 * on its node. Among nodes the least loaded (busy / cpus) wins. Among clusters the policy
 * decides:
 * - `earliest-job` (default, the original's `fsfs_job_schedule`): the job submitted first,
 *   across all clusters;
 * - `fair-cluster`: the cluster that was scheduled least recently;
 * - `first-cluster`: the cluster created first (the original's `fcfs_cluster`).
 *
 * Invariants (checked by the property tests): a node never runs more jobs than its CPUs, nor a
 * cluster more than its allotment there; every job is queued, running (on one node) or gone;
 * a job is assigned at most once per submission; cancelled jobs are never assigned.
 *
 * @example
 * const s = new SchedulerState('earliest-job');
 * s.addCluster('c1'); s.addNode('n1', 2); s.allot('n1', 'c1', 2);
 * s.submit({ uid: 'c1/1', cluster: 'c1' });
 * s.next(); // [{ uid: 'c1/1', cluster: 'c1', node: 'n1' }]
 */

export type PolicyName = 'earliest-job' | 'fair-cluster' | 'first-cluster';
export const POLICIES: readonly PolicyName[] = ['earliest-job', 'fair-cluster', 'first-cluster'];

export interface JobSubmission {
  uid: string;
  cluster: string;
  /** Run only on this node. */
  pinned?: string;
}

export interface Assignment {
  uid: string;
  cluster: string;
  node: string;
}

interface JobRec {
  uid: string;
  cluster: string;
  pinned?: string;
  seq: number;
  state: 'queued' | 'running';
  node?: string;
}

/** FIFO with O(1) push/shift and lazy deletion. */
class Fifo {
  private items: JobRec[] = [];
  private head = 0;
  push(j: JobRec): void {
    this.items.push(j);
  }
  unshift(j: JobRec): void {
    if (this.head > 0) this.items[--this.head] = j;
    else this.items.unshift(j);
  }
  /** First live queued entry (skipping stale ones), without removing it. */
  peek(live: (j: JobRec) => boolean): JobRec | undefined {
    while (this.head < this.items.length && !live(this.items[this.head])) this.head++;
    this.compact();
    return this.items[this.head];
  }
  shift(): JobRec | undefined {
    const j = this.items[this.head++];
    this.compact();
    return j;
  }
  get size(): number {
    return this.items.length - this.head;
  }
  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

interface ClusterRec {
  id: string;
  created: number;
  lastScheduled: number;
  queue: Fifo;
  pinned: Map<string, Fifo>;
  queued: number;
}

interface NodeRec {
  key: string;
  cpus: number;
  busy: number;
  alloc: Map<string, number>;
  busyBy: Map<string, number>;
}

export class SchedulerState {
  private readonly clusters = new Map<string, ClusterRec>();
  private readonly nodes = new Map<string, NodeRec>();
  private readonly jobs = new Map<string, JobRec>();
  private seq = 0;
  private tick = 0;

  constructor(readonly policy: PolicyName = 'earliest-job') {}

  addCluster(id: string): void {
    if (this.clusters.has(id)) return;
    this.clusters.set(id, {
      id,
      created: this.seq++,
      lastScheduled: -1,
      queue: new Fifo(),
      pinned: new Map(),
      queued: 0,
    });
  }

  /** Remove a cluster; returns its queued jobs (dropped) — running ones stay until done. */
  removeCluster(id: string): string[] {
    const c = this.clusters.get(id);
    if (!c) return [];
    const dropped: string[] = [];
    for (const j of [...this.jobs.values()]) {
      if (j.cluster === id && j.state === 'queued') {
        this.jobs.delete(j.uid);
        dropped.push(j.uid);
      }
    }
    this.clusters.delete(id);
    for (const n of this.nodes.values()) n.alloc.delete(id);
    return dropped;
  }

  hasCluster(id: string): boolean {
    return this.clusters.has(id);
  }

  addNode(key: string, cpus: number): void {
    const n = this.nodes.get(key);
    if (n) n.cpus = cpus;
    else this.nodes.set(key, { key, cpus, busy: 0, alloc: new Map(), busyBy: new Map() });
  }

  hasNode(key: string): boolean {
    return this.nodes.has(key);
  }

  /** Let `cluster` use `cpus` CPUs of `node` (0 stops new jobs there). */
  allot(node: string, cluster: string, cpus: number): void {
    const n = this.nodes.get(node);
    if (!n || !this.clusters.has(cluster)) return;
    if (cpus > 0) n.alloc.set(cluster, cpus);
    else n.alloc.delete(cluster);
  }

  allotment(node: string, cluster: string): number {
    return this.nodes.get(node)?.alloc.get(cluster) ?? 0;
  }

  /** Remove a node; returns the jobs that were running there (no longer tracked). */
  removeNode(key: string): Assignment[] {
    const n = this.nodes.get(key);
    if (!n) return [];
    this.nodes.delete(key);
    const lost: Assignment[] = [];
    for (const j of [...this.jobs.values()]) {
      if (j.state === 'running' && j.node === key) {
        this.jobs.delete(j.uid);
        lost.push({ uid: j.uid, cluster: j.cluster, node: key });
      }
    }
    return lost;
  }

  /** Jobs pinned to a node that is gone can never run: the caller ends them. */
  pinnedTo(node: string): string[] {
    const out: string[] = [];
    for (const j of this.jobs.values()) if (j.state === 'queued' && j.pinned === node) out.push(j.uid);
    return out;
  }

  submit(job: JobSubmission): void {
    this.enqueue(job, false);
  }

  /** Queue a job again (its node died, reentrant): it goes first. */
  resubmit(job: JobSubmission): void {
    this.enqueue(job, true);
  }

  private enqueue(job: JobSubmission, front: boolean): void {
    const c = this.clusters.get(job.cluster);
    if (!c) throw new Error(`unknown cluster ${job.cluster}`);
    if (this.jobs.has(job.uid)) throw new Error(`job ${job.uid} is already scheduled`);
    const rec: JobRec = {
      uid: job.uid,
      cluster: job.cluster,
      seq: front ? -1 - this.seq++ : this.seq++,
      state: 'queued',
      ...(job.pinned ? { pinned: job.pinned } : {}),
    };
    this.jobs.set(job.uid, rec);
    c.queued++;
    let q = c.queue;
    if (job.pinned) {
      q = c.pinned.get(job.pinned) ?? new Fifo();
      c.pinned.set(job.pinned, q);
    }
    if (front) q.unshift(rec);
    else q.push(rec);
  }

  /**
   * Record a job found running on a node (after a restart the scheduler learns them from the
   * nodes): it occupies a CPU there like an assigned job.
   */
  adopt(uid: string, cluster: string, node: string): void {
    const n = this.nodes.get(node);
    if (!this.clusters.has(cluster) || !n) throw new Error(`unknown cluster ${cluster} or node ${node}`);
    if (this.jobs.has(uid)) return;
    this.jobs.set(uid, { uid, cluster, seq: this.seq++, state: 'running', node });
    n.busy++;
    n.busyBy.set(cluster, (n.busyBy.get(cluster) ?? 0) + 1);
  }

  /** Cancel: a queued job is removed ('queued'); a running one must be stopped ('running'). */
  cancel(uid: string): 'queued' | 'running' | 'unknown' {
    const j = this.jobs.get(uid);
    if (!j) return 'unknown';
    if (j.state === 'running') return 'running';
    this.jobs.delete(uid);
    const c = this.clusters.get(j.cluster);
    if (c) c.queued--;
    return 'queued';
  }

  /** A running job ended (finished, failed, cancelled): its CPU is free. */
  done(uid: string): void {
    const j = this.jobs.get(uid);
    if (!j) return;
    this.jobs.delete(uid);
    if (j.state === 'queued') {
      const c = this.clusters.get(j.cluster);
      if (c) c.queued--;
      return;
    }
    const n = j.node ? this.nodes.get(j.node) : undefined;
    if (n) {
      n.busy--;
      n.busyBy.set(j.cluster, (n.busyBy.get(j.cluster) ?? 1) - 1);
    }
  }

  /** Where a running job runs. */
  nodeOf(uid: string): string | undefined {
    const j = this.jobs.get(uid);
    return j?.state === 'running' ? j.node : undefined;
  }

  stateOf(uid: string): 'queued' | 'running' | undefined {
    return this.jobs.get(uid)?.state;
  }

  queued(cluster?: string): number {
    if (cluster !== undefined) return this.clusters.get(cluster)?.queued ?? 0;
    let n = 0;
    for (const c of this.clusters.values()) n += c.queued;
    return n;
  }

  running(node?: string): number {
    if (node !== undefined) return this.nodes.get(node)?.busy ?? 0;
    let n = 0;
    for (const x of this.nodes.values()) n += x.busy;
    return n;
  }

  /** Jobs running on a node (uids). */
  runningOn(node: string): string[] {
    const out: string[] = [];
    for (const j of this.jobs.values()) if (j.state === 'running' && j.node === node) out.push(j.uid);
    return out;
  }

  /** Whether any node could ever run jobs of `cluster` (it has an allotment somewhere). */
  hasCapacity(cluster: string): boolean {
    for (const n of this.nodes.values()) if ((n.alloc.get(cluster) ?? 0) > 0) return true;
    return false;
  }

  private free(n: NodeRec, cluster: string): boolean {
    return n.busy < n.cpus && (n.busyBy.get(cluster) ?? 0) < (n.alloc.get(cluster) ?? 0);
  }

  private live = (j: JobRec): boolean => this.jobs.get(j.uid) === j && j.state === 'queued';

  /** The best job of a cluster that can run now, with its node. */
  private candidate(c: ClusterRec): { job: JobRec; node: NodeRec; q: Fifo } | null {
    let best: { job: JobRec; node: NodeRec; q: Fifo } | null = null;
    for (const [nodeKey, q] of c.pinned) {
      const n = this.nodes.get(nodeKey);
      const head = q.peek(this.live);
      if (!head || !n || !this.free(n, c.id)) continue;
      if (!best || head.seq < best.job.seq) best = { job: head, node: n, q };
    }
    const head = c.queue.peek(this.live);
    if (head && (!best || head.seq < best.job.seq)) {
      let node: NodeRec | null = null;
      for (const n of this.nodes.values()) {
        if (!this.free(n, c.id)) continue;
        if (!node || n.busy / n.cpus < node.busy / node.cpus) node = n;
      }
      if (node) best = { job: head, node, q: c.queue };
    }
    return best;
  }

  /** Assign queued jobs to free CPUs; the returned jobs are now running. */
  next(limit = Number.POSITIVE_INFINITY): Assignment[] {
    const out: Assignment[] = [];
    const blocked = new Set<string>();
    while (out.length < limit) {
      let pick: { c: ClusterRec; job: JobRec; node: NodeRec; q: Fifo } | null = null;
      for (const c of this.clusters.values()) {
        if (c.queued === 0 || blocked.has(c.id)) continue;
        const cand = this.candidate(c);
        if (!cand) {
          blocked.add(c.id);
          continue;
        }
        if (!pick || this.better(c, cand.job, pick.c, pick.job)) pick = { c, ...cand };
        if (this.clusters.size === 1) break;
      }
      if (!pick) break;
      const { c, job, node, q } = pick;
      q.shift();
      job.state = 'running';
      job.node = node.key;
      c.queued--;
      c.lastScheduled = this.tick++;
      node.busy++;
      node.busyBy.set(c.id, (node.busyBy.get(c.id) ?? 0) + 1);
      out.push({ uid: job.uid, cluster: c.id, node: node.key });
    }
    return out;
  }

  private better(c: ClusterRec, j: JobRec, oc: ClusterRec, oj: JobRec): boolean {
    switch (this.policy) {
      case 'fair-cluster':
        return c.lastScheduled < oc.lastScheduled || (c.lastScheduled === oc.lastScheduled && j.seq < oj.seq);
      case 'first-cluster':
        return c.created < oc.created;
      default:
        return j.seq < oj.seq;
    }
  }
}
