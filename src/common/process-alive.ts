/**
 * Whether a process of this machine still runs, for the pid files and identity files the
 * daemons leave (the master's pid file, a dispy node's state file, a DDFS node's identity).
 *
 * @example
 * if (!isAlive(pid)) rmSync(pidFile); // left by a process that is gone
 */
import { readFileSync } from 'node:fs';

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces): [0] is the state. */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/**
 * True when `pid` exists and is not a zombie (exited, not yet reaped); a process of another
 * user counts as alive (`EPERM`).
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // Without /proc, kill(0) said it exists.
  return statFields(pid)?.[0] !== 'Z';
}

/**
 * What tells process `pid` apart from a later one given the same pid: its start time (clock
 * ticks after boot, /proc/<pid>/stat field 22) and its user; null when it is gone, a zombie,
 * or there is no /proc.
 *
 * @example
 * const me = processIdentity(process.pid); // { started: 123456, uid: 1000 }
 */
export function processIdentity(pid: number): { started: number; uid: number } | null {
  const f = statFields(pid);
  if (!f || f[0] === 'Z') return null;
  try {
    const started = Number(f[19]);
    const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
    return Number.isFinite(started) && Number.isFinite(uid) ? { started, uid } : null;
  } catch {
    return null;
  }
}
