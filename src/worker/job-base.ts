/**
 * The worker's `Job`: just enough for job modules written as classes
 * (`class WordCount extends Job { static map(...) {...} }`) to load inside a worker, where the
 * module's `disco-ts` import resolves to the worker API. Submitting jobs is the client's
 * business; the client library provides the full `Job`.
 *
 * @example
 * class Grep extends Job {
 *   static map(line: string, params: { pattern: string }) {
 *     return line.includes(params.pattern) ? [[line, 1]] : [];
 *   }
 * }
 */
import { JobError } from '../common/errors.js';

export class Job {
  [field: string]: unknown;

  constructor(fields: Record<string, unknown> = {}) {
    Object.assign(this, fields);
  }

  /** Jobs cannot be submitted from inside a task. */
  run(): never {
    throw new JobError('Job.run() is not available inside a worker task');
  }
}

Object.defineProperty(Job, 'name', { value: 'Job' });
