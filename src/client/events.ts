/**
 * Job events as the client reads them (wire spec §7.1): the raw events file is a sequence of
 * lines `["YYYY/MM/DD HH:MM:SS","<host>","<message>"]\n`. The client streams it by byte
 * offset: the first read has no `Range`, later reads send `Range: bytes=<offset>-`, where the
 * offset is the byte position just past the last complete line it decoded. A line that is
 * not complete yet (no newline, or not valid JSON) ends a read and is read again next time.
 *
 * @example
 * const { events, next } = parseEventLines(Buffer.from('["2024/01/01 10:00:00","master","Starting job"]\n'), 0);
 * // events[0] = { offset: 49, time: '2024/01/01 10:00:00', host: 'master', message: 'Starting job' }; next = 49
 */

/** One job event; `offset` is the byte position just past its line (resume reading there). */
export interface JobEvent {
  offset: number;
  time: string;
  host: string;
  message: string;
}

/**
 * Decode the complete event lines of `buf`, which starts at byte `start` of the events file.
 * Returns the events and the offset to resume from (past the last decoded line).
 */
export function parseEventLines(buf: Uint8Array, start: number): { events: JobEvent[]; next: number } {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const events: JobEvent[] = [];
  let pos = 0;
  for (;;) {
    const nl = b.indexOf(0x0a, pos);
    if (nl < 0) break;
    const line = b.subarray(pos, nl).toString('utf8').trim();
    if (line !== '') {
      const ev = decodeEvent(line);
      if (!ev) break;
      events.push({ offset: start + nl + 1, ...ev });
    }
    pos = nl + 1;
  }
  return { events, next: start + pos };
}

function decodeEvent(line: string): Omit<JobEvent, 'offset'> | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  if (!Array.isArray(v) || v.length < 3) return null;
  return { time: String(v[0]), host: String(v[1]), message: typeof v[2] === 'string' ? v[2] : String(v[2]) };
}

/**
 * The part of a `rawevents` answer that lies at or after `offset`. A 206 answer starts at
 * `offset`; a 200 is the whole file (a server that ignores the range, or mochiweb answering
 * an unsatisfiable range), so its first `offset` bytes were already seen.
 */
export function sliceFromOffset(status: number, body: Buffer, offset: number): Buffer {
  if (status === 206 || offset === 0) return body;
  return body.subarray(Math.min(offset, body.length));
}
