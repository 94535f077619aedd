/**
 * Pure helpers for job functions — the TypeScript versions of `disco.util.kvgroup` and
 * `disco.worker.classic.func`. The worker provides them to job code, and the client library
 * re-exports these same implementations, so a job behaves the same in a task and in a local
 * test. Nothing here talks to the worker protocol.
 *
 * @example
 * function* reduce(iter: Iterable<[string, number]>) {
 *   for (const [word, counts] of kvgroup(sorted(iter))) yield [word, sum(counts)];
 * }
 */
import { type KV, readRecords } from '../protocol/record-stream.js';
import { canonicalKey, compareKeys, keyHash, keysEqual } from './key-order.js';
import { asInputStream, requireInputStream } from './readers/input-stream.js';
import { splitLines } from './readers/lines.js';

/**
 * Group consecutive pairs whose keys compare equal: `[k, v]...` → `[k, values]...`. Does not
 * sort (use {@link sorted}, or `sort: true` in the job). Lazy, like Python's `groupby`: each
 * group's values come straight from the input, so a group must be consumed before the next
 * one is taken (moving on skips what is left of it).
 */
export function kvgroup<K, V>(iter: Iterable<readonly [K, V]>): IterableIterator<[K, Iterable<V>]> {
  return new KVGroups<K, V>(iter[Symbol.iterator]());
}

const END: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/** {@link kvgroup} as plain iterators (it is on the per-record path of most reduces). */
class KVGroups<K, V> implements IterableIterator<[K, Iterable<V>]> {
  /** The next pair not yet handed out. */
  cur: IteratorResult<readonly [K, V]>;
  private group: GroupValues<K, V> | null = null;

  constructor(readonly it: Iterator<readonly [K, V]>) {
    this.cur = it.next();
  }

  next(): IteratorResult<[K, Iterable<V>]> {
    // Moving on skips what is left of the previous group.
    if (this.group !== null) {
      this.group.skip();
      this.group = null;
    }
    const cur = this.cur;
    if (cur.done) return END;
    const key = cur.value[0];
    const g = new GroupValues<K, V>(this, key);
    this.group = g;
    return { value: [key, g], done: false };
  }

  [Symbol.iterator](): this {
    return this;
  }
}

/** The values of one group, straight from the input. */
class GroupValues<K, V> implements IterableIterator<V> {
  private ended = false;

  constructor(
    private readonly owner: KVGroups<K, V>,
    private readonly key: K,
  ) {}

  next(): IteratorResult<V> {
    if (this.ended) return END;
    const owner = this.owner;
    const cur = owner.cur;
    if (!cur.done && keysEqual(cur.value[0], this.key)) {
      const v = cur.value[1];
      owner.cur = owner.it.next();
      return { value: v, done: false };
    }
    this.ended = true;
    return END;
  }

  /** Consume the rest of the group. */
  skip(): void {
    while (!this.next().done) {
      // skipping
    }
  }

  [Symbol.iterator](): this {
    return this;
  }
}

/**
 * The pairs sorted by key, in memory, with the same order as the job's `sort: true` external
 * sort (see `key-order.ts`). Stable: equal keys keep their input order.
 */
export function sorted<K, V>(iter: Iterable<readonly [K, V]>): [K, V][] {
  const all = Array.from(iter, (kv) => [kv[0], kv[1]] as [K, V]);
  return all.sort((a, b) => compareKeys(a[0], b[0]));
}

/** Sum of numbers (or of bigints). */
export function sum(iter: Iterable<number>): number;
export function sum(iter: Iterable<bigint>): bigint;
export function sum(iter: Iterable<number | bigint>): number | bigint {
  let total: number | bigint | undefined;
  for (const x of iter) total = total === undefined ? x : (total as number) + (x as number);
  return total ?? 0;
}

/**
 * The default partition function: a stable hash of the key (FNV-1a over its UTF-8 text,
 * see `keyHash`), modulo the number of partitions. Same label in every process and machine.
 */
export function defaultPartition(key: unknown, nrPartitions: number, _params?: unknown): number {
  if (!(nrPartitions > 0)) return 0;
  return keyHash(key) % nrPartitions;
}

/**
 * True when `fn`, a job's partition function, partitions as the default does: none given, or
 * {@link defaultPartition} itself (the fast paths that hash keys themselves are taken then).
 *
 * @example
 * isDefaultPartition(undefined); // true
 * isDefaultPartition((k) => 0); // false
 */
export function isDefaultPartition(fn: unknown): fn is null | undefined | typeof defaultPartition {
  return !fn || fn === defaultPartition;
}

/** No-op map: passes each entry on (an entry that is not a `[k, v]` pair becomes `[entry, null]`). */
export function* nopMap(entry: unknown, _params?: unknown): Generator<[unknown, unknown]> {
  if (Array.isArray(entry) && entry.length === 2) yield [entry[0], entry[1]];
  else yield [entry, null];
}

/** An output for `reduce(iter, out, params)`. */
export interface Output {
  add(key: unknown, value: unknown): void;
}

/** No-op reduce (`reduce(iter, out, params)` form): copies every pair to the output. */
export function nopReduce(iter: Iterable<readonly [unknown, unknown]>, out: Output, _params?: unknown): void {
  for (const [k, v] of iter) out.add(k, v);
}

type Accumulator = Map<unknown, unknown>;

/** Map key for accumulating: primitives as they are, structured keys by canonical text. */
function accKey(key: unknown): unknown {
  return key !== null && (typeof key === 'object' || typeof key === 'function')
    ? `\u0000${canonicalKey(key)}`
    : key;
}

