/**
 * Host specs of the config table (wire spec §4.2, `disco_config.erl` `expand_range/2`):
 * `name` is one host, `prefixNN:MM` is the range `prefixNN` .. `prefixMM`, numbers zero-padded
 * to the width of `MM`. The last `len(MM)` characters of the first part are the start number,
 * exactly as the original computes it (`nx01:30` → `nx01`..`nx30`, `nx1:30` → `nx01`..`nx30`).
 *
 * The original has no host names with a port; we allow them (spec §0.1). `host:PORT` is read as
 * a host with a port whenever it is not a valid range, i.e. when the last `len(PORT)` characters
 * of `host` are not all digits (`localhost:9001`, `127.0.0.1:9001`, `node1:9001`).
 *
 * @example
 * expandHostSpec('nx01:03') // ['nx01', 'nx02', 'nx03']
 * expandHostSpec('localhost:9001') // ['localhost:9001']
 */
import { isValidHostName } from '../../protocol/names.js';

/** Largest number of hosts one range may produce (a typo must not allocate millions). */
export const MAX_RANGE_HOSTS = 10_000;

/** A host spec that cannot be expanded; the message says why. */
export class HostSpecError extends Error {
  override name = 'HostSpecError';
}

/** Expand one host spec into host names; throws {@link HostSpecError} when invalid. */
export function expandHostSpec(rawSpec: string): string[] {
  const spec = rawSpec.trim();
  if (spec === '') throw new HostSpecError('empty host name');
  const parts = spec.split(':');
  if (parts.length === 1) return [checkedHost(spec)];
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '')
    throw new HostSpecError(`invalid host spec ${JSON.stringify(spec)}`);
  const [first, max] = parts;
  if (!/^\d+$/.test(max)) throw new HostSpecError(`invalid host spec ${JSON.stringify(spec)}`);
  const width = max.length;
  const startDigits = first.slice(-width);
  if (first.length < width || !/^\d+$/.test(startDigits)) {
    // Not a range: a host name with a port.
    return [checkedHost(spec)];
  }
  const prefix = first.slice(0, first.length - width);
  const from = Number.parseInt(startDigits, 10);
  const to = Number.parseInt(max, 10);
  if (to < from) throw new HostSpecError(`empty host range ${JSON.stringify(spec)}`);
  if (to - from + 1 > MAX_RANGE_HOSTS)
    throw new HostSpecError(`host range ${JSON.stringify(spec)} has more than ${MAX_RANGE_HOSTS} hosts`);
  const out: string[] = [];
  for (let i = from; i <= to; i++) out.push(checkedHost(`${prefix}${String(i).padStart(width, '0')}`));
  return out;
}

function checkedHost(host: string): string {
  if (!isValidHostName(host)) throw new HostSpecError(`invalid host name ${JSON.stringify(host)}`);
  return host;
}
