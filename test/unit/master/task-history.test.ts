/** Pure parts of observability: task history views, Chrome trace, Prometheus text format. */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { chromeTrace } from '../../../src/client/trace.js';
import { MetricsRegistry } from '../../../src/common/prometheus.js';
import {
  loadTasksFile,
  saveTasksFile,
  TaskHistory,
  taskTable,
  timeline,
} from '../../../src/master/metrics/task-history.js';
import { parsePrometheus, sampleValue } from '../../harness/prometheus.js';

const ref = (mode: 'map' | 'reduce', taskid: number, attempt = 0) => ({ mode, taskid, attempt });

function sample(): TaskHistory {
  const h = new TaskHistory();
  h.assigned(ref('map', 0), 'n1', 0);
  h.assigned(ref('map', 1), 'n1', 0);
  h.assigned(ref('map', 2), 'n2', 0);
  h.ended(ref('map', 0), 'done', 100);
  h.assigned(ref('map', 3), 'n1', 100, true); // prefetched: waits in n1's queue
  h.ended(ref('map', 1), 'error', 150, 'bad input');
  h.started(ref('map', 3), 150);
  h.assigned(ref('map', 1, 1), 'n2', 200);
  h.ended(ref('map', 2), 'done', 300);
  h.ended(ref('map', 3), 'done', 400);
  return h;
}

describe('task history', () => {
  it('task table: one row per task, latest attempt wins, waiting tasks included', () => {
    const rows = taskTable(sample().attempts, { nrMap: 4, nrReduce: 2, active: true, now: 500 });
    expect(rows.map((r) => [r.mode, r.taskid, r.status, r.attempts, r.node, r.durationMs])).toEqual([
      ['map', 0, 'done', 1, 'n1', 100],
      ['map', 1, 'running', 2, 'n2', 300],
      ['map', 2, 'done', 1, 'n2', 300],
      ['map', 3, 'done', 1, 'n1', 250],
      ['reduce', 0, 'waiting', 0, null, null],
      ['reduce', 1, 'waiting', 0, null, null],
    ]);
    expect(rows[1].message).toBe('bad input');
    const ended = taskTable(sample().attempts, { nrMap: 4, nrReduce: 2, active: false, now: 500 });
    expect(ended.map((r) => r.status)).toEqual(['done', 'killed', 'done', 'done', 'not run', 'not run']);
  });

  it('timeline: attempts in the lowest free slot lane of their node', () => {
    const t = timeline(sample().attempts, 500);
    expect(t.nodes).toEqual([
      { node: 'n1', lanes: 2 },
      { node: 'n2', lanes: 2 },
    ]);
    const lane = (taskid: number, attempt = 0) =>
      t.bars.find((b) => b.taskid === taskid && b.attempt === attempt)?.lane;
    expect([lane(0), lane(1), lane(3), lane(2), lane(1, 1)]).toEqual([0, 1, 0, 0, 1]);
    expect(t.bars.find((b) => b.taskid === 3)?.start).toBe(150);
    expect(t.bars.find((b) => b.taskid === 1 && b.attempt === 1)?.end).toBe(500);
    expect([t.start, t.end]).toEqual([0, 500]);
  });

  it('survives a save and a load', async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'tasks-')), 'tasks.json');
    const h = sample();
    await saveTasksFile(file, 'J@1:2:3', h);
    const back = await loadTasksFile(file);
    expect(back?.attempts).toEqual(h.attempts);
    expect(await loadTasksFile(`${file}.missing`)).toBeNull();
  });

  it('chrome trace: a process per node, a thread per slot, complete events in µs', () => {
    const h = sample();
    const trace = chromeTrace('J@1:2:3', timeline(h.attempts, 1000));
    const meta = trace.traceEvents.filter((e) => e.ph === 'M');
    expect(meta.filter((e) => e.name === 'process_name').map((e) => e.args?.name)).toEqual(['n1', 'n2']);
    expect(meta.filter((e) => e.name === 'thread_name' && e.pid === 1).map((e) => e.args?.name)).toEqual([
      'slot 1',
      'slot 2',
    ]);
    const x = trace.traceEvents.filter((e) => e.ph === 'X');
    expect(x).toHaveLength(5);
    const m3 = x.find((e) => e.name === 'map:3')!;
    expect(m3).toMatchObject({ pid: 1, tid: 1, ts: 150_000, dur: 250_000, cat: 'map' });
  });
});

describe('Prometheus text format', () => {
  it('renders counters, gauges and cumulative histograms that parse back', () => {
    const r = new MetricsRegistry();
    const c = r.counter('t_total', 'A "counter"\nwith two lines.', ['k']);
    c.inc({ k: 'a"b\\c\nd' });
    c.inc({ k: 'a"b\\c\nd' }, 2);
    const h = r.histogram('t_seconds', 'A histogram.', [], [1, 5]);
    for (const v of [0.5, 2, 2, 10]) h.observe({}, v);
    r.collect((out) => out.gauge('t_gauge', 'Gauge.', [[{ x: '1' }, Number.POSITIVE_INFINITY]]));
    const e = parsePrometheus(r.render());
    expect(sampleValue(e, 't_total', { k: 'a"b\\c\nd' })).toBe(3);
    expect(sampleValue(e, 't_seconds_bucket', { le: '1' })).toBe(1);
    expect(sampleValue(e, 't_seconds_bucket', { le: '5' })).toBe(3);
    expect(sampleValue(e, 't_seconds_bucket', { le: '+Inf' })).toBe(4);
    expect(sampleValue(e, 't_seconds_sum')).toBe(14.5);
    expect(sampleValue(e, 't_gauge', { x: '1' })).toBe(Number.POSITIVE_INFINITY);
    expect(e.types.get('t_seconds')).toBe('histogram');
    expect(e.help.get('t_total')).toBe('A "counter"\\nwith two lines.');
  });
});
