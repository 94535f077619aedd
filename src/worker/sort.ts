/**
 * External merge sort of `[key, value]` records for `sort: true` jobs (replacing the
 * original's `sort -z` over a temporary file). Memory is bounded whatever the input size:
 *
 * 1. records are buffered until they take `bufferSize` bytes, then sorted (stable, by
 *    `compareKeys`) and spilled to a run file in the record format;
 * 2. runs are merged with a tournament tree, at most `fanIn` at a time (when there are more,
 *    groups of consecutive runs are merged first, just enough for one final merge), ties
 *    broken by run order — so the whole sort is stable.
 *
 * Input that fits in the buffer is sorted in memory and never touches the disk. Run files
 * live in `tmpDir` and are removed as soon as they are merged (and when the caller stops
 * early).
 *
 * String keys (the common case) take a fast path. The buffer holds such records encoded, as
 * they will be written (see {@link SortBuffer}: compact, outside the JavaScript heap, and a
 * spill is a copy of bytes). Each key gets a number that orders like the key's first bytes
 * ({@link utf8Prefix}); the buffer is sorted by a native sort of 64-bit numbers made of the
 * prefix and the record's index, and only records with equal prefixes are compared in full
 * (bytewise, as UTF-8 orders like UTF-16 below U+D000). The merge compares a prefix of the
 * decoded keys first too ({@link keyPrefix}). Records are what the record format gives back
 * (as after any spill), in the order of `compareKeys`. Buffer keys (what external programs
 * give) take the same path: held encoded, prefixed by their first bytes ({@link bytesPrefix})
 * and compared bytewise, as `compareKeys` orders them. Buffers with other keys (or with both
 * strings and Buffers) hold objects and sort with `compareKeys`.
 *
 * Records may come as their bytes ({@link EncodedRecord}: a reduce's record-format inputs, read
 * by `readEncodedRecords`): such records with string or Buffer keys are copied into the buffer
 * as they are (a string key's bytes must be well-formed UTF-8 to be compared as bytes) and
 * decoded only once sorted (as the merge reads runs back, or from the buffer when nothing was
 * spilled); others are decoded as they come.
 *
 * @example
 * for (const [k, v] of externalSort(records, { bufferSize: 64 << 20, tmpDir })) ...
 */
