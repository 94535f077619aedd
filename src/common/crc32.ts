/**
 * CRC-32 with zlib's polynomial — the same values as `zlib.crc32` — faster for large inputs:
 * Node 20's zlib has no carry-less-multiply path (about 4.7 GB/s here), this WebAssembly SIMD
 * one runs at about 19 GB/s on data in cache (crc32.wat, a Chorba-style sparse multiple of
 * the polynomial; see its header): 1 MiB in WebAssembly memory ×3.9, an ordinary 1 MiB
 * Buffer (copied) ×1.7. Small inputs, and runtimes without WebAssembly SIMD, go to
 * `zlib.crc32`.
 *
 * The module works on a memory it is given, with a scratch area of {@link CRC_SCRATCH} bytes
 * in it. {@link crc32} copies ordinary buffers, block by block, into a small memory of its own
 * (copying is ~30 GB/s, so this still wins); a `SharedArrayBuffer` is another matter: V8
 * copies out of one at ~3 GB/s, slower than zlib. Views of a shared WebAssembly memory are
 * therefore CRC'd in place, once {@link crcMemory} has set that memory up (with room for the
 * scratch area in it), and by zlib otherwise.
 *
 * Source: crc32.wat next to this file; rebuild the bytes below after a change with
 * `npx -p wabt@1.0.39 wat2wasm --enable-threads crc32.wat -o x.wasm` and `base64 -w0 x.wasm`.
 *
 * @example
 * crc32(Buffer.from('hello')) === zlib.crc32('hello'); // true
 * const mem = wasmMemory(17, true); // 1 MiB of data, then the scratch page
 * const crcOf = crcMemory(mem, 16 * 65536);
 * crcOf(0, 1 << 20) === crc32(new Uint8Array(mem.buffer, 0, 1 << 20)); // true
 */
import zlib from 'node:zlib';
import { wasm, wasmMemory } from './wasm.js';

