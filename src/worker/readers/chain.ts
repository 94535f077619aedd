/**
 * The input stream chain (the original's `ClassicFile`): the URL is opened by scheme, each
 * function of `mapInputStream` / `reduceInputStream` is applied in order as
 * `fn(stream, size, url, params)`, and the reader turns the last stream into entries.
 *
 * A stream function may return a new stream, `[stream, size, url]`, `[stream, url]`, or plain
 * text/bytes (wrapped as an in-memory stream). The reader returns an iterable of entries.
 * Without a reader (`mapReader` unset) the worker picks one by looking at the data: record
 * streams (first byte `0x81`/`0x82`, a hunk header) are decoded as records, anything else is
 * read as text lines. A reader explicitly set to `null` iterates the last stream as it is
 * (lines for a stream, the items for any other iterable).
 *
 * @example
 * const input = openChain('raw://a\nb', open, [], undefined, params);
 * [...input.entries]; // ['a', 'b']
 * input.close();
 */
import { readRecords } from '../../protocol/record-stream.js';
import { asInputStream, InputStream } from './input-stream.js';

/** `fn(stream, size, url, params)` of an input stream chain, or a reader. */
export type StreamFunction = (stream: unknown, size: number | null, url: string, params: unknown) => unknown;

/** An opened input: its entries, and how to release what it holds. */
export interface OpenedInput {
  entries: Iterable<unknown>;
  close(): void;
}

/**
 * The record format version `s` starts with, 0 when it is not a record stream. Record streams
 * start with a hunk header byte `0x80 + version`: `0x82` (MessagePack records) or `0x81` (the
 * Python worker's pickles, refused with a clear message by the record reader). Neither byte
 * can start UTF-8 text.
 *
 * @example
 * if (peekRecordVersion(s) === RECORD_VERSION) return readEncodedRecords(s, { url });
 */
export function peekRecordVersion(s: InputStream): number {
  const b = s.peek(1);
  return b.length === 1 && (b[0] === 0x81 || b[0] === 0x82) ? b[0] - 0x80 : 0;
}

/** The reader used when none is configured (see module docs). */
export function autoReader(stream: unknown, size: number | null, url: string): Iterable<unknown> {
  const s = asInputStream(stream, size, url);
  if (s) return peekRecordVersion(s) > 0 ? readRecords(s, { url }) : s.lines();
  return asIterable(stream, 'input stream');
}

function asIterable(v: unknown, what: string): Iterable<unknown> {
  if (v === null || v === undefined) return [];
  if (typeof (v as PromiseLike<unknown>).then === 'function')
    throw new TypeError(`${what} returned a Promise; job functions must be synchronous`);
  if (typeof v === 'object' && Symbol.iterator in v) return v as Iterable<unknown>;
  throw new TypeError(`${what} returned ${typeof v}, expected an iterable`);
}

/**
 * Open `url` through the chain. `reader` undefined = automatic, null = none (see module docs).
 * Errors from `open`, the stream functions and the reader propagate to the caller.
 */
export function openChain(
  url: string,
  open: (url: string) => InputStream,
  streams: readonly StreamFunction[],
  reader: StreamFunction | null | undefined,
  params: unknown,
): OpenedInput {
  const opened: unknown[] = [];
  const close = () => {
    for (let i = opened.length - 1; i >= 0; i--) {
      const s = opened[i] as { close?: unknown };
      if (s && typeof s.close === 'function') {
        try {
          (s.close as () => void)();
        } catch {
          // closing is best effort; the data was read (or the read failed) already
        }
      }
    }
  };
  try {
    let stream: unknown = open(url);
    let size: number | null = (stream as InputStream).size;
    let curUrl = url;
    opened.push(stream);
    for (const fn of streams) {
      let r = fn(stream, size, curUrl, params);
      if (Array.isArray(r) && r.length === 3) {
        size = typeof r[1] === 'number' ? r[1] : null;
        curUrl = String(r[2]);
        r = r[0];
      } else if (Array.isArray(r) && r.length === 2) {
        curUrl = String(r[1]);
        r = r[0];
      }
      if (typeof r === 'string' || r instanceof Uint8Array) {
        r = InputStream.fromBytes(r, curUrl);
        size = (r as InputStream).size;
      }
      stream = r;
      opened.push(stream);
    }
    let entries: Iterable<unknown>;
    if (reader === undefined) entries = autoReader(stream, size, curUrl);
    else if (reader === null) entries = asIterable(stream, 'input stream');
    else entries = asIterable(reader(stream, size, curUrl, params), 'reader');
    return { entries, close };
  } catch (e) {
    close();
    throw e;
  }
}
