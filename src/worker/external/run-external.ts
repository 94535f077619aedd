/**
 * Running an external program as a task's map or reduce (docs/external.md, the original's
 * `disco.worker.classic.external`). The program, `<job home>/ext/<mode>/<program>`, starts in
 * its own directory with `map` or `reduce` as its only argument, the job's environment, and
 * that directory first on `LD_LIBRARY_PATH` (shared libraries may be supporting files). On its stdin it gets the
 * parameter block (`extParams`, or `0\n`) and then the input pairs; on its stdout it answers
 * with result lists; on stderr `**<MSG> text` lines become task messages and `**<ERR> text`
 * stops the job with `text` (other lines are passed on as messages, dropped past the message
 * rate).
 *
 * - map: every input entry (a string or bytes with an empty key, or a `[key, value]` pair)
 *   gets exactly one result list, in order. The worker writes ahead — up to a few MiB of
 *   pairs are on their way while results come back — instead of waiting for each answer: a
 *   synchronous round trip per entry costs 50–200 µs (5,000–20,000 entries/s), while
 *   pipelined, the word-count map of examples/external answers 68,000 lines with 815,000
 *   pairs (5 MB in, 12 MB out) in ~0.27 s (~0.2 s of the worker's CPU, results discarded),
 *   so the program and the task's outputs set the pace. After the last entry stdin is
 *   closed, and the task ends when every list has arrived and the program has exited (one
 *   that does not exit within {@link EXIT_GRACE_MS} of its last answer is killed, as the
 *   original always did).
 * - reduce: all entries are written, results are taken whenever they come, and the task ends
 *   when the program exits.
 *
 * A program that exits with a non-zero code, is killed by a signal, cannot be started, writes
 * malformed output, or stops before all its input was read fails the job (`FATAL`) with a
 * message naming the program, its exit code or signal and its last stderr lines. Keys and
 * values arrive as Buffers and go to the task's outputs like any map's or reduce's results —
 * or, for a map whose results are only written out (a {@link RawPairSink}: no combiner, the
 * default partition), as bytes straight from the program's output into the records, the
 * same records without a Buffer per key and value (`binary-map-sink.ts`).
 *
 * @example
 * const ext = externalProgramOf(fns.map);
 * if (ext) runExternalMap(run, ext, entries, sink);
 */
import path from 'node:path';
import { JobError, ProtocolError } from '../../common/errors.js';
import {
  EMPTY_EXT_PARAMS,
  type ExternalBytes,
  type ExternalMode,
  PairBatch,
  type RawPairSink,
  ResultListDecoder,
} from '../../protocol/external.js';
import type { ExternalProgramRef } from '../../protocol/jobdata.js';
import { ChildChannel } from './child-channel.js';
import { classifyStderrLine, StderrLines } from './stderr-lines.js';

/** Input bytes collected before they are handed to the program. */
export const BATCH_BYTES = 256 * 1024;
/** How long a map program may linger after its last answer before it is killed. */
export const EXIT_GRACE_MS = 30_000;

/** What the external phases need from the task (a `TaskRun` has it). */
export interface ExternalTaskContext {
  jobhome: string;
  data: { extParams?: string };
  msg(text: string, opts?: { droppable?: boolean }): void;
  /** How long a map program may linger after its last answer (default {@link EXIT_GRACE_MS}). */
  exitGraceMs?: number;
}

/** Where results go (see also `RawPairSink` of protocol/external.ts: results as bytes). */
export interface PairSink {
  add(key: unknown, value: unknown): void;
}

function isRawPairSink(sink: PairSink | RawPairSink): sink is RawPairSink {
  return typeof (sink as Partial<RawPairSink>).addRaw === 'function';
}

/** A decoder handing the program's results to `sink`, as Buffers or as bytes. */
function decoderFor(sink: PairSink | RawPairSink): ResultListDecoder {
  if (isRawPairSink(sink)) return new ResultListDecoder(sink);
  return new ResultListDecoder((k, v) => sink.add(k, v));
}

/** Counts of one run, for messages and tests. */
export interface ExternalRunStats {
  entries: number;
  lists: number;
  pairs: number;
}

