/**
 * Stopping a job's process the way the original does: SIGINT first (a program may clean up;
 * a function worker whose event loop is free exits at once), SIGTERM after a grace period,
 * SIGKILL after another. Resolves when the process has exited (or after the last step).
 *
 * @example
 * await terminateProcess(child, { graceMs: 2000, group: true });
 */
import type { ChildProcess } from 'node:child_process';

export interface TerminateOptions {
  /** Delay before each escalation step. */
  graceMs: number;
  /** Signal the whole process group (programs started detached). */
  group?: boolean;
}

function signal(proc: ChildProcess, sig: NodeJS.Signals, group: boolean): void {
  if (proc.pid === undefined) return;
  try {
    if (group) process.kill(-proc.pid, sig);
    else proc.kill(sig);
  } catch {
    // Already gone.
  }
}

export function terminateProcess(proc: ChildProcess, opts: TerminateOptions): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  const group = opts.group ?? false;
  return new Promise<void>((resolve) => {
    const timers: NodeJS.Timeout[] = [];
    const done = () => {
      for (const t of timers) clearTimeout(t);
      resolve();
    };
    proc.once('exit', done);
    signal(proc, 'SIGINT', group);
    timers.push(setTimeout(() => signal(proc, 'SIGTERM', group), opts.graceMs));
    timers.push(setTimeout(() => signal(proc, 'SIGKILL', group), opts.graceMs * 2));
    // Give up waiting (a zombie we cannot reap should not block the node).
    timers.push(
      setTimeout(
        () => {
          proc.off('exit', done);
          done();
        },
        opts.graceMs * 2 + 5000,
      ),
    );
  });
}
