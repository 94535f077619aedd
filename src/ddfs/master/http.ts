/**
 * The master's `/ddfs/*` API (wire spec §1.3, `ddfs_web.erl`), with the original's exact
 * replies and errors. Paths arrive raw (percent-encoded); names are decoded, then validated.
 *
 * | Request | Reply |
 * |---|---|
 * | GET `new_blob/<prefix>[?replicas=N&exclude=h1,h2]` | PUT URLs; 403 `Not enough nodes for replicas.` / `Invalid prefix.` |
 * | GET `tags[/<prefix>]` | live tag names with the prefix (`/a/b` means `a:b`) |
 * | GET/POST/PUT/DELETE `tag/<tag>[/<attr>]` | see tag-logic.ts; errors mapped by {@link errorReply} |
 * | GET `ctrl/gc_stats`, `ctrl/gc_status`, `ctrl/gc_start`, `ctrl/safe_gc_blacklist`; POST `ctrl/hosted_tags` | GC and admin |
 *
 * Anything else is left to the master (files of `DDFS_DATA`, or 404).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { sendBody } from '../../common/static-files.js';
import { ddfsTimestamp } from '../../common/time.js';
import { isValidDdfsName, packObjName } from '../names.js';
import type { ClusterView } from './cluster-view.js';
import { DdfsError } from './errors.js';
import type { GcService } from './gc.js';
import type { NodeClient } from './node-client.js';
import { chooseWriteNodes } from './placement.js';
import type { Field, GetAttrib, Token } from './tag-logic.js';
import type { TagServer } from './tag-server.js';

/** Largest body of a `/ddfs/tag/` request (`MAX_TAG_BODY_SIZE`). */
export const MAX_TAG_BODY = 512 * 1024 * 1024;
/** Attribute name and value limits (`MAX_TAG_ATTRIB_NAME_SIZE`, `..._VALUE_SIZE`). */
export const MAX_ATTR_NAME = 1024;
export const MAX_ATTR_VALUE = 1024;

/** What the handler works with. */
export interface DdfsApiDeps {
  tags: TagServer;
  view: ClusterView;
  nodes: NodeClient;
  gc: GcService;
  /** `DDFS_BLOB_REPLICAS` */
  blobK: number;
  log: Logger;
}

/** GET `/ddfs/ctrl/*` answers. */
const CTRL_GET = new Map<string, (gc: GcService) => unknown>([
  ['/ddfs/ctrl/gc_stats', (gc) => gc.stats() ?? ''],
  ['/ddfs/ctrl/gc_status', (gc) => gc.status()],
  ['/ddfs/ctrl/gc_start', (gc) => gc.start()],
  ['/ddfs/ctrl/safe_gc_blacklist', (gc) => gc.safeBlacklist()],
]);

/** A reply with a status and plain text (the original's `Req:respond({Code, [], Text})`). */
class Reply extends Error {
  constructor(
    readonly status: number,
    readonly text: string,
  ) {
    super(`${status} ${text}`);
  }
}

/** The reply for a failed operation (`on_error/2`). */
export function errorReply(e: unknown): { status: number; text: string } {
  if (e instanceof Reply) return { status: e.status, text: e.text };
  const code = e instanceof DdfsError ? e.code : 'internal';
  switch (code) {
    case 'timeout':
      return { status: 503, text: 'Temporary server error. Try again.' };
    case 'unauthorized':
      return { status: 401, text: 'Incorrect or missing token.' };
    case 'notfound':
      return { status: 404, text: 'Tag not found.' };
    case 'invalid_name':
      return { status: 403, text: 'Invalid tag' };
    case 'invalid_url_object':
      return { status: 403, text: 'Invalid url object' };
    case 'invalid_attribute_value':
      return { status: 403, text: 'Invalid attribute key or value' };
    case 'too_many_attributes':
      return { status: 403, text: 'Too many attributes' };
    case 'unknown_attribute':
      return { status: 404, text: 'Tag attribute not found.' };
    case 'unknown_host':
      return { status: 404, text: 'Unknown host.' };
    default:
      return { status: 500, text: `Internal server error: ${code}` };
  }
}

/** `Authorization: Basic base64("token:<TOKEN>")` → TOKEN; anything else → null. */
export function parseAuthToken(header: string | undefined): Token {
  if (!header?.startsWith('Basic ')) return null;
  const decoded = Buffer.from(header.slice('Basic '.length).trim(), 'base64').toString('utf8');
  return decoded.startsWith('token:') ? decoded.slice('token:'.length) : null;
}

