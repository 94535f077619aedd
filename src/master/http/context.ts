/** What the HTTP handlers of the master reach: the master's parts, wired by master.ts. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Settings } from '../../common/settings.js';
import type { ClusterConfig } from '../cluster/config.js';
import type { NodeRegistry } from '../cluster/nodes.js';
import type { JobManager } from '../jobs/manager.js';
import type { JobStore } from '../jobs/store.js';
import type { Observatory } from '../metrics/observatory.js';

/**
 * A handler for `/ddfs/*` requests (the DDFS API, plugged in by a later module). Returns true
 * when it answered the request; false lets the master serve `DDFS_DATA` files or 404.
 */
export type DdfsHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  query: Map<string, string>,
) => Promise<boolean>;

export interface MasterContext {
  settings: Settings;
  manager: JobManager;
  config: ClusterConfig;
  registry: NodeRegistry;
  store: JobStore;
  log: Logger;
  /** Package version (`GET /disco/version`). */
  version: string;
  ddfs?: DdfsHandler;
  /** Task histories and metrics (web UI, `/metrics`, `disco trace`). */
  observatory: Observatory;
  /** The built-in DDFS's garbage collector, for the UI and metrics (absent with a custom DDFS). */
  ddfsGc?: DdfsGcView;
  /** When this master started (ms since the epoch). */
  startedAt: number;
}

/** What the UI and metrics read from DDFS GC (the `/ddfs/ctrl/gc_*` answers). */
export interface DdfsGcView {
  stats(): unknown | null;
  status(): string;
  safeBlacklist(): string[];
}
