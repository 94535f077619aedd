// Types of the plain-JavaScript job modules in external-jobs.mjs.
import type { Job } from '../src/index.js';

export declare class WordsTs extends Job {
  static map(line: string): Generator<[string, number]>;
}
export declare class WordsC extends Job {}
export declare class CountTs extends WordsTs {
  static reduce(iter: Iterable<[string | Buffer, number | Buffer]>): Generator<[string, number]>;
}
export declare class CountC extends WordsC {
  static reduce(iter: Iterable<[string | Buffer, number | Buffer]>): Generator<[string, number]>;
}
