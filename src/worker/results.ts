/**
 * Checking what job functions return: iterables of `[key, value]` pairs (arrays, generators,
 * Maps), or nothing (`null`/`undefined` = no records). Async results are refused with a clear
 * message: job functions run synchronously.
 *
 * @example
 * for (const [k, v] of pairsOf(map(entry, params), 'map')) out.add(k, v);
 */

function preview(v: unknown): string {
  try {
    const s = JSON.stringify(v);
    if (s !== undefined) return s.length > 120 ? `${s.slice(0, 120)}…` : s;
  } catch {
    // not JSON-able; fall through
  }
  return String(v).slice(0, 120);
}

/** The items of what a job function returned (see module docs). */
export function itemsOf(v: unknown, what: string): Iterable<unknown> {
  if (v === null || v === undefined) return [];
  if (typeof (v as PromiseLike<unknown>).then === 'function')
    throw new TypeError(`${what} returned a Promise; job functions must be synchronous`);
  if (typeof v === 'object' && Symbol.iterator in v) return v as Iterable<unknown>;
  if (typeof v === 'string')
    throw new TypeError(`${what} returned a string; expected an iterable of [key, value] pairs`);
  throw new TypeError(`${what} returned ${preview(v)}; expected an iterable of [key, value] pairs`);
}

/** One `[key, value]` pair, or a TypeError naming the function that produced something else. */
export function asPair(v: unknown, what: string): [unknown, unknown] {
  if (Array.isArray(v) && v.length === 2) return v as [unknown, unknown];
  throw new TypeError(`${what} must produce [key, value] pairs, got ${preview(v)}`);
}

/** The pairs of what a job function returned. */
export function* pairsOf(v: unknown, what: string): Generator<[unknown, unknown]> {
  for (const x of itemsOf(v, what)) yield asPair(x, what);
}
