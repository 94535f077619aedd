/**
 * `NodeRegistry.lostSignal`: what long calls to a node (DDFS GC) abort on. It fires the moment
 * the master drops the node's connection, with no polling, and a reconnected node gets a new one.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FakeNode } from './fake-node.js';
import { postJson, rootWithHosts, startTestMaster, type TestMaster } from './helpers.js';

let m: TestMaster;
beforeAll(async () => {
  m = await startTestMaster({}, rootWithHosts([['n1', '1']]));
});
afterAll(async () => {
  await m?.destroy();
});

const aborted = (s: AbortSignal) =>
  new Promise<unknown>((resolve) => {
    if (s.aborted) resolve(s.reason);
    else s.addEventListener('abort', () => resolve(s.reason), { once: true });
  });

it('is aborted for a node that is not connected', () => {
  const s = m.context.registry.lostSignal('n1');
  expect(s.aborted).toBe(true);
  expect(String(s.reason)).toContain('node n1 is not connected');
});

it('fires when the connection closes, and a reconnected node has a fresh one', async () => {
  const { node } = await FakeNode.connect(m.url, 'n1');
  const first = m.context.registry.lostSignal('n1');
  expect(first.aborted).toBe(false);
  await node.close();
  expect(String(await aborted(first))).toContain('node n1 disconnected');

  const { node: again } = await FakeNode.connect(m.url, 'n1');
  const second = m.context.registry.lostSignal('n1');
  expect(second.aborted).toBe(false);
  // Leaving the config table drops the connection too.
  await postJson(`${m.url}/disco/ctrl/save_config_table`, [['n2', '1']]);
  expect(String(await aborted(second))).toContain('node n1 disconnected');
  await again.close();
});
