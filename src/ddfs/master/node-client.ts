/**
 * The master's client of the nodes' internal storage API (node-api.ts): HTTP to
 * `http://<node>:<DDFS_PUT_PORT>/ddfs/!...`, signed with `DISCO_SECRET`, each call bounded by a
 * timeout (`NODE_TIMEOUT`, 10 s; GC listings get longer). A node name with `:port` names its
 * data port; its PUT port is still `DDFS_PUT_PORT`.
 */
import type { ObjectType } from '../names.js';
import {
  CountReplySchema,
  type ObjectList,
  ObjectListSchema,
  PutTagReplySchema,
  signRequest,
  type TagList,
  TagListSchema,
  type TagVersion,
  TagVersionSchema,
  UrlReplySchema,
} from '../node-api.js';

/** Timeout of one call to a node (`NODE_TIMEOUT`). */
export const NODE_TIMEOUT_MS = 10_000;
/** Timeout of calls that walk a node's volumes (GC; GC also aborts them when the node drops). */
export const NODE_SCAN_TIMEOUT_MS = 30 * 60_000;

/** A node's internal-API call failed (unreachable, timed out, or an error status). */
export class NodeCallError extends Error {
  override name = 'NodeCallError';
  constructor(
    message: string,
    readonly status = 0,
  ) {
    super(message);
  }
}

/** Calls to nodes' storage. Stateless apart from its settings. */
export class NodeClient {
  constructor(
    private readonly secret: string,
    private readonly putPort: number,
    private readonly timeoutMs = NODE_TIMEOUT_MS,
  ) {}

  /** `http://<host without :port>:<put port>` */
  baseUrl(host: string): string {
    return `http://${host.replace(/:\d+$/, '')}:${this.putPort}`;
  }

  /** The PUT URL of a new blob on `host`. */
  blobPutUrl(host: string, obj: string): string {
    return `${this.baseUrl(host)}/ddfs/${obj}`;
  }

  async tagVersion(host: string, name: string): Promise<TagVersion | null> {
    const r = await this.call(host, 'GET', ['tag', name], undefined, true);
    return r === null ? null : TagVersionSchema.parse(await r.json());
  }

  async listTags(host: string): Promise<TagList> {
    const r = await this.call(host, 'GET', ['tags'], undefined, false, NODE_SCAN_TIMEOUT_MS);
    return TagListSchema.parse(await r!.json());
  }

  async readTag(host: string, vol: string, id: string): Promise<string> {
    const r = await this.call(host, 'GET', ['tagdata', vol, id], undefined, false, NODE_SCAN_TIMEOUT_MS);
    return r!.text();
  }

  /** Write `!partial.<id>`; returns the volume. */
  async putTag(host: string, id: string, data: string | Uint8Array): Promise<string> {
    const r = await this.call(host, 'PUT', ['tagdata', id], data);
    return PutTagReplySchema.parse(await r!.json()).vol;
  }

  /** Rename the partial into place; returns the tag object's URL. */
  async commitTag(host: string, vol: string, id: string): Promise<string> {
    const r = await this.call(host, 'POST', ['tagcommit', vol, id]);
    return UrlReplySchema.parse(await r!.json()).url;
  }

  async listObjects(host: string, signal?: AbortSignal): Promise<ObjectList> {
    const r = await this.call(host, 'GET', ['objects'], undefined, false, NODE_SCAN_TIMEOUT_MS, signal);
    return ObjectListSchema.parse(await r!.json());
  }

  async deleteObjects(
    host: string,
    objects: [string, ObjectType, string][],
    paranoid: boolean,
    signal?: AbortSignal,
  ): Promise<number> {
    const body = JSON.stringify({ objects, paranoid });
    const r = await this.call(host, 'POST', ['delete'], body, false, NODE_SCAN_TIMEOUT_MS, signal);
    return CountReplySchema.parse(await r!.json()).deleted;
  }

  async prunePartials(host: string, olderThanMs: number, signal?: AbortSignal): Promise<number> {
    const body = JSON.stringify({ olderThanMs });
    const r = await this.call(host, 'POST', ['partials', 'prune'], body, false, NODE_SCAN_TIMEOUT_MS, signal);
    return CountReplySchema.parse(await r!.json()).deleted;
  }

  /** Ask `host` to copy its blob to `to` (a PUT URL on another node); returns the new URL. */
  async replicate(
    host: string,
    vol: string,
    obj: string,
    to: string,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<string> {
    const body = JSON.stringify({ vol, obj, to });
    const r = await this.call(host, 'POST', ['replicate'], body, false, timeoutMs, signal);
    return UrlReplySchema.parse(await r!.json()).url;
  }

  private async call(
    host: string,
    method: string,
    parts: string[],
    body?: string | Uint8Array,
    nullOn404 = false,
    timeoutMs = this.timeoutMs,
    signal?: AbortSignal,
  ): Promise<Response | null> {
    const path = `/ddfs/!${parts.map(encodeURIComponent).join('/')}`;
    const headers: Record<string, string> = {};
    const auth = signRequest(this.secret, method, path);
    if (auth) headers['X-Disco-Auth'] = auth;
    let r: Response;
    try {
      r = await fetch(`${this.baseUrl(host)}${path}`, {
        method,
        body,
        headers,
        signal: signal
          ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])
          : AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      throw new NodeCallError(`${method} ${path} on ${host}: ${(e as Error).message}`);
    }
    if (r.status === 404 && nullOn404) {
      await r.body?.cancel();
      return null;
    }
    if (!r.ok) {
      const text = (await r.text().catch(() => '')).slice(0, 300);
      throw new NodeCallError(`${method} ${path} on ${host}: ${r.status} ${text}`, r.status);
    }
    return r;
  }
}
