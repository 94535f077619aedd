/** Starting a command-line program: shared by the `disco` and `ddfs` entry points. */
import path from 'node:path';
import { errorMessage } from '../common/errors.js';

/**
 * Run `main` and exit with its status, but only when this bundle is the program being run
 * (`dist/cli/<name>.js` via `bin/<name>.mjs`), not when it is imported (tests).
 *
 * @example
 * runIfProgram('disco', () => main());
 */
export function runIfProgram(name: string, main: () => Promise<number>): void {
  const entry = process.argv[1] ? path.resolve(process.argv[1]) : '';
  const self = new RegExp(`[\\\\/](${name}\\.(?:m?js|ts)|${name})$`);
  if (!self.test(entry) || /vitest/.test(entry)) return;
  // `<name> … | head`: a closed pipe ends the command quietly.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
      throw e;
    });
  }
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`${name}: ${errorMessage(e)}\n`);
      process.exitCode = 1;
    },
  );
}
