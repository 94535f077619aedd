/**
 * Signatures of discovery datagrams. With a secret, every `ping` and `pong` carries
 * `sig = HMAC-SHA256(secret, canonical form)` and receivers drop datagrams whose signature is
 * missing or wrong, so nobody without the secret can make a client connect to an address of
 * their choosing or learn a node's presence by pinging it. The fields a dispynetrelay adds
 * (`relayed`, `origin`) are not signed: the relay needs no secret. A recorded datagram can be
 * replayed, which yields at most a pong or a connection attempt — and every connection is
 * authenticated with the secret anyway.
 *
 * @example
 * const signed = signDatagram('s3cret', ping);
 * datagramSignatureValid('s3cret', signed); // true
 */
import { proof, verifyProof } from '../../common/auth.js';
import type { Datagram } from '../protocol/messages.js';

/** Fields not covered by the signature. */
const UNSIGNED = new Set(['sig', 'relayed', 'origin']);

function canonical(d: Datagram): string {
  const entries = Object.entries(d)
    .filter(([k, v]) => !UNSIGNED.has(k) && v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `dispy-datagram:${JSON.stringify(entries)}`;
}

/** `d` with its signature (unchanged without a secret). */
export function signDatagram<D extends Datagram>(secret: string, d: D): D {
  if (!secret) return d;
  return { ...d, sig: proof(secret, canonical(d)) };
}

/** Whether `d` is signed with `secret` (anything is valid without a secret). */
export function datagramSignatureValid(secret: string, d: Datagram): boolean {
  if (!secret) return true;
  return typeof d.sig === 'string' && verifyProof(secret, canonical(d), d.sig);
}
