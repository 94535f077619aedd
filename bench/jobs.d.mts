// Types of the plain-JavaScript job modules in jobs.mjs.
import type { Job } from '../src/index.js';

export declare class Trivial extends Job {
  static map(line: string): Generator<[string, number]>;
}
export declare class WordCount extends Job {
  static map(line: string): Generator<[string, number]>;
  static reduce(iter: Iterable<[string, number]>): Generator<[string, number]>;
}
