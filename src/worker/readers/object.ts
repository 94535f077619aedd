/**
 * Structured keys and values in the version 0 framing (the original's `object_writer` and
 * `object_reader`, which pickled keys and values into netstrings). Here each key and value
 * is one MessagePack value encoded exactly as the record format encodes it
 * (`docs/record-format.md`: the same encoder and options), framed as a netstring record:
 *
 *     <len(msgpack(key))> SP <msgpack(key)> SP <len(msgpack(value))> SP <msgpack(value)> LF
 *
 * So keys and values come back exactly as they would from a record (strings, numbers,
 * bigints, booleans, null, arrays, plain objects, `Set`s, `Date`s, bytes, nested in any way;
 * `Map`s come back as plain objects — the record format's table of values says it all), and
 * any language with a MessagePack decoder reads the files. The typical use, as in the
 * original: `mapWriter: objectWriter` with `reduceReader: objectReader`.
 *
 * @example
 * { map: (line) => [[line, { words: line.split(' '), at: new Date() }]],
 *   mapWriter: objectWriter, reduceReader: objectReader, reduce }
 */
import { DataError } from '../../common/errors.js';
import { packValue, unpackValues } from '../../protocol/record-stream.js';
import { requireByteSink } from '../outputs.js';
import { requireInputStream } from './input-stream.js';
import { NetstringOutput, readNetstrings } from './netstr.js';

function decodeOne(bytes: Buffer, what: string, url: string): unknown {
  let vals: unknown[];
  try {
    vals = unpackValues(bytes);
  } catch (e) {
    throw new DataError(`corrupt object ${what}: ${(e as Error).message}`, url);
  }
  if (vals.length !== 1)
    throw new DataError(`corrupt object ${what}: expected one MessagePack value, found ${vals.length}`, url);
  return vals[0];
}

/**
 * `objectReader(stream, size, url, params)` — reads what {@link objectWriter} wrote:
 * yields `[key, value]` with their original structure.
 *
 * @example
 * { mapWriter: objectWriter, reduceReader: objectReader, map, reduce }
 */
export function* objectReader(
  stream: unknown,
  size: number | null = null,
  url = '',
  _params?: unknown,
): Generator<[unknown, unknown]> {
  const s = requireInputStream(stream, size, url, 'objectReader');
  for (const [k, v] of readNetstrings(s, { url, size }))
    yield [decodeOne(k, 'key', url), decodeOne(v, 'value', url)];
}

/**
 * `objectWriter(stream, partition, url, params)` — a writer (`mapWriter`/`reduceWriter`, or
 * the last function of an output stream chain) for structured keys and values (see module
 * docs). Read the output with {@link objectReader}.
 *
 * @example
 * const out = objectWriter(file); out.add(['k', 1], { when: new Date() });
 */
export function objectWriter(
  stream: unknown,
  _partition?: unknown,
  _url?: unknown,
  _params?: unknown,
): NetstringOutput {
  return new NetstringOutput(requireByteSink(stream, 'objectWriter'), (v) => packValue(v));
}
