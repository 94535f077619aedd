/**
 * Property tests of the coordinator against a simulated shell: random interleavings of
 * assignments, results, failures (also of stale attempts), node losses, back-off timers and
 * shuffle answers. Checked after every step: the counters add up, and every finished phase's
 * results cover each task exactly once, with the results of the attempt that was current.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CoordinatorState,
  coordinatorCounters,
  coordinatorStatus,
  coordinatorStep,
  createCoordinator,
  runningHosts,
} from '../../../src/master/jobs/coordinator.js';
import type { PhaseState } from '../../../src/master/jobs/coordinator-phase.js';
import type {
  CoordinatorConfig,
  CoordinatorEffect,
  CoordinatorEvent,
  Mode,
  SchedTask,
} from '../../../src/master/scheduler/types.js';
import { JOB, res } from './coord-helpers.js';

/** Runs per property; raise with PROP_RUNS=5000 for a soak. */
const runs = (n: number): number => Number(process.env.PROP_RUNS ?? n);

const NODES = ['n1', 'n2', 'n3'];

/** What the simulated shell knows. */
class Shell {
  st: CoordinatorState;
  queued = new Map<string, SchedTask>();
  running = new Map<string, { mode: Mode; taskid: number; attempt: number; node: string }>();
  /** Attempts that were stopped or lost: they may still report (late messages). */
  stale: { mode: Mode; taskid: number; attempt: number; node: string }[] = [];
  timers = new Set<string>();
  shuffles = new Map<number, { mode: Mode; node: string; files: string[] }>();
  shuffleTimers = new Set<string>();
  /** The latest attempt queued per task. */
  latest = new Map<string, number>();
  /** Files covered by each shuffle request. */
  requestFiles = new Map<number, string[]>();
  failedReasons: string[] = [];
  ready = false;
  now = 0;
  /** Logical clock (one tick per step) and what happened when. */
  clock = 0;
  lossTimes = new Map<string, number[]>();
  shuffleDoneAt = new Map<number, number>();
  doneAt = new Map<string, number>();
  inputsOf = new Map<string, string[][]>();

  constructor(readonly cfg: CoordinatorConfig) {
    this.st = createCoordinator(cfg);
  }

  step(ev: CoordinatorEvent): CoordinatorEffect[] {
    this.now += 10;
    this.clock += 1;
    if (ev.type === 'node_lost')
      this.lossTimes.set(ev.node, [...(this.lossTimes.get(ev.node) ?? []), this.clock]);
    if (ev.type === 'shuffle_done') this.shuffleDoneAt.set(ev.requestId, this.clock);
    if (ev.type === 'task_done') this.doneAt.set(`${ev.mode}:${ev.taskid}:${ev.attempt}`, this.clock);
    const r = coordinatorStep(this.st, ev);
    this.st = r.state;
    for (const e of r.effects) this.perform(e);
    this.check(r.effects);
    return r.effects;
  }

  private perform(e: CoordinatorEffect): void {
    switch (e.type) {
      case 'queue_task': {
        const key = `${e.task.mode}:${e.task.taskid}`;
        expect(e.task.attempt).toBeGreaterThan(this.latest.get(key) ?? -1);
        this.latest.set(key, e.task.attempt);
        this.queued.set(key, e.task);
        this.inputsOf.set(`${key}:${e.task.attempt}`, e.task.inputs);
        break;
      }
      case 'unqueue_task': {
        const key = `${e.mode}:${e.taskid}`;
        if (this.queued.get(key)?.attempt === e.attempt) this.queued.delete(key);
        break;
      }
      case 'kill_task': {
        const key = `${e.mode}:${e.taskid}:${e.attempt}`;
        const r = this.running.get(key);
        if (r) {
          this.running.delete(key);
          this.stale.push(r);
        }
        break;
      }
      case 'retry_after':
        this.timers.add(`${e.mode}:${e.taskid}`);
        break;
      case 'shuffle':
        this.shuffles.set(e.requestId, { mode: e.mode, node: e.node, files: e.resultFiles });
        this.requestFiles.set(e.requestId, e.resultFiles);
        break;
      case 'retry_shuffle_after':
        this.shuffleTimers.add(`${e.mode}:${e.node}`);
        break;
      case 'map_results':
        this.checkPhaseResults('map', e.results);
        break;
      case 'job_ready':
        this.ready = true;
        if (this.cfg.reducePhase) this.checkPhaseResults('reduce', e.results);
        break;
      case 'job_failed':
        this.failedReasons.push(e.reason);
        break;
      case 'event':
      case 'job_ended':
        break;
    }
  }

