/**
 * The external sort's merge of run files: a tournament (loser) tree over one cursor per run,
 * comparing key prefixes first when every run holds string keys, or every run binary keys.
 *
 * @example
 * const m = new Merger(runs, drop, 8 << 10);
 * try { while (m.advance()) use(m.key, m.value); } finally { m.close(); }
 */
import { FileSource } from '../../protocol/record-stream.js';
import { compareBinary, compareKeys } from '../key-order.js';
import { compareStrings } from './key-prefix.js';
import { commonKind, type KeyKind, type RecordSource, type Run, RunCursor } from './run-files.js';

/**
 * K-way merge of sorted run files with a tournament (loser) tree: each record costs
 * log2(k) comparisons. Stable: equal keys come in run order. Each run file is removed once
 * read.
 */
export class Merger implements RecordSource {
  key: unknown = undefined;
  value: unknown = undefined;
  private readonly cursors: RunCursor[];
  /** `tree[0]` is the winner's cursor index, `tree[1..k)` the losers of each match. */
  private readonly tree: Int32Array;
  private readonly k: number;
  private readonly keys: KeyKind;
  private started = false;

  constructor(
    private readonly runs: Run[],
    private readonly drop: (p: string) => void,
    sliceBytes: number,
  ) {
    this.k = runs.length;
    this.keys = commonKind(runs);
    this.cursors = [];
    try {
      for (let i = 0; i < runs.length; i++) {
        const c = new RunCursor(i, new FileSource(runs[i].file), runs[i].file, this.keys, sliceBytes);
        this.cursors.push(c);
        if (!c.advance()) this.finish(c);
      }
    } catch (e) {
      this.close();
      throw e;
    }
    this.tree = new Int32Array(Math.max(1, this.k));
    this.build();
  }

  /** True when cursor `a` comes before cursor `b`. */
  private before(a: RunCursor, b: RunCursor): boolean {
    if (a.done) return false;
    if (b.done) return true;
    let c: number;
    if (this.keys === 'string') c = compareStrings(a.prefix, a.key as string, b.prefix, b.key as string);
    else if (this.keys === 'binary')
      c = a.prefix !== b.prefix ? a.prefix - b.prefix : compareBinary(a.key as Buffer, b.key as Buffer);
    else c = compareKeys(a.key, b.key);
    return c !== 0 ? c < 0 : a.index < b.index;
  }

  /** Play every match once (leaves are cursors; node i's children are 2i and 2i+1). */
  private build(): void {
    const k = this.k;
    if (k === 1) {
      this.tree[0] = 0;
      return;
    }
    // winners[i] for the internal nodes 1..k-1; leaves are k..2k-1 (cursor = leaf - k).
    const winners = new Int32Array(2 * k);
    for (let i = 0; i < k; i++) winners[k + i] = i;
    for (let node = k - 1; node >= 1; node--) {
      const a = winners[2 * node];
      const b = winners[2 * node + 1];
      const aFirst = this.before(this.cursors[a], this.cursors[b]);
      winners[node] = aFirst ? a : b;
      this.tree[node] = aFirst ? b : a;
    }
    this.tree[0] = winners[1];
  }

  /** Replay the matches of cursor `w` (whose record changed) from its leaf to the root. */
  private replay(w: number): void {
    const tree = this.tree;
    const cursors = this.cursors;
    let winner = w;
    for (let node = (w + this.k) >> 1; node >= 1; node >>= 1) {
      const other = tree[node];
      if (this.before(cursors[other], cursors[winner])) {
        tree[node] = winner;
        winner = other;
      }
    }
    tree[0] = winner;
  }

  /** Move to the next record in order; false at the end. */
  advance(): boolean {
    if (this.k === 0) return false;
    if (this.started) {
      const w = this.tree[0];
      const c = this.cursors[w];
      if (!c.done && !c.advance()) this.finish(c);
      this.replay(w);
    }
    this.started = true;
    const top = this.cursors[this.tree[0]];
    if (top.done) return false;
    this.key = top.key;
    this.value = top.value;
    return true;
  }

  private finish(c: RunCursor): void {
    c.close();
    this.drop(this.runs[c.index].file);
  }

  /** Close every run file (each is removed). */
  close(): void {
    for (const c of this.cursors) {
      try {
        c.close();
      } catch {
        // closing twice is harmless
      }
      this.drop(this.runs[c.index].file);
    }
  }
}