import { closeSync, openSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import {
  DETACHED_BYTES,
  EncodedRecord,
  FileSource,
  HunkReader,
  type KV,
  PackBuffer,
  RecordWriter,
  unpackDetached,
  unpackValues,
} from '../protocol/record-stream.js';
import { compareBinary, compareKeys, estimateSize } from './key-order.js';

export interface ExternalSortOptions {
  /**
   * Bytes of records held in memory before spilling a run: encoded records count their bytes
   * plus their index entries, records held as objects an estimate of their decoded size.
   */
  bufferSize: number;
  /** Where run files go. */
  tmpDir: string;
  /** Most runs merged at once (bounds open files and merge memory). Default {@link DEFAULT_FAN_IN}. */
  fanIn?: number;
  /** Told the number of runs after each spill (for progress messages). */
  onSpill?: (runs: number) => void;
  /** Filled in as the sort goes (for progress and benchmarks). */
  stats?: SortStats;
}

/** What a sort did. */
export interface SortStats {
  records: number;
  /** Run files written (merge passes included). */
  runs: number;
  /** Bytes written to run files (merge passes included). */
  bytesSpilled: number;
  /** Merge passes over run files (the final merge included; 0 when nothing was spilled). */
  mergePasses: number;
}

/**
 * Runs merged at once by default: 2 GiB through a 16 MiB buffer make about 160 runs, merged in
 * one pass (each run is then read in hunks of `bufferSize / 512`, 32 KiB).
 */
export const DEFAULT_FAN_IN = 256;

/** Estimated per-record overhead beyond key and value (the pair array, references). */
const RECORD_OVERHEAD = 40;

let runCounter = 0;

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
function compareUnits(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a.charCodeAt(i) - b.charCodeAt(i);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** Compare two string keys knowing their prefixes (the order of `compareKeys`). */
function compareStrings(pa: number, a: string, pb: number, b: string): number {
  if (pa !== pb) return pa < pb ? -1 : 1;
  if (a === b) return 0;
  return compareUnits(a, b);
}

/**
 * A stable sort of the indices `0..n)` by `cmp`: insertion sort of short stretches, then
 * bottom-up merges (ties keep the left one). Written out rather than `Array.prototype.sort`
 * so that the comparison can be inlined.
 */
function mergeSortIndices(n: number, cmp: (i: number, j: number) => number): Int32Array {
  let src = new Int32Array(n);
  for (let i = 0; i < n; i++) src[i] = i;
  const RUN = 24;
  for (let lo = 0; lo < n; lo += RUN) {
    const hi = Math.min(lo + RUN, n);
    for (let i = lo + 1; i < hi; i++) {
      const x = src[i];
      let j = i - 1;
      while (j >= lo) {
        const y = src[j];
        if (cmp(y, x) <= 0) break;
        src[j + 1] = y;
        j--;
      }
      src[j + 1] = x;
    }
  }
  if (n <= RUN) return src;
  let dst = new Int32Array(n);
  for (let width = RUN; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      // Already in order (common for presorted input): copy.
      if (mid >= hi || cmp(src[mid - 1], src[mid]) <= 0) {
        dst.set(src.subarray(lo, hi), lo);
        continue;
      }
      let i = lo;
      let j = mid;
      let o = lo;
      while (i < mid && j < hi) {
        const a = src[i];
        const b = src[j];
        if (cmp(b, a) < 0) {
          dst[o++] = b;
          j++;
        } else {
          dst[o++] = a;
          i++;
        }
      }
      while (i < mid) dst[o++] = src[i++];
      while (j < hi) dst[o++] = src[j++];
    }
    const t = src;
    src = dst;
    dst = t;
  }
  return src;
}

/** Bytewise comparison of `b[a0, a1)` and `b[b0, b1)` (shorter first on a common prefix). */
function compareBytes(b: Buffer, a0: number, a1: number, b0: number, b1: number): number {
  const la = a1 - a0;
  const lb = b1 - b0;
  const n = Math.min(la, lb);
  for (let k = 0; k < n; k++) {
    const d = b[a0 + k] - b[b0 + k];
    if (d !== 0) return d;
  }
  return la - lb;
}

/** Records whose memory {@link touchRecords} asks for at once. */
const GATHER_BATCH = 16;

/**
 * Read a byte of each of the first cache lines (and the last byte) of the encoded records
 * `order[from, to)`, which lie anywhere in `buf`, before they are copied in that order: the
 * reads do not wait for one another, so the records arrive from memory together, where each
 * copy would otherwise wait for its own (copying sorted records twice as fast). Returns what
 * it read, for the caller to keep (so that the reads are not optimized away).
 */
function touchRecords(
  buf: Uint8Array,
  start: Int32Array,
  order: Int32Array,
  from: number,
  to: number,
): number {
  let t = 0;
  for (let k = from; k < to; k++) {
    const j = order[k];
    const s = start[j];
    const last = start[j + 1] - 1;
    t ^= buf[s] ^ buf[last];
    for (let p = s + 64; p < last && p < s + 256; p += 64) t ^= buf[p];
  }
  return t;
}

/** The 32-bit halves of a 64-bit number are little-endian (see `SortBuffer.order`). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Estimated bytes per encoded record besides its bytes (the index arrays). */
const INDEX_BYTES = 24;

/** True for values kept encoded in the sort buffer (they come back from MessagePack alike). */
function encodable(v: unknown): boolean {
  switch (typeof v) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'undefined':
      return true;
    case 'object': {
      if (v === null || Array.isArray(v)) return true;
      const proto = Object.getPrototypeOf(v);
      return proto === Object.prototype || proto === null || isNodeBuffer(v);
    }
    default:
      return false;
  }
}

/** A Node Buffer (not another typed array): MessagePack gives it back as it is, a Buffer. */
function isNodeBuffer(v: unknown): v is Buffer {
  return v instanceof Uint8Array && v.constructor === Buffer;
}

