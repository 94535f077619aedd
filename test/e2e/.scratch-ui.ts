import { Disco } from '../../src/index.js';
import { startCluster } from '../harness/cluster.js';
import { Sleepy } from './fixtures/ui-jobs.js';

const c = await startCluster({ nodes: 2, cores: 2 });
const disco = new Disco(c.master);
const quick = await new Sleepy({ master: disco }).run({ input: ['raw://a b c', 'raw://b c', 'raw://c'], params: { ms: 10 } });
await quick.wait();
const slow = await new Sleepy({ master: disco }).run({ input: Array.from({ length: 8 }, (_, i) => `raw://w${i} x`), params: { ms: 3000 } });
console.log(c.master, quick.name, slow.name);
await new Promise((r) => setTimeout(r, 4000));
for (const p of ['/', `/job/${encodeURIComponent(slow.name)}`, '/metrics', '/health', `/disco/api/v1/jobs/${quick.name}/tasks`, `/disco/api/v1/jobs/${quick.name}/timeline`, '/configure', '/tags', '/static/ui.js']) {
  const r = await fetch(c.master + p);
  const t = await r.text();
  console.log('=====', p, r.status, r.headers.get('content-type'), t.length);
  if (p === '/metrics' || p.includes('api')) console.log(t.slice(0, 6000));
}
const r = await fetch(`${c.master}/job/${encodeURIComponent(slow.name)}?fragment=progress,tasks`);
console.log((await r.text()).slice(0, 1500));
await slow.wait();
await c.stop();
