/**
 * Program computations: every job is a child process `program arg1 arg2 …` started in the
 * computation's directory (which is also first on `PATH`), stdout and stderr captured (up to a
 * limit), the exit status as the job's result. `.js`/`.mjs`/`.cjs` programs run with this
 * Node.js, `.py` with `python3`. The process gets its own process group, so cancelling it also
 * stops what it started.
 *
 * @example
 * const run = startProgram({ file: '/x/prog.sh', args: ['1'], cwd: '/x', maxOutput: 1 << 20 });
 * const { code, stdout } = await run.done;
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

export interface ProgramRun {
  proc: ChildProcess;
  done: Promise<{
    code: number | null;
    signal: string | null;
    stdout: string;
    stderr: string;
    error?: string;
  }>;
}

export interface ProgramSpec {
  file: string;
  args: string[];
  cwd: string;
  maxOutput: number;
  env?: NodeJS.ProcessEnv;
}

function commandFor(file: string, args: string[]): [string, string[]] {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.js' || ext === '.mjs' || ext === '.cjs') return [process.execPath, [file, ...args]];
  if (ext === '.py') return ['python3', [file, ...args]];
  return [file, args];
}

export function startProgram(spec: ProgramSpec): ProgramRun {
  const [cmd, argv] = commandFor(spec.file, spec.args);
  const env = { ...(spec.env ?? process.env) };
  env.PATH = `${spec.cwd}${path.delimiter}${env.PATH ?? ''}`;
  const proc = spawn(cmd, argv, { cwd: spec.cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let bytes = 0;
  let truncated = false;
  const collect = (into: Buffer[]) => (d: Buffer) => {
    if (bytes + d.length <= spec.maxOutput) {
      into.push(d);
      bytes += d.length;
    } else if (!truncated) {
      truncated = true;
      into.push(Buffer.from('\n[output truncated]\n'));
    }
  };
  proc.stdout?.on('data', collect(out));
  proc.stderr?.on('data', collect(err));
  const done = new Promise<Awaited<ProgramRun['done']>>((resolve) => {
    let spawnError: string | undefined;
    proc.once('error', (e) => {
      spawnError = `cannot run ${spec.file}: ${e.message}`;
    });
    proc.once('close', (code, signal) => {
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ...(spawnError ? { error: spawnError } : {}),
      });
    });
  });
  return { proc, done };
}
