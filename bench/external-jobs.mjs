// Job modules of bench/external.ts: word count with the map in TypeScript or in C (the C map
// is given at run time as `map: external([...])`). Plain JavaScript so that the functions
// travel to the workers as exports of this file.
import { Job, kvgroup } from 'disco-ts';

const SPACE = /[ \t\n\v\f\r]+/;

function* sumCounts(iter) {
  for (const [word, counts] of kvgroup(iter)) {
    let n = 0;
    for (const c of counts) n += typeof c === 'number' ? c : Number(c.toString());
    yield [typeof word === 'string' ? word : word.toString(), n];
  }
}

/** Map only, in TypeScript: `[word, 1]` per word (ASCII whitespace, as the C map). */
export class WordsTs extends Job {
  static module = import.meta.url;
  static partitions = 2;
  static statusInterval = 0;
  static *map(line) {
    for (const w of line.split(SPACE)) if (w) yield [w, 1];
  }
}

/** Map only, the map given as an external program. */
export class WordsC extends Job {
  static module = import.meta.url;
  static partitions = 2;
  static statusInterval = 0;
}

/** Word count, map in TypeScript. */
export class CountTs extends WordsTs {
  static sort = true;
  static reduce = sumCounts;
}

/** Word count, the map given as an external program. */
export class CountC extends WordsC {
  static sort = true;
  static reduce = sumCounts;
}
