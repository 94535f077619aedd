/**
 * Every message of the dispy protocol, defined once and imported by clients, nodes,
 * `dispyscheduler` and `dispynetrelay`. A frame holds one message: a MessagePack map whose
 * `t` field names its type. Requests carry an `id`; the answer is `{t:'ok', re: id, ...}` or
 * `{t:'error', re: id, message}`. Messages without `id` are one-way events.
 *
 * Connection life: the accepting side sends `hello` (its nonce), the connecting side answers
 * `auth` (HMAC of that nonce with the shared secret, and its own nonce), the acceptor answers
 * `welcome` (HMAC of the connector's nonce) — both prove they know the secret, nothing
 * replayable crosses the wire (see `handshake.ts`). Then requests and events flow both ways.
 *
 * Data values (job arguments, results) travel as opaque byte strings made by `encodeData`.
 *
 * @example
 * const msg = MessageSchema.parse(unpackMessage(frame));
 * if (msg.t === 'job') runJob(msg);
 */
import { z } from 'zod';

/** Bytes (MessagePack bin / IPC Uint8Array). */
const bin = z.custom<Uint8Array>((v) => v instanceof Uint8Array, { message: 'expected bytes' });
const id = z.number().int().nonnegative();
const computeId = z.string().min(1).max(128);
/** A job's id inside its computation (assigned by the submitting client). */
const uid = z.number().int().nonnegative();

export const JobStatusSchema = z.enum([
  'Created',
  'Running',
  'ProvisionalResult',
  'Cancelled',
  'Terminated',
  'Abandoned',
  'Finished',
]);

/** Who is speaking (in `hello` / `auth`). */
export const RoleSchema = z.enum(['node', 'client', 'scheduler', 'relay', 'recover']);
export type Role = z.infer<typeof RoleSchema>;

/** What a node tells about itself. */
export const NodeInfoSchema = z.object({
  /** Identity of this node process (changes at every start: jobs do not survive a restart). */
  instance: z.string(),
  name: z.string(),
  ipAddr: z.string(),
  port: z.number().int(),
  cpus: z.number().int(),
  /** CPUs not used by running jobs. */
  availCpus: z.number().int(),
  platform: z.string(),
  /** Client id the node currently serves ('' when free). */
  busyWith: z.string(),
  maxFileSize: z.number(),
});
export type NodeInfo = z.infer<typeof NodeInfoSchema>;

/** A file sent along with a computation (depends), relative to the computation's directory. */
export const FileEntrySchema = z.object({
  path: z.string().min(1).max(4096),
  size: z.number().int().nonnegative(),
  mtimeMs: z.number(),
  mode: z.number().int(),
});
export type FileEntry = z.infer<typeof FileEntrySchema>;

/** A computation as shipped to nodes (and to `dispyscheduler`). */
export const ComputeSpecSchema = z.object({
  computeId,
  /** Token the owner must show to recover or close the computation from another connection. */
  token: z.string().min(8).max(128),
  name: z.string().max(256),
  kind: z.enum(['function', 'program']),
  /** Function computations: JavaScript source defining `entry`, depends, setup and cleanup. */
  source: z
    .string()
    .max(64 * 1024 * 1024)
    .optional(),
  /** Name of the computation function in `source`, or the program file (relative path). */
  entry: z.string().min(1).max(4096),
  /** Name of the setup function in `source`, if any. */
  setup: z.string().optional(),
  /** Name of the cleanup function in `source`, if any. */
  cleanupFn: z.string().optional(),
  /** Delete the transferred files at close. */
  cleanup: z.boolean(),
  /** Named data values (depends given as objects), `encodeData` of a record. */
  data: bin.optional(),
  files: z.array(FileEntrySchema).max(100_000),
  /** Relative directory on the node for the files; default a fresh one per computation. */
  destPath: z.string().max(1024).optional(),
  /** Seconds between pulses the node sends to its client. */
  pulseInterval: z.number().positive(),
  /** Default per-job time limit in seconds (0 = none). */
  timeout: z.number().nonnegative(),
  /** Resubmit jobs of a dead node elsewhere (used by dispyscheduler). */
  reentrant: z.boolean().optional(),
});
export type ComputeSpec = z.infer<typeof ComputeSpecSchema>;

