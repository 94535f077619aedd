/**
 * dispyscheduler's computations on disk, for a restart: each computation's record is written
 * (in order, after every change that matters: scheduled, nodes set up or lost, nodes added)
 * under its directory, and a starting scheduler reads the records back (see
 * `cluster-record.ts` for the layout).
 *
 * @example
 * saveRecord(c, log);
 * await c.saving; // on disk
 * const found = await loadSavedComputations(root, settings, log);
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { readClusterRecord, writeClusterRecord } from './cluster-record.js';
import { type ComputationSettings, newComputation, type SchedCluster } from './computation.js';

/** Queue a write of the computation's record (`c.saving` resolves once it is on disk). */
export function saveRecord(c: SchedCluster, log: Logger): void {
  const rec = {
    v: 1 as const,
    spec: c.spec,
    nodeToken: c.nodeSpec.token,
    allocs: c.allocSpecs,
    nodes: [...c.nodeKeys],
    exclusive: c.exclusive,
    created: c.created,
  };
  c.saving = c.saving
    .then(() => (c.state === 'closed' ? undefined : writeClusterRecord(c.files.dir, rec)))
    .catch((e: Error) => log.warn(`cannot save the record of ${c.spec.name}: ${e.message}`));
}

/**
 * The computations a previous scheduler left under `root`, in the order of the directory
 * (marked `restored`, with the nodes they were set up on; no client yet). Directories without
 * a readable record are deleted.
 */
export async function loadSavedComputations(
  root: string,
  settings: ComputationSettings,
  log: Logger,
): Promise<SchedCluster[]> {
  const out: SchedCluster[] = [];
  const seen = new Set<string>();
  for (const e of await fs.readdir(root, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const dir = path.join(root, e.name);
    const rec = await readClusterRecord(dir);
    if (!rec || seen.has(rec.spec.computeId)) {
      log.warn(`removing ${dir}: no readable computation record (a client that never scheduled?)`);
      await fs.rm(dir, { recursive: true, force: true });
      continue;
    }
    seen.add(rec.spec.computeId);
    const c = newComputation(
      rec.spec,
      dir,
      null,
      { allocs: rec.allocs, exclusive: rec.exclusive, nodeToken: rec.nodeToken, created: rec.created },
      settings,
    );
    c.restored = true;
    c.toldWaiting = true;
    for (const k of rec.nodes) c.nodeKeys.add(k);
    out.push(c);
  }
  return out;
}
