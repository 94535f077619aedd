/**
 * The dispynode worker process for function computations (bundled as `dist/dispy-worker.js`).
 *
 * Life: started generic (says `ready`), then `load`ed with one computation, whose source is
 * compiled once into a factory; it then runs jobs one at a time until the node stops it. Every
 * job calls the factory anew (fresh module-level state) and runs between a baseline and a
 * restore of the process' globals (see `job-scope.ts`); what the job prints is captured. Inside
 * the computation these names are in scope, as in the original: `dispyProvisionalResult`,
 * `dispySendFile`, `dispyNodeName`, `dispyNodeIpAddr`, `dispyJobPath`, `dispyJobId`,
 * `require` (relative to the computation's directory) — and dynamic `import()` resolves
 * relative to that directory too.
 *
 * Cancellation: the node sends SIGINT (the worker exits at once if its event loop is free),
 * then SIGTERM and SIGKILL; a cancelled worker is never reused.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';
import { decodeData, encodeData } from '../protocol/codec.js';
import { JOB_API_PARAMS } from '../protocol/job-api.js';
import { type FromWorker, type ToWorker, ToWorkerSchema } from '../protocol/worker-protocol.js';
import { JobScope } from './job-scope.js';

type Fns = { entry?: unknown; setup?: unknown; cleanup?: unknown };

interface Loaded {
  factory: (...api: unknown[]) => Fns;
  dir: string;
  nodeName: string;
  nodeIpAddr: string;
  maxOutput: number;
  require: NodeJS.Require;
}

interface Capture {
  out: string[];
  err: string[];
  bytes: number;
  truncated: boolean;
}

const scope = new JobScope();
let comp: Loaded | null = null;
/** A job is running (or the worker is between two jobs of its queue). */
let busy = false;
/** Set when a job changed shared built-ins: this process runs no more jobs. */
let dead = false;
let nextReq = 1;
const replies = new Map<number, (ok: boolean, error?: string) => void>();
const stdoutWrite = process.stdout.write.bind(process.stdout);
const stderrWrite = process.stderr.write.bind(process.stderr);
let capture: Capture | null = null;

function send(msg: FromWorker): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected) return resolve();
    process.send!(msg, undefined, {}, () => resolve());
  });
}

function captured(which: 'out' | 'err') {
  return (chunk: unknown, enc?: unknown, cb?: unknown): boolean => {
    const c = capture;
    if (c) {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
      if (c.bytes + text.length <= (comp?.maxOutput ?? 1 << 20)) {
        c[which].push(text);
        c.bytes += text.length;
      } else if (!c.truncated) {
        c.truncated = true;
        c[which].push('\n[output truncated]\n');
      }
      const done = typeof enc === 'function' ? enc : cb;
      if (typeof done === 'function') queueMicrotask(() => (done as () => void)());
      return true;
    }
    return which === 'out'
      ? stdoutWrite(chunk as string, enc as BufferEncoding, cb as () => void)
      : stderrWrite(chunk as string, enc as BufferEncoding, cb as () => void);
  };
}
process.stdout.write = captured('out') as typeof process.stdout.write;
process.stderr.write = captured('err') as typeof process.stderr.write;

export function formatException(e: unknown): string {
  if (e instanceof Error) return e.stack ?? `${e.name}: ${e.message}`;
  return `Uncaught ${typeof e}: ${String(e)}`;
}

function installShared(records: Uint8Array[] | undefined): void {
  for (const r of records ?? []) scope.installShared(decodeData(r) as Record<string, unknown>);
}

