/** Shared-secret authentication: HMAC-SHA256 challenge/response (control channel, dispy). */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export function newNonce(): string {
  return randomBytes(16).toString('hex');
}

/** The proof for `nonce`; with an empty secret it is the empty string (no auth). */
export function proof(secret: string, nonce: string): string {
  if (!secret) return '';
  return createHmac('sha256', secret).update(nonce).digest('hex');
}

/** Constant-time check of a proof. An empty secret accepts anything. */
export function verifyProof(secret: string, nonce: string, got: string): boolean {
  if (!secret) return true;
  const want = Buffer.from(proof(secret, nonce));
  const have = Buffer.from(got);
  return want.length === have.length && timingSafeEqual(want, have);
}
