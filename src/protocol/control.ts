/**
 * The control channel between master and nodes (ours, not part of Disco 0.4.5: the original
 * used Erlang distribution). Nodes dial the master with a WebSocket at {@link CONTROL_PATH};
 * every message is one JSON object validated by {@link NodeToMasterSchema} or
 * {@link MasterToNodeSchema}. Only metadata crosses it; data moves over HTTP between nodes.
 *
 * Handshake: master sends `challenge{nonce}`; node answers `hello{..., auth, nonce}` where
 * `auth = hmac(secret, masterNonce)`; master checks it and answers `welcome{auth}` with
 * `hmac(secret, nodeNonce)`, so each side proves it knows `DISCO_SECRET` (empty secret = no auth).
 *
 * Framing: a WebSocket message is one JSON object, or (after the handshake) a JSON array of
 * them — the messages one side produced in the same event-loop turn (e.g. a task's `events`,
 * its `task_done` and the `task_started` of the next task), handled in array order. Hot
 * messages are validated by hand ({@link parseNodeToMaster}, {@link parseMasterToNode}) and
 * everything else by the schemas, which remain the definition.
 *
 * Prefetching (version 2): the master may hand a node more tasks than it has slots
 * (`run_task` with `prefetched: true`); the node queues them and starts each when a slot
 * frees, saying `task_started` when it does, so the master's "running" means started.
 */
import { z } from 'zod';

export const CONTROL_PATH = '/disco/node/connect';
/** Version of this control protocol; master and node must agree. */
export const CONTROL_VERSION = 2;

const Mode = z.enum(['map', 'reduce']);

/** Identifies one attempt of one task; results of stale attempts are ignored. */
export const TaskRefSchema = z.object({
  job: z.string(),
  mode: Mode,
  taskid: z.number().int().nonnegative(),
  attempt: z.number().int().nonnegative(),
});
export type TaskRef = z.infer<typeof TaskRefSchema>;

export function taskKey(t: TaskRef): string {
  return `${t.job}/${t.mode}:${t.taskid}#${t.attempt}`;
}

/** What a node needs to run a task. `inputs[i]` = replica URLs of input i, best first. */
export const TaskSpecSchema = TaskRefSchema.extend({
  inputs: z.array(z.array(z.string()).min(1)),
});
export type TaskSpec = z.infer<typeof TaskSpecSchema>;

export const NodeToMasterSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('hello'),
    version: z.number().int(),
    host: z.string(),
    pid: z.number().int(),
    nonce: z.string(),
    auth: z.string(),
    /** Port of the node's data (GET) server; the master serves the data of a node on its own host. */
    dataPort: z.number().int(),
    /**
     * Port of the node's own `/metrics` server on loopback, when it has no data server (it runs
     * on the master's machine); the master relays it at `/metrics/node/<host>`.
     */
    metricsPort: z.number().int().optional(),
    putPort: z.number().int(),
    diskFree: z.number(),
    diskUsed: z.number(),
  }),
  z.object({
    type: z.literal('events'),
    job: z.string(),
    /** Already-formatted event messages from this node (`MSG: [map:0] hello`). */
    messages: z.array(z.string()),
  }),
  TaskRefSchema.extend({
    type: z.literal('task_done'),
    /** `dir://.../.results` of the task (if it produced outputs) and its `tag://` outputs. */
    results: z.array(z.string()),
    durationMs: z.number(),
  }),
  /** A `prefetched` task left the node's queue and started. */
  TaskRefSchema.extend({ type: z.literal('task_started') }),
  TaskRefSchema.extend({
    type: z.literal('task_failed'),
    /** `error` = retry elsewhere (data error, crash); `fatal` = the job fails. */
    kind: z.enum(['error', 'fatal']),
    message: z.string(),
  }),
  z.object({
    type: z.literal('shuffle_done'),
    job: z.string(),
    mode: Mode,
    requestId: z.number().int(),
    /** `dir://HOST/disco/HOST/HH/JOB/.disco/<mode>-index.txt.gz`, or null if nothing to index. */
    index: z.string().nullable(),
  }),
  z.object({
    type: z.literal('shuffle_failed'),
    job: z.string(),
    mode: Mode,
    requestId: z.number().int(),
    message: z.string(),
  }),
  z.object({
    type: z.literal('status'),
    diskFree: z.number(),
    diskUsed: z.number(),
    workers: z.number().int(),
  }),
]);
export type NodeToMaster = z.infer<typeof NodeToMasterSchema>;

export const MasterToNodeSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('challenge'), version: z.number().int(), nonce: z.string() }),
  z.object({
    type: z.literal('welcome'),
    auth: z.string(),
    /** Settings the node must agree on (ports, master URL) as the master sees them. */
    master: z.string(),
    maxWorkers: z.number().int(),
  }),
  z.object({ type: z.literal('refused'), reason: z.string() }),
  z.object({
    type: z.literal('run_task'),
    task: TaskSpecSchema,
    /**
     * Handed out beyond the node's free slots: the node queues it if all its slots are busy
     * and reports `task_started` when it starts it (at once or later).
     */
    prefetched: z.boolean().optional(),
  }),
  z.object({ type: z.literal('kill_task'), task: TaskRefSchema }),
  z.object({ type: z.literal('kill_job'), job: z.string() }),
  z.object({
    type: z.literal('shuffle'),
    job: z.string(),
    mode: Mode,
    requestId: z.number().int(),
    /** `.results` files of the successful tasks on this node, relative to the job home. */
    resultFiles: z.array(z.string()),
  }),
  z.object({ type: z.literal('purge_job'), job: z.string() }),
  z.object({ type: z.literal('set_max_workers'), maxWorkers: z.number().int() }),
]);
export type MasterToNode = z.infer<typeof MasterToNodeSchema>;

