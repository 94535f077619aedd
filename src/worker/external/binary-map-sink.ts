/**
 * The map sink for an external program's results when nothing in the job needs them as
 * values — no combiner, the default partition function: each pair goes from the program's
 * output to its partition's record output as bytes, with no Buffer made for its key or value.
 *
 * Why: a pair costs two Buffers in the general path (a key and a value, each an object over a
 * copy of its bytes), then the partition hash and the record writer read them back; for a map
 * as light as word count that was most of the worker's time, and an external C map ran at
 * about half the speed of the same map in TypeScript. Here the partition is hashed over the
 * key's bytes where they lie and the record is encoded from them.
 *
 * The outputs are exactly the general path's: the same partition for every key (the default
 * partition's FNV-1a over a binary key's bytes, `keyHash` of key-order.ts), the same records
 * (MessagePack bin 8/16/32, as the record writer encodes a Buffer), the same hunks. An output whose chain
 * does not end in the default record writer (a custom `mapWriter`, a `mapOutputStream` that
 * takes records itself) gets Buffers through its `add`, as before.
 *
 * @example
 * const sink = canWriteBinary(fns) ? new BinaryMapSink(run.outputs, data.partitions) : null;
 * if (sink) runExternalMap(run, ref, entries, sink);
 */

import type { RawPairSink } from '../../protocol/external.js';
import type { RecordWriter } from '../../protocol/record-stream.js';
import { isDefaultPartition } from '../func.js';
import { fnv1aRange } from '../key-order.js';
import type { OutputFactory } from '../output-set.js';
import { RecordOutput, type TaskOutput } from '../outputs.js';

/** What decides whether a map's results may skip being values: its combiner and partition. */
export interface MapFunctions {
  combiner?: unknown;
  partition?: unknown;
}

/**
 * True when the map's results can go to the outputs as bytes (no combiner, default partition).
 *
 * @example
 * canWriteBinary({}); // true
 * canWriteBinary({ combiner: sumCombiner }); // false
 */
export function canWriteBinary(fns: MapFunctions): boolean {
  return !fns.combiner && isDefaultPartition(fns.partition);
}

/** Partitioned (or not) record outputs taking pairs as bytes (see module docs). */
export class BinaryMapSink implements RawPairSink {
  /** Outputs by label number (index 0 when not partitioned), opened on first use. */
  private readonly outs: (TaskOutput | undefined)[] = [];
  /** The record writer of each of {@link outs}' {@link RecordOutput}, null when its chain ends otherwise. */
  private readonly writers: (RecordWriter | null)[] = [];
  private readonly n: number;

  /** @param partitions the task's number of partitions; 0 or less: not partitioned. */
  constructor(
    private readonly outputs: OutputFactory,
    partitions: number,
  ) {
    this.n = partitions;
  }

  addRaw(bytes: Buffer, keyStart: number, keyLength: number, valueStart: number, valueLength: number): void {
    const i = this.n > 0 ? fnv1aRange(bytes, keyStart, keyStart + keyLength) % this.n : 0;
    let w = this.writers[i];
    if (w === undefined) w = this.open(i);
    if (w !== null) w.writeBinaryPair(bytes, keyStart, keyLength, valueStart, valueLength);
    else
      (this.outs[i] as TaskOutput).add(
        Buffer.from(bytes.subarray(keyStart, keyStart + keyLength)),
        Buffer.from(bytes.subarray(valueStart, valueStart + valueLength)),
      );
  }

  private open(i: number): RecordWriter | null {
    const out = this.outputs.get(this.n > 0 ? String(i) : null);
    const w = out.sink instanceof RecordOutput ? out.sink.writer : null;
    this.outs[i] = out;
    this.writers[i] = w;
    return w;
  }
}