/** A final (or provisional) job outcome as reported by a node or scheduler. */
export const JobResultSchema = z.object({
  computeId,
  uid,
  status: JobStatusSchema,
  /** `encodeData(result)`; absent when there is no result. */
  result: bin.optional(),
  stdout: z.string(),
  stderr: z.string(),
  exception: z.string().optional(),
  startTime: z.number(),
  endTime: z.number(),
  /** Address of the node that ran the job. */
  ipAddr: z.string(),
  /** CPU milliseconds the job used (0 if unknown). */
  cpuMs: z.number().optional(),
});
export type JobResult = z.infer<typeof JobResultSchema>;

/** A node as reported by a scheduler to its clients (status / node events). */
export const NodeReportSchema = z.object({
  ipAddr: z.string(),
  port: z.number().int(),
  name: z.string(),
  cpus: z.number().int(),
  busy: z.number().int(),
  jobsDone: z.number().int(),
  cpuTime: z.number(),
  tx: z.number(),
  rx: z.number(),
  updateTime: z.number(),
});
export type NodeReport = z.infer<typeof NodeReportSchema>;

/** How a client asks for nodes: a host (name, address or wildcard) with options. */
export const NodeAllocSpecSchema = z.object({
  host: z.string(),
  port: z.number().int().optional(),
  cpus: z.number().int(),
  /** `encodeData` of the setup arguments for this node. */
  setupArgs: bin.optional(),
});
export type NodeAllocSpec = z.infer<typeof NodeAllocSpecSchema>;

const fileChunk = {
  computeId,
  path: z.string().min(1).max(4096),
  offset: z.number().int().nonnegative(),
  total: z.number().int().nonnegative(),
  data: bin,
  mtimeMs: z.number().optional(),
  mode: z.number().int().optional(),
};

