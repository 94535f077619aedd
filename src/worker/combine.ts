/**
 * Where the map phase sends each `[key, value]` it produces: straight to the partition's
 * output, or through the job's combiner (wire spec §6.2, the original's `Worker.map`). Three
 * sinks, picked once per task:
 *
 * - {@link DirectSink}: no combiner — label the record and write it;
 * - {@link CombinerSink}: any combiner — one `buffer` (a `Map`) per partition label, exactly as
 *   the original: `combiner(key, value, buffer, false, params)` per record, then
 *   `combiner(null, null, buffer, true, params)` once per partition at the end;
 * - {@link SumSink}: the built-in `sumCombiner` with the default partition function — the same
 *   results, faster: string keys live in one `Map` from the key to its running sum and its
 *   label, so a key seen before costs one lookup (no partition hash, no per-partition
 *   buffer); other keys go through `sumCombiner` itself. It holds a bounded amount of memory:
 *   past {@link MAP_LIMITS}`.combineBytes` (estimated) it writes out what it holds and starts
 *   again — partial sums are still sums, the reduce adds them up.
 *
 * Labels: the partition function's result as text (`null` when the job is not partitioned).
 *
 * @example
 * const sink = makeMapSink(run); for (...) sink.add(key, value); sink.finish();
 */
import { defaultPartition, isDefaultPartition, sumCombiner } from './func.js';
import { keyHash } from './key-order.js';
import type { OutputFactory } from './output-set.js';
import type { TaskOutput } from './outputs.js';
import { asPair, itemsOf } from './results.js';

/** Memory bounds of the map phase (mutable for tests). */
export const MAP_LIMITS = {
  /** Estimated bytes the fast `sumCombiner` path holds before writing its partial sums out. */
  combineBytes: 8 * 1024 * 1024,
};

type Partition = (key: unknown, n: number, params: unknown) => unknown;
type Combiner = (
  key: unknown,
  value: unknown,
  buffer: Map<unknown, unknown>,
  done: boolean,
  params: unknown,
) => unknown;

/** What the map loop hands its records to. */
export interface MapSink {
  add(key: unknown, value: unknown): void;
  /** After the last record (flushes the combiner buffers). */
  finish(): void;
}

/** Options the sinks share. */
export interface MapSinkOptions {
  outputs: OutputFactory;
  /** Number of partitions; 0 = not partitioned (label null). */
  partitions: number;
  /** The job's partition function (undefined: the default). */
  partition: Partition | null | undefined;
  combiner: Combiner | null | undefined;
  params: unknown;
}

/** The partition label of `key`, checked (a NaN or missing label would lose records). */
export function labelOf(partition: Partition, key: unknown, n: number, params: unknown): string {
  const p = partition(key, n, params);
  if (p === null || p === undefined || (typeof p === 'number' && !Number.isFinite(p)))
    throw new TypeError(`partition() returned ${String(p)} for key ${JSON.stringify(key) ?? String(key)}`);
  return String(p);
}

/** Write what a combiner returned (an iterable of pairs, or nothing) to `out`. */
function writeProduced(produced: unknown, out: () => TaskOutput): void {
  if (produced === undefined || produced === null) return;
  let o: TaskOutput | null = null;
  for (const x of itemsOf(produced, 'combiner')) {
    const rec = Array.isArray(x) && x.length === 2 ? x : asPair(x, 'combiner');
    o ??= out();
    o.add(rec[0], rec[1]);
  }
}

/**
 * Outputs by label, cached: the default partition's labels are small integers, looked up in
 * an array instead of turning each number into text.
 */
class Labels {
  private readonly byIndex: (TaskOutput | undefined)[] = [];
  readonly names: string[] = [];

  constructor(
    private readonly outputs: OutputFactory,
    partitions: number,
  ) {
    for (let i = 0; i < partitions; i++) this.names.push(String(i));
  }

  /** The output of label number `i` (default partition). */
  at(i: number): TaskOutput {
    let o = this.byIndex[i];
    if (o === undefined) {
      o = this.outputs.get(this.names[i]);
      this.byIndex[i] = o;
    }
    return o;
  }

  get(label: string | null): TaskOutput {
    return this.outputs.get(label);
  }
}

/** No combiner: every record goes to its partition's output. */
export class DirectSink implements MapSink {
  private readonly labels: Labels;
  private readonly n: number;
  private readonly partition: Partition | null;
  private readonly params: unknown;
  private unlabelled: TaskOutput | null = null;

