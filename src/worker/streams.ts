/**
 * The standard input and output stream functions of classic jobs (the original's
 * `task_input_stream`, `disco_input_stream`, `task_output_stream`, `disco_output_stream`)
 * and the interfaces of the streams they pass along.
 *
 * How the chains compose (as the original's `ClassicFile` and output chain):
 *
 * - input: the worker opens each input URL by its scheme — what `taskInputStream` does, so
 *   the original's default chain `(task_input_stream,)` is built in — then applies each
 *   `mapInputStream`/`reduceInputStream` function as `fn(stream, size, url, params)` (each
 *   may return a stream, `[stream, size, url]` or `[stream, url]`), then the reader turns the
 *   last stream into entries. Listing `taskInputStream` first, as old jobs do, is harmless:
 *   given an opened stream it passes it on.
 * - output: the worker opens the task's output file — what `taskOutputStream` does — then
 *   applies each `mapOutputStream`/`reduceOutputStream` function as
 *   `fn(stream, partition, url, params)`; the `add(key, value)` of the last stream receives
 *   the records. When no function of the chain ends in an `add`, the writer (default: the
 *   record format, what `discoOutputStream` does) is put last, so the original's default
 *   chain `(task_output_stream, disco_output_stream)` is what a job gets without one.
 *
 * @example
 * // the original's defaults, spelled out, plus a stream of one's own after them
 * mapInputStream: [taskInputStream, (s) => s.read().toString().toUpperCase()],
 * mapOutputStream: [taskOutputStream, discoOutputStream, (out) => ({ add: (k, v) => out.add(k, [v]) })],
 */
import { type KV, readRecords } from '../protocol/record-stream.js';
import { OutputFile, RecordOutput, requireByteSink } from './outputs.js';
import { currentOpenContext } from './readers/current-context.js';
import { requireInputStream } from './readers/input-stream.js';
import { openUrl } from './readers/open-url.js';

/**
 * What input stream functions receive and pass on, and readers read (the original's
 * `func.InputStream`): a file-like object. The worker's streams have all of it; a function
 * may also return any object with a `read(n)` method, or text or bytes.
 */
export interface InputStream extends Iterable<string> {
  /** Up to `n` bytes; everything left without `n`. Empty at the end of the stream. */
  read(n?: number): Uint8Array;
  /** Total size in bytes, when known. */
  readonly size?: number | null;
  /** The input's URL. */
  readonly url?: string;
  /** Release what the stream holds (the chain calls it, last stream first). */
  close?(): void;
}

/**
 * What output stream functions receive and pass on (the original's `func.OutputStream`):
 * the task's output file first, then whatever each function returns. The `add` of the last
 * one receives the task's records.
 */
export interface OutputStream {
  /** Add one record. */
  add?(key: unknown, value: unknown): void;
  /** Raw bytes (the task's output file has it; deprecated for records since the original 0.3). */
  write?(data: Uint8Array | string): void;
  /** Flush and finish (the chain calls it, last stream first). */
  close?(): void;
}

/**
 * `taskInputStream(stream, size, url, params)` — opens `url` by its scheme (`raw://`,
 * `file://` and paths, `disco://`, `http(s)://`: local files for data on this node, HTTP
 * otherwise). In a job's chain the worker has opened the URL already, and the stream is
 * passed on as it is.
 *
 * @example
 * const [s] = taskInputStream(null, null, 'raw://hello'); // an InputStream of 'hello'
 */
export function taskInputStream(
  stream: unknown,
  size: number | null = null,
  url = '',
  _params?: unknown,
): [unknown, number | null, string] {
  if (stream !== null && stream !== undefined) return [stream, size, url];
  if (!url) throw new TypeError('taskInputStream: no stream and no URL to open');
  const opened = openUrl(url, currentOpenContext());
  return [opened, opened.size, url];
}

/**
 * `discoInputStream(stream, size, url, ignoreCorrupt)` — the reader of the record format
 * (`docs/record-format.md`; version 0 text netstrings are recognised by their first byte):
 * yields `[key, value]`. A corrupt or truncated hunk is a `DataError` naming the input, so the
 * task fails and is retried (another replica may be sound). As a reader in a job the fourth
 * argument is the job's params, which leaves the check on; calling it with `true` skips
 * corrupt hunks, as {@link ignoreCorruptInputStream} does.
 *
 * @example
 * { input: await previous.wait(), mapReader: discoInputStream, map }
 */
export function discoInputStream(
  stream: unknown,
  size: number | null = null,
  url = '',
  ignoreCorrupt?: unknown,
): IterableIterator<KV> {
  const s = requireInputStream(stream, size, url, 'discoInputStream');
  return readRecords(s, { url, ignoreCorrupt: ignoreCorrupt === true });
}

/**
 * `ignoreCorruptInputStream(stream, size, url, params)` — {@link discoInputStream} that skips
 * hunks whose data is corrupt (checksum or decompression errors) and reads on: for salvaging
 * what can be read. A truncated stream or a hunk header that makes no sense still fails (what
 * follows cannot be found).
 *
 * @example
 * { input: ['/salvage/part-3'], mapReader: ignoreCorruptInputStream, map: nopMap }
 */
export function ignoreCorruptInputStream(
  stream: unknown,
  size: number | null = null,
  url = '',
  _params?: unknown,
): IterableIterator<KV> {
  return discoInputStream(stream, size, url, true);
}

/**
 * `taskOutputStream(stream, partition, url, params)` — the task's output file, written
 * atomically (`<file>.partial`, then fsync and rename on close, so a failed task leaves no
 * partial output). In a job's chain the worker has opened it already, and it is passed on.
 *
 * @example
 * mapOutputStream: [taskOutputStream, discoOutputStream] // the default chain, spelled out
 */
export function taskOutputStream(
  stream: unknown,
  _partition?: unknown,
  url?: unknown,
  _params?: unknown,
): OutputStream {
  if (stream && typeof (stream as OutputStream).write === 'function') return stream as OutputStream;
  if (typeof url !== 'string' || !url) throw new TypeError('taskOutputStream: no stream and no path to open');
  return new OutputFile(url);
}

/**
 * `discoOutputStream(stream, partition, url, params)` — writes records in the record format
 * (`docs/record-format.md`) to `stream`: the default writer of every task output.
 *
 * @example
 * const out = discoOutputStream(file); out.add('word', 1); out.close();
 */
export function discoOutputStream(
  stream: unknown,
  _partition?: unknown,
  _url?: unknown,
  _params?: unknown,
): RecordOutput {
  return new RecordOutput(requireByteSink(stream, 'discoOutputStream'));
}
