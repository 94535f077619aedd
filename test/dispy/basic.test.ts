import { afterEach, describe, expect, it } from 'vitest';
import { DispyJob, JobCluster } from '../../src/dispy/index.js';
import { cleanupAll, startNode } from './helpers.js';

afterEach(cleanupAll);

function square(n: number) {
  return n * n;
}

describe('JobCluster with a node on loopback', () => {
  it('runs function jobs and returns results', async () => {
    const node = await startNode();
    const cluster = new JobCluster(square, { nodes: [['127.0.0.1', node.port]] });
    const jobs = [1, 2, 3, 4, 5].map((n) => cluster.submit(n));
    const results = await Promise.all(jobs);
    expect(results).toEqual([1, 4, 9, 16, 25]);
    for (const j of jobs) {
      expect(j.status).toBe(DispyJob.Finished);
      expect(j.ipAddr).toBe('127.0.0.1');
    }
    await cluster.close();
  });
});
