/**
 * The node daemon, one per machine: dials the master's control channel, runs tasks
 * (task-runner.ts), shuffles phase outputs (shuffle.ts), serves its data over HTTP
 * (data-server.ts; without one, its metrics only: metrics-server.ts) and reports its disk space
 * and running workers every 10 s.
 *
 * @example
 * const node = await startNode(loadSettings(), { host: 'node1', master: 'http://master:8989' });
 * // ...
 * await node.close();
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import { errorMessage } from '../common/errors.js';
import type { Listening } from '../common/http-listen.js';
import type { Settings } from '../common/settings.js';
import { startDdfsNode } from '../ddfs/node/index.js';
import type { MasterToNode, NodeToMaster } from '../protocol/control.js';
import { ControlClient } from './control-client.js';
import { type DataServer, startDataServer } from './data-server.js';
import { startMetricsServer } from './metrics-server.js';
import { NodeMetrics } from './node-metrics.js';
import { shuffle } from './shuffle.js';
import { TaskRunner, type TaskRunnerOptions } from './task-runner.js';

/** What {@link startNode} needs besides the settings. */
export interface NodeOptions {
  /** This node's name as in the master's config; `name:port` serves data on that port. */
  host: string;
  /** The master's base URL (`http://master:8989`). */
  master: string;
  /** Run the data server (default true); off when the master's host serves this node's data. */
  dataServer?: boolean;
  log?: Logger;
  /** Overrides for the task runner (tests, embedding). */
  runner?: Partial<Pick<TaskRunnerOptions, 'timeouts' | 'prestart' | 'parkIdleMs'>>;
  /** Status report interval (default 10 s). */
  statusIntervalMs?: number;
}

/** A running node daemon. */
export interface NodeHandle {
  host: string;
  /** Port of the data server, or null without one. */
  dataPort: number | null;
  /** Whether the control channel is up. */
  readonly connected: boolean;
  /** Kill all workers, stop serving and disconnect. */
  close(): Promise<void>;
}

