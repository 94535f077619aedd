/**
 * DDFS on the master: the tag server, blob placement, GC and the `/ddfs/*` API, wired to the
 * master's config and node registry. `startMaster` plugs {@link DdfsMaster.handler} in.
 *
 * @example
 * const ddfs = startDdfsMaster({ settings, config, registry, log });
 * // ... server passes /ddfs/* requests to ddfs.handler ...
 * ddfs.close();
 */
import type { Logger } from 'pino';
import type { Settings } from '../../common/settings.js';
import type { ClusterConfig } from '../../master/cluster/config.js';
import type { NodeRegistry } from '../../master/cluster/nodes.js';
import type { DdfsHandler } from '../../master/http/context.js';
import { ClusterView } from './cluster-view.js';
import { createGc, type GcService, gcTimings } from './gc.js';
import { createDdfsHandler } from './http.js';
import { NodeClient } from './node-client.js';
import { INTERNAL } from './tag-logic.js';
import { TagServer } from './tag-server.js';
import { TagStore } from './tag-store.js';

/** What the DDFS master needs from the Disco master. */
export interface DdfsMasterDeps {
  settings: Settings;
  config: ClusterConfig;
  registry: NodeRegistry;
  log: Logger;
}

/** DDFS running inside a master. */
export interface DdfsMaster {
  handler: DdfsHandler;
  tags: TagServer;
  gc: GcService;
  /** Delete a tag as the master itself (no token needed) if it exists; true when it did. */
  deleteTag(name: string): Promise<boolean>;
  close(): void;
}

/** Build the DDFS master from the settings (replica counts, ports, secret). */
export function startDdfsMaster(deps: DdfsMasterDeps): DdfsMaster {
  const { settings, log } = deps;
  const view = new ClusterView(deps.config, deps.registry);
  const nodes = new NodeClient(settings.get('DISCO_SECRET'), settings.int('DDFS_PUT_PORT'));
  const store = new TagStore(
    view,
    nodes,
    { minK: settings.int('DDFS_TAG_MIN_REPLICAS'), k: settings.int('DDFS_TAG_REPLICAS') },
    log,
  );
  const tags = new TagServer(store, view, log);
  const gc = createGc({
    tags,
    view,
    nodes,
    log,
    blobK: settings.int('DDFS_BLOB_REPLICAS'),
    tagK: settings.int('DDFS_TAG_REPLICAS'),
    tagMinK: settings.int('DDFS_TAG_MIN_REPLICAS'),
    paranoid: settings.flag('DDFS_PARANOID_DELETE'),
    timings: gcTimings(settings),
  });
  const handler = createDdfsHandler({
    tags,
    view,
    nodes,
    gc,
    blobK: settings.int('DDFS_BLOB_REPLICAS'),
    log,
  });
  return {
    handler,
    tags,
    gc,
    async deleteTag(name) {
      // A DELETE of a missing name would still list it in +deleted; skip those.
      if ((await tags.gcGet(name)).data.kind !== 'ok') return false;
      await tags.op(name, { type: 'delete', token: INTERNAL });
      return true;
    },
    close() {
      gc.close();
      tags.close();
    },
  };
}
