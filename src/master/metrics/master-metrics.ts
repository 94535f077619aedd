/**
 * The master's `/metrics`: the task counters kept by the {@link Observatory} plus values read
 * at scrape time — jobs by state, tasks waiting/running per phase, scheduler queue lengths,
 * nodes (state, slots, running tasks, disk, task outcomes), DDFS figures from the last GC run,
 * and process figures. `/health` is a small JSON summary with status 200 while the master
 * serves.
 */
import { processMetrics, type ScrapeWriter } from '../../common/prometheus.js';
import type { MasterContext } from '../http/context.js';

/** DDFS GC statistics as `gc_stats` answers them. */
export interface GcStatsReply {
  timestamp: string;
  stats: Record<string, [number, number]>;
}

/** The last GC summary, or null (before the first run, or an unexpected shape). */
export function gcStatsOf(ctx: MasterContext): GcStatsReply | null {
  const s = ctx.ddfsGc?.stats() as GcStatsReply | null | undefined;
  if (!s || typeof s !== 'object' || typeof s.timestamp !== 'string' || typeof s.stats !== 'object')
    return null;
  return s;
}

/** `YYYY/MM/DD HH:MM:SS` (local time) → ms since the epoch, NaN if malformed. */
export function parseEventTime(t: string): number {
  const m = /^(\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(t);
  if (!m) return Number.NaN;
  return new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]).getTime();
}

/** How often GC completion is sampled for `disco_ddfs_gc_runs_total`. */
const GC_SAMPLE_MS = 5000;

/**
 * Register the scrape-time collectors on `ctx.observatory.metrics`. Returns a function that
 * stops the GC sampler.
 */
export function registerMasterMetrics(ctx: MasterContext): () => void {
  let gcRuns = 0;
  let lastGc: string | null = null;
  const sampleGc = () => {
    const s = gcStatsOf(ctx);
    // GC keeps its last statistics in memory only: every new timestamp is a run of this master.
    if (s && s.timestamp !== lastGc) {
      gcRuns += 1;
      lastGc = s.timestamp;
    }
  };
  const timer = setInterval(sampleGc, GC_SAMPLE_MS);
  timer.unref();

  ctx.observatory.metrics.collect((out) => {
    sampleGc();
    writeMasterMetrics(ctx, out, gcRuns);
  });
  return () => clearInterval(timer);
}