/** What the keys of encoded records are (a sort buffer, a run file): one kind at a time. */
type KeyKind = 'string' | 'binary' | 'mixed';

/**
 * Records held in memory. While every key is a string, or every key a Buffer (and every value
 * plain data or a Buffer), records are kept encoded — MessagePack, as in a run file — in one
 * buffer outside the JavaScript heap, with per-record offsets, key prefixes and a flag for keys
 * whose bytes order like the keys (binary keys; strings without a character from U+D000 up,
 * whose UTF-8 bytes order like their UTF-16 units): equal prefixes are then settled by
 * comparing bytes. That is compact, costs the garbage collector nothing, and spilling is
 * copying bytes. Any other key (or a key of the other kind) turns the buffer (and the buffers
 * after it) into arrays of keys and values.
 */
class SortBuffer {
  /** Bytes counted against the buffer size. */
  bytes = 0;
  /** Records held. */
  n = 0;
  /** Objects mode: keys and values (null in encoded mode). */
  keys: unknown[] | null = null;
  /** Encoded mode: the kind of every key held (null while empty). */
  keyKind: 'string' | 'binary' | null = null;
  /** Encoded mode: some key or value is binary (see {@link records}). */
  binary = false;
  values: unknown[] = [];
  /** Encoded mode. */
  readonly data: PackBuffer;
  start = new Int32Array(4096);
  keyAt = new Int32Array(4096);
  keyEnd = new Int32Array(4096);
  prefix = new Float64Array(4096);
  plain = new Uint8Array(4096);
  /** The key is all in the first 40 bits of its prefix (see {@link exactPrefix}). */
  exact = new Uint8Array(4096);
  /** What {@link touchRecords} read. */
  touched = 0;

  constructor(bufferSize: number, objects: boolean) {
    // Untouched pages cost no memory: the buffer fills up to about `bufferSize`.
    this.data = new PackBuffer(objects ? 0 : Math.min(bufferSize, 256 << 20) + 64 * 1024);
    if (objects) this.keys = [];
  }

  /** Forget the records (after a spill); the buffers are kept for the next ones. */
  reset(objects: boolean): void {
    this.n = 0;
    this.bytes = 0;
    this.data.off = 0;
    this.keyKind = null;
    this.binary = false;
    this.keys = objects ? [] : null;
    this.values = [];
  }

  /** Keys are held as objects (some key was not a string). */
  get objects(): boolean {
    return this.keys !== null;
  }

  /** What the keys of a run of these records are. */
  get runKind(): KeyKind {
    return this.keys !== null ? 'mixed' : (this.keyKind ?? 'string');
  }

  add(key: unknown, value: unknown): void {
    if (this.keys === null) {
      const kind = this.keyKind;
      if (typeof key === 'string') {
        if (kind !== 'binary' && encodable(value)) {
          this.keyKind = 'string';
          this.addEncoded(key, value, false);
          return;
        }
      } else if (kind !== 'string' && isNodeBuffer(key) && encodable(value)) {
        this.keyKind = 'binary';
        this.addEncoded(key, value, true);
        return;
      }
      this.toObjects();
    }
    (this.keys as unknown[]).push(key);
    this.values.push(value);
    this.n++;
    this.bytes += RECORD_OVERHEAD + estimateSize(key) + estimateSize(value);
  }

  /**
   * Add a record given as its bytes: kept as they are when the key is a string or a Buffer of
   * the kind held (and, for a string, well-formed UTF-8: bytes that order like the decoded
   * key), else decoded and added as {@link add} does.
   */
  addRecord(rec: EncodedRecord): void {
    if (this.keys === null) {
      const b = rec.buf;
      const h = b[rec.start];
      const kind = this.keyKind;
      // fixstr, str8/16/32; bin8/16/32.
      const str = (h >= 0xa0 && h <= 0xbf) || (h >= 0xd9 && h <= 0xdb);
      const bin = h >= 0xc4 && h <= 0xc6;
      if ((str && kind !== 'binary') || (bin && kind !== 'string')) {
        const d = this.data;
        const s = d.off;
        d.append(b, rec.start, rec.end);
        if (this.index(s, s + rec.valueAt - rec.start, bin, true)) {
          this.keyKind = bin ? 'binary' : 'string';
          return;
        }
        d.off = s;
      }
    }
    const [key, value] = rec.decode();
    this.add(key, value);
  }

