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

/** The same word count without a combiner: every word goes through the shuffle as [word, 1]. */
export class WordCountNoCombiner extends Job {
  static module = import.meta.url;
  static partitions = 2;
  static sort = true;
  static statusInterval = 0;
  static *map(line) {
    for (const word of line.split(/\s+/)) if (word) yield [word, 1];
  }
  static *reduce(iter) {
    for (const [word, counts] of kvgroup(iter)) yield [word, sum(counts)];
  }
}

/**
 * The sort benchmark's job: map input `raw://i` makes records i·perInput … (i+1)·perInput − 1
 * (record g: an 8-hex-digit key occurring about `dup` times, a `valueChars`-character value),
 * and one reduce with `sort: true` checks their order and answers with a summary and the
 * worker's peak memory.
 */
export class SortBig extends Job {
  static module = import.meta.url;
  static partitions = 1;
  static sort = true;
  static statusInterval = 0;
  static *map(line, params) {
    const { perInput, total, dup, valueChars } = params;
    // Text that compresses about as well as real data: a fixed pseudo-random string, sliced.
    let seed = 12345;
    let text = '';
    while (text.length < 4096 + valueChars) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      text += (seed >>> 8).toString(36);
    }
    const space = Math.max(1, Math.floor(total / dup));
    const first = Number(line) * perInput;
    const last = Math.min(total, first + perInput);
    for (let g = first; g < last; g++) {
      const key = (Math.imul(g % space, 2654435761) >>> 0).toString(16).padStart(8, '0');
      const id = g.toString(36).padStart(8, '0');
      const at = Math.imul(g, 7919) & 4095;
      yield [key, id + text.slice(at, at + valueChars - 8)];
    }
  }
  static *reduce(iter) {
    let records = 0;
    let groups = 0;
    let outOfOrder = 0;
    let prev = null;
    for (const [k] of iter) {
      records++;
      if (k !== prev) groups++;
      if (prev !== null && k < prev) outOfOrder++;
      prev = k;
    }
    yield ['summary', { records, groups, outOfOrder, maxRssKb: process.resourceUsage().maxRSS }];
  }
}
