/**
 * A node's DDFS storage: blobs and tag versions on its volumes (wire spec §5.1, §5.2, §5.4).
 * The HTTP side lives in put-server.ts; this module only touches files.
 *
 * Files: blobs are received as `!partial-<ts>.<obj>` and tag versions as `!partial.<obj>`
 * next to their final place, then committed with {@link commitFile} (mode 0400, never
 * replacing). GC may rename garbage to `!trash.<obj>` (`DDFS_PARANOID_DELETE`).
 *
 * Concurrency: one store per node process; tag commits update the {@link TagIndex} after the
 * file is in place, so the index never names a missing version.
 */
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { CommError } from '../../common/errors.js';
import { ddfsTimestamp } from '../../common/time.js';
import { putBlob } from '../client/blob-put.js';
import { MAX_BLOB_SIZE, type ObjectType, objectUrl, unpackObjName } from '../names.js';
import type { ObjectEntry, ObjectList } from '../node-api.js';
import { commitFile, ObjectExistsError, streamToFile } from './object-files.js';
import { TagIndex } from './tag-index.js';
import { Volumes } from './volumes.js';

/** Largest tag object accepted (`MAX_TAG_BODY_SIZE`). */
export const MAX_TAG_SIZE = 512 * 1024 * 1024;

/** A request named something that is not a valid object, volume or path. */
export class BadObjectError extends Error {
  override name = 'BadObjectError';
}

/**
 * Store blob `obj` from `body` on the volume with the most room, as node `host`: a
 * `!partial` file, then committed (never replacing one); resolves to its `disco://` URL. The
 * node's PUT server stores uploads with it, and so does a client writing into the volumes of
 * the node on its own machine (client/local-node.ts).
 */
