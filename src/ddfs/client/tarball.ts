/**
 * Reading tar archives as a stream, for `ddfs push -x` (the original's `DDFS.tarblobs`): each
 * regular file of the archive comes out with its name and its bytes, one member after the
 * other, without unpacking anything to disk. gzip-compressed archives (`.tar.gz`, `.tgz`) are
 * recognised by their first bytes. Node has no tar reader; the format read here is the POSIX
 * one (ustar headers, pax `path`/`size` records) with GNU long names, which is what `tar`,
 * Python's `tarfile` and the usual libraries write. Directories, links and devices are
 * skipped, as the original pushed only regular files.
 *
 * @example
 * for await (const m of tarMembers(createReadStream('data.tar.gz'))) {
 *   console.log(m.name, m.size);
 *   for await (const bytes of m.body) process.stdout.write(bytes);
 * }
 */
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pipeline, Readable } from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { safeDdfsName } from '../../protocol/names.js';
import type { BlobSource } from './blob-put.js';

const gzip = promisify(zlib.gzip);
/** A blob name must leave room for `$<timestamp>` within the 511 characters of a DDFS name. */
const MAX_BLOB_NAME = 480;

/** One regular file of an archive. Read (or ignore) its body before asking for the next. */
export interface TarMember {
  /** Path inside the archive, as stored (`dir/file.txt`). */
  name: string;
  size: number;
  body: AsyncIterable<Buffer>;
}

/** The archive is not a tar archive, or is cut short. */
export class TarFormatError extends Error {
  override name = 'TarFormatError';
}

const BLOCK = 512;

/** Exact-length reads over an async stream of buffers. */
class ByteReader {
  private buf: Buffer = Buffer.alloc(0);
  private done = false;
  /** Bytes consumed so far (for error messages). */
  offset = 0;

  constructor(private readonly it: AsyncIterator<Buffer>) {}

  /** At least `n` bytes buffered, unless the input ends first; false then. */
  private async fill(n: number): Promise<boolean> {
    while (this.buf.length < n && !this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else this.buf = this.buf.length === 0 ? r.value : Buffer.concat([this.buf, r.value]);
    }
    return this.buf.length >= n;
  }

  /** Exactly `n` bytes, or null at a clean end of input (nothing left). */
  async read(n: number): Promise<Buffer | null> {
    if (!(await this.fill(n))) {
      if (this.buf.length === 0) return null;
      throw new TarFormatError(`archive cut short at byte ${this.offset + this.buf.length}`);
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    this.offset += n;
    return out;
  }

  /** The next `n` bytes as they arrive. */
  async *stream(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.buf.length === 0 && !(await this.fill(1)))
        throw new TarFormatError(`archive cut short at byte ${this.offset}`);
      const take = Math.min(left, this.buf.length);
      const out = this.buf.subarray(0, take);
      this.buf = this.buf.subarray(take);
      this.offset += take;
      left -= take;
      yield out;
    }
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.stream(n)) {
      // discarded
    }
  }
}

/** NUL-terminated string field. */
function field(h: Buffer, start: number, len: number): string {
  const b = h.subarray(start, start + len);
  const end = b.indexOf(0);
  return b.subarray(0, end < 0 ? len : end).toString('utf8');
}

/** Octal number field, or GNU base-256 (first byte's high bit set) for large values. */
function number(h: Buffer, start: number, len: number, at: number): number {
  const b = h.subarray(start, start + len);
  if (b[0] & 0x80) {
    let v = b[0] & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + b[i];
    return v;
  }
  const s = b.toString('latin1').replace(/\0.*$/s, '').trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s))
    throw new TarFormatError(`not a tar archive (bad number field at byte ${at + start})`);
  return Number.parseInt(s, 8);
}

function checksumOk(h: Buffer): boolean {
  const want = h.subarray(148, 156).toString('latin1').replace(/\0.*$/s, '').trim();
  if (!/^[0-7]+$/.test(want)) return false;
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
  return sum === Number.parseInt(want, 8);
}

