/** Making and starting a command-line program: shared by the `disco` and `ddfs` entry points. */
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { errorMessage } from '../common/errors.js';
import { packageVersion } from '../common/settings.js';
import { EXIT_NOT_RUNNING, type Io, isCliExit } from './io.js';

/**
 * Run `main` and exit with its status, but only when this bundle is the program being run
 * (`dist/cli/<name>.js` via `bin/<name>.mjs`, `dist/cli/ddfs.cjs`), not when it is imported (tests).
 *
 * @example
 * runIfProgram('disco', () => main());
 */
export function runIfProgram(name: string, main: () => Promise<number>): void {
  const entry = process.argv[1] ? path.resolve(process.argv[1]) : '';
  const self = new RegExp(`[\\\\/](${name}\\.(?:[mc]?js|ts)|${name})$`);
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

/**
 * Commander's way to let an option repeat: each value is added to the list.
 *
 * @example
 * program.option('-P, --param <key=value>', 'a job option (repeatable)', collect);
 */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** A numeric option value (commander's argParser); refuses what is not a finite number. */
export function num(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`not a number: ${value}`);
  return n;
}

/**
 * A command-line program with what `disco` and `ddfs` share: description, `--version`,
 * messages through `io`, a hint after usage errors, and errors thrown (as
 * `CommanderError`) instead of exiting, so that {@link runProgram} decides the exit status.
 *
 * @example
 * const program = newProgram('ddfs', 'DDFS: push, read and tag data', io).option('-t, --token <token>');
 */
export function newProgram(name: string, description: string, io: Io): Command {
  return new Command(name)
    .description(description)
    .version(packageVersion(), '--version', 'print the version of disco-ts')
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .showHelpAfterError(`(${name} --help lists the commands)`)
    .exitOverride();
}

/**
 * The wrapper of a program's command actions: each action gets the context (made by
 * `makeContext` on the first command that runs, then shared) and the command's arguments; a
 * number it resolves with becomes the exit status (through `setExit`). `makeContext` may
 * resolve the context later, so that its module is loaded only when a command runs (not for
 * `--help` or a usage error).
 *
 * @example
 * const act = actionsWith((cmd) => new CliContext(cmd.optsWithGlobals(), io), setExit);
 * program.command('stop').action(act((ctx) => stopMaster(ctx)));
 */
export function actionsWith<C>(
  makeContext: (cmd: Command) => C | Promise<C>,
  setExit: (code: number) => void,
) {
  let context: C | Promise<C> | undefined;
  return <A extends unknown[]>(fn: (ctx: C, ...args: A) => Promise<unknown>) =>
    async (...args: A): Promise<void> => {
      // commander passes the command itself last.
      const cmd = args[args.length - 1] as Command;
      context ??= makeContext(cmd);
      const code = await fn(await context, ...args);
      if (typeof code === 'number') setExit(code);
    };
}

/** How {@link runProgram} runs one program. */
export interface ProgramRun {
  /** The program's name: the prefix of its error messages. */
  name: string;
  /** The program; `setExit` receives the status of commands that end with one. */
  build: (setExit: (code: number) => void) => Command;
  /** Where error messages go. */
  io: Io;
}

/** Exit status of a usage error (commander has printed it). */
const USAGE_ERROR = 2;

/**
 * Parse `argv` and run the command; resolves with the exit status: help and version 0, a
 * usage error 2 (as optparse and most Unix tools), a {@link CliExit} its own (with its message), any other failure
 * 1 with a one-line `name: message` (and the stack when DISCO_DEBUG is set).
 *
 * @example
 * const code = await runProgram(['node', 'ddfs', 'ls'], { name: 'ddfs', build, io });
 */
export async function runProgram(argv: readonly string[], run: ProgramRun): Promise<number> {
  const { name, io } = run;
  let code = 0;
  const program = run.build((c) => {
    code = c;
  });
  try {
    await program.parseAsync([...argv]);
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version are not failures (nor is a program alone, which prints its help).
      if (['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(e.code)) return 0;
      return USAGE_ERROR;
    }
    if (isCliExit(e)) {
      // "not running" (`disco status`) is an answer, not an error of the program.
      if (e.message) io.err(e.code === EXIT_NOT_RUNNING ? e.message : `${name}: ${e.message}`);
      return e.code;
    }
    const debug = (process.env.DISCO_DEBUG ?? '').toLowerCase();
    io.err(`${name}: ${errorMessage(e)}`);
    if (debug && debug !== 'off' && e instanceof Error && e.stack) io.err(e.stack);
    return 1;
  }
}
