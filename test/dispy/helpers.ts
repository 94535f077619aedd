/**
 * Helpers for dispy tests: nodes in this process (the daemon class) or as real `dispynode`
 * processes, on loopback, each with its own temporary root. Discovery broadcasts are off for
 * everything started from tests (DISPY_BROADCAST=none) unless a test sets its own addresses
 * inside network namespaces.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../src/common/settings.js';
import { DispyNodeDaemon } from '../../src/dispy/node/daemon.js';
import type { NodeOptions } from '../../src/dispy/node/options.js';

process.env.DISPY_BROADCAST = 'none';

export const DIST = path.join(PACKAGE_ROOT, 'dist');

function newestMtime(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return t;
}

const cleanups: (() => Promise<void> | void)[] = [];
let built = false;

/**
 * Build dist/ unless it is newer than the dispy sources (daemons and workers run from there).
 * A lock directory keeps test files from building at the same time.
 */
export function ensureBuilt(): void {
  if (built) return;
  const outputs = [
    'cli/dispynode.js',
    'cli/dispyscheduler.js',
    'cli/dispynetrelay.js',
    'dispy-worker.js',
  ].map((f) => path.join(DIST, f));
  const fresh = () => {
    if (!outputs.every((f) => existsSync(f))) return false;
    const oldest = Math.min(...outputs.map((f) => statSync(f).mtimeMs));
    const src = path.join(PACKAGE_ROOT, 'src');
    return oldest >= Math.max(newestMtime(path.join(src, 'dispy')), newestMtime(path.join(src, 'common')));
  };
  const lock = path.join(os.tmpdir(), 'dispy-test-build.lock');
  const end = Date.now() + 120_000;
  while (!fresh()) {
    try {
      mkdirSync(lock);
    } catch {
      if (Date.now() > end) throw new Error(`build lock ${lock} held too long`);
      execFileSync('sleep', ['0.2']);
      continue;
    }
    try {
      if (!fresh()) execFileSync('npm', ['run', 'build'], { cwd: PACKAGE_ROOT, stdio: 'ignore' });
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
    break;
  }
  built = true;
}

/** A temporary directory, removed by {@link cleanupAll}. */
export function tempDir(prefix = 'dispy-test-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Run registered cleanups (call from afterEach/afterAll). */
export async function cleanupAll(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await c();
}

/** A node daemon in this process on 127.0.0.1 with a random port. */
export async function startNode(opts: NodeOptions = {}): Promise<DispyNodeDaemon> {
  ensureBuilt();
  const root = tempDir('dispy-node-');
  const node = new DispyNodeDaemon({
    ipAddr: '127.0.0.1',
    nodePort: 0,
    cpus: 2,
    discovery: false,
    destPathPrefix: root,
    name: `node-${path.basename(root)}`,
    ...opts,
  });
  await node.start();
  cleanups.push(async () => {
    await node.stop();
    rmSync(root, { recursive: true, force: true });
  });
  return node;
}

export interface NodeProcess {
  proc: ChildProcess;
  port: number;
  root: string;
  output: string[];
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** A real `dispynode` process (needs `npm run build`). */
export async function startNodeProcess(
  args: string[] = [],
  root = tempDir('dispy-nodep-'),
): Promise<NodeProcess> {
  const proc = spawn(
    process.execPath,
    [
      path.join(DIST, 'cli', 'dispynode.js'),
      '--ip_addr',
      '127.0.0.1',
      '--node_port',
      '0',
      '--dest_path_prefix',
      root,
      '--daemon',
      '--no-discovery',
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } },
  );
  const output: string[] = [];
  proc.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`dispynode did not start: ${output.join('')}`)), 15_000);
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      output.push(d.toString());
      const m = /serving [^\s:]+:(\d+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`dispynode exited with ${code}: ${output.join('')}`));
    });
  });
  const np: NodeProcess = {
    proc,
    port,
    root,
    output,
    kill: (signal = 'SIGTERM') =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill(signal);
      }),
  };
  cleanups.push(async () => {
    await np.kill('SIGKILL');
  });
  return np;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
