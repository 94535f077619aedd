import { once } from 'node:events';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import yazl from 'yazl';
import { newNonce, proof } from '../../../src/common/auth.js';
import { type NodeHandle, startNode } from '../../../src/node/daemon.js';
import {
  CONTROL_PATH,
  CONTROL_VERSION,
  type MasterToNode,
  type NodeToMaster,
} from '../../../src/protocol/control.js';
import { parseIndex } from '../../../src/protocol/index-file.js';
import { encodeJobPack } from '../../../src/protocol/jobpack.js';
import { FIXTURES, jobName, tempRoot, testJobDict, testSettings } from './harness.js';

const SECRET = 'sekrit';

/** A fake master: serves job packs and speaks the control channel, recording what nodes send. */
class FakeMaster {
  readonly http = http.createServer((req, res) => this.serveHttp(req, res));
  readonly wss = new WebSocketServer({ noServer: true });
  readonly received: NodeToMaster[] = [];
  readonly packs = new Map<string, Buffer>();
  connections = 0;
  socket: WebSocket | null = null;
  /** Answer hellos with a wrong proof (to test the node's check). */
  lie = false;
  private waiters: (() => void)[] = [];

  async start(port = 0): Promise<string> {
    this.http.on('upgrade', (req, sock, head) => {
      if (req.url !== CONTROL_PATH) return sock.destroy();
      this.wss.handleUpgrade(req, sock, head, (ws) => this.onConnection(ws));
    });
    this.http.listen(port, '127.0.0.1');
    await once(this.http, 'listening');
    return `http://127.0.0.1:${(this.http.address() as AddressInfo).port}`;
  }

  private serveHttp(req: http.IncomingMessage, res: http.ServerResponse) {
    const u = new URL(req.url ?? '/', 'http://x');
    const pack = this.packs.get(u.searchParams.get('name') ?? '');
    if (u.pathname !== '/disco/ctrl/parameters' || !pack) return void res.writeHead(404).end();
    res.writeHead(200).end(pack);
  }

  private onConnection(ws: WebSocket) {
    this.connections += 1;
    this.socket = ws;
    const nonce = newNonce();
    ws.send(JSON.stringify({ type: 'challenge', version: CONTROL_VERSION, nonce }));
    ws.on('message', (data) => {
      // One message, or several sent in the same turn (a JSON array).
      const parsed = JSON.parse(data.toString()) as NodeToMaster | NodeToMaster[];
      for (const msg of Array.isArray(parsed) ? parsed : [parsed]) {
        if (msg.type === 'hello') {
          expect(msg.auth).toBe(proof(SECRET, nonce));
          const auth = this.lie ? proof('wrong', msg.nonce) : proof(SECRET, msg.nonce);
          ws.send(JSON.stringify({ type: 'welcome', auth, master: 'http://the-master:8989', maxWorkers: 2 }));
        }
        this.received.push(msg);
      }
      for (const w of this.waiters.splice(0)) w();
    });
  }

  send(msg: MasterToNode) {
    this.socket!.send(JSON.stringify(msg));
  }

