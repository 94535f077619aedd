/**
 * MessagePack encoding into a growing buffer, the writer's hot path (every task's output goes
 * through it): strings, numbers, booleans, nil and Buffers are encoded here, straight into the
 * buffer, byte for byte as msgpackr would (other languages read these records, which must not
 * depend on which path wrote them); anything else goes through msgpackr.
 *
 * @example
 * const b = new PackBuffer();
 * b.pack('key'); b.pack(42);
 * b.buf.subarray(0, b.off); // the two values
 */
import { packValue } from './codec.js';

/**
 * A growing buffer of MessagePack values. Strings, numbers, booleans, null and Buffers are
 * encoded here, byte for byte as msgpackr encodes them (see {@link encodeString},
 * {@link encodeBinary}); anything else by msgpackr.
 */
export class PackBuffer {
  buf: Buffer;
  /** Bytes used. */
  off = 0;

  constructor(initial = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  /** Append one value. */
  pack(v: unknown): void {
    switch (typeof v) {
      case 'string':
        this.room(v.length * 3 + 5);
        this.off = encodeString(this.buf, this.off, v);
        return;
      case 'number':
        this.room(9);
        this.off = encodeNumber(this.buf, this.off, v);
        return;
      case 'boolean':
        this.room(1);
        this.buf[this.off++] = v ? 0xc3 : 0xc2;
        return;
      case 'object':
        if (v === null) {
          this.room(1);
          this.buf[this.off++] = 0xc0;
          return;
        }
        // Node Buffers (what external programs and binary readers give) are bin8/16/32, as
        // msgpackr writes them; other typed arrays are msgpackr's typed-array extension.
        if ((v as { constructor?: unknown }).constructor === Buffer && v instanceof Uint8Array) {
          this.room(v.length + 5);
          this.off = encodeBinary(this.buf, this.off, v);
          return;
        }
        break;
    }
    const b = packValue(v);
    this.append(b, 0, b.length);
  }

  /** Append bytes `src[start, end)` (values encoded elsewhere). */
  append(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.room(n);
    const buf = this.buf;
    let o = this.off;
    if (n <= 32) for (let i = start; i < end; i++) buf[o++] = src[i];
    else {
      // A plain view: a Buffer's `subarray` costs more (it builds a Buffer).
      buf.set(new Uint8Array(src.buffer, src.byteOffset + start, n), o);
      o += n;
    }
    this.off = o;
  }

  /** Make sure `n` more bytes fit. */
  room(n: number): void {
    if (this.off + n > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.off + n));
      this.buf.copy(bigger, 0, 0, this.off);
      this.buf = bigger;
    }
  }
}

/**
 * Node's native UTF-8 writer (on every `Buffer`, not in its type declarations): `write`
 * without the argument checks.
 *
 * @example
 * const n = (buf as unknown as Utf8Writer).utf8Write(s, off, buf.length - off);
 */
export interface Utf8Writer {
  utf8Write(s: string, offset: number, length?: number): number;
}

/**
 * Write `s` as a MessagePack string at `off` (room for `s.length * 3 + 5` bytes is there);
 * returns the new offset. The same bytes as msgpackr (other languages read them; records must
 * not depend on which path wrote them): the smallest header for the UTF-8 length, and — as
 * msgpackr does — strings under 64 UTF-16 units encoded by the loop below, in which a lone
 * surrogate becomes its 3-byte form, longer ones by Node's encoder (lone surrogates: U+FFFD).
 */
