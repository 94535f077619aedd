import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeAllSync } from '../../../src/common/fd-write.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'fd-write-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What `write(fd)` leaves in a fresh file. */
function written(write: (fd: number) => void): Buffer {
  const file = path.join(dir, `f${Math.random()}`);
  const fd = openSync(file, 'w');
  try {
    write(fd);
  } finally {
    closeSync(fd);
  }
  return readFileSync(file);
}

describe('writeAllSync', () => {
  it('writes the whole buffer, or exactly the window [off, off + len)', () => {
    const b = Buffer.from('0123456789');
    expect(written((fd) => writeAllSync(fd, b)).toString()).toBe('0123456789');
    expect(written((fd) => writeAllSync(fd, b, 3)).toString()).toBe('3456789');
    expect(written((fd) => writeAllSync(fd, b, 2, 5)).toString()).toBe('23456');
    expect(written((fd) => writeAllSync(fd, b, 4, 0)).length).toBe(0);
    // A view writes its own bytes, not those of the buffer under it.
    expect(written((fd) => writeAllSync(fd, b.subarray(6), 1, 2)).toString()).toBe('78');
  });

  it('appends successive writes, large ones whole', () => {
    const big = Buffer.alloc(24 * 1024 * 1024 + 7);
    for (let i = 0; i < big.length; i += 4096) big[i] = i % 251;
    const got = written((fd) => {
      writeAllSync(fd, Buffer.from('head:'));
      writeAllSync(fd, big);
    });
    expect(got.length).toBe(5 + big.length);
    expect(got.subarray(5).equals(big)).toBe(true);
  });
});