function preview(v: unknown): string {
  try {
    return (JSON.stringify(v) ?? String(v)).slice(0, 120);
  } catch {
    return String(v).slice(0, 120);
  }
}

/** A key or value as bytes for the program: bytes, text, numbers as their text, null as nothing. */
export function externalBytes(v: unknown, what: string): ExternalBytes {
  if (typeof v === 'string' || v instanceof Uint8Array) return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (v === null || v === undefined) return '';
  throw new TypeError(
    `${what}: an external program takes strings or bytes as keys and values, got ${preview(v)}`,
  );
}

/**
 * Add a map input entry to `batch`: `[key, value]` as it is, a lone string or bytes as the
 * value of an empty key (without making a pair of it); anything else is a TypeError.
 *
 * @example
 * batchMapEntry(batch, 'a line'); // as batch.add('', 'a line')
 */
export function batchMapEntry(batch: PairBatch, entry: unknown): void {
  if (typeof entry === 'string' || entry instanceof Uint8Array) batch.addValue(entry);
  else if (Array.isArray(entry) && entry.length === 2)
    batch.add(externalBytes(entry[0], 'map input key'), externalBytes(entry[1], 'map input value'));
  else
    throw new TypeError(
      `external map inputs must be strings, bytes or [key, value] pairs (see mapReader); got ${preview(entry)}`,
    );
}

/** The job's environment, the program's directory first on LD_LIBRARY_PATH (relative entries: from the job home). */
export function programEnv(dir: string, jobhome: string): Record<string, string | undefined> {
  const env = { ...process.env };
  const rest = (env.LD_LIBRARY_PATH ?? '')
    .split(':')
    .filter((p) => p !== '')
    .map((p) => path.resolve(jobhome, p));
  env.LD_LIBRARY_PATH = [dir, ...rest].join(':');
  return env;
}

/** One run of a program over a phase's entries (see module docs). */
class ExternalRun {
  private readonly ch: ChildChannel;
  private readonly decoder: ResultListDecoder;
  private readonly stderr: StderrLines;
  private readonly batch = new PairBatch(BATCH_BYTES + 64 * 1024);
  private readonly what: string;
  entries = 0;

  constructor(
    private readonly ctx: ExternalTaskContext,
    ref: ExternalProgramRef,
    private readonly mode: ExternalMode,
    sink: PairSink | RawPairSink,
  ) {
    this.what = `external ${mode} program ${ref.program}`;
    this.decoder = decoderFor(sink);
    this.stderr = new StderrLines((line) => this.onStderrLine(line));
    const cwd = path.join(ctx.jobhome, ref.dir);
    try {
      this.ch = ChildChannel.spawn({
        file: path.join(cwd, ref.program),
        args: [mode],
        cwd,
        env: programEnv(cwd, ctx.jobhome),
      });
    } catch (e) {
      throw new JobError(`${this.what}: ${(e as Error).message}`);
    }
    this.ch.onStdout = (b) => this.onStdout(b);
    this.ch.onStderr = (b) => this.stderr.push(b);
    this.batch.raw(Buffer.from(ctx.data.extParams ?? EMPTY_EXT_PARAMS));
  }

  add(key: ExternalBytes, value: ExternalBytes): void {
    this.batch.add(key, value);
    this.entries++;
    if (this.batch.length >= BATCH_BYTES) this.flush();
  }

  /** A map input entry (see {@link batchMapEntry}). */
  addMapEntry(entry: unknown): void {
    batchMapEntry(this.batch, entry);
    this.entries++;
    if (this.batch.length >= BATCH_BYTES) this.flush();
  }

