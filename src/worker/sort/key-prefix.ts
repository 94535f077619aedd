/**
 * Numbers that order keys as far as their first bytes go, so that the sort compares most keys
 * as numbers: {@link keyPrefix} for a decoded string key, {@link utf8Prefix} for one still
 * encoded (UTF-8 orders like UTF-16 below U+D000), {@link bytesPrefix} for a binary key; and
 * the comparisons that settle equal prefixes.
 *
 * @example
 * keyPrefix('apple') < keyPrefix('banana'); // true: 'apple' < 'banana'
 */
/**
 * A number that orders string keys like `compareKeys` does, as far as it goes: `a < b` implies
 * `keyPrefix(a) <= keyPrefix(b)`. The first six UTF-16 units, 8 bits each (missing units count
 * as 0); a unit of 255 or more counts as 255 and ends the prefix (what follows it is left to
 * the full comparison). Exact in a double (48 bits).
 */
export function keyPrefix(s: string): number {
  const n = Math.min(s.length, 6);
  let p = 0;
  let i = 0;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 255) {
      p = p * 256 + 255;
      i++;
      break;
    }
    p = p * 256 + c;
  }
  for (; i < 6; i++) p *= 256;
  return p;
}

/**
 * The same promise as {@link keyPrefix} for a key given as the UTF-8 bytes `b[at, end)` (as
 * the record format holds it): its first six bytes (missing bytes count as 0); a byte of 0xed
 * or more — the lead byte of a character from U+D000 up, which all order after the others in
 * UTF-16 — counts as 0xed and ends the prefix. Below that, UTF-8 orders like UTF-16.
 */
export function utf8Prefix(b: Uint8Array, at: number, end: number): number {
  const n = Math.min(end - at, 6);
  let p = 0;
  let i = 0;
  for (; i < n; i++) {
    const c = b[at + i];
    if (c >= 0xed) {
      p = p * 256 + 0xed;
      i++;
      break;
    }
    p = p * 256 + c;
  }
  for (; i < 6; i++) p *= 256;
  return p;
}

/**
 * The same promise as {@link keyPrefix} for a binary key, the bytes `b[at, end)` (binary keys
 * order bytewise): its first six bytes, missing bytes counting as 0.
 */
export function bytesPrefix(b: Uint8Array, at: number, end: number): number {
  const n = Math.min(end - at, 6);
  let p = 0;
  let i = 0;
  for (; i < n; i++) p = p * 256 + b[at + i];
  for (; i < 6; i++) p *= 256;
  return p;
}

/**
 * Compare two strings by UTF-16 units, as `<` does — written out, because V8's `<` on strings
 * that are not identical calls into the runtime, which costs more than this loop for keys.
 */
export function compareUnits(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a.charCodeAt(i) - b.charCodeAt(i);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** Compare two string keys knowing their prefixes (the order of `compareKeys`). */
export function compareStrings(pa: number, a: string, pb: number, b: string): number {
  if (pa !== pb) return pa < pb ? -1 : 1;
  if (a === b) return 0;
  return compareUnits(a, b);
}

/** Bytewise comparison of `b[a0, a1)` and `b[b0, b1)` (shorter first on a common prefix). */
export function compareBytes(b: Buffer, a0: number, a1: number, b0: number, b1: number): number {
  const la = a1 - a0;
  const lb = b1 - b0;
  const n = Math.min(la, lb);
  for (let k = 0; k < n; k++) {
    const d = b[a0 + k] - b[b0 + k];
    if (d !== 0) return d;
  }
  return la - lb;
}