  /** Every task of the phase contributes exactly one `.results` file, of its current attempt. */
  private checkPhaseResults(mode: Mode, results: string[]): void {
    const ph = mode === 'map' ? this.st.map : this.st.reduce;
    if (!ph) return; // map-less job: the "map results" are the inputs
    expect(new Set(results).size).toBe(results.length);
    const files: string[] = [];
    const fileNode = new Map<string, string>();
    for (const r of results) {
      const m = /^dir:\/\/([^/]+)\/.*index-(\d+)\.txt\.gz$/.exec(r);
      if (!m) continue;
      const [node, id] = [m[1], Number(m[2])];
      // The index and every file in it were made after the node's last loss (data alive).
      const lastLoss = Math.max(-1, ...(this.lossTimes.get(node) ?? []));
      expect(this.shuffleDoneAt.get(id) ?? -1, `index ${id} on lost ${node}`).toBeGreaterThan(lastLoss);
      for (const f of this.requestFiles.get(id) ?? ['missing']) {
        files.push(f);
        fileNode.set(f, node);
      }
    }
    const seen = new Map<number, number>();
    for (const f of files) {
      const m = /^\.disco\/(map|reduce)-(\d+)-(\d+)\.results$/.exec(f);
      expect(m, f).not.toBeNull();
      expect(m![1]).toBe(mode);
      const taskid = Number(m![2]);
      expect(seen.has(taskid), `${mode}:${taskid} twice in ${JSON.stringify(files)}`).toBe(false);
      seen.set(taskid, Number(m![3]));
      const lastLoss = Math.max(-1, ...(this.lossTimes.get(fileNode.get(f)!) ?? []));
      expect(this.doneAt.get(`${mode}:${taskid}:${m![3]}`) ?? -1, `${f} lost`).toBeGreaterThan(lastLoss);
    }
    if (mode === 'reduce') this.checkReduceInputs(ph);
    expect(ph.done).toBe(ph.tasks.length);
    for (const t of ph.tasks) {
      // Tasks here always write a .results file; tag-only tasks have none.
      if (t.results.some((r) => r.startsWith('tag://')) && t.resultHosts.length === 0) continue;
      expect(seen.get(t.taskid), `${mode}:${t.taskid}`).toBe(t.attempt);
      expect(this.latest.get(`${mode}:${t.taskid}`)).toBe(t.attempt);
    }
  }

  /** No accepted reduce attempt read map data that was lost before it finished. */
  private checkReduceInputs(ph: PhaseState): void {
    for (const t of ph.tasks) {
      const key = `reduce:${t.taskid}:${t.attempt}`;
      const finished = this.doneAt.get(key)!;
      for (const [url] of this.inputsOf.get(key) ?? []) {
        const m = /^dir:\/\/([^/]+)\/.*index-(\d+)\.txt\.gz$/.exec(url);
        if (!m) continue;
        const made = this.shuffleDoneAt.get(Number(m[2])) ?? Number.POSITIVE_INFINITY;
        for (const l of this.lossTimes.get(m[1]) ?? [])
          expect(l > made && l < finished, `${key} read ${url}, lost at ${l}`).toBe(false);
      }
    }
  }

  private check(effects: CoordinatorEffect[]): void {
    const c = coordinatorCounters(this.st);
    const status = coordinatorStatus(this.st);
    for (const [mode, ctr] of [
      ['map', c.mapi],
      ['reduce', c.redi],
    ] as const) {
      const ph: PhaseState | null = mode === 'map' ? this.st.map : this.st.reduce;
      const [waiting, running, done, failed] = ctr;
      expect(Math.min(waiting, running, done, failed)).toBeGreaterThanOrEqual(0);
      if (!ph) continue;
      expect(done).toBe(ph.tasks.filter((t) => t.status === 'done').length);
      expect(running).toBe(ph.tasks.filter((t) => t.status === 'running').length);
      if (status === 'active') expect(waiting + running + done).toBe(ph.tasks.length);
    }
    expect(runningHosts(this.st).length).toBe(c.mapi[1] + c.redi[1]);
    if (effects.some((e) => e.type === 'job_ended')) expect(status).not.toBe('active');
  }
}

