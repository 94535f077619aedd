/**
 * Encodings of the dispy protocol.
 *
 * - **Messages** (control frames) are MessagePack maps ({@link packMessage}/{@link unpackMessage})
 *   validated with the zod schemas of `messages.ts` on receipt.
 * - **Data** — job arguments, results, provisional results, setup data — is encoded with the
 *   structured-clone serializer of V8 ({@link encodeData}/{@link decodeData}): plain values,
 *   arrays, objects, `Map`, `Set`, `Date`, `RegExp`, `BigInt`, typed arrays, `Error`s and
 *   cycles survive; functions and class prototypes do not. Decoding never runs code (unlike
 *   the original's pickles); a malformed payload is an error, not an exploit.
 *
 * @example
 * const bytes = encodeData([1, new Map([['a', 2]])]);
 * decodeData(bytes); // [1, Map { 'a' => 2 }]
 */
import v8 from 'node:v8';
import { Packr } from 'msgpackr';
import { ProtocolError } from '../../common/errors.js';

const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, int64AsType: 'number' });

/** One message as MessagePack bytes. */
export function packMessage(msg: unknown): Buffer {
  return packr.pack(msg);
}

/** MessagePack bytes back to a value (validate it before use). */
export function unpackMessage(bytes: Uint8Array): unknown {
  try {
    return packr.unpack(bytes);
  } catch (e) {
    throw new ProtocolError(`undecodable message: ${(e as Error).message}`);
  }
}

/** Encode a data value (arguments, results); throws a clear error for non-serializable values. */
export function encodeData(value: unknown, what = 'value'): Uint8Array {
  try {
    return v8.serialize(value);
  } catch (e) {
    throw new TypeError(`${what} cannot be sent over the network: ${(e as Error).message}`);
  }
}

/** Decode bytes from {@link encodeData}. */
export function decodeData(bytes: Uint8Array | undefined | null): unknown {
  if (bytes === undefined || bytes === null) return undefined;
  try {
    return v8.deserialize(bytes);
  } catch (e) {
    throw new ProtocolError(`undecodable data: ${(e as Error).message}`);
  }
}
