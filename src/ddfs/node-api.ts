/**
 * The internal DDFS API between the master and a node's storage (ours: the original used
 * Erlang messages, `ddfs_node.erl`). It is served by the node's PUT server on
 * `DDFS_PUT_PORT`, under paths beginning `/ddfs/!`, which can never be blob names (`!` is not
 * a DDFS name character), so the public `PUT /ddfs/<name>$<ts>` contract is untouched.
 *
 * | Method, path | Reply |
 * |---|---|
 * | GET `/ddfs/!tags` | `[[name, ts, vol], ...]` newest local version of every tag |
 * | GET `/ddfs/!tag/<name>` | `{ts, vol}` of the newest local version, 404 if none |
 * | GET `/ddfs/!tagdata/<vol>/<name$ts>` | the tag object's bytes |
 * | PUT `/ddfs/!tagdata/<name$ts>` (body = tag JSON) | `{vol}`: written as `!partial.<name$ts>` |
 * | POST `/ddfs/!tagcommit/<vol>/<name$ts>` | `{url}`: the partial file renamed into place |
 * | GET `/ddfs/!objects` | `{blobs, tags, partials}`: every object with size and mtime (GC) |
 * | POST `/ddfs/!delete` (body `{objects: [[vol, type, obj], ...], paranoid}`) | `{deleted}` |
 * | POST `/ddfs/!partials/prune` (body `{olderThanMs}`) | `{deleted}` |
 * | POST `/ddfs/!replicate` (body `{vol, obj, to}`) | `{url}`: the blob PUT to another node |
 *
 * Authentication: when `DISCO_SECRET` is set every internal request carries
 * `X-Disco-Auth: <unix ms>:<hex hmac-sha256(secret, "<METHOD> <path> <unix ms>")>`; the node
 * refuses (401) a missing or wrong proof, or one more than 5 minutes away from its clock.
 * Without a secret there is no check (as on the control channel): set one on untrusted networks.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/** Every internal path starts with this. */
export const INTERNAL_PREFIX = '/ddfs/!';
/** Header carrying the HMAC proof. */
export const AUTH_HEADER = 'x-disco-auth';
/** How far a proof's clock may be from the node's. */
export const AUTH_WINDOW_MS = 5 * 60_000;

function mac(secret: string, method: string, path: string, at: string): string {
  return createHmac('sha256', secret).update(`${method} ${path} ${at}`).digest('hex');
}

/** The `X-Disco-Auth` value for a request ('' without a secret). */
export function signRequest(secret: string, method: string, path: string, now = Date.now()): string {
  if (!secret) return '';
  const at = String(now);
  return `${at}:${mac(secret, method, path, at)}`;
}

/** Check a request's proof; an empty secret accepts anything. */
export function verifyRequest(
  secret: string,
  method: string,
  path: string,
  header: string | undefined,
  now = Date.now(),
): boolean {
  if (!secret) return true;
  if (!header) return false;
  const m = /^(\d{1,16}):([0-9a-f]{64})$/.exec(header);
  if (!m) return false;
  if (Math.abs(now - Number(m[1])) > AUTH_WINDOW_MS) return false;
  const want = Buffer.from(mac(secret, method, path, m[1]), 'hex');
  const got = Buffer.from(m[2], 'hex');
  return want.length === got.length && timingSafeEqual(want, got);
}

/** `GET /ddfs/!tags`. */
export const TagListSchema = z.array(z.tuple([z.string(), z.string(), z.string()]));
export type TagList = z.infer<typeof TagListSchema>;

/** `GET /ddfs/!tag/<name>`. */
export const TagVersionSchema = z.object({ ts: z.string(), vol: z.string() });
export type TagVersion = z.infer<typeof TagVersionSchema>;

/** `PUT /ddfs/!tagdata/<id>`. */
export const PutTagReplySchema = z.object({ vol: z.string() });

/** `POST /ddfs/!tagcommit/<vol>/<id>` and `POST /ddfs/!replicate`. */
export const UrlReplySchema = z.object({ url: z.string() });

/** One stored object as listed for GC: `[vol, obj, size, mtimeMs]`. */
export const ObjectEntrySchema = z.tuple([z.string(), z.string(), z.number(), z.number()]);
export type ObjectEntry = z.infer<typeof ObjectEntrySchema>;

/** `GET /ddfs/!objects`. */
export const ObjectListSchema = z.object({
  blobs: z.array(ObjectEntrySchema),
  tags: z.array(ObjectEntrySchema),
});
export type ObjectList = z.infer<typeof ObjectListSchema>;

/** `POST /ddfs/!delete` body. */
export const DeleteRequestSchema = z.object({
  objects: z.array(z.tuple([z.string(), z.enum(['blob', 'tag']), z.string()])).max(1_000_000),
  /** `DDFS_PARANOID_DELETE`: rename to `!trash.<obj>` instead of unlinking. */
  paranoid: z.boolean(),
});
export type DeleteRequest = z.infer<typeof DeleteRequestSchema>;

/** `POST /ddfs/!partials/prune` body. */
export const PruneRequestSchema = z.object({ olderThanMs: z.number().nonnegative() });

/** `POST /ddfs/!replicate` body: copy a local blob to `to` (a `PUT` URL on another node). */
export const ReplicateRequestSchema = z.object({ vol: z.string(), obj: z.string(), to: z.string() });

/** `{deleted: n}` replies. */
export const CountReplySchema = z.object({ deleted: z.number() });
