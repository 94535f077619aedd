/**
 * `disco trace <job>`: a job's task attempts as a Chrome trace (the JSON Trace Event Format
 * read by chrome://tracing, Perfetto and speedscope): one process per node, one thread per slot
 * lane, one complete event (`ph: "X"`) per attempt, timestamps in µs from the job's first task.
 * The input is the master's timeline (`GET /disco/api/v1/jobs/<name>/timeline`).
 *
 * @example
 * const t = await (await fetch(`${master}/disco/api/v1/jobs/${job}/timeline`)).json();
 * writeFileSync('job.trace.json', JSON.stringify(chromeTrace(job, t)));
 */

/** The timeline as the master's API returns it. */
export interface TimelineJson {
  start: number;
  end: number;
  nodes: { node: string; lanes: number }[];
  bars: {
    mode: string;
    taskid: number;
    attempt: number;
    node: string;
    lane: number;
    start: number;
    end: number;
    outcome: string;
  }[];
}

export interface TraceEvent {
  name: string;
  ph: 'X' | 'M';
  pid: number;
  tid: number;
  ts?: number;
  dur?: number;
  cat?: string;
  args?: Record<string, unknown>;
}

export interface ChromeTrace {
  traceEvents: TraceEvent[];
  displayTimeUnit: 'ms';
  otherData: Record<string, string>;
}

/** Build the trace of `job` from its timeline. */
export function chromeTrace(job: string, t: TimelineJson): ChromeTrace {
  const events: TraceEvent[] = [];
  const pids = new Map<string, number>();
  t.nodes.forEach(({ node, lanes }, i) => {
    const pid = i + 1;
    pids.set(node, pid);
    events.push({ name: 'process_name', ph: 'M', pid, tid: 0, args: { name: node } });
    events.push({ name: 'process_sort_index', ph: 'M', pid, tid: 0, args: { sort_index: pid } });
    for (let lane = 0; lane < lanes; lane++)
      events.push({ name: 'thread_name', ph: 'M', pid, tid: lane + 1, args: { name: `slot ${lane + 1}` } });
  });
  for (const b of t.bars) {
    const pid = pids.get(b.node);
    if (pid === undefined) continue;
    events.push({
      name: `${b.mode}:${b.taskid}`,
      cat: b.mode,
      ph: 'X',
      pid,
      tid: b.lane + 1,
      ts: (b.start - t.start) * 1000,
      dur: Math.max(0, b.end - b.start) * 1000,
      args: { attempt: b.attempt, outcome: b.outcome, node: b.node },
    });
  }
  return {
    traceEvents: events,
    displayTimeUnit: 'ms',
    otherData: { job, start: new Date(t.start || 0).toISOString() },
  };
}
