/**
 * How a failed task ends (wire spec §6.1): data errors, I/O errors and running out of memory
 * are worth a retry on another node (`ERROR`); anything else is a bug in the job and fails
 * it (`FATAL`), with the stack so the user can find it. `err(msg)` (a `JobError`) is fatal
 * with just its message.
 *
 * @example
 * classifyFailure(new DataError('truncated hunk')); // { kind: 'ERROR', text: 'DataError: truncated hunk' }
 */
import { DataError, JobError } from '../common/errors.js';

export interface Failure {
  kind: 'ERROR' | 'FATAL';
  text: string;
}

/** A Node system error (`ENOENT`, `EIO`, `ENOSPC`, ...): the original's `EnvironmentError`. */
export function isSystemError(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) && ('syscall' in e || 'errno' in e);
}

/** Allocation failures JavaScript lets us catch: the original's `MemoryError`. */
export function isOutOfMemory(e: unknown): boolean {
  return (
    e instanceof RangeError &&
    /allocation failed|Invalid (typed )?array length|Invalid string length|out of memory/i.test(e.message)
  );
}

/** A failure reading one replica of an input: try the next replica (wire spec §3.5). */
export function isReadFailure(e: unknown): boolean {
  return e instanceof DataError || isSystemError(e);
}

/** True for failures that another replica, node or attempt may not have (reading, I/O). */
export function isRetryable(e: unknown): boolean {
  return e instanceof DataError || isSystemError(e) || isOutOfMemory(e);
}

/** Decide `ERROR` or `FATAL` and the text to send. */
export function classifyFailure(e: unknown): Failure {
  if (e instanceof JobError) return { kind: 'FATAL', text: e.message };
  if (isRetryable(e)) {
    const err = e as Error;
    return { kind: 'ERROR', text: `${err.name}: ${err.message}` };
  }
  if (e instanceof Error) return { kind: 'FATAL', text: e.stack ?? `${e.name}: ${e.message}` };
  return { kind: 'FATAL', text: `uncaught exception: ${String(e)}` };
}
