/**
 * DDFS on a node: opens the volumes of `DDFS_DATA`, keeps their free space measured, and runs
 * the PUT server on `DDFS_PUT_PORT` (blob uploads and the master's internal storage API).
 *
 * @example
 * const ddfs = await startDdfsNode(settings, { host: 'node1', listenHost: 'node1' });
 * ddfs.disk(); // { free, used } KiB over all volumes
 * await ddfs.close();
 */
import pino, { type Logger } from 'pino';
import type { Settings } from '../../common/settings.js';
import {
  ownNodeIdentity,
  readNodeIdentity,
  removeNodeIdentity,
  sameNodeProcess,
  writeNodeIdentity,
} from '../node-identity.js';
import { type PutServer, startPutServer } from './put-server.js';
import { NodeStore } from './store.js';

/** Options of {@link startDdfsNode}. */
export interface DdfsNodeOptions {
  /** This node's name as in the master's config (appears in `disco://` URLs). */
  host: string;
  /** Address for the PUT server; if it cannot be bound, every interface is used. */
  listenHost?: string;
  log?: Logger;
}

/** DDFS storage running on a node. */
export interface DdfsNode {
  store: NodeStore;
  /** Port of the PUT server, or null if it could not be started. */
  putPort: number | null;
  /** Free and used KiB over all volumes (last measurement). */
  disk(): { free: number; used: number };
  close(): Promise<void>;
}

/**
 * Start DDFS on a node. A PUT port that cannot be bound is logged as an error and leaves the
 * node without DDFS writes rather than without tasks: the master then sees failed writes to
 * this node and places data elsewhere.
 */
export async function startDdfsNode(settings: Settings, opts: DdfsNodeOptions): Promise<DdfsNode> {
  const log = opts.log ?? pino({ level: 'silent' });
  const store = await NodeStore.open(settings.get('DDFS_DATA'), opts.host, log);
  store.volumes.startMonitoring();
  const common = { store, port: settings.int('DDFS_PUT_PORT'), secret: settings.get('DISCO_SECRET'), log };
  let server: PutServer | null = null;
  try {
    server = await startPutServer({ ...common, listenHost: opts.listenHost });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EADDRNOTAVAIL') {
      log.warn({ host: opts.listenHost, code }, 'node name is not a local address; DDFS PUT server on all');
      try {
        server = await startPutServer(common);
      } catch (e2) {
        log.error({ err: e2 }, 'cannot start the DDFS PUT server; this node takes no DDFS writes');
      }
    } else {
      log.error({ err: e }, 'cannot start the DDFS PUT server; this node takes no DDFS writes');
    }
  }
  const root = store.volumes.root;
  // Clients of this machine sharing DDFS_DATA store their replicas here directly. A file an
  // earlier node left goes first (without a PUT server nothing may trust this one), unless
  // that node still runs: it keeps its file, and this node's clients use HTTP.
  const other = readNodeIdentity(root);
  const otherRuns = other !== null && other.pid !== process.pid && sameNodeProcess(other);
  if (otherRuns) log.warn({ node: other }, 'another running DDFS node serves this DDFS_DATA');
  else await removeNodeIdentity(root).catch(() => undefined);
  const id =
    server &&
    !otherRuns &&
    ownNodeIdentity({
      host: opts.host,
      putPort: server.port,
      volumes: store.volumes.list().map((v) => v.name),
    });
  if (id)
    await writeNodeIdentity(root, id).catch((e) =>
      log.warn({ err: e }, 'cannot write the DDFS node identity file; local clients will use HTTP'),
    );
  return {
    store,
    putPort: server?.port ?? null,
    disk: () => store.volumes.disk(),
    close: async () => {
      store.volumes.stop();
      await removeNodeIdentity(root, process.pid).catch(() => undefined);
      await server?.close();
    },
  };
}
