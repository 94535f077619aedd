/**
 * The tag object (wire spec §5.4, `ddfs_tag_util.erl`): stored as
 * `{"version":1,"id":"<tag>$<ts>","last-modified":"YYYY/MM/DD HH:MM:SS","read-token":null|"..",
 * "write-token":null|"..","urls":[[url,...],...],"user-data":{name:value}}` (keys in that
 * order); `GET /ddfs/tag/<tag>` returns the same without the two token keys.
 */

/** A tag's content. `user` keeps attribute order (a new attribute goes last). */
export interface TagContent {
  id: string;
  lastModified: string;
  readToken: string | null;
  writeToken: string | null;
  urls: string[][];
  user: [string, string][];
}

function userJson(user: [string, string][]): string {
  // Built by hand: a JS object would move integer-like attribute names to the front.
  return `{${user.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
}

/** The stored form (with tokens). */
export function encodeTag(t: TagContent): string {
  return (
    `{"version":1,"id":${JSON.stringify(t.id)},"last-modified":${JSON.stringify(t.lastModified)},` +
    `"read-token":${JSON.stringify(t.readToken)},"write-token":${JSON.stringify(t.writeToken)},` +
    `"urls":${JSON.stringify(t.urls)},"user-data":${userJson(t.user)}}`
  );
}

/**
 * Encoded replies per content object. Contents are never modified in place (a change makes a
 * new object), so a reply stays valid as long as its content lives; a tag of 100,000 blobs is
 * then serialized once per version rather than once per GET, and kept as the bytes sent (a
 * string would be copied into new bytes by every GET).
 */
const secureBodies = new WeakMap<TagContent, Buffer>();
/** Replies longer than this are kept (smaller ones are cheap to encode again). */
const CACHED_REPLY = 64 * 1024;

/** The form `GET /ddfs/tag/<tag>` returns (no tokens). */
export function encodeTagSecure(t: TagContent): string {
  return (
    `{"version":1,"id":${JSON.stringify(t.id)},"last-modified":${JSON.stringify(t.lastModified)},` +
    `"urls":${JSON.stringify(t.urls)},"user-data":${userJson(t.user)}}`
  );
}

/** {@link encodeTagSecure} as sent: a string, or for a big tag its bytes encoded once. */
export function secureReply(t: TagContent): string | Buffer {
  const hit = secureBodies.get(t);
  if (hit !== undefined) return hit;
  const body = encodeTagSecure(t);
  if (body.length <= CACHED_REPLY) return body;
  const bytes = Buffer.from(body);
  secureBodies.set(t, bytes);
  return bytes;
}

/**
 * Parse a stored tag object; null when it is not one (corrupt JSON, missing id or urls).
 * Missing tokens and user data default to null and empty, as the original reads them.
 */
export function decodeTag(text: string): TagContent | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return null;
  const o = raw as Record<string, unknown>;
  if (typeof o.id !== 'string' || !isUrlList(o.urls)) return null;
  const token = (v: unknown) => (typeof v === 'string' ? v : null);
  const user: [string, string][] = [];
  const ud = o['user-data'];
  if (ud && typeof ud === 'object' && !Array.isArray(ud)) {
    for (const [k, v] of Object.entries(ud as Record<string, unknown>))
      if (typeof v === 'string') user.push([k, v]);
  }
  return {
    id: o.id,
    lastModified: typeof o['last-modified'] === 'string' ? o['last-modified'] : '',
    readToken: token(o['read-token']),
    writeToken: token(o['write-token']),
    urls: o.urls,
    user,
  };
}

/** A list of replica sets: a list of lists of strings (`validate_urls/1`; `[]` sets allowed). */
export function isUrlList(v: unknown): v is string[][] {
  return Array.isArray(v) && v.every((set) => Array.isArray(set) && set.every((u) => typeof u === 'string'));
}
