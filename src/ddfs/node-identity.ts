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
 * await writeNodeIdentity('/srv/ddfs', { host: 'node1', putPort: 8990, pid: process.pid });
 * const id = trustedNodeIdentity('/srv/ddfs'); // { host: 'node1', putPort: 8990, pid } or null
 * if (id && nodeServes(id, putUrl)) ... // store into /srv/ddfs directly
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../common/fs-atomic.js';
import { isAlive } from '../common/process-alive.js';

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
    (o.pid as number) > 0
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

/** Remove the identity file of `root` if it still names process `pid`. */
export async function removeNodeIdentity(root: string, pid: number): Promise<void> {
  if (readNodeIdentity(root)?.pid === pid) await fs.rm(path.join(root, NODE_IDENTITY_FILE), { force: true });
}

/**
 * The identity of the node owning `root` when this process may store into its volumes: the
 * file names a live process, and this user owns `root` and may write it; else null.
 */
export function trustedNodeIdentity(root: string | undefined): NodeIdentity | null {
  if (!root) return null;
  const id = readNodeIdentity(root);
  if (!id || !isAlive(id.pid)) return null;
  try {
    if (typeof process.getuid === 'function' && statSync(root).uid !== process.getuid()) return null;
    accessSync(root, constants.W_OK);
  } catch {
    return null;
  }
  return id;
}

/**
 * Is `putUrl` (`http://<host>:<port>/ddfs/<obj>`, from new_blob) an upload to node `id`, and
 * does that node still run (checked each time: a client may outlive it)?
 */
export function nodeServes(id: NodeIdentity, putUrl: string): boolean {
  if (!isAlive(id.pid)) return false;
  try {
    const u = new URL(putUrl);
    return (
      u.protocol === 'http:' &&
      u.hostname === id.host &&
      Number(u.port || 80) === id.putPort &&
      u.pathname.startsWith('/ddfs/') &&
      !u.pathname.slice('/ddfs/'.length).includes('/')
    );
  } catch {
    return false;
  }
}

/** The blob name a PUT URL of new_blob names (`/ddfs/<obj>`, decoded). */
export function putUrlObject(putUrl: string): string {
  return decodeURIComponent(new URL(putUrl).pathname.slice('/ddfs/'.length));
}
