/** Time formats used on the wire (events, tags, job names, durations). */

/** `YYYY/MM/DD HH:MM:SS` in local time, as in events and `jobinfo.timestamp`. */
export function formatEventTime(d: Date = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}/${p(d.getMonth() + 1)}/${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** `H:MM:SS.mmm`, as in `Finished map phase in 0:00:01.234`. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms));
  const h = Math.floor(total / 3_600_000);
  const m = Math.floor((total % 3_600_000) / 60_000);
  const s = Math.floor((total % 60_000) / 1000);
  const milli = total % 1000;
  return `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.${String(milli).padStart(3, '0')}`;
}

/** Erlang `now()`-style triple, strictly increasing within this process. */
export interface ErlangNow {
  mega: number;
  secs: number;
  micro: number;
}

let lastMicros = 0;
export function erlangNow(): ErlangNow {
  let us = Math.floor(Date.now() * 1000);
  if (us <= lastMicros) us = lastMicros + 1;
  lastMicros = us;
  const totalSecs = Math.floor(us / 1e6);
  return { mega: Math.floor(totalSecs / 1e6), secs: totalSecs % 1e6, micro: us % 1e6 };
}

/** `hex(Mega)-hex(Sec)-hex(Micro)` (DDFS object and partition dir timestamps; `0` → `00`). */
export function ddfsTimestamp(t: ErlangNow = erlangNow()): string {
  const h = (n: number) => (n === 0 ? '00' : n.toString(16));
  return `${h(t.mega)}-${h(t.secs)}-${h(t.micro)}`;
}

/** Parse a DDFS timestamp back to microseconds since the epoch (NaN if malformed). */
export function parseDdfsTimestamp(ts: string): number {
  const parts = ts.split('-');
  if (parts.length !== 3 || parts.some((p) => !/^[0-9a-f]+$/.test(p))) return Number.NaN;
  const [mega, secs, micro] = parts.map((p) => Number.parseInt(p, 16));
  return (mega * 1e6 + secs) * 1e6 + micro;
}
