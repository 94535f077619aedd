/**
 * `ddfs push` and `ddfs chunk` draw their progress line on standard error when it is a
 * terminal (here a pseudo-terminal made by util-linux `script`), and nothing when it is not.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { PACKAGE_ROOT } from '../../src/common/settings.js';
import { runCli } from '../harness/cli.js';
import { type Cluster, startCluster } from '../harness/cluster.js';

const DDFS = path.join(PACKAGE_ROOT, 'bin', 'ddfs');
const hasScript = spawnSync('script', ['--version']).status === 0;
let c: Cluster;
let tmp: string;

beforeAll(async () => {
  c = await startCluster({ nodes: 1, cores: 1 });
  tmp = mkdtempSync(path.join(os.tmpdir(), 'ddfs-progress-'));
  const line = `${'word '.repeat(15)}\n`;
  writeFileSync(path.join(tmp, 'big.txt'), line.repeat(Math.ceil((6 << 20) / line.length)));
});
afterAll(async () => {
  await c?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function env(): NodeJS.ProcessEnv {
  return { ...process.env, ...c.env, DISCO_ROOT: path.join(c.root, 'cli') };
}

/** Run `ddfs args` with its standard streams on a pseudo-terminal; everything it wrote. */
function onTerminal(args: string[]): string {
  const cmd = [DDFS, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return execFileSync('script', ['-qefc', cmd, '/dev/null'], { cwd: tmp, env: env(), encoding: 'utf8' });
}

/** Run `ddfs args` with pipes: [stdout, stderr]. */
async function onPipes(args: string[]): Promise<[string, string, number]> {
  const r = await runCli('ddfs', args, { cwd: tmp, env: { ...c.env, DISCO_ROOT: path.join(c.root, 'cli') } });
  return [r.text, r.err, r.code];
}

test.skipIf(!hasScript)('on a terminal: a progress line with bytes of the total and a bar, erased', () => {
  const out = onTerminal(['push', 'progress:push', './big.txt']);
  const frames = out.split('\r\x1b[K').filter((f) => f.startsWith('push'));
  expect(frames.length).toBeGreaterThan(0);
  expect(frames[0]).toMatch(/^push {2}0\/1 files {2}[\d.]+ (B|KiB|MiB) \/ 6\.0 MiB {2}\[[#.]{20}\] \d+%/);
  // Erased before the command's own output line.
  expect(out).toMatch(/\r\x1b\[Kcreated: disco:\/\//);
  const chunked = onTerminal(['chunk', 'progress:chunk', './big.txt']);
  expect(chunked.split('\r\x1b[K').some((f) => /^chunk {2}\d+ chunks {2}.* \/ 6\.0 MiB {2}\[/.test(f))).toBe(
    true,
  );
});

test('not on a terminal: no progress output at all', async () => {
  const [out, err, code] = await onPipes(['push', 'progress:pipe', './big.txt']);
  expect(code).toBe(0);
  expect(err).toBe('');
  expect(out).toMatch(/^created: disco:\/\/\S+\n$/);
  const [cout, cerr, ccode] = await onPipes(['chunk', 'progress:pipe-chunk', './big.txt']);
  expect(ccode).toBe(0);
  expect(cerr).toBe('');
  expect(cout).not.toContain('\x1b');
});