const WASM =
  'AGFzbQEAAAABDQJgAX8AYAR/f39/AX8CEgEDZW52Bm1lbW9yeQIDAYCABAMEAwABAQcOAgRpbml0AAADY3JjAAIKhg0DmAEBA38DQCABIQJBCCEDA0AgAkEBdkGghuLtfkEAIAJBAXFrcXMhAiADQQFrIQMgAw0ACyAAIAFBAnRqIAI2AgAgAUEBaiEBIAFBgAJJDQALQYACIQEDQCAAIAFBgAJrQQJ0aigCACECIAAgAUECdGogAkEIdiAAIAJB/wFxQQJ0aigCAHM2AgAgAUEBaiEBIAFBgBBJDQALC/oBAQJ/IAEgAkF4cWohBAJAA0AgASAETw0BIAAgASgCAHMhACABKAIEIQUgAyAAQf8BcUECdGooAoA4IAMgAEEGdkH8B3FqKAKAMHMgAyAAQQ52QfwHcWooAoAoIAMgAEEYdkECdGooAoAgc3MgAyAFQf8BcUECdGooAoAYIAMgBUEGdkH8B3FqKAKAEHMgAyAFQQ52QfwHcWooAoAIIAMgBUEYdkECdGooAgBzc3MhACABQQhqIQEMAAsLIAEgAkEHcWohBAJAA0AgASAETw0BIABBCHYgAyAAIAEtAABzQf8BcUECdGooAgBzIQAgAUEBaiEBDAALCyAAC+0JAgd/AXsgAkF/cyEEIAFBgMAASQRAIAQgACABIAMQAUF/cw8LIAQgACABQQ9xIAMQASEEIAAgAUEPcWohACABQQR2IQUgA0GAwABqIQYgBkGAgAJqIQcgBkEAQcAl/AsAIAYgBDYCACAAIAVBrAJrQQR0aiEJAkADQCAAIAlPDQEgBiAHTwRAIANBgMAAaiAGQcAl/AoAACADQYDAAGohBgsgACAHIAZraiEIIAggCUsEQCAJIQgLAkADQCAAQYACaiAISw0BIAYgAP0ABAAgBv0ABAD9USAG/QAEsBMgBv0ABNAO/VEgBv0ABJAL/VH9Uf0LBMAlIAYgAP0ABBAgBv0ABBD9USAG/QAEwBMgBv0ABOAO/VEgBv0ABKAL/VH9Uf0LBNAlIAYgAP0ABCAgBv0ABCD9USAG/QAE0BMgBv0ABPAO/VEgBv0ABLAL/VH9Uf0LBOAlIAYgAP0ABDAgBv0ABDD9USAG/QAE4BMgBv0ABIAP/VEgBv0ABMAL/VH9Uf0LBPAlIAYgAP0ABEAgBv0ABED9USAG/QAE8BMgBv0ABJAP/VEgBv0ABNAL/VH9Uf0LBIAmIAYgAP0ABFAgBv0ABFD9USAG/QAEgBQgBv0ABKAP/VEgBv0ABOAL/VH9Uf0LBJAmIAYgAP0ABGAgBv0ABGD9USAG/QAEkBQgBv0ABLAP/VEgBv0ABPAL/VH9Uf0LBKAmIAYgAP0ABHAgBv0ABHD9USAG/QAEoBQgBv0ABMAP/VEgBv0ABIAM/VH9Uf0LBLAmIAYgAP0ABIABIAb9AASAAf1RIAb9AASwFCAG/QAE0A/9USAG/QAEkAz9Uf1R/QsEwCYgBiAA/QAEkAEgBv0ABJAB/VEgBv0ABMAUIAb9AATgD/1RIAb9AASgDP1R/VH9CwTQJiAGIAD9AASgASAG/QAEoAH9USAG/QAE0BQgBv0ABPAP/VEgBv0ABLAM/VH9Uf0LBOAmIAYgAP0ABLABIAb9AASwAf1RIAb9AATgFCAG/QAEgBD9USAG/QAEwAz9Uf1R/QsE8CYgBiAA/QAEwAEgBv0ABMAB/VEgBv0ABPAUIAb9AASQEP1RIAb9AATQDP1R/VH9CwSAJyAGIAD9AATQASAG/QAE0AH9USAG/QAEgBUgBv0ABKAQ/VEgBv0ABOAM/VH9Uf0LBJAnIAYgAP0ABOABIAb9AATgAf1RIAb9AASQFSAG/QAEsBD9USAG/QAE8Az9Uf1R/QsEoCcgBiAA/QAE8AEgBv0ABPAB/VEgBv0ABKAVIAb9AATAEP1RIAb9AASADf1R/VH9CwSwJyAAQYACaiEAIAZBgAJqIQYMAAsLAkADQCAAIAhPDQEgBiAA/QAEACAG/QAEAP1RIAb9AASwEyAG/QAE0A79USAG/QAEkAv9Uf1R/QsEwCUgAEEQaiEAIAZBEGohBgwACwsMAAsLIANBwOUCaiEKIABBwCVqIQkCQANAIAAgCU8NASAGIAdPBEAgA0GAwABqIAZBwCX8CgAAIANBgMAAaiEGCyAKIAD9AAQAIAb9AAQA/VEgBv0ABLATIAb9AATQDv1RIAb9AASQC/1R/VH9CwQAIAb9DAAAAAAAAAAAAAAAAAAAAAD9CwTAJSAAQRBqIQAgBkEQaiEGIApBEGohCgwACwtBACADQcDlAmpBwCUgAxABQX9zCw==';

/** Bytes of scratch the module needs in a memory it works on (it uses 50,560: one page). */
export const CRC_SCRATCH = 65536;

/**
 * Shortest input {@link crc32} gives to the module when it must copy it first. Measured
 * (scratch/crc32/bench.ts, GB/s of zlib → copy + module): 16 KiB 4.7 → 3.7, 32 KiB
 * 4.7 → 5.9, 64 KiB and more 4.7 → 8.5. The module's fixed cost is its last 4800 bytes,
 * done by tables (~3 µs).
 */
const MIN_COPIED = 32768;
/** Shortest input given to the module in place: 16 KiB 4.5 → 4.3 GB/s, 32 KiB 4.7 → 6.9, 1 MiB 4.8 → 18.7. */
const MIN_IN_PLACE = 24576;
/** Block copied into the module's own memory at a time: it stays in the L2 cache. */
const BLOCK = 65536;

/** CRC of `[start, end)` of a memory, continuing from `init`. */
export type MemoryCrc = (start: number, end: number, init?: number) => number;

interface CrcExports {
  init(scratch: number): void;
  crc(p: number, len: number, crc: number, scratch: number): number;
}

let shared: object | null | undefined;
let unshared: object | null | undefined;

/**
 * The compiled module for shared memories (`memory` imported as shared), or null without
 * WebAssembly SIMD. A `WebAssembly.Module` can be posted to a worker (hunk-crc.ts).
 */
export function crc32Module(): object | null {
  if (shared === undefined) shared = compile(false);
  return shared;
}

