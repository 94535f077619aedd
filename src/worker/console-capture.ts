/**
 * Keeps job code off the protocol stream. The node reads the worker's stdout and stderr as one
 * protocol stream (wire spec §3.1), so a stray `console.log` would break the task; instead,
 * everything written through `console.*`, `process.stdout.write` and `process.stderr.write`
 * becomes a task message (`MSG`), one per call, blank writes skipped — as the original's
 * `MessageWriter` does with `print`. Process warnings go the same way.
 *
 * @example
 * captureConsole((text) => client.msg(text));
 * console.log('hello %s', 'world'); // → MSG "hello world"
 */
import { format } from 'node:util';

type WriteFn = typeof process.stdout.write;

/** Route console and standard stream writes to `sink` (see module docs). */
export function captureConsole(sink: (text: string) => void): void {
  const emit = (...args: unknown[]) => sink(format(...args));
  console.log = emit;
  console.info = emit;
  console.debug = emit;
  console.warn = emit;
  console.error = emit;
  console.dir = (obj: unknown) => sink(format('%o', obj));
  console.trace = (...args: unknown[]) => sink(`${format(...args)}\n${new Error('trace').stack ?? ''}`);
  const write = ((chunk: unknown, encoding?: unknown, cb?: unknown) => {
    const text =
      typeof chunk === 'string'
        ? chunk
        : chunk instanceof Uint8Array
          ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('utf8')
          : String(chunk);
    sink(text);
    const done = typeof encoding === 'function' ? encoding : cb;
    if (typeof done === 'function') queueMicrotask(() => (done as (e?: Error | null) => void)(null));
    return true;
  }) as WriteFn;
  process.stdout.write = write;
  process.stderr.write = write;
  process.removeAllListeners('warning');
  process.on('warning', (w) => sink(`${w.name}: ${w.message}`));
}