/** One random action; `a`, `b` pick among the currently possible choices. */
type Action = { kind: string; a: number; b: number; flag: boolean };

const actionArb: fc.Arbitrary<Action> = fc.record({
  kind: fc.constantFrom(
    'assign',
    'assign',
    'assign',
    'done',
    'done',
    'done',
    'fail',
    'stale',
    'retry',
    'retry',
    'lost',
    'shuffle_ok',
    'shuffle_ok',
    'shuffle_fail',
    'shuffle_retry',
    'stale_assign',
    'rare',
  ),
  a: fc.nat(),
  b: fc.nat(),
  flag: fc.boolean(),
});

const configArb: fc.Arbitrary<CoordinatorConfig> = fc
  .record({
    n: fc.integer({ min: 0, max: 6 }),
    mapPhase: fc.boolean(),
    reducePhase: fc.boolean(),
    nrReduces: fc.integer({ min: 0, max: 3 }),
    maxFailureRate: fc.constantFrom(3, 1000),
  })
  .map(({ n, mapPhase, reducePhase, nrReduces, maxFailureRate }) => ({
    job: JOB,
    inputs: Array.from({ length: n }, (_, i) =>
      i % 2 ? `disco://${NODES[i % 3]}/ddfs/${i}` : [`raw://${i}`],
    ),
    mapPhase,
    reducePhase,
    nrReduces,
    forceLocal: false,
    forceRemote: false,
    maxFailureRate,
    retryDelayScale: 0,
  }));

function pick<T>(xs: T[], i: number): T | undefined {
  return xs.length === 0 ? undefined : xs[i % xs.length];
}

function act(sh: Shell, x: Action): void {
  const now = sh.now;
  switch (x.kind) {
    case 'assign': {
      const t = pick([...sh.queued.values()], x.a);
      if (!t) return;
      sh.queued.delete(`${t.mode}:${t.taskid}`);
      const node = NODES[x.b % NODES.length];
      sh.running.set(`${t.mode}:${t.taskid}:${t.attempt}`, {
        mode: t.mode,
        taskid: t.taskid,
        attempt: t.attempt,
        node,
      });
      sh.step({ type: 'task_assigned', mode: t.mode, taskid: t.taskid, attempt: t.attempt, node, now });
      return;
    }
    case 'done':
    case 'fail': {
      const r = pick([...sh.running.values()], x.a);
      if (!r) return;
      sh.running.delete(`${r.mode}:${r.taskid}:${r.attempt}`);
      report(sh, r, x.kind === 'done', x.flag && x.b % 7 === 0);
      return;
    }
    case 'stale': {
      const r = pick(sh.stale, x.a);
      if (r) report(sh, r, x.flag, false);
      return;
    }
    case 'stale_assign': {
      const r = pick(sh.stale, x.a);
      if (r) sh.step({ type: 'task_assigned', ...r, now });
      return;
    }
    case 'retry': {
      const k = pick([...sh.timers], x.a);
      if (!k) return;
      sh.timers.delete(k);
      const [mode, id] = k.split(':');
      sh.step({ type: 'retry_due', mode: mode as Mode, taskid: Number(id), now });
      return;
    }
    case 'lost': {
      const node = NODES[x.a % NODES.length];
      for (const [k, r] of sh.running)
        if (r.node === node) {
          sh.running.delete(k);
          sh.stale.push(r);
        }
      sh.step({ type: 'node_lost', node, now, random: (x.b % 100) / 100 });
      return;
    }
    case 'shuffle_ok':
    case 'shuffle_fail': {
      const id = pick([...sh.shuffles.keys()], x.a);
      if (id === undefined) return;
      const s = sh.shuffles.get(id)!;
      sh.shuffles.delete(id);
      if (x.kind === 'shuffle_ok') {
        const index = `dir://${s.node}/disco/${s.node}/21/${JOB}/.disco/${s.mode}-index-${id}.txt.gz`;
        sh.step({ type: 'shuffle_done', mode: s.mode, node: s.node, requestId: id, index, now });
      } else
        sh.step({
          type: 'shuffle_failed',
          mode: s.mode,
          node: s.node,
          requestId: id,
          message: 'x',
          now,
          random: 0,
        });
      return;
    }
    case 'shuffle_retry': {
      const k = pick([...sh.shuffleTimers], x.a);
      if (!k) return;
      sh.shuffleTimers.delete(k);
      const [mode, node] = k.split(':');
      sh.step({ type: 'shuffle_retry_due', mode: mode as Mode, node, now });
      return;
    }
    case 'rare': {
      // Mostly harmless replays; now and then a job-ending event.
      if (x.b % 5 === 0) sh.step({ type: 'kill', now });
      else if (x.b % 5 === 1) {
        const t = pick([...sh.queued.values()], x.a);
        if (t) sh.step({ type: 'unschedulable', mode: t.mode, taskid: t.taskid, reason: 'nowhere', now });
      } else sh.step({ type: 'start', now });
      return;
    }
  }
}

