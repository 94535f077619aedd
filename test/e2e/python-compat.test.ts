/**
 * Regressions found by running the original Disco 0.4.5 test suite against this master with the
 * unmodified classic Python worker (docs/compat-0.4.5.md). The original sources are not in this
 * repository, so each case is reproduced here with a small protocol-1.0 worker of our own that
 * checks the detail the 0.4.5 worker depends on.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { encodeJobPack, type JobDict } from '../../src/protocol/jobpack.js';
import { type Cluster, startCluster } from '../harness/cluster.js';
import { events, submitPack, waitJob } from './helpers.js';
import { zip } from './packs.js';

let c: Cluster;
beforeAll(async () => {
  // The harness points DISCO_SETTINGS_FILE at a private (missing) file; the regression below
  // is about exactly that variable reaching workers.
  c = await startCluster({ nodes: 1, cores: 2, env: { DISCO_TEST_HOST: '127.0.0.1' } });
});
afterAll(async () => {
  await c?.stop();
});

/** A map-only worker that reports, in one MSG, the variables named in `names` (null if unset). */
const ENV_REPORTER = `#!/usr/bin/env python3
import json, os, sys
OUT, IN = sys.stderr.buffer, sys.stdin.buffer
def send(kind, payload):
    body = json.dumps(payload).encode()
    OUT.write(b'%s %d %s\\n' % (kind.encode(), len(body), body)); OUT.flush()
def recv():
    head = b''
    while head.count(b' ') < 2:
        ch = IN.read(1)
        if not ch: sys.exit(3)
        head += ch
    kind, n, _ = head.split(b' ', 2)
    body = IN.read(int(n)); IN.read(1)
    return kind.decode(), json.loads(body)
send('WORKER', {'version': '1.0', 'pid': os.getpid()}); recv()
send('TASK', ''); recv()
names = json.loads(os.environ['REPORT_NAMES'])
send('MSG', 'env ' + json.dumps({n: os.environ.get(n) for n in names})); recv()
send('DONE', '')
`;

test('workers see no Disco setting, not even DISCO_SETTINGS_FILE, so ~/.disco stays visible', async () => {
  // The 0.4.5 worker resolves dir:// URLs (reduce inputs) with its own settings lookup
  // (environment, then DISCO_SETTINGS_FILE or ~/.disco, then 8989). A cluster on another port
  // tells it DISCO_PORT through the node's ~/.disco; a DISCO_SETTINGS_FILE leaking from the node
  // hid that file and every reduce failed on http://host:8989.
  const names = [
    'DISCO_SETTINGS_FILE',
    'DISCO_PORT',
    'DISCO_TEST_HOST',
    'DDFS_PUT_PORT',
    'HOME',
    'PYTHONHASHSEED',
  ];
  const jobdict: JobDict = {
    prefix: 'PyEnv',
    input: ['raw://x'],
    worker: 'worker.py',
    owner: 'test@localhost',
    nr_reduces: 1,
    scheduler: {},
    'map?': true,
    'reduce?': false,
  };
  const pack = encodeJobPack({
    jobdict,
    jobenvs: { REPORT_NAMES: JSON.stringify(names) },
    jobhome: await zip({ 'worker.py': ENV_REPORTER }),
  });
  const job = await submitPack(c.master, pack);
  const [status] = await waitJob(c.master, job);
  const log = await events(c.master, job);
  expect(status, JSON.stringify(log, null, 1)).toBe('ready');
  const line = log.map(([, , m]) => m).find((m) => m.includes('env {'));
  expect(line, JSON.stringify(log, null, 1)).toBeDefined();
  const seen = JSON.parse(line?.slice(line.indexOf('{')) ?? '{}') as Record<string, string | null>;
  expect(c.env.DISCO_SETTINGS_FILE).toBeTruthy();
  expect(seen).toEqual({
    DISCO_SETTINGS_FILE: null,
    DISCO_PORT: null,
    DISCO_TEST_HOST: null,
    DDFS_PUT_PORT: null,
    HOME: process.env.HOME ?? null,
    PYTHONHASHSEED: '0',
  });
});
