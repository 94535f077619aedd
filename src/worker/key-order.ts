/**
 * One total order over record keys, shared by the in-memory `sorted()`, `kvgroup()` and the
 * external merge sort, plus a canonical text form used for partition hashing and for comparing
 * keys that have no natural order (plain objects, maps, sets).
 *
 * Order: `undefined` < `null` < booleans (false < true) < numbers and bigints (numerically; NaN
 * first) < strings (by UTF-16 code units, like `<`) < binary (`Uint8Array`, bytewise) < dates <
 * arrays (element by element, shorter first) < other objects (by canonical form).
 *
 * @example
 * [[2, 'b'], [10, 'a']].sort((x, y) => compareKeys(x[0], y[0])); // 2 before 10
 * canonicalKey({ b: 1, a: [1, 'x'] }); // '{"a":[d1,"x"],"b":d1}'
 */

const RANK_UNDEFINED = 0;
const RANK_NULL = 1;
const RANK_BOOLEAN = 2;
const RANK_NUMBER = 3;
const RANK_STRING = 4;
const RANK_BINARY = 5;
const RANK_DATE = 6;
const RANK_ARRAY = 7;
const RANK_OBJECT = 8;

function rank(v: unknown): number {
  switch (typeof v) {
    case 'undefined':
      return RANK_UNDEFINED;
    case 'boolean':
      return RANK_BOOLEAN;
    case 'number':
    case 'bigint':
      return RANK_NUMBER;
    case 'string':
      return RANK_STRING;
    case 'object':
      if (v === null) return RANK_NULL;
      if (v instanceof Uint8Array) return RANK_BINARY;
      if (v instanceof Date) return RANK_DATE;
      if (Array.isArray(v)) return RANK_ARRAY;
      return RANK_OBJECT;
    default:
      // Functions and symbols are not valid keys; order them last, by their text.
      return RANK_OBJECT;
  }
}

/** Compare two keys: negative, zero or positive. A total, deterministic order. */
export function compareKeys(a: unknown, b: unknown): number {
  // Fast paths for the overwhelmingly common cases.
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'number' && typeof b === 'number' && !Number.isNaN(a) && !Number.isNaN(b))
    return a < b ? -1 : a > b ? 1 : 0;
  if (a instanceof Uint8Array && b instanceof Uint8Array) return compareBinary(a, b);
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  switch (ra) {
    case RANK_UNDEFINED:
    case RANK_NULL:
      return 0;
    case RANK_BOOLEAN:
      return (a as boolean) === (b as boolean) ? 0 : a ? 1 : -1;
    case RANK_NUMBER:
      return compareNumeric(a as number | bigint, b as number | bigint);
    case RANK_STRING:
      return (a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0;
    case RANK_BINARY:
      return compareBinary(a as Uint8Array, b as Uint8Array);
    case RANK_DATE:
      return compareNumeric((a as Date).getTime(), (b as Date).getTime());
    case RANK_ARRAY: {
      const x = a as unknown[];
      const y = b as unknown[];
      const n = Math.min(x.length, y.length);
      for (let i = 0; i < n; i++) {
        const c = compareKeys(x[i], y[i]);
        if (c !== 0) return c;
      }
      return x.length - y.length;
    }
    default: {
      const ca = canonicalKey(a);
      const cb = canonicalKey(b);
      return ca < cb ? -1 : ca > cb ? 1 : 0;
    }
  }
}

function compareNumeric(a: number | bigint, b: number | bigint): number {
  const an = typeof a === 'number' && Number.isNaN(a);
  const bn = typeof b === 'number' && Number.isNaN(b);
  if (an || bn) return an && bn ? 0 : an ? -1 : 1;
  // `<` compares numbers and bigints mathematically, whatever the mix.
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Bytewise order of binary keys, as `Buffer.compare` (-1, 0 or 1; on a common prefix the
 * shorter first). Short keys are compared here: cheaper than a call into native code.
 */
export function compareBinary(a: Uint8Array, b: Uint8Array): number {
  const la = a.length;
  const lb = b.length;
  const n = Math.min(la, lb);
  if (n > 64) return Buffer.compare(asBuffer(a), asBuffer(b));
  for (let i = 0; i < n; i++) {
    const d = a[i] - b[i];
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return la < lb ? -1 : la > lb ? 1 : 0;
}

function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/** True when two keys compare equal (what `kvgroup` groups by). */
export function keysEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Uint8Array && b instanceof Uint8Array)
    return a.length === b.length && compareBinary(a, b) === 0;
  return compareKeys(a, b) === 0;
}