function report(
  sh: Shell,
  r: { mode: Mode; taskid: number; attempt: number; node: string },
  ok: boolean,
  fatal: boolean,
): void {
  const now = sh.now;
  if (ok) {
    const results = [res(r.node, r.mode, r.taskid, r.attempt)];
    sh.step({ type: 'task_done', ...r, results, now });
  } else {
    sh.step({
      type: 'task_failed',
      ...r,
      kind: fatal ? 'fatal' : 'error',
      message: 'boom',
      now,
      random: 0.5,
    });
  }
}

/** Let everything succeed until the job ends (bounded). */
function drain(sh: Shell): void {
  for (let round = 0; round < 200 && !sh.st.ended; round++) {
    const now = sh.now;
    for (const k of [...sh.timers]) {
      sh.timers.delete(k);
      const [mode, id] = k.split(':');
      sh.step({ type: 'retry_due', mode: mode as Mode, taskid: Number(id), now });
    }
    for (const k of [...sh.shuffleTimers]) {
      sh.shuffleTimers.delete(k);
      const [mode, node] = k.split(':');
      sh.step({ type: 'shuffle_retry_due', mode: mode as Mode, node, now });
    }
    for (const t of [...sh.queued.values()]) act(sh, { kind: 'assign', a: 0, b: t.taskid, flag: false });
    while (sh.running.size > 0) act(sh, { kind: 'done', a: 0, b: 1, flag: false });
    while (sh.shuffles.size > 0) act(sh, { kind: 'shuffle_ok', a: 0, b: 0, flag: false });
  }
}

describe('coordinator properties', () => {
  it('exactly-once results and consistent counters under random interleavings', () => {
    fc.assert(
      fc.property(
        configArb,
        fc.array(actionArb, { minLength: 5, maxLength: 150, size: 'max' }),
        (cfg, actions) => {
          const sh = new Shell(cfg);
          sh.step({ type: 'start', now: 0 });
          for (const x of actions) act(sh, x);
          drain(sh);
          expect(sh.st.ended).toBe(true);
          if (coordinatorStatus(sh.st) === 'dead') expect(sh.failedReasons).toHaveLength(1);
          else expect(sh.ready).toBe(true);
          // The job has ended: nothing changes any more.
          const before = JSON.stringify(coordinatorCounters(sh.st));
          expect(sh.step({ type: 'node_lost', node: 'n1', now: sh.now })).toEqual([]);
          expect(JSON.stringify(coordinatorCounters(sh.st))).toBe(before);
        },
      ),
      { numRuns: runs(400) },
    );
  });

  it('a job without injected failures always finishes ready', () => {
    const benign = actionArb.filter(
      (x) => x.kind !== 'rare' && !(x.kind === 'fail' && x.flag && x.b % 7 === 0),
    );
    fc.assert(
      fc.property(
        configArb.map((c) => ({ ...c, maxFailureRate: 1_000_000 })),
        fc.array(benign, { maxLength: 150, size: 'max' }),
        (cfg, actions) => {
          const sh = new Shell(cfg);
          sh.step({ type: 'start', now: 0 });
          for (const x of actions) act(sh, x);
          drain(sh);
          expect(coordinatorStatus(sh.st)).toBe('ready');
          expect(sh.failedReasons).toEqual([]);
        },
      ),
      { numRuns: runs(300) },
    );
  });
});
