/**
 * The classic external-program interface (the original's `disco.worker.classic.external`,
 * docs/external.md): the byte formats an external map or reduce program and the worker
 * exchange on the program's stdin and stdout, and where the program lives in the job home.
 *
 * - Parameters, written first on stdin: `extParams` as given (a string), or a dictionary
 *   encoded as the original's `netstring` module does: `<body length>\n` then, per entry,
 *   `<key length> <key> <value length> <value>\n`, lengths in decimal bytes. A job without
 *   `extParams` gets the empty dictionary `0\n` (as in the original), so `read_parameters()`
 *   of the C library always finds a parameter block.
 * - Pairs: `<key size><key><value size><value>`, sizes 32-bit little-endian unsigned.
 * - Result lists (program → worker): `<num pairs>` (32-bit little-endian) and that many pairs.
 *
 * @example
 * encodeNetstringParams({ lang: 'en' }).toString(); // '12\n2 lang 2 en\n'
 * const d = new ResultListDecoder((k, v) => out.push([k, v]));
 * d.push(chunk); d.lists; // complete result lists so far
 */
import { DiscoError, ProtocolError } from '../common/errors.js';
import type { Utf8Writer } from './records/pack-buffer.js';

/** The phases an external program can run as (also its only command line argument). */
export type ExternalMode = 'map' | 'reduce';

/** Directory of a phase's program and its supporting files inside the job home. */
export function externalDir(mode: ExternalMode): `ext/${ExternalMode}` {
  return `ext/${mode}`;
}

/** What a job without `extParams` writes: an empty netstring dictionary. */
export const EMPTY_EXT_PARAMS = '0\n';

/** Largest key or value accepted from a program (the original's MAX_ITEM_SIZE, 1 GiB). */
export const MAX_EXTERNAL_ITEM_SIZE = 1024 ** 3;

/**
 * One netstring entry, `<key length> <key> <value length> <value>\n` (lengths in decimal
 * bytes): an entry of a parameter dictionary, and a record of the version 0 record format
 * (`src/worker/readers/netstr.ts`).
 *
 * @example
 * encodeNetstring(Buffer.from('abc'), Buffer.from('hello')).toString(); // '3 abc 5 hello\n'
 */
export function encodeNetstring(key: Uint8Array, value: Uint8Array): Buffer {
  const kl = Buffer.from(`${key.length} `, 'latin1');
  const vl = Buffer.from(` ${value.length} `, 'latin1');
  return Buffer.concat([kl, key, vl, value, NEWLINE_BYTE]);
}

const NEWLINE_BYTE = Buffer.from('\n', 'latin1');

/**
 * A parameter dictionary in the netstring format of the original (`encode_netstring_fd`):
 * the body's length and a newline, then an {@link encodeNetstring} entry per key. Lengths are
 * in UTF-8 bytes (the original counted characters, which only agrees for ASCII).
 */
export function encodeNetstringParams(dict: Readonly<Record<string, string>>): Buffer {
  const entries: Buffer[] = [];
  for (const [k, v] of Object.entries(dict)) {
    if (typeof v !== 'string')
      throw new DiscoError(
        `extParams.${k} must be a string, got ${typeof v} (a dictionary holds strings only)`,
      );
    entries.push(encodeNetstring(Buffer.from(k), Buffer.from(v)));
  }
  const body = Buffer.concat(entries);
  return Buffer.concat([Buffer.from(`${body.length}\n`), body]);
}

/**
 * Parse what {@link encodeNetstringParams} produces (whole, as `read_parameters()` of the C
 * library reads it); returns the entries in order and the bytes consumed.
 */
export function decodeNetstringParams(bytes: Uint8Array): { entries: [string, string][]; length: number } {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nl = b.indexOf(0x0a);
  const head = nl < 0 ? '' : b.toString('latin1', 0, nl);
  if (!/^\d{1,10}$/.test(head)) throw new ProtocolError('netstring: expected "<length>\\n" first');
  const total = Number(head);
  const start = nl + 1;
  const end = start + total;
  if (end > b.length) throw new ProtocolError(`netstring: body of ${total} bytes is truncated`);
  let i = start;
  const item = (sep: number): string => {
    const sp = b.indexOf(0x20, i);
    if (sp < 0 || sp >= end || sp - i > 10 || !/^\d+$/.test(b.toString('latin1', i, sp)))
      throw new ProtocolError(`netstring: expected an item length at byte ${i - start}`);
    const len = Number(b.toString('latin1', i, sp));
    const from = sp + 1;
    if (from + len + 1 > end || b[from + len] !== sep)
      throw new ProtocolError(`netstring: item at byte ${i - start} overruns the body`);
    i = from + len + 1;
    return b.toString('utf8', from, from + len);
  };
  const entries: [string, string][] = [];
  while (i < end) entries.push([item(0x20), item(0x0a)]);
  return { entries, length: end };
}