  /** Write everything, close stdin, wait for the results and the exit; throws on failure. */
  finish(): ExternalRunStats {
    this.flush(true);
    this.ch.endInput();
    const grace = this.ctx.exitGraceMs ?? EXIT_GRACE_MS;
    let answeredAt = 0;
    let killedAfterAnswers = false;
    while (!this.ch.exit) {
      this.ch.poll(true, Math.min(1000, grace));
      if (this.mode !== 'map' || this.ch.exit || this.decoder.lists < this.entries || this.decoder.midList)
        continue;
      if (answeredAt === 0) answeredAt = Date.now();
      else if (!killedAfterAnswers && Date.now() - answeredAt > grace) {
        killedAfterAnswers = true;
        this.ctx.msg(`${this.what} answered every input but did not exit within ${grace / 1000} s: killed`);
        this.ch.kill();
      }
    }
    this.stderr.end();
    if (!killedAfterAnswers) this.checkExit();
    if (this.decoder.midList)
      throw new JobError(`${this.what}: its output ended in the middle of a result list${this.tail()}`);
    if (this.mode === 'map' && this.decoder.lists !== this.entries)
      throw new JobError(
        `${this.what} answered ${this.decoder.lists} of ${this.entries} inputs: a map program must write ` +
          `one result list (possibly empty) per input pair${this.tail()}`,
      );
    return { entries: this.entries, lists: this.decoder.lists, pairs: this.decoder.pairCount };
  }

  /** Stop the program (the task failed). */
  abort(): void {
    this.ch.kill();
  }

  /** Hand the batch to the program; `last`: no input follows (then only unread bytes count). */
  private flush(last = false): void {
    if (this.batch.length > 0) this.ch.write(this.batch.take());
    this.ch.poll(false);
    // An exit after the last input reached its pipe is judged by its answers (finish).
    if (this.ch.exit && (!last || this.ch.pendingInput > 0)) {
      // It ended while input remained: report how (or that it stopped reading).
      this.stderr.end();
      this.checkExit();
      throw new JobError(
        `${this.what} exited before reading all its input (${this.entries} pairs given so far)${this.tail()}`,
      );
    }
  }

  private onStdout(b: Buffer): void {
    try {
      this.decoder.push(b);
    } catch (e) {
      if (e instanceof ProtocolError) throw new JobError(`${this.what}: ${e.message}${this.tail()}`);
      throw e;
    }
    if (this.mode === 'map' && this.decoder.lists > this.entries)
      throw new JobError(
        `${this.what} wrote more result lists than it was given inputs (${this.decoder.lists} > ${this.entries})`,
      );
  }

  private onStderrLine(line: string): void {
    const l = classifyStderrLine(line);
    if (l.kind === 'err')
      throw new JobError(l.text || `${this.what} stopped the job (**<ERR> without a text)`);
    if (l.kind === 'msg') this.ctx.msg(l.text);
    else this.ctx.msg(l.text, { droppable: true });
  }

  private checkExit(): void {
    const x = this.ch.exit;
    if (!x) return;
    if (x.signal) throw new JobError(`${this.what} was killed by signal ${x.signal}${this.tail()}`);
    if (x.code !== 0) throw new JobError(`${this.what} exited with code ${x.code}${this.tail()}`);
  }

  private tail(): string {
    const t = this.stderr.tail();
    return t.length === 0 ? '' : `; its last stderr lines:\n${t.map((l) => `  ${l}`).join('\n')}`;
  }
}

function drive(run: ExternalRun, feed: () => void): ExternalRunStats {
  try {
    feed();
    return run.finish();
  } catch (e) {
    run.abort();
    throw e;
  }
}

/**
 * Run the map phase through an external program: each entry in, its result list out to
 * `sink` — as Buffers, or as bytes when the sink takes them ({@link RawPairSink}).
 */
export function runExternalMap(
  ctx: ExternalTaskContext,
  ref: ExternalProgramRef,
  entries: Iterable<unknown>,
  sink: PairSink | RawPairSink,
): ExternalRunStats {
  const run = new ExternalRun(ctx, ref, 'map', sink);
  return drive(run, () => {
    for (const entry of entries) run.addMapEntry(entry);
  });
}

/** Run the reduce phase through an external program: all entries in, its results out to `out`. */
export function runExternalReduce(
  ctx: ExternalTaskContext,
  ref: ExternalProgramRef,
  entries: Iterable<unknown>,
  out: PairSink,
): ExternalRunStats {
  const run = new ExternalRun(ctx, ref, 'reduce', out);
  return drive(run, () => {
    for (const e of entries) {
      if (!Array.isArray(e) || e.length !== 2)
        throw new TypeError(
          `an external reduce takes [key, value] pairs; the reduce reader produced ${preview(e)}`,
        );
      run.add(externalBytes(e[0], 'reduce input key'), externalBytes(e[1], 'reduce input value'));
    }
  });
}
