/**
 * The control channel between master and nodes (ours, not part of Disco 0.4.5: the original
 * used Erlang distribution). Nodes dial the master with a WebSocket at {@link CONTROL_PATH};
 * every message is one JSON object validated by {@link NodeToMasterSchema} or
 * {@link MasterToNodeSchema}. Only metadata crosses it; data moves over HTTP between nodes.
 *
 * Handshake: master sends `challenge{nonce}`; node answers `hello{..., auth, nonce}` where
 * `auth = hmac(secret, masterNonce)`; master checks it and answers `welcome{auth}` with
 * `hmac(secret, nodeNonce)`, so each side proves it knows `DISCO_SECRET` (empty secret = no auth).
 */
import { z } from 'zod';

export const CONTROL_PATH = '/disco/node/connect';
/** Version of this control protocol; master and node must agree. */
export const CONTROL_VERSION = 1;

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
  z.object({ type: z.literal('run_task'), task: TaskSpecSchema }),
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
