/**
 * The job pack (wire spec §2): a 128-byte header, then jobdict (JSON), jobenvs (JSON),
 * jobhome (ZIP) and jobdata (opaque) sections. Both the client (encode) and the master/node
 * (decode, validate) use this module.
 *
 * @example
 * const pack = encodeJobPack({ jobdict, jobenvs: {}, jobhome: zipBytes, jobdata: Buffer.alloc(0) });
 * const parsed = decodeJobPack(pack); // throws JobPackError('invalid header ...') on bad input
 */
import { z } from 'zod';
import { prefixError } from './names.js';

export const JOBPACK_MAGIC = 0xd5c0;
export const JOBPACK_VERSION = 0x0001;
export const HEADER_SIZE = 128;

/** Error whose message carries the substrings the original tests look for. */
export class JobPackError extends Error {
  override name = 'JobPackError';
}

const InputSchema = z.union([z.string(), z.array(z.string()).min(1)]);

export const SchedulerSchema = z
  .object({
    max_cores: z.number().int().positive().optional(),
    force_local: z.boolean().optional(),
    force_remote: z.boolean().optional(),
  })
  .passthrough();

/**
 * jobdict fields read by the master (§2.2). Unknown keys are kept (workers may read them):
 * the TypeScript worker adds `ts_worker` (runtime version, allows warm reusable workers).
 */
export const JobDictSchema = z
  .object({
    prefix: z.string(),
    input: z.array(InputSchema),
    worker: z.string(),
    owner: z.string(),
    nr_reduces: z.number().int().nonnegative(),
    scheduler: SchedulerSchema,
    'map?': z.boolean().optional(),
    'reduce?': z.boolean().optional(),
    ts_worker: z.string().optional(),
  })
  .passthrough();
export type JobDict = z.infer<typeof JobDictSchema>;
export type JobInput = z.infer<typeof InputSchema>;

export const JobEnvsSchema = z.record(z.string(), z.string());
export type JobEnvs = z.infer<typeof JobEnvsSchema>;

export interface JobPack {
  jobdict: JobDict;
  jobenvs: JobEnvs;
  jobhome: Uint8Array;
  jobdata: Uint8Array;
}

/** Build the binary pack. */
export function encodeJobPack(p: {
  jobdict: JobDict;
  jobenvs?: JobEnvs;
  jobhome: Uint8Array;
  jobdata?: Uint8Array;
}): Buffer {
  const dict = Buffer.from(JSON.stringify(p.jobdict));
  const envs = Buffer.from(JSON.stringify(p.jobenvs ?? {}));
  const home = Buffer.from(p.jobhome);
  const data = Buffer.from(p.jobdata ?? new Uint8Array());
  const header = Buffer.alloc(HEADER_SIZE);
  const dictOff = HEADER_SIZE;
  const envsOff = dictOff + dict.length;
  const homeOff = envsOff + envs.length;
  const dataOff = homeOff + home.length;
  header.writeUInt16BE(JOBPACK_MAGIC, 0);
  header.writeUInt16BE(JOBPACK_VERSION, 2);
  header.writeUInt32BE(dictOff, 4);
  header.writeUInt32BE(envsOff, 8);
  header.writeUInt32BE(homeOff, 12);
  header.writeUInt32BE(dataOff, 16);
  return Buffer.concat([header, dict, envs, home, data]);
}

export interface JobPackOffsets {
  dict: number;
  envs: number;
  home: number;
  data: number;
}

/**
 * Check the header (`jobpack:valid/1`) and return the section offsets. `totalSize` is the
 * size of the whole pack when `buf` holds only its beginning (a node reads the header of a
 * job file on disk without loading the whole pack).
 */
export function readJobPackHeader(buf: Uint8Array, totalSize = buf.length): JobPackOffsets {
  if (buf.length < HEADER_SIZE)
    throw new JobPackError(
      `invalid header: job pack is ${buf.length} bytes, shorter than the 128-byte header`,
    );
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = b.readUInt16BE(0);
  const version = b.readUInt16BE(2);
  if (magic !== JOBPACK_MAGIC)
    throw new JobPackError(`invalid header: bad magic 0x${magic.toString(16)} (expected 0xd5c0)`);
  if (version !== JOBPACK_VERSION)
    throw new JobPackError(`invalid header: unsupported version ${version} (expected 1)`);
  const o = {
    dict: b.readUInt32BE(4),
    envs: b.readUInt32BE(8),
    home: b.readUInt32BE(12),
    data: b.readUInt32BE(16),
  };
  if (o.dict !== HEADER_SIZE) throw new JobPackError(`invalid header: jobdict offset ${o.dict} must be 128`);
  if (!(o.envs > o.dict && o.home >= o.envs && o.data >= o.home && totalSize >= o.data)) {
    throw new JobPackError(
      `invalid header: section offsets ${o.dict}/${o.envs}/${o.home}/${o.data} are out of order or past the end (${totalSize} bytes)`,
    );
  }
  return o;
}

/** Decode and validate a whole pack; errors name what was wrong (`invalid header`, `missing key`, `invalid prefix`). */
export function decodeJobPack(buf: Uint8Array): JobPack {
  const o = readJobPackHeader(buf);
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const jobdict = parseJobDict(b.subarray(o.dict, o.envs));
  let envsRaw: unknown;
  try {
    envsRaw = JSON.parse(b.subarray(o.envs, o.home).toString('utf8'));
  } catch {
    throw new JobPackError('invalid header: jobenvs is not valid JSON');
  }
  const envs = JobEnvsSchema.safeParse(envsRaw);
  if (!envs.success) throw new JobPackError('invalid jobenvs: must be an object of string values');
  return { jobdict, jobenvs: envs.data, jobhome: b.subarray(o.home, o.data), jobdata: b.subarray(o.data) };
}

/** The keys the master requires, in the order it looks them up. */
const REQUIRED_KEYS = ['scheduler', 'prefix', 'input', 'worker', 'owner', 'nr_reduces'] as const;

export function parseJobDict(bytes: Uint8Array): JobDict {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new JobPackError('invalid header: jobdict is not valid JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new JobPackError('invalid header: jobdict must be a JSON object');
  for (const k of REQUIRED_KEYS) {
    if (!(k in raw)) throw new JobPackError(`jobpack missing key '${k}'`);
  }
  const perr = prefixError((raw as { prefix: unknown }).prefix);
  if (perr) throw new JobPackError(perr);
  const parsed = JobDictSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new JobPackError(`invalid jobdict: field '${issue.path.join('.')}' ${issue.message.toLowerCase()}`);
  }
  const d = parsed.data;
  if (d.worker.startsWith('/') || d.worker.split('/').includes('..')) {
    throw new JobPackError(
      `invalid jobdict: worker path ${JSON.stringify(d.worker)} must be relative to the job home`,
    );
  }
  return d;
}
