/**
 * The decisions of a tag operation, free of I/O (wire spec §5.4, §5.5; `ddfs_tag.erl`,
 * `ddfs_tag_util.erl`): given the tag's current state and a request, what to answer and
 * whether (and with what content) a new tag version must be written. The tag server
 * (tag-server.ts) performs the writes and serializes the calls per tag.
 *
 * Rules, in the order they are checked:
 * - An unreadable tag (`error` state) fails every operation except DELETE.
 * - GET of a missing or deleted tag → `notfound` (before any token check).
 * - Tokens (§5.5): a token matches a stored one if equal or if the stored one is null. Read:
 *   matching the read-token grants read (and write, if the write-token is null or equal to
 *   the read-token or to the token); otherwise only a set write-token that matches grants
 *   (write). Write: allowed iff the token matches the write-token. A missing tag has null
 *   tokens.
 * - Reading `ddfs:write-token` needs write privilege.
 * - Any write op on a missing tag creates it with read- and write-token = the caller's token
 *   (atomic creation of a protected tag); no token → both null.
 * - POST appends (posted ++ old); `[]` on an existing tag changes nothing. With `update`
 *   (nodup) a replica set whose name (see {@link urlToName}) is already in the tag or earlier
 *   in the post is skipped, the others are prepended one by one. No change → no new version.
 * - PUT of a value: validated first (`invalid_attribute_value`), then authorized; at most
 *   {@link MAX_ATTRIBUTES} user attributes.
 * - DELETE of an attribute of a missing tag → `unknown_attribute`; of an absent user
 *   attribute → a new version all the same (as the original). Deleting a token sets it to null.
 * - DELETE of a tag is authorized against its tokens (null when missing or unreadable).
 */
import { urlToName } from '../names.js';
import { isUrlList, secureReply, type TagContent } from './tag-content.js';

/** A token from a request (null when the request had none). */
export type Token = string | null;
/** The master itself (GC, the `+deleted` metatag, flushing delayed updates): always allowed. */
export const INTERNAL: unique symbol = Symbol('internal');
export type Caller = Token | typeof INTERNAL;
export type Privilege = 'read' | 'write';

/** Most user attributes a tag may carry (`MAX_NUM_TAG_ATTRIBS`). */
export const MAX_ATTRIBUTES = 1000;

/** The state of a tag as its server knows it. */
export type TagData =
  | { kind: 'ok'; content: TagContent }
  | { kind: 'missing'; deleted: boolean }
  | { kind: 'error'; error: string };

/** A settable/deletable field. */
export type Field = 'urls' | 'read-token' | 'write-token' | { user: string };
/** What a GET asks for. */
export type GetAttrib = 'all' | Field;

/** A request to one tag. */
export type TagRequest =
  | { type: 'get'; attrib: GetAttrib; token: Caller }
  | { type: 'update'; urls: unknown; nodup: boolean; token: Caller }
  | { type: 'put'; field: Field; value: unknown; token: Caller }
  | { type: 'delete_attrib'; field: Field; token: Caller }
  | { type: 'delete'; token: Caller };

/** A reply body: JSON text, or (a big tag's GET) the bytes of it. */
export type ReplyBody = string | Buffer;

/** Errors with a defined reply (http.ts maps them to statuses). */
export type TagError =
  | 'unauthorized'
  | 'notfound'
  | 'unknown_attribute'
  | 'invalid_url_object'
  | 'invalid_attribute_value'
  | 'too_many_attributes';

/** What to do. */
export type Outcome =
  /** Answer `body` (JSON text, or its bytes); nothing changes. */
  | { type: 'reply'; body: ReplyBody }
  /** Nothing changes; answer the current tag replica URLs. */
  | { type: 'unchanged' }
  /** Write `content` as a new version; answer its replica URLs (or `"deleted"`). */
  | { type: 'write'; content: TagContent; reply: 'locations' | 'deleted'; undelete: boolean }
  /** Mark the tag deleted. */
  | { type: 'delete' }
  | { type: 'error'; error: TagError | { internal: string } };

/** The id and timestamp a new version would get. */
export interface NewVersion {
  id: string;
  lastModified: string;
}

function matches(token: Caller, stored: Token): boolean {
  return token === INTERNAL || stored === null || token === stored;
}

/** `check_token/4`: the privilege `token` has for an operation of `type`, or false. */
export function checkToken(
  type: Privilege,
  token: Caller,
  readToken: Token,
  writeToken: Token,
): Privilege | false {
  const writeOk = matches(token, writeToken);
  if (type === 'write') return writeOk ? 'write' : false;
  if (matches(token, readToken)) {
    // 0.4.5 grants only read here when the token equals a set write-token but the read-token
    // is null, so the write-token's holder could not read it back; we grant write (no new power).
    if (writeToken === null || writeToken === readToken || token === writeToken) return 'write';
    return 'read';
  }
  // A null write-token must not let a reader past a read-token.
  if (writeToken === null) return false;
  return writeOk ? 'write' : false;
}

function tokensOf(data: TagData): [Token, Token] {
  return data.kind === 'ok' ? [data.content.readToken, data.content.writeToken] : [null, null];
}

/** Result of merging posted replica sets into a tag. */
export interface Merge {
  updated: boolean;
  urls: string[][];
}

