/**
 * `profile: true` (wire spec §6.5, the original ran each task under cProfile): the task's
 * phase runs under the V8 sampling profiler, through an inspector session of the worker
 * process itself (`node:inspector`; `--cpu-prof` cannot be set per task). The profile, a
 * Chrome DevTools `.cpuprofile` JSON, is stored as the OOB result `profile-<task uid>`
 * (e.g. `profile-map:3-1a-16110`), also when the phase fails. `Disco.profileStats` merges
 * them into a table.
 *
 * @example
 * const produced = await profiledPhase(data.profile, paths.uid, () => runMap(run));
 */
import { Session } from 'node:inspector/promises';
import { profileKey } from '../protocol/names.js';
import { putTaskValue } from './oob.js';

/** Sampling interval in microseconds: fine enough for short tasks, cheap enough for long ones. */
const SAMPLING_INTERVAL_US = 500;

let session: Session | null = null;

async function profilerSession(): Promise<Session> {
  if (session) return session;
  const s = new Session();
  s.connect();
  await s.post('Profiler.enable');
  await s.post('Profiler.setSamplingInterval', { interval: SAMPLING_INTERVAL_US });
  session = s;
  return s;
}

/**
 * Run `phase`, profiled when `enabled`, and store the profile as OOB key `profile-<uid>`.
 * A failure of the phase is rethrown after its profile is stored (best effort).
 */
export async function profiledPhase<T>(enabled: boolean, uid: string, phase: () => T): Promise<T> {
  if (!enabled) return phase();
  const s = await profilerSession();
  await s.post('Profiler.start');
  let result: T;
  try {
    result = phase();
  } catch (e) {
    try {
      const { profile } = await s.post('Profiler.stop');
      putTaskValue(profileKey(uid), JSON.stringify(profile));
    } catch {
      // The phase's own error is what the task reports.
    }
    throw e;
  }
  const { profile } = await s.post('Profiler.stop');
  putTaskValue(profileKey(uid), JSON.stringify(profile));
  return result;
}