export function encodeString(buf: Buffer, off: number, s: string): number {
  const len = s.length;
  // The header is written after the text, whose UTF-8 length is not known yet: guess its size
  // from the UTF-16 length, and move the text when the guess was short.
  const guess = len < 0x20 ? 1 : len < 0x100 ? 2 : len < 0x10000 ? 3 : 5;
  let n: number;
  if (len < 0x40) {
    let p = off + guess;
    for (let i = 0; i < len; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) buf[p++] = c;
      else if (c < 0x800) {
        buf[p++] = (c >> 6) | 0xc0;
        buf[p++] = (c & 0x3f) | 0x80;
      } else if ((c & 0xfc00) === 0xd800 && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        c = 0x10000 + ((c & 0x03ff) << 10) + (s.charCodeAt(i + 1) & 0x03ff);
        i++;
        buf[p++] = (c >> 18) | 0xf0;
        buf[p++] = ((c >> 12) & 0x3f) | 0x80;
        buf[p++] = ((c >> 6) & 0x3f) | 0x80;
        buf[p++] = (c & 0x3f) | 0x80;
      } else {
        buf[p++] = (c >> 12) | 0xe0;
        buf[p++] = ((c >> 6) & 0x3f) | 0x80;
        buf[p++] = (c & 0x3f) | 0x80;
      }
    }
    n = p - off - guess;
  } else n = (buf as unknown as Utf8Writer).utf8Write(s, off + guess, buf.length - off - guess);
  if (n < 0x20) {
    buf[off++] = 0xa0 | n;
  } else if (n < 0x100) {
    if (guess < 2) buf.copyWithin(off + 2, off + 1, off + 1 + n);
    buf[off++] = 0xd9;
    buf[off++] = n;
  } else if (n < 0x10000) {
    if (guess < 3) buf.copyWithin(off + 3, off + guess, off + guess + n);
    buf[off++] = 0xda;
    buf[off++] = n >> 8;
    buf[off++] = n & 0xff;
  } else {
    if (guess < 5) buf.copyWithin(off + 5, off + guess, off + guess + n);
    buf[off++] = 0xdb;
    buf.writeUInt32BE(n, off);
    off += 4;
  }
  return off + n;
}

/**
 * Write `src[start, start + n)` (default: all of `src`) as MessagePack binary at `off` (room
 * for `n + 5` bytes is there); returns the new offset. The bytes msgpackr writes for a Buffer
 * of those bytes: the smallest of bin8, bin16 and bin32.
 */
export function encodeBinary(
  buf: Buffer,
  off: number,
  src: Uint8Array,
  start = 0,
  n = src.length - start,
): number {
  if (n < 0x100) {
    buf[off++] = 0xc4;
    buf[off++] = n;
  } else if (n < 0x10000) {
    buf[off++] = 0xc5;
    buf[off++] = n >> 8;
    buf[off++] = n & 0xff;
  } else {
    buf[off++] = 0xc6;
    buf.writeUInt32BE(n, off);
    off += 4;
  }
  // Short values (keys, words, counts) byte by byte: cheaper than a native call; a range as a
  // plain view (a Buffer's subarray costs more).
  if (n <= 32) for (let i = 0; i < n; i++) buf[off + i] = src[start + i];
  else
    buf.set(
      start === 0 && n === src.length ? src : new Uint8Array(src.buffer, src.byteOffset + start, n),
      off,
    );
  return off + n;
}

/** Write `v` as msgpackr writes numbers (integers in the smallest form, others as float64). */
export function encodeNumber(buf: Buffer, off: number, v: number): number {
  if (v >>> 0 === v) {
    if (v < 0x80) buf[off++] = v;
    else if (v < 0x100) {
      buf[off++] = 0xcc;
      buf[off++] = v;
    } else if (v < 0x10000) {
      buf[off++] = 0xcd;
      buf[off++] = v >> 8;
      buf[off++] = v & 0xff;
    } else {
      buf[off++] = 0xce;
      buf.writeUInt32BE(v, off);
      off += 4;
    }
  } else if (v >> 0 === v) {
    if (v >= -0x20) buf[off++] = 0x100 + v;
    else if (v >= -0x80) {
      buf[off++] = 0xd0;
      buf[off++] = v + 0x100;
    } else if (v >= -0x8000) {
      buf[off++] = 0xd1;
      buf.writeInt16BE(v, off);
      off += 2;
    } else {
      buf[off++] = 0xd2;
      buf.writeInt32BE(v, off);
      off += 4;
    }
  } else {
    buf[off++] = 0xcb;
    buf.writeDoubleBE(v, off);
    off += 8;
  }
  return off;
}
