/**
 * The bytes path of an external map's results (src/worker/external/binary-map-sink.ts,
 * `RecordWriter.writeBinaryPair`): without a combiner or a partition function, results go from
 * the program's output to the record outputs without Buffers. These tests hold it to the
 * general path — a Buffer key and value per pair through `DirectSink` and the record writer —
 * byte for byte: the same outputs, in the same order, with the same bytes (same partitions,
 * same records, same hunks), for any keys and values, however the output arrives.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeResultList, ResultListDecoder } from '../../../src/protocol/external.js';
import { BufferSource, readRecords } from '../../../src/protocol/record-stream.js';
import { makeMapSink } from '../../../src/worker/combine.js';
import { BinaryMapSink, canWriteBinary } from '../../../src/worker/external/binary-map-sink.js';
import { defaultPartition, sumCombiner } from '../../../src/worker/func.js';
import { fnv1aRange, keyHash } from '../../../src/worker/key-order.js';
import { OutputFactory } from '../../../src/worker/output-set.js';
import { type ByteSink, RecordOutput } from '../../../src/worker/outputs.js';
import { makeTaskPaths } from '../../../src/worker/task-paths.js';
import type { UserFunction } from '../../../src/worker/user-code.js';

type Pair = [Buffer, Buffer];

let home: string;
let taskNo = 0;
beforeAll(() => {
  home = mkdtempSync(path.join(os.tmpdir(), 'disco-ext-binary-'));
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

/** A writer that is not the record writer: one text line per record (a custom `mapWriter`). */
const lineWriter = ((stream: ByteSink) => ({
  add: (k: unknown, v: unknown) =>
    stream.write(
      `${(k as Buffer).toString('hex')}:${(v as Buffer).toString('hex')}:${(k as Buffer).constructor.name}\n`,
    ),
})) as UserFunction;

interface Written {
  /** `[type, label, bytes]` of each output, in the order they were opened. */
  outputs: [string, string, Buffer][];
  pairs: number;
}

/**
 * The outputs of one map task whose program wrote `stream` (cut at `cuts`), with `partitions`
 * partitions: through the general path (`binary` false) or the bytes path.
 */
function mapTask(
  stream: Buffer,
  cuts: readonly number[],
  partitions: number,
  binary: boolean,
  writer?: UserFunction,
): Written {
  const paths = makeTaskPaths(home, 'map', taskNo++);
  const outputs = new OutputFactory({ jobhome: home, paths, streams: [], writer, params: {} });
  let decoder: ResultListDecoder;
  if (binary) decoder = new ResultListDecoder(new BinaryMapSink(outputs, partitions));
  else {
    const sink = makeMapSink({ outputs, partitions, partition: undefined, combiner: undefined, params: {} });
    decoder = new ResultListDecoder((k, v) => sink.add(k, v));
  }
  for (let i = 0, c = 0; i < stream.length; c++) {
    const n = cuts[c % cuts.length];
    decoder.push(Buffer.from(stream.subarray(i, i + n))); // a fresh chunk, as from the pipe
    i += n;
  }
  outputs.closeAll();
  expect(decoder.midList).toBe(false);
  return {
    outputs: outputs.list().map((o) => [o.type, o.label, readFileSync(o.abs)]),
    pairs: decoder.pairCount,
  };
}

function expectSameOutputs(
  stream: Buffer,
  cuts: readonly number[],
  partitions: number,
  writer?: UserFunction,
) {
  const general = mapTask(stream, cuts, partitions, false, writer);
  const bytes = mapTask(stream, cuts, partitions, true, writer);
  expect(bytes.pairs).toBe(general.pairs);
  expect(bytes.outputs.map(([t, l]) => [t, l])).toEqual(general.outputs.map(([t, l]) => [t, l]));
  for (let i = 0; i < general.outputs.length; i++)
    expect(bytes.outputs[i][2].equals(general.outputs[i][2]), `output ${general.outputs[i][1]}`).toBe(true);
  return general;
}

const bytesArb = fc.oneof(
  fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a)),
  fc.uint8Array({ minLength: 250, maxLength: 300 }).map((a) => Buffer.from(a)), // bin 8 / bin 16
);
const listsArb = fc.array(fc.array(fc.tuple(bytesArb, bytesArb), { maxLength: 6 }), { maxLength: 40 });
const cutsArb = fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 10 });