function load(msg: Extract<ToWorker, { t: 'load' }>): void {
  process.chdir(msg.dir);
  const fnNames = [msg.entry, msg.setupFn, msg.cleanupFn];
  const pick = (n: string | undefined) =>
    n ? `typeof ${n} === 'undefined' ? undefined : ${n}` : 'undefined';
  const body = `"use strict";\n${msg.source}\n;return { entry: ${pick(fnNames[0])}, setup: ${pick(fnNames[1])}, cleanup: ${pick(fnNames[2])} };`;
  const filename = path.join(msg.dir, '__dispy_computation.js');
  const factory = vm.compileFunction(body, [...JOB_API_PARAMS], {
    filename,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  } as vm.CompileFunctionOptions) as unknown as Loaded['factory'];
  comp = {
    factory,
    dir: msg.dir,
    nodeName: msg.nodeName,
    nodeIpAddr: msg.nodeIpAddr,
    maxOutput: msg.maxOutput,
    require: createRequire(filename),
  };
  installShared(msg.shared);
  // Evaluate once now: syntax and top-level errors show at load, not in every job.
  const fns = makeFns(0, scope.timers().api);
  if (typeof fns.entry !== 'function')
    throw new Error(`the computation does not define a function '${msg.entry}'`);
  scope.takeBaseline();
}

function makeFns(uid: number, timers: ReturnType<JobScope['timers']>['api']): Fns {
  const c = comp!;
  return c.factory(
    (result: unknown) => provisional(uid, result),
    (p: string) => sendFile(uid, p),
    c.nodeName,
    c.nodeIpAddr,
    c.dir,
    uid,
    c.require,
    timers.setTimeout,
    timers.setInterval,
    timers.setImmediate,
    timers.clearTimeout,
    timers.clearInterval,
    timers.clearImmediate,
  );
}

async function provisional(uid: number, result: unknown): Promise<number> {
  let bytes: Uint8Array;
  try {
    bytes = encodeData(result, 'the provisional result');
  } catch (e) {
    stderrWrite(`${(e as Error).message}\n`);
    return -1;
  }
  await send({ t: 'provisional', uid, result: bytes, time: Date.now() / 1000 });
  return 0;
}

function sendFile(uid: number, p: string): Promise<number> {
  const reqId = nextReq++;
  const abs = path.resolve(comp!.dir, p);
  return new Promise<number>((resolve) => {
    replies.set(reqId, (ok, error) => {
      if (!ok && error && capture) capture.err.push(`dispySendFile(${p}): ${error}\n`);
      resolve(ok ? 0 : -1);
    });
    void send({ t: 'sendFile', uid, reqId, path: abs });
  });
}

/**
 * Jobs handed to this worker while it was busy (the node sends the next job ahead, so it
 * starts without waiting for a round trip; at most one waits here). FIFO.
 */
const waiting: Extract<ToWorker, { t: 'job' }>[] = [];

async function drain(): Promise<void> {
  busy = true;
  try {
    while (waiting.length > 0 && !dead) await runJob(waiting.shift()!);
  } finally {
    busy = false;
  }
}

async function runJob(msg: Extract<ToWorker, { t: 'job' }>): Promise<void> {
  const c = comp!;
  const cpu0 = process.cpuUsage();
  const startTime = Date.now() / 1000;
  const timers = scope.timers();
  const cap: Capture = { out: [], err: [], bytes: 0, truncated: false };
  capture = cap;
  let status: 'Finished' | 'Terminated' = 'Finished';
  let result: Uint8Array | undefined;
  let exception: string | undefined;
  try {
    const args = decodeData(msg.args);
    if (!Array.isArray(args)) throw new TypeError('job arguments must be an array');
    const fns = makeFns(msg.uid, timers.api);
    let r = (fns.entry as (...a: unknown[]) => unknown)(...args);
    if (r !== null && typeof r === 'object' && typeof (r as { then?: unknown }).then === 'function')
      r = await r;
    result = encodeData(r, 'the result');
  } catch (e) {
    status = 'Terminated';
    exception = formatException(e);
  }
  capture = null;
  timers.clear();
  const cpu = process.cpuUsage(cpu0);
  const reply: FromWorker = {
    t: 'result',
    uid: msg.uid,
    status,
    stdout: cap.out.join(''),
    stderr: cap.err.join(''),
    startTime,
    endTime: Date.now() / 1000,
    cpuMs: (cpu.user + cpu.system) / 1000,
    ...(result ? { result } : {}),
    ...(exception !== undefined ? { exception } : {}),
  };
  // The result goes first; the clean-up check is off the result's path, and done before the
  // next job (waiting here or still to come) starts.
  void send(reply);
  if (process.cwd() !== c.dir) process.chdir(c.dir);
  const tainted = scope.restore();
  if (tainted) {
    dead = true;
    await send({ t: 'tainted', reason: tainted });
    process.exit(0);
  }
}