/** `<tag>[/<attr>]` → tag and attribute (`parse_tag_attribute/2`); `unknown` for other `ddfs:*`. */
export function parseTagPath(
  rest: string,
  dflt: 'all' | 'urls',
): { tag: string; attrib: GetAttrib | 'unknown' } | null {
  const slash = rest.indexOf('/');
  const tag = decode(slash < 0 ? rest : rest.slice(0, slash));
  const attr = slash < 0 ? '' : decode(rest.slice(slash + 1));
  if (tag === null || attr === null) return null;
  if (attr === '') return { tag, attrib: dflt };
  if (attr === 'ddfs:urls') return { tag, attrib: 'urls' };
  if (attr === 'ddfs:read-token') return { tag, attrib: 'read-token' };
  if (attr === 'ddfs:write-token') return { tag, attrib: 'write-token' };
  if (attr.startsWith('ddfs:')) return { tag, attrib: 'unknown' };
  return { tag, attrib: { user: attr } };
}

function decode(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

/** The `/ddfs/*` handler the master plugs in (`DdfsHandler`). */
export function createDdfsHandler(deps: DdfsApiDeps) {
  return async function handleDdfsApi(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    query: Map<string, string>,
  ): Promise<boolean> {
    const method = req.method ?? 'GET';
    try {
      if (path.startsWith('/ddfs/tag/')) {
        if (method === 'GET') await getTag(req, res, path.slice('/ddfs/tag/'.length));
        else if (method === 'POST') await postTag(req, res, path.slice('/ddfs/tag/'.length), query);
        else if (method === 'PUT') await putTag(req, res, path.slice('/ddfs/tag/'.length));
        else if (method === 'DELETE') await deleteTag(req, res, path.slice('/ddfs/tag/'.length));
        else return false;
        return true;
      }
      if (method === 'GET' && (path === '/ddfs/tags' || path.startsWith('/ddfs/tags/'))) {
        await listTags(res, path.slice('/ddfs/tags'.length));
        return true;
      }
      if (method === 'GET' && path.startsWith('/ddfs/new_blob/')) {
        newBlob(res, path.slice('/ddfs/new_blob/'.length), query);
        return true;
      }
      const ctrl = method === 'GET' ? CTRL_GET.get(path) : undefined;
      if (ctrl) {
        json(res, ctrl(deps.gc));
        return true;
      }
      if (method === 'POST' && path === '/ddfs/ctrl/hosted_tags') {
        await hostedTags(req, res);
        return true;
      }
      return false;
    } catch (e) {
      if (res.headersSent) {
        res.destroy();
        return true;
      }
      if (!(e instanceof Reply) && !(e instanceof DdfsError))
        deps.log.error({ err: e, method, path }, 'DDFS request failed');
      const r = errorReply(e);
      // A body left unread (refused as too big) is not waited for: the connection closes.
      if (!req.complete) res.setHeader('Connection', 'close');
      text(res, r.status, r.text);
      req.resume();
      return true;
    }
  };

  function validTag(tag: string): void {
    if (!isValidDdfsName(tag)) throw new DdfsError('invalid_name');
  }

  async function getTag(req: IncomingMessage, res: ServerResponse, rest: string): Promise<void> {
    const p = parseTagPath(rest, 'all');
    if (!p) throw new DdfsError('invalid_name');
    if (p.attrib === 'unknown') throw new Reply(404, 'Tag attribute not found.');
    if (typeof p.attrib === 'object' && Buffer.byteLength(p.attrib.user) > MAX_ATTR_NAME)
      throw new Reply(403, 'Attribute name too big.');
    validTag(p.tag);
    const token = parseAuthToken(req.headers.authorization);
    const body = await deps.tags.op(p.tag, { type: 'get', attrib: p.attrib, token });
    // Ranges are honoured on tag bodies too (the Python client's `exists` reads one byte).
    sendBody(req, res, typeof body === 'string' ? Buffer.from(body) : body, 'application/json');
  }

  async function postTag(
    req: IncomingMessage,
    res: ServerResponse,
    rest: string,
    query: Map<string, string>,
  ): Promise<void> {
    const tag = decode(rest);
    const token = parseAuthToken(req.headers.authorization);
    const { value } = await payload(req);
    if (tag === null) throw new DdfsError('invalid_name');
    validTag(tag);
    const nodup = !!query.get('update');
    const body = query.get('delayed')
      ? await deps.tags.delayedUpdate(tag, value, nodup, token)
      : await deps.tags.op(tag, { type: 'update', urls: value, nodup, token });
    json(res, JSON.parse(body.toString()));
  }

  async function putTag(req: IncomingMessage, res: ServerResponse, rest: string): Promise<void> {
    const p = parseTagPath(rest, 'urls');
    if (!p) throw new DdfsError('invalid_name');
    if (p.attrib === 'unknown') throw new Reply(404, 'Tag attribute not found.');
    if (typeof p.attrib === 'object' && Buffer.byteLength(p.attrib.user) > MAX_ATTR_NAME)
      throw new Reply(403, 'Attribute name too big.');
    const token = parseAuthToken(req.headers.authorization);
    const userAttr = typeof p.attrib === 'object';
    const { value } = await payload(
      req,
      userAttr ? MAX_ATTR_VALUE : MAX_TAG_BODY,
      userAttr ? 'Attribute value too big.' : 'Invalid request.',
    );
    validTag(p.tag);
    const body = await deps.tags.op(p.tag, { type: 'put', field: p.attrib as Field, value, token });
    json(res, JSON.parse(body.toString()));
  }

  async function deleteTag(req: IncomingMessage, res: ServerResponse, rest: string): Promise<void> {
    const p = parseTagPath(rest, 'all');
    if (!p) throw new DdfsError('invalid_name');
    if (p.attrib === 'unknown') throw new Reply(404, 'Tag attribute not found.');
    validTag(p.tag);
    const token = parseAuthToken(req.headers.authorization);
    const body =
      p.attrib === 'all'
        ? await deps.tags.op(p.tag, { type: 'delete', token })
        : await deps.tags.op(p.tag, { type: 'delete_attrib', field: p.attrib, token });
    json(res, JSON.parse(body.toString()));
  }

  async function listTags(res: ServerResponse, rest: string): Promise<void> {
    // `/ddfs/tags/a/b` lists prefix `a:b`, as the DDFS documentation says (spec §0.1).
    const raw = decode(rest.replace(/^\/+|\/+$/g, '')) ?? '';
    const prefix = raw.replace(/\//g, ':');
    json(res, await deps.tags.list(prefix));
  }

  function newBlob(res: ServerResponse, rest: string, query: Map<string, string>): void {
    const prefix = decode(rest);
    if (prefix === null || !isValidDdfsName(prefix)) throw new Reply(403, 'Invalid prefix.');
    const rawK = query.get('replicas');
    let k = deps.blobK;
    if (rawK !== undefined) {
      if (!/^\d{1,6}$/.test(rawK)) throw new Reply(400, 'Invalid replicas.');
      k = Number(rawK);
    }
    const all = deps.view.all();
    if (k > all.length) throw new Reply(403, 'Not enough nodes for replicas.');
    const exclude = (query.get('exclude') ?? '').split(',').filter((h) => h !== '');
    const excluded = new Set([...deps.view.writeExcluded(), ...exclude]);
    const chosen = chooseWriteNodes(deps.view.space(), k, excluded);
    if (chosen.length < k) throw new Reply(403, 'Not enough nodes for replicas.');
    const obj = packObjName(prefix, ddfsTimestamp());
    json(
      res,
      chosen.map((h) => deps.nodes.blobPutUrl(h, obj)),
    );
  }

  async function hostedTags(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { value } = await payload(req);
    if (typeof value !== 'string') throw new Reply(403, 'Invalid request body.');
    if (!deps.view.isNode(value)) throw new DdfsError('unknown_host');
    json(res, await deps.gc.hostedTags(value));
  }

  /**
   * Read and parse a JSON body (`process_payload/2`). A body over `limit` bytes is refused
   * (403 `tooBig`) as soon as it is declared or seen, never buffered.
   */
  async function payload(
    req: IncomingMessage,
    limit = MAX_TAG_BODY,
    tooBig = 'Invalid request.',
  ): Promise<{ value: unknown; size: number }> {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) throw new Reply(403, tooBig);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > limit) throw new Reply(403, tooBig);
      chunks.push(c as Buffer);
    }
    try {
      return { value: JSON.parse(Buffer.concat(chunks).toString('utf8')), size };
    } catch {
      throw new Reply(403, 'Invalid request body.');
    }
  }
}

function json(res: ServerResponse, data: unknown): void {
  const body = JSON.stringify(data);
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}