/**
 * A canonical text form of any key: equal structures give equal text whatever their property
 * order, and different types never collide (numbers carry a `d` tag, strings are JSON-quoted).
 */
export function canonicalKey(v: unknown): string {
  switch (typeof v) {
    case 'undefined':
      return 'u';
    case 'boolean':
      return v ? 't' : 'f';
    case 'number':
      return Object.is(v, -0) ? 'd0' : `d${v}`;
    case 'bigint':
      return `b${v}`;
    case 'string':
      return JSON.stringify(v);
    case 'function':
    case 'symbol':
      return `?${String(v)}`;
  }
  if (v === null) return 'n';
  if (v instanceof Uint8Array) return `x${asBuffer(v).toString('hex')}`;
  if (v instanceof Date) return `D${v.getTime()}`;
  if (Array.isArray(v)) return `[${v.map(canonicalKey).join(',')}]`;
  if (v instanceof Map) {
    const items = [...v].map(([k, x]) => `${canonicalKey(k)}:${canonicalKey(x)}`).sort();
    return `M{${items.join(',')}}`;
  }
  if (v instanceof Set) return `S[${[...v].map(canonicalKey).sort().join(',')}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalKey(o[k])}`).join(',')}}`;
}

/**
 * FNV-1a, 32 bits, over the UTF-8 encoding of `s` (lone surrogates encode as U+FFFD, as in
 * `Buffer.from(s)`). Identical in every process and on every machine.
 */
export function fnv1aString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h ^ c, 0x01000193);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      } else c = 0xfffd;
    } else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c < 0x800) {
      h = Math.imul(h ^ (0xc0 | (c >> 6)), 0x01000193);
    } else if (c < 0x10000) {
      h = Math.imul(h ^ (0xe0 | (c >> 12)), 0x01000193);
      h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), 0x01000193);
    } else {
      h = Math.imul(h ^ (0xf0 | (c >> 18)), 0x01000193);
      h = Math.imul(h ^ (0x80 | ((c >> 12) & 0x3f)), 0x01000193);
      h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), 0x01000193);
    }
    h = Math.imul(h ^ (0x80 | (c & 0x3f)), 0x01000193);
  }
  return h >>> 0;
}

/** FNV-1a, 32 bits, over raw bytes. */
export function fnv1aBytes(b: Uint8Array): number {
  return fnv1aRange(b, 0, b.length);
}

/**
 * FNV-1a, 32 bits, over the bytes `b[start, end)`: {@link fnv1aBytes} of a Buffer holding
 * them, without the Buffer (the external map hashes keys where they lie in its input).
 *
 * @example
 * fnv1aRange(Buffer.from('xcatx'), 1, 4) === keyHash(Buffer.from('cat')); // true
 */
export function fnv1aRange(b: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return h >>> 0;
}

/**
 * The stable hash used by the default partition function: strings hash their UTF-8 bytes,
 * binary keys their bytes, numbers their decimal text (`String(n)`), anything else its
 * {@link canonicalKey}. Other-language workers can reproduce it for string and binary keys.
 */
export function keyHash(key: unknown): number {
  if (typeof key === 'string') return fnv1aString(key);
  if (key instanceof Uint8Array) return fnv1aBytes(key);
  if (typeof key === 'number') return fnv1aString(Object.is(key, -0) ? '0' : String(key));
  return fnv1aString(canonicalKey(key));
}

/**
 * A rough estimate of the memory a value takes once decoded (what the external sort counts
 * against its buffer). Cheap, proportional to the value's size, never exact.
 */
export function estimateSize(v: unknown): number {
  switch (typeof v) {
    case 'string':
      return 24 + 2 * v.length;
    case 'number':
    case 'boolean':
    case 'undefined':
      return 8;
    case 'bigint':
      return 24 + Math.ceil(v.toString(16).length / 2);
    case 'object': {
      if (v === null) return 8;
      if (v instanceof Uint8Array) return 96 + v.byteLength;
      if (Array.isArray(v)) {
        let n = 32;
        for (const x of v) n += 8 + estimateSize(x);
        return n;
      }
      if (v instanceof Map) {
        let n = 64;
        for (const [k, x] of v) n += 16 + estimateSize(k) + estimateSize(x);
        return n;
      }
      if (v instanceof Set) {
        let n = 64;
        for (const x of v) n += 16 + estimateSize(x);
        return n;
      }
      let n = 56;
      for (const k in v as Record<string, unknown>)
        n += 16 + estimateSize(k) + estimateSize((v as Record<string, unknown>)[k]);
      return n;
    }
    default:
      return 32;
  }
}
