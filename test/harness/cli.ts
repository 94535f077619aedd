/**
 * Runs the package's own command line programs (`bin/ddfs`, `bin/disco`) as a real child
 * process and collects what they did, so CLI tests share one bounded way of doing it.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../src/common/settings.js';

/** Options of {@link runCli}. */
export interface CliOptions {
  /** Added over `process.env` (so a cluster's `c.env` is enough). */
  env?: Record<string, string>;
  cwd?: string;
  /** Written to standard input, which is then closed; without it standard input is `/dev/null`. */
  input?: string | Buffer;
  /** SIGKILL the program after this long (default 60 s, the suite's test timeout). */
  timeoutMs?: number;
}

/** What a {@link runCli} run did. */
export interface CliResult {
  /** The exit status; -1 when killed by a signal. */
  code: number;
  signal: NodeJS.Signals | null;
  /** Standard output, bytes as written. */
  out: Buffer;
  /** Standard output decoded as UTF-8. */
  text: string;
  /** Standard error as UTF-8, followed by a note when the program was killed. */
  err: string;
}

const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * Runs `bin/<bin> args` to its end and resolves with its exit status and output; rejects only
 * when the program cannot be started. A non-zero status is a result, not an error, since tests
 * check failures too.
 *
 * @example
 * const r = await runCli('ddfs', ['cat', 'data:x'], { env: c.env, input: './a.txt\n' });
 * expect(r).toMatchObject({ code: 0, err: '' });
 * expect(r.text).toBe('hello\n');
 */
export function runCli(bin: 'ddfs' | 'disco', args: string[], o: CliOptions = {}): Promise<CliResult> {
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const p = spawn(path.join(PACKAGE_ROOT, 'bin', bin), args, {
      env: { ...process.env, ...o.env },
      cwd: o.cwd,
      stdio: [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      p.kill('SIGKILL');
    }, timeoutMs);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout?.on('data', (b: Buffer) => out.push(b));
    p.stderr?.on('data', (b: Buffer) => err.push(b));
    p.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      const bytes = Buffer.concat(out);
      let note = '';
      if (signal)
        note = `${bin} killed by ${signal}${timedOut ? ` after ${timeoutMs} ms (timeout; hung?)` : ''}`;
      resolve({
        code: code ?? -1,
        signal,
        out: bytes,
        text: bytes.toString('utf8'),
        err: Buffer.concat(err).toString('utf8') + note,
      });
    });
    if (o.input !== undefined && p.stdin) {
      // A program that exits without reading all its input makes the write fail with EPIPE;
      // its exit status and stderr tell the test what happened, so the write error is not one.
      p.stdin.on('error', () => {});
      p.stdin.end(o.input);
    }
  });
}
