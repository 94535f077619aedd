// Job modules used by the benchmarks. Plain JavaScript so that the same functions run in the
// cluster (bundled into the job pack) and in the single-process baselines (imported directly).
import { Job, kvgroup, sum, sumCombiner } from 'disco-ts';

/** One record per input, map only: measures the per-task and per-job overheads. */
export class Trivial extends Job {
  static module = import.meta.url;
  static statusInterval = 0;
  static *map(line) {
    yield [line, 1];
  }
}

/** The tutorial's word count, with the sum combiner and two partitions. */
export class WordCount extends Job {
  static module = import.meta.url;
  static partitions = 2;
  static sort = true;
  static statusInterval = 0;
  static combiner = sumCombiner;
  static *map(line) {
    for (const word of line.split(/\s+/)) if (word) yield [word, 1];
  }
  static *reduce(iter) {
    for (const [word, counts] of kvgroup(iter)) yield [word, sum(counts)];
  }
}
