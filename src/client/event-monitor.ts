/**
 * Console output of job events while waiting for a job (`Disco.wait({ show })`, or the
 * `DISCO_EVENTS` setting), in the original's three styles (`lib/disco/eventmonitor.py`):
 * colour (the default, on a terminal), `nocolor` (plain `time host message` lines), and
 * `json` (one `[time, host, message]` array per line, on standard output). Text goes to
 * standard error, like the original, so that results printed on standard output stay clean.
 * Besides events, a status line `Status: [map] W waiting, R running, D done, F failed` is
 * printed whenever it changes.
 *
 * @example
 * const monitor = new EventMonitor(disco, jobName, 'nocolor');
 * await monitor.refresh(); // prints events that arrived since the last call
 */
import type { JobEvent } from './events.js';

/** What `wait`/`events` need from the master (kept narrow so tests can fake it). */
export interface EventSource {
  events(name: string, opts: { offset: number }): AsyncIterable<JobEvent>;
  jobinfo(name: string): Promise<{ mapi: number[]; redi: number[] }>;
}

export type EventFormat = 'color' | 'nocolor' | 'json';

/** Writable text sink (process.stderr by default). */
export interface TextSink {
  write(s: string): unknown;
  isTTY?: boolean;
}

/**
 * The output style for a `show` value: false/'' → none; 'json' and 'nocolor' as named; any
 * other truthy value → colour when the sink is a terminal (and `NO_COLOR` is unset).
 */
export function eventFormat(show: boolean | string | undefined, sink: TextSink): EventFormat | null {
  if (show === undefined || show === false || show === '' || show === 'off') return null;
  if (show === 'json') return 'json';
  if (show === 'nocolor') return 'nocolor';
  return sink.isTTY && !process.env.NO_COLOR ? 'color' : 'nocolor';
}

const ESC = '\x1b[';
const color = (code: number, s: string) => `${ESC}${code}m${s}${ESC}0m`;
const GREEN = 32;
const BLUE = 34;
const RED = 31;
const MAGENTA = 35;
const CYAN = 36;

/** Format one event line (without the newline) in the given style. */
export function formatEvent(ev: Pick<JobEvent, 'time' | 'host' | 'message'>, format: EventFormat): string {
  if (format === 'json') return JSON.stringify([ev.time, ev.host, ev.message]);
  if (format === 'nocolor') return `${ev.time} ${ev.host} ${ev.message}`;
  const m = ev.message;
  const msg = m.startsWith('ERROR')
    ? color(RED, m)
    : m.startsWith('WARN')
      ? color(MAGENTA, m)
      : m.startsWith('READY')
        ? `${ESC}42;97m ${m} ${ESC}0m`
        : m;
  return `${color(GREEN, ev.time)} ${color(BLUE, ev.host.padEnd(10))} ${msg}`;
}

/** `Status: [map] W waiting, R running, D done, F failed` from jobinfo counters. */
export function formatStatus(info: { mapi: number[]; redi: number[] }): string {
  const redi = info.redi ?? [0, 0, 0, 0];
  const useReduce = redi.slice(1).reduce((a, b) => a + b, 0) > 0;
  const [w, r, d, f] = useReduce ? redi : (info.mapi ?? [0, 0, 0, 0]);
  return `Status: [${useReduce ? 'reduce' : 'map'}] ${w} waiting, ${r} running, ${d} done, ${f} failed`;
}

/** Prints a job's new events and status changes on each {@link EventMonitor.refresh}. */
export class EventMonitor {
  private offset = 0;
  private prevStatus: string | null = null;

  constructor(
    private readonly source: EventSource,
    private readonly jobName: string,
    private readonly format: EventFormat,
    private readonly err: TextSink = process.stderr,
    private readonly out: TextSink = process.stdout,
  ) {
    if (format === 'color') err.write(`${ESC}44;97m${jobName}:${ESC}0m\n`);
  }

  /** Print events that arrived since the last call, then the status line if it changed. */
  async refresh(): Promise<void> {
    for await (const ev of this.source.events(this.jobName, { offset: this.offset })) {
      this.offset = ev.offset;
      const sink = this.format === 'json' ? this.out : this.err;
      sink.write(`${formatEvent(ev, this.format)}\n`);
    }
    if (this.format === 'json') return;
    const status = formatStatus(await this.source.jobinfo(this.jobName));
    if (status !== this.prevStatus) {
      this.prevStatus = status;
      this.err.write(this.format === 'color' ? `${color(CYAN, status)}\n` : `${status}\n`);
    }
  }
}
