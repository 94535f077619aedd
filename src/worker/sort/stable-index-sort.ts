/**
 * A stable sort of record indices by a comparison of records, for the sort buffer (records
 * that are not simply ordered by a native sort of their prefixes).
 *
 * @example
 * const order = mergeSortIndices(keys.length, (i, j) => compareKeys(keys[i], keys[j]));
 */
/**
 * A stable sort of the indices `0..n)` by `cmp`: insertion sort of short stretches, then
 * bottom-up merges (ties keep the left one). Written out rather than `Array.prototype.sort`
 * so that the comparison can be inlined.
 */
export function mergeSortIndices(n: number, cmp: (i: number, j: number) => number): Int32Array {
  let src = new Int32Array(n);
  for (let i = 0; i < n; i++) src[i] = i;
  const RUN = 24;
  for (let lo = 0; lo < n; lo += RUN) {
    const hi = Math.min(lo + RUN, n);
    for (let i = lo + 1; i < hi; i++) {
      const x = src[i];
      let j = i - 1;
      while (j >= lo) {
        const y = src[j];
        if (cmp(y, x) <= 0) break;
        src[j + 1] = y;
        j--;
      }
      src[j + 1] = x;
    }
  }
  if (n <= RUN) return src;
  let dst = new Int32Array(n);
  for (let width = RUN; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      // Already in order (common for presorted input): copy.
      if (mid >= hi || cmp(src[mid - 1], src[mid]) <= 0) {
        dst.set(src.subarray(lo, hi), lo);
        continue;
      }
      let i = lo;
      let j = mid;
      let o = lo;
      while (i < mid && j < hi) {
        const a = src[i];
        const b = src[j];
        if (cmp(b, a) < 0) {
          dst[o++] = b;
          j++;
        } else {
          dst[o++] = a;
          i++;
        }
      }
      while (i < mid) dst[o++] = src[i++];
      while (j < hi) dst[o++] = src[j++];
    }
    const t = src;
    src = dst;
    dst = t;
  }
  return src;
}
