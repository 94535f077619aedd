/**
 * The identity file a DDFS node keeps in its `DDFS_DATA` while it runs: which node (its
 * name in `disco://` URLs, and the port of its PUT server) owns these volumes, and which
 * process serves them. A process on the same machine configured with the same `DDFS_DATA`
 * (as after `disco start`; a task's worker) reads it to know that a PUT URL of new_blob names
 * this very directory, and stores that replica straight into it instead of sending it over
 * loopback HTTP (client/local-node.ts, worker/local-save.ts) — as `ddfs cat` and workers
 * already read local replicas. The rules of when to trust it are here, once for both.
 *
 * Validated by hand rather than with zod: the `ddfs` command line reads it on every push and
 * keeps zod out of its start-up (test/unit/client/cli-startup.test.ts).
 *
 * @example
 * const id = ownNodeIdentity({ host: 'node1', putPort: 8990, volumes: ['vol0'] });
 * if (id) await writeNodeIdentity('/srv/ddfs', id); // the node, once its PUT server listens
 * const node = LocalNode.find('/srv/ddfs'); // a client: the trusted node (a TrustedNode), or null
 * if (node?.serves(putUrl)) ... // store into /srv/ddfs directly
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../common/fs-atomic.js';
import { processIdentity } from '../common/process-alive.js';

/** Name of the identity file in `DDFS_DATA`. */
export const NODE_IDENTITY_FILE = '.ddfs-node.json';

/** Who owns a `DDFS_DATA` directory. */
export interface NodeIdentity {
  /** The node's name as in the master's config (the host of its URLs). */
  host: string;
  /** Port of its PUT server (`DDFS_PUT_PORT`). */
  putPort: number;
  /** The node process (a file left by a node that is gone is not trusted). */
  pid: number;
  /** When that process started (clock ticks after boot): a later process given the same pid differs. */
  started: number;
  /**
   * The volumes the node serves (fixed when it starts): a writer stores only into these, so
   * a `vol*` directory added while it runs (or one it could not set up) gets nothing the
   * node would not list.
   */
  volumes: string[];
}

function isIdentity(v: unknown): v is NodeIdentity {
  const o = v as Partial<NodeIdentity> | null;
  return (
    typeof o === 'object' &&
    o !== null &&
    typeof o.host === 'string' &&
    o.host !== '' &&
    Number.isInteger(o.putPort) &&
    Number.isInteger(o.pid) &&
    (o.pid as number) > 0 &&
    Number.isInteger(o.started) &&
    Array.isArray(o.volumes) &&
    o.volumes.every((v) => typeof v === 'string')
  );
}

/** Write (replace) the identity file of `root`. */
export async function writeNodeIdentity(root: string, id: NodeIdentity): Promise<void> {
  await writeFileAtomic(path.join(root, NODE_IDENTITY_FILE), `${JSON.stringify(id)}\n`);
}

/** The identity file of `root`, or null when there is none or it is not one. */
export function readNodeIdentity(root: string): NodeIdentity | null {
  try {
    const v: unknown = JSON.parse(readFileSync(path.join(root, NODE_IDENTITY_FILE), 'utf8'));
    return isIdentity(v) ? v : null;
  } catch {
    return null;
  }
}

/** Remove the identity file of `root` (only if it names process `pid`, when given). */
export async function removeNodeIdentity(root: string, pid?: number): Promise<void> {
  if (pid === undefined || readNodeIdentity(root)?.pid === pid)
    await fs.rm(path.join(root, NODE_IDENTITY_FILE), { force: true });
}

/** The identity of this process as the node owning `root` (for {@link writeNodeIdentity}). */
export function ownNodeIdentity(o: {
  host: string;
  putPort: number;
  volumes: string[];
}): NodeIdentity | null {
  const me = processIdentity(process.pid);
  return me ? { ...o, pid: process.pid, started: me.started } : null;
}

/** Is the node of `id` still the process that wrote it, and does it run as this user? */
export function sameNodeProcess(id: NodeIdentity): boolean {
  const p = processIdentity(id.pid);
  return p !== null && p.started === id.started && p.uid === process.getuid?.();
}

/**
 * The identity of the node owning `root` when this process may store into its volumes, else
 * null: the file names the very process that wrote it (pid and start time), which runs as
 * this user (files stored here are this user's, mode 0400: the node must read them); this
 * user owns the file and `root`, may write `root`, and it is not world-writable. Linux only
 * (/proc): elsewhere there is no identity and everything goes over HTTP.
 */
export function trustedNodeIdentity(root: string | undefined): NodeIdentity | null {
  if (!root || typeof process.getuid !== 'function') return null;
  const id = readNodeIdentity(root);
  if (!id || !sameNodeProcess(id)) return null;
  try {
    const uid = process.getuid();
    const dir = statSync(root);
    if (dir.uid !== uid || (dir.mode & 0o002) !== 0) return null;
    if (statSync(path.join(root, NODE_IDENTITY_FILE)).uid !== uid) return null;
    accessSync(root, constants.W_OK);
  } catch {
    return null;
  }
  return id;
}

/**
 * The node of this machine owning a `DDFS_DATA` this process may store into: what the
 * writers (client/local-node.ts, worker/local-save.ts) extend with their own way of storing.
 */
export class TrustedNode {
  constructor(
    readonly root: string,
    protected readonly id: NodeIdentity,
  ) {}

  /** The trusted node owning `root` ({@link trustedNodeIdentity}), as the calling class, or null. */
  static find<T extends TrustedNode>(
    this: new (
      root: string,
      id: NodeIdentity,
    ) => T,
    root: string | undefined,
  ): T | null {
    const id = trustedNodeIdentity(root);
    return id && root ? new this(root, id) : null;
  }

  /**
   * Is `putUrl` (`http://<host>:<port>/ddfs/<obj>`, from new_blob) an upload to this node, and
   * does it still run (checked each time: a client may outlive it)?
   */
  serves(putUrl: string): boolean {
    if (!sameNodeProcess(this.id)) return false;
    try {
      const u = new URL(putUrl);
      return (
        u.protocol === 'http:' &&
        // As URLs spell it (lower case, IPv6 in brackets).
        u.hostname === new URL(`http://${this.id.host}/`).hostname &&
        Number(u.port || 80) === this.id.putPort &&
        u.pathname.startsWith('/ddfs/') &&
        !u.pathname.slice('/ddfs/'.length).includes('/')
      );
    } catch {
      return false;
    }
  }
}

/** The blob name a PUT URL of new_blob names (`/ddfs/<obj>`, decoded). */
export function putUrlObject(putUrl: string): string {
  return decodeURIComponent(new URL(putUrl).pathname.slice('/ddfs/'.length));
}
