/** A scripted node for master tests: speaks the control channel over a real WebSocket. */
import WebSocket from 'ws';
import { newNonce, proof } from '../../../src/common/auth.js';
import {
  CONTROL_PATH,
  CONTROL_VERSION,
  type MasterToNode,
  type NodeToMaster,
} from '../../../src/protocol/control.js';

export class FakeNode {
  private readonly inbox: MasterToNode[] = [];
  private readonly waiters: (() => void)[] = [];
  closed = false;

  private constructor(
    readonly host: string,
    readonly ws: WebSocket,
  ) {
    ws.on('message', (d) => {
      // One message, or several sent in the same turn (a JSON array).
      const parsed = JSON.parse(d.toString()) as MasterToNode | MasterToNode[];
      this.inbox.push(...(Array.isArray(parsed) ? parsed : [parsed]));
      for (const w of this.waiters.splice(0)) w();
    });
    ws.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /**
   * Connect and do the handshake; resolves with the node and the master's answer. `hello`
   * replaces fields of the hello (e.g. `dataPort`, where the master reads the node's metrics).
   */
  static async connect(
    masterUrl: string,
    host: string,
    secret = '',
    hello: Partial<Extract<NodeToMaster, { type: 'hello' }>> = {},
  ): Promise<{ node: FakeNode; answer: MasterToNode; verified: boolean }> {
    const ws = new WebSocket(`${masterUrl.replace(/^http/, 'ws')}${CONTROL_PATH}`);
    const node = new FakeNode(host, ws);
    const challenge = await node.next('challenge');
    const nonce = newNonce();
    node.send({
      type: 'hello',
      version: CONTROL_VERSION,
      host,
      pid: process.pid,
      nonce,
      auth: proof(secret, challenge.nonce),
      dataPort: 0,
      putPort: 0,
      diskFree: 1000,
      diskUsed: 10,
      ...hello,
    });
    const answer = await node.next();
    const verified = answer.type === 'welcome' && answer.auth === proof(secret, nonce);
    return { node, answer, verified };
  }

  send(msg: NodeToMaster): void {
    this.ws.send(JSON.stringify(msg));
  }

  /** The next message (of `type`, skipping others when given). */
  async next<T extends MasterToNode['type']>(
    type?: T,
    timeoutMs = 3000,
  ): Promise<Extract<MasterToNode, { type: T }>> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex((m) => !type || m.type === type);
      if (i >= 0) return this.inbox.splice(i, 1)[0] as Extract<MasterToNode, { type: T }>;
      if (this.closed) throw new Error(`connection closed while waiting for ${type ?? 'a message'}`);
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${type ?? 'a message'}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const done = new Promise<void>((r) => this.ws.once('close', () => r()));
    this.ws.close();
    await done;
  }
}
