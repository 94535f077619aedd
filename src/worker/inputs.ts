/**
 * Task inputs and replica fail-over (wire spec §3.5, the original's `Input`/`ReplicaIter`).
 *
 * Each input the master lists (`INPUT ""`) is read from its replicas in the master's order
 * (`INPUT ["include",[iid]]` fetches the current list). When a replica fails to open or to
 * read (a `DataError`, or an I/O error), the next untried one takes over, skipping the entries
 * already delivered; once every known replica failed the worker reports
 * `INPUT_ERR [iid, tried]` and continues with what `RETRY` offers, or gives up with a
 * `DataError` on `FAIL` (the task then ends with `ERROR` and is retried elsewhere).
 *
 * `dir://` inputs expand into one input per index line (filtered by label), `tag://` inputs into
 * one input per blob; those derived inputs fail over between their own replicas only.
 *
 * @example
 * const inputs = expandInputs(client.inputs(), { client, ctx, label: null });
 * for (const entry of readInput(inputs[0], client, (url) => openChain(url, ...))) ...
 */
import { DataError } from '../common/errors.js';
import type { InputEntry, Replica } from '../protocol/worker-protocol.js';
import { isReadFailure } from './failure.js';
import type { ProtocolClient } from './protocol-client.js';
import type { OpenedInput } from './readers/chain.js';
import { isDirUrl, readIndex } from './readers/dir.js';
import type { OpenContext } from './readers/open-url.js';
import { expandTag } from './readers/tag.js';

/** One input: a master-listed input (`iid`), or one found inside another (`iid` null). */
export interface TaskInput {
  iid: number | null;
  replicas: Replica[];
}

/** The protocol calls fail-over needs (the {@link ProtocolClient} in a worker). */
export type ReplicaProtocol = Pick<ProtocolClient, 'include' | 'inputFailed'>;

/** Walks the replicas of one input (see module docs). */
export class ReplicaCursor {
  private readonly tried = new Set<number>();
  private list: Replica[];
  private lastError: unknown = null;

  constructor(
    private readonly input: TaskInput,
    private readonly proto: ReplicaProtocol | null,
  ) {
    this.list = input.replicas;
    if (input.iid !== null && proto) {
      const fresh = proto.include(input.iid);
      if (fresh.length > 0) this.list = fresh;
    }
  }

  /** The next replica to try; throws {@link DataError} when none is left. */
  next(): Replica {
    for (;;) {
      const r = this.list.find(([rid]) => !this.tried.has(rid));
      if (r) return r;
      if (this.input.iid !== null && this.proto) {
        const retry = this.proto.inputFailed(this.input.iid, [...this.tried]);
        if (retry?.some(([rid]) => !this.tried.has(rid))) {
          this.list = retry;
          continue;
        }
      }
      const urls = this.list.map(([, u]) => u).join(', ');
      const last = this.lastError instanceof Error ? this.lastError.message : String(this.lastError);
      throw new DataError(
        this.lastError === null
          ? 'Exhausted all available replicas'
          : `Exhausted all available replicas, last error was: ${last}`,
        urls || undefined,
      );
    }
  }

  /** Replica `rid` failed with `e`. */
  failed(rid: number, e: unknown): void {
    this.tried.add(rid);
    this.lastError = e;
  }
}

/** Run `fn` on one replica after another until one succeeds (e.g. reading an index file). */
export function withReplicas<T>(input: TaskInput, proto: ReplicaProtocol | null, fn: (url: string) => T): T {
  const cursor = new ReplicaCursor(input, proto);
  for (;;) {
    const [rid, url] = cursor.next();
    try {
      return fn(url);
    } catch (e) {
      if (!isReadFailure(e)) throw e;
      cursor.failed(rid, e);
    }
  }
}

/**
 * The entries of one input, read through `open` (which builds the stream chain), failing
 * over between replicas. Errors of whoever consumes the entries (e.g. `map`) are not read
 * failures: they never reach this iterator. Nothing is opened before the first `next()`;
 * `return()` (a consumer stopping early) closes what is open.
 */
