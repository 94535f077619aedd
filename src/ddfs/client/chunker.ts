/**
 * Record-aware chunking for `DDFS.chunk` (the original's `fileutils.Chunker`): records from a
 * reader are written in the internal record format (docs/record-format.md) into chunk files
 * of about `chunkSize` bytes; a chunk is closed before the record that would start past the
 * limit, so no record is ever split across chunks. Chunks are spilled to temporary files, so
 * memory stays bounded by one hunk whatever the input size, and a chunk can be re-sent when a
 * push is retried.
 *
 * @example
 * for await (const file of chunkRecords(lineRecords(stream), { chunkSize: 64 << 20, dir })) push(file);
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { HUNK_SIZE, type KV, packValue, RecordWriter } from '../../protocol/record-stream.js';

/** The original's default chunk size: 64 MiB. */
export const DEFAULT_CHUNK_SIZE = 64 * 1024 * 1024;

/**
 * Turns an input's bytes into records: `[key, value]` pairs (anything else is stored as
 * `[item, null]` by `DDFS.chunk`).
 */
export type RecordReader = (
  input: AsyncIterable<Buffer>,
  url: string,
) => AsyncIterable<unknown> | Iterable<unknown>;

/**
 * The default reader: one record per line, `[line, null]`, the line decoded as UTF-8 without
 * its `\n` (a last line without newline counts too).
 */
export async function* lineRecords(input: AsyncIterable<Buffer>): AsyncGenerator<KV> {
  let rest: Buffer = Buffer.alloc(0);
  for await (const chunk of input) {
    let buf = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
    let nl = buf.indexOf(0x0a);
    while (nl >= 0) {
      yield [buf.subarray(0, nl).toString('utf8'), null];
      buf = buf.subarray(nl + 1);
      nl = buf.indexOf(0x0a);
    }
    rest = Buffer.from(buf);
  }
  if (rest.length > 0) yield [rest.toString('utf8'), null];
}

/** A finished chunk file. */
export interface ChunkFile {
  file: string;
  /** Index of the chunk within its input (0, 1, ...). */
  index: number;
  size: number;
  records: number;
}

/**
 * Write `records` into chunk files under `dir`; each chunk is yielded once complete, and
 * deleted when the consumer asks for the next one (so at most one chunk is on disk) unless
 * `keep` (then the consumer removes it).
 */
export async function* chunkRecords(
  records: AsyncIterable<KV>,
  opts: { chunkSize?: number; dir: string; prefix?: string; keep?: boolean },
): AsyncGenerator<ChunkFile> {
  const limit = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const small = limit < 4 * HUNK_SIZE;
  const smallHunk = Math.max(1024, Math.floor(limit / 4));
  let pending = 0;
  let index = 0;
  let current: { file: string; fd: number; writer: RecordWriter } | null = null;
  const open = () => {
    const file = path.join(opts.dir, `${opts.prefix ?? 'chunk'}-${index}`);
    const fd = openSync(file, 'w');
    const writer = new RecordWriter((hunk) => {
      let off = 0;
      while (off < hunk.length) off += writeSync(fd, hunk, off);
    });
    return { file, fd, writer };
  };
  const finish = (c: { file: string; fd: number; writer: RecordWriter }): ChunkFile => {
    c.writer.close();
    closeSync(c.fd);
    pending = 0;
    current = null;
    return { file: c.file, index: index++, size: c.writer.bytesOut, records: c.writer.records };
  };
  try {
    for await (const [k, v] of records) {
      if (current && current.writer.bytesOut > limit) {
        const done = finish(current);
        yield done;
        if (!opts.keep) await fs.rm(done.file, { force: true });
      }
      current ??= open();
      current.writer.write(k, v);
      if (small) {
        // Chunks smaller than a few hunks: cut hunks early, or a chunk could never be smaller
        // than one 1 MiB hunk (the original's granularity).
        pending += packValue(k).length + packValue(v).length;
        if (pending >= smallHunk) {
          current.writer.flush();
          pending = 0;
        }
      }
    }
    if (current) {
      const done = finish(current);
      yield done;
      if (!opts.keep) await fs.rm(done.file, { force: true });
    }
  } finally {
    const left = current as { file: string; fd: number } | null;
    if (left) {
      closeSync(left.fd);
      await fs.rm(left.file, { force: true });
    }
  }
}
