/**
 * A one-line progress display for long transfers (`ddfs push`, `chunk`, `cat`, `get`): items
 * done, bytes done (of the total when known), a bar, and the rate. Drawn on stderr only when
 * it is a terminal, at most ten times a second, and erased at the end; otherwise every call
 * is a no-op, so scripts and pipes see nothing.
 *
 * @example
 * const p = progress({ label: 'push', totalBytes: 3 << 30, totalItems: 3, unit: 'files' });
 * p.bytes(65536); p.item(); p.done();
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

const NOOP: Progress = { bytes() {}, item() {}, total() {}, clear() {}, done() {} };

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

/** A progress line (see the module comment). */
export function progress(opts: ProgressOptions): Progress {
  const stream = opts.stream ?? process.stderr;
  if (!(opts.enabled ?? stream.isTTY === true)) return NOOP;
  const start = Date.now();
  let bytes = 0;
  let items = 0;
  let totalBytes = opts.totalBytes;
  let totalItems = opts.totalItems;
  let lastDraw = 0;
  let drawn = false;
  const draw = (force = false) => {
    const now = Date.now();
    if (!force && now - lastDraw < 100) return;
    lastDraw = now;
    const secs = Math.max(0.001, (now - start) / 1000);
    const parts = [opts.label];
    parts.push(`${items}${totalItems !== undefined ? `/${totalItems}` : ''} ${opts.unit ?? 'items'}`);
    parts.push(`${formatBytes(bytes)}${totalBytes ? ` / ${formatBytes(totalBytes)}` : ''}`);
    if (totalBytes) {
      const frac = Math.min(1, bytes / totalBytes);
      const width = 20;
      const full = Math.round(frac * width);
      parts.push(`[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${Math.floor(frac * 100)}%`);
    }
    parts.push(`${formatBytes(Math.round(bytes / secs))}/s`);
    const cols = stream.columns && stream.columns >= 40 ? stream.columns : 100;
    const line = parts.join('  ').slice(0, cols - 1);
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
      lastDraw = 0;
    },
    done() {
      if (drawn) stream.write('\r\x1b[K');
      drawn = false;
    },
  };
}
