/**
 * Why a job failed is kept in its record (`state.json`): it survives a master restart and is
 * served without the events log and the task history (here moved away); a record written
 * before the field existed still gets its reason from the events log.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Settings } from '../../src/common/settings.js';
import { Disco } from '../../src/index.js';
import type { JobListItem, JobModel } from '../../src/master/http/ui/model.js';
import { JobStore } from '../../src/master/jobs/store.js';
import { type Cluster, startCluster } from '../harness/cluster.js';
import { Crashy } from './fixtures/ui-jobs.js';
import { getJson } from './helpers.js';

let c: Cluster;
beforeAll(async () => {
  c = await startCluster({ nodes: 1 });
});
afterAll(async () => {
  await c?.stop();
});

const ERROR = 'TypeError: record "oops" is not a number';

test('a failed job keeps its reason and failing task across a restart, without its events log', async () => {
  const crash = await new Crashy({ master: new Disco(c.master) }).run({ input: ['raw://1', 'raw://oops'] });
  await expect(crash.wait()).rejects.toThrow();
  const job = crash.name;
  const jobApi = () => getJson<JobModel>(`${c.master}/disco/api/v1/jobs/${encodeURIComponent(job)}`);
  const before = await jobApi();
  expect(before.reason).toMatch(new RegExp(`^Worker at '${c.nodes[0].host}' died: ${ERROR}\\n\\s+at `));
  expect(before.failedTask).toEqual({ mode: 'map', taskid: 1, node: c.nodes[0].host, input: 'raw://oops' });

  const masterRoot = new Settings({ ...c.env, DISCO_ROOT: path.join(c.root, 'master') }, {}, {}).get(
    'DISCO_MASTER_ROOT',
  );
  const store = new JobStore(masterRoot);
  const eventsFile = store.eventsFile(job);
  const stateFile = path.join(store.jobDir(job), 'state.json');
  // Without the task history too, the failed task can only come from the record.
  const historyFile = path.join(store.jobDir(job), 'tasks.json');
  await c.killMaster('SIGKILL');
  renameSync(eventsFile, `${eventsFile}.away`);
  renameSync(historyFile, `${historyFile}.away`);
  await c.restartMaster();

  const after = await jobApi();
  expect(after.reason).toBe(before.reason);
  expect(after.failedTask).toEqual(before.failedTask);
  const list = await getJson<{ jobs: JobListItem[] }>(`${c.master}/disco/api/v1/status`);
  expect(list.jobs.find((j) => j.name === job)?.reason).toBe(`Worker at '${c.nodes[0].host}' died: ${ERROR}`);
  const html = await (await fetch(`${c.master}/job/${encodeURIComponent(job)}`)).text();
  const why = html.slice(
    html.indexOf('id="why-failed"'),
    html.indexOf('</section>', html.indexOf('id="why-failed"')),
  );
  expect(why).toContain(ERROR.replaceAll('"', '&#34;'));
  const hostRe = c.nodes[0].host.replaceAll('.', '\\.');
  expect(why).toMatch(
    new RegExp(`Failed task: <a [^>]*>map:1</a> on ${hostRe}, reading <code>raw://oops</code>`),
  );

  // A record from before the field: the reason comes from the events log.
  await c.killMaster('SIGKILL');
  renameSync(`${eventsFile}.away`, eventsFile);
  renameSync(`${historyFile}.away`, historyFile);
  const { failure, ...old } = JSON.parse(readFileSync(stateFile, 'utf8')) as Record<string, unknown>;
  expect(failure).toBeTruthy();
  writeFileSync(stateFile, JSON.stringify(old));
  await c.restartMaster();
  const fromLog = await jobApi();
  expect(fromLog.reason).toBe(before.reason);
  expect(fromLog.failedTask).toBeNull();
});
