/**
 * The records the external sort holds in memory until they fill its buffer ({@link SortBuffer}),
 * their sort order, and their way out: decoded in order (when nothing was spilled) or copied
 * in order into a run file. String and Buffer keys are held encoded, as they will be written.
 *
 * @example
 * const buf = new SortBuffer(16 << 20, false);
 * buf.add('b', 1); buf.add('a', 2);
 * for (const [k, v] of buf.records(buf.order())) ... // 'a', then 'b'
 */
import {
  DETACHED_BYTES,
  type EncodedRecord,
  type KV,
  PackBuffer,
  type RecordWriter,
  unpackRange,
  unpackValues,
} from '../../protocol/record-stream.js';
import { compareKeys, estimateSize } from '../key-order.js';
import { bytesPrefix, compareBytes, compareUnits, utf8Prefix } from './key-prefix.js';
import type { KeyKind, RecordSource } from './run-files.js';
import { mergeSortIndices } from './stable-index-sort.js';

/** Estimated per-record overhead beyond key and value (the pair array, references). */
const RECORD_OVERHEAD = 40;

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
export class SortBuffer {
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
  /** The key is all in the first 40 bits of its prefix (the `exact` rule in `index`). */
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

  /**
   * Keys are held as objects: some key was neither a string nor a Buffer, both kinds came, or a
   * value was not {@link encodable}.
   */
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
          // Bytes from here on are not checked: even malformed, msgpackr decodes any sequence
          // starting at 0xed or above to a UTF-16 unit from 0xd000 up, so the prefix of the
          // bytes before it still orders as a lower bound of the decoded key.
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
      const vals = unpackRange(sorted.buf, 0, sorted.off, binary);
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
