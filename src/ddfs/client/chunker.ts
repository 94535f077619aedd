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
import { type KV, RecordWriter } from '../../protocol/record-stream.js';

/** The original's default chunk size: 64 MiB. */
export const DEFAULT_CHUNK_SIZE = 64 * 1024 * 1024;

/** Turns an input's bytes into records. */
export type RecordReader = (input: AsyncIterable<Buffer>, url: string) => AsyncIterable<KV>;

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
 * deleted when the consumer asks for the next one (so at most one chunk is on disk).
 */
export async function* chunkRecords(
  records: AsyncIterable<KV>,
  opts: { chunkSize?: number; dir: string; prefix?: string },
): AsyncGenerator<ChunkFile> {
  const limit = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  let index = 0;
  let fd = -1;
  let file = '';
  let writer: RecordWriter | null = null;
  const open = () => {
    file = path.join(opts.dir, `${opts.prefix ?? 'chunk'}-${index}`);
    fd = openSync(file, 'w');
    const out = fd;
    writer = new RecordWriter((hunk) => {
      let off = 0;
      while (off < hunk.length) off += writeSync(out, hunk, off);
    });
  };
  const finish = (): ChunkFile => {
    const w = writer!;
    w.close();
    closeSync(fd);
    fd = -1;
    writer = null;
    return { file, index: index++, size: w.bytesOut, records: w.records };
  };
  try {
    for await (const [k, v] of records) {
      if (writer && (writer as RecordWriter).bytesOut > limit) {
        const done = finish();
        yield done;
        await fs.rm(done.file, { force: true });
      }
      if (!writer) open();
      (writer as unknown as RecordWriter).write(k, v);
    }
    if (writer && ((writer as RecordWriter).records > 0 || index === 0)) {
      const done = finish();
      yield done;
      await fs.rm(done.file, { force: true });
    }
  } finally {
    if (fd >= 0) closeSync(fd);
    if (file) await fs.rm(file, { force: true });
  }
}