  private addEncoded(key: string | Buffer, value: unknown, binary: boolean): void {
    const d = this.data;
    const s = d.off;
    d.pack(key);
    const e = d.off;
    d.pack(value);
    this.index(s, e, binary, false);
  }

  /**
   * Index the record just added at `data[s, data.off)`, its value from `e`. With `check`, a
   * string key must be well-formed UTF-8 up to its first byte from 0xed (after which it is
   * compared decoded): false (nothing indexed) when it is not.
   */
  private index(s: number, e: number, binary: boolean, check: boolean): boolean {
    const i = this.n;
    if (i + 1 >= this.start.length) this.grow();
    const d = this.data;
    const buf = d.buf;
    const h = buf[s];
    // After the header: fixstr, str8/bin8, str16/bin16, str32/bin32.
    const at = s + (h < 0xc0 ? 1 : h === 0xd9 || h === 0xc4 ? 2 : h === 0xda || h === 0xc5 ? 3 : 5);
    // Plain: the bytes order like the key (binary; a string without a byte from 0xed up, i.e.
    // no character from U+D000 up). Exact: plain, at most five bytes, none of them 0 (the
    // prefix is then the whole key).
    let plain = 1;
    let zero = false;
    let prefix: number;
    if (binary) {
      if (e - at <= 5) for (let j = at; j < e; j++) if (buf[j] === 0) zero = true;
      prefix = bytesPrefix(buf, at, e);
    } else {
      for (let j = at; j < e; j++) {
        const b = buf[j];
        if (b < 0x80) {
          if (b === 0) zero = true;
          continue;
        }
        if (b >= 0xed) {
          plain = 0;
          break;
        }
        // A character from U+0080 to U+CFFF: a lead byte 0xc2-0xec and 1 or 2 continuation
        // bytes (checked for bytes that did not come from this process's encoder).
        const more = b < 0xe0 ? 1 : 2;
        if (check) {
          if (b < 0xc2 || j + more >= e) return false;
          const c1 = buf[j + 1];
          if ((c1 & 0xc0) !== 0x80 || (b === 0xe0 && c1 < 0xa0)) return false;
          if (more === 2 && (buf[j + 2] & 0xc0) !== 0x80) return false;
        }
        j += more;
      }
      prefix = utf8Prefix(buf, at, e);
    }
    this.start[i] = s;
    this.keyAt[i] = at;
    this.keyEnd[i] = e;
    this.prefix[i] = prefix;
    this.plain[i] = plain;
    this.exact[i] = plain === 1 && !zero && e - at <= 5 ? 1 : 0;
    const v = buf[e];
    if (binary || (v >= 0xc4 && v <= 0xc6)) this.binary = true;
    this.n = i + 1;
    this.start[i + 1] = d.off;
    this.bytes += d.off - s + INDEX_BYTES;
    return true;
  }

  private grow(): void {
    const n = this.start.length * 2;
    const more = <T extends Int32Array | Float64Array | Uint8Array>(a: T, b: T): T => {
      b.set(a);
      return b;
    };
    this.start = more(this.start, new Int32Array(n));
    this.keyAt = more(this.keyAt, new Int32Array(n));
    this.keyEnd = more(this.keyEnd, new Int32Array(n));
    this.prefix = more(this.prefix, new Float64Array(n));
    this.plain = more(this.plain, new Uint8Array(n));
    this.exact = more(this.exact, new Uint8Array(n));
  }

