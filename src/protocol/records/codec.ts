/**
 * The MessagePack codec of records: msgpackr, with the options readers and writers share,
 * loaded on first use (see {@link loadPackrs}). The writer encodes plain values itself
 * (pack-buffer.ts); everything else, and all decoding, goes through here.
 *
 * @example
 * const [k, v] = unpackValues(Buffer.concat([packValue('a'), packValue(1)]));
 */
import { createRequire } from 'node:module';
import type { Packr } from 'msgpackr';

/** The MessagePack codecs of records: `packr`, and `viewPackr` (see {@link unpackDetached}). */
interface Packrs {
  packr: Packr;
  viewPackr: Packr;
}

let packrs: Packrs | undefined;

/**
 * msgpackr, loaded on first use: it costs about 20 ms of a process's start, and writers of
 * strings and Buffers (`ddfs push`, `chunk`) never need it, nor do commands that read no
 * records (`ddfs cat`, `ls`). Loaded synchronously, as the codec is: through the bundles'
 * `require` (the worker bundle has msgpackr bundled in place of this call), or under
 * vitest, whose ES modules have none, through one of this module's own.
 */
function loadPackrs(): Packrs {
  const { Packr } = (
    typeof require === 'function' ? require('msgpackr') : createRequire(import.meta.url)('msgpackr')
  ) as typeof import('msgpackr');
  return {
    // `copyBuffers`: decoded binary values are copies, never views of the hunk they came from
    // (a small value must not keep a whole hunk alive, and readers reuse their hunk buffers).
    packr: new Packr({ useRecords: false, moreTypes: true, variableMapSize: true, copyBuffers: true }),
    // The same options, but binary values are views of what is decoded.
    viewPackr: new Packr({ useRecords: false, moreTypes: true, variableMapSize: true }),
  };
}

/** Encode one value as MessagePack (shared so readers and writers agree on options). */
export function packValue(v: unknown): Buffer {
  packrs ??= loadPackrs();
  return packrs.packr.pack(v);
}

/** Decode every MessagePack value in `body`. */
export function unpackValues(body: Uint8Array): unknown[] {
  packrs ??= loadPackrs();
  return packrs.packr.unpackMultiple(body) as unknown[];
}

/**
 * Largest piece of decoded bytes binary values may share (as Node's own pool shares 8 KiB
 * slabs between small Buffers): a kept value holds at most that much memory.
 */
export const DETACHED_BYTES = 8 * 1024;

/**
 * Decode every MessagePack value in `bytes[start, end)` — whole values, at most about
 * {@link DETACHED_BYTES} (more only for one big record) — into a copy of its own: binary
 * values are Buffers viewing that copy. The same values as {@link unpackValues}, with one
 * allocation per piece instead of one per binary value (about twice as fast for small ones).
 */
export function unpackDetached(bytes: Uint8Array, start: number, end: number): unknown[] {
  const own = Buffer.allocUnsafeSlow(end - start);
  own.set(bytes.subarray(start, end));
  packrs ??= loadPackrs();
  return packrs.viewPackr.unpackMultiple(own) as unknown[];
}

/**
 * Decode every value of `bytes[start, end)`: detached ({@link unpackDetached}) when it holds
 * binary values that must not be views of `bytes` (a reader's reused buffer), else as
 * {@link unpackValues} does.
 */
export function unpackRange(bytes: Buffer, start: number, end: number, detached: boolean): unknown[] {
  return detached ? unpackDetached(bytes, start, end) : unpackValues(bytes.subarray(start, end));
}
