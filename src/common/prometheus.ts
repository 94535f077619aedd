/**
 * Metrics in the Prometheus text exposition format (version 0.0.4): counters, gauges and
 * histograms with labels, kept in memory and rendered on each scrape. No dependency, no
 * timers: a metric costs a map lookup per update. Values computed at scrape time (queue
 * lengths, node states) are added by a collector callback.
 *
 * @example
 * const reg = new MetricsRegistry();
 * const started = reg.counter('disco_tasks_started_total', 'Task attempts started.', ['phase']);
 * started.inc({ phase: 'map' });
 * reg.collect((out) => out.gauge('disco_nodes', 'Configured nodes.', [[{}, 3]]));
 * res.end(reg.render()); // Content-Type: PROMETHEUS_CONTENT_TYPE
 */

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type Labels = Readonly<Record<string, string>>;

/** Escape a label value (backslash, double quote, newline). */
function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Escape HELP text (backslash, newline). */
function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** `{a="1",b="2"}` or '' for no labels. */
export function formatLabels(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${escapeLabel(labels[k])}"`).join(',')}}`;
}

/** A sample value as Prometheus writes it (`+Inf`, `-Inf`, `NaN`, else a JS number). */
export function formatValue(v: number): string {
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  if (Number.isNaN(v)) return 'NaN';
  return String(v);
}

function labelKey(names: readonly string[], labels: Labels): string {
  return names.map((n) => labels[n] ?? '').join('\u0000');
}

function checkLabels(names: readonly string[], labels: Labels): Labels {
  const out: Record<string, string> = {};
  for (const n of names) out[n] = String(labels[n] ?? '');
  return out;
}

interface Metric {
  render(lines: string[]): void;
}

/** A monotonically increasing count. */
export class Counter implements Metric {
  private readonly values = new Map<string, { labels: Labels; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[] = [],
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const key = labelKey(this.labelNames, labels);
    const cur = this.values.get(key);
    if (cur) cur.value += by;
    else this.values.set(key, { labels: checkLabels(this.labelNames, labels), value: by });
  }

  get(labels: Labels = {}): number {
    return this.values.get(labelKey(this.labelNames, labels))?.value ?? 0;
  }

  render(lines: string[]): void {
    lines.push(`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} counter`);
    for (const { labels, value } of this.values.values())
      lines.push(`${this.name}${formatLabels(labels)} ${formatValue(value)}`);
  }
}

/** A value that goes up and down. */
export class Gauge implements Metric {
  private readonly values = new Map<string, { labels: Labels; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[] = [],
  ) {}

  set(labels: Labels, value: number): void {
    const key = labelKey(this.labelNames, labels);
    const cur = this.values.get(key);
    if (cur) cur.value = value;
    else this.values.set(key, { labels: checkLabels(this.labelNames, labels), value });
  }

  inc(labels: Labels = {}, by = 1): void {
    const key = labelKey(this.labelNames, labels);
    this.set(labels, (this.values.get(key)?.value ?? 0) + by);
  }

  render(lines: string[]): void {
    lines.push(`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} gauge`);
    for (const { labels, value } of this.values.values())
      lines.push(`${this.name}${formatLabels(labels)} ${formatValue(value)}`);
  }
}

/** Default buckets for task durations, in seconds (10 ms … 1 h). */
export const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

/** Observations counted into cumulative buckets, with their sum and count. */
export class Histogram implements Metric {
  private readonly values = new Map<
    string,
    { labels: Labels; counts: number[]; sum: number; count: number }
  >();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[] = [],
    readonly buckets: readonly number[] = DURATION_BUCKETS,
  ) {}

  observe(labels: Labels, value: number): void {
    const key = labelKey(this.labelNames, labels);
    let cur = this.values.get(key);
    if (!cur) {
      cur = {
        labels: checkLabels(this.labelNames, labels),
        counts: new Array<number>(this.buckets.length).fill(0),
        sum: 0,
        count: 0,
      };
      this.values.set(key, cur);
    }
    // Buckets are stored per bound and made cumulative when rendered.
    const i = this.buckets.findIndex((b) => value <= b);
    if (i >= 0) cur.counts[i] += 1;
    cur.sum += value;
    cur.count += 1;
  }

  render(lines: string[]): void {
    lines.push(`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} histogram`);
    for (const { labels, counts, sum, count } of this.values.values()) {
      let acc = 0;
      this.buckets.forEach((b, i) => {
        acc += counts[i];
        lines.push(`${this.name}_bucket${formatLabels({ ...labels, le: formatValue(b) })} ${acc}`);
      });
      lines.push(`${this.name}_bucket${formatLabels({ ...labels, le: '+Inf' })} ${count}`);
      lines.push(`${this.name}_sum${formatLabels(labels)} ${formatValue(sum)}`);
      lines.push(`${this.name}_count${formatLabels(labels)} ${count}`);
    }
  }
}

/** Writes metrics whose values are read at scrape time. */
export class ScrapeWriter {
  constructor(private readonly lines: string[]) {}

  private family(type: 'gauge' | 'counter', name: string, help: string, samples: [Labels, number][]): void {
    this.lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of samples) this.lines.push(`${name}${formatLabels(labels)} ${formatValue(v)}`);
  }

  gauge(name: string, help: string, samples: [Labels, number][]): void {
    this.family('gauge', name, help, samples);
  }

  counter(name: string, help: string, samples: [Labels, number][]): void {
    this.family('counter', name, help, samples);
  }
}

/** A set of metrics rendered together. */
export class MetricsRegistry {
  private readonly metrics: Metric[] = [];
  private readonly collectors: ((out: ScrapeWriter) => void)[] = [];

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    const m = new Counter(name, help, labelNames);
    this.metrics.push(m);
    return m;
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    const m = new Gauge(name, help, labelNames);
    this.metrics.push(m);
    return m;
  }

  histogram(
    name: string,
    help: string,
    labelNames: readonly string[] = [],
    buckets?: readonly number[],
  ): Histogram {
    const m = new Histogram(name, help, labelNames, buckets);
    this.metrics.push(m);
    return m;
  }

  /** Add a callback that writes scrape-time values. */
  collect(fn: (out: ScrapeWriter) => void): void {
    this.collectors.push(fn);
  }

  /** The whole exposition, ending with a newline. */
  render(): string {
    const lines: string[] = [];
    const out = new ScrapeWriter(lines);
    for (const fn of this.collectors) fn(out);
    for (const m of this.metrics) m.render(lines);
    return `${lines.join('\n')}\n`;
  }
}

/** Process metrics every exporter carries (memory, CPU, start time). */
export function processMetrics(out: ScrapeWriter): void {
  const mem = process.memoryUsage();
  const cpu = process.cpuUsage();
  out.gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', [[{}, mem.rss]]);
  out.gauge('nodejs_heap_used_bytes', 'V8 heap in use, in bytes.', [[{}, mem.heapUsed]]);
  out.counter('process_cpu_seconds_total', 'User and system CPU time spent, in seconds.', [
    [{}, (cpu.user + cpu.system) / 1e6],
  ]);
  out.gauge('process_start_time_seconds', 'Start time of the process since the epoch, in seconds.', [
    [{}, Math.round((Date.now() - process.uptime() * 1000) / 1000)],
  ]);
}
