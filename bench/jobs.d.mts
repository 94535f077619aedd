// Types of the plain-JavaScript job modules in jobs.mjs.
import type { Job } from '../src/index.js';

export declare class Trivial extends Job {
  static map(line: string): Generator<[string, number]>;
}
export declare class WordCount extends Job {
  static map(line: string): Generator<[string, number]>;
  static reduce(iter: Iterable<[string, number]>): Generator<[string, number]>;
}
export declare class WordCountNoCombiner extends Job {
  static map(line: string): Generator<[string, number]>;
  static reduce(iter: Iterable<[string, number]>): Generator<[string, number]>;
}
export interface SortBigParams {
  perInput: number;
  total: number;
  dup: number;
  valueChars: number;
}
export interface SortBigSummary {
  records: number;
  groups: number;
  outOfOrder: number;
  maxRssKb: number;
}
export declare class SortBig extends Job {
  static map(line: string, params: SortBigParams): Generator<[string, string]>;
  static reduce(iter: Iterable<[string, string]>): Generator<[string, SortBigSummary]>;
}
