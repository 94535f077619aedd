/** Error kinds shared by client, worker and daemons (names follow the original's exceptions). */

/** Base class of every error this library throws on purpose. */
export class DiscoError extends Error {
  override name = 'DiscoError';
}

/** A job ended in a state other than `ready` (or could not be submitted). */
export class JobError extends DiscoError {
  override name = 'JobError';
  constructor(
    message: string,
    readonly jobname?: string,
  ) {
    super(jobname ? `Job ${jobname} failed: ${message}` : message);
  }
}

/** Data could not be read; inside a worker this fails the task with ERROR so it is retried. */
export class DataError extends DiscoError {
  override name = 'DataError';
  constructor(
    /** What went wrong, without the URL (`message` has both). */
    readonly reason: string,
    readonly url?: string,
  ) {
    super(url ? `${reason} (${url})` : reason);
  }
}

/** An HTTP request failed; `status` is the HTTP code (0 for connection errors). */
export class CommError extends DataError {
  override name = 'CommError';
  constructor(
    message: string,
    url?: string,
    readonly status = 0,
  ) {
    super(message, url);
  }
}

/** A message or file did not follow a wire contract. */
export class ProtocolError extends DiscoError {
  override name = 'ProtocolError';
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
