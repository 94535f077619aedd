/**
 * Starting and stopping the master from the command line (`disco start|stop|restart|status|
 * nodaemon`) and running a node in the foreground (`disco node`). The master runs as
 * `node dist/master.js` with every setting in its environment (plus `DISCO_SETTINGS`, the
 * list of their names, as the original passes them); as a daemon it is detached, logs to
 * `DISCO_LOG_DIR/master.log`, and its pid is kept in `DISCO_PID_DIR/master.pid`. The master
 * starts the nodes of its own machine itself.
 *
 * @example
 * await startMaster(ctx); // prints "master started (pid 4242), web interface at http://host:8989"
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { NO_RETRY, request, sleep } from '../client/http.js';
import { writeFileAtomicSync } from '../common/fs-atomic.js';
import { isAlive } from '../common/process-alive.js';
import { PACKAGE_ROOT, SETTING_NAMES, type Settings } from '../common/settings.js';
import type { CommandContext } from './command-context.js';
import { CliExit, EXIT_NOT_RUNNING } from './io.js';

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;

/** A built entry point of this package (`dist/<name>.js`), or a clear error. */
export function distEntry(name: string): string {
  const file = path.join(PACKAGE_ROOT, 'dist', `${name}.js`);
  if (!existsSync(file)) throw new CliExit(`${file} is missing: run npm run build`);
  return file;
}

/** The environment of a master or node process: ours plus every setting. */
export function daemonEnv(settings: Settings): NodeJS.ProcessEnv {
  return { ...process.env, ...settings.all(), DISCO_SETTINGS: SETTING_NAMES.join(',') };
}

function pidFile(settings: Settings): string {
  return path.join(settings.get('DISCO_PID_DIR'), 'master.pid');
}

/** True unless we can see that `pid` runs something other than our master (pid reuse). */
function looksLikeMaster(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('master.js');
  } catch {
    return true; // no /proc: trust the pid file
  }
}

/** The pid of the running master daemon, or null. */
export function runningMasterPid(settings: Settings): number | null {
  let text: string;
  try {
    text = readFileSync(pidFile(settings), 'utf8').trim();
  } catch {
    return null;
  }
  const pid = Number.parseInt(text, 10);
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) && looksLikeMaster(pid) ? pid : null;
}

/** URLs at which the local master should answer. */
function probeUrls(settings: Settings): string[] {
  const port = settings.get('DISCO_PORT');
  const listen = settings.get('DISCO_LISTEN_HOST');
  const urls = [settings.get('DISCO_MASTER'), `http://127.0.0.1:${port}`];
  if (listen && listen !== '0.0.0.0' && listen !== '::') urls.push(`http://${listen}:${port}`);
  return [...new Set(urls)];
}

/** Whether a master answers `/disco/version` at one of its addresses. */
export async function masterAnswers(settings: Settings): Promise<boolean> {
  for (const base of probeUrls(settings)) {
    try {
      await request(`${base.replace(/\/$/, '')}/disco/version`, { retry: NO_RETRY, timeoutMs: 1000 });
      return true;
    } catch {
      // try the next address
    }
  }
  return false;
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** `disco start`. */
export async function startMaster(ctx: CommandContext): Promise<void> {
  const s = ctx.settings;
  const web = s.get('DISCO_MASTER');
  const running = runningMasterPid(s);
  if (running) {
    ctx.io.out(`master already running (pid ${running}), web interface at ${web}`);
    return;
  }
  const entry = distEntry('master');
  const logDir = s.get('DISCO_LOG_DIR');
  mkdirSync(logDir, { recursive: true });
  mkdirSync(s.get('DISCO_PID_DIR'), { recursive: true });
  mkdirSync(s.get('DISCO_ROOT'), { recursive: true });
  const logFile = path.join(logDir, 'master.log');
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [entry], {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: daemonEnv(s),
      // A daemon must not keep the caller's directory busy.
      cwd: s.get('DISCO_ROOT'),
    });
  } finally {
    closeSync(fd);
  }
  let exited: number | null = null;
  child.on('exit', (code, signal) => {
    exited = code ?? (signal ? 128 : 1);
  });
  child.unref();
  if (!child.pid) throw new CliExit('could not start the master process');
  writeFileAtomicSync(pidFile(s), `${child.pid}\n`);
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (exited !== null) {
      rmSync(pidFile(s), { force: true });
      const last = tail(logFile);
      throw new CliExit(
        `the master exited (status ${exited}) while starting; see ${logFile}${last ? `:\n${last}` : ''}`,
      );
    }
    if (await masterAnswers(s)) break;
    if (Date.now() > deadline) {
      throw new CliExit(
        `the master (pid ${child.pid}) did not answer within ${START_TIMEOUT_MS / 1000} s; see ${logFile}`,
      );
    }
    await sleep(100);
  }
  ctx.io.out(`master started (pid ${child.pid}), web interface at ${web}`);
}

/** `disco stop`: SIGTERM, wait, SIGKILL if it does not stop. */
export async function stopMaster(ctx: CommandContext): Promise<void> {
  const s = ctx.settings;
  const pid = runningMasterPid(s);
  if (!pid) {
    rmSync(pidFile(s), { force: true });
    ctx.io.out('master is not running');
    return;
  }
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(pid)) {
    process.kill(pid, 'SIGKILL');
    const hard = Date.now() + 5000;
    while (isAlive(pid) && Date.now() < hard) await sleep(50);
    ctx.io.err(`master (pid ${pid}) did not stop within ${STOP_TIMEOUT_MS / 1000} s; killed it`);
  }
  rmSync(pidFile(s), { force: true });
  ctx.io.out(`master stopped (pid ${pid})`);
}

/** `disco status`: exit status 0 when running, 3 when not. */
export async function masterStatus(ctx: CommandContext): Promise<void> {
  const s = ctx.settings;
  const pid = runningMasterPid(s);
  const answers = await masterAnswers(s);
  if (pid && answers) ctx.io.out(`master running (pid ${pid}) at ${s.get('DISCO_MASTER')}`);
  else if (answers)
    ctx.io.out(`master running at ${s.get('DISCO_MASTER')} (not started by this disco command)`);
  else if (pid)
    ctx.io.out(`master process ${pid} is running but does not answer at ${s.get('DISCO_MASTER')}`);
  else throw new CliExit(`master stopped (${s.get('DISCO_MASTER')})`, EXIT_NOT_RUNNING);
}

/** Run a process in the foreground, passing on SIGINT/SIGTERM; resolves with its exit status. */
function foreground(args: string[], settings: Settings): Promise<number> {
  const child = spawn(process.execPath, args, { stdio: 'inherit', env: daemonEnv(settings) });
  const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(code ?? (signal === 'SIGINT' || signal === 'SIGTERM' ? 0 : 1));
    });
    child.on('error', () => resolve(1));
  });
}

/** `disco nodaemon`: the master in the foreground, logging to this terminal. */
export async function masterForeground(ctx: CommandContext): Promise<number> {
  if (runningMasterPid(ctx.settings))
    throw new CliExit('a master daemon is already running; run disco stop first');
  return foreground([distEntry('master')], ctx.settings);
}

/** `disco node`: a node daemon in the foreground. */
export async function nodeForeground(
  ctx: CommandContext,
  opts: { master?: string; host?: string; dataServer?: boolean },
): Promise<number> {
  const args = [distEntry('node')];
  if (opts.host) args.push('--host', opts.host);
  args.push('--master', opts.master ?? ctx.settings.get('DISCO_MASTER'));
  if (opts.dataServer === false) args.push('--no-data-server');
  return foreground(args, ctx.settings);
}