export const MessageSchema = z.discriminatedUnion('t', [
  // --- handshake -------------------------------------------------------------------------
  z.object({
    t: z.literal('hello'),
    v: z.number().int(),
    role: RoleSchema,
    nonce: z.string().min(16).max(128),
    name: z.string(),
  }),
  z.object({
    t: z.literal('auth'),
    v: z.number().int(),
    role: RoleSchema,
    nonce: z.string().min(16).max(128),
    proof: z.string().max(128),
    /** Identity of the connecting program (one per client process). */
    clientId: z.string().max(128),
  }),
  z.object({ t: z.literal('welcome'), proof: z.string().max(128), info: z.record(z.unknown()) }),
  // --- replies ---------------------------------------------------------------------------
  z.object({ t: z.literal('ok'), re: id }).passthrough(),
  z.object({ t: z.literal('error'), re: id.optional(), message: z.string(), code: z.string().optional() }),
  // --- client (or scheduler) → node / client → scheduler requests -------------------------
  z.object({
    t: z.literal('compute'),
    id,
    spec: ComputeSpecSchema,
    /** CPUs requested (0 = all, negative = all but that many). */
    cpus: z.number().int(),
    /** For dispyscheduler: which nodes the computation may use. */
    nodes: z.array(NodeAllocSpecSchema).optional(),
    /** For dispyscheduler: run only while no other computation runs (and none besides it). */
    exclusive: z.boolean().optional(),
  }),
  z.object({ t: z.literal('file'), id, ...fileChunk }),
  z.object({ t: z.literal('setup'), id, computeId, setupArgs: bin.optional() }),
  z.object({
    t: z.literal('job'),
    computeId,
    uid,
    args: bin,
    /** Seconds (0 = none). */
    timeout: z.number().nonnegative().optional(),
    /** Pin to this node (scheduler only). */
    node: z.string().optional(),
  }),
  z.object({ t: z.literal('cancel'), computeId, uid }),
  z.object({ t: z.literal('close'), id, computeId, terminate: z.boolean() }),
  z.object({ t: z.literal('recover'), id, computeId, token: z.string() }),
  z.object({ t: z.literal('ack'), computeId, uids: z.array(uid).max(1_000_000) }),
  z.object({ t: z.literal('setCpus'), id, computeId, cpus: z.number().int(), node: z.string().optional() }),
  z.object({ t: z.literal('jobs'), id, computeId, node: z.string().optional() }),
  z.object({ t: z.literal('info'), id }),
  z.object({ t: z.literal('sendFile'), id, node: z.string().optional(), ...fileChunk }),
  // scheduler-only requests
  z.object({ t: z.literal('schedule'), id, computeId }),
  z.object({ t: z.literal('status'), id, computeId }),
  z.object({ t: z.literal('allocateNode'), id, computeId, nodes: z.array(NodeAllocSpecSchema) }),
  z.object({ t: z.literal('deallocateNode'), id, computeId, node: z.string() }),
  z.object({ t: z.literal('closeNode'), id, computeId, node: z.string(), terminate: z.boolean() }),
  z.object({ t: z.literal('discover'), id, computeId, nodes: z.array(NodeAllocSpecSchema) }),
  // --- events toward the client ------------------------------------------------------------
  JobResultSchema.extend({ t: z.literal('result') }),
  z.object({
    t: z.literal('provisional'),
    computeId,
    uid,
    result: bin,
    time: z.number(),
    ipAddr: z.string(),
  }),
  z.object({ t: z.literal('running'), computeId, uid, ipAddr: z.string(), startTime: z.number() }),
  z.object({ t: z.literal('reject'), computeId, uid, reason: z.string(), retry: z.boolean() }),
  z.object({ t: z.literal('xfer'), ...fileChunk, uid, xferId: id }),
  z.object({
    t: z.literal('xferDone'),
    computeId,
    xferId: id,
    ok: z.boolean(),
    error: z.string().optional(),
  }),
  z.object({ t: z.literal('pulse'), busy: z.number().int(), time: z.number() }),
  z.object({ t: z.literal('closed'), computeId, reason: z.string() }),
  /** dispyscheduler → client: an `exclusive` rule held the computation back; it may run now. */
  z.object({ t: z.literal('scheduled'), computeId }),
  z.object({
    t: z.literal('node'),
    computeId,
    status: z.enum(['Initialized', 'Closed', 'Dead']),
    node: NodeReportSchema,
  }),
]);
export type Message = z.infer<typeof MessageSchema>;
export type MessageOf<T extends Message['t']> = Extract<Message, { t: T }>;

/** Messages a side sends without the reply id (the `id` is assigned by `Connection.request`). */
export type RequestMessage = Extract<Message, { id: number }>;
export type RequestBody<T extends RequestMessage['t']> = Omit<MessageOf<T>, 'id'>;

/** UDP discovery datagrams (MessagePack, no framing, at most {@link MAX_DATAGRAM} bytes). */
export const DatagramSchema = z.discriminatedUnion('t', [
  /** Client/scheduler → nodes: "who is there?"; nodes answer with `pong` to `replyAddr:replyPort`. */
  z.object({
    t: z.literal('ping'),
    v: z.number().int(),
    replyAddr: z.string().max(256),
    replyPort: z.number().int(),
    clientId: z.string().max(128),
    /** Set by dispynetrelay when it re-broadcasts a client's ping. */
    relayed: z.boolean().optional(),
    /** Set by dispynetrelay: where it heard the ping (the reply address when `replyAddr` is empty). */
    origin: z.string().max(256).optional(),
    /** HMAC of the datagram with the secret (see `discovery/signing.ts`). */
    sig: z.string().max(128).optional(),
  }),
  /** Node → client: "I am here" (an answer to `ping`, or an announcement at start). */
  z.object({
    t: z.literal('pong'),
    v: z.number().int(),
    ipAddr: z.string().max(256),
    port: z.number().int(),
    name: z.string().max(256),
    cpus: z.number().int(),
    busy: z.boolean(),
    sig: z.string().max(128).optional(),
  }),
]);
export type Datagram = z.infer<typeof DatagramSchema>;
export const MAX_DATAGRAM = 1400;