  /** Decode what is held into keys and values (a key of another kind arrived). */
  private toObjects(): void {
    const keys: unknown[] = [];
    const values: unknown[] = [];
    let bytes = 0;
    if (this.n > 0) {
      const vals = unpackValues(this.data.buf.subarray(0, this.start[this.n]));
      for (let i = 0; i < vals.length; i += 2) {
        keys.push(vals[i]);
        values.push(vals[i + 1]);
        bytes += RECORD_OVERHEAD + estimateSize(vals[i]) + estimateSize(vals[i + 1]);
      }
    }
    this.keys = keys;
    this.values = values;
    this.bytes = bytes;
  }

  /** Decoded keys (those compared as strings while sorting; dropped after). */
  private decoded: (string | undefined)[] | null = null;

  /** The key of encoded record `i`, decoded. */
  private keyString(i: number): string {
    // Allocated whole: filled in at random, a growing array would turn into a dictionary.
    const decoded = (this.decoded ??= new Array<string | undefined>(this.n).fill(undefined));
    let k = decoded[i];
    if (k === undefined) {
      k = unpackValues(this.data.buf.subarray(this.start[i], this.keyEnd[i]))[0] as string;
      decoded[i] = k;
    }
    return k;
  }

  /** The sort order: a stable permutation of the record indices. */
  order(): Int32Array {
    const keys = this.keys;
    if (keys !== null) {
      const sorted = Array.from({ length: keys.length }, (_, i) => i).sort(
        (i, j) => compareKeys(keys[i], keys[j]) || i - j,
      );
      return Int32Array.from(sorted);
    }
    const { prefix, plain, keyAt, keyEnd } = this;
    const buf = this.data.buf;
    const n = this.n;
    const cmp = (i: number, j: number): number => {
      const pi = prefix[i];
      const pj = prefix[j];
      if (pi !== pj) return pi < pj ? -1 : 1;
      if ((plain[i] & plain[j]) === 1) return compareBytes(buf, keyAt[i], keyEnd[i], keyAt[j], keyEnd[j]);
      return compareUnits(this.keyString(i), this.keyString(j));
    };
    try {
      return n >= 1 << 24 || !LITTLE_ENDIAN ? mergeSortIndices(n, cmp) : this.packedOrder(cmp);
    } finally {
      this.decoded = null;
    }
  }

  /** The order by a native sort of prefixes and indices (see {@link order}). */
  private packedOrder(cmp: (i: number, j: number) => number): Int32Array {
    const { prefix, exact } = this;
    const n = this.n;
    // Native sort of 64-bit numbers: the key's first five bytes (40 bits of its prefix) above
    // the record's index (24 bits) — so equal prefixes keep input order. Then each stretch of
    // equal 40-bit prefixes is sorted by the full comparison, unless the prefix is the whole
    // key for all of them (short keys: equal prefixes are equal keys).
    const packed = new BigUint64Array(n);
    const w = new Uint32Array(packed.buffer);
    for (let i = 0; i < n; i++) {
      const p40 = Math.floor(prefix[i] / 256);
      w[2 * i + 1] = Math.floor(p40 / 256);
      w[2 * i] = (((p40 % 256) << 24) | i) >>> 0;
    }
    packed.sort();
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = w[2 * i] & 0xffffff;
    let g = 0;
    while (g < n) {
      const hi = w[2 * g + 1];
      const top = w[2 * g] >>> 24;
      let e = g + 1;
      while (e < n && w[2 * e + 1] === hi && w[2 * e] >>> 24 === top) e++;
      if (e - g > 1) {
        let all = true;
        for (let k = g; k < e && all; k++) all = exact[order[k]] === 1;
        if (!all && e - g <= 16) {
          // Insertion sort in place (stable).
          for (let i = g + 1; i < e; i++) {
            const x = order[i];
            let j = i - 1;
            while (j >= g && cmp(order[j], x) > 0) {
              order[j + 1] = order[j];
              j--;
            }
            order[j + 1] = x;
          }
        } else if (!all) {
          const group = order.slice(g, e);
          const sorted = mergeSortIndices(e - g, (a, b) => cmp(group[a], group[b]));
          for (let k = 0; k < sorted.length; k++) order[g + k] = group[sorted[k]];
        }
      }
      g = e;
    }
    return order;
  }