/** Bounds of the helpers' memory (mutable for tests). */
export const FUNC_LIMITS = {
  /** `sumCombiner` writes its sums out early once a buffer holds this many keys. */
  sumCombinerKeys: 100_000,
};

/**
 * Combiner that sums the values of each key within a partition; emits the sums when the map
 * is done, or earlier when the buffer holds more than `FUNC_LIMITS.sumCombinerKeys` keys (the
 * partial sums then add up in the reduce). `buffer` is the per-partition accumulator the worker
 * passes in.
 */
export function sumCombiner(
  key: unknown,
  value: unknown,
  buffer: Accumulator,
  done: boolean,
  _params?: unknown,
): Iterable<[unknown, unknown]> | undefined {
  if (!done) {
    const id = accKey(key);
    const slot = buffer.get(id) as [unknown, number] | undefined;
    if (slot) slot[1] += value as number;
    else {
      buffer.set(id, [key, value as number]);
      if (buffer.size >= FUNC_LIMITS.sumCombinerKeys) {
        const early = [...buffer.values()] as [unknown, unknown][];
        buffer.clear();
        return early;
      }
    }
    return undefined;
  }
  return buffer.values() as Iterable<[unknown, unknown]>;
}

/** Reduce (`reduce(iter, params)` form) that sums the values of each key. */
export function sumReduce(
  iter: Iterable<readonly [unknown, unknown]>,
  _params?: unknown,
): [unknown, number][] {
  const acc = new Map<unknown, [unknown, number]>();
  for (const [k, v] of iter) {
    const id = accKey(k);
    const slot = acc.get(id);
    if (slot) slot[1] += v as number;
    else acc.set(id, [k, v as number]);
  }
  return [...acc.values()];
}

/**
 * Reader yielding the text lines of a stream, without their terminators (`\n` / `\r\n`).
 * The default for plain (non-record) map inputs.
 */
export function* mapLineReader(
  stream: unknown,
  size: number | null = null,
  url = '',
  _params?: unknown,
): Generator<string> {
  const s = asInputStream(stream, size, url);
  if (s) {
    yield* splitLines(s);
    return;
  }
  if (stream !== null && typeof stream === 'object' && Symbol.iterator in stream) {
    for (const line of stream as Iterable<unknown>) yield String(line).replace(/\r?\n$/, '');
    return;
  }
  throw new TypeError(`mapLineReader: cannot read lines from ${typeof stream}`);
}

/**
 * Reader for Disco's record format (`docs/record-format.md`): the output of an earlier job or
 * a DDFS chunk. Yields `[key, value]` pairs. Corrupt data throws `DataError`.
 */
export function chainReader(
  stream: unknown,
  size: number | null = null,
  url = '',
  _params?: unknown,
): Iterable<KV> {
  return readRecords(requireInputStream(stream, size, url, 'chainReader'), { url });
}

/** A partition function: `partition(key, nrPartitions, params)` → a label in `0..nrPartitions-1`. */
export type PartitionFunction = (key: unknown, nrPartitions: number, params?: unknown) => number;

/**
 * `makeRangePartition(min, max)` — a partition function that splits the numeric range
 * `[min, max]` into `nrPartitions` ranges of equal width, in order: partition 0 holds the
 * smallest keys, the last one the largest. With `sort: true` in the reduce, reading the
 * partitions in order reads all keys in order. Keys are numbers (or numeric strings,
 * bigints); keys outside the range go to the first or last partition; a key that is not a
 * number is a `TypeError`.
 *
 * The original rounded `(key - min) / (max - min) * (n - 1)`, which gave the first and last
 * partitions half the width of the others; here all have the same width.
 *
 * The function is built from source text with the bounds written in, so it can be sent to
 * the workers as source like any job function (a closure over `min` and `max` could not).
 *
 * @example
 * new Job({ input, map, reduce, sort: true, partitions: 4, partition: makeRangePartition(0, 99) });
 * // keys 0–24 → partition 0, 25–49 → 1, 50–74 → 2, 75–99 → 3
 */
export function makeRangePartition(min: number, max: number): PartitionFunction {
  if (typeof min !== 'number' || typeof max !== 'number' || !Number.isFinite(min) || !Number.isFinite(max))
    throw new TypeError(`makeRangePartition(min, max) needs two finite numbers, got ${min} and ${max}`);
  if (!(max > min))
    throw new RangeError(`makeRangePartition: max (${max}) must be greater than min (${min})`);
  // `String(n)` of a finite number is a valid JavaScript literal (e.g. '1e+21', '-5').
  const lo = String(min);
  const width = String(max - min);
  const body = `
  const k = typeof key === 'number' ? key : Number(key);
  if (Number.isNaN(k)) throw new TypeError('makeRangePartition(${lo}, ${String(max)}): key ' + String(key) + ' is not a number');
  if (!(nrPartitions > 1)) return 0;
  const p = Math.floor(((k - ${lo}) / ${width}) * nrPartitions);
  return p < 0 ? 0 : p >= nrPartitions ? nrPartitions - 1 : p;
`;
  return new Function('key', 'nrPartitions', '_params', body) as PartitionFunction;
}

/**
 * `notifier(urls)` — the default notifier of the result iterator: called with each input (a
 * URL, or the replica URLs of one input) before it is read, and does nothing. Pass your own
 * function as `notifier` to `resultIterator` to follow the progress.
 *
 * @example
 * resultIterator(results, { notifier: (urls) => console.error('reading', urls) });
 */
export function notifier(_urls: string | readonly string[]): void {
  // The default has nothing to report.
}
