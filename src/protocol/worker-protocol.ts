/**
 * Disco worker protocol 1.0 (wire spec §3): `<TYPE> SP <LEN> SP <JSON BODY> \n` both ways.
 * The node (master side of the protocol) decodes worker messages with {@link FrameDecoder}
 * and validates payloads with {@link parseWorkerMessage}; workers encode with {@link encodeFrame}.
 *
 * Extensions (negotiated, invisible to plain 1.0 workers):
 * - `reuse`: a worker that sends `WORKER {"version":"1.0","pid":N,"reuse":true}` may, after
 *   `DONE`, send `TASK ""` again instead of exiting; the node answers it with the next task of
 *   the same job (or closes stdin to make it exit). Workers that don't say `reuse` are killed
 *   after DONE as in 0.4.5.
 * - `pipeline`: a worker that adds `"pipeline":true` to `WORKER` asks for fewer round trips.
 *   A node that supports it answers that `WORKER` with `OK {"pipeline":true}` (instead of
 *   `OK "ok"`); only then does the following hold, so the worker still works with nodes that
 *   do not know the extension:
 *   1. `MSG` and `OUTPUT` get no reply. The node handles them in order as always; an output it
 *      refuses (or cannot record) fails the task exactly as before — it just does not say `OK`.
 *      The worker keeps to the message rate itself (the node still fails a flood, §3.6, but has
 *      no reply to delay).
 *   2. Every `TASK` reply is followed at once by the reply to `INPUT ""` for that task; the
 *      worker reads it instead of asking (later `INPUT`/`INPUT_ERR` requests work as before).
 *   A classic task then costs one round trip (`TASK`) instead of five: its messages, outputs,
 *   `DONE` and the next `TASK ""` go out in one write, the task and its inputs come back in one.
 *
 * @example
 * const dec = new FrameDecoder();
 * for (const f of dec.push(chunk)) console.log(f.type, f.body);
 */
import { z } from 'zod';
import { ProtocolError } from '../common/errors.js';

/** Largest body accepted (100 MiB, `worker_protocol.erl`). */
export const MAX_BODY = 100 * 1024 * 1024;
/** Longest message type (bytes before the first space). */
export const MAX_TYPE = 10;

export interface Frame {
  type: string;
  body: unknown;
  /** Raw body bytes length (for accounting). */
  size: number;
}

/** Encode one message. */
export function encodeFrame(type: string, body: unknown): Buffer {
  const json = JSON.stringify(body);
  const len = Buffer.byteLength(json);
  const head = `${type} ${len} `;
  // One allocation: header (ASCII), body (UTF-8), newline.
  const out = Buffer.allocUnsafe(head.length + len + 1);
  out.write(head, 0, 'latin1');
  out.write(json, head.length, 'utf8');
  out[out.length - 1] = 0x0a;
  return out;
}

/** The `OK` reply body by which a node accepts the `pipeline` extension. */
export const PIPELINE_ACCEPTED = { pipeline: true } as const;

/**
 * Incremental decoder. Throws {@link ProtocolError} on malformed framing; the caller then
 * collects "last words" and fails the task (§3.2).
 */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);
  /** True while a message has started but not fully arrived (for the 30 s "stuck" timeout). */
  get midMessage(): boolean {
    return this.buf.length > 0;
  }
  /** Bytes received but not yet decoded (the start of the "last words" on a parse error). */
  get pending(): Buffer {
    return this.buf;
  }

  constructor(private readonly maxBody = MAX_BODY) {}

  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Frame[] = [];
    for (;;) {
      const sp1 = this.buf.indexOf(0x20);
      if (sp1 < 0) {
        if (this.buf.length > MAX_TYPE) throw new ProtocolError(`invalid message type: ${preview(this.buf)}`);
        break;
      }
      if (sp1 === 0 || sp1 > MAX_TYPE) throw new ProtocolError(`invalid message type: ${preview(this.buf)}`);
      const type = this.buf.subarray(0, sp1).toString('latin1');
      if (!/^[A-Z_]+$/.test(type)) throw new ProtocolError(`invalid message type: ${preview(this.buf)}`);
      const sp2 = this.buf.indexOf(0x20, sp1 + 1);
      if (sp2 < 0) {
        if (this.buf.length - sp1 > 12)
          throw new ProtocolError(`invalid message length: ${preview(this.buf)}`);
        break;
      }
      const lenText = this.buf.subarray(sp1 + 1, sp2).toString('latin1');
      if (!/^\d{1,10}$/.test(lenText))
        throw new ProtocolError(`invalid message length ${JSON.stringify(lenText)}`);
      const len = Number(lenText);
      if (len > this.maxBody)
        throw new ProtocolError(`message of ${len} bytes exceeds the ${this.maxBody}-byte limit`);
      const end = sp2 + 1 + len;
      if (this.buf.length < end + 1) break;
      if (this.buf[end] !== 0x0a)
        throw new ProtocolError(
          `message body of ${type} is not followed by a newline (length ${len} wrong?)`,
        );
      const raw = this.buf.subarray(sp2 + 1, end).toString('utf8');
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        throw new ProtocolError(`invalid JSON in ${type} message: ${raw.slice(0, 200)}`);
      }
      out.push({ type, body, size: len });
      this.buf = this.buf.subarray(end + 1);
    }
    return out;
  }
}

