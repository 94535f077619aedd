/**
 * A one-line progress bar for `disco run --wait` and `disco wait` on a terminal: the current
 * phase, a bar, done/total tasks, running and failed counts, the task rate and the elapsed
 * time, redrawn in place on standard error. Nothing is drawn when the sink is not a terminal,
 * so pipes and logs stay clean.
 *
 * @example
 * const bar = JobProgress.forSink(process.stderr, job.name); // null when not a terminal
 * bar?.update(await disco.jobinfo(job.name));
 * bar?.clear();
 */
import type { TextSink } from './event-monitor.js';

export interface PhaseInfo {
  mapi: number[];
  redi: number[];
}

export interface ProgressState {
  phase: 'map' | 'reduce';
  done: number;
  total: number;
  running: number;
  failed: number;
  /** Tasks done per second, or null before a rate is known. */
  rate: number | null;
  elapsedMs: number;
}

/** The phase to show: reduce once it has started, else map. */
export function progressOf(info: PhaseInfo): Omit<ProgressState, 'rate' | 'elapsedMs'> {
  const redi = info.redi ?? [0, 0, 0, 0];
  const useReduce = redi[1] + redi[2] + redi[3] > 0;
  const [waiting, running, done, failed] = useReduce ? redi : (info.mapi ?? [0, 0, 0, 0]);
  return { phase: useReduce ? 'reduce' : 'map', done, running, failed, total: waiting + running + done };
}

function clock(ms: number): string {
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** The line (without control characters), fitted to `width` columns. */
export function formatProgress(name: string, s: ProgressState, width = 80): string {
  const pct = s.total === 0 ? 0 : s.done / s.total;
  const stats = [
    `${s.done}/${s.total}`,
    `${s.running} running`,
    s.failed > 0 ? `${s.failed} failed` : '',
    s.rate !== null ? `${s.rate >= 10 ? s.rate.toFixed(0) : s.rate.toFixed(1)} tasks/s` : '',
    clock(s.elapsedMs),
  ]
    .filter(Boolean)
    .join(' · ');
  const head = `${name} ${s.phase}`;
  const room = width - head.length - stats.length - 5;
  const barWidth = Math.max(0, Math.min(30, room));
  const filled = Math.round(pct * barWidth);
  const bar = barWidth >= 5 ? ` [${'█'.repeat(filled)}${'░'.repeat(barWidth - filled)}]` : '';
  const line = `${head}${bar} ${stats}`;
  return line.length > width ? `${line.slice(0, Math.max(0, width - 1))}…` : line;
}

/** Redraws the progress line of one job on a terminal. */
export class JobProgress {
  private readonly start = Date.now();
  private first: { at: number; done: number; phase: string } | null = null;
  private drawn = false;

  private constructor(
    private readonly sink: TextSink & { columns?: number },
    private readonly name: string,
  ) {}

  /** A progress bar on `sink`, or null when it is not a terminal. */
  static forSink(sink: TextSink & { columns?: number }, name: string): JobProgress | null {
    return sink.isTTY ? new JobProgress(sink, name) : null;
  }

  update(info: PhaseInfo, now = Date.now()): void {
    const p = progressOf(info);
    if (!this.first || this.first.phase !== p.phase) this.first = { at: now, done: p.done, phase: p.phase };
    const dt = (now - this.first.at) / 1000;
    const rate = dt >= 1 ? (p.done - this.first.done) / dt : null;
    const line = formatProgress(
      this.name,
      { ...p, rate, elapsedMs: now - this.start },
      (this.sink.columns ?? 80) - 1,
    );
    this.sink.write(`\r\x1b[2K${line}`);
    this.drawn = true;
  }

  /** Erase the line (before other output, and at the end). */
  clear(): void {
    if (!this.drawn) return;
    this.sink.write('\r\x1b[2K');
    this.drawn = false;
  }
}
