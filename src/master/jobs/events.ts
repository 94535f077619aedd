/**
 * Job events (wire spec §7.1): the line format of the `events` file, the buffered append-only
 * writer, and the `jobevents` query (newest first, filtered).
 *
 * A line is `["YYYY/MM/DD HH:MM:SS","<host>",<JSON string message>]\n`. Messages that are not
 * valid Unicode are replaced by `WARNING: Binary message data: \xNN...` (one `\xNN` per byte).
 */
import { appendFile, open } from 'node:fs/promises';
import { formatEventTime } from '../../common/time.js';

/** The original keeps at most this many lines per `jobevents` reply. */
export const MAX_JOBEVENTS = 1000;

/** Flush the event buffer at least this often (the original: every 2 s). */
export const EVENT_FLUSH_MS = 200;

/** Flush at once when this many lines are buffered (as the original). */
export const EVENT_FLUSH_LINES = 1000;

/** True when `s` has an unpaired UTF-16 surrogate (cannot be encoded as UTF-8). */
function hasLoneSurrogate(s: string): boolean {
  return /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);
}

/**
 * The message as it goes into the log: text unchanged when it is valid Unicode, otherwise the
 * binary warning with every byte escaped (bytes that are not UTF-8 arrive as a Buffer).
 */
export function sanitizeMessage(msg: string | Uint8Array): string {
  if (typeof msg === 'string') {
    if (!hasLoneSurrogate(msg)) return msg;
    return binaryWarning(Buffer.from(msg, 'utf8'));
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(msg);
  } catch {
    return binaryWarning(msg);
  }
}

function binaryWarning(bytes: Uint8Array): string {
  let hex = '';
  for (const b of bytes) hex += `\\x${b.toString(16).padStart(2, '0')}`;
  return `WARNING: Binary message data: ${hex}`;
}

/** One event line, including the trailing newline. */
export function formatEventLine(host: string, message: string | Uint8Array, at: Date = new Date()): string {
  return `${JSON.stringify([formatEventTime(at), host, sanitizeMessage(message)])}\n`;
}

/**
 * Restrict a `jobevents` filter as the original does before its `grep -i`: lowercase, then keep
 * only `[a-zA-Z0-9]`, the range `:`–`_` and `!@`.
 */
export function cleanFilter(filter: string): string {
  return filter.toLowerCase().replace(/[^a-zA-Z0-9:-_!@]/g, '');
}

/** True when `line` matches a cleaned filter (case-insensitive substring; '' matches all). */
export function lineMatches(line: string, cleaned: string): boolean {
  return cleaned === '' || line.toLowerCase().includes(cleaned);
}

/**
 * The newest `num` (≤ {@link MAX_JOBEVENTS}) lines of an events file that match `filter`,
 * newest first, without the trailing newline. Reads the file backwards in chunks, so memory is
 * bounded by the answer, not the file. A missing file gives [].
 */
export async function readNewestEvents(file: string, num: number, filter = ''): Promise<string[]> {
  const want = Math.max(0, Math.min(MAX_JOBEVENTS, Math.floor(num)));
  if (want === 0) return [];
  const cleaned = cleanFilter(filter);
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(file, 'r');
  } catch {
    return [];
  }
  const out: string[] = [];
  try {
    const { size } = await fh.stat();
    const CHUNK = 64 * 1024;
    let pos = size;
    // Bytes of a line that began before the chunk just read.
    let carry: Buffer = Buffer.alloc(0);
    while (pos > 0 && out.length < want) {
      const len = Math.min(CHUNK, pos);
      pos -= len;
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, pos);
      let data = Buffer.concat([buf, carry]);
      let end = data.length;
      for (let i = data.length - 1; i >= 0 && out.length < want; i--) {
        if (data[i] !== 0x0a) continue;
        pushLine(data.subarray(i + 1, end), cleaned, out);
        end = i;
      }
      data = data.subarray(0, end);
      carry = Buffer.from(data);
    }
    if (pos === 0 && out.length < want && carry.length > 0) pushLine(carry, cleaned, out);
  } finally {
    await fh.close();
  }
  return out;
}

function pushLine(bytes: Buffer, cleaned: string, out: string[]): void {
  if (bytes.length === 0) return;
  const line = bytes.toString('utf8');
  if (lineMatches(line, cleaned)) out.push(line);
}

/** `jobevents` body: the lines joined with `,` inside `[...]` (a JSON list of event arrays). */
export function jobEventsBody(lines: string[]): string {
  return `[${lines.join(',')}]`;
}

/**
 * Append-only writer of one job's `events` file. Lines are buffered and appended at most every
 * {@link EVENT_FLUSH_MS} ms, at {@link EVENT_FLUSH_LINES} lines, or when {@link flush} is called
 * (phase end, job end, before a read), so a busy job costs one write per interval, not per event.
 * Writes are serialized; `flush()` resolves once everything added before it is on disk (page cache).
 */
export class EventLog {
  private buffer: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();
  /** Last write error, kept so a broken disk is reported instead of silently dropping events. */
  lastError: Error | null = null;

  constructor(readonly file: string) {}

  /** Add one event; returns the formatted line. */
  add(host: string, message: string | Uint8Array, at: Date = new Date()): string {
    const line = formatEventLine(host, message, at);
    this.buffer.push(line);
    if (this.buffer.length >= EVENT_FLUSH_LINES) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), EVENT_FLUSH_MS);
      this.timer.unref();
    }
    return line;
  }

  /** Write out everything buffered so far. Never rejects (errors land in {@link lastError}). */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.buffer.length > 0) {
      const data = this.buffer.join('');
      this.buffer = [];
      this.chain = this.chain.then(() =>
        appendFile(this.file, data).catch((e: Error) => {
          this.lastError = e;
        }),
      );
    }
    return this.chain;
  }

  /** Flush and fsync (job end: the log must survive a crash from here on). */
  async sync(): Promise<void> {
    await this.flush();
    this.chain = this.chain.then(async () => {
      try {
        const fh = await open(this.file, 'a');
        try {
          await fh.sync();
        } finally {
          await fh.close();
        }
      } catch (e) {
        this.lastError = e as Error;
      }
    });
    await this.chain;
  }

  /** Drop buffered lines and stop the timer (the job directory is being deleted). */
  discard(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.buffer = [];
  }
}