/** `"<len> key=value\n"` records of a pax header. */
function paxRecords(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let off = 0;
  while (off < data.length) {
    const sp = data.indexOf(0x20, off);
    if (sp < 0) break;
    const len = Number(data.subarray(off, sp).toString('latin1'));
    if (!Number.isInteger(len) || len <= 0 || off + len > data.length) break;
    const rec = data.subarray(sp + 1, off + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out.set(rec.slice(0, eq), rec.slice(eq + 1));
    off += len;
  }
  return out;
}

const padding = (n: number) => (BLOCK - (n % BLOCK)) % BLOCK;

/** The archive's bytes, gunzipped when they start with the gzip magic. */
async function* decompressed(input: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const it = input[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) return;
  const head: Buffer = first.value;
  const rest = async function* () {
    yield head;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
  };
  if (head[0] === 0x1f && head[1] === 0x8b) {
    const gunzip = zlib.createGunzip();
    pipeline(Readable.from(rest()), gunzip, () => undefined);
    yield* gunzip as AsyncIterable<Buffer>;
    return;
  }
  if (head.subarray(0, 3).toString('latin1') === 'BZh' || head.subarray(0, 6).equals(XZ_MAGIC))
    throw new TarFormatError(
      'bzip2 and xz archives are not supported: decompress the archive first (or use gzip)',
    );
  yield* rest();
}

const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

/**
 * The regular files of a tar archive (plain or gzip-compressed), in archive order. A member's
 * body is skipped if the consumer asks for the next member without reading it.
 */
export async function* tarMembers(input: AsyncIterable<Buffer>): AsyncGenerator<TarMember> {
  const r = new ByteReader(decompressed(input)[Symbol.asyncIterator]());
  let longName: string | null = null;
  let pax = new Map<string, string>();
  let headers = 0;
  for (;;) {
    const at = r.offset;
    const h = await r.read(BLOCK);
    if (h === null) {
      if (headers === 0) throw new TarFormatError('not a tar archive (empty)');
      return; // no end-of-archive blocks: tolerated, as tar does
    }
    if (h.every((b) => b === 0)) {
      if (headers === 0) throw new TarFormatError('not a tar archive (starts with an empty block)');
      return;
    }
    if (!checksumOk(h))
      throw new TarFormatError(
        headers === 0
          ? 'not a tar archive (no valid tar header at the start)'
          : `bad tar header at byte ${at}`,
      );
    headers++;
    const type = String.fromCharCode(h[156] || 0x30);
    let size = number(h, 124, 12, at);
    const magic = h.subarray(257, 263).toString('latin1');
    if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
      const data = Buffer.from((await r.read(size + padding(size))) ?? Buffer.alloc(0)).subarray(0, size);
      if (type === 'x') pax = paxRecords(data);
      else if (type === 'L') longName = data.toString('utf8').replace(/\0+$/, '');
      // 'g' (global pax) and 'K' (long link names) do not change which files there are.
      continue;
    }
    let name = field(h, 0, 100);
    const prefix = magic === 'ustar\0' ? field(h, 345, 155) : '';
    if (prefix) name = `${prefix}/${name}`;
    if (longName !== null) name = longName;
    if (pax.has('path')) name = pax.get('path') as string;
    if (pax.has('size')) size = Number(pax.get('size'));
    longName = null;
    pax = new Map();
    if (type !== '0' && type !== '7') {
      // Links, devices, directories and FIFOs have no data whatever their size field says.
      if (!'123456'.includes(type)) await r.skip(size + padding(size));
      continue;
    }
    let started = false;
    let got = 0;
    const body = async function* () {
      for await (const b of r.stream(size)) {
        got += b.length;
        yield b;
      }
    };
    yield {
      name,
      size,
      body: {
        [Symbol.asyncIterator]: () => {
          if (started) throw new Error(`the body of ${name} can be read once`);
          started = true;
          return body();
        },
      },
    };
    // What the consumer did not read of the body, then the padding.
    await r.skip(size - got + padding(size));
  }
}

/** Options of {@link tarBlobs}. */
export interface TarBlobOptions {
  /** Only members whose path contains this string (`-I`). */
  include?: string;
  /** Not members whose path contains this string (`-E`). */
  exclude?: string;
  /** gzip each member (level 2, name suffix `_gz`), as the original's `compress`. */
  compress?: boolean;
  /** Directory for members too large to keep in memory. */
  dir: string;
}

/** A member of an archive, ready to push (several times, if an upload is retried). */
export interface TarBlob {
  /** Its path in the archive. */
  member: string;
  /** The blob name: the path made a safe DDFS name, `_gz` appended when compressed. */
  name: string;
  source: BlobSource;
  /** Remove its temporary file, if it has one. */
  release(): Promise<void>;
}

/** Members up to this size are held in memory, larger ones in a temporary file. */
const IN_MEMORY = 4 << 20;
/** The original's gzip level for tar members. */
const MEMBER_GZIP_LEVEL = 2;

/**
 * The regular files of a tar archive as blobs to push (the original's `DDFS.tarblobs`), in
 * archive order. Take each one's `source` before asking for the next; `release` it once pushed.
 */
export async function* tarBlobs(input: AsyncIterable<Buffer>, opts: TarBlobOptions): AsyncGenerator<TarBlob> {
  let n = 0;
  for await (const m of tarMembers(input)) {
    if (opts.include !== undefined && !m.name.includes(opts.include)) continue;
    if (opts.exclude !== undefined && m.name.includes(opts.exclude)) continue;
    const name = safeDdfsName(m.name) + (opts.compress ? '_gz' : '');
    if (name.length > MAX_BLOB_NAME)
      throw new TarFormatError(
        `member ${m.name}: name too long for a blob (${name.length} > ${MAX_BLOB_NAME} characters)`,
      );
    if (m.size <= IN_MEMORY) {
      const parts: Buffer[] = [];
      for await (const b of m.body) parts.push(b);
      const data = Buffer.concat(parts);
      const out = opts.compress ? await gzip(data, { level: MEMBER_GZIP_LEVEL }) : data;
      yield { member: m.name, name, source: { data: out }, release: async () => undefined };
      continue;
    }
    const file = path.join(opts.dir, `member-${n++}`);
    try {
      const body = Readable.from(m.body);
      if (opts.compress)
        await pipelineAsync(body, zlib.createGzip({ level: MEMBER_GZIP_LEVEL }), createWriteStream(file));
      else await pipelineAsync(body, createWriteStream(file));
    } catch (e) {
      await fs.rm(file, { force: true });
      throw e;
    }
    yield { member: m.name, name, source: { file }, release: () => fs.rm(file, { force: true }) };
  }
}
