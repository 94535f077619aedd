/**
 * What the monitor page shows of dispyscheduler: every computation with its nodes and the jobs
 * running there.
 *
 * @example
 * const clusters = monitorView(computations.values(), { nodes: directory.nodes, sched, report: (c, n, l) => nodeSide.report(c, n, l) });
 */
import type { NodeLink } from '../client/node-link.js';
import { describeArgs, type MonitorCluster, type MonitorJob, type MonitorNode } from '../monitor/model.js';
import { decodeData } from '../protocol/codec.js';
import type { NodeReport } from '../protocol/messages.js';
import { jobKey, type SchedCluster } from './computation.js';
import type { NodeEntry } from './node-directory.js';
import type { SchedulerState } from './policy.js';

export interface MonitorViewSources {
  nodes: ReadonlyMap<string, NodeEntry>;
  sched: SchedulerState;
  report: (c: SchedCluster, n: NodeEntry, link?: NodeLink) => NodeReport;
}

export function monitorView(computations: Iterable<SchedCluster>, src: MonitorViewSources): MonitorCluster[] {
  return [...computations].map((c) => {
    const nodes: MonitorNode[] = [];
    for (const [key, link] of c.links) {
      const n = src.nodes.get(key);
      if (n) nodes.push(src.report(c, n, link));
    }
    const jobs: MonitorJob[] = [];
    for (const j of c.jobs.values()) {
      const node = src.sched.nodeOf(jobKey(c.computeId, j.uid));
      if (!node) continue;
      let args = '';
      try {
        const a = decodeData(j.args);
        args = describeArgs(Array.isArray(a) ? a : [a]);
      } catch {
        args = '?';
      }
      jobs.push({
        uid: j.uid,
        id: String(j.uid),
        status: 'Running',
        node: node.split(':')[0],
        startTime: null,
        args,
      });
    }
    return {
      computeId: c.computeId,
      name: c.spec.name,
      submitted: c.submitted,
      done: c.submitted - c.jobs.size,
      pending: c.jobs.size,
      nodes,
      jobs,
    };
  });
}
