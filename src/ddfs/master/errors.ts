/**
 * Errors of DDFS operations on the master, named as the original's atoms so the HTTP layer
 * can answer exactly (wire spec §1.3 `on_error/2`): `unauthorized` → 401, `notfound` → 404
 * `Tag not found.`, `timeout` → 503, defined client errors → 403/404, anything else → 500
 * `Internal server error: <code>`.
 */

/** A failed DDFS operation; `code` is the original's error atom (e.g. `too_many_failed_nodes`). */
export class DdfsError extends Error {
  override name = 'DdfsError';
  constructor(
    readonly code: string,
    detail?: string,
  ) {
    super(detail ? `${code}: ${detail}` : code);
  }
}
