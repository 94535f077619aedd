/**
 * Network namespaces for discovery tests: "hosts" with their own interfaces, joined by veth
 * pairs created directly inside the namespaces, so broadcasts never touch the machine's real
 * interfaces. Needs root (CAP_NET_ADMIN); {@link probeNetns} says whether it is permitted.
 *
 * @example
 * const lab = new NetLab('dsc');
 * lab.host('a'); lab.host('b');
 * lab.link('a', '10.77.0.1/24', 'b', '10.77.0.2/24');
 * lab.spawn('b', ['node', 'dist/cli/dispynode.js', ...]);
 * lab.destroy();
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';

function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Whether namespaces can be made here; `reason` says why not. */
export function probeNetns(): { ok: boolean; reason: string } {
  const name = `dispyprobe${process.pid}`;
  try {
    ip(['netns', 'add', name]);
    try {
      ip(['-n', name, 'link', 'set', 'lo', 'up']);
      ip([
        'link',
        'add',
        `dp${process.pid}a`,
        'netns',
        name,
        'type',
        'veth',
        'peer',
        'name',
        `dp${process.pid}b`,
        'netns',
        name,
      ]);
    } finally {
      ip(['netns', 'del', name]);
    }
    return { ok: true, reason: '' };
  } catch (e) {
    const msg = (e as { stderr?: string }).stderr?.trim() || (e as Error).message;
    return { ok: false, reason: `network namespaces not permitted here (${msg.split('\n')[0]})` };
  }
}

export class NetLab {
  private readonly hosts: string[] = [];
  private readonly procs: ChildProcess[] = [];
  private links = 0;

  constructor(private readonly prefix: string) {}

  name(host: string): string {
    return `${this.prefix}${process.pid}${host}`;
  }

  host(host: string): void {
    const ns = this.name(host);
    ip(['netns', 'add', ns]);
    this.hosts.push(ns);
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  }

  /** A cable between two hosts, with an address (CIDR) on each end. */
  link(a: string, addrA: string, b: string, addrB: string): void {
    const n = this.links++;
    const ia = `v${process.pid % 10000}${n}a`;
    const ib = `v${process.pid % 10000}${n}b`;
    ip(['link', 'add', ia, 'netns', this.name(a), 'type', 'veth', 'peer', 'name', ib, 'netns', this.name(b)]);
    ip(['-n', this.name(a), 'addr', 'add', addrA, 'dev', ia]);
    ip(['-n', this.name(b), 'addr', 'add', addrB, 'dev', ib]);
    ip(['-n', this.name(a), 'link', 'set', ia, 'up']);
    ip(['-n', this.name(b), 'link', 'set', ib, 'up']);
  }

  route(host: string, net: string, via: string): void {
    ip(['-n', this.name(host), 'route', 'add', net, 'via', via]);
  }

  forward(host: string): void {
    execFileSync('ip', ['netns', 'exec', this.name(host), 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  }

  spawn(host: string, argv: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
    const p = spawn('ip', ['netns', 'exec', this.name(host), ...argv], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    this.procs.push(p);
    return p;
  }

  destroy(): void {
    for (const p of this.procs) if (p.exitCode === null) p.kill('SIGKILL');
    for (const ns of this.hosts) {
      try {
        // Kill anything still running in the namespace, then remove it (its veths go with it).
        const pids = ip(['netns', 'pids', ns]).split('\n').filter(Boolean);
        for (const pid of pids) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            // gone
          }
        }
        ip(['netns', 'del', ns]);
      } catch {
        // already gone
      }
    }
  }
}

/** Wait for a line matching `re` on a process' stdout; resolves with the match. */
export function waitForLine(p: ChildProcess, re: RegExp, ms = 20_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`no ${re} within ${ms} ms: ${buf} ${err}`)), ms);
    p.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    p.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = re.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    p.once('exit', (c) => {
      clearTimeout(timer);
      const m = re.exec(buf);
      if (m) resolve(m);
      else reject(new Error(`exited (${c}) before ${re}: ${buf} ${err}`));
    });
  });
}
