/**
 * DDFS object names and URLs (wire spec §5.2, §5.4): an object is `<name>$<ts>` with `<ts>` =
 * `hex(Mega)-hex(Sec)-hex(Micro)`; it lives at `DDFS_DATA/<vol>/<blob|tag>/<HH>/<obj>` with
 * `HH` = first byte of md5(**whole** object name), and is addressed as
 * `disco://<host>/ddfs/<vol>/<blob|tag>/<HH>/<obj>`.
 *
 * @example
 * const obj = packObjName('data:log', '5dc-1a2b3-4c5d');   // 'data:log$5dc-1a2b3-4c5d'
 * objectUrl('node1', 'vol0', 'blob', obj);               // 'disco://node1/ddfs/vol0/blob/<HH>/data:log$5dc-...'
 */
import { ddfsTimestamp, parseDdfsTimestamp } from '../common/time.js';
import { hexHash, isValidDdfsName } from '../protocol/names.js';

export { isValidDdfsName };

/** The two kinds of DDFS objects, which are also the directory names inside a volume. */
export type ObjectType = 'blob' | 'tag';

/** Name of the deleted-tags metatag; the `+` keeps it out of the user's name space. */
export const DELETED_TAG = '+deleted';

/** Maximum length of a tag or blob prefix (`NAME_MAX`). */
export const NAME_MAX = 511;
/** Objects are read-only once in place (`FILE_MODE`). */
export const OBJECT_MODE = 0o400;
/** Largest blob a node accepts (the original's 1 TiB). */
export const MAX_BLOB_SIZE = 1024 ** 4;

const TS_RE = /^[0-9a-fA-F]+-[0-9a-fA-F]+-[0-9a-fA-F]+$/;
const VOL_RE = /^vol[A-Za-z0-9_-]*$/;

/** `name$ts`. */
export function packObjName(name: string, ts: string = ddfsTimestamp()): string {
  return `${name}$${ts}`;
}

/** A parsed object name. */
export interface ObjName {
  name: string;
  ts: string;
  /** `ts` as microseconds since the epoch, for ordering versions. */
  time: number;
}

/**
 * Split `name$ts`; null unless there is exactly one `$`, the name is a valid DDFS name (or the
 * `+deleted` metatag when `allowMeta`) and the timestamp is a hex triple.
 */
export function unpackObjName(obj: string, allowMeta = false): ObjName | null {
  const parts = obj.split('$');
  if (parts.length !== 2) return null;
  const [name, ts] = parts;
  if (!(isValidDdfsName(name) || (allowMeta && name === DELETED_TAG))) return null;
  if (!TS_RE.test(ts)) return null;
  const time = parseDdfsTimestamp(ts.toLowerCase());
  if (!Number.isFinite(time)) return null;
  return { name, ts, time };
}

/**
 * The name (prefix) of the blob a URL points at: its last path segment up to the `$`
 * (`DDFS.blob_name`). Tags list blobs by URL; OOB results and `blobfilter`s go by name.
 *
 * @example
 * blobName('disco://n1/ddfs/vol0/blob/3f/stats-0$5dc-1a2b3-4c5d'); // 'stats-0'
 */
export function blobName(url: string): string {
  return (url.split('/').pop() ?? '').split('$')[0];
}

/** A volume directory name (`vol0`, `vol1`, ...). */
export function isVolumeName(v: string): boolean {
  return VOL_RE.test(v);
}

/** The hash directory of an object (first md5 byte of the whole object name, 2 hex digits). */
export function hashDir(obj: string): string {
  return hexHash(obj);
}

/** Path of an object relative to DDFS_DATA: `<vol>/<type>/<HH>/<obj>`. */
export function objectRelPath(vol: string, type: ObjectType, obj: string): string {
  return `${vol}/${type}/${hashDir(obj)}/${obj}`;
}

/** `disco://<host>/ddfs/<vol>/<type>/<HH>/<obj>`. */
export function objectUrl(host: string, vol: string, type: ObjectType, obj: string): string {
  return `disco://${host}/ddfs/${objectRelPath(vol, type, obj)}`;
}

/** A DDFS object URL taken apart (`ddfs_util:parse_url/1`). */
export interface DdfsUrl {
  scheme: string;
  host: string;
  vol: string;
  type: ObjectType;
  hash: string;
  obj: string;
}

/** Parse `<scheme>://<host>/ddfs/<vol>/<blob|tag>/<HH>/<obj>`; null for anything else. */
export function parseDdfsUrl(url: string): DdfsUrl | null {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/]*)\/ddfs\/([^/]+)\/(blob|tag)\/([^/]+)\/([^/]+)$/.exec(url);
  if (!m || !isVolumeName(m[3])) return null;
  return { scheme: m[1], host: m[2], vol: m[3], type: m[4] as ObjectType, hash: m[5], obj: m[6] };
}

/**
 * The name used for de-duplication in `update=1` posts (`ddfs_util:url_to_name/1`):
 * `tag://X` → `X`; otherwise the text between the first `/xx/` (any two characters) and the
 * last `$` (for a blob URL: its prefix); null when there is no such text (never a duplicate).
 */
export function urlToName(url: string): string | null {
  if (url.startsWith('tag://')) return url.slice('tag://'.length);
  const m = /\/..\/(.*)\$/.exec(url);
  return m ? m[1] : null;
}

/** Compare two DDFS timestamps (negative when `a` is older). */
export function compareTs(a: string, b: string): number {
  return parseDdfsTimestamp(a.toLowerCase()) - parseDdfsTimestamp(b.toLowerCase());
}
