/**
 * The internal record format (documented in docs/record-format.md): a stream of hunks, each
 * a 14-byte little-endian header `<BBIQ>` — `0x80 + version`, compressed flag (1 = zlib),
 * CRC32 of the uncompressed body, body length — then the body. A hunk is flushed past
 * {@link HUNK_SIZE} uncompressed bytes; a hunk of length 0 (or EOF) ends the stream.
 *
 * Version 1 bodies are Python pickles (the original classic worker); this project writes
 * version 2: each record is two MessagePack values, key then value. Concatenated streams are
 * valid streams (the shuffle appends map outputs). Everything here is synchronous: workers
 * run one task per process and block on their own disk reads.
 *
 * @example
 * const w = new RecordWriter((b) => chunks.push(b));
 * w.write('hello', 1); w.close();
 * for (const [k, v] of readRecords(new BufferSource(Buffer.concat(chunks)))) ...
 */
import { closeSync, openSync, readSync } from 'node:fs';
import zlib from 'node:zlib';
import { Packr } from 'msgpackr';
import { DataError } from '../common/errors.js';

export const HUNK_HEADER = 14;
export const HUNK_SIZE = 1024 * 1024;
export const RECORD_VERSION = 2;
/** Refuse hunks bigger than this (a corrupt length field must not allocate gigabytes). */
const MAX_HUNK = 256 * 1024 * 1024;

export type KV = [key: unknown, value: unknown];

const packr = new Packr({ useRecords: false, moreTypes: true, variableMapSize: true });

/** Encode one value as MessagePack (shared so readers and writers agree on options). */
export function packValue(v: unknown): Buffer {
  return packr.pack(v);
}

/** Decode every MessagePack value in `body`. */
export function unpackValues(body: Uint8Array): unknown[] {
  return packr.unpackMultiple(body) as unknown[];
}

/** Streams records into hunks; `sink` receives finished hunks (header + body). */
export class RecordWriter {
  private buf = Buffer.allocUnsafe(HUNK_SIZE + 64 * 1024);
  private off = 0;
  /** Bytes handed to the sink so far. */
  bytesOut = 0;
  records = 0;

  constructor(
    private readonly sink: (hunk: Buffer) => void,
    private readonly opts: { compress?: boolean; level?: number } = {},
  ) {}

  write(key: unknown, value: unknown): void {
    this.append(packr.pack(key));
    this.append(packr.pack(value));
    this.records++;
    if (this.off > HUNK_SIZE) this.flush();
  }

  private append(b: Uint8Array): void {
    if (this.off + b.length > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.off + b.length));
      this.buf.copy(bigger, 0, 0, this.off);
      this.buf = bigger;
    }
    this.buf.set(b, this.off);
    this.off += b.length;
  }

  /** Write the buffered records as one hunk (no-op when empty). */
  flush(): void {
    if (this.off === 0) return;
    this.emit(this.buf.subarray(0, this.off));
    this.off = 0;
  }

  /** Flush and write the terminating empty hunk. */
  close(): void {
    this.flush();
    this.emit(Buffer.alloc(0), true);
  }

  private emit(body: Buffer, terminator = false): void {
    const compress = this.opts.compress !== false && !terminator;
    const out = compress ? zlib.deflateSync(body, { level: this.opts.level ?? 1 }) : body;
    const header = Buffer.allocUnsafe(HUNK_HEADER);
    header[0] = 0x80 + RECORD_VERSION;
    header[1] = compress ? 1 : 0;
    header.writeUInt32LE(terminator ? 0 : zlib.crc32(body), 2);
    header.writeBigUInt64LE(BigInt(out.length), 6);
    this.bytesOut += HUNK_HEADER + out.length;
    this.sink(Buffer.concat([header, out]));
  }
}

/** A synchronous byte source. `read(n)` returns up to n bytes; an empty buffer means EOF. */
export interface ByteSource {
  read(n: number): Buffer;
  close?(): void;
}

export class BufferSource implements ByteSource {
  private pos = 0;
  constructor(private readonly data: Uint8Array) {}
  read(n: number): Buffer {
    const end = Math.min(this.data.length, this.pos + n);
    const b = Buffer.from(this.data.buffer, this.data.byteOffset + this.pos, end - this.pos);
    this.pos = end;
    return b;
  }
}