// ---------------------------------------------------------------- fast validation

const isStr = (x: unknown): x is string => typeof x === 'string';
const isNat = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0;

/** The four TaskRef fields of `o` if they are valid, else null. */
function fastRef(o: Record<string, unknown>): TaskRef | null {
  if (!isStr(o.job) || (o.mode !== 'map' && o.mode !== 'reduce') || !isNat(o.taskid) || !isNat(o.attempt))
    return null;
  return { job: o.job, mode: o.mode, taskid: o.taskid, attempt: o.attempt };
}

function strings(x: unknown): x is string[] {
  return Array.isArray(x) && x.every(isStr);
}

/**
 * A node's message, validated: the per-task messages (`events`, `task_done`, `task_started`,
 * `task_failed`) by hand, the rest by {@link NodeToMasterSchema}. Unknown keys are dropped, as
 * the schema does. Null when invalid; `error` then says why.
 */
export function parseNodeToMaster(
  raw: unknown,
): { ok: true; value: NodeToMaster } | { ok: false; error: string } {
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    const o = raw as Record<string, unknown>;
    switch (o.type) {
      case 'events':
        if (isStr(o.job) && strings(o.messages))
          return { ok: true, value: { type: 'events', job: o.job, messages: o.messages } };
        break;
      case 'task_started': {
        const ref = fastRef(o);
        if (ref) return { ok: true, value: { type: 'task_started', ...ref } };
        break;
      }
      case 'task_done': {
        const ref = fastRef(o);
        if (ref && strings(o.results) && typeof o.durationMs === 'number')
          return {
            ok: true,
            value: { type: 'task_done', ...ref, results: o.results, durationMs: o.durationMs },
          };
        break;
      }
      case 'task_failed': {
        const ref = fastRef(o);
        if (ref && (o.kind === 'error' || o.kind === 'fatal') && isStr(o.message))
          return { ok: true, value: { type: 'task_failed', ...ref, kind: o.kind, message: o.message } };
        break;
      }
    }
  }
  const r = NodeToMasterSchema.safeParse(raw);
  if (r.success) return { ok: true, value: r.data };
  const issue = r.error.issues[0];
  return { ok: false, error: `invalid control message: ${issue?.path.join('.')} ${issue?.message}` };
}

/** A master's message, validated (`run_task` and `kill_task` by hand); null when invalid. */
export function parseMasterToNode(raw: unknown): MasterToNode | null {
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    const o = raw as Record<string, unknown>;
    const t = o.task as Record<string, unknown> | null | undefined;
    if (o.type === 'run_task' && typeof t === 'object' && t !== null) {
      const ref = fastRef(t);
      const inputs = t.inputs;
      if (
        ref &&
        Array.isArray(inputs) &&
        inputs.every((set) => strings(set) && set.length >= 1) &&
        (o.prefetched === undefined || typeof o.prefetched === 'boolean')
      ) {
        const msg: MasterToNode = { type: 'run_task', task: { ...ref, inputs: inputs as string[][] } };
        if (o.prefetched !== undefined) msg.prefetched = o.prefetched as boolean;
        return msg;
      }
    } else if (o.type === 'kill_task' && typeof t === 'object' && t !== null) {
      const ref = fastRef(t);
      if (ref) return { type: 'kill_task', task: ref };
    }
  }
  const r = MasterToNodeSchema.safeParse(raw);
  return r.success ? r.data : null;
}

/**
 * The messages of one WebSocket message (see the module doc: an object or an array of them).
 * Throws on text that is not JSON.
 */
export function splitControlFrame(text: string): unknown[] {
  const raw: unknown = JSON.parse(text);
  return Array.isArray(raw) ? raw : [raw];
}

/**
 * Collects the messages sent in one event-loop turn and hands them to `write` as one frame
 * (a single message as itself, several as an array) in a microtask, so a burst costs one
 * WebSocket frame and one wake-up of the other side.
 */
export class FrameBatcher<M> {
  private pending: M[] = [];
  private scheduled = false;

  constructor(private readonly write: (text: string) => void) {}

  push(msg: M): void {
    this.pending.push(msg);
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => this.flush());
  }

  /** Write what is pending now. */
  flush(): void {
    this.scheduled = false;
    const msgs = this.pending;
    if (msgs.length === 0) return;
    this.pending = [];
    this.write(JSON.stringify(msgs.length === 1 ? msgs[0] : msgs));
  }

  /** Forget what is pending (the connection is gone). */
  clear(): void {
    this.pending = [];
  }
}
