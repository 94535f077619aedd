/**
 * The WebAssembly encoder of text lines into records `[line, null]` (SIMD: 16 bytes per
 * step, both to find each line's end and to copy it), used by line-hunks.ts when encoding on
 * the main thread: about 5 times faster than the same loop in JavaScript, whose cost is the
 * two native calls per line (`indexOf`, `copyWithin`). Its memory is shared (a
 * SharedArrayBuffer), so that a worker thread can read what it wrote (lines-in-memory.ts
 * computes hunks' CRC-32 there); two more pages past the buffer are the scratch areas of
 * the WebAssembly CRC-32 (common/crc32.ts) on this thread and on that worker, which CRC the
 * hunks in place (copying out of shared memory is slower than zlib's CRC). Source:
 * line-records.wat next to this file; rebuild the bytes below after a change with
 * `npx -p wabt@1.0.39 wat2wasm --enable-threads line-records.wat -o x.wasm` and
 * `base64 -w0 x.wasm`.
 *
 * @example
 * const enc = lineRecordEncoder(size); // null if this Node has no WebAssembly SIMD
 * if (enc) enc.buffer.write('a\nb\n', 100); // then enc.encode(100, 104, 14) -> [end, records]
 */
import { CRC_SCRATCH, crcMemory } from '../../common/crc32.js';
import { wasm, wasmMemory } from '../../common/wasm.js';

const WASM =
  'AGFzbQEAAAABCAFgA39/fwF/AhIBA2VudgZtZW1vcnkCAwGAgAEDAgEABgYBfwFBAAsHFAIHcmVjb3JkcwMABmVuY29kZQAACtQCAdECAQZ/QQAhCAJAA0AgACABTw0BIAAhAwJAA0AgA/0AAABBCv0P/SP9ZCEEIAQNASADQRBqIQMMAAsLIAMgBGhqIQUgBSAAayEGIAZBIEkEQCACQaABIAZyOgAAIAJBAWohAgUgBkGAAkkEQCACQdkBOgAAIAIgBjoAASACQQJqIQIFIAZBgIAESQRAIAJB2gE6AAAgAiAGQQh2OgABIAIgBjoAAiACQQNqIQIFIAJB2wE6AAAgAiAGQRh2OgABIAIgBkEQdjoAAiACIAZBCHY6AAMgAiAGOgAEIAJBBWohAgsLCyAGQYACTQRAQQAhBwJAA0AgByAGTw0BIAIgB2ogACAHav0AAAD9CwAAIAdBEGohBwwACwsFIAIgACAG/AoAAAsgAiAGaiECIAJBwAE6AAAgAkEBaiECIAhBAWohCCAFQQFqIQAMAAsLIAgkACACCw==';

let module: object | null | undefined;
/** A WebAssembly memory could not be had (see {@link lineRecordEncoder}). */
let noMemory = false;

/** The compiled module, or null where WebAssembly SIMD is not available. */
function compiled(): object | null {
  if (module === undefined) {
    try {
      module = wasm ? new wasm.Module(Buffer.from(WASM, 'base64')) : null;
    } catch {
      module = null;
    }
  }
  return module;
}

/** A buffer in its own WebAssembly memory, with the encoder working on it. */
export interface LineRecordEncoder {
  /** `size` bytes at address 0 of the memory (which has 16 more readable bytes past it). */
  buffer: Buffer;
  /**
   * Records for the lines of `buffer[p, end)` (`end - 1` must be `\n`) written from `o` on,
   * `o + 16` at most the start of the text still to encode at every step (line-hunks.ts:
   * the records never get that close). Returns the records' end and their number.
   */
  encode(p: number, end: number, o: number): [end: number, records: number];
  /** The WebAssembly memory (shared), for a worker's CRC module (hunk-crc.ts). */
  memory: { buffer: ArrayBuffer };
  /**
   * The worker's CRC scratch area in `memory` (CRC_SCRATCH bytes). This thread's is set up
   * already: `crc32` (common/crc32.ts) of a view of `buffer` computes in place.
   */
  crcScratch: number;
}

/** An encoder with a buffer of `size` bytes (up to 1 GiB less 128 KiB), or null without WebAssembly SIMD. */
export function lineRecordEncoder(size: number): LineRecordEncoder | null {
  const m = compiled();
  // `size` bytes, the 16 readable past them and the CRC's two scratch pages, in at most 2^30
  // bytes (the module's maximum).
  const pages = Math.ceil((size + 16) / 65536);
  if (!m || !wasm || noMemory || (pages + 2) * 65536 > 1 << 30) return null;
  let memory: { buffer: ArrayBuffer };
  let exports: { encode(p: number, end: number, o: number): number; records: { value: number } };
  try {
    // Each memory reserves address space (about 10 GiB on 64-bit machines, not memory):
    // under a `ulimit -v` this can fail, and the JavaScript encoder takes over.
    memory = wasmMemory(pages + (2 * CRC_SCRATCH) / 65536, true);
    exports = new wasm.Instance(m, { env: { memory } }).exports as typeof exports;
  } catch {
    // Not again: V8 collects garbage before it gives up, each time.
    noMemory = true;
    return null;
  }
  // Both scratch areas (this thread's, then the CRC worker's) end the memory.
  crcMemory(memory, pages * 65536);
  return {
    buffer: Buffer.from(memory.buffer, 0, size),
    encode: (p, end, o) => [exports.encode(p, end, o), exports.records.value],
    memory,
    crcScratch: pages * 65536 + CRC_SCRATCH,
  };
}
