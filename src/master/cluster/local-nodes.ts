/**
 * Supervision of node processes on the master's own machine (`DISCO_SPAWN_LOCAL_NODES`): for
 * every config host that is this machine, the master runs
 * `node dist/node.js --host NAME --master URL [--no-data-server]` and restarts it with
 * back-off when it dies. `--no-data-server` is passed when the node's data URL
 * (`http://NAME:DISCO_PORT/...`) reaches the master's own HTTP server, which then serves the
 * node's `/disco` and `/ddfs` data (wire spec §5.1), as the original does for its own host.
 *
 * Concurrency: one supervisor per master; `sync()` reconciles the running set with the config.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { PACKAGE_ROOT, type Settings } from '../../common/settings.js';
import type { ClusterConfig } from './config.js';

const MAX_BACKOFF_MS = 30_000;
/** A node that ran this long is healthy again: the back-off starts over. */
const STABLE_MS = 60_000;
const STOP_GRACE_MS = 5_000;

/** True when a config host name denotes this machine. */
export function isLocalHost(name: string, masterHost: string): boolean {
  const host = name.replace(/:\d+$/, '');
  return (
    host === 'localhost' || host === os.hostname() || /^127\.\d+\.\d+\.\d+$/.test(host) || host === masterHost
  );
}

/**
 * True when requests to `http://NAME:DISCO_PORT` land on the master's own server: the name has
 * no port of its own and is the master's host, or the master listens on every interface.
 */
export function masterServesData(name: string, masterHost: string, listenHost: string): boolean {
  if (/:\d+$/.test(name)) return false;
  if (name === masterHost || name === 'localhost' || name === os.hostname()) return true;
  return listenHost === '' || listenHost === '0.0.0.0' || listenHost === '::' || listenHost === name;
}

interface Supervised {
  name: string;
  proc: ChildProcess | null;
  startedAt: number;
  backoffMs: number;
  restartTimer: NodeJS.Timeout | null;
  stopping: boolean;
}

/** Starts, restarts and stops the node processes of this machine's config hosts. */
export class LocalNodeSupervisor {
  private readonly nodes = new Map<string, Supervised>();
  private readonly nodeScript: string;
  private warnedMissing = false;
  private closed = false;

  constructor(
    private readonly settings: Settings,
    private readonly config: ClusterConfig,
    private readonly masterUrl: string,
    private readonly log: Logger,
    nodeScript = path.join(PACKAGE_ROOT, 'dist', 'node.js'),
  ) {
    this.nodeScript = nodeScript;
  }

  /** Start nodes for new local config hosts and stop those no longer configured. */
  sync(): void {
    if (this.closed) return;
    const masterHost = this.settings.get('DISCO_MASTER_HOST');
    const wanted = new Set(
      this.config
        .hosts()
        .map((h) => h.name)
        .filter((n) => isLocalHost(n, masterHost)),
    );
    for (const [name, s] of this.nodes) if (!wanted.has(name)) void this.stop(s);
    for (const name of wanted) {
      if (this.nodes.has(name)) continue;
      const s: Supervised = {
        name,
        proc: null,
        startedAt: 0,
        backoffMs: 1000,
        restartTimer: null,
        stopping: false,
      };
      this.nodes.set(name, s);
      this.start(s);
    }
  }

  /** Stop every supervised node (master shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.nodes.values()].map((s) => this.stop(s)));
  }

  private start(s: Supervised): void {
    if (s.stopping || this.closed) return;
    if (!existsSync(this.nodeScript)) {
      if (!this.warnedMissing)
        this.log.warn({ script: this.nodeScript }, 'node program not built; not starting local nodes');
      this.warnedMissing = true;
      return;
    }
    const args = [this.nodeScript, '--host', s.name, '--master', this.masterUrl];
    if (
      masterServesData(s.name, this.settings.get('DISCO_MASTER_HOST'), this.settings.get('DISCO_LISTEN_HOST'))
    )
      args.push('--no-data-server');
    // The node reads the same settings as the master (as the original passes them to its nodes).
    const env = { ...process.env, ...this.settings.all(), DISCO_MASTER: this.masterUrl };
    const proc = spawn(process.execPath, args, { env, stdio: ['ignore', 'inherit', 'inherit'] });
    s.proc = proc;
    s.startedAt = Date.now();
    this.log.info({ host: s.name, pid: proc.pid }, 'started local node');
    proc.on('error', (e) => this.log.error({ host: s.name, err: e }, 'local node failed to start'));
    proc.on('exit', (code, signal) => {
      if (s.proc === proc) s.proc = null;
      if (s.stopping || this.closed) return;
      if (Date.now() - s.startedAt >= STABLE_MS) s.backoffMs = 1000;
      this.log.warn(
        { host: s.name, code, signal, restartInMs: s.backoffMs },
        'local node exited; restarting',
      );
      s.restartTimer = setTimeout(() => {
        s.restartTimer = null;
        this.start(s);
      }, s.backoffMs);
      s.restartTimer.unref();
      s.backoffMs = Math.min(MAX_BACKOFF_MS, s.backoffMs * 2);
    });
  }

  private async stop(s: Supervised): Promise<void> {
    s.stopping = true;
    this.nodes.delete(s.name);
    if (s.restartTimer) clearTimeout(s.restartTimer);
    const proc = s.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }
}
