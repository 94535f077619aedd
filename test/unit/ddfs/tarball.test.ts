/**
 * The streaming tar reader of `ddfs push -x` against archives written by GNU tar in its
 * formats (gnu, ustar, pax), plain and gzip-compressed: names (long, nested, non-ASCII),
 * contents, skipped directories and links, and clear errors for what is not a tar archive.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  createReadStream,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TarFormatError, tarMembers } from '../../../src/ddfs/client/tarball.js';

let dir: string;
const files = new Map<string, Buffer>();
const longName = `deep/${'d'.repeat(90)}/${'n'.repeat(120)}.txt`;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tarball-test-'));
  const src = path.join(dir, 'src');
  const add = (name: string, data: Buffer) => {
    mkdirSync(path.dirname(path.join(src, name)), { recursive: true });
    writeFileSync(path.join(src, name), data);
    files.set(name, data);
  };
  add('a.txt', Buffer.from('alpha\n'));
  add('empty', Buffer.alloc(0));
  add('sub/exactly512', randomBytes(512));
  add('sub/big.bin', randomBytes(300_001));
  add(longName, Buffer.from('long name'));
  add('ünïcödé.txt', Buffer.from('utf8 name'));
  mkdirSync(path.join(src, 'emptydir'));
  symlinkSync('a.txt', path.join(src, 'link'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tar(format: string, gzip = false): string {
  const out = path.join(dir, `t-${format}.tar${gzip ? '.gz' : ''}`);
  execFileSync('tar', [`--format=${format}`, gzip ? '-czf' : '-cf', out, '-C', path.join(dir, 'src'), '.']);
  return out;
}

async function readAll(file: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for await (const m of tarMembers(createReadStream(file, { highWaterMark: 1000 }))) {
    const parts: Buffer[] = [];
    for await (const b of m.body) parts.push(b);
    const data = Buffer.concat(parts);
    expect(data.length).toBe(m.size);
    out.set(m.name.replace(/^\.\//, ''), data);
  }
  return out;
}

describe('tarMembers', () => {
  for (const format of ['gnu', 'pax', 'ustar']) {
    test(`reads the regular files of a ${format} archive, plain and gzipped`, async () => {
      // ustar cannot store the long name: GNU tar refuses it, so leave it out there.
      const want = new Map(files);
      if (format === 'ustar') {
        rmSync(path.join(dir, 'src', longName));
        want.delete(longName);
      }
      try {
        for (const gz of [false, true]) {
          const got = await readAll(tar(format, gz));
          expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
          for (const [name, data] of want) expect(got.get(name)?.equals(data), name).toBe(true);
        }
      } finally {
        if (format === 'ustar') writeFileSync(path.join(dir, 'src', longName), files.get(longName)!);
      }
    });
  }

  test('skips bodies the consumer does not read, also half-read ones', async () => {
    const names: string[] = [];
    for await (const m of tarMembers(createReadStream(tar('pax')))) {
      names.push(m.name.replace(/^\.\//, ''));
      if (m.name.endsWith('big.bin')) {
        for await (const _ of m.body) break;
      }
    }
    expect(names.sort()).toEqual([...files.keys()].sort());
  });

  test('refuses what is not a tar archive, with a reason', async () => {
    const text = path.join(dir, 'not.tar');
    writeFileSync(text, 'hello, this is plain text and no tar archive at all\n'.repeat(20));
    await expect(readAll(text)).rejects.toThrow(/not a tar archive \(no valid tar header/);
    const cut = path.join(dir, 'cut.tar');
    const whole = tar('gnu');
    writeFileSync(cut, readFileSync(whole).subarray(0, 2048 + 100));
    await expect(readAll(cut)).rejects.toThrow(TarFormatError);
    const bz = path.join(dir, 't.tar.bz2');
    writeFileSync(bz, execFileSync('bzip2', ['-c', whole]));
    await expect(readAll(bz)).rejects.toThrow(/bzip2 and xz archives are not supported/);
    const empty = path.join(dir, 'empty.tar');
    writeFileSync(empty, '');
    await expect(readAll(empty)).rejects.toThrow(/not a tar archive \(empty\)/);
  });
});
