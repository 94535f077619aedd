/**
 * Messages between a dispynode and its function-job worker processes (Node IPC with the
 * `advanced` serialization, so byte strings travel without re-encoding). Both sides import
 * these schemas; the node validates what workers send, the worker what the node sends.
 *
 * A worker is started generic, then `load`ed with one computation for the rest of its life;
 * it runs one job at a time, each in a fresh scope (see `src/dispy/node/job-scope.ts`).
 *
 * @example
 * worker.send({ t: 'job', uid: 7, args: encodeData([1, 2]) } satisfies ToWorker);
 */
import { z } from 'zod';

/** Bytes (MessagePack bin / IPC Uint8Array). */
const bin = z.custom<Uint8Array>((v) => v instanceof Uint8Array, { message: 'expected bytes' });

export const ToWorkerSchema = z.discriminatedUnion('t', [
  z.object({
    t: z.literal('load'),
    computeId: z.string(),
    source: z.string(),
    entry: z.string(),
    /** Directory of the computation (cwd of jobs, base of relative requires/imports). */
    dir: z.string(),
    nodeName: z.string(),
    nodeIpAddr: z.string(),
    setupFn: z.string().optional(),
    cleanupFn: z.string().optional(),
    /** Records of named values shared read-only by all jobs: depends data, what `setup` created. */
    shared: z.array(bin).optional(),
    maxOutput: z.number().int().positive(),
  }),
  z.object({ t: z.literal('setup'), fn: z.string(), args: bin.optional() }),
  z.object({ t: z.literal('cleanup'), fn: z.string(), args: bin.optional() }),
  /** Run a job; a worker that is busy keeps it and starts it as soon as it is free. */
  z.object({ t: z.literal('job'), uid: z.number().int(), args: bin, startTime: z.number() }),
  /** Forget a job that is still waiting in the worker (it answers `dropped`). */
  z.object({ t: z.literal('drop'), uid: z.number().int() }),
  z.object({ t: z.literal('reply'), reqId: z.number().int(), ok: z.boolean(), error: z.string().optional() }),
]);
export type ToWorker = z.infer<typeof ToWorkerSchema>;

export const FromWorkerSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('ready') }),
  z.object({ t: z.literal('loaded'), ok: z.boolean(), error: z.string().optional() }),
  z.object({
    t: z.literal('setupDone'),
    ok: z.boolean(),
    error: z.string().optional(),
    /** `encodeData` of the globals setup created. */
    globals: bin.optional(),
  }),
  z.object({ t: z.literal('cleanupDone'), ok: z.boolean(), error: z.string().optional() }),
  z.object({
    t: z.literal('result'),
    uid: z.number().int(),
    status: z.enum(['Finished', 'Terminated']),
    result: bin.optional(),
    stdout: z.string(),
    stderr: z.string(),
    exception: z.string().optional(),
    startTime: z.number(),
    endTime: z.number(),
    cpuMs: z.number(),
  }),
  z.object({ t: z.literal('dropped'), uid: z.number().int() }),
  /** The last job changed shared built-ins: the worker exits and must be replaced. */
  z.object({ t: z.literal('tainted'), reason: z.string() }),
  z.object({ t: z.literal('provisional'), uid: z.number().int(), result: bin, time: z.number() }),
  z.object({ t: z.literal('sendFile'), uid: z.number().int(), reqId: z.number().int(), path: z.string() }),
]);
export type FromWorker = z.infer<typeof FromWorkerSchema>;
