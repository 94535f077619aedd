/**
 * The environment a worker runs in (wire spec §3.1, §10): the node's environment without any
 * Disco setting (so the worker's own settings lookup sees only defaults and settings files,
 * as in the original), plus what Python ≥ 3.8 needs to run the 0.4.5 classic worker, plus the
 * job's `jobenvs` last so a job may override anything.
 */
import { SETTING_NAMES } from '../common/settings.js';

/** Variables the node adds for every worker (spec §10: warnings would corrupt the protocol stream). */
export const WORKER_ENV_EXTRAS: Readonly<Record<string, string>> = {
  PYTHONWARNINGS: 'ignore',
  PYTHONHASHSEED: '0',
};

/**
 * Build a worker environment from `base` (normally `process.env`). Removes every known setting
 * name, `DISCO_SETTINGS` itself and every name listed in it (the master exports that list).
 */
export function workerEnv(
  base: Record<string, string | undefined>,
  jobenvs: Record<string, string> = {},
): Record<string, string> {
  const drop = new Set<string>([...SETTING_NAMES, 'DISCO_SETTINGS']);
  for (const name of (base.DISCO_SETTINGS ?? '').split(',')) {
    if (name.trim()) drop.add(name.trim());
  }
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) {
    if (v !== undefined && !drop.has(k)) env[k] = v;
  }
  return { ...env, ...WORKER_ENV_EXTRAS, ...jobenvs };
}
