/**
 * Regular-expression records (the original's `re_reader`): the input is read a buffer at a
 * time, and the pattern is matched at the start of what is not consumed yet; each match
 * yields its captured groups (the entry for the map) and is consumed. Unmatched bytes left
 * at the end are yielded as `[tail]` with `outputTail`, else reported in a task message.
 *
 * Differences from the original, which matched Python regular expressions against bytes:
 * the pattern is a JavaScript `RegExp` (or its source text) matched against the input
 * decoded as UTF-8 (characters split between reads are joined first). A source text may
 * start with Python's inline flags `(?s)`, `(?i)`, `(?m)`, `(?u)`, which become the
 * `RegExp`'s flags. Groups that did not take part in a match are `null` (Python's `None`).
 * A pattern that matches the empty string is refused (the original looped forever).
 *
 * Like the original, the input must be covered by matches: bytes between two records stop
 * the reading there (they and everything after them become the tail). Make the pattern
 * consume separators, e.g. `<rec>(.*?)</rec>\n?`.
 *
 * @example
 * // job option: one entry per <doc>…</doc>, the reader yielding the document's text
 * mapReader: function* (stream, size, url) {
 *   for (const [doc] of reReader(/<doc>(.*?)<\/doc>\n?/s, stream, size, url)) yield doc;
 * }
 */
import { StringDecoder } from 'node:string_decoder';
import { DataError } from '../../common/errors.js';
import { msg } from '../context.js';
import { requireInputStream } from './input-stream.js';

/** Default bytes read per buffer fill (the original's `read_buffer_size`). */
export const RE_READ_BUFFER_SIZE = 8192;

const PY_FLAGS: Readonly<Record<string, string>> = { s: 's', i: 'i', m: 'm', u: 'u' };

/**
 * The sticky `RegExp` used to match at a position: `pattern` with `y` added and `g`
 * removed. String patterns may start with Python's inline flags (see module docs).
 */
export function stickyPattern(pattern: RegExp | string): RegExp {
  let source: string;
  let flags: string;
  if (pattern instanceof RegExp) {
    source = pattern.source;
    flags = pattern.flags;
  } else if (typeof pattern === 'string') {
    source = pattern;
    flags = '';
    const m = /^\(\?([a-zA-Z]+)\)/.exec(source);
    if (m) {
      for (const f of m[1]) {
        const js = PY_FLAGS[f];
        if (!js) throw new SyntaxError(`reReader: inline flag (?${f}) has no JavaScript equivalent`);
        if (!flags.includes(js)) flags += js;
      }
      source = source.slice(m[0].length);
    }
  } else {
    throw new TypeError(`reReader: the pattern must be a RegExp or a string, got ${typeof pattern}`);
  }
  flags = flags.replace('g', '');
  if (!flags.includes('y')) flags += 'y';
  return new RegExp(source, flags);
}

/**
 * `reReader(pattern, stream, size, url, outputTail, readBufferSize)` — entries of `stream`
 * matched by `pattern` (see module docs): each match yields its captured groups. `size`,
 * when known, is the number of bytes to read; an input ending before it is a `DataError`.
 *
 * @example
 * [...reReader(/(\w+)=(\d+);/, 'a=1;b=2;')]; // [['a', '1'], ['b', '2']]
 */
export function* reReader(
  pattern: RegExp | string,
  stream: unknown,
  size: number | null = null,
  url = '',
  outputTail = false,
  readBufferSize: number = RE_READ_BUFFER_SIZE,
): Generator<(string | null)[]> {
  const re = stickyPattern(pattern);
  if (!Number.isInteger(readBufferSize) || readBufferSize <= 0)
    throw new RangeError(`reReader: readBufferSize must be a positive integer, got ${readBufferSize}`);
  const s = requireInputStream(stream, size, url, 'reReader');
  const limit = size !== null && size !== undefined && size > 0 ? size : null;
  const decoder = new StringDecoder('utf8');
  let buf = '';
  let total = 0;
  for (;;) {
    const want = limit === null ? readBufferSize : Math.min(readBufferSize, limit - total);
    const chunk = want > 0 ? s.read(want) : Buffer.alloc(0);
    total += chunk.length;
    const ended = chunk.length === 0 || (limit !== null && total >= limit);
    buf += chunk.length > 0 ? decoder.write(chunk) : '';
    if (ended) buf += decoder.end();

    let pos = 0;
    for (;;) {
      re.lastIndex = pos;
      const m = re.exec(buf);
      if (!m) break;
      if (m[0].length === 0)
        throw new Error(
          `reReader: the pattern ${re} matched an empty string in ${url || 'the input'}; it must consume input`,
        );
      pos = re.lastIndex;
      yield m.slice(1).map((g) => g ?? null);
    }
    if (pos > 0) buf = buf.slice(pos);

    if (ended) {
      if (limit !== null && total < limit)
        throw new DataError(`truncated input: expected ${limit} bytes, got ${total}`, url);
      if (buf.length > 0) {
        if (outputTail) yield [buf];
        else
          msg(
            `Couldn't match the last ${Buffer.byteLength(buf)} bytes in ${url || 'the input'}. ` +
              'Some bytes may be missing from input.',
          );
      }
      return;
    }
  }
}
