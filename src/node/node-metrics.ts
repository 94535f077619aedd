/**
 * A node's `/metrics` (Prometheus text) and `/health`, served by its data server: tasks
 * running and their outcomes, worker processes (running a task, starting, ready, parked), data
 * server traffic (requests and bytes read by workers, other nodes and clients), shuffles, bytes
 * written (task outputs, and partition files built by shuffles), and disk figures. Task and
 * shuffle counts come from the messages the node sends the master; byte counts from the task
 * runner (output files, measured at DONE) and the shuffle.
 */
import { MetricsRegistry, processMetrics } from '../common/prometheus.js';
import type { NodeToMaster } from '../protocol/control.js';

/** What the node can tell at scrape time. */
export interface NodeState {
  host: string;
  connected: boolean;
  tasksRunning: number;
  pool: { starting: number; ready: number; parked: number };
  disk: { free: number; used: number };
}

export class NodeMetrics {
  readonly registry = new MetricsRegistry();
  private readonly started = Date.now();
  private readonly tasks = this.registry.counter(
    'disco_node_tasks_ended_total',
    'Tasks this node reported ended, by phase and outcome (done, error, fatal).',
    ['phase', 'outcome'],
  );
  private readonly taskSeconds = this.registry.histogram(
    'disco_node_task_duration_seconds',
    'Run time of tasks done on this node, by phase.',
    ['phase'],
  );
  private readonly shuffles = this.registry.counter(
    'disco_node_shuffles_total',
    'Shuffles of phase outputs on this node, by outcome.',
    ['outcome'],
  );
  private readonly shuffleBytes = this.registry.counter(
    'disco_node_shuffle_bytes_total',
    'Bytes of task outputs appended to partition files by shuffles on this node, by phase.',
    ['phase'],
  );
  private readonly outputBytes = this.registry.counter(
    'disco_node_task_output_bytes_total',
    'Bytes of the local output files of tasks done on this node, by phase.',
    ['phase'],
  );
  private readonly requests = this.registry.counter(
    'disco_node_data_requests_total',
    'Requests answered by the data server, by area (disco, ddfs) and status.',
    ['area', 'status'],
  );
  private readonly bytes = this.registry.counter(
    'disco_node_data_sent_bytes_total',
    'Bytes sent by the data server (task outputs, partitions, blobs read remotely), by area.',
    ['area'],
  );

  constructor(private readonly state: () => NodeState) {
    // Byte counters exist from the start (a scraper sees 0, not nothing, before the first job).
    for (const phase of ['map', 'reduce']) {
      this.shuffleBytes.inc({ phase }, 0);
      this.outputBytes.inc({ phase }, 0);
    }
    this.registry.collect((out) => {
      const s = this.state();
      out.gauge('disco_node_connected', 'Whether the control channel to the master is up.', [
        [{}, s.connected ? 1 : 0],
      ]);
      out.gauge('disco_node_tasks_running', 'Tasks running (or queued for a slot) on this node.', [
        [{}, s.tasksRunning],
      ]);
      out.gauge('disco_node_worker_processes', 'Worker processes of this node, by state.', [
        [{ state: 'task' }, s.tasksRunning],
        [{ state: 'starting' }, s.pool.starting],
        [{ state: 'ready' }, s.pool.ready],
        [{ state: 'parked' }, s.pool.parked],
      ]);
      out.gauge('disco_node_disk_free_bytes', 'Free space on the DDFS volumes, in bytes.', [
        [{}, s.disk.free * 1024],
      ]);
      out.gauge('disco_node_disk_used_bytes', 'Space used on the DDFS volumes, in bytes.', [
        [{}, s.disk.used * 1024],
      ]);
      processMetrics(out);
    });
  }

  /** Count a message the node sends the master. */
  sent(msg: NodeToMaster): void {
    switch (msg.type) {
      case 'task_done':
        this.tasks.inc({ phase: msg.mode, outcome: 'done' });
        this.taskSeconds.observe({ phase: msg.mode }, msg.durationMs / 1000);
        return;
      case 'task_failed':
        this.tasks.inc({ phase: msg.mode, outcome: msg.kind });
        return;
      case 'shuffle_done':
        this.shuffles.inc({ outcome: 'done' });
        return;
      case 'shuffle_failed':
        this.shuffles.inc({ outcome: 'failed' });
        return;
    }
  }

  /** Count the bytes a shuffle of `phase` outputs appended to partition files. */
  shuffled(phase: 'map' | 'reduce', bytes: number): void {
    this.shuffleBytes.inc({ phase }, bytes);
  }

  /** Count the bytes of a successful task's output files. */
  taskOutput(phase: 'map' | 'reduce', bytes: number): void {
    this.outputBytes.inc({ phase }, bytes);
  }

  /** Count a data server answer. */
  served(area: 'disco' | 'ddfs' | 'other', status: number, bytes: number): void {
    this.requests.inc({ area, status: String(status) });
    if (bytes > 0) this.bytes.inc({ area }, bytes);
  }

  render(): string {
    return this.registry.render();
  }

  health(): Record<string, unknown> {
    const s = this.state();
    return {
      status: s.connected ? 'ok' : 'disconnected',
      role: 'node',
      host: s.host,
      connected: s.connected,
      tasksRunning: s.tasksRunning,
      uptimeSeconds: Math.round((Date.now() - this.started) / 1000),
    };
  }
}
