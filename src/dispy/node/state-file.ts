/**
 * The node's record of its own processes (`<root>/dispynode-<port>.json`): its pid and the pids
 * of its workers and program jobs. A second dispynode on the same root and port refuses to
 * start while the recorded node lives; after a crash, `--clean` kills the recorded processes
 * that are still ours (checked through `/proc`) and deletes the old files.
 *
 * @example
 * const prev = readStateFile(file); if (prev && isAlive(prev.pid)) throw ...
 */
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { z } from 'zod';
import { writeFileAtomicSync } from '../../common/fs-atomic.js';
import { isAlive } from '../../common/process-alive.js';

export const NodeStateSchema = z.object({
  pid: z.number().int(),
  instance: z.string(),
  root: z.string(),
  workers: z.array(z.number().int()),
  programs: z.array(z.number().int()),
});
export type NodeState = z.infer<typeof NodeStateSchema>;

export function readStateFile(file: string): NodeState | null {
  if (!existsSync(file)) return null;
  try {
    return NodeStateSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    return null;
  }
}

export function writeStateFile(file: string, s: NodeState): void {
  writeFileAtomicSync(file, JSON.stringify(s), { fsync: false });
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

function cwdOf(pid: number): string {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return '';
  }
}

/** Kill the processes a crashed node left behind; only those that are verifiably ours. */
export function killLeftovers(s: NodeState): number[] {
  const killed: number[] = [];
  const tryKill = (pid: number, group: boolean) => {
    try {
      process.kill(group ? -pid : pid, 'SIGKILL');
      killed.push(pid);
    } catch {
      // gone
    }
  };
  for (const pid of s.workers) if (isAlive(pid) && cmdline(pid).includes('dispy-worker')) tryKill(pid, false);
  for (const pid of s.programs) if (isAlive(pid) && cwdOf(pid).startsWith(s.root)) tryKill(pid, true);
  return killed;
}