describe('the bytes path of an external map', () => {
  it('property: writes exactly what the Buffer path writes (partitions, records, bytes), empty keys and values too', () => {
    fc.assert(
      fc.property(listsArb, cutsArb, fc.constantFrom(0, 1, 3, 7), (lists, cuts, partitions) => {
        const stream = Buffer.concat(lists.map((l) => encodeResultList(l)));
        const { outputs } = expectSameOutputs(stream, cuts, partitions);
        // And what it wrote is those pairs, as Buffers, each in its key's default partition.
        const got: [string, Pair][] = outputs.flatMap(([, label, file]) =>
          [...readRecords(new BufferSource(file))].map(([k, v]) => [label, [k, v] as Pair]),
        );
        expect(got.length).toBe(lists.flat().length);
        for (const [label, [k, v]] of got) {
          expect(Buffer.isBuffer(k) && Buffer.isBuffer(v)).toBe(true);
          if (partitions > 0) expect(label).toBe(String(defaultPartition(k, partitions)));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('ends hunks where the Buffer path ends them, with large values (bin 16, bin 32) among small ones', () => {
    const lists: Pair[][] = [];
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return Math.floor((seed / 2147483648) * n);
    };
    const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => rnd(256)));
    // ~8 MiB of records: several hunks per partition, a few values past the 64 KiB bin 16
    // limit and past the writer's gathering buffer, and sizes on each side of every limit.
    for (let i = 0; i < 150000; i++) {
      const list: Pair[] = [];
      for (let j = rnd(4); j > 0; j--) list.push([bytes(rnd(9)), bytes(rnd(40))]);
      if (i % 5000 === 17) list.push([bytes(3), bytes([255, 256, 65535, 65536, 200_000][rnd(5)])]);
      lists.push(list);
    }
    const stream = Buffer.concat(lists.map((l) => encodeResultList(l)));
    const { outputs } = expectSameOutputs(stream, [65536, 1000, 131072], 3);
    const hunks = (file: Buffer) => {
      let n = 0;
      for (let o = 0; o < file.length; ) {
        const length = Number(file.readBigUInt64LE(o + 6));
        if (length > 0) n++;
        o += 14 + length;
      }
      return n;
    };
    expect(outputs.map(([, , f]) => hunks(f) >= 2)).toEqual([true, true, true]);
    expectSameOutputs(stream, [4096], 0);
  });

  it('takes a pair larger than a MiB arriving in many chunks (bin 32)', () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 7, 'v');
    const lists: Pair[][] = [[[Buffer.from('k'), Buffer.from('1')]], [[Buffer.from('big'), big]], []];
    const stream = Buffer.concat(lists.map((l) => encodeResultList(l)));
    const { outputs } = expectSameOutputs(stream, [65536, 777], 2);
    const values = outputs.flatMap(([, , f]) =>
      [...readRecords(new BufferSource(f))].map(([, v]) => v as Buffer),
    );
    expect(values.map((v) => v.length).sort((a, b) => a - b)).toEqual([1, big.length]);
  });

  it('gives Buffers to an output whose chain does not end in the record writer', () => {
    const lists: Pair[][] = [
      [[Buffer.from('a'), Buffer.from('1')]],
      [],
      [
        [Buffer.alloc(0), Buffer.alloc(0)],
        [Buffer.from('b'), Buffer.from('xyz')],
      ],
    ];
    const stream = Buffer.concat(lists.map((l) => encodeResultList(l)));
    const { outputs } = expectSameOutputs(stream, [3], 2, lineWriter);
    const text = outputs.map(([, , f]) => f.toString()).join('');
    expect(text.split('\n').filter(Boolean).sort()).toEqual(['61:31:Buffer', '62:78797a:Buffer', '::Buffer']);
  });

  it('hashes key bytes as the default partition hashes a Buffer key', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.nat(5), fc.nat(5), (a, pre, post) => {
        const b = Buffer.concat([Buffer.alloc(pre, 9), a, Buffer.alloc(post, 9)]);
        expect(fnv1aRange(b, pre, pre + a.length)).toBe(keyHash(Buffer.from(a)));
      }),
    );
  });

  it('is taken only without a combiner and with the default partition function', () => {
    expect(canWriteBinary({})).toBe(true);
    expect(canWriteBinary({ partition: defaultPartition, combiner: null })).toBe(true);
    expect(canWriteBinary({ combiner: sumCombiner })).toBe(false);
    expect(canWriteBinary({ combiner: (k: unknown) => k })).toBe(false);
    expect(canWriteBinary({ partition: () => 0 })).toBe(false);
  });
});

describe('RecordWriter.writeBinaryPair', () => {
  it('mixed with add, writes the bytes and hunks add alone writes', () => {
    const written = (binary: boolean) => {
      const chunks: Buffer[] = [];
      const out = new RecordOutput({ write: (b) => chunks.push(Buffer.from(b as Uint8Array)) });
      const src = Buffer.from('..key..value..');
      for (let i = 0; i < 300_000; i++) {
        if (i % 3 === 0) out.add(`s${i}`, i);
        else if (binary) out.writer.writeBinaryPair(src, 2, 3, 7, 5);
        else out.add(Buffer.from('key'), Buffer.from('value'));
      }
      out.close();
      return chunks;
    };
    const chunks = written(true);
    expect(chunks.length).toBeGreaterThan(2); // several hunks and the end marker
    expect(chunks).toEqual(written(false));
    const records = [...readRecords(new BufferSource(Buffer.concat(chunks)))];
    expect(records).toHaveLength(300_000);
    expect(records[1]).toEqual([Buffer.from('key'), Buffer.from('value')]);
  });
});
