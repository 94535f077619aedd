/**
 * Where new DDFS objects go (wire spec §5.3, `ddfs_master:do_choose_write_nodes/4`): K random
 * nodes among those with more than 1 GiB free that are not excluded or blacklisted; if there
 * are not K of those, the K emptiest allowed nodes (possibly fewer than K). Pure.
 */

/** Free space below which a node is only a fallback choice (KiB, as the nodes report). */
export const MIN_FREE_KIB = 1024 * 1024;

/** A node that could take an object, with its free space in KiB. */
export interface NodeSpace {
  host: string;
  free: number;
}

/**
 * Choose up to `k` nodes. `nodes` are all DDFS nodes; `excluded` are refused outright
 * (client exclusions, write blacklist, GC blacklist, unreachable nodes).
 */
export function chooseWriteNodes(
  nodes: readonly NodeSpace[],
  k: number,
  excluded: ReadonlySet<string>,
  random: () => number = Math.random,
): string[] {
  if (k <= 0) return [];
  const allowed = nodes.filter((n) => !excluded.has(n.host));
  const primary = allowed.filter((n) => n.free > MIN_FREE_KIB);
  if (primary.length >= k) return sample(primary, k, random).map((n) => n.host);
  return [...allowed]
    .sort((a, b) => b.free - a.free)
    .slice(0, k)
    .map((n) => n.host);
}

/** `k` distinct elements in random order (partial Fisher–Yates). */
function sample<T>(xs: readonly T[], k: number, random: () => number): T[] {
  const a = xs.slice();
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(random() * (a.length - i));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a.slice(0, k);
}
