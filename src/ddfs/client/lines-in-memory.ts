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
 * for await (const c of linesInMemory(reader, { chunkSize: 64 << 20 })) uploads.push(upload(c));
 * await reader.close();
 */

import { crc32 } from '../../common/crc32.js';
import { HUNK_HEADER, hunkHeader } from '../../protocol/record-stream.js';
import { type ByteReader, type LineText, lineBlocks, moveLineText } from './chunk-input.js';
import { type Arena, MemoryChunk } from './chunk-memory.js';
import {
  blockSizeFor,
  type Chunk,
  type ChunkerOptions,
  checkChunkerOptions,
  chunkMemoryPool,
  DEFAULT_CHUNK_COMPRESSION,
  DEFAULT_CHUNK_SIZE,
  hunkSizeFor,
  type StartedChunk,
  startChunk,
  withCleanup,
} from './chunk-options.js';
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
interface Building extends StartedChunk {
  mem: MemoryChunk;
  records: number;
}

/**
 * `chunkLines` on this thread, chunks in memory: each block of text is put in the
 * current chunk's arena after the chunk, and its records are encoded from there to the end of
 * the chunk, in WebAssembly when the arena is WebAssembly memory: a hunk is built where it is
 * sent from, without a copy. Lines longer than a block are encoded in buffers of their own
 * (by JavaScript) and copied in.
 */
export async function* linesInMemory(input: ByteReader, opts: ChunkerOptions): AsyncGenerator<Chunk> {
  checkChunkerOptions(opts);
  const limit = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const memory = opts.memory ?? chunkMemoryPool(limit);
  const level = opts.compression ?? DEFAULT_CHUNK_COMPRESSION;
  const block = blockSizeFor(hunkSizeFor(limit));
  const long = new LineHunkPool({ level, capacity: block, wasm: false });
  let index = 0;
  let cur: Building | null = null;
  let arena: Arena | null = null;
  /** The text to encode: in the arena, or in a long line's buffer. */
  const text: LineText = { work: EMPTY, at: 0, cap: 0, len: 0 };
  let inArena = false;
  /** A block's text while the chunk changes. */
  let carry: Buffer = EMPTY;
  /** Text encoded since the event loop last ran. */
  let sent = 0;
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
    const building: Building = {
      mem,
      records: 0,
      ...startChunk(index++, mem, () => ({ size: mem.written, records: building.records })),
    };
    cur = building;
    yield building.chunk;
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
    if (dest) moveLineText(text, from, dest, long.inputAt(dest), long.capacityOf(dest));
    else moveLineText(text, from, (arena as Arena).buffer, (arena as Arena).textAt, block);
    inArena = !dest;
  };
  /** Encode the first `upTo` bytes of text (whole lines) into the current chunk. */
  const send = async function* (upTo: number): AsyncGenerator<Chunk> {
    if ((cur as Building).mem.written + pendingBytes > limit) {
      await settle(0);
      if (inArena) {
        if (carry.length < text.len) carry = Buffer.allocUnsafeSlow(block + 64);
        text.work.copy(carry, 0, text.at, text.at + text.len);
      }
      finish();
      yield* start();
      if (inArena) {
        text.work = carry;
        text.at = 0;
        moveText(0, null);
      }
    }
    const c = cur as Building;
    const { work, at, len } = text;
    if (inArena) {
      const a = arena as Arena;
      const enc = a.encoder;
      const canDefer = level === 0 && enc !== null;
      encoded += upTo;
      if (!crcs && encoded >= CRC_WORKER_AFTER && canDefer) crcs = new CrcWorker();
      const defer = crcs !== null && canDefer;
      await settle(defer ? MAX_PENDING_CRCS - 1 : 0);
      const out = c.mem.end + pendingBytes;
      const r = encodeLineHunk(work, at, upTo, level, defer ? NO_CRC : LIB, a.encoder?.encode, out);
      const bytes = r.bytes as Buffer;
      if (defer && bytes.buffer === enc?.memory.buffer) {
        const h: PendingHunk = {
          mem: c.mem,
          start: out,
          length: bytes.length,
          crc: null,
          known: Promise.resolve(),
        };
        h.known = (crcs as CrcWorker).crc(enc, out + HUNK_HEADER, out + bytes.length).then((crc) => {
          h.crc = crc;
          commitReady();
        });
        // Awaited by settle (a failure surfaces there); not an unhandled rejection meanwhile.
        h.known.catch(() => undefined);
        pending.push(h);
        pendingBytes += h.length;
      } else {
        // Not in place (text that is not UTF-8): its CRC here.
        if (defer) bytes.writeUInt32LE(crc32(bytes.subarray(HUNK_HEADER)), 2);
        await settle(0);
        if (bytes.buffer === work.buffer) c.mem.commit(bytes.length);
        else c.mem.write([bytes]);
      }
      c.records += r.records;
      work.copyWithin(at, at + upTo, at + len);
      text.len -= upTo;
    } else {
      await settle(0);
      // The rest goes back to the arena unless it is a long line still.
      moveText(upTo, len - upTo <= block ? null : long.take(len - upTo));
      const h = await long.encode(work, upTo);
      c.mem.write([h.bytes]);
      c.records += h.records;
      h.release();
    }
    // The uploads send what was written when the event loop runs: let it run every MiB
    // (a reader that does not wait, as a local file's, would starve them until the chunk
    // is complete, and the chunk would be sent after it is built instead of meanwhile).
    sent += upTo;
    if (sent >= 1 << 20) {
      sent = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  };
  const chunks = async function* (): AsyncGenerator<Chunk> {
    // The first bytes come before the first chunk: an empty input makes none.
    const first = Buffer.allocUnsafe(Math.min(4096, block));
    const n = await input.read(first, 0, first.length);
    if (n === 0) return;
    yield* start();
    text.work = first;
    text.len = n;
    moveText(0, null);
    yield* lineBlocks(input, text, send, (capacity) => moveText(0, long.take(capacity)));
    await settle(0);
    finish();
  };
  yield* withCleanup(chunks(), async (error) => {
    await long.close();
    await (crcs as CrcWorker | null)?.close();
    const c = cur as Building | null;
    if (c) {
      c.mem.fail(error);
      c.settle(error);
    }
  });
}
