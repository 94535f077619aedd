/**
 * The client's fault-recovery file (`faultRecover`): a few JSON lines that say which
 * computation (id and token) ran on which nodes. Nodes keep every result until the client
 * acknowledges it, so this is all `faultRecoverJobs` needs to fetch the results of a client
 * that crashed — no per-job writes on the job path. Each line is appended and fsynced before
 * jobs go to the node it names. The file is deleted when the cluster closes cleanly.
 *
 * @example
 * const f = RecoverFile.create('_dispy_20240101120000', { computeId, token, name, ... });
 * f.addNode('10.0.0.2', 51348);
 * RecoverFile.read('_dispy_20240101120000'); // { cluster, nodes }
 */
import { closeSync, fsyncSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { z } from 'zod';

const ClusterLine = z.object({
  t: z.literal('cluster'),
  v: z.literal(1),
  computeId: z.string(),
  token: z.string(),
  name: z.string(),
  created: z.number(),
  /** 'node' when the cluster talked to nodes itself; 'scheduler' for SharedJobCluster. */
  via: z.enum(['node', 'scheduler']),
});
const NodeLine = z.object({ t: z.literal('node'), host: z.string(), port: z.number().int() });

export type RecoverCluster = z.infer<typeof ClusterLine>;
export interface RecoverInfo {
  cluster: RecoverCluster;
  nodes: { host: string; port: number }[];
}

/** `_dispy_fault_recover_YYYYMMDDHHMMSS` in the current directory (the original's default name). */
export function defaultRecoverPath(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `_dispy_fault_recover_${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

function appendDurably(file: string, line: string, flags: string): void {
  const fd = openSync(file, flags, 0o600);
  try {
    writeSync(fd, `${line}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export class RecoverFile {
  private readonly nodes = new Set<string>();

  private constructor(readonly path: string) {}

  static create(file: string, c: Omit<RecoverCluster, 't' | 'v'>): RecoverFile {
    appendDurably(file, JSON.stringify({ t: 'cluster', v: 1, ...c }), 'w');
    return new RecoverFile(file);
  }

  addNode(host: string, port: number): void {
    const key = `${host}:${port}`;
    if (this.nodes.has(key)) return;
    this.nodes.add(key);
    appendDurably(this.path, JSON.stringify({ t: 'node', host, port }), 'a');
  }

  remove(): void {
    RecoverFile.removePath(this.path);
  }

  static removePath(file: string): void {
    rmSync(file, { force: true });
  }

  static read(file: string): RecoverInfo {
    const lines = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.trim());
    if (lines.length === 0) throw new Error(`${file} is empty`);
    const cluster = ClusterLine.parse(JSON.parse(lines[0]));
    const nodes: RecoverInfo['nodes'] = [];
    const seen = new Set<string>();
    for (const l of lines.slice(1)) {
      let raw: unknown;
      try {
        raw = JSON.parse(l);
      } catch {
        continue; // a torn last line
      }
      const n = NodeLine.safeParse(raw);
      if (!n.success || seen.has(`${n.data.host}:${n.data.port}`)) continue;
      seen.add(`${n.data.host}:${n.data.port}`);
      nodes.push({ host: n.data.host, port: n.data.port });
    }
    return { cluster, nodes };
  }
}
