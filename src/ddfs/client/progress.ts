/**
 * A one-line progress display for long transfers (`ddfs push`, `chunk`, `cat`): items
 * done, bytes done (of the total when known, with a bar and the percentage), the transfer rate
 * over the last few seconds, and the time left (ETA) when the total is known — else the time
 * elapsed. Drawn on stderr only when it is a terminal, at most ten times a second, fitted to its
 * width and erased at the end; otherwise every call is a no-op, so scripts and pipes see
 * nothing. The line itself is {@link formatTransfer}, a pure function.
 *
 * @example
 * const p = progress({ label: 'push', totalBytes: 3 << 30, totalItems: 3, unit: 'files' });
 * p.bytes(65536); p.item(); p.done();
 * // push  1/3 files  1.0 GiB / 3.0 GiB  [######..............] 33%  210.4 MiB/s  eta 0:10
 */

/** Where a progress line is drawn (a TTY stream). */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(s: string): boolean;
}

export interface ProgressOptions {
  label: string;
  totalBytes?: number;
  totalItems?: number;
  /** Name of the items (`files`, `chunks`, `blobs`). */
  unit?: string;
  /** Default: `process.stderr`. */
  stream?: ProgressStream;
  /** Force on or off (default: on iff the stream is a TTY). */
  enabled?: boolean;
  /** Clock in ms (tests). Default `Date.now`. */
  now?: () => number;
}

export interface Progress {
  /** Count transferred bytes. */
  bytes(n: number): void;
  /** Count one finished item. */
  item(): void;
  /** Set or change the totals (e.g. once known). */
  total(t: { bytes?: number; items?: number }): void;
  /** Erase the line for a moment (before printing something else on the terminal). */
  clear(): void;
  /** Erase the line. */
  done(): void;
}

/** What one progress line shows. */
export interface TransferState {
  label: string;
  /** Name of the items (`files`, `chunks`, `blobs`). */
  unit: string;
  items: number;
  totalItems?: number;
  bytes: number;
  /** Total bytes, when known (then a bar, the percentage and the ETA are shown). */
  totalBytes?: number;
  /** Bytes per second lately, or null while not yet known. */
  rate: number | null;
  elapsedMs: number;
}

const NOOP: Progress = { bytes() {}, item() {}, total() {}, clear() {}, done() {} };

/** Redraws at most this often. */
const DRAW_MS = 100;
/** The rate is measured over about this much recent time. */
const RATE_WINDOW_MS = 5000;
/** No rate is shown before this much time has passed (it would be noise). */
const MIN_RATE_SPAN_MS = 500;
const BAR_WIDTH = 20;

/** `1536` → `1.5 KiB`. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** Seconds as `m:ss` or `h:mm:ss` (`0:07`, `12:30`, `1:02:03`). */
export function formatClock(secs: number): string {
  const s = Math.max(0, Math.round(secs));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/**
 * The progress line (no control characters), at most `width` columns: the bar shrinks first,
 * then the line is cut.
 */
export function formatTransfer(s: TransferState, width = 100): string {
  const head = [s.label, `${s.items}${s.totalItems !== undefined ? `/${s.totalItems}` : ''} ${s.unit}`];
  const known = s.totalBytes !== undefined && s.totalBytes > 0;
  head.push(`${formatBytes(s.bytes)}${known ? ` / ${formatBytes(s.totalBytes!)}` : ''}`);
  const tail: string[] = [];
  if (s.rate !== null) tail.push(`${formatBytes(Math.round(s.rate))}/s`);
  if (known) {
    const left = s.totalBytes! - s.bytes;
    if (left <= 0) tail.push(`eta ${formatClock(0)}`);
    else if (s.rate !== null && s.rate > 0) tail.push(`eta ${formatClock(left / s.rate)}`);
  } else tail.push(formatClock(s.elapsedMs / 1000));
  const join = (parts: string[]) => parts.filter(Boolean).join('  ');
  if (!known) return cut(join([...head, ...tail]), width);
  const frac = Math.min(1, Math.max(0, s.bytes / s.totalBytes!));
  const pct = `${Math.floor(frac * 100)}%`;
  const rest = join([...head, pct, ...tail]).length + 5; // '  [' + ']' + ' '
  const barWidth = Math.min(BAR_WIDTH, width - rest);
  if (barWidth < 5) return cut(join([...head, pct, ...tail]), width);
  const full = Math.round(frac * barWidth);
  const bar = `[${'#'.repeat(full)}${'.'.repeat(barWidth - full)}] ${pct}`;
  return cut(join([...head, bar, ...tail]), width);
}

function cut(line: string, width: number): string {
  return line.length <= width ? line : line.slice(0, Math.max(0, width));
}

/** A progress line (see the module comment). */
export function progress(opts: ProgressOptions): Progress {
  const stream = opts.stream ?? process.stderr;
  if (!(opts.enabled ?? stream.isTTY === true)) return NOOP;
  const now = opts.now ?? Date.now;
  const start = now();
  let bytes = 0;
  let items = 0;
  let totalBytes = opts.totalBytes;
  let totalItems = opts.totalItems;
  let lastDraw = Number.NEGATIVE_INFINITY;
  let drawn = false;
  /** Recent (time, bytes) samples, oldest first, for the rate. */
  const samples: [number, number][] = [[start, 0]];
  const rate = (t: number): number | null => {
    while (samples.length > 2 && t - samples[1][0] >= RATE_WINDOW_MS) samples.shift();
    const [t0, b0] = samples[0];
    return t - t0 >= MIN_RATE_SPAN_MS ? ((bytes - b0) * 1000) / (t - t0) : null;
  };
  const draw = (force = false) => {
    const t = now();
    if (!force && t - lastDraw < DRAW_MS) return;
    lastDraw = t;
    samples.push([t, bytes]);
    const line = formatTransfer(
      {
        label: opts.label,
        unit: opts.unit ?? 'items',
        items,
        totalItems,
        bytes,
        totalBytes,
        rate: rate(t),
        elapsedMs: t - start,
      },
      (stream.columns && stream.columns >= 40 ? stream.columns : 100) - 1,
    );
    stream.write(`\r\x1b[K${line}`);
    drawn = true;
  };
  return {
    bytes(n) {
      bytes += n;
      draw();
    },
    item() {
      items++;
      draw();
    },
    total(t) {
      if (t.bytes !== undefined) totalBytes = t.bytes;
      if (t.items !== undefined) totalItems = t.items;
      draw(true);
    },
    clear() {
      if (drawn) stream.write('\r\x1b[K');
      drawn = false;
      lastDraw = Number.NEGATIVE_INFINITY;
    },
    done() {
      if (drawn) stream.write('\r\x1b[K');
      drawn = false;
    },
  };
}