  async waitFor<T extends NodeToMaster>(pred: (m: NodeToMaster) => m is T, timeoutMs = 4000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.received.find(pred);
      if (hit) return hit;
      if (Date.now() > deadline)
        throw new Error(`timed out; got ${JSON.stringify(this.received).slice(0, 1500)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  async close() {
    for (const c of this.wss.clients) c.terminate();
    this.wss.close();
    this.http.closeAllConnections();
    await new Promise((r) => this.http.close(r));
  }
}

async function jobhomeZip(): Promise<Buffer> {
  const z = new yazl.ZipFile();
  for (const f of ['worker.mjs', 'proto.mjs']) z.addBuffer(await fs.readFile(path.join(FIXTURES, f)), f);
  z.end();
  const chunks: Buffer[] = [];
  for await (const c of z.outputStream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

let root: string;
let master: FakeMaster;
let node: NodeHandle | null = null;

beforeEach(async () => {
  root = await tempRoot();
  master = new FakeMaster();
});

afterEach(async () => {
  await node?.close();
  node = null;
  await master.close();
  await fs.rm(root, { recursive: true, force: true });
});

async function start(url: string) {
  node = await startNode(testSettings(root, { DISCO_SECRET: SECRET, DISCO_PORT: '0' }), {
    host: '127.0.0.1',
    master: url,
    runner: { prestart: null },
    statusIntervalMs: 150,
  });
  return node;
}

describe('node daemon', () => {
  it('authenticates, runs a task, shuffles, serves the index and reports status', async () => {
    const url = await master.start();
    const n = await start(url);
    const hello = await master.waitFor(
      (m): m is Extract<NodeToMaster, { type: 'hello' }> => m.type === 'hello',
    );
    expect(hello).toMatchObject({
      host: '127.0.0.1',
      version: CONTROL_VERSION,
      dataPort: n.dataPort,
      putPort: 8990,
    });
    expect(hello.diskFree).toBeGreaterThan(0);

    const job = jobName();
    master.packs.set(
      job,
      encodeJobPack({
        jobdict: testJobDict(),
        jobenvs: { TEST_SCENARIO: 'happy' },
        jobhome: await jobhomeZip(),
      }),
    );
    master.send({
      type: 'run_task',
      task: { job, mode: 'map', taskid: 0, attempt: 0, inputs: [['raw://hi']] },
    });
    const done = await master.waitFor(
      (m): m is Extract<NodeToMaster, { type: 'task_done' }> => m.type === 'task_done' && m.job === job,
    );
    const events = master.received.flatMap((m) => (m.type === 'events' && m.job === job ? m.messages : []));
    // The TASK reply carries the master URL from the welcome.
    expect(events.some((e) => e.includes('"master":"http://the-master:8989"'))).toBe(true);
    expect(events.at(-1)).toMatch(/^DONE: \[map:0\] Task finished in /);

    const resultsFile = done.results[0].replace(/^dir:\/\/[^/]+\/disco\/[^/]+\/[^/]+\/[^/]+\//, '');
    master.send({ type: 'shuffle', job, mode: 'map', requestId: 7, resultFiles: [resultsFile] });
    const sh = await master.waitFor(
      (m): m is Extract<NodeToMaster, { type: 'shuffle_done' }> =>
        m.type === 'shuffle_done' && m.requestId === 7,
    );
    expect(sh.index).toMatch(
      /^dir:\/\/127\.0\.0\.1\/disco\/127\.0\.0\.1\/[0-9a-f]{2}\/.*\/\.disco\/map-index\.txt\.gz$/,
    );
    const indexPath = sh.index!.replace(/^dir:\/\/127\.0\.0\.1\//, '');
    const res = await fetch(`http://127.0.0.1:${n.dataPort}/${indexPath}`);
    expect(res.status).toBe(200);
    const entries = parseIndex(Buffer.from(await res.arrayBuffer()));
    expect(entries.map((e) => e.label)).toEqual(['0', '1']);
    const part0 = await fetch(
      entries[0].url.replace('disco://127.0.0.1/', `http://127.0.0.1:${n.dataPort}/`),
    );
    expect(await part0.text()).toBe('zero\n');

    master.send({ type: 'shuffle', job, mode: 'reduce', requestId: 8, resultFiles: ['../../../etc/passwd'] });
    await master.waitFor((m): m is NodeToMaster => m.type === 'shuffle_failed' && m.requestId === 8);
    await master.waitFor((m): m is NodeToMaster => m.type === 'status');

    master.send({ type: 'purge_job', job });
    await expect
      .poll(() => fetch(`http://127.0.0.1:${n.dataPort}/${indexPath}`).then((r) => r.status))
      .toBe(404);
  });

  it('reconnects after losing the master and kills the old connection tasks', async () => {
    const url = await master.start();
    await start(url);
    await master.waitFor((m): m is NodeToMaster => m.type === 'hello');
    const job = jobName();
    master.packs.set(
      job,
      encodeJobPack({
        jobdict: testJobDict(),
        jobenvs: { TEST_SCENARIO: 'silent' },
        jobhome: await jobhomeZip(),
      }),
    );
    master.send({ type: 'run_task', task: { job, mode: 'map', taskid: 0, attempt: 0, inputs: [] } });
    await master.waitFor((m): m is NodeToMaster => m.type === 'status' && m.workers === 1);
    master.socket!.terminate();
    master.received.length = 0;
    await master.waitFor((m): m is NodeToMaster => m.type === 'hello');
    expect(master.connections).toBe(2);
    await master.waitFor((m): m is NodeToMaster => m.type === 'status' && m.workers === 0);
    expect(master.received.some((m) => m.type === 'task_failed' || m.type === 'task_done')).toBe(false);
  });

  it('refuses a master that cannot prove the secret, and keeps retrying', async () => {
    master.lie = true;
    const url = await master.start();
    const n = await start(url);
    await expect.poll(() => master.connections, { timeout: 3000 }).toBeGreaterThanOrEqual(2);
    expect(n.connected).toBe(false);
    expect(master.received.some((m) => m.type === 'status')).toBe(false);
  });

  it('waits for a master that is not up yet', async () => {
    const url = await master.start();
    const port = new URL(url).port;
    await master.close();
    master = new FakeMaster();
    const n = await start(url);
    await new Promise((r) => setTimeout(r, 400));
    expect(n.connected).toBe(false);
    await master.start(Number(port));
    await master.waitFor((m): m is NodeToMaster => m.type === 'hello', 8000);
    await expect.poll(() => n.connected).toBe(true);
  });
});
