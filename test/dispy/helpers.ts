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

/** A daemon started from `dist/cli` (killed by {@link cleanupAll}). */
export interface DaemonProcess {
  proc: ChildProcess;
  port: number;
  /** What it printed (stdout and stderr). */
  output: string[];
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface NodeProcess extends DaemonProcess {
  root: string;
}

/** Start `dist/cli/<script>` and wait for its `serving <host>:<port>` line. */
async function startDaemon(script: string, args: string[]): Promise<DaemonProcess> {
  const proc = spawn(process.execPath, [path.join(DIST, 'cli', script), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env },
  });
  const output: string[] = [];
  proc.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${script} did not start: ${output.join('')}`)), 15_000);
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
      reject(new Error(`${script} exited with ${code}: ${output.join('')}`));
    });
  });
  const d: DaemonProcess = {
    proc,
    port,
    output,
    kill: (signal = 'SIGTERM') =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill(signal);
      }),
  };
  cleanups.push(() => d.kill('SIGKILL'));
  return d;
}

/** A real `dispynode` process (needs `npm run build`). */
export async function startNodeProcess(
  args: string[] = [],
  root = tempDir('dispy-nodep-'),
): Promise<NodeProcess> {
  const d = await startDaemon('dispynode.js', [
    '--ip_addr',
    '127.0.0.1',
    '--node_port',
    '0',
    '--dest_path_prefix',
    root,
    '--daemon',
    '--no-discovery',
    ...args,
  ]);
  return { ...d, root };
}

/** A real `dispyscheduler` process on 127.0.0.1 (needs `npm run build`); `--port 0` unless given. */
export function startSchedulerProcess(args: string[]): Promise<DaemonProcess> {
  const withPort = args.includes('--port') ? args : ['--port', '0', ...args];
  return startDaemon('dispyscheduler.js', [
    '--ip_addr',
    '127.0.0.1',
    '--daemon',
    '--no-discovery',
    ...withPort,
  ]);
}

/** Whether `openssl` is on this machine (TLS tests make their certificates with it). */
export const HAVE_OPENSSL = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/**
 * A self-signed certificate and its key (PEM files in `dir`). Node's crypto cannot issue
 * X.509 certificates, so this needs `openssl` ({@link HAVE_OPENSSL}).
 */
export function selfSignedCert(dir: string, name = 'dispy-test'): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.cert.pem`);
  const key = path.join(dir, `${name}.key.pem`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      `/CN=${name}`,
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

/**
 * Run `fixtures/crash-client.ts` (jobs with `faultRecover`) until its jobs run; resolves with a
 * function that kills it (SIGKILL, the whole process group).
 */
export async function startCrashClient(args: string[]): Promise<() => void> {
  const client = spawn(
    process.execPath,
    [path.join(PACKAGE_ROOT, 'scripts', 'run-ts.mjs'), 'test/dispy/fixtures/crash-client.ts', ...args],
    { cwd: PACKAGE_ROOT, stdio: ['ignore', 'pipe', 'inherit'], detached: true },
  );
  // run-ts.mjs runs the bundled client as its child: kill the whole group.
  const kill = () => {
    try {
      process.kill(-client.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  };
  cleanups.push(kill);
  await new Promise<void>((resolve, reject) => {
    client.stdout!.on('data', (d: Buffer) => d.toString().includes('running') && resolve());
    client.once('exit', (c) => reject(new Error(`client exited early (${c})`)));
  });
  return kill;
}

/** Poll until `cond` holds (rejects after `ms`). */
export async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await sleep(20);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
