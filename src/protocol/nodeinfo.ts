/**
 * The master's description of one node, a value of the `/disco/ctrl/nodeinfo` answer (wire
 * spec §1.2.1): written by the master's node registry, read by the client and `disco nodeinfo`.
 *
 * @example
 * const info: Record<string, NodeInfo> = await disco.nodeinfo();
 * for (const [host, n] of Object.entries(info)) console.log(host, n.connected, n.max_workers);
 */

/** One node in `/disco/ctrl/nodeinfo`: its task counters, slots, state and disk figures. */
export interface NodeInfo {
  job_ok: number;
  data_error: number;
  error: number;
  max_workers: number;
  connected: boolean;
  blacklisted: boolean;
  tasks?: string[];
  diskfree?: number;
  diskused?: number;
}