export function readInput(
  input: TaskInput,
  proto: ReplicaProtocol | null,
  open: (url: string) => OpenedInput,
): IterableIterator<unknown> {
  return new InputReader(input, proto, open);
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * {@link readInput} as a plain iterator: entries pass through without being wrapped again
 * (this is the per-entry path of every task).
 */
class InputReader implements IterableIterator<unknown> {
  private cursor: ReplicaCursor | null = null;
  private opened: OpenedInput | null = null;
  private it: Iterator<unknown> | null = null;
  private rid = 0;
  /** Entries delivered so far (a replica taking over skips them). */
  private delivered = 0;
  private finished = false;

  constructor(
    private readonly input: TaskInput,
    private readonly proto: ReplicaProtocol | null,
    private readonly open: (url: string) => OpenedInput,
  ) {}

  next(): IteratorResult<unknown> {
    const it = this.it;
    if (it !== null) {
      try {
        const r = it.next();
        if (!r.done) {
          this.delivered++;
          return r;
        }
      } catch (e) {
        return this.failOver(e);
      }
      this.finish();
      return DONE;
    }
    if (this.finished) return DONE;
    return this.startReplica();
  }

  /** Open the next replica and skip what was delivered; then go on with {@link next}. */
  private startReplica(): IteratorResult<unknown> {
    try {
      this.cursor ??= new ReplicaCursor(this.input, this.proto);
      for (;;) {
        const [rid, url] = this.cursor.next();
        this.rid = rid;
        try {
          this.opened = this.open(url);
          const it = this.opened.entries[Symbol.iterator]();
          for (let seen = 0; seen < this.delivered; seen++) if (it.next().done) break;
          this.it = it;
          break;
        } catch (e) {
          this.closeOpened();
          if (!isReadFailure(e)) throw e;
          this.cursor.failed(rid, e);
        }
      }
    } catch (e) {
      this.finish();
      throw e;
    }
    return this.next();
  }

  private failOver(e: unknown): IteratorResult<unknown> {
    this.closeOpened();
    if (!isReadFailure(e)) {
      this.finish();
      throw e;
    }
    (this.cursor as ReplicaCursor).failed(this.rid, e);
    return this.startReplica();
  }

  private closeOpened(): void {
    const o = this.opened;
    this.opened = null;
    this.it = null;
    o?.close();
  }

  private finish(): void {
    this.finished = true;
    this.closeOpened();
  }

  return(): IteratorResult<unknown> {
    this.finish();
    return DONE;
  }

  [Symbol.iterator](): this {
    return this;
  }
}

/**
 * The entries of every input in turn (each through {@link readInput}). A plain iterator, as
 * {@link readInput}.
 */
export function readInputs(
  inputs: readonly TaskInput[],
  proto: ReplicaProtocol | null,
  open: (url: string) => OpenedInput,
): IterableIterator<unknown> {
  let i = 0;
  let cur: IterableIterator<unknown> | null = null;
  const chained: IterableIterator<unknown> = {
    next(): IteratorResult<unknown> {
      for (;;) {
        if (cur !== null) {
          const r = cur.next();
          if (!r.done) return r;
          cur = null;
        }
        if (i >= inputs.length) return DONE;
        cur = readInput(inputs[i++], proto, open);
      }
    },
    return(): IteratorResult<unknown> {
      cur?.return?.();
      cur = null;
      i = inputs.length;
      return DONE;
    },
    [Symbol.iterator]() {
      return chained;
    },
  };
  return chained;
}

export interface ExpandOptions {
  proto: ReplicaProtocol | null;
  ctx: OpenContext;
  /** Keep only index lines with this label (null: all). */
  label: string | null;
}

/** Turn the master's input list into readable inputs (see module docs). */
export function expandInputs(entries: readonly InputEntry[], o: ExpandOptions): TaskInput[] {
  const out: TaskInput[] = [];
  for (const [iid, , replicas] of entries) {
    const input: TaskInput = { iid, replicas };
    const urls = replicas.map(([, u]) => u);
    if (urls.length > 0 && urls.every(isDirUrl)) {
      const lines = withReplicas(input, o.proto, (url) => readIndex(url, o.ctx, o.label));
      for (const line of lines) out.push({ iid: null, replicas: [[0, line.url]] });
    } else if (urls.length > 0 && urls[0].startsWith('tag://')) {
      const blobs = withReplicas(input, o.proto, (url) =>
        expandTag(url, { master: o.ctx.master, discoPort: o.ctx.discoPort }),
      );
      for (const list of blobs) out.push({ iid: null, replicas: list.map((u, i) => [i, u] as Replica) });
    } else out.push(input);
  }
  return out;
}

/** True when every input is a `dir://` index (partitioned map output, wire spec §6.2). */
export function isPartitioned(entries: readonly InputEntry[]): boolean {
  return entries.length > 0 && entries.every(([, , r]) => r.length > 0 && r.every(([, u]) => isDirUrl(u)));
}