/** Reads a file (or a byte range of it) with blocking reads. */
export class FileSource implements ByteSource {
  private fd: number;
  private pos: number;
  private readonly end: number;
  constructor(file: string, start = 0, end = Number.POSITIVE_INFINITY) {
    this.fd = openSync(file, 'r');
    this.pos = start;
    this.end = end;
  }
  read(n: number): Buffer {
    const want = Math.min(n, this.end - this.pos);
    if (want <= 0) return Buffer.alloc(0);
    const b = Buffer.allocUnsafe(want);
    const got = readSync(this.fd, b, 0, want, this.pos);
    this.pos += got;
    return got === want ? b : b.subarray(0, got);
  }
  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** Read exactly n bytes (fewer only at EOF). */
export function readFully(src: ByteSource, n: number): Buffer {
  const first = src.read(n);
  if (first.length === n || first.length === 0) return first;
  const parts = [first];
  let got = first.length;
  while (got < n) {
    const b = src.read(n - got);
    if (b.length === 0) break;
    parts.push(b);
    got += b.length;
  }
  return Buffer.concat(parts, got);
}

export interface ReadOptions {
  /** Skip hunks whose CRC does not match instead of failing (the original's `ignore_corrupt`). */
  ignoreCorrupt?: boolean;
  /** Name for error messages. */
  url?: string;
}

/** Decode every record of a record stream (possibly several concatenated streams). */
export function* readRecords(src: ByteSource, opts: ReadOptions = {}): Generator<KV> {
  let header = readFully(src, HUNK_HEADER);
  if (header.length > 0 && header[0] < 0x80) {
    yield* readOldNetstrings(src, header, opts);
    return;
  }
  while (header.length > 0) {
    if (header.length < HUNK_HEADER) throw new DataError('truncated hunk header', opts.url);
    const version = header[0] - 0x80;
    const compressed = header[1];
    const crc = header.readUInt32LE(2);
    const len = Number(header.readBigUInt64LE(6));
    if (version === 1)
      throw new DataError(
        'record stream written by the Python worker (pickle, version 1): not readable by the TypeScript worker',
        opts.url,
      );
    if (version !== RECORD_VERSION) throw new DataError(`unknown record stream version ${version}`, opts.url);
    if (len > MAX_HUNK) throw new DataError(`corrupt hunk: length ${len} exceeds ${MAX_HUNK}`, opts.url);
    if (len > 0) {
      const raw = readFully(src, len);
      if (raw.length < len)
        throw new DataError(`truncated hunk: expected ${len} bytes, got ${raw.length}`, opts.url);
      let body: Buffer;
      try {
        body = compressed ? zlib.inflateSync(raw) : raw;
      } catch (e) {
        if (opts.ignoreCorrupt) body = Buffer.alloc(0);
        else throw new DataError(`corrupt hunk: ${(e as Error).message}`, opts.url);
      }
      if (body.length > 0 && zlib.crc32(body) !== crc) {
        if (!opts.ignoreCorrupt) throw new DataError('corrupt hunk: checksum mismatch', opts.url);
      } else {
        const vals = unpackValues(body);
        if (vals.length % 2 !== 0) throw new DataError('corrupt hunk: odd number of values', opts.url);
        for (let i = 0; i < vals.length; i += 2) yield [vals[i], vals[i + 1]];
      }
    }
    // A zero-length hunk terminates one stream; another may follow (concatenated partitions).
    header = readFully(src, HUNK_HEADER);
  }
}

/** Version 0: `"<len(k)> <k> <len(v)> <v>\n"` text netstrings (`old_netstr_reader`). */
function* readOldNetstrings(src: ByteSource, head: Buffer, opts: ReadOptions): Generator<KV> {
  let buf = head;
  const more = () => {
    const b = src.read(65536);
    if (b.length > 0) buf = Buffer.concat([buf, b]);
    return b.length > 0;
  };
  const readField = (): Buffer | null => {
    let sp = buf.indexOf(0x20);
    while (sp < 0) {
      if (!more()) return null;
      sp = buf.indexOf(0x20);
    }
    const len = Number(buf.subarray(0, sp).toString('latin1'));
    if (!Number.isInteger(len) || len < 0) throw new DataError('corrupt netstring length', opts.url);
    while (buf.length < sp + 1 + len + 1) if (!more()) throw new DataError('truncated netstring', opts.url);
    const field = buf.subarray(sp + 1, sp + 1 + len);
    buf = buf.subarray(sp + 1 + len + 1);
    return field;
  };
  for (;;) {
    if (buf.length === 0 && !more()) return;
    const k = readField();
    if (k === null) return;
    const v = readField();
    if (v === null) throw new DataError('truncated netstring record', opts.url);
    yield [k.toString('utf8'), v.toString('utf8')];
  }
}
