/**
 * `ddfs xcat` without a reader: the records of inputs printed from their hunks' bytes
 * ({@link XcatLines}), a hunk at a time, rather than record by record through the result
 * iterator (whose per-record async steps cost most of the time). Reads as the result iterator
 * does — inputs expanded alike, each hunk checked by the record reader, the next replica after
 * a data error (its records already printed skipped) — but streams each remote file with one
 * GET, as `ddfs cat` does, instead of one ranged GET per 10 MiB. Inputs that are not remote
 * hunks (local files, `raw://`, old netstrings) go through the result iterator itself.
 *
 * @example
 * await xcatFast(urls, { settings, master, write: (b) => ctx.write(b) });
 */

import fs from 'node:fs/promises';
import { readRange } from '../client/http.js';
import { ddfsTagExpander, expandInputs, httpIndexReader } from '../client/inputs.js';
import { resultIterator } from '../client/result-iterator.js';
import { CommError, DataError } from '../common/errors.js';
import type { Settings } from '../common/settings.js';
import { pipeBlob } from '../ddfs/client/blob-read.js';
import { localReplica } from '../ddfs/client/local-node.js';
import { BufferSource, HUNK_HEADER, HunkReader } from '../protocol/record-stream.js';
import { MAX_HUNK } from '../protocol/records/format.js';
import { resolveHttp, splitUrl } from '../protocol/urls.js';
import { recordLine, XcatLines } from './xcat-lines.js';

export interface XcatFastOptions {
  settings: Settings;
  master?: string;
  /** Output; awaited before more is read. */
  write: (b: Buffer) => Promise<void>;
}

/** The input is not a record stream of hunks: read by the result iterator instead. */
class NotHunks extends Error {}

/** Print the records of `urls` (data URLs, `dir://`, `tag://`, replica lists) as lines. */
export async function xcatFast(
  urls: readonly (string | readonly string[])[],
  o: XcatFastOptions,
): Promise<void> {
  const discoPort = o.settings.get('DISCO_PORT');
  const master = o.master ?? o.settings.get('DISCO_MASTER');
  const inputs = await expandInputs(urls, httpIndexReader({ discoPort, master }), {
    tags: ddfsTagExpander({ settings: o.settings, master }),
  });
  const pending: Buffer[] = [];
  const lines = new XcatLines((b) => pending.push(b));
  const drain = async () => {
    for (const b of pending.splice(0)) await o.write(b);
  };
  try {
    for (const input of inputs) {
      const replicas = typeof input === 'string' ? [input] : input;
      // Records of the input printed: a replica read after a failed one skips them.
      const printed = { n: 0 };
      for (let r = 0; ; r++) {
        try {
          const http = remoteHttp(replicas[r], discoPort, master);
          if (http === null) throw new NotHunks();
          // On one of the blob's nodes its file is read instead (as `ddfs cat` does).
          const local = await localReplica(o.settings.get('DDFS_DATA'), [replicas[r]]);
          await printReplica(
            replicas[r],
            { file: local?.file, http },
            printed,
            lines,
            drain,
            () => pending.length > 0,
          );
          break;
        } catch (e) {
          if (e instanceof NotHunks) {
            await printGeneral(input, printed.n, o, lines, drain);
            break;
          }
          if (!(e instanceof DataError) || r + 1 >= replicas.length) throw e;
        }
      }
    }
  } finally {
    lines.end();
    await drain();
  }
}

/** The HTTP URL of a remote data URL; null for what the result iterator reads locally. */
function remoteHttp(url: string, discoPort: string, master: string | undefined): string | null {
  const { scheme } = splitUrl(url);
  if (scheme === 'disco' || scheme === 'dir' || scheme === 'part') return resolveHttp(url, discoPort, master);
  if (scheme === 'http' || scheme === 'https') return url;
  return null;
}

/**
 * The records of one replica, after the first `printed.n` (printed from another replica):
 * its local file read, or its bytes streamed by one GET ({@link pipeBlob}, as `ddfs cat`
 * reads), the rest after a
 * broken connection asked for in ranged chunks with the result iterator's retries; each hunk
 * checked, then printed whole (so a data error leaves no record of its hunk half counted).
 */
