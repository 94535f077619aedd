/**
 * A real DDFS cluster in this process: a master (startMaster) on 127.0.0.1 and node daemons
 * (startNode) on 127.0.0.2, 127.0.0.3, ... — each with its own root, sharing one DISCO_PORT
 * and one DDFS_PUT_PORT, as on separate machines. Nothing is mocked.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Settings } from '../../../src/common/settings.js';
import { type MasterHandle, startMaster } from '../../../src/master/master.js';
import { type NodeHandle, startNode } from '../../../src/node/daemon.js';
import { freePort } from '../../harness/cluster.js';

export interface DdfsCluster {
  url: string;
  hosts: string[];
  root: string;
  master: MasterHandle;
  nodes: (NodeHandle | null)[];
  /** DDFS_DATA of node i. */
  ddfsData(i: number): string;
  stopNode(i: number): Promise<void>;
  startNode(i: number): Promise<void>;
  restartMaster(): Promise<void>;
  /** Wait until the master sees exactly the running nodes as connected. */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

export interface DdfsClusterOptions {
  nodes: number;
  settings?: Record<string, string>;
  secret?: string;
}

export async function startDdfsCluster(opts: DdfsClusterOptions): Promise<DdfsCluster> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'ddfs-cluster-'));
  const port = await freePort();
  const putPort = await freePort();
  const hosts = Array.from({ length: opts.nodes }, (_, i) => `127.0.0.${i + 2}`);
  const common: Record<string, string> = {
    DISCO_PORT: String(port),
    DDFS_PUT_PORT: String(putPort),
    DISCO_SECRET: opts.secret ?? 'ddfs-test-secret',
    DISCO_WORKER_POOL: '0',
    ...opts.settings,
  };
  const masterRoot = path.join(root, 'master');
  mkdirSync(masterRoot, { recursive: true });
  writeFileSync(
    path.join(masterRoot, `disco_${port}.config`),
    JSON.stringify({ hosts: hosts.map((h) => [h, '1']), blacklist: [], gc_blacklist: [] }),
  );
  const masterSettings = new Settings(
    {
      ...common,
      DISCO_ROOT: masterRoot,
      DISCO_LISTEN_HOST: '127.0.0.1',
      DISCO_MASTER_HOST: '127.0.0.1',
      DISCO_SPAWN_LOCAL_NODES: '',
    },
    {},
    {},
  );
  let master = await startMaster(masterSettings);
  const url = master.url;
  const nodes: (NodeHandle | null)[] = hosts.map(() => null);
  const nodeRoot = (i: number) => path.join(root, `node-${i}`);

  async function connected(): Promise<Record<string, { connected: boolean }>> {
    return (await (await fetch(`${url}/disco/ctrl/nodeinfo`)).json()) as Record<
      string,
      { connected: boolean }
    >;
  }

  const cluster: DdfsCluster = {
    url,
    hosts,
    root,
    get master() {
      return master;
    },
    nodes,
    ddfsData: (i) => path.join(nodeRoot(i), 'ddfs'),
    async startNode(i) {
      const s = new Settings({ ...common, DISCO_ROOT: nodeRoot(i) }, {}, {});
      nodes[i] = await startNode(s, { host: hosts[i], master: url, runner: { prestart: null } });
    },
    async stopNode(i) {
      await nodes[i]?.close();
      nodes[i] = null;
    },
    async restartMaster() {
      await master.close();
      master = await startMaster(masterSettings);
      await cluster.settle();
    },
    async settle() {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const info = await connected();
        if (hosts.every((h, i) => info[h]?.connected === (nodes[i] !== null))) return;
        if (Date.now() > deadline) throw new Error(`nodes did not settle: ${JSON.stringify(info)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      for (let i = 0; i < nodes.length; i++) await cluster.stopNode(i);
      await master.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
  try {
    for (let i = 0; i < hosts.length; i++) await cluster.startNode(i);
    await cluster.settle();
  } catch (e) {
    await cluster.stop();
    throw e;
  }
  return cluster;
}
