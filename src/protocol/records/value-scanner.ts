/**
 * Finds where the MessagePack values of a hunk's body start without decoding them: readers cut
 * a hunk into slices of whole records from it ({@link sliceRecords}), and readers that keep
 * records as bytes ({@link scanValues}) give each record's offsets.
 *
 * @example
 * const starts = valueStarts();
 * if (scanValues(body, starts)) for (let i = 0; i < starts.count; i += 2) ... // record i / 2
 */
/**
 * Where each MessagePack value of a hunk's body starts (see {@link scanValues}): `at[0, count)`,
 * then `at[count]` the body's length. Reused from hunk to hunk (`at` grows as needed).
 */
export interface ValueStarts {
  at: Int32Array;
  count: number;
  /** Some value is or holds binary data. */
  binary: boolean;
}

/** New, empty {@link ValueStarts}. */
export function valueStarts(): ValueStarts {
  return { at: new Int32Array(4096), count: 0, binary: false };
}

/**
 * Find where each top-level MessagePack value of `b` starts, into `into`, walking the
 * structure without decoding it. False when `b` holds extension types (msgpackr's extensions
 * may span the value after them) or is not valid MessagePack.
 *
 * @example
 * const starts = valueStarts();
 * if (scanValues(body, starts)) for (let i = 0; i < starts.count; i += 2) ... // record i / 2
 */
export function scanValues(b: Uint8Array, into: ValueStarts): boolean {
  const end = b.length;
  let at = into.at;
  let count = 0;
  let pos = 0;
  let binary = false;
  while (pos < end) {
    if (count + 1 >= at.length) {
      const bigger = new Int32Array(at.length * 2);
      bigger.set(at);
      at = bigger;
      into.at = at;
    }
    at[count++] = pos;
    // One top-level value, with whatever it contains.
    let pending = 1;
    while (pending > 0) {
      if (pos >= end) return false;
      const t = b[pos];
      pending--;
      if (t < 0x80 || t >= 0xe0) pos += 1;
      else if (t < 0x90) {
        pending += 2 * (t & 0x0f);
        pos += 1;
      } else if (t < 0xa0) {
        pending += t & 0x0f;
        pos += 1;
      } else if (t < 0xc0) pos += 1 + (t & 0x1f);
      else {
        switch (t) {
          case 0xc0:
          case 0xc2:
          case 0xc3:
            pos += 1;
            break;
          case 0xcc:
          case 0xd0:
            pos += 2;
            break;
          case 0xcd:
          case 0xd1:
            pos += 3;
            break;
          case 0xca:
          case 0xce:
          case 0xd2:
            pos += 5;
            break;
          case 0xcb:
          case 0xcf:
          case 0xd3:
            pos += 9;
            break;
          case 0xc4:
          case 0xd9:
            if (t === 0xc4) binary = true;
            if (pos + 1 >= end) return false;
            pos += 2 + b[pos + 1];
            break;
          case 0xc5:
          case 0xda:
            if (t === 0xc5) binary = true;
            if (pos + 2 >= end) return false;
            pos += 3 + ((b[pos + 1] << 8) | b[pos + 2]);
            break;
          case 0xc6:
          case 0xdb:
            if (t === 0xc6) binary = true;
            if (pos + 4 >= end) return false;
            pos += 5 + u32(b, pos + 1);
            break;
          case 0xdc:
            if (pos + 2 >= end) return false;
            pending += (b[pos + 1] << 8) | b[pos + 2];
            pos += 3;
            break;
          case 0xdd:
            if (pos + 4 >= end) return false;
            pending += u32(b, pos + 1);
            pos += 5;
            break;
          case 0xde:
            if (pos + 2 >= end) return false;
            pending += 2 * ((b[pos + 1] << 8) | b[pos + 2]);
            pos += 3;
            break;
          case 0xdf:
            if (pos + 4 >= end) return false;
            pending += 2 * u32(b, pos + 1);
            pos += 5;
            break;
          default:
            // Extensions (0xc7-0xc9, 0xd4-0xd8) and the unused 0xc1.
            return false;
        }
      }
    }
  }
  if (pos > end) return false;
  at[count] = end;
  into.count = count;
  into.binary = binary;
  return true;
}

/** The value starts {@link sliceRecords} works with (used at once, never kept). */
let sliceScratch = valueStarts();
/** Starts a scratch may keep room for between calls (4 MiB). */
const MAX_KEPT_STARTS = 1 << 20;

/**
 * Where to cut a hunk's body into slices of whole records of about `sliceBytes` each, a bigger
 * record alone (the offsets, first 0, last the body's length), whether it holds an odd number
 * of values, and whether it holds binary values. Null when {@link scanValues} finds the body
 * is not plain MessagePack.
 */
export function sliceRecords(
  b: Uint8Array,
  sliceBytes: number,
): { at: number[]; odd: boolean; binary: boolean } | null {
  const scratch = sliceScratch;
  const ok = scanValues(b, scratch);
  // Grown by an unusual hunk (tiny values in a big hunk): not kept for the rest of the process.
  if (scratch.at.length > MAX_KEPT_STARTS) sliceScratch = valueStarts();
  if (!ok) return null;
  const { at: starts, count, binary } = scratch;
  const end = b.length;
  const at = [0];
  let sliceStart = 0;
  for (let v = 2; v <= count; v += 2) {
    const recordStart = starts[v - 2];
    const pos = starts[v];
    // A record of a slice's size or more gets a slice of its own (small values decoded with
    // it do not share its memory, see `unpackDetached`).
    if (pos - recordStart >= sliceBytes && recordStart > sliceStart) at.push(recordStart);
    if (pos - sliceStart >= sliceBytes && pos < end) {
      at.push(pos);
      sliceStart = pos;
    }
  }
  at.push(end);
  return { at, odd: (count & 1) === 1, binary };
}

function u32(b: Uint8Array, i: number): number {
  return ((b[i] << 24) >>> 0) + ((b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]);
}