  /** The records in `order`, decoded a slice at a time (encoded mode) or as they are. */
  *records(order: Int32Array): Generator<KV> {
    const keys = this.keys;
    const values = this.values;
    if (keys !== null) {
      for (let i = 0; i < order.length; i++) {
        const j = order[i];
        yield [keys[j], values[j]];
      }
      return;
    }
    const sorted = new PackBuffer(72 * 1024);
    const src = this.data.buf;
    const start = this.start;
    // Binary keys and values are decoded as views of a copy of a few KiB, as readers do.
    const binary = this.binary;
    const piece = binary ? DETACHED_BYTES : 64 * 1024;
    let i = 0;
    let touchedTo = 0;
    while (i < order.length) {
      sorted.off = 0;
      while (i < order.length && sorted.off < piece) {
        if (i >= touchedTo) {
          touchedTo = Math.min(order.length, i + GATHER_BATCH);
          this.touched ^= touchRecords(src, start, order, i, touchedTo);
        }
        const j = order[i];
        // A big record is decoded alone: small values must not keep it alive.
        if (binary && sorted.off > 0 && start[j + 1] - start[j] >= piece) break;
        i++;
        sorted.append(src, start[j], start[j + 1]);
      }
      const vals = binary
        ? unpackDetached(sorted.buf, 0, sorted.off)
        : unpackValues(sorted.buf.subarray(0, sorted.off));
      for (let k = 0; k < vals.length; k += 2) yield [vals[k], vals[k + 1]];
    }
  }

  /** The records in `order` for {@link writeRun}. */
  source(order: Int32Array): RecordSource {
    const keys = this.keys;
    const values = this.values;
    let i = 0;
    if (keys === null) {
      // A plain Uint8Array view: its subarrays (a record copied) cost less than a Buffer's.
      const data = this.data.buf;
      const buf = new Uint8Array(data.buffer, data.byteOffset, data.length);
      const start = this.start;
      return {
        key: undefined,
        value: undefined,
        advance: () => false,
        writeTo: (w: RecordWriter): boolean => {
          if (i >= order.length) return false;
          const e = Math.min(order.length, i + GATHER_BATCH);
          this.touched ^= touchRecords(buf, start, order, i, e);
          for (; i < e; i++) {
            const j = order[i];
            w.writeEncoded(buf, start[j], start[j + 1]);
          }
          return true;
        },
      };
    }
    const src: RecordSource = {
      key: undefined,
      value: undefined,
      advance() {
        if (i >= order.length) return false;
        const j = order[i++];
        src.key = keys[j];
        src.value = values[j];
        return true;
      },
    };
    return src;
  }
}

/** A run file on disk. */
interface Run {
  file: string;
  /** Every key in it is a string, every key a Buffer, or anything. */
  keys: KeyKind;
}

