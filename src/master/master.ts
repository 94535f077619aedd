/**
 * The Disco master process: HTTP API (wire spec §1), durable job store, job coordinators and
 * scheduler, DDFS tag server, node control channel, and supervision of nodes on its own machine.
 *
 * @example
 * const master = await startMaster(loadSettings({ DISCO_PORT: '0', DISCO_ROOT: dir }));
 * await fetch(`${master.url}/disco/ctrl/joblist`);
 * await master.close();
 */
import { mkdir } from 'node:fs/promises';
import { type Logger, pino } from 'pino';
import { listen } from '../common/http-listen.js';
import { packageVersion, type Settings } from '../common/settings.js';
import { type DdfsMaster, startDdfsMaster } from '../ddfs/master/index.js';
import { jobOobTag } from '../protocol/names.js';
import { ClusterConfig } from './cluster/config.js';
import { LocalNodeSupervisor } from './cluster/local-nodes.js';
import { ControlChannel } from './cluster/node-channel.js';
import { NodeRegistry } from './cluster/nodes.js';
import type { DdfsHandler, MasterContext } from './http/context.js';
import { createMasterServer } from './http/server.js';
import { JobManager } from './jobs/manager.js';
import { JobStore } from './jobs/store.js';
import { registerMasterMetrics } from './metrics/master-metrics.js';
import { Observatory } from './metrics/observatory.js';

export interface MasterOptions {
  /** Structured log (default: silent). */
  logger?: Logger;
  /** The DDFS API; default: the built-in DDFS master (src/ddfs/master). */
  ddfs?: DdfsHandler;
}

export interface MasterHandle {
  /** Base URL that reaches this master (`http://<listen host>:<port>`). */
  url: string;
  /** Port actually bound (useful with `DISCO_PORT=0`). */
  port: number;
  /** The master's parts, for tests and embedding. */
  context: MasterContext;
  /** Stop serving, stop supervised nodes, write out logs and job states. */
  close(): Promise<void>;
}

/**
 * Start a master with `settings`: loads the config and the job store, listens on
 * `DISCO_LISTEN_HOST:DISCO_PORT` (port 0 = any free port) and, with `DISCO_SPAWN_LOCAL_NODES`,
 * starts the nodes of this machine.
 */
export async function startMaster(settings: Settings, opts: MasterOptions = {}): Promise<MasterHandle> {
  const log = opts.logger ?? pino({ level: 'silent' });
  const root = settings.get('DISCO_MASTER_ROOT');
  await mkdir(root, { recursive: true });
  const config = await ClusterConfig.load(
    settings.get('DISCO_MASTER_CONFIG'),
    settings.get('DISCO_MASTER_HOST'),
  );
  const registry = new NodeRegistry(config);
  const store = new JobStore(root);
  const observatory = new Observatory((job) => store.jobDir(job), log);
  // DDFS (tags, blob placement, GC) unless the caller brings its own handler.
  const ddfsMaster: DdfsMaster | null = opts.ddfs
    ? null
    : startDdfsMaster({ settings, config, registry, log });
  const manager = new JobManager({
    settings,
    store,
    config,
    registry,
    log,
    observer: observatory,
    // A purged job's out-of-band results go too (wire spec §1.2.3, the original's temp_gc).
    onPurge: ddfsMaster ? (job) => ddfsMaster.deleteTag(jobOobTag(job)) : undefined,
  });
  // A failed start (job store unreadable, port taken) stops what already runs, every step even
  // when an earlier one fails, and rejects with its own error: the caller may retry.
  let stopMetrics: (() => void) | undefined;
  const abandonStart = async (startError: unknown): Promise<never> => {
    const steps = [
      () => ddfsMaster?.close(),
      () => stopMetrics?.(),
      () => manager.close(),
      () => observatory.close(),
    ];
    for (const step of steps) {
      try {
        await step();
      } catch (err) {
        log.warn({ err }, 'clean-up after a failed start');
      }
    }
    throw startError;
  };
  await manager.init().catch(abandonStart);
  const ctx: MasterContext = {
    settings,
    manager,
    config,
    registry,
    store,
    log,
    version: packageVersion(),
    ddfs: opts.ddfs ?? ddfsMaster?.handler,
    observatory,
    ddfsGc: ddfsMaster?.gc,
    startedAt: Date.now(),
  };
  stopMetrics = registerMasterMetrics(ctx);

  const server = createMasterServer(ctx);
  let channel: ControlChannel | null = null;
  server.on('upgrade', (req, socket, head) => {
    if (!channel?.handleUpgrade(req, socket, head)) socket.destroy();
  });
  const listenHost = settings.get('DISCO_LISTEN_HOST');
  const listening = await listen(server, settings.int('DISCO_PORT'), listenHost).catch(abandonStart);
  const { port } = listening;
  // With DISCO_PORT=0 the configured URL has no real port; nodes need the bound one.
  const masterUrl =
    settings.get('DISCO_PORT') === '0'
      ? `http://${settings.get('DISCO_MASTER_HOST')}:${port}`
      : settings.get('DISCO_MASTER');
  const ch = new ControlChannel({
    secret: settings.get('DISCO_SECRET'),
    masterUrl,
    config,
    registry,
    log,
    onConnected: (h) => manager.nodeConnected(h),
    onLost: (h) => manager.nodeLost(h),
    onMessage: (h, m) => manager.nodeMessage(h, m),
  });
  channel = ch;
  const supervisor = settings.flag('DISCO_SPAWN_LOCAL_NODES')
    ? new LocalNodeSupervisor(settings, config, masterUrl, log)
    : null;
  config.onChange((change) => {
    if (change === 'hosts') {
      ch.configChanged();
      supervisor?.sync();
    }
    if (change === 'hosts' || change === 'blacklist') manager.nodesChanged();
  });
  supervisor?.sync();

  const shownHost = !listenHost || listenHost === '0.0.0.0' || listenHost === '::' ? '127.0.0.1' : listenHost;
  const url = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`;
  log.info({ url, masterUrl, root }, 'master started');

  let closing: Promise<void> | null = null;
  return {
    url,
    port,
    context: ctx,
    close() {
      closing ??= (async () => {
        await supervisor?.close();
        ddfsMaster?.close();
        await ch.close();
        await listening.close();
        await manager.close();
        stopMetrics();
        await observatory.close();
        log.info('master stopped');
      })();
      return closing;
    },
  };
}
