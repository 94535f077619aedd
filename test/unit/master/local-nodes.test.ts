import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterConfig } from '../../../src/master/cluster/config.js';
import {
  isLocalHost,
  LocalNodeSupervisor,
  masterServesData,
} from '../../../src/master/cluster/local-nodes.js';
import { testSettings, until } from './helpers.js';

describe('local hosts', () => {
  it('recognises this machine', () => {
    expect(isLocalHost('localhost', 'm')).toBe(true);
    expect(isLocalHost('localhost:9001', 'm')).toBe(true);
    expect(isLocalHost('127.0.0.5', 'm')).toBe(true);
    expect(isLocalHost(os.hostname(), 'm')).toBe(true);
    expect(isLocalHost('m', 'm')).toBe(true);
    expect(isLocalHost('elsewhere', 'm')).toBe(false);
  });

  it('knows when the master serves a node’s data', () => {
    expect(masterServesData('m', 'm', '127.0.0.1')).toBe(true);
    expect(masterServesData('localhost', 'm', '127.0.0.1')).toBe(true);
    expect(masterServesData('localhost:9001', 'm', '')).toBe(false);
    expect(masterServesData('127.0.0.2', 'm', '127.0.0.1')).toBe(false);
    expect(masterServesData('127.0.0.2', 'm', '')).toBe(true);
  });
});

describe('LocalNodeSupervisor', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('starts a node per local config host, restarts it when it dies, stops it on close', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'disco-local-nodes-'));
    dirs.push(dir);
    // A stand-in node program: records its arguments, dies on its first run, then stays up.
    const script = path.join(dir, 'node.mjs');
    writeFileSync(
      script,
      `import fs from 'node:fs';
const host = process.argv[process.argv.indexOf('--host') + 1];
const log = ${JSON.stringify(dir)} + '/' + host + '.log';
// Ready for SIGTERM before saying it runs: the test stops it as soon as it has said so.
process.on('SIGTERM', () => { fs.appendFileSync(log, 'stopped\\n'); process.exit(0); });
fs.appendFileSync(log, JSON.stringify(process.argv.slice(2)) + '\\n');
if (fs.readFileSync(log, 'utf8').trim().split('\\n').length === 1) process.exit(3);
setInterval(() => {}, 1000);
`,
    );
    const settings = testSettings(dir, { DISCO_MASTER_HOST: 'localhost' });
    const config = await ClusterConfig.load(path.join(dir, 'c.config'), 'localhost');
    await config.saveTable([
      ['localhost', '1'],
      ['127.0.0.2', '1'],
      ['remote-host', '1'],
    ]);
    const sup = new LocalNodeSupervisor(
      settings,
      config,
      'http://localhost:1234',
      pino({ level: 'silent' }),
      script,
    );
    sup.sync();
    const logOf = (h: string) => path.join(dir, `${h}.log`);
    await until(async () => {
      if (!existsSync(logOf('localhost'))) return undefined;
      return readFileSync(logOf('localhost'), 'utf8').trim().split('\n').length >= 2 ? true : undefined;
    }, 5000);
    const runs = readFileSync(logOf('localhost'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(runs[0]).toEqual(['--host', 'localhost', '--master', 'http://localhost:1234', '--no-data-server']);
    expect(runs[1]).toEqual(runs[0]);
    await until(async () => (existsSync(logOf('127.0.0.2')) ? true : undefined));
    expect(JSON.parse(readFileSync(logOf('127.0.0.2'), 'utf8').split('\n')[0])).toEqual([
      '--host',
      '127.0.0.2',
      '--master',
      'http://localhost:1234',
    ]);
    expect(existsSync(logOf('remote-host'))).toBe(false);
    await sup.close();
    expect(readFileSync(logOf('localhost'), 'utf8')).toContain('stopped');
  });
});
