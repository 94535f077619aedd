/** Names on the wire: job names (§2.3), hash directories (§3.7, §5.2), DDFS names. */
import { createHash } from 'node:crypto';
import { type ErlangNow, erlangNow } from '../common/time.js';

/** First byte of md5(name) as two lowercase hex digits (`disco:hexhash/1`). */
export function hexHash(name: string): string {
  return createHash('md5').update(name).digest('hex').slice(0, 2);
}

/** `prefix@<hex mega>:<hex secs>:<hex micro>` (lowercase hex, no padding). */
export function makeJobName(prefix: string, t: ErlangNow = erlangNow()): string {
  return `${prefix}@${t.mega.toString(16)}:${t.secs.toString(16)}:${t.micro.toString(16)}`;
}

/**
 * A job name prefix is refused when it contains `/` or `.` (the original's rule), and we also
 * refuse empty prefixes, whitespace and control characters, which would break paths and events.
 */
export function prefixError(prefix: unknown): string | null {
  if (typeof prefix !== 'string') return 'invalid prefix: must be a string';
  if (prefix.length === 0) return 'invalid prefix: must not be empty';
  if (prefix.length > 200) return 'invalid prefix: longer than 200 characters';
  if (/[/.]/.test(prefix)) return `invalid prefix ${JSON.stringify(prefix)}: must not contain '/' or '.'`;
  if (/[\s\x00-\x1f\x7f]/.test(prefix))
    return `invalid prefix ${JSON.stringify(prefix)}: no whitespace or control characters`;
  return null;
}

/** A name the master could have produced: safe to use as a path component. */
export function isValidJobName(name: unknown): name is string {
  return (
    typeof name === 'string' && /^[^/.\s\x00-\x1f\x7f@]{1,200}@[0-9a-f]+:[0-9a-f]+:[0-9a-f]+$/.test(name)
  );
}

/** DDFS names: `[A-Za-z0-9:@_-]{1,511}` (`ddfs_util:is_valid_name/1`). */
export function isValidDdfsName(name: string): boolean {
  return /^[A-Za-z0-9:@_-]{1,511}$/.test(name);
}

/** Characters allowed in OOB keys and blob prefixes (`DDFS.safe_name`). */
export function safeDdfsName(name: string): string {
  return name.replace(/[^A-Za-z0-9_\-@:]/g, '_');
}

/**
 * Node (host) names: DNS names, IPv4 addresses, optionally with `:port`. They appear in URLs
 * and paths, so anything else is refused.
 */
export function isValidHostName(host: string): boolean {
  return /^[A-Za-z0-9]([A-Za-z0-9\-_.]{0,252})(:\d{1,5})?$/.test(host) && !host.includes('..');
}

/** Prefix of the DDFS tags holding saved job results (`save: true`, wire spec §6.4). */
export const RESULTS_TAG_PREFIX = 'disco:job:results:';

/** The DDFS tag holding a job's saved results (wire spec §6.4). */
export function jobResultsTag(job: string): string {
  return `${RESULTS_TAG_PREFIX}${job}`;
}

/** The DDFS tag holding a job's out-of-band results (wire spec §6.5). */
export function jobOobTag(job: string): string {
  return `disco:job:oob:${job}`;
}

/**
 * The OOB key of a task's profile (`profile: true`): `profile-<task uid>`, the uid being
 * `<mode>:<taskid>-<2 hex>-<pid>`.
 */
export function profileKey(uid: string): string {
  return `profile-${uid}`;
}

/**
 * What the profile keys of one phase's tasks start with (`profile-map:`), or of all of
 * them (`profile-`) when `mode` is empty.
 *
 * @example
 * keys.filter((k) => k.startsWith(profileKeyPrefix('reduce')));
 */
export function profileKeyPrefix(mode: 'map' | 'reduce' | '' = ''): string {
  return profileKey(mode ? `${mode}:` : '');
}

/** Longest OOB key (the original's documented limit). */
export const OOB_KEY_MAX = 256;

/**
 * Why `key` cannot be an OOB key, or null when it can: 1 to {@link OOB_KEY_MAX} characters
 * of `[A-Za-z0-9_-@:]` (`DDFS.safe_name`), since the key becomes a DDFS blob name.
 */
export function oobKeyError(key: unknown): string | null {
  if (typeof key !== 'string') return `OOB key must be a string, got ${typeof key}`;
  if (key.length === 0) return 'OOB key must not be empty';
  if (key.length > OOB_KEY_MAX) return `OOB key is longer than ${OOB_KEY_MAX} characters`;
  if (safeDdfsName(key) !== key) {
    const bad = [...new Set(key.replace(/[A-Za-z0-9_\-@:]/g, ''))].map((c) => JSON.stringify(c)).join(' ');
    return `OOB key ${JSON.stringify(key)} contains invalid characters (${bad}); use only letters, digits and _ - @ :`;
  }
  return null;
}
