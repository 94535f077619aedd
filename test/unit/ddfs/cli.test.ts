/**
 * Pieces of the `ddfs` command line that need no cluster: argument parsing, tag/URL
 * separation, sizes (the progress line: progress.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/ddfs.js';
import { parseSize, separateTags, splitReplicas } from '../../../src/cli/ddfs-commands.js';

describe('arguments', () => {
  it('splits replica lists, keeps raw:// data whole', () => {
    expect(splitReplicas('disco://a/x')).toBe('disco://a/x');
    expect(splitReplicas(' disco://a/x \t disco://b/x ')).toEqual(['disco://a/x', 'disco://b/x']);
    expect(splitReplicas('raw://two words')).toBe('raw://two words');
    expect(splitReplicas('   ')).toBeNull();
  });

  it('tells tags from other URLs as the original (bare names are tags)', () => {
    expect(
      separateTags(['data:x', 'tag://y', './file', '/abs', 'http://h/p', ['a', 'b'], 'raw://z']),
    ).toEqual({
      tags: ['data:x', 'tag://y'],
      urls: ['./file', '/abs', 'http://h/p', ['a', 'b'], 'raw://z'],
    });
  });

  it('parses sizes', () => {
    expect(parseSize('64M')).toBe(64 << 20);
    expect(parseSize('1g')).toBe(1 << 30);
    expect(parseSize('100K')).toBe(102_400);
    expect(parseSize('512')).toBe(512);
    expect(parseSize('1.5MiB')).toBe(1.5 * 1024 * 1024);
    expect(() => parseSize('lots')).toThrow(/invalid size/);
    expect(() => parseSize('0')).toThrow(/invalid size/);
  });
});

describe('exit statuses without a master', () => {
  const run = async (...args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['node', 'ddfs', ...args], { out: (t) => out.push(t), err: (t) => err.push(t) });
    return { code, out, err };
  };

  it('help and version exit 0, usage errors 2', async () => {
    expect((await run('--help')).code).toBe(0);
    expect((await run('--version')).code).toBe(0);
    expect((await run('frobnicate')).code).toBe(2);
    expect((await run('getattr', 'onlyone')).code).toBe(2);
    expect((await run('chunk', '-z', '12', 'x', './f')).code).toBe(2);
  });

  it('an unreachable master fails with one line and status 1', async () => {
    const r = await run('-m', 'http://127.0.0.1:1', 'ls');
    expect(r.code).toBe(1);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(/^ddfs: /);
  });
});
