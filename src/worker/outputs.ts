/**
 * Task output files and the output stream chain (the original's `AtomicFile`,
 * `task_output_stream`, `disco_output_stream`):
 *
 * - {@link OutputFile}: buffered synchronous writes to `<file>.partial`; `close()` flushes,
 *   fsyncs and renames, so a half-written output is never visible under its real name.
 * - user `mapOutputStream`/`reduceOutputStream` functions, applied in order as
 *   `fn(stream, partition, url, params)` → a new stream (or `[stream, url]`);
 * - the writer (`mapWriter`/`reduceWriter`, default {@link recordWriter}): the object whose
 *   `add(key, value)` receives the task's records. The default writes the record format,
 *   and is left out when the stream chain already ends in an object with `add`.
 *
 * Closing goes backwards through the chain (writer first: it flushes its last hunk).
 *
 * @example
 * const out = openTaskOutput({ jobhome, rel: 'ab/map:0-1f-99/map-0', type: 'part', label: '0', ... });
 * out.add('word', 1); out.close();
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, statfsSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { DataError } from '../common/errors.js';
import { writeAllSync } from '../common/fd-write.js';
import { RecordWriter } from '../protocol/record-stream.js';
import type { UserFunction } from './user-code.js';

/** Below this much free space, opening an output is a data error (as in the original). */
const MIN_FREE_BYTES = 1024 * 1024;
const BUFFER_SIZE = 256 * 1024;

/** A file written atomically: `<path>.partial`, then fsync + rename on close. */
export class OutputFile {
  private fd: number;
  private readonly buf = Buffer.allocUnsafe(BUFFER_SIZE);
  private used = 0;
  private readonly partial: string;
  /** Bytes written so far. */
  size = 0;

  constructor(readonly path: string) {
    mkdirSync(pathDir(path), { recursive: true });
    checkFreeSpace(pathDir(path));
    this.partial = `${path}.partial`;
    this.fd = openSync(this.partial, 'w');
  }

  write(data: Uint8Array | string): void {
    const b = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    this.size += b.length;
    if (this.used + b.length > this.buf.length) this.flush();
    if (b.length >= this.buf.length) writeAllSync(this.fd, b);
    else {
      this.buf.set(b, this.used);
      this.used += b.length;
    }
  }

  private flush(): void {
    if (this.used > 0) writeAllSync(this.fd, this.buf, 0, this.used);
    this.used = 0;
  }

  /** Flush, fsync and move into place. */
  close(): void {
    if (this.fd < 0) return;
    this.flush();
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = -1;
    renameSync(this.partial, this.path);
  }

  /** Give up: close and remove the partial file. */
  abort(): void {
    if (this.fd < 0) return;
    try {
      closeSync(this.fd);
    } finally {
      this.fd = -1;
      try {
        unlinkSync(this.partial);
      } catch {
        // already gone
      }
    }
  }
}

function pathDir(p: string): string {
  return path.dirname(p);
}

function checkFreeSpace(dir: string): void {
  let free: number;
  try {
    const s = statfsSync(dir);
    free = Number(s.bavail) * Number(s.bsize);
  } catch {
    return; // unknown: let the writes tell
  }
  if (free < MIN_FREE_BYTES) throw new DataError(`less than 1 MiB of disk space left in ${dir}`);
}

/** Something bytes can be written to. */
export interface ByteSink {
  write(data: Uint8Array | string): unknown;
}

/**
 * `stream` as a {@link ByteSink}, for a writer that writes bytes to it: anything without a
 * `write` method is a TypeError naming the writer.
 *
 * @example
 * return new RecordOutput(requireByteSink(stream, 'recordWriter'));
 */
export function requireByteSink(stream: unknown, writerName: string): ByteSink {
  if (!stream || typeof (stream as ByteSink).write !== 'function')
    throw new TypeError(`${writerName} needs a stream with a write() method`);
  return stream as ByteSink;
}

