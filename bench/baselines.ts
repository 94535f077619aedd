/**
 * Shared by the benchmarks: the median of repeated timings, and the baseline most figures
 * are put next to (starting an empty Node.js process on this machine).
 *
 * @example
 * const ratio = median(latencies) / processStartMs();
 */
import { execFileSync } from 'node:child_process';

/** The middle value (the upper one of an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Wall time of starting an empty Node.js process (the per-task cost of spawning workers), median of `runs`. */
export function processStartMs(runs = 10): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    execFileSync(process.execPath, ['-e', '0']);
    times.push(performance.now() - t);
  }
  return median(times);
}
