/**
 * The text lines `ddfs xcat` prints for records, built two ways that give the same bytes:
 * {@link recordLine} from decoded records (any reader, any value), and {@link XcatLines} from
 * a checked hunk body, copying the bytes of strings and binary values straight into large
 * output buffers without decoding them into JavaScript values (`ddfs chunk`'s records, bare
 * lines, read at hundreds of MB/s). A value the bytes path cannot print as such (a map, a
 * float, a string that is not valid UTF-8, ...) has its record decoded and printed by
 * {@link recordLine}.
 *
 * @example
 * const out = new XcatLines((b) => chunks.push(b));
 * out.addHunk(body, 'disco://n1/blob');
 * out.end();
 */
import { isUtf8 } from 'node:buffer';
import { DataError } from '../common/errors.js';
import { unpackValues } from '../protocol/record-stream.js';
import { unpackWholeHunk } from '../protocol/records/hunk-reader.js';
import { scanValues, valueStarts } from '../protocol/records/value-scanner.js';
import { formatValue, toJson } from './format.js';

/**
 * The line of one entry, without its newline: `key<TAB>value` (strings and bytes as text, other
 * values as JSON), the key alone when the value is null (chunked text reads back as the text),
 * or the JSON of the entry with `json`.
 *
 * @example
 * recordLine(['word', 3], false); // 'word\t3'
 */
export function recordLine(rec: unknown, json: boolean): string {
  if (json) return toJson(rec);
  if (!Array.isArray(rec)) return formatValue(rec);
  if (rec.length === 2 && (rec[1] === null || rec[1] === undefined)) return formatValue(rec[0]);
  return rec.map(formatValue).join('\t');
}

/** Size of the buffers lines are gathered in before they are handed on (a hunk's lines fit). */
const OUT_BYTES = 2 << 20;
/** Strings shorter than this are copied byte by byte (cheaper than a native call each). */
const SHORT = 128;
/** Text moved down shorter than this is moved byte by byte (see {@link moveDown}). */
const TINY = 12;
/** Value starts kept for the next hunk at most (a hunk of more values has its own). */
const LARGE_STARTS = 1 << 18;
const TAB = 0x09;
const NL = 0x0a;

/** The lines of a hunk outgrew the buffer and hold text that is not UTF-8: printed again, checked. */
class Unchecked extends Error {}

/** Where the bytes of the string or binary value at `s` start; -1 for other types. */
function textStart(b: Buffer, s: number): number {
  const t = b[s];
  if (t >= 0xa0 && t <= 0xbf) return s + 1;
  if (t === 0xd9 || t === 0xc4) return s + 2;
  if (t === 0xda || t === 0xc5) return s + 3;
  if (t === 0xdb || t === 0xc6) return s + 5;
  return -1;
}

/** Copy `b[from, to)` down to `w` (not after `from`); where the copy ends. */
function moveDown(b: Buffer, w: number, from: number, to: number): number {
  const n = to - from;
  if (n < TINY) {
    for (let i = 0; i < n; i++) b[w + i] = b[from + i];
  } else {
    b.copyWithin(w, from, to);
  }
  return w + n;
}

/**
 * Lines of records, gathered as bytes in buffers of about 2 MiB that are handed to `emit` once
 * full (and by {@link end}); each buffer is new, so `emit` may keep it.
 */
export class XcatLines {
  private out = Buffer.allocUnsafe(OUT_BYTES);
  private pos = 0;
  private starts = valueStarts();
  /**
   * Strings are checked one by one as they are copied (else a hunk's lines are checked at
   * once, and stay together in one buffer, from {@link mark}, until then).
   */
  private checked = true;
  /** Where the lines of the hunk being printed start in the output buffer. */
  private mark = 0;

  constructor(private readonly emit: (b: Buffer) => void) {}

