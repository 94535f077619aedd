/**
 * Starting and killing worker processes (wire spec §3.1, §3.3 "Killing").
 *
 * Workers run through `/bin/sh -c 'exec nice -n 19 <cmd> 2>&1'` as in the original, so the
 * worker's stdout and stderr are one stream to the node, in the order written. The command is
 * passed as positional parameters, never spliced into the shell text, so no path needs
 * quoting. Each worker leads its own process group; killing the group takes the worker's
 * children too (the original's `pkill -9 -P pid; kill -9 pid`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

/** How to start one worker process. */
export interface LaunchSpec {
  /** Executable (absolute, or relative to `cwd` with a `./`). */
  file: string;
  args: readonly string[];
  cwd: string;
  env: Record<string, string>;
}

/** The worker file of a job home (`jobdict.worker`), run with the job home as cwd. */
export function jobWorkerLaunch(jobHome: string, worker: string, env: Record<string, string>): LaunchSpec {
  return { file: `./${path.posix.normalize(worker)}`, args: [], cwd: jobHome, env };
}

/** Spawn a worker niced, in its own process group, stdout+stderr merged on `child.stdout`. */
export function spawnWorker(spec: LaunchSpec): ChildProcess {
  const script = 'exec nice -n 19 "$0" "$@" 2>&1';
  return spawn('/bin/sh', ['-c', script, spec.file, ...spec.args], {
    cwd: spec.cwd,
    env: spec.env,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** SIGKILL the worker's whole process group (no-op if it is gone). */
export function killWorkerGroup(child: ChildProcess): void {
  const pid = child.pid;
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: the group is already gone.
  }
  try {
    child.kill('SIGKILL');
  } catch {
    // Already reaped.
  }
}