function writeMasterMetrics(ctx: MasterContext, out: ScrapeWriter, gcRuns: number): void {
  const { manager, registry, config } = ctx;
  out.gauge('disco_build_info', 'Version of this master.', [[{ version: ctx.version }, 1]]);
  out.gauge('disco_master_start_time_seconds', 'When this master started, since the epoch.', [
    [{}, Math.round(ctx.startedAt / 1000)],
  ]);

  // Jobs and their tasks.
  const byState = { active: 0, ready: 0, dead: 0 };
  const waiting = { map: 0, reduce: 0 };
  const running = { map: 0, reduce: 0 };
  for (const j of manager.jobs.list()) {
    byState[j.record.status] += 1;
    if (j.record.status !== 'active' || !j.live) continue;
    // jobinfo's view: prefetched attempts still queued on a node count as waiting.
    const c = manager.jobInfo(j.record.name) ?? j.live.counters();
    waiting.map += c.mapi[0];
    running.map += c.mapi[1];
    waiting.reduce += c.redi[0];
    running.reduce += c.redi[1];
  }
  out.gauge(
    'disco_jobs',
    'Jobs known to the master, by state.',
    Object.entries(byState).map(([state, n]) => [{ state }, n]),
  );
  out.gauge(
    'disco_tasks_waiting',
    'Tasks of running jobs not yet running (queued or backing off), by phase.',
    [
      [{ phase: 'map' }, waiting.map],
      [{ phase: 'reduce' }, waiting.reduce],
    ],
  );
  out.gauge('disco_tasks_running', 'Tasks running, by phase.', [
    [{ phase: 'map' }, running.map],
    [{ phase: 'reduce' }, running.reduce],
  ]);
  const sched = manager.schedulerStats();
  out.gauge('disco_scheduler_queued_tasks', 'Task attempts queued in the scheduler.', [[{}, sched.queued]]);
  out.gauge('disco_scheduler_assigned_tasks', 'Task attempts assigned to nodes and not ended.', [
    [{}, sched.running],
  ]);
  out.gauge('disco_scheduler_jobs', 'Jobs registered with the scheduler.', [[{}, sched.jobs]]);

  // Nodes.
  const info = registry.nodeinfo(manager.tasksByHost());
  const hosts = Object.entries(info);
  let connected = 0;
  let blacklisted = 0;
  let slots = 0;
  for (const [, n] of hosts) {
    if (n.connected) connected += 1;
    if (n.blacklisted) blacklisted += 1;
    slots += n.max_workers;
  }
  out.gauge(
    'disco_nodes',
    'Configured nodes, by state (a blacklisted node also counts as connected or not).',
    [
      [{ state: 'configured' }, hosts.length],
      [{ state: 'connected' }, connected],
      [{ state: 'disconnected' }, hosts.length - connected],
      [{ state: 'blacklisted' }, blacklisted],
      [{ state: 'gc_blacklisted' }, config.gcBlacklist().length],
    ],
  );
  out.gauge('disco_slots', 'Task slots (cores) configured over all nodes.', [[{}, slots]]);
  out.gauge(
    'disco_node_up',
    'Whether the node is connected to the master.',
    hosts.map(([node, n]) => [{ node }, n.connected ? 1 : 0]),
  );
  out.gauge(
    'disco_node_slots',
    'Task slots (cores) of the node.',
    hosts.map(([node, n]) => [{ node }, n.max_workers]),
  );
  out.gauge(
    'disco_node_tasks_running',
    'Tasks running on the node.',
    hosts.map(([node, n]) => [{ node }, n.tasks?.length ?? 0]),
  );
  out.counter(
    'disco_node_tasks_total',
    'Task attempts that ended on the node, by outcome (ok, data_error: retried, error: crashed).',
    hosts.flatMap(([node, n]) => [
      [{ node, outcome: 'ok' }, n.job_ok],
      [{ node, outcome: 'data_error' }, n.data_error],
      [{ node, outcome: 'error' }, n.error],
    ]),
  );
  const withDisk = hosts.filter(([, n]) => n.diskfree !== undefined);
  out.gauge(
    'disco_node_disk_free_bytes',
    'Free space on the node’s DDFS volumes, in bytes.',
    withDisk.map(([node, n]) => [{ node }, (n.diskfree ?? 0) * 1024]),
  );
  out.gauge(
    'disco_node_disk_used_bytes',
    'Space used on the node’s DDFS volumes, in bytes.',
    withDisk.map(([node, n]) => [{ node }, (n.diskused ?? 0) * 1024]),
  );

  // DDFS, as of the last GC run.
  if (ctx.ddfsGc) {
    const gc = gcStatsOf(ctx);
    out.counter('disco_ddfs_gc_runs_total', 'DDFS GC runs seen finishing by this master.', [[{}, gcRuns]]);
    out.gauge('disco_ddfs_gc_running', 'Whether DDFS GC is running now.', [
      [{}, ctx.ddfsGc.status() !== '' && !ctx.ddfsGc.status().startsWith('GC stopped') ? 1 : 0],
    ]);
    if (gc) {
      const at = parseEventTime(gc.timestamp);
      if (Number.isFinite(at))
        out.gauge('disco_ddfs_gc_last_run_timestamp_seconds', 'When the last DDFS GC run finished.', [
          [{}, Math.round(at / 1000)],
        ]);
      const pair = (k: string) => gc.stats[k] ?? [0, 0];
      out.gauge('disco_ddfs_tags', 'DDFS tags at the last GC run, kept or deleted.', [
        [{ state: 'kept' }, pair('Tags kept')[0]],
        [{ state: 'deleted' }, pair('Tags deleted')[0]],
      ]);
      out.gauge('disco_ddfs_tag_bytes', 'Bytes of DDFS tag files at the last GC run.', [
        [{ state: 'kept' }, pair('Tags kept')[1]],
        [{ state: 'deleted' }, pair('Tags deleted')[1]],
      ]);
      out.gauge('disco_ddfs_blobs', 'DDFS blobs at the last GC run, kept or deleted.', [
        [{ state: 'kept' }, pair('Blobs kept')[0]],
        [{ state: 'deleted' }, pair('Blobs deleted')[0]],
      ]);
      out.gauge('disco_ddfs_blob_bytes', 'Bytes of DDFS blobs at the last GC run.', [
        [{ state: 'kept' }, pair('Blobs kept')[1]],
        [{ state: 'deleted' }, pair('Blobs deleted')[1]],
      ]);
    }
  }
  processMetrics(out);
}

/** `/health`: what a load balancer or a person checks first. */
export function healthOf(ctx: MasterContext): Record<string, unknown> {
  const info = ctx.registry.nodeinfo(new Map());
  const nodes = Object.values(info);
  let active = 0;
  for (const j of ctx.manager.jobs.list()) if (j.record.status === 'active') active += 1;
  return {
    status: 'ok',
    role: 'master',
    version: ctx.version,
    uptimeSeconds: Math.round((Date.now() - ctx.startedAt) / 1000),
    nodes: { configured: nodes.length, connected: nodes.filter((n) => n.connected).length },
    jobs: { active },
  };
}