/** Start a node daemon. Resolves once the data server listens; the master may come later. */
export async function startNode(settings: Settings, opts: NodeOptions): Promise<NodeHandle> {
  const log = opts.log ?? pino({ level: 'silent' });
  const discoData = path.resolve(settings.get('DISCO_DATA'));
  const ddfsData = path.resolve(settings.get('DDFS_DATA'));
  await fs.mkdir(discoData, { recursive: true });
  await fs.mkdir(ddfsData, { recursive: true });

  const { name, port: hostPort } = splitHost(opts.host);
  const discoPort = settings.int('DISCO_PORT');
  // Read at scrape time only, once everything below exists.
  const metrics: NodeMetrics = new NodeMetrics(() => ({
    host: opts.host,
    connected: control.connected,
    tasksRunning: runner.running,
    pool: runner.poolStats(),
    disk: ddfs.disk(),
  }));
  let data: DataServer | null = null;
  if (opts.dataServer !== false) data = await listenData(name, hostPort ?? discoPort);
  // Without a data server (the master on this machine serves our data), metrics get a
  // loopback server of their own, which the master relays at /metrics/node/<host>.
  const metricsServer: Listening | null = data
    ? null
    : await startMetricsServer({ metrics, listenHost: '127.0.0.1', port: 0 });
  // DDFS storage: volumes under DDFS_DATA and the PUT server on DDFS_PUT_PORT (src/ddfs/node).
  const ddfs = await startDdfsNode(settings, { host: opts.host, listenHost: name, log });

  let masterUrl = opts.master;
  const send = (msg: NodeToMaster) => {
    metrics.sent(msg);
    control.send(msg);
  };
  const runner = new TaskRunner({
    settings,
    host: opts.host,
    send,
    masterUrl: () => masterUrl,
    fetchUrl: () => opts.master,
    log,
    onOutputBytes: (mode, bytes) => metrics.taskOutput(mode, bytes),
    ...opts.runner,
  });
  let welcomed = false;

  const control = new ControlClient({
    master: opts.master,
    host: opts.host,
    secret: settings.get('DISCO_SECRET'),
    log,
    hello: async () => {
      const disk = ddfs.disk();
      return {
        dataPort: data?.port ?? hostPort ?? discoPort,
        ...(metricsServer ? { metricsPort: metricsServer.port } : {}),
        putPort: settings.int('DDFS_PUT_PORT'),
        diskFree: disk.free,
        diskUsed: disk.used,
      };
    },
    onWelcome: (w) => {
      // Tasks from an earlier connection were re-run by the master when it lost us.
      if (welcomed && runner.running > 0) {
        log.warn({ tasks: runner.running }, 'reconnected: killing tasks of the old connection');
      }
      runner.killAll();
      welcomed = true;
      if (w.master) masterUrl = w.master;
      runner.setMaxWorkers(w.maxWorkers);
      void reportStatus();
    },
    onMessage: (msg) => dispatch(msg),
  });

  function dispatch(msg: MasterToNode): void {
    switch (msg.type) {
      case 'run_task':
        runner.run(msg.task, msg.prefetched === true);
        return;
      case 'kill_task':
        runner.killTask(msg.task);
        return;
      case 'kill_job':
        runner.killJob(msg.job);
        return;
      case 'purge_job':
        runner.purgeJob(msg.job).catch((e) => log.warn({ err: e, job: msg.job }, 'purge failed'));
        return;
      case 'set_max_workers':
        runner.setMaxWorkers(msg.maxWorkers);
        return;
      case 'shuffle': {
        const { job, mode, requestId } = msg;
        const t0 = Date.now();
        (async () => {
          const home = runner.homes.locate(job);
          return shuffle({
            job,
            mode,
            home,
            resultFiles: msg.resultFiles,
            host: opts.host,
            discoData,
            ddfsData,
            discoPort,
            onBytes: (bytes) => metrics.shuffled(mode, bytes),
          });
        })().then(
          (index) => {
            log.debug({ job, mode, files: msg.resultFiles.length, ms: Date.now() - t0 }, 'shuffle done');
            send({ type: 'shuffle_done', job, mode, requestId, index });
          },
          (e) => {
            log.warn({ err: e, job, mode }, 'shuffle failed');
            send({ type: 'shuffle_failed', job, mode, requestId, message: errorMessage(e) });
          },
        );
        return;
      }
      default:
        // challenge / welcome / refused are handled by the control client.
        return;
    }
  }

  async function reportStatus(): Promise<void> {
    if (!control.connected) return;
    const disk = ddfs.disk();
    send({ type: 'status', diskFree: disk.free, diskUsed: disk.used, workers: runner.running });
  }

  const statusTimer = setInterval(() => void reportStatus(), opts.statusIntervalMs ?? 10_000);
  control.start();
  log.info({ host: opts.host, master: opts.master, dataPort: data?.port ?? null }, 'node started');

  let closing: Promise<void> | null = null;
  return {
    host: opts.host,
    dataPort: data?.port ?? null,
    get connected() {
      return control.connected;
    },
    close: () => {
      closing ??= (async () => {
        clearInterval(statusTimer);
        runner.close();
        await control.close();
        await data?.close();
        await metricsServer?.close();
        await ddfs.close();
        log.info({ host: opts.host }, 'node stopped');
      })();
      return closing;
    },
  };

  /** Listen on the address the node's name resolves to; if it does not, on every interface. */
  async function listenData(listenHost: string, port: number): Promise<DataServer> {
    const common = { port, discoData, ddfsData, log, metrics };
    try {
      return await startDataServer({ ...common, listenHost });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTFOUND' && code !== 'EAI_AGAIN' && code !== 'EADDRNOTAVAIL') throw e;
      log.warn({ host: listenHost, code }, 'node name does not resolve to a local address; listening on all');
      return startDataServer(common);
    }
  }
}

/** `name:port` → name and port; a plain name has no port. */
export function splitHost(host: string): { name: string; port: number | null } {
  const m = /^(.*):(\d{1,5})$/.exec(host);
  return m ? { name: m[1], port: Number(m[2]) } : { name: host, port: null };
}