async function runHook(kind: 'setup' | 'cleanup', args: Uint8Array | undefined): Promise<FromWorker> {
  const done = kind === 'setup' ? 'setupDone' : 'cleanupDone';
  try {
    const fns = makeFns(0, scope.timers().api);
    const fn = fns[kind];
    if (typeof fn !== 'function') throw new Error(`the ${kind} function is missing from the computation`);
    const a = args ? decodeData(args) : [];
    let r = (fn as (...x: unknown[]) => unknown)(...(Array.isArray(a) ? a : [a]));
    if (r !== null && typeof r === 'object' && typeof (r as { then?: unknown }).then === 'function')
      r = await r;
    if (r === false || (typeof r === 'number' && r !== 0)) throw new Error(`${kind} returned ${String(r)}`);
    if (kind === 'cleanup') return { t: 'cleanupDone', ok: true };
    // What setup created becomes read-only data shared by all jobs (on every worker).
    const names = scope.addedGlobals();
    const record: Record<string, unknown> = {};
    for (const n of names) record[n] = (globalThis as Record<string, unknown>)[n];
    let globals: Uint8Array | undefined;
    if (names.length > 0) {
      for (const [n, v] of Object.entries(record)) {
        if (typeof v === 'function' || typeof v === 'symbol') {
          throw new Error(
            `setup created the global '${n}' (a ${typeof v}), which cannot be shared with jobs; ` +
              `create data in setup and define functions in depends`,
          );
        }
      }
      globals = encodeData(record, 'the data setup created');
      for (const n of names) delete (globalThis as Record<string, unknown>)[n];
      scope.installShared(record);
    }
    scope.takeBaseline();
    return { t: 'setupDone', ok: true, ...(globals ? { globals } : {}) };
  } catch (e) {
    return { t: done, ok: false, error: formatException(e) } as FromWorker;
  }
}

process.on('message', (raw: unknown) => {
  const parsed = ToWorkerSchema.safeParse(raw);
  if (!parsed.success) {
    stderrWrite(`dispy worker: invalid message from node: ${parsed.error.message}\n`);
    return;
  }
  const msg = parsed.data;
  switch (msg.t) {
    case 'load':
      try {
        load(msg);
        void send({ t: 'loaded', ok: true });
      } catch (e) {
        void send({ t: 'loaded', ok: false, error: formatException(e) });
      }
      return;
    case 'job':
      if (dead) return; // the node puts the job back in its queue when it sees 'tainted'
      if (!comp) {
        void send({
          t: 'result',
          uid: msg.uid,
          status: 'Terminated',
          stdout: '',
          stderr: '',
          exception: 'no computation loaded',
          startTime: msg.startTime,
          endTime: Date.now() / 1000,
          cpuMs: 0,
        });
        return;
      }
      waiting.push(msg);
      if (!busy) void drain();
      return;
    case 'drop': {
      const i = waiting.findIndex((j) => j.uid === msg.uid);
      if (i >= 0) {
        waiting.splice(i, 1);
        void send({ t: 'dropped', uid: msg.uid });
      }
      return;
    }
    case 'setup':
    case 'cleanup':
      void runHook(msg.t, msg.args).then((r) => send(r));
      return;
    case 'reply': {
      const fn = replies.get(msg.reqId);
      replies.delete(msg.reqId);
      fn?.(msg.ok, msg.error);
      return;
    }
  }
});
process.on('SIGINT', () => process.exit(130));
process.on('disconnect', () => process.exit(0));
process.on('uncaughtException', (e) => {
  stderrWrite(`dispy worker: uncaught exception: ${formatException(e)}\n`);
  process.exit(70);
});
process.on('unhandledRejection', (e) => {
  // A job's stray promise: report on the worker's stderr; the job itself already returned.
  stderrWrite(`dispy worker: unhandled rejection: ${formatException(e)}\n`);
});
void send({ t: 'ready' });
