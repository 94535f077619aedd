/**
 * The identity file a DDFS node keeps in its `DDFS_DATA` while it runs: which node (its
 * name in `disco://` URLs, and the port of its PUT server) owns these volumes, and which
 * process serves them. A client on the same machine configured with the same `DDFS_DATA`
 * (as after `disco start`) reads it to know that a PUT URL of new_blob names this very
 * directory, and stores that replica straight into it instead of sending it over loopback
 * HTTP (client/local-node.ts) — as it already reads local replicas for `ddfs cat`.
 *
 * Validated by hand rather than with zod: the `ddfs` command line reads it on every push and
 * keeps zod out of its start-up (test/unit/client/cli-startup.test.ts).
 *
 * @example
 * await writeNodeIdentity('/srv/ddfs', { host: 'node1', putPort: 8990, pid: process.pid });
 * const id = await readNodeIdentity('/srv/ddfs'); // { host: 'node1', putPort: 8990, pid }
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../common/fs-atomic.js';

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
export async function readNodeIdentity(root: string): Promise<NodeIdentity | null> {
  try {
    const v: unknown = JSON.parse(await fs.readFile(path.join(root, NODE_IDENTITY_FILE), 'utf8'));
    return isIdentity(v) ? v : null;
  } catch {
    return null;
  }
}

/** Remove the identity file of `root` if it still names process `pid`. */
export async function removeNodeIdentity(root: string, pid: number): Promise<void> {
  const id = await readNodeIdentity(root);
  if (id?.pid === pid) await fs.rm(path.join(root, NODE_IDENTITY_FILE), { force: true });
}