/** Bytes of a key or value sent to a program: bytes as they are, text as UTF-8. */
export type ExternalBytes = Uint8Array | string;

/**
 * Encodes pairs into one growing buffer, ready to be handed over whole (its own
 * `ArrayBuffer`, so it can be transferred to another thread without a copy).
 */
export class PairBatch {
  private buf: Buffer;
  /** Bytes used. */
  length = 0;
  /** Pairs in the batch. */
  pairs = 0;

  constructor(private readonly initial = 256 * 1024) {
    this.buf = Buffer.from(new ArrayBuffer(initial));
  }

  /** Append `<key size><key><value size><value>`. */
  add(key: ExternalBytes, value: ExternalBytes): void {
    this.field(key);
    this.field(value);
    this.pairs++;
  }

  /** Append a pair with an empty key: `<0><value size><value>`. */
  addValue(value: ExternalBytes): void {
    this.room(4);
    this.buf.writeUInt32LE(0, this.length);
    this.length += 4;
    this.field(value);
    this.pairs++;
  }

  /** Append raw bytes (e.g. the parameter block). */
  raw(bytes: Uint8Array): void {
    this.room(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** The batch's bytes as an `ArrayBuffer` of exactly its length; the batch starts over empty. */
  take(): ArrayBuffer {
    const ab = this.buf.buffer.slice(0, this.length) as ArrayBuffer;
    this.length = 0;
    this.pairs = 0;
    return ab;
  }

  private field(v: ExternalBytes): void {
    if (typeof v === 'string') {
      // Room for the worst case (3 bytes per UTF-16 unit) so the text is encoded in place.
      this.room(4 + v.length * 3);
      const n =
        v.length < 64 && isAscii(v)
          ? writeAscii(this.buf, v, this.length + 4)
          : (this.buf as unknown as Utf8Writer).utf8Write(
              v,
              this.length + 4,
              this.buf.length - this.length - 4,
            );
      this.buf.writeUInt32LE(n, this.length);
      this.length += 4 + n;
    } else {
      this.room(4 + v.length);
      this.buf.writeUInt32LE(v.length, this.length);
      this.buf.set(v, this.length + 4);
      this.length += 4 + v.length;
    }
  }

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const bigger = Buffer.from(new ArrayBuffer(Math.max(this.buf.length * 2, this.length + n, this.initial)));
    this.buf.copy(bigger, 0, 0, this.length);
    this.buf = bigger;
  }
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

function writeAscii(buf: Buffer, s: string, at: number): number {
  for (let i = 0; i < s.length; i++) buf[at + i] = s.charCodeAt(i);
  return s.length;
}

/** `<num pairs>` and the pairs, as a program writes a result list (for tests and fake programs). */
export function encodeResultList(pairs: readonly (readonly [ExternalBytes, ExternalBytes])[]): Buffer {
  const batch = new PairBatch(1024);
  const n = Buffer.alloc(4);
  n.writeUInt32LE(pairs.length);
  batch.raw(n);
  for (const [k, v] of pairs) batch.add(k, v);
  return Buffer.from(batch.take());
}

/** The 32-bit little-endian unsigned integer at `o` (in range: the caller checked). */
function u32(b: Buffer, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) + b[o + 3] * 0x1000000;
}

/** Bytes of the slabs small decoded values are copied into. */
const SLAB_SIZE = 8 * 1024;

/**
 * Takes decoded pairs as places in `bytes` instead of copies: the key is
 * `bytes[keyStart, keyStart + keyLength)`, the value `bytes[valueStart, valueStart + valueLength)`.
 * `bytes` is the decoder's own buffer, valid only during the call.
 */
export interface RawPairSink {
  addRaw(bytes: Buffer, keyStart: number, keyLength: number, valueStart: number, valueLength: number): void;
}

/** Hands each pair on as copies of its key and value, which may be kept. */
class CopyingPairSink implements RawPairSink {
  private slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
  private slabUsed = 0;

  constructor(private readonly onPair: (key: Buffer, value: Buffer) => void) {}

  addRaw(bytes: Buffer, keyStart: number, keyLength: number, valueStart: number, valueLength: number): void {
    this.onPair(this.copy(bytes, keyStart, keyLength), this.copy(bytes, valueStart, valueLength));
  }

