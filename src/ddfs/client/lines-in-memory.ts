/**
 * Text lines chunked on this thread, chunks in memory: `chunkLines` (chunker.ts) with no
 * encoder threads (two cores or fewer) and chunks small enough for memory. The input goes
 * straight into the chunk: a local file is read into the chunk's memory (`fileReader`,
 * chunk-input.ts), its lines encoded from there to the chunk's end — in WebAssembly
 * (line-records-wasm.ts) when the arena is WebAssembly memory — and sent from there; the
 * hunks' CRC-32s are computed meanwhile by a worker thread reading the same (shared) memory
 * (hunk-crc.ts).
 *
 * @example
 * const reader = fileReader('./big.log');
 * for await (const c of linesInMemory(reader, {}, 64 << 20)) uploads.push(upload(c));
 * await reader.close();
 */

import zlib from 'node:zlib';
import { HUNK_HEADER } from '../../protocol/record-stream.js';
import type { ByteReader } from './chunk-input.js';
import { type Arena, MemoryChunk } from './chunk-memory.js';
import {
  blockSizeFor,
  type Chunk,
  type ChunkerOptions,
  type ChunkInfo,
  chunkMemoryPool,
  DEFAULT_CHUNK_COMPRESSION,
  hunkSizeFor,
  stopped,
} from './chunk-options.js';
import { hunkHeader } from './chunk-sinks.js';
import { CrcWorker } from './hunk-crc.js';
import { type EncoderLib, encodeLineHunk, LIB, LineHunkPool } from './line-hunks.js';

const EMPTY = Buffer.alloc(0);

/** A hunk in the arena waiting for its CRC-32 (see {@link linesInMemory}). */
interface PendingHunk {
  mem: MemoryChunk;
  /** Where in the arena (header first). */
  start: number;
  length: number;
  crc: number | null;
  /** Resolves once `crc` is set. */
  known: Promise<void>;
}

/** Text encoded on this thread before CRCs go to a worker (starting one costs ~30 ms). */
const CRC_WORKER_AFTER = 4 << 20;
/** Hunks waiting for their CRC at most. */
const MAX_PENDING_CRCS = 4;
/** An {@link EncoderLib} leaving the CRC to a worker (0 in the header until known). */
const NO_CRC: EncoderLib = { ...LIB, crc32: () => 0 };

/** A chunk being built by {@link linesInMemory}. */
interface Building {
  mem: MemoryChunk;
  records: number;
  settle(e?: Error): void;
}

/**
 * `chunkLines` on this thread, chunks in memory: each block of text is put in the
 * current chunk's arena after the chunk, and its records are encoded from there to the end of
 * the chunk, in WebAssembly when the arena is WebAssembly memory: a hunk is built where it is
 * sent from, without a copy. Lines longer than a block are encoded in buffers of their own
 * (by JavaScript) and copied in.
 */
