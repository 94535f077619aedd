/**
 * Data-locality rules of the scheduler (wire spec §4.2, §3.5, §0.1): may a task run on a node
 * (`force_local`, `force_remote`, the task's `avoid` list), can it run anywhere at all, and in
 * which order should a worker see the replicas of its inputs.
 *
 * @example
 * orderInputsForNode([['disco://a/x', 'disco://b/x']], 'b'); // [['disco://b/x', 'disco://a/x']]
 */
import { urlHost } from '../../protocol/urls.js';
import type { QueueEntry } from './task-queue.js';
import type { SchedTask } from './types.js';

/**
 * The task's replica sets with, inside each set, the replicas stored on `node` first and the
 * others after them, each group in its original order (stable), so the worker reads locally
 * when it can and falls back to the other replicas without a task retry.
 */
export function orderInputsForNode(inputs: string[][], node: string): string[][] {
  return inputs.map((replicas) => {
    if (replicas.length < 2) return replicas.slice();
    const local: string[] = [];
    const remote: string[] = [];
    for (const url of replicas) (urlHost(url) === node ? local : remote).push(url);
    return local.length === 0 ? remote : local.concat(remote);
  });
}

/** May `task` run on `node` as far as force_local / force_remote are concerned? */
export function forceAllows(task: SchedTask, node: string): boolean {
  if (task.forceLocal && !task.preferredHosts.includes(node)) return false;
  if (task.forceRemote && task.preferredHosts.includes(node)) return false;
  return true;
}

/**
 * Whether the entry's task may run on `node`. `usable` lists the nodes that accept tasks at
 * all (connected, not blacklisted) and `epoch` identifies that list: the "is the avoid list
 * covering every node?" answer is cached per epoch on the entry, which keeps this O(1) for the
 * common case and sound for the queue's scan memo.
 */
export function suitable(e: QueueEntry, node: string, usable: readonly string[], epoch: number): boolean {
  const t = e.task;
  if (!forceAllows(t, node)) return false;
  if (t.avoid.length === 0 || !t.avoid.includes(node)) return true;
  if (e.avoidEpoch !== epoch) {
    e.avoidIgnored = avoidIgnored(t, usable);
    e.avoidEpoch = epoch;
  }
  return e.avoidIgnored;
}

/**
 * True when the task's `avoid` list covers every usable node the task could run on, so it must
 * be ignored. The original resets the task blacklist when it covers every node; same idea, but
 * only nodes the task may use at all (force_* constraints) count.
 */
export function avoidIgnored(task: SchedTask, usable: readonly string[]): boolean {
  if (task.avoid.length === 0) return false;
  return usable.every((n) => !forceAllows(task, n) || task.avoid.includes(n));
}

function inputList(task: SchedTask): string {
  return task.inputs
    .flat()
    .map((u) => ` ${u}`)
    .join('');
}

/**
 * Why the task can never run with the given known nodes, or null when it can (or when no node
 * is known yet: the check is then repeated when the node list arrives). Texts follow the
 * original (`fair_scheduler_job.erl` `on_error/2`); the coordinator prefixes `ERROR: [mode:N]`.
 */
export function forceError(task: SchedTask, known: ReadonlySet<string>): string | null {
  if (known.size === 0 || (!task.forceLocal && !task.forceRemote)) return null;
  const where = 'but there are no nodes where it could be run';
  if (task.forceLocal && task.forceRemote)
    return `Task is forced to be both local and remote ${where} (inputs:${inputList(task)})`;
  if (task.forceLocal) {
    if (task.preferredHosts.some((h) => known.has(h))) return null;
    return `Task is forced to be local ${where} (inputs:${inputList(task)})`;
  }
  for (const n of known) if (!task.preferredHosts.includes(n)) return null;
  return `Task is forced to be remote ${where} (inputs:${inputList(task)})`;
}