  constructor(o: MapSinkOptions) {
    this.labels = new Labels(o.outputs, o.partitions);
    this.n = o.partitions;
    this.partition = isDefaultPartition(o.partition) ? null : o.partition;
    this.params = o.params;
  }

  add(key: unknown, value: unknown): void {
    const n = this.n;
    if (n <= 0) {
      this.unlabelled ??= this.labels.get(null);
      this.unlabelled.add(key, value);
    } else if (this.partition === null) this.labels.at(keyHash(key) % n).add(key, value);
    else this.labels.get(labelOf(this.partition, key, n, this.params)).add(key, value);
  }

  finish(): void {}
}

/** Any combiner, called exactly as the original worker calls it. */
export class CombinerSink implements MapSink {
  private readonly buffers = new Map<string | null, Map<unknown, unknown>>();
  private readonly partition: Partition;

  constructor(
    private readonly o: MapSinkOptions,
    private readonly combiner: Combiner,
  ) {
    this.partition = o.partition ?? defaultPartition;
  }

  add(key: unknown, value: unknown): void {
    const label =
      this.o.partitions > 0 ? labelOf(this.partition, key, this.o.partitions, this.o.params) : null;
    let buf = this.buffers.get(label);
    if (!buf) {
      buf = new Map();
      this.buffers.set(label, buf);
    }
    const produced = this.combiner(key, value, buf, false, this.o.params);
    if (produced !== undefined && produced !== null) writeProduced(produced, () => this.o.outputs.get(label));
  }

  finish(): void {
    for (const [label, buf] of this.buffers)
      writeProduced(this.combiner(null, null, buf, true, this.o.params), () => this.o.outputs.get(label));
  }
}

/** A string key's running sum and its partition. */
interface SumSlot {
  key: string;
  sum: number;
  /** Label number (default partition), -1 when not partitioned. */
  label: number;
}

/** Estimated bytes of one string-key slot besides the key's characters (slot, map entry). */
const SLOT_BYTES = 96;

/**
 * An independent copy of a long string. Strings cut out of a bigger one (a word of a line)
 * may keep the whole bigger string alive; a key that stays in the buffer must not.
 */
function ownString(s: string): string {
  return s.length < 13 ? s : `${s} `.slice(0, -1);
}

/** `sumCombiner` with the default partition function (see module docs). */
export class SumSink implements MapSink {
  private readonly strings = new Map<string, SumSlot>();
  private bytes = 0;
  /** Non-string keys: `sumCombiner` buffers per label, as {@link CombinerSink} does. */
  private readonly others: CombinerSink;
  private readonly labels: Labels;
  private readonly n: number;

  constructor(o: MapSinkOptions) {
    this.n = o.partitions;
    this.labels = new Labels(o.outputs, o.partitions);
    this.others = new CombinerSink(o, sumCombiner as Combiner);
  }

  add(key: unknown, value: unknown): void {
    if (typeof key !== 'string') {
      this.others.add(key, value);
      return;
    }
    const slot = this.strings.get(key);
    if (slot !== undefined) {
      slot.sum += value as number;
      return;
    }
    const own = ownString(key);
    this.strings.set(own, { key: own, sum: value as number, label: this.n > 0 ? keyHash(key) % this.n : -1 });
    this.bytes += SLOT_BYTES + 2 * key.length;
    if (this.bytes > MAP_LIMITS.combineBytes) this.flushStrings();
  }

  /** Write out every string key's sum and forget them. */
  private flushStrings(): void {
    let unlabelled: TaskOutput | null = null;
    for (const s of this.strings.values()) {
      if (s.label >= 0) this.labels.at(s.label).add(s.key, s.sum);
      else {
        unlabelled ??= this.labels.get(null);
        unlabelled.add(s.key, s.sum);
      }
    }
    this.strings.clear();
    this.bytes = 0;
  }

  finish(): void {
    this.flushStrings();
    this.others.finish();
  }
}

/** The sink for a task (see module docs). */
export function makeMapSink(o: MapSinkOptions): MapSink {
  if (!o.combiner) return new DirectSink(o);
  if (o.combiner === sumCombiner && isDefaultPartition(o.partition)) return new SumSink(o);
  return new CombinerSink(o, o.combiner);
}
