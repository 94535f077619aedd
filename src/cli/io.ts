/**
 * How a command line talks to its process: output sinks, and the error that ends a command
 * with an exit status. Kept apart from the command contexts (and their clients) so that a
 * program's entry module, its `--help` and its usage errors load nothing more.
 *
 * @example
 * if (!found) throw new CliExit(`no such tag ${tag}`);
 */

/** Output sinks (replaceable in tests). */
export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

export const processIo: Io = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
};

/** Exit status for "not running" (LSB convention, `disco status`). */
export const EXIT_NOT_RUNNING = 3;

/** An error that ends the command with a given exit status and a one-line message. */
export class CliExit extends Error {
  override readonly name = 'CliExit';

  constructor(
    message: string,
    readonly code = 1,
  ) {
    super(message);
  }
}

/**
 * Whether `e` is a {@link CliExit} of this module or of another copy of it: the `ddfs` bundle
 * has its own copy, and loads some modules (with theirs) from the library's chunks.
 *
 * @example
 * if (isCliExit(e)) return e.code;
 */
export function isCliExit(e: unknown): e is CliExit {
  return e instanceof Error && e.name === 'CliExit' && typeof (e as Partial<CliExit>).code === 'number';
}