  /**
   * A copy of `b[start, start + n)`. Small copies share slabs, as Node's own buffer pool does
   * (a kept value holds at most one slab, never the stdout chunk it came in): one object per
   * value instead of a view plus a copy.
   */
  private copy(b: Buffer, start: number, n: number): Buffer {
    if (n > SLAB_SIZE >>> 3) {
      const out = Buffer.allocUnsafeSlow(n);
      b.copy(out, 0, start, start + n);
      return out;
    }
    if (this.slabUsed + n > SLAB_SIZE) {
      this.slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
      this.slabUsed = 0;
    }
    const slab = this.slab;
    const at = this.slabUsed;
    if (n <= 32) for (let i = 0; i < n; i++) slab[at + i] = b[start + i];
    else b.copy(slab, at, start, start + n);
    this.slabUsed = (at + n + 7) & ~7;
    return slab.subarray(at, at + n);
  }
}

/**
 * Decodes result lists from a program's stdout as it arrives, in chunks of any size. Every
 * pair goes to `onPair` (key and value are copies, so they may be kept) or, when the decoder
 * was made with a {@link RawPairSink}, to it as places in the decoder's buffer (no object per
 * pair: a sink that writes the bytes straight on, as the map's record outputs do, needs none);
 * `lists` counts the complete lists. A pair is decoded only once all of it has arrived; a
 * large one is gathered without re-copying what came before.
 *
 * @example
 * const d = new ResultListDecoder((k, v) => out.push([k, v]));
 * const raw = new ResultListDecoder({ addRaw: (b, ks, kl) => keys.push(b.toString('utf8', ks, ks + kl)) });
 */
export class ResultListDecoder {
  /** Complete result lists decoded. */
  lists = 0;
  /** Pairs decoded. */
  pairCount = 0;
  private buf: Buffer = Buffer.alloc(0);
  private off = 0;
  /** Pairs left in the current list; -1 while expecting a list's `<num pairs>`. */
  private left = -1;
  /** Chunks held back while a large pair arrives, and the bytes they hold. */
  private stash: Buffer[] | null = null;
  private stashed = 0;
  private need = 0;
  private readonly sink: RawPairSink;

  constructor(
    sink: RawPairSink | ((key: Buffer, value: Buffer) => void),
    private readonly maxItem = MAX_EXTERNAL_ITEM_SIZE,
  ) {
    this.sink = typeof sink === 'function' ? new CopyingPairSink(sink) : sink;
  }

  /** True in the middle of a list (or of a list's header): the stream must not end here. */
  get midList(): boolean {
    return this.left >= 0 || this.off < this.buf.length || this.stash !== null;
  }

  /** Decode what `chunk` completes. Throws a ProtocolError on an impossible size. */
  push(chunk: Buffer): void {
    if (this.stash) {
      this.stash.push(chunk);
      this.stashed += chunk.length;
      if (this.stashed < this.need) return;
      this.buf = Buffer.concat(this.stash, this.stashed);
      this.stash = null;
    } else if (this.off < this.buf.length) {
      this.buf = Buffer.concat([this.buf.subarray(this.off), chunk]);
    } else {
      this.buf = chunk;
    }
    this.off = 0;
    this.parse(this.sink);
  }

  /**
   * Hand every complete pair in the buffer to `sink`. The state is in locals (written back
   * however the loop ends), as this runs once per pair with nothing else per pair to hide it.
   */
  private parse(sink: RawPairSink): void {
    const b = this.buf;
    const end = b.length;
    const max = this.maxItem;
    let o = this.off;
    let left = this.left;
    let lists = this.lists;
    let pairs = this.pairCount;
    let waiting = false;
    try {
      for (;;) {
        if (left < 0) {
          if (end - o < 4) break;
          left = u32(b, o);
          o += 4;
          if (left === 0) {
            left = -1;
            lists++;
          }
          continue;
        }
        if (end - o < 4) break;
        const klen = u32(b, o);
        if (klen > max) this.checkSize(klen, 'key');
        if (end - o < 8 + klen) {
          waiting = true;
          this.wait(o, 8 + klen);
          return;
        }
        const vlen = u32(b, o + 4 + klen);
        if (vlen > max) this.checkSize(vlen, 'value');
        const total = 8 + klen + vlen;
        if (end - o < total) {
          waiting = true;
          this.wait(o, total);
          return;
        }
        const ks = o + 4;
        o += total;
        pairs++;
        if (--left === 0) {
          left = -1;
          lists++;
        }
        sink.addRaw(b, ks, klen, ks + klen + 4, vlen);
      }
    } finally {
      this.left = left;
      this.lists = lists;
      this.pairCount = pairs;
      if (!waiting) this.off = o;
    }
  }

  /** Not all of a pair is here: keep the rest; gather big pairs chunk by chunk. */
  private wait(o: number, total: number): void {
    this.off = o;
    if (total > 1024 * 1024) {
      const rest = this.buf.subarray(o);
      this.stash = [rest];
      this.stashed = rest.length;
      this.need = total;
      this.buf = Buffer.alloc(0);
      this.off = 0;
    }
  }

  private checkSize(n: number, what: string): void {
    if (n > this.maxItem)
      throw new ProtocolError(
        `the external program wrote a ${what} of ${n} bytes (limit ${this.maxItem}): ` +
          'its stdout must carry only result lists (print messages to stderr as "**<MSG> text")',
      );
  }
}