export async function* linesInMemory(
  input: ByteReader,
  opts: ChunkerOptions,
  limit: number,
): AsyncGenerator<Chunk> {
  const memory = opts.memory ?? chunkMemoryPool(limit);
  const level = opts.compression ?? DEFAULT_CHUNK_COMPRESSION;
  const block = blockSizeFor(hunkSizeFor(limit));
  const long = new LineHunkPool({ level, capacity: block, wasm: false });
  let index = 0;
  let cur: Building | null = null;
  let arena: Arena | null = null;
  /** The text to encode: `work[at, at + len)`, room for `cap` (the arena's, or a long line's buffer). */
  let work: Buffer = EMPTY;
  let at = 0;
  let cap = 0;
  let len = 0;
  let inArena = false;
  /** A block's text while the chunk changes. */
  let carry: Buffer = EMPTY;
  let failure: { e: unknown } | null = null;
  /**
   * CRC-32s on a worker thread (hunk-crc.ts), once the input is past a few MiB: hunks wait
   * in the arena, in order, until theirs is known, and are then committed.
   */
  let crcs: CrcWorker | null = null;
  let encoded = 0;
  const pending: PendingHunk[] = [];
  let pendingBytes = 0;
  /** Commit the hunks at the head of `pending` whose CRC is known. */
  const commitReady = () => {
    while (pending.length > 0 && pending[0].crc !== null) {
      const h = pending.shift() as PendingHunk;
      pendingBytes -= h.length;
      h.mem.memory().buffer.writeUInt32LE(h.crc as number, h.start + 2);
      h.mem.commit(h.length);
    }
  };
  /** Wait until at most `max` hunks wait for their CRC. */
  const settle = async (max: number) => {
    while (pending.length > max) {
      await pending[0].known;
      commitReady();
    }
  };

  const start = async function* (): AsyncGenerator<Chunk> {
    const mem = new MemoryChunk(memory);
    let settle!: (e?: Error) => void;
    const done = new Promise<ChunkInfo>((resolve, reject) => {
      settle = (e) => (e ? reject(e) : resolve({ size: mem.written, records: building.records }));
    });
    done.catch(() => undefined);
    const building: Building = { mem, records: 0, settle };
    cur = building;
    yield { index: index++, source: mem.source, done, release: async () => mem.release() };
    // Only now: the consumer may have waited for an earlier chunk to give its arena back.
    arena = mem.memory();
  };
  const finish = () => {
    const c = cur as Building;
    cur = null;
    c.mem.write([hunkHeader(false, 0, 0)]);
    c.mem.close();
    c.settle();
  };
  /** The text from `from` on moves to `dest` (the arena's room for text when null). */
  const moveText = (from: number, dest: Buffer | null) => {
    const next = dest ?? (arena as Arena).buffer;
    const nextAt = dest ? long.inputAt(dest) : (arena as Arena).textAt;
    work.copy(next, nextAt, at + from, at + len);
    len -= from;
    work = next;
    at = nextAt;
    cap = dest ? long.capacityOf(dest) : block;
    inArena = !dest;
  };
  /** Encode the first `upTo` bytes of text (whole lines) into the current chunk. */
  const send = async function* (upTo: number): AsyncGenerator<Chunk> {
    if ((cur as Building).mem.written + pendingBytes > limit) {
      await settle(0);
      if (inArena) {
        if (carry.length < len) carry = Buffer.allocUnsafeSlow(block + 64);
        work.copy(carry, 0, at, at + len);
      }
      finish();
      yield* start();
      if (inArena) {
        work = carry;
        at = 0;
        moveText(0, null);
      }
    }
    const c = cur as Building;
    if (inArena) {
      const a = arena as Arena;
      const shared = a.buffer.buffer instanceof SharedArrayBuffer ? a.buffer.buffer : null;
      encoded += upTo;
      if (!crcs && encoded >= CRC_WORKER_AFTER && level === 0 && a.encoder && shared) crcs = new CrcWorker();
      const defer = crcs !== null && level === 0 && a.encoder !== null && shared !== null;
      await settle(defer ? MAX_PENDING_CRCS - 1 : 0);
      const out = c.mem.end + pendingBytes;
      const r = encodeLineHunk(work, at, upTo, level, defer ? NO_CRC : LIB, a.encoder?.encode, out);
      const bytes = r.bytes as Buffer;
      if (defer && bytes.buffer === shared) {
        const h: PendingHunk = {
          mem: c.mem,
          start: out,
          length: bytes.length,
          crc: null,
          known: Promise.resolve(),
        };
        h.known = (crcs as CrcWorker).crc(shared, out + HUNK_HEADER, out + bytes.length).then((crc) => {
          h.crc = crc;
          commitReady();
        });
        // Awaited by settle (a failure surfaces there); not an unhandled rejection meanwhile.
        h.known.catch(() => undefined);
        pending.push(h);
        pendingBytes += h.length;
      } else {
        // Not in place (text that is not UTF-8): its CRC here.
        if (defer) bytes.writeUInt32LE(zlib.crc32(bytes.subarray(HUNK_HEADER)), 2);
        await settle(0);
        if (bytes.buffer === work.buffer) c.mem.commit(bytes.length);
        else c.mem.write([bytes]);
      }
      c.records += r.records;
      work.copyWithin(at, at + upTo, at + len);
      len -= upTo;
    } else {
      await settle(0);
      const full = work;
      // The rest goes back to the arena unless it is a long line still.
      moveText(upTo, len - upTo <= block ? null : long.take(len - upTo));
      const h = await long.encode(full, upTo);
      c.mem.write([h.bytes]);
      c.records += h.records;
      h.release();
    }
  };
  try {
    /** Text encoded since the event loop last ran. */
    let sent = 0;
    // The first bytes come before the first chunk: an empty input makes none.
    const first = Buffer.allocUnsafe(Math.min(4096, block));
    len = await input.read(first, 0, first.length);
    if (len === 0) return;
    yield* start();
    work = first;
    moveText(0, null);
    for (;;) {
      if (len === cap) {
        const nl = work.lastIndexOf(0x0a, at + len - 1) - at;
        // One line longer than a block: a larger buffer for all of it.
        if (nl < 0) moveText(0, long.take(2 * cap));
        else {
          yield* send(nl + 1);
          sent += nl + 1;
        }
        // The uploads send what was written when the event loop runs: let it run every MiB
        // (a reader that does not wait, as a local file's, would starve them until the chunk
        // is complete, and the chunk would be sent after it is built instead of meanwhile).
        if (sent >= 1 << 20) {
          sent = 0;
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
        continue;
      }
      // Straight into the arena (or a long line's buffer).
      const n = await input.read(work, at + len, cap - len);
      if (n === 0) break;
      len += n;
    }
    if (len > 0) {
      if (work[at + len - 1] !== 0x0a) {
        if (len === cap) moveText(0, long.take(cap + 1));
        work[at + len++] = 0x0a;
      }
      yield* send(len);
    }
    await settle(0);
    finish();
  } catch (e) {
    failure = { e };
    throw e;
  } finally {
    await long.close();
    await (crcs as CrcWorker | null)?.close();
    const c = cur as Building | null;
    if (c) {
      const error = stopped(failure);
      c.mem.fail(error);
      c.settle(error);
    }
  }
}