function preview(b: Buffer): string {
  return JSON.stringify(b.subarray(0, 80).toString('utf8'));
}

const Empty = z.literal('');
const IdList = z.array(z.number().int().nonnegative());

/** Worker → node messages and their payload contracts (§3.3). */
export const WorkerMessageSchemas = {
  WORKER: z
    .object({
      version: z.string(),
      pid: z.number().int(),
      reuse: z.boolean().optional(),
      pipeline: z.boolean().optional(),
    })
    .passthrough(),
  TASK: Empty,
  MSG: z.string(),
  INPUT: z.union([Empty, z.tuple([z.enum(['include', 'exclude']), IdList])]),
  INPUT_ERR: z.tuple([z.number().int().nonnegative(), IdList]),
  OUTPUT: z.union([z.tuple([z.string(), z.string()]), z.tuple([z.string(), z.string(), z.string()])]),
  DONE: Empty,
  ERROR: z.string(),
  FATAL: z.string(),
  PING: z.unknown(),
} as const;

export type WorkerMessageType = keyof typeof WorkerMessageSchemas;
export type WorkerMessage = {
  [K in WorkerMessageType]: { type: K; body: z.infer<(typeof WorkerMessageSchemas)[K]> };
}[WorkerMessageType];

/**
 * The common, valid payloads of the per-task messages checked by hand (the zod parse showed in
 * node profiles at thousands of tasks a second); anything else — including every invalid
 * payload — goes through the schemas, which stay the definition and give the error messages.
 */
function fastWorkerMessage(type: string, body: unknown): WorkerMessage | null {
  switch (type) {
    case 'MSG':
    case 'ERROR':
    case 'FATAL':
      return typeof body === 'string' ? ({ type, body } as WorkerMessage) : null;
    case 'TASK':
    case 'DONE':
      return body === '' ? ({ type, body } as WorkerMessage) : null;
    case 'INPUT':
      return body === '' ? { type, body } : null;
    case 'OUTPUT':
      if (
        Array.isArray(body) &&
        (body.length === 2 || body.length === 3) &&
        body.every((x) => typeof x === 'string')
      )
        return { type, body: body.slice() as [string, string] | [string, string, string] };
      return null;
    case 'PING':
      return { type, body };
    default:
      return null;
  }
}

/** Validate a decoded frame; unknown types and bad payloads are protocol errors (fatal, §3.3). */
export function parseWorkerMessage(f: Frame): WorkerMessage {
  const fast = fastWorkerMessage(f.type, f.body);
  if (fast) return fast;
  const schema = (WorkerMessageSchemas as Record<string, z.ZodTypeAny>)[f.type];
  if (!schema) throw new ProtocolError(`Unknown message type: ${f.type}`);
  const r = schema.safeParse(f.body);
  if (!r.success)
    throw new ProtocolError(`Invalid payload for ${f.type}: ${JSON.stringify(f.body).slice(0, 200)}`);
  return { type: f.type, body: r.data } as WorkerMessage;
}

/** The TASK reply: exactly these keys (the Python worker rejects unknown keys). */
export interface TaskInfo {
  taskid: number;
  master: string;
  disco_port: number;
  put_port: number;
  ddfs_data: string;
  disco_data: string;
  mode: 'map' | 'reduce';
  jobfile: string;
  jobname: string;
  host: string;
}
/**
 * Check a TASK reply body against {@link TaskInfoSchema} without zod for the common case (a
 * reused worker gets one per task); null when it does not match (then parse with the schema
 * for the error).
 */
export function fastTaskInfo(v: unknown): TaskInfo | null {
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  const int = (x: unknown) => typeof x === 'number' && Number.isInteger(x);
  const str = (x: unknown) => typeof x === 'string';
  if (
    !int(o.taskid) ||
    !str(o.master) ||
    !int(o.disco_port) ||
    !int(o.put_port) ||
    !str(o.ddfs_data) ||
    !str(o.disco_data) ||
    (o.mode !== 'map' && o.mode !== 'reduce') ||
    !str(o.jobfile) ||
    !str(o.jobname) ||
    !str(o.host)
  )
    return null;
  return {
    taskid: o.taskid as number,
    master: o.master as string,
    disco_port: o.disco_port as number,
    put_port: o.put_port as number,
    ddfs_data: o.ddfs_data as string,
    disco_data: o.disco_data as string,
    mode: o.mode,
    jobfile: o.jobfile as string,
    jobname: o.jobname as string,
    host: o.host as string,
  };
}
export const TaskInfoSchema = z.object({
  taskid: z.number().int(),
  master: z.string(),
  disco_port: z.number().int(),
  put_port: z.number().int(),
  ddfs_data: z.string(),
  disco_data: z.string(),
  mode: z.enum(['map', 'reduce']),
  jobfile: z.string(),
  jobname: z.string(),
  host: z.string(),
});

/** One replica of an input in an `INPUT` reply: `[rid, url]`. */
export type Replica = [number, string];
/** One input in an `INPUT` reply: `[iid, "ok", replicas]`. */
export type InputEntry = [number, 'ok', Replica[]];
/** `INPUT` reply body. */
export type InputReply = ['done', InputEntry[]];
