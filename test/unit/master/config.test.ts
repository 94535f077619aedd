import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ClusterConfig,
  checkConfigTable,
  DEFAULT_MAX_FAILURE_RATE,
  readConfigFile,
} from '../../../src/master/cluster/config.js';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'disco-config-'));

describe('checkConfigTable', () => {
  it('expands ranges and keeps the raw rows', () => {
    const r = checkConfigTable([
      ['n01:02', '4'],
      ['solo', '1'],
    ]);
    expect(r).toEqual({
      ok: true,
      rows: [
        ['n01:02', '4'],
        ['solo', '1'],
      ],
      hosts: [
        { name: 'n01', cores: 4 },
        { name: 'n02', cores: 4 },
        { name: 'solo', cores: 1 },
      ],
    });
  });

  it('reports duplicate nodes, also across ranges', () => {
    expect(
      checkConfigTable([
        ['a', '1'],
        ['a', '2'],
      ]),
    ).toEqual({ ok: false, error: 'duplicate nodes' });
    expect(
      checkConfigTable([
        ['n01:03', '1'],
        ['n02', '2'],
      ]),
    ).toEqual({ ok: false, error: 'duplicate nodes' });
  });

  it('reports invalid configs', () => {
    for (const bad of [{}, 'x', [['a']], [['a', 'x']], [[1, '2']], [['n05:01', '1']], [['a b', '1']]]) {
      const r = checkConfigTable(bad);
      expect(r.ok, JSON.stringify(bad)).toBe(false);
      if (!r.ok) expect(r.error).toMatch(/^invalid config/);
    }
  });
});

describe('config file', () => {
  it('defaults to the master host with one slot per CPU when missing', async () => {
    const d = await readConfigFile(path.join(tmp(), 'none.config'), 'me');
    expect(d.rows).toEqual([['me', String(os.cpus().length)]]);
    expect(d.maxFailureRate).toBe(DEFAULT_MAX_FAILURE_RATE);
  });

  it('accepts the old bare-list format', async () => {
    const f = path.join(tmp(), 'old.config');
    writeFileSync(f, JSON.stringify([['localhost', '1']]));
    expect((await readConfigFile(f, 'me')).rows).toEqual([['localhost', '1']]);
  });

  it('persists table, blacklists and settings; blacklists only name configured hosts', async () => {
    const f = path.join(tmp(), 'c.config');
    const c = await ClusterConfig.load(f, 'me');
    const changes: string[] = [];
    c.onChange((ch) => changes.push(ch));
    expect(await c.saveTable([['n1:3', '2']])).toBeNull();
    await c.setBlacklisted('n2', true);
    await c.setBlacklisted('unknown', true);
    await c.setGcBlacklisted('n3', true);
    await c.setMaxFailureRate(7);
    expect(changes).toEqual(['hosts', 'blacklist', 'blacklist', 'gc_blacklist', 'settings']);
    expect(JSON.parse(readFileSync(f, 'utf8'))).toEqual({
      hosts: [['n1:3', '2']],
      blacklist: ['n2'],
      gc_blacklist: ['n3'],
      settings: { max_failure_rate: 7 },
    });
    const again = await ClusterConfig.load(f, 'me');
    expect(again.hosts().map((h) => h.name)).toEqual(['n1', 'n2', 'n3']);
    expect(again.isBlacklisted('n2')).toBe(true);
    expect(again.maxFailureRate()).toBe(7);
    // Removing a host from the table drops it from the blacklists.
    expect(await again.saveTable([['n1', '1']])).toBeNull();
    expect(again.blacklist()).toEqual([]);
    expect(again.gcBlacklist()).toEqual([]);
    expect(
      await again.saveTable([
        ['n1', '1'],
        ['n1', '1'],
      ]),
    ).toBe('duplicate nodes');
  });
});