  /**
   * Lines of the records of a checked hunk body (as `HunkReader.nextBody` gives it), after the
   * first `skip` records (already printed from a failed replica); how many records it holds.
   * A data error, nothing printed, when it holds an odd number of values.
   */
  addHunk(body: Buffer, url: string, skip = 0): number {
    const starts = this.starts;
    if (!scanValues(body, starts)) {
      // Extension types (or not MessagePack): decoded whole, as the record reader does.
      const vals = unpackWholeHunk(body, { url });
      for (let i = 2 * skip; i < vals.length; i += 2) this.addLine(recordLine([vals[i], vals[i + 1]], false));
      return vals.length / 2;
    }
    const count = starts.count;
    if ((count & 1) === 1) throw new DataError('corrupt hunk: odd number of values', url);
    // Text is copied unchecked, then the hunk's lines checked at once: they are valid UTF-8
    // exactly when every string copied is (tabs and newlines end any sequence). If not, the
    // hunk is printed again, checking each value.
    const room = body.length + (body.length >> 2);
    if (this.pos + room > this.out.length) {
      this.end();
      if (room > this.out.length) this.out = Buffer.allocUnsafe(room);
    }
    this.mark = this.pos;
    this.checked = false;
    let again = false;
    try {
      this.records(body, this.inPlace(body, 2 * skip, count), count);
      // Still unchecked (lines too long for the buffer were checked, and handed on, already).
      again = !this.checked && !isUtf8(this.out.subarray(this.mark, this.pos));
    } catch (e) {
      if (!(e instanceof Unchecked)) {
        // Unchecked lines of a hunk half printed are never handed on.
        this.pos = this.mark;
        throw e;
      }
      again = true;
    } finally {
      this.checked = true;
    }
    if (again) {
      this.pos = this.mark;
      this.records(body, 2 * skip, count);
    }
    // The value starts of a hunk of millions of values are not kept for the next ones.
    if (this.starts.at.length > LARGE_STARTS) this.starts = valueStarts();
    return count / 2;
  }

  /**
   * The lines of the first records of the hunk that are text (a string or binary key, a string,
   * binary or nil value), unchecked, made from a copy of the body in the output buffer where
   * the lines go: each piece of text moves down within the buffer (`copyWithin`, no view
   * allocated per record), as lines of such records are never longer than the records. Returns
   * the index of the first value of the first record left (another kind, or `count`).
   */
  private inPlace(body: Buffer, from: number, count: number): number {
    const out = this.out;
    const at = this.starts.at;
    const base = this.pos;
    out.set(body, base);
    let w = base;
    let v = from;
    for (; v < count; v += 2) {
      const k = at[v];
      const val = at[v + 1];
      const ks = textStart(body, k);
      if (ks < 0) break;
      const vt = body[val];
      let vs = -1;
      if (vt !== 0xc0) {
        vs = textStart(body, val);
        if (vs < 0) break;
      }
      w = moveDown(out, w, base + ks, base + val);
      if (vs >= 0) {
        out[w++] = TAB;
        w = moveDown(out, w, base + vs, base + at[v + 2]);
      }
      out[w++] = NL;
    }
    this.pos = w;
    return v;
  }

  /** The lines of the records whose values are `[from, count)` of the hunk's value starts. */
  private records(body: Buffer, from: number, count: number): void {
    const at = this.starts.at;
    for (let v = from; v < count; v += 2) {
      const k = at[v];
      const val = at[v + 1];
      const end = at[v + 2];
      if (!this.addRecord(body, k, val, end)) this.addDecoded(body, k, end);
    }
  }

  /** A line of text, without its newline. */
  addLine(line: string): void {
    const len = Buffer.byteLength(line);
    this.reserve(len + 1);
    this.pos += this.out.write(line, this.pos, len, 'utf8');
    this.out[this.pos++] = NL;
  }

  /** Hands on what is gathered. */
  end(): void {
    if (this.pos === 0) return;
    this.emit(this.out.subarray(0, this.pos));
    this.out = Buffer.allocUnsafe(OUT_BYTES);
    this.pos = 0;
  }

