/**
 * One client connection to a dispynode ({@link Session}) and its pulses: while a client has
 * computations here, the node tells it every `pulseInterval` seconds that it is alive and how
 * many jobs it runs (the shortest interval any of its computations asked for wins).
 *
 * @example
 * const s: Session = { conn, clientId, address, comps: new Set(), pulseTimer: null, pulseSec: 0 };
 * startPulses(s, spec.pulseInterval, () => runner.running);
 */
import type { Connection } from '../protocol/connection.js';

/** One client connection and the computations it owns (by id). */
export interface Session {
  conn: Connection;
  clientId: string;
  address: string;
  comps: Set<string>;
  pulseTimer: NodeJS.Timeout | null;
  pulseSec: number;
}

/** Pulse the client every `sec` seconds (unless it is pulsed as often already); `busy` counts running jobs. */
export function startPulses(s: Session, sec: number, busy: () => number): void {
  if (s.pulseTimer && s.pulseSec <= sec) return;
  if (s.pulseTimer) clearInterval(s.pulseTimer);
  s.pulseSec = sec;
  s.pulseTimer = setInterval(
    () => s.conn.send({ t: 'pulse', busy: busy(), time: Date.now() / 1000 }),
    sec * 1000,
  );
  s.pulseTimer.unref();
}
