/**
 * The identity of this client process: nodes serve one client at a time, and all clusters of
 * one process count as one client (as in the original, where they share one scheduler).
 */
import { randomBytes } from 'node:crypto';

export const CLIENT_ID = `${process.pid}-${randomBytes(8).toString('hex')}`;

export function newId(bytes = 8): string {
  return randomBytes(bytes).toString('hex');
}
