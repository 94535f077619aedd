/**
 * The record format's fixed numbers (docs/record-format.md): a stream of hunks, each a 14-byte
 * little-endian header `<BBIQ>` — `0x80 + version`, compressed flag (1 = zlib), CRC32 of the
 * uncompressed body, body length — then the body. Writers flush a hunk past {@link HUNK_SIZE}
 * uncompressed bytes; a hunk of length 0 (or EOF) ends the stream. Version 1 bodies are Python
 * pickles (the original classic worker); this project writes version 2: each record is two
 * MessagePack values, key then value.
 *
 * @example
 * const header = hunkHeader(false, zlib.crc32(body), body.length);
 */
export const HUNK_HEADER = 14;
export const HUNK_SIZE = 1024 * 1024;
export const RECORD_VERSION = 2;
/** Refuse hunks bigger than this (a corrupt length field must not allocate gigabytes). */
export const MAX_HUNK = 256 * 1024 * 1024;

export type KV = [key: unknown, value: unknown];

/** The header of a hunk: `compressed` body of `len` bytes whose uncompressed bytes have `crc`. */
export function hunkHeader(compressed: boolean, crc: number, len: number): Buffer {
  const h = Buffer.allocUnsafe(HUNK_HEADER);
  h[0] = 0x80 + RECORD_VERSION;
  h[1] = compressed ? 1 : 0;
  h.writeUInt32LE(crc, 2);
  h.writeBigUInt64LE(BigInt(len), 6);
  return h;
}