/** The same for unshared memories ({@link crc32}'s own). */
function ownModule(): object | null {
  if (unshared === undefined) unshared = compile(true);
  return unshared;
}

function compile(plain: boolean): object | null {
  try {
    if (!wasm) return null;
    const bytes = Buffer.from(WASM, 'base64');
    if (plain) {
      // The same code for an unshared memory: the import's limits flags `shared | max` (3)
      // become `max` (1) — one module text for both.
      const at = bytes.indexOf(Buffer.from('\x06memory\x02\x03', 'latin1'));
      if (at < 0) return null;
      bytes[at + 8] = 1;
    }
    return new wasm.Module(bytes);
  } catch {
    return null;
  }
}

/** Memories set up by {@link crcMemory} on this thread, by buffer. */
const inPlace = new WeakMap<ArrayBufferLike, { f: MemoryCrc; scratch: number }>();

/** CRCs computed by the WebAssembly module, and by zlib (tests check the fast path is taken). */
export const crcStats = { wasm: 0, zlib: 0 };

/**
 * Set up `memory` (a WebAssembly memory, shared or not) for CRCs in place, with
 * `[scratch, scratch + CRC_SCRATCH)` of it as the module's room (16-aligned; never used by
 * anything else, nor by two threads at a time: a worker needs a scratch area of its own).
 * Scratch areas end the memory: data lies below `scratch`, and a range reaching past it is
 * a {@link RangeError}. From then on {@link crc32} of a view of it below `scratch` computes in
 * place on this thread too. Falls back to zlib without WebAssembly SIMD.
 *
 * @example
 * const crcOf = crcMemory(mem, 16 * 65536);
 * crcOf(100, 5000, 0);
 */
export function crcMemory(memory: { buffer: ArrayBufferLike }, scratch: number): MemoryCrc {
  const buffer = memory.buffer;
  const m = buffer instanceof SharedArrayBuffer ? crc32Module() : ownModule();
  let crc = (start: number, end: number, init: number) => {
    crcStats.zlib++;
    return zlib.crc32(new Uint8Array(buffer, start, end - start), init);
  };
  if (m && wasm) {
    try {
      const x = new wasm.Instance(m, { env: { memory } }).exports as CrcExports;
      x.init(scratch);
      crc = (start, end, init) => {
        crcStats.wasm++;
        return x.crc(start, end - start, init, scratch) >>> 0;
      };
    } catch {
      // zlib's, then.
    }
  }
  const f: MemoryCrc = (start, end, init = 0) => {
    if (!(start >= 0 && start <= end && end <= scratch))
      throw new RangeError(`CRC range [${start}, ${end}) outside the data [0, ${scratch})`);
    return crc(start, end, init);
  };
  inPlace.set(buffer, { f, scratch });
  return f;
}

/** The module on a memory of its own: a block for copies, then the scratch area. */
let own: MemoryCrc | null | undefined;
let ownBytes: Uint8Array;

function ownCrc(): MemoryCrc | null {
  if (own === undefined) {
    own = null;
    try {
      if (ownModule()) {
        const memory = wasmMemory((BLOCK + CRC_SCRATCH) / 65536);
        ownBytes = new Uint8Array(memory.buffer, 0, BLOCK);
        own = crcMemory(memory, BLOCK);
      }
    } catch {
      // No memory to be had (address space): zlib.
    }
  }
  return own;
}

/**
 * CRC-32 of `data` (zlib's), continuing from `init` (a previous result): the same as
 * `zlib.crc32(data, init)`, faster for large inputs (see the file's header).
 *
 * @example
 * crc32(Buffer.from('world'), crc32(Buffer.from('hello '))) === zlib.crc32('hello world'); // true
 */
export function crc32(data: Uint8Array, init = 0): number {
  if (data.length >= MIN_IN_PLACE) {
    const mem = inPlace.get(data.buffer);
    // Not a view reaching into the scratch areas (their bytes change under the module).
    if (mem && data.byteOffset + data.length <= mem.scratch)
      return mem.f(data.byteOffset, data.byteOffset + data.length, init);
  }
  if (data.length < MIN_COPIED || data.buffer instanceof SharedArrayBuffer) return zlib.crc32(data, init);
  const f = ownCrc();
  if (!f) return zlib.crc32(data, init);
  let c = init;
  for (let o = 0; o < data.length; o += BLOCK) {
    const n = Math.min(BLOCK, data.length - o);
    ownBytes.set(data.subarray(o, o + n));
    c = f(0, n, c);
  }
  return c;
}