  /** The record `b[k, end)` decoded, and printed as the general path prints it. */
  private addDecoded(b: Buffer, k: number, end: number): void {
    const [key, value] = unpackValues(b.subarray(k, end));
    this.addLine(recordLine([key, value], false));
  }

  /** The line of the record copied from its bytes; false (nothing added) when it cannot be. */
  private addRecord(b: Buffer, k: number, val: number, end: number): boolean {
    // At most: the key's bytes, a tab, the value printed (a number: 11 characters), a newline.
    this.reserve(end - k + 16);
    const start = this.pos;
    if (!this.addValue(b, k, val)) return false;
    if (b[val] !== 0xc0) {
      this.out[this.pos++] = TAB;
      if (!this.addValue(b, val, end)) {
        this.pos = start;
        return false;
      }
    }
    this.out[this.pos++] = NL;
    return true;
  }

  /**
   * The text of the value `b[s, e)` when it is a UTF-8 string or binary, a boolean or an
   * integer of 32 bits or less (which print as their bytes, or as JSON: the same text); false
   * (the output as it was) for anything else, left to the decoder.
   */
  private addValue(b: Buffer, s: number, e: number): boolean {
    const from = textStart(b, s);
    if (from < 0) return this.addScalar(b, s, b[s]);
    const out = this.out;
    let p = this.pos;
    if (e - from < SHORT) {
      for (let i = from; i < e; i++) out[p++] = b[i];
    } else {
      out.set(b.subarray(from, e), p);
      p += e - from;
    }
    // Text that is not valid UTF-8 is decoded (strings and bytes differ in how).
    if (this.checked && !isUtf8(out.subarray(this.pos, p))) return false;
    this.pos = p;
    return true;
  }

  /** Booleans and integers of 32 bits or less, as JSON prints them. */
  private addScalar(b: Buffer, s: number, t: number): boolean {
    let n: number;
    if (t < 0x80) n = t;
    else if (t >= 0xe0) n = t - 0x100;
    else if (t === 0xc2 || t === 0xc3) {
      this.pos += this.out.write(t === 0xc3 ? 'true' : 'false', this.pos, 'latin1');
      return true;
    } else if (t === 0xcc) n = b[s + 1];
    else if (t === 0xcd) n = b.readUInt16BE(s + 1);
    else if (t === 0xce) n = b.readUInt32BE(s + 1);
    else if (t === 0xd0) n = b.readInt8(s + 1);
    else if (t === 0xd1) n = b.readInt16BE(s + 1);
    else if (t === 0xd2) n = b.readInt32BE(s + 1);
    else return false;
    this.addInteger(n);
    return true;
  }

  /** An integer's decimal digits (as `String(n)`), without a native call per number. */
  private addInteger(n: number): void {
    const out = this.out;
    let p = this.pos;
    if (n < 0) {
      out[p++] = 0x2d;
      n = -n;
    }
    let digits = 1;
    for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
    p += digits;
    this.pos = p;
    for (let i = 1; i <= digits; i++) {
      out[p - i] = 0x30 + (n % 10);
      n = Math.floor(n / 10);
    }
  }

  /** Room for `n` more bytes: the gathered lines handed on first when they would not fit. */
  private reserve(n: number): void {
    if (this.pos + n <= this.out.length) return;
    if (!this.checked) {
      // Unchecked lines are not handed on before their check, nor held on in a growing
      // buffer (records of numbers print at up to 6 times their size): checked now, the
      // rest of the hunk is checked value by value. Lines of text that is not UTF-8 are
      // printed again from the hunk's start, checked ({@link addHunk}).
      if (!isUtf8(this.out.subarray(this.mark, this.pos))) throw new Unchecked();
      this.checked = true;
    }
    this.end();
    this.mark = 0;
    if (n > this.out.length) this.out = Buffer.allocUnsafe(n);
  }
}
