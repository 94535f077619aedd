import { it } from 'vitest';
import { Disco, Job, kvgroup, sorted, sum } from '../../../src/index.js';
const master = 'http://localhost:18989';
it('latency', async () => {
  const disco = new Disco(master);
  for (let i = 0; i < 8; i++) {
    const t = performance.now();
    const job = new Job({ master: disco, input: ['raw://a b a'], map: (line: string) => line.split(' ').map((w) => [w, 1]),
      ...(i >= 4 ? { *reduce(iter: Iterable<[string, number]>) { for (const [w, c] of kvgroup(sorted(iter))) yield [w, sum(c)]; } } : {}) });
    const built = await job.build();
    const t1 = performance.now();
    job.name = await disco.submit(built.pack);
    const t2 = performance.now();
    const res = await job.wait({ show: false, pollInterval: 2000 });
    const t3 = performance.now();
    const recs = [];
    for await (const kv of disco.resultIterator(res)) recs.push(kv);
    const t4 = performance.now();
    console.log(i >= 4 ? 'map+reduce' : 'map-only', `build ${(t1 - t).toFixed(1)} submit ${(t2 - t1).toFixed(1)} wait ${(t3 - t2).toFixed(1)} read ${(t4 - t3).toFixed(1)} total ${(t4 - t).toFixed(1)}`, JSON.stringify(recs));
  }
}, 120000);
