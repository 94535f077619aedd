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
 * 0.4.5 setting names this implementation does not use, removed all the same: the original
 * master lists them in `DISCO_SETTINGS`, so its workers never see them. `DISCO_SETTINGS_FILE`
 * matters most: passed on, it would hide the node's `~/.disco` from the Python worker's own
 * settings lookup (which is how a cluster on a port other than 8989 tells it `DISCO_PORT`).
 */
const ORIGINAL_ONLY_SETTINGS = [
  'DISCO_SETTINGS_FILE',
  'DISCO_ERLANG',
  'DISCO_HTTPD',
  'DISCO_PROXY_CONFIG',
  'DISCO_PROXY_PID',
  'DISCO_ROTATE_LOG',
  'DISCO_TEST_DISCODB',
];

/**
 * Build a worker environment from `base` (normally `process.env`). Removes every known setting
 * name (ours and the original's), `DISCO_SETTINGS` itself and every name listed in it (the
 * master exports that list).
 */
export function workerEnv(
  base: Record<string, string | undefined>,
  jobenvs: Record<string, string> = {},
): Record<string, string> {
  const drop = new Set<string>([...SETTING_NAMES, ...ORIGINAL_ONLY_SETTINGS, 'DISCO_SETTINGS']);
  for (const name of (base.DISCO_SETTINGS ?? '').split(',')) {
    if (name.trim()) drop.add(name.trim());
  }
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) {
    if (v !== undefined && !drop.has(k)) env[k] = v;
  }
  return { ...env, ...WORKER_ENV_EXTRAS, ...jobenvs };
}