export async function storeBlob(
  volumes: Volumes,
  host: string,
  obj: string,
  body: Readable,
): Promise<string> {
  if (!NodeStore.validBlobName(obj)) throw new BadObjectError('Invalid blob name');
  if (await volumes.find('blob', obj)) throw new ObjectExistsError('File exists');
  const vol = volumes.choose();
  const dir = volumes.objectDir(vol.name, 'blob', obj);
  const tmp = path.join(dir, `!partial-${ddfsTimestamp()}.${obj}`);
  await streamToFile(body, tmp, { limit: MAX_BLOB_SIZE });
  try {
    await commitFile(tmp, path.join(dir, obj));
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
  return objectUrl(host, vol.name, 'blob', obj);
}

/** The DDFS files of one node. */
export class NodeStore {
  private constructor(
    /** This node's name as in the master's config (used in `disco://` URLs). */
    readonly host: string,
    readonly volumes: Volumes,
    private tags: TagIndex,
    private readonly log?: Logger,
  ) {}

  static async open(root: string, host: string, log?: Logger): Promise<NodeStore> {
    const volumes = await Volumes.open(root, log);
    const tags = await TagIndex.scan(volumes);
    log?.info({ volumes: volumes.list().map((v) => v.name), tags: tags.size }, 'DDFS storage opened');
    return new NodeStore(host, volumes, tags, log);
  }

  // ---- blobs ---------------------------------------------------------------------------------

  /** Is `obj` an acceptable blob object name (`valid_blob/1`)? */
  static validBlobName(obj: string): boolean {
    return unpackObjName(obj) !== null;
  }

  /** Where a blob is, or null. */
  async findBlob(obj: string): Promise<string | null> {
    const v = await this.volumes.find('blob', obj);
    return v ? v.name : null;
  }

  /**
   * Receive a blob: stream into `!partial-<ts>.<obj>` on the emptiest volume, then commit.
   * Returns its `disco://` URL; throws ObjectExistsError when it already exists.
   */
  async putBlob(obj: string, body: Readable): Promise<string> {
    return storeBlob(this.volumes, this.host, obj, body);
  }

  /**
   * Copy a local blob to another node with an HTTP PUT to `to`
   * (`http://<host>:<put port>/ddfs/<obj>`); returns the URL the target answered.
   */
  async replicate(vol: string, obj: string, to: string): Promise<string> {
    const file = this.checkedPath(vol, 'blob', obj);
    const target = new URL(to);
    if (target.protocol !== 'http:' || target.pathname !== `/ddfs/${obj}`)
      throw new BadObjectError(`replication target ${to} does not name ${obj}`);
    // The same upload as a client's push (reused buffers, a busy target retried).
    try {
      return await putBlob(to, { file });
    } catch (e) {
      // A CommError names the target and keeps its status; others (reading the file) do not.
      if (e instanceof CommError) throw e;
      throw new Error(`PUT ${to}: ${(e as Error).message}`);
    }
  }

  // ---- tags ----------------------------------------------------------------------------------

  /** Newest local version of every tag: `[name, ts, vol]`. */
  listTags(): [string, string, string][] {
    return this.tags.entries();
  }

  /** Newest local version of one tag. */
  tagVersion(name: string): { ts: string; vol: string } | null {
    const t = this.tags.get(name);
    return t ? { ts: t.ts, vol: t.vol } : null;
  }

  /** A stream of a tag object's bytes (throws ENOENT when missing). */
  async openTag(vol: string, id: string): Promise<{ size: number; stream: Readable }> {
    const file = this.checkedPath(vol, 'tag', id);
    const st = await fs.stat(file);
    return { size: st.size, stream: createReadStream(file) };
  }

  /** First phase of a tag commit: write `!partial.<id>` on the emptiest volume. */
  async putTagData(id: string, body: Readable): Promise<string> {
    if (!unpackObjName(id, true)) throw new BadObjectError(`invalid tag object name ${id}`);
    const vol = this.volumes.choose();
    const tmp = path.join(this.volumes.objectDir(vol.name, 'tag', id), `!partial.${id}`);
    // A leftover partial of an aborted attempt with the same id is replaced.
    await fs.rm(tmp, { force: true });
    await streamToFile(body, tmp, { limit: MAX_TAG_SIZE });
    return vol.name;
  }

  /** Second phase: rename `!partial.<id>` into place; returns the tag object's URL. */
  async commitTag(vol: string, id: string): Promise<string> {
    const final = this.checkedPath(vol, 'tag', id);
    const tmp = path.join(path.dirname(final), `!partial.${id}`);
    await commitFile(tmp, final);
    this.tags.noteObject(id, vol);
    return objectUrl(this.host, vol, 'tag', id);
  }

  // ---- garbage collection --------------------------------------------------------------------

  /** Every committed object with its size and mtime (GC's view of this node). */
  async listObjects(): Promise<ObjectList> {
    const out: ObjectList = { blobs: [], tags: [] };
    for (const v of this.volumes.list()) {
      for (const type of ['blob', 'tag'] as const) {
        const list: ObjectEntry[] = type === 'blob' ? out.blobs : out.tags;
        await this.walk(v.dir, type, async (file, name) => {
          if (name.startsWith('!')) return;
          try {
            const st = await fs.stat(file);
            list.push([v.name, name, st.size, st.mtimeMs]);
          } catch {
            // removed meanwhile
          }
        });
      }
    }
    return out;
  }

  /** Delete (or, paranoid, rename to `!trash.<obj>`) the given objects; returns how many went. */
  async deleteObjects(objects: [string, ObjectType, string][], paranoid: boolean): Promise<number> {
    let n = 0;
    let tagsChanged = false;
    for (const [vol, type, obj] of objects) {
      let file: string;
      try {
        file = this.checkedPath(vol, type, obj);
      } catch {
        continue;
      }
      try {
        if (paranoid) {
          const trash = path.join(path.dirname(file), `!trash.${obj}`);
          await fs.chmod(file, 0o600);
          await fs.rename(file, trash);
        } else {
          await fs.unlink(file);
        }
        n++;
        if (type === 'tag') tagsChanged = true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
          this.log?.warn({ err: e, file }, 'GC delete failed');
      }
    }
    // Older local versions of a tag may remain: rebuild the index rather than guess.
    if (tagsChanged) this.tags = await TagIndex.scan(this.volumes);
    return n;
  }

  /** Remove `!partial` files older than `olderThanMs` (failed uploads and commits). */
  async prunePartials(olderThanMs: number): Promise<number> {
    const cutoff = Date.now() - olderThanMs;
    let n = 0;
    for (const v of this.volumes.list()) {
      for (const type of ['blob', 'tag'] as const) {
        await this.walk(v.dir, type, async (file, name) => {
          if (!name.startsWith('!partial')) return;
          try {
            const st = await fs.stat(file);
            if (st.mtimeMs < cutoff) {
              await fs.unlink(file);
              n++;
            }
          } catch {
            // gone already
          }
        });
      }
    }
    return n;
  }

  // ---- helpers -------------------------------------------------------------------------------

  /** The path of an object, refusing unknown volumes and invalid object names. */
  private checkedPath(vol: string, type: ObjectType, obj: string): string {
    if (!this.volumes.has(vol)) throw new BadObjectError(`unknown volume ${vol}`);
    if (!unpackObjName(obj, type === 'tag')) throw new BadObjectError(`invalid object name ${obj}`);
    return this.volumes.objectPath(vol, type, obj);
  }

  private async walk(volDir: string, type: ObjectType, fn: (file: string, name: string) => Promise<void>) {
    const root = path.join(volDir, type);
    let dirs: string[];
    try {
      dirs = await fs.readdir(root);
    } catch {
      return;
    }
    for (const hh of dirs) {
      let names: string[];
      try {
        names = await fs.readdir(path.join(root, hh));
      } catch {
        continue;
      }
      for (const name of names) await fn(path.join(root, hh, name), name);
    }
  }
}
