/**
 * How an external program takes the place of a job function in the worker: the jobdata's
 * `{ external: { dir, program } }` resolves to a stand-in function carrying the reference,
 * and the map and reduce phases ask {@link externalProgramOf} whether to run the program
 * over the whole phase (`run-external.ts`) instead of calling a function per entry.
 *
 * @example
 * const map = externalProgramFunction({ dir: 'ext/map', program: 'cmap' });
 * externalProgramOf(map); // { dir: 'ext/map', program: 'cmap' }
 */
import type { ExternalProgramRef } from '../../protocol/jobdata.js';

const REF = Symbol('externalProgram');

type Marked = ((...args: unknown[]) => unknown) & { [REF]: ExternalProgramRef };

/** The stand-in function for an external program (calling it directly is an error). */
export function externalProgramFunction(ref: ExternalProgramRef): (...args: unknown[]) => unknown {
  const fn = (() => {
    throw new Error(
      `${ref.dir}/${ref.program} is an external program: it runs over a whole map or reduce phase, ` +
        'not as a function per entry',
    );
  }) as unknown as Marked;
  fn[REF] = ref;
  return fn;
}

/** The external program `fn` stands for, or null for an ordinary job function. */
export function externalProgramOf(fn: unknown): ExternalProgramRef | null {
  return typeof fn === 'function' ? ((fn as Partial<Marked>)[REF] ?? null) : null;
}
