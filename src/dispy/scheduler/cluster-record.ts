/**
 * What dispyscheduler keeps on disk about each computation, so that a restarted scheduler
 * takes up where it stopped: `<root>/<computeId>/.dispy-cluster.msgpack` (written atomically)
 * holds the client's computation, the token the scheduler uses toward nodes, the nodes asked
 * for and the nodes where the computation was set up. The same directory holds the
 * computation's files and, under `.dispy-results/`, results not yet acknowledged by the client
 * (see `ResultStore`). `<root>/scheduler.json` keeps the scheduler's identity toward nodes.
 *
 * @example
 * await writeClusterRecord(dir, { v: 1, spec, nodeToken, allocs, nodes: ['10.0.0.2:51348'], exclusive: false, created: Date.now() });
 * const rec = await readClusterRecord(dir); // null when absent or damaged
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../../common/fs-atomic.js';
import { packMessage, unpackMessage } from '../protocol/codec.js';
import { ComputeSpecSchema, NodeAllocSpecSchema } from '../protocol/messages.js';

const RECORD_FILE = '.dispy-cluster.msgpack';

export const ClusterRecordSchema = z.object({
  v: z.literal(1),
  /** The computation as the client sent it (its token is the client's). */
  spec: ComputeSpecSchema,
  /** The token of the computation toward nodes. */
  nodeToken: z.string(),
  allocs: z.array(NodeAllocSpecSchema),
  /** `host:port` of the nodes where the computation was set up. */
  nodes: z.array(z.string()),
  exclusive: z.boolean(),
  /** When the client sent it (ms since epoch): the order of `exclusive` admission. */
  created: z.number(),
});
export type ClusterRecord = z.infer<typeof ClusterRecordSchema>;

export async function writeClusterRecord(dir: string, rec: ClusterRecord): Promise<void> {
  await writeFileAtomic(path.join(dir, RECORD_FILE), packMessage(rec));
}

/** The record in `dir`, or null when there is none or it cannot be read. */
export async function readClusterRecord(dir: string): Promise<ClusterRecord | null> {
  try {
    return ClusterRecordSchema.parse(unpackMessage(await fs.readFile(path.join(dir, RECORD_FILE))));
  } catch {
    return null;
  }
}

/** The scheduler's identity toward nodes, kept across restarts (nodes serve one client at a time). */
export async function schedulerIdentity(root: string): Promise<string> {
  const file = path.join(root, 'scheduler.json');
  try {
    const id = z.object({ id: z.string().min(1) }).parse(JSON.parse(await fs.readFile(file, 'utf8'))).id;
    return id;
  } catch {
    const id = `scheduler-${randomBytes(8).toString('hex')}`;
    await writeFileAtomic(file, JSON.stringify({ id }));
    return id;
  }
}
