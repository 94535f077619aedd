/**
 * The part of the WebAssembly API this project uses, typed here once: the project's
 * TypeScript libs (ES2022, no DOM) declare no `WebAssembly`. Undefined where the runtime has
 * none.
 *
 * @example
 * const mem = wasm ? new wasm.Memory({ initial: 16, maximum: 16 }) : null; // 1 MiB, page-aligned
 */
export interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Memory: new (d: { initial: number; maximum: number; shared?: boolean }) => { buffer: ArrayBuffer };
  Instance: new (m: object, imports: object) => { exports: unknown };
}

/** The runtime's `WebAssembly`, if any. */
export const wasm: WasmApi | undefined = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/** Buffers of the memories made by {@link wasmMemory}: page-aligned at offset 0. */
const memoryBuffers = new WeakSet<ArrayBufferLike>();

/**
 * A fixed-size WebAssembly memory (`pages` of 64 KiB; throws where there is none). Its
 * buffer starts on a page boundary, which no Buffer allocation promises: views of it at
 * multiples of 4096 can be written with `O_DIRECT` ({@link pageAlignedMemory}).
 *
 * @example
 * const mem = wasmMemory(16); // 1 MiB
 * pageAlignedMemory(Buffer.from(mem.buffer, 8192, 4096)); // true
 */
export function wasmMemory(pages: number, shared = false): { buffer: ArrayBuffer } {
  if (!wasm) throw new Error('no WebAssembly');
  const memory = new wasm.Memory({ initial: pages, maximum: pages, shared });
  memoryBuffers.add(memory.buffer);
  return memory;
}

/** Is `b` a view of a {@link wasmMemory} (so its byte `i` sits at page offset `(b.byteOffset + i) % 4096`)? */
export function pageAlignedMemory(b: Uint8Array): boolean {
  return memoryBuffers.has(b.buffer);
}