async function printReplica(
  url: string,
  source: { http: string; file?: string },
  printed: { n: number },
  lines: XcatLines,
  drain: () => Promise<void>,
  hasOutput: () => boolean,
): Promise<void> {
  let seen = 0;
  const cutter = new HunkCutter(url, (body) => {
    seen += lines.addHunk(body, url, Math.max(0, printed.n - seen));
    if (seen > printed.n) printed.n = seen;
  });
  let offset = 0;
  const take = (b: Buffer): Promise<void> | undefined => {
    offset += b.length;
    cutter.feed(b);
    return hasOutput() ? drain() : undefined;
  };
  // The local file unless it does not open (GC removed it meanwhile): then over HTTP.
  const fh = source.file ? await fs.open(source.file, 'r').catch(() => null) : null;
  if (fh) {
    for await (const chunk of fh.createReadStream({ highWaterMark: 1 << 20 })) await take(chunk as Buffer);
  } else {
    try {
      await pipeBlob([source.http], take);
    } catch (e) {
      if (!(e instanceof CommError)) throw e;
      for await (const chunk of readAhead(readRange(source.http, { start: offset }))) await take(chunk);
    }
  }
  cutter.finish();
}

/**
 * Cuts a stream's bytes, as they arrive, into hunks (header and stored body), each checked by
 * the record reader (`HunkReader.nextBody`) and its body handed to `onBody`. A stream that
 * does not start with a hunk header is {@link NotHunks}.
 */
class HunkCutter {
  private parts: Buffer[] = [];
  private size = 0;
  private first = true;

  constructor(
    private readonly url: string,
    private readonly onBody: (body: Buffer) => void,
  ) {}

  feed(b: Buffer): void {
    if (b.length === 0) return;
    if (this.first) {
      if (b[0] < 0x80) throw new NotHunks();
      this.first = false;
    }
    this.parts.push(b);
    this.size += b.length;
    while (this.size >= HUNK_HEADER) {
      const head = this.parts[0].length >= HUNK_HEADER ? this.parts[0] : this.join();
      if (head[0] < 0x80) throw new DataError('not in the record format: a hunk header expected', this.url);
      const len = Number(head.readBigUInt64LE(6));
      if (len > MAX_HUNK) throw new DataError(`corrupt hunk: length ${len} exceeds ${MAX_HUNK}`, this.url);
      if (this.size < HUNK_HEADER + len) break;
      this.check(this.take(HUNK_HEADER + len));
    }
  }

  /** The end of the stream: a truncated hunk left is reported as the record reader does. */
  finish(): void {
    if (this.size > 0) this.check(this.join());
  }

  private check(hunk: Buffer): void {
    const reader = new HunkReader(new BufferSource(hunk), { url: this.url });
    for (let body = reader.nextBody(); body !== null; body = reader.nextBody()) this.onBody(body);
  }

  /** The first `n` bytes held (copied only when they span pieces). */
  private take(n: number): Buffer {
    const first = this.parts[0].length >= n ? this.parts[0] : this.join();
    const out = first.subarray(0, n);
    if (first.length === n) this.parts.shift();
    else this.parts[0] = first.subarray(n);
    this.size -= n;
    return out;
  }

  /** All the bytes held, as one piece. */
  private join(): Buffer {
    const all = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.size);
    this.parts = [all];
    return all;
  }
}

/** The records of an input read by the result iterator, after the first `done`. */
async function printGeneral(
  input: string | readonly string[],
  done: number,
  o: XcatFastOptions,
  lines: XcatLines,
  drain: () => Promise<void>,
): Promise<void> {
  let skip = done;
  let n = 0;
  for await (const rec of resultIterator([input], { settings: o.settings, master: o.master })) {
    if (skip > 0) {
      skip--;
      continue;
    }
    lines.addLine(recordLine(rec, false));
    if (++n % 4096 === 0) await drain();
  }
}

/**
 * The items of `it`, the next one asked for before the current one is used: the next ranged
 * GET is under way while a chunk's hunks are printed.
 */
async function* readAhead<T>(it: AsyncGenerator<T>): AsyncGenerator<T> {
  let next = it.next();
  try {
    for (;;) {
      const r = await next;
      if (r.done) return;
      next = it.next();
      // Its failure is seen when it is awaited; not before, as an unhandled rejection.
      next.catch(() => {});
      yield r.value;
    }
  } finally {
    await it.return(undefined).catch(() => {});
  }
}
