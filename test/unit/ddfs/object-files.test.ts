/** Receiving object files: blocks (O_DIRECT or buffered), back-pressure, limits, failures. */
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { wasmMemory } from '../../../src/common/wasm.js';
import { directStats, streamToFile, TooLargeError } from '../../../src/ddfs/node/object-files.js';

const MiB = 1024 * 1024;
let dir: string;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ddfs-objfiles-'));
});

afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** `data` cut into pieces of pseudo-random sizes (1 byte to 200 KiB), as sockets deliver. */
function pieces(data: Buffer, seed = 1): Buffer[] {
  const out: Buffer[] = [];
  let s = seed;
  for (let o = 0; o < data.length; ) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const n = 1 + (s % (200 * 1024));
    out.push(data.subarray(o, o + n));
    o += n;
  }
  return out;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Does the file system of `dir` take `O_DIRECT` (tmpfs does not)? */
async function directSupported(): Promise<boolean> {
  const probe = path.join(dir, 'probe');
  try {
    await (await fs.open(probe, constants.O_CREAT | constants.O_WRONLY | constants.O_DIRECT)).close();
    return true;
  } catch {
    return false;
  } finally {
    await fs.rm(probe, { force: true });
  }
}

describe('streamToFile', () => {
  it('writes full blocks with O_DIRECT where the file system allows it', async () => {
    const before = directStats.blocks;
    const data = randomBytes(3 * MiB + 5);
    await streamToFile(Readable.from(pieces(data, 9)), path.join(dir, 'direct'), { direct: true });
    expect(sha(await fs.readFile(path.join(dir, 'direct')))).toBe(sha(data));
    if (await directSupported()) expect(directStats.blocks - before).toBe(3);
    const buffered = directStats.blocks;
    await streamToFile(Readable.from(pieces(data, 9)), path.join(dir, 'buffered'), { direct: false });
    expect(directStats.blocks).toBe(buffered);
  });

  /** `data` in a (shared) WebAssembly memory at `offset`, as a chunk is in its arena. */
  function inMemory(data: Buffer, offset = 0): Buffer {
    const mem = wasmMemory(Math.ceil((data.length + offset) / 65536) + 1, true);
    const b = Buffer.from(mem.buffer, offset, data.length);
    data.copy(b);
    return b;
  }

  it('writes views of a WebAssembly memory at their own offsets from where they are (no copy)', async () => {
    const data = randomBytes(5 * MiB + 123);
    const before = { ...directStats };
    const file = path.join(dir, 'in-place');
    const n = await streamToFile(Readable.from(pieces(inMemory(data), 3)), file, { direct: true });
    expect(n).toBe(data.length);
    expect(sha(await fs.readFile(file))).toBe(sha(data));
    expect(directStats.inPlace - before.inPlace).toBe(5);
    if (await directSupported()) expect(directStats.blocks - before.blocks).toBe(5);
  });

  it('writes one large piece in place a few blocks at a time, byte for byte', async () => {
    const data = randomBytes(16 * MiB + 999);
    const before = directStats.inPlace;
    const file = path.join(dir, 'one-piece');
    await streamToFile(Readable.from([inMemory(data)]), file, { direct: true });
    expect(sha(await fs.readFile(file))).toBe(sha(data));
    expect(directStats.inPlace - before).toBe(16);
  });

  it('goes back to copying at the first piece that is not in place, byte for byte', async () => {
    const data = randomBytes(6 * MiB + 77);
    const mem = inMemory(data);
    const cut = 2 * MiB + 4096 + 5;
    // In place up to `cut`, then a piece of ordinary memory, then views of the memory again.
    const body = [
      ...pieces(mem.subarray(0, cut), 4),
      Buffer.from(data.subarray(cut, cut + 1000)),
      ...pieces(mem.subarray(cut + 1000), 5),
    ];
    const before = directStats.inPlace;
    const file = path.join(dir, 'mixed');
    await streamToFile(Readable.from(body), file, { direct: true });
    expect(sha(await fs.readFile(file))).toBe(sha(data));
    expect(directStats.inPlace - before).toBe(2);
  });

  it('copies views of a WebAssembly memory that are not at their file offsets', async () => {
    const data = randomBytes(3 * MiB);
    const before = directStats.inPlace;
    const file = path.join(dir, 'shifted');
    await streamToFile(Readable.from(pieces(inMemory(data, 4096), 6)), file, { direct: true });
    expect(sha(await fs.readFile(file))).toBe(sha(data));
    expect(directStats.inPlace).toBe(before);
  });

  for (const direct of [true, false]) {
    const mode = direct ? 'O_DIRECT where possible' : 'through the page cache';
    for (const size of [0, 1000, MiB, 2 * MiB, 3 * MiB + 12345, 9 * MiB + 511]) {
      it(`stores ${size} bytes byte for byte (${mode})`, async () => {
        const data = randomBytes(size);
        const file = path.join(dir, 'sub', `f${size}`);
        // Pieces pushed all at once: the blocks run out and the body is paused meanwhile.
        const n = await streamToFile(Readable.from(pieces(data, size + 1)), file, { direct });
        expect(n).toBe(size);
        const got = await fs.readFile(file);
        expect(got.length).toBe(size);
        expect(sha(got)).toBe(sha(data));
      });
    }
  }

  it('stores several uploads at once (more than the aligned blocks cover) byte for byte', async () => {
    const datas = Array.from({ length: 6 }, (_, i) => randomBytes(5 * MiB + i * 4099));
    const sizes = await Promise.all(
      datas.map((d, i) => streamToFile(Readable.from(pieces(d, i + 7)), path.join(dir, `c${i}`))),
    );
    expect(sizes).toEqual(datas.map((d) => d.length));
    for (const [i, d] of datas.entries())
      expect(sha(await fs.readFile(path.join(dir, `c${i}`)))).toBe(sha(d));
  });

  it('waits for a slow body and keeps the order of late pieces', async () => {
    const data = randomBytes(4 * MiB + 77);
    const parts = pieces(data, 3);
    const body = new Readable({ read() {} });
    const done = streamToFile(body, path.join(dir, 'slow'));
    for (const [i, p] of parts.entries()) {
      body.push(p);
      if (i % 5 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    body.push(null);
    expect(await done).toBe(data.length);
    expect(sha(await fs.readFile(path.join(dir, 'slow')))).toBe(sha(data));
  });

  it('keeps the order of pieces that come after pause() (a body that does not pause at once)', async () => {
    const data = randomBytes(7 * MiB + 999);
    const body = new Readable({ read() {} });
    const done = streamToFile(body, path.join(dir, 'eager'));
    while (body.listenerCount('data') === 0) await new Promise((r) => setTimeout(r, 1));
    // All pieces in one go, as `data` events, whatever pause() asked for.
    for (const p of pieces(data, 11)) body.emit('data', p);
    body.push(null);
    expect(await done).toBe(data.length);
    expect(sha(await fs.readFile(path.join(dir, 'eager')))).toBe(sha(data));
  });

  it('refuses more than the limit and removes the file', async () => {
    const file = path.join(dir, 'big');
    await expect(
      streamToFile(Readable.from(pieces(randomBytes(3 * MiB))), file, { limit: 2 * MiB }),
    ).rejects.toBeInstanceOf(TooLargeError);
    await expect(fs.stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('removes the file of a body that fails in the middle, and later uploads still work', async () => {
    const file = path.join(dir, 'broken');
    const body = new Readable({ read() {} });
    const done = streamToFile(body, file);
    for (const p of pieces(randomBytes(3 * MiB))) body.push(p);
    while (body.listenerCount('data') === 0) await new Promise((r) => setTimeout(r, 1));
    setTimeout(() => body.destroy(new Error('peer went away')), 5);
    await expect(done).rejects.toThrow(/peer went away|closed before the end/);
    await expect(fs.stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
    const data = randomBytes(6 * MiB + 3);
    expect(await streamToFile(Readable.from(pieces(data)), path.join(dir, 'after'))).toBe(data.length);
    expect(sha(await fs.readFile(path.join(dir, 'after')))).toBe(sha(data));
  });

  it('fails at once for a body that went away before the file was open', async () => {
    const file = path.join(dir, 'early', 'gone');
    const body = new Readable({ read() {} });
    body.on('error', () => undefined);
    body.push(Buffer.alloc(1000));
    body.destroy(new Error('peer went away early'));
    await expect(streamToFile(body, file)).rejects.toThrow(/peer went away early/);
    await expect(fs.stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('never replaces an existing file', async () => {
    const file = path.join(dir, 'x');
    await fs.writeFile(file, 'old');
    await expect(streamToFile(Readable.from([Buffer.from('new')]), file)).rejects.toMatchObject({
      code: 'EEXIST',
    });
    expect(await fs.readFile(file, 'utf8')).toBe('old');
  });
});