/** Sort `records` by key (see module docs); yields `[key, value]` pairs in order. */
export function* externalSort(
  records: Iterable<readonly [unknown, unknown] | EncodedRecord>,
  opts: ExternalSortOptions,
): Generator<KV> {
  const fanIn = Math.max(2, opts.fanIn ?? DEFAULT_FAN_IN);
  const stats = opts.stats ?? { records: 0, runs: 0, bytesSpilled: 0, mergePasses: 0 };
  // Run hunks (and the slices they are decoded in) small enough that `fanIn` runs being
  // merged hold about the buffer size.
  const hunkBytes = Math.min(1 << 20, Math.max(8 << 10, Math.floor(opts.bufferSize / fanIn / 2)));
  const sliceBytes = Math.max(4 << 10, hunkBytes >> 2);
  const live = new Set<string>();
  const newRun = () => {
    const p = path.join(opts.tmpDir, `sort-run-${process.pid}-${++runCounter}`);
    live.add(p);
    return p;
  };
  const drop = (p: string) => {
    live.delete(p);
    try {
      unlinkSync(p);
    } catch {
      // already removed
    }
  };
  const spill = (records: RecordSource, keys: KeyKind): Run => {
    stats.runs++;
    const file = newRun();
    stats.bytesSpilled += writeRun(records, file, hunkBytes);
    return { file, keys };
  };
  try {
    let objects = false;
    let buf: SortBuffer | null = new SortBuffer(opts.bufferSize, objects);
    const runs: Run[] = [];
    for (const rec of records) {
      if (rec instanceof EncodedRecord) buf.addRecord(rec);
      else buf.add(rec[0], rec[1]);
      stats.records++;
      if (buf.bytes >= opts.bufferSize) {
        objects = buf.objects;
        runs.push(spill(buf.source(buf.order()), buf.runKind));
        buf.reset(objects);
        opts.onSpill?.(runs.length);
      }
    }
    if (runs.length === 0) {
      const last = buf;
      buf = null;
      yield* last.records(last.order());
      return;
    }
    if (buf.n > 0) runs.push(spill(buf.source(buf.order()), buf.runKind));
    buf = null;
    // Too many runs for one merge: merge groups of consecutive runs (ties go by run order, so
    // the sort stays stable), just enough of them for the final merge to take at most `fanIn`
    // — only part of the data is written again (all of it when a sweep over the runs is not
    // enough, which starts another).
    let at = runs.length;
    while (runs.length > fanIn) {
      const size = Math.min(fanIn, runs.length - fanIn + 1);
      if (at + size > runs.length) {
        at = 0;
        stats.mergePasses++;
      }
      const group = runs.slice(at, at + size);
      const merger = new Merger(group, drop, sliceBytes);
      try {
        runs.splice(at, size, spill(merger, commonKind(group)));
      } finally {
        merger.close();
      }
      at++;
    }
    stats.mergePasses++;
    const merger = new Merger(runs, drop, sliceBytes);
    try {
      for (;;) {
        if (!merger.advance()) break;
        yield [merger.key, merger.value];
      }
    } finally {
      merger.close();
    }
  } finally {
    for (const p of [...live]) drop(p);
  }
}

/** The kind of the keys of all `runs`. */
function commonKind(runs: Run[]): KeyKind {
  const k = runs.length > 0 ? runs[0].keys : 'mixed';
  return runs.every((r) => r.keys === k) ? k : 'mixed';
}

/**
 * Records in order, one at a time (`advance()` false at the end); or, for records already
 * encoded, `writeTo(writer)` (false at the end).
 */
interface RecordSource {
  key: unknown;
  value: unknown;
  advance(): boolean;
  writeTo?(w: RecordWriter): boolean;
}

/** Write sorted records to a run file (uncompressed record format); returns the bytes written. */
function writeRun(records: RecordSource, file: string, hunkBytes: number): number {
  const fd = openSync(file, 'w');
  try {
    const w = new RecordWriter(
      (hunk) => {
        let off = 0;
        while (off < hunk.length) off += writeSync(fd, hunk, off, hunk.length - off);
      },
      { compress: false, hunkSize: hunkBytes },
    );
    if (records.writeTo) while (records.writeTo(w));
    else while (records.advance()) w.write(records.key, records.value);
    w.close();
    return w.bytesOut;
  } finally {
    closeSync(fd);
  }
}

/** One run being merged: its current record. */
class RunCursor {
  key: unknown = undefined;
  value: unknown = undefined;
  /** {@link keyPrefix} or {@link bytesPrefix} of the key (string or binary runs only). */
  prefix = 0;
  done = false;
  private vals: unknown[] = [];
  private i = 0;
  private readonly hunks: HunkReader;

  constructor(
    readonly index: number,
    private readonly src: FileSource,
    url: string,
    private readonly keys: KeyKind,
    sliceBytes: number,
  ) {
    this.hunks = new HunkReader(src, { url, sliceBytes });
  }

  /** Move to the next record; false (and `done`) at the end. */
  advance(): boolean {
    if (this.i >= this.vals.length) {
      const next = this.done ? null : this.hunks.next();
      if (next === null) {
        this.done = true;
        this.vals = [];
        this.key = undefined;
        this.value = undefined;
        return false;
      }
      this.vals = next;
      this.i = 0;
    }
    const k = this.vals[this.i];
    this.key = k;
    this.value = this.vals[this.i + 1];
    this.i += 2;
    if (this.keys === 'string') this.prefix = keyPrefix(k as string);
    else if (this.keys === 'binary') this.prefix = bytesPrefix(k as Buffer, 0, (k as Buffer).length);
    return true;
  }

