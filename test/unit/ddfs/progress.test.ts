/**
 * The transfer progress line of `ddfs push`/`chunk`/`cat`: the formatter (bytes, bar, rate,
 * ETA, fitting the terminal), the drawing on a terminal with a controlled clock, and silence
 * when standard error is not a terminal.
 */
import { describe, expect, it } from 'vitest';
import {
  formatBytes,
  formatClock,
  formatTransfer,
  progress,
  type TransferState,
} from '../../../src/ddfs/client/progress.js';

const MiB = 1024 * 1024;
const state = (o: Partial<TransferState> = {}): TransferState => ({
  label: 'push',
  unit: 'files',
  items: 1,
  totalItems: 4,
  bytes: 256 * MiB,
  totalBytes: 1024 * MiB,
  rate: 64 * MiB,
  elapsedMs: 4000,
  ...o,
});

describe('formatTransfer', () => {
  it('with a known total: bytes of total, bar, percentage, rate and time left', () => {
    expect(formatTransfer(state(), 100)).toBe(
      'push  1/4 files  256.0 MiB / 1.0 GiB  [#####...............] 25%  64.0 MiB/s  eta 0:12',
    );
  });

  it('without a total: bytes, rate and time elapsed, no bar', () => {
    expect(formatTransfer(state({ totalBytes: undefined, totalItems: undefined, unit: 'blobs' }), 100)).toBe(
      'push  1 blobs  256.0 MiB  64.0 MiB/s  0:04',
    );
  });

  it('no rate (and so no ETA) before one is known; eta 0:00 once all is sent', () => {
    expect(formatTransfer(state({ rate: null }), 100)).toBe(
      'push  1/4 files  256.0 MiB / 1.0 GiB  [#####...............] 25%',
    );
    expect(formatTransfer(state({ bytes: 1024 * MiB, items: 4 }), 100)).toMatch(
      /\[#{20}\] 100% {2}64\.0 MiB\/s {2}eta 0:00$/,
    );
    expect(formatTransfer(state({ rate: 0 }), 100)).toMatch(/25% {2}0 B\/s$/);
  });

  it('long transfers: hours in the ETA', () => {
    // 99.75 GiB left at 16 KiB/s.
    expect(formatTransfer(state({ rate: 1024 * 16, totalBytes: 100 * 1024 * MiB }), 120)).toMatch(
      / {2}16\.0 KiB\/s {2}eta 1815:53:36$/,
    );
    expect(formatClock(3723)).toBe('1:02:03');
    expect(formatClock(59.6)).toBe('1:00');
  });

  it('fits the width: the bar shrinks, then goes, then the line is cut', () => {
    const full = formatTransfer(state(), 200);
    for (const width of [80, 70, 60, 40]) {
      const line = formatTransfer(state(), width);
      expect(line.length).toBeLessThanOrEqual(width);
    }
    expect(formatTransfer(state(), full.length - 10)).toMatch(/\[#+\.+\] 25%/);
    expect(formatTransfer(state(), 72)).not.toContain('[');
    expect(formatTransfer(state(), 72)).toContain('25%');
  });

  it('formats bytes', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.0 GiB');
  });
});

describe('progress', () => {
  const fake = (isTTY: boolean) => {
    const out: string[] = [];
    return { out, stream: { isTTY, columns: 200, write: (s: string) => out.push(s) > 0 } };
  };

  it('on a terminal: redraws in place with the recent rate and the ETA, erases itself', () => {
    const { out, stream } = fake(true);
    let t = 0;
    const p = progress({
      label: 'push',
      unit: 'files',
      totalItems: 2,
      totalBytes: 40 * MiB,
      stream,
      now: () => t,
    });
    p.bytes(MiB);
    expect(out.at(-1)).toBe('\r\x1b[Kpush  0/2 files  1.0 MiB / 40.0 MiB  [#...................] 2%');
    // Redrawn at most every 100 ms.
    t = 50;
    p.bytes(MiB);
    expect(out).toHaveLength(1);
    t = 1000;
    p.bytes(2 * MiB); // 4 MiB in 1 s
    expect(out.at(-1)).toBe(
      '\r\x1b[Kpush  0/2 files  4.0 MiB / 40.0 MiB  [##..................] 10%  4.0 MiB/s  eta 0:09',
    );
    // The rate follows the last five seconds (1 MiB/s, then an idle second: 4 MiB in 5 s), not
    // the average since the start.
    for (t = 2000; t <= 10_000; t += 1000) p.bytes(MiB);
    t = 11_000;
    p.item();
    expect(out.at(-1)).toBe(
      '\r\x1b[Kpush  1/2 files  13.0 MiB / 40.0 MiB  [#######.............] 32%  819.2 KiB/s  eta 0:34',
    );
    p.clear();
    expect(out.at(-1)).toBe('\r\x1b[K');
    p.done();
    expect(out.at(-1)).toBe('\r\x1b[K');
  });

  it('draws nothing when not on a terminal', () => {
    const { out, stream } = fake(false);
    const p = progress({ label: 'cat', stream, totalBytes: 10 });
    p.bytes(100);
    p.item();
    p.total({ bytes: 200 });
    p.clear();
    p.done();
    expect(out).toEqual([]);
  });
});
