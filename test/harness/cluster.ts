/**
 * Starts real Disco clusters for end-to-end tests: a master process and node processes on
 * loopback (each node on its own 127.0.0.x address, sharing one free port), each with its own
 * root directory as if on its own machine. Nothing is mocked; everything is torn down.
 *
 * @example
 * const c = await startCluster({ nodes: 2 });
 * try { ... new Disco(c.master) ... } finally { await c.stop(); }
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { PACKAGE_ROOT } from '../../src/common/settings.js';

const DIST = path.join(PACKAGE_ROOT, 'dist');

export interface ClusterOptions {
  nodes?: number;
  /** Cores (slots) per node. */
  cores?: number;
  /** Extra settings for every process. */
  env?: Record<string, string>;
  secret?: string;
}

export interface NodeProc {
  host: string;
  root: string;
  proc: ChildProcess;
  log: string[];
}

export interface Cluster {
  master: string;
  port: number;
  root: string;
  env: Record<string, string>;
  nodes: NodeProc[];
  masterProc: ChildProcess;
  masterLog: string[];
  /** Start (again) the node with index i (after a kill). */
  startNode(i: number): Promise<NodeProc>;
  killNode(i: number, signal?: NodeJS.Signals): Promise<void>;
  killMaster(signal?: NodeJS.Signals): Promise<void>;
  restartMaster(): Promise<void>;
  stop(): Promise<void>;
}

/** A port free on 127.0.0.1 (and, by extension, on the other loopback addresses). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function capture(proc: ChildProcess, log: string[]): void {
  const push = (b: Buffer) => {
    for (const line of b.toString('utf8').split('\n')) if (line) log.push(line);
    if (log.length > 2000) log.splice(0, log.length - 2000);
  };
  proc.stdout?.on('data', push);
  proc.stderr?.on('data', push);
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

function exited(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((r) => proc.once('exit', () => r()));
}

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const nNodes = opts.nodes ?? 1;
  const cores = opts.cores ?? 2;
  const port = await freePort();
  // Every node's DDFS PUT server shares one port (as in the original); a free one per cluster
  // keeps concurrent test files apart.
  const putPort = await freePort();
  const root = mkdtempSync(path.join(os.tmpdir(), 'disco-test-'));
  const master = `http://127.0.0.1:${port}`;
  const hosts = Array.from({ length: nNodes }, (_, i) => `127.0.0.${i + 2}`);
  const env: Record<string, string> = {
    DISCO_PORT: String(port),
    DISCO_MASTER_HOST: '127.0.0.1',
    DISCO_MASTER: master,
    DISCO_LISTEN_HOST: '127.0.0.1',
    DISCO_SPAWN_LOCAL_NODES: '',
    DISCO_RETRY_DELAY_SCALE: '0.001',
    DISCO_EVENTS: '',
    DISCO_SETTINGS_FILE: path.join(root, 'no-settings-file'),
    DISCO_SECRET: opts.secret ?? '',
    DDFS_PUT_PORT: String(putPort),
    ...opts.env,
  };
  const masterRoot = path.join(root, 'master');
  mkdirSync(masterRoot, { recursive: true });
  const masterEnv = { ...process.env, ...env, DISCO_ROOT: masterRoot };
  writeFileSync(
    path.join(masterRoot, `disco_${port}.config`),
    JSON.stringify({ hosts: hosts.map((h) => [h, String(cores)]), blacklist: [], gc_blacklist: [] }),
  );

  const masterLog: string[] = [];
  let masterProc = spawnMaster();
  function spawnMaster(): ChildProcess {
    const p = spawn(process.execPath, [path.join(DIST, 'master.js')], {
      env: masterEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    capture(p, masterLog);
    return p;
  }
  const masterUp = () =>
    waitFor('master', async () => {
      if (masterProc.exitCode !== null) throw new Error(`master exited: ${masterLog.slice(-20).join('\n')}`);
      const r = await fetch(`${master}/disco/version`);
      return r.ok ? true : undefined;
    });
  await masterUp();

  const nodes: NodeProc[] = [];
  const startNode = async (i: number): Promise<NodeProc> => {
    const host = hosts[i];
    const nodeRoot = path.join(root, `node-${i}`);
    mkdirSync(nodeRoot, { recursive: true });
    const log: string[] = nodes[i]?.log ?? [];
    const proc = spawn(process.execPath, [path.join(DIST, 'node.js'), '--host', host, '--master', master], {
      env: { ...process.env, ...env, DISCO_ROOT: nodeRoot },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    capture(proc, log);
    const n = { host, root: nodeRoot, proc, log };
    nodes[i] = n;
    await waitFor(`node ${host} to connect`, async () => {
      if (proc.exitCode !== null) throw new Error(`node ${host} exited: ${log.slice(-20).join('\n')}`);
      const info = (await (await fetch(`${master}/disco/ctrl/nodeinfo`)).json()) as Record<
        string,
        { connected: boolean }
      >;
      return info[host]?.connected ? true : undefined;
    });
    return n;
  };
  try {
    for (let i = 0; i < nNodes; i++) await startNode(i);
  } catch (e) {
    masterProc.kill('SIGKILL');
    for (const n of nodes) n?.proc.kill('SIGKILL');
    throw e;
  }

  const cluster: Cluster = {
    master,
    port,
    root,
    env,
    nodes,
    get masterProc() {
      return masterProc;
    },
    masterLog,
    startNode,
    async killNode(i, signal = 'SIGKILL') {
      const p = nodes[i].proc;
      // Kill the node's whole process group so its workers die with it, as on a machine crash.
      p.kill(signal);
      await exited(p);
    },
    async killMaster(signal = 'SIGKILL') {
      masterProc.kill(signal);
      await exited(masterProc);
    },
    async restartMaster() {
      if (masterProc.exitCode === null && masterProc.signalCode === null) await cluster.killMaster('SIGTERM');
      masterProc = spawnMaster();
      await masterUp();
    },
    async stop() {
      for (const n of nodes) n?.proc.kill('SIGTERM');
      masterProc.kill('SIGTERM');
      await Promise.all([...nodes.map((n) => n && exited(n.proc)), exited(masterProc)]);
      if (!process.env.DISCO_KEEP_TEST_ROOT) rmSync(root, { recursive: true, force: true });
    },
  };
  return cluster;
}