/** The default writer: records in the record format (`docs/record-format.md`). */
export class RecordOutput {
  /**
   * The record writer: an external map's results go to it as bytes
   * ({@link RecordWriter.writeBinaryPair}, called by `BinaryMapSink` itself — one call less on
   * the hot path, which kept the whole pair's encoding inlined there).
   */
  readonly writer: RecordWriter;

  constructor(private readonly stream: ByteSink) {
    this.writer = new RecordWriter((hunk) => {
      stream.write(hunk);
    });
  }

  add(key: unknown, value: unknown): void {
    this.writer.write(key, value);
  }

  /** Raw bytes (the original's deprecated `write`): buffered records are flushed first. */
  write(data: Uint8Array | string): void {
    this.writer.flush();
    this.stream.write(data);
  }

  /** Write the last hunk and the end-of-stream marker. */
  close(): void {
    this.writer.close();
  }
}

/** `writer(stream, partition, url, params)`: the default record writer. */
export function recordWriter(
  stream: unknown,
  _partition?: unknown,
  _url?: unknown,
  _params?: unknown,
): RecordOutput {
  return new RecordOutput(requireByteSink(stream, 'recordWriter'));
}

/** One output of a task, as reported to the master with `OUTPUT [rel, type, label]`. */
export interface TaskOutput {
  /** Path relative to the job home. */
  readonly rel: string;
  /** Absolute path. */
  readonly abs: string;
  readonly type: 'disco' | 'part';
  readonly label: string;
  /** The object records go to (what `reduce(iter, out, params)` receives). */
  readonly sink: { add(key: unknown, value: unknown): unknown };
  add(key: unknown, value: unknown): void;
  /** Close the chain and move the file into place. */
  close(): void;
  /** Drop the output (the task failed). */
  abort(): void;
}

export interface OpenOutputOptions {
  jobhome: string;
  rel: string;
  type: 'disco' | 'part';
  label: string;
  /** The partition label given to stream functions (null when not partitioned). */
  partition: string | null;
  streams: readonly UserFunction[];
  /** undefined = the default record writer; null = the last stream receives `add` itself. */
  writer: UserFunction | null | undefined;
  params: unknown;
}

/** Open a task output through its chain (see module docs). */
export function openTaskOutput(o: OpenOutputOptions): TaskOutput {
  const abs = path.join(o.jobhome, o.rel);
  const file = new OutputFile(abs);
  const chain: unknown[] = [file];
  try {
    let stream: unknown = file;
    let url = o.rel;
    for (const fn of o.streams) {
      let r = fn(stream, o.partition, url, o.params);
      if (Array.isArray(r) && r.length === 2) {
        url = String(r[1]);
        r = r[0];
      }
      stream = r;
      chain.push(stream);
    }
    // The default writer only ends a chain that has no `add` yet: a chain that ends in one
    // (e.g. `[taskOutputStream, discoOutputStream, custom]`) is complete, as in the original.
    const endsInAdd = o.streams.length > 0 && typeof (stream as { add?: unknown } | null)?.add === 'function';
    if (o.writer !== null && !(o.writer === undefined && endsInAdd)) {
      stream = (o.writer ?? recordWriter)(stream, o.partition, url, o.params);
      chain.push(stream);
    }
    const sink = stream as { add?: unknown };
    if (!sink || typeof sink.add !== 'function')
      throw new TypeError('the output chain must end in an object with an add(key, value) method');
    const add = (sink.add as (k: unknown, v: unknown) => unknown).bind(sink);
    let finished = false;
    return {
      rel: o.rel,
      abs,
      type: o.type,
      label: o.label,
      sink: sink as { add(key: unknown, value: unknown): unknown },
      add: (k, v) => {
        add(k, v);
      },
      close: () => {
        if (finished) return;
        finished = true;
        // Every stream but the file itself, last first; the file is closed (renamed) last.
        for (let i = chain.length - 1; i >= 1; i--) {
          const s = chain[i] as { close?: unknown };
          if (s && typeof s.close === 'function') (s.close as () => void)();
        }
        file.close();
      },
      abort: () => {
        if (finished) return;
        finished = true;
        file.abort();
      },
    };
  } catch (e) {
    file.abort();
    throw e;
  }
}