/** `merge_urls/4`: the tag's new url list after a POST (`old` null = tag missing). */
export function mergeUrls(posted: string[][], old: string[][] | null, nodup: boolean): Merge {
  if (!nodup) {
    if (old === null) return { updated: true, urls: posted };
    if (posted.length === 0) return { updated: false, urls: old };
    return { updated: true, urls: [...posted, ...old] };
  }
  if (old === null && posted.length === 0) return { updated: true, urls: [] };
  const base = old ?? [];
  const seen = new Set<string>();
  for (const set of base) {
    const n = set.length > 0 ? urlToName(set[0]) : null;
    if (n !== null) seen.add(n);
  }
  const prepended: string[][] = [];
  for (const set of posted) {
    const n = set.length > 0 ? urlToName(set[0]) : null;
    if (n !== null) {
      if (seen.has(n)) continue;
      seen.add(n);
    }
    prepended.push(set);
  }
  if (prepended.length === 0) return { updated: false, urls: base };
  return { updated: true, urls: [...prepended.reverse(), ...base] };
}

/** Is `value` acceptable for `field` (`validate_value/2`)? */
export function validValue(field: Field, value: unknown): boolean {
  if (field === 'urls') return isUrlList(value);
  return typeof value === 'string';
}

/** The content to modify: the existing one, or a new tag owned by the caller's token. */
function base(data: TagData, token: Caller, v: NewVersion): TagContent {
  if (data.kind === 'ok') return { ...data.content, id: v.id, lastModified: v.lastModified };
  const owner = token === INTERNAL ? null : token;
  return { id: v.id, lastModified: v.lastModified, readToken: owner, writeToken: owner, urls: [], user: [] };
}

function setField(c: TagContent, field: Field, value: unknown): TagContent | TagError {
  if (field === 'urls') return { ...c, urls: value as string[][] };
  if (field === 'read-token') return { ...c, readToken: value as string };
  if (field === 'write-token') return { ...c, writeToken: value as string };
  const i = c.user.findIndex(([k]) => k === field.user);
  if (i >= 0) {
    const user = c.user.slice();
    user[i] = [field.user, value as string];
    return { ...c, user };
  }
  if (c.user.length >= MAX_ATTRIBUTES) return 'too_many_attributes';
  return { ...c, user: [...c.user, [field.user, value as string]] };
}

function clearField(c: TagContent, field: Field): TagContent {
  if (field === 'urls') return { ...c, urls: [] };
  if (field === 'read-token') return { ...c, readToken: null };
  if (field === 'write-token') return { ...c, writeToken: null };
  return { ...c, user: c.user.filter(([k]) => k !== field.user) };
}

function getAttrib(c: TagContent, attrib: GetAttrib, priv: Privilege): Outcome {
  if (attrib === 'all') return { type: 'reply', body: secureReply(c) };
  if (attrib === 'urls') return { type: 'reply', body: JSON.stringify(c.urls) };
  if (attrib === 'read-token') return { type: 'reply', body: JSON.stringify(c.readToken) };
  if (attrib === 'write-token') {
    if (priv !== 'write') return { type: 'error', error: 'unauthorized' };
    return { type: 'reply', body: JSON.stringify(c.writeToken) };
  }
  const hit = c.user.find(([k]) => k === attrib.user);
  return hit
    ? { type: 'reply', body: JSON.stringify(hit[1]) }
    : { type: 'error', error: 'unknown_attribute' };
}

/** Decide a request against the tag's state. `version` is what a new version would carry. */
export function decide(data: TagData, req: TagRequest, version: NewVersion): Outcome {
  if (data.kind === 'error' && req.type !== 'delete')
    return { type: 'error', error: { internal: data.error } };
  const [rt, wt] = tokensOf(data);
  switch (req.type) {
    case 'get': {
      if (data.kind !== 'ok') return { type: 'error', error: 'notfound' };
      const priv = checkToken('read', req.token, rt, wt);
      if (!priv) return { type: 'error', error: 'unauthorized' };
      return getAttrib(data.content, req.attrib, priv);
    }
    case 'update': {
      if (!checkToken('write', req.token, rt, wt)) return { type: 'error', error: 'unauthorized' };
      if (!isUrlList(req.urls)) return { type: 'error', error: 'invalid_url_object' };
      const m = mergeUrls(req.urls, data.kind === 'ok' ? data.content.urls : null, req.nodup);
      if (!m.updated) return { type: 'unchanged' };
      const content = { ...base(data, req.token, version), urls: m.urls };
      return { type: 'write', content, reply: 'locations', undelete: isDeleted(data) };
    }
    case 'put': {
      if (!validValue(req.field, req.value)) return { type: 'error', error: 'invalid_attribute_value' };
      if (!checkToken('write', req.token, rt, wt)) return { type: 'error', error: 'unauthorized' };
      const content = setField(base(data, req.token, version), req.field, req.value);
      if (typeof content === 'string') return { type: 'error', error: content };
      return { type: 'write', content, reply: 'locations', undelete: isDeleted(data) };
    }
    case 'delete_attrib': {
      if (data.kind !== 'ok') return { type: 'error', error: 'unknown_attribute' };
      if (!checkToken('write', req.token, rt, wt)) return { type: 'error', error: 'unauthorized' };
      const content = clearField(base(data, req.token, version), req.field);
      return { type: 'write', content, reply: 'deleted', undelete: false };
    }
    case 'delete':
      if (!checkToken('write', req.token, rt, wt)) return { type: 'error', error: 'unauthorized' };
      return { type: 'delete' };
  }
}

function isDeleted(data: TagData): boolean {
  return data.kind === 'missing' && data.deleted;
}

/**
 * Delayed updates (`delayed=1`) buffered for one flush: grouped by option set; a later
 * request's urls go **before** the earlier ones (`do_delayed_update/5`), and the group is
 * then applied as one POST.
 */
export function bufferDelayed(buffered: string[][] | undefined, urls: string[][]): string[][] {
  return buffered ? [...urls, ...buffered] : urls;
}
