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
