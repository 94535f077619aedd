/**
 * `Params`: the classic container for task parameters (the original's
 * `disco.worker.classic.worker.Params`). Any fields, including functions; every task gets its
 * own fresh copy, decoded from the job pack, so changes made by one task never leak into the
 * next one, even in a reused worker process.
 *
 * The client encodes instances specially (`{"$params": {...}}`, see `encodeParams` in
 * `src/protocol/jobdata.ts`, which recognises the class by its name), and the worker rebuilds
 * them as `Params` again.
 *
 * @example
 * const p = new Params({ pattern: 'disco', lower: (s: string) => s.toLowerCase() });
 * (p.lower as (s: string) => string)('DISCO'); // 'disco'
 */
export class Params {
  [field: string]: unknown;

  constructor(fields: Record<string, unknown> = {}) {
    Object.assign(this, fields);
  }
}

// encodeParams recognises instances by constructor name; keep it whatever a bundler renames.
Object.defineProperty(Params, 'name', { value: 'Params' });