  close(): void {
    this.src.close();
  }
}

/**
 * K-way merge of sorted run files with a tournament (loser) tree: each record costs
 * log2(k) comparisons. Stable: equal keys come in run order. Each run file is removed once
 * read.
 */
class Merger implements RecordSource {
  key: unknown = undefined;
  value: unknown = undefined;
  private readonly cursors: RunCursor[];
  /** `tree[0]` is the winner's cursor index, `tree[1..k)` the losers of each match. */
  private readonly tree: Int32Array;
  private readonly k: number;
  private readonly keys: KeyKind;
  private started = false;

  constructor(
    private readonly runs: Run[],
    private readonly drop: (p: string) => void,
    sliceBytes: number,
  ) {
    this.k = runs.length;
    this.keys = commonKind(runs);
    this.cursors = [];
    try {
      for (let i = 0; i < runs.length; i++) {
        const c = new RunCursor(i, new FileSource(runs[i].file), runs[i].file, this.keys, sliceBytes);
        this.cursors.push(c);
        if (!c.advance()) this.finish(c);
      }
    } catch (e) {
      this.close();
      throw e;
    }
    this.tree = new Int32Array(Math.max(1, this.k));
    this.build();
  }

  /** True when cursor `a` comes before cursor `b`. */
  private before(a: RunCursor, b: RunCursor): boolean {
    if (a.done) return false;
    if (b.done) return true;
    let c: number;
    if (this.keys === 'string') c = compareStrings(a.prefix, a.key as string, b.prefix, b.key as string);
    else if (this.keys === 'binary')
      c = a.prefix !== b.prefix ? a.prefix - b.prefix : compareBinary(a.key as Buffer, b.key as Buffer);
    else c = compareKeys(a.key, b.key);
    return c !== 0 ? c < 0 : a.index < b.index;
  }

  /** Play every match once (leaves are cursors; node i's children are 2i and 2i+1). */
  private build(): void {
    const k = this.k;
    if (k === 1) {
      this.tree[0] = 0;
      return;
    }
    // winners[i] for the internal nodes 1..k-1; leaves are k..2k-1 (cursor = leaf - k).
    const winners = new Int32Array(2 * k);
    for (let i = 0; i < k; i++) winners[k + i] = i;
    for (let node = k - 1; node >= 1; node--) {
      const a = winners[2 * node];
      const b = winners[2 * node + 1];
      const aFirst = this.before(this.cursors[a], this.cursors[b]);
      winners[node] = aFirst ? a : b;
      this.tree[node] = aFirst ? b : a;
    }
    this.tree[0] = winners[1];
  }

  /** Replay the matches of cursor `w` (whose record changed) from its leaf to the root. */
  private replay(w: number): void {
    const tree = this.tree;
    const cursors = this.cursors;
    let winner = w;
    for (let node = (w + this.k) >> 1; node >= 1; node >>= 1) {
      const other = tree[node];
      if (this.before(cursors[other], cursors[winner])) {
        tree[node] = winner;
        winner = other;
      }
    }
    tree[0] = winner;
  }

  /** Move to the next record in order; false at the end. */
  advance(): boolean {
    if (this.k === 0) return false;
    if (this.started) {
      const w = this.tree[0];
      const c = this.cursors[w];
      if (!c.done && !c.advance()) this.finish(c);
      this.replay(w);
    }
    this.started = true;
    const top = this.cursors[this.tree[0]];
    if (top.done) return false;
    this.key = top.key;
    this.value = top.value;
    return true;
  }

  private finish(c: RunCursor): void {
    c.close();
    this.drop(this.runs[c.index].file);
  }

  /** Close every run file (each is removed). */
  close(): void {
    for (const c of this.cursors) {
      try {
        c.close();
      } catch {
        // closing twice is harmless
      }
      this.drop(this.runs[c.index].file);
    }
  }
}
