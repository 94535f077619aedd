/**
 * The DDFS node of this very machine, whose volumes are this process's `DDFS_DATA` (as after
 * `disco start`, where the command line and the node share their settings).
 *
 * Short-circuit writes ({@link LocalNode}): a replica placed on that node is stored straight
 * into its volumes, as the node itself would store it (`storeBlob`: a `!partial` file written
 * with `O_DIRECT` where possible, fsynced, then linked into place, never replacing a blob),
 * instead of being sent to it over loopback HTTP, which costs both processes a copy through
 * the TCP stack and the node an HTTP body parse: about 40 % of the CPU of `ddfs chunk` on two
 * cores. Short-circuit reads ({@link localReplica}): a replica stored there is read from
 * its file.
 *
 * Writes go there only when everything says the directory is that node's: `DDFS_DATA`
 * holds the identity file of a node (node-identity.ts) whose name and PUT port are those of
 * the PUT URL, whose process is alive, and whose volumes this user owns and may write. Any
 * failure other than the source's own falls back to the HTTP PUT, so the shortcut can only
 * be faster, never lose a write the node would have taken.
 *
 * @example
 * const local = LocalNode.find(settings.get('DDFS_DATA'));
 * const url = local?.serves(putUrl) ? await local.put(putUrl, { file: './big.log' }) : await putBlob(putUrl, source);
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { objectRelPath, parseDdfsUrl, unpackObjName } from '../names.js';
import { storeBlob } from '../node/store.js';
import { Volumes } from '../node/volumes.js';
import { putUrlObject, TrustedNode } from '../node-identity.js';
import { type BlobSource, BlobSourceError, putBlob, sourceStream } from './blob-put.js';

async function* countBytes(body: Readable, count: (n: number) => void): AsyncGenerator<Buffer> {
  for await (const b of body as AsyncIterable<Buffer>) {
    count(b.length);
    yield b;
  }
}

/** A regular file this user may read (a node of another user keeps its blobs 0400). */
async function readableFile(file: string): Promise<boolean> {
  try {
    if (!(await fs.stat(file)).isFile()) return false;
    await fs.access(file, fs.constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Short-circuit reads: a replica of the blob stored under this machine's `DDFS_DATA` (this
 * machine is one of its nodes, e.g. a `disco start` cluster): that replica and its file, or
 * null. A blob's object name is unique and its file is complete and read-only once in place,
 * so any local copy has the blob's bytes (`ddfs cat`, `ddfs xcat` and `DDFS.pull` read it so).
 *
 * @example
 * const local = await localReplica(settings.get('DDFS_DATA'), replicas); // { url, file } or null: HTTP
 */
export async function localReplica(
  ddfsData: string | undefined,
  replicas: readonly string[],
): Promise<{ url: string; file: string } | null> {
  if (!ddfsData) return null;
  for (const url of replicas) {
    const u = parseDdfsUrl(url);
    // Only well-formed names: nothing in a URL may lead outside the volume's blob tree.
    if (u?.type !== 'blob' || u.scheme !== 'disco' || !unpackObjName(u.obj)) continue;
    const file = path.join(ddfsData, objectRelPath(u.vol, 'blob', u.obj));
    if (await readableFile(file)) return { url, file };
  }
  return null;
}

/**
 * The bytes of local replica `file`, or — should it not open (GC removed it after it was
 * found) — of `otherwise` (the HTTP replicas).
 */
export async function* localFileOr(
  file: string,
  otherwise: () => AsyncIterable<Buffer>,
): AsyncGenerator<Buffer> {
  const fh = await fs.open(file, 'r').catch(() => null);
  if (!fh) {
    yield* otherwise();
    return;
  }
  for await (const b of fh.createReadStream({ highWaterMark: 1 << 20 })) yield b as Buffer;
}

/** The DDFS node whose volumes are this machine's `DDFS_DATA`. */
export class LocalNode extends TrustedNode {
  /**
   * Store `source` as the blob `putUrl` names; resolves to its `disco://` URL, as the PUT
   * would. A failure of the source is a {@link BlobSourceError}; any other failure retries
   * the upload over HTTP. A chunk's memory is written from where it is (streamToFile): the
   * chunk must not be released before this settles (`DDFS.chunk` releases it once `pushBlob`
   * has). `onBytes` counts the bytes stored (after a failed local store, those of the HTTP
   * upload beyond what it had counted).
   */
  async put(putUrl: string, source: BlobSource, onBytes?: (n: number) => void): Promise<string> {
    const body = sourceStream(source);
    let sourceError: unknown = null;
    body.once('error', (e) => {
      sourceError ??= e;
    });
    // Counted on the way (a 'data' listener here would start the flow before storeBlob listens).
    let stored = 0;
    const count = (n: number) => {
      stored += n;
      onBytes?.(n);
    };
    const counted = onBytes ? Readable.from(countBytes(body, count), { objectMode: false }) : body;
    try {
      const obj = putUrlObject(putUrl);
      // The node's own volumes, measured now (a long push fills them as it goes).
      const volumes = Volumes.scanSync(this.root, this.id.volumes);
      if (volumes.list().length === 0) throw new Error('none of the node volumes is here');
      return await storeBlob(volumes, this.id.host, obj, counted);
    } catch {
      counted.destroy();
      body.destroy();
      if (sourceError !== null) throw new BlobSourceError(sourceError);
      // The node may still take it (e.g. this directory turned read-only): the HTTP way
      // reports what is really wrong, and the caller excludes the node if it fails. Its
      // first bytes were counted already.
      let known = stored;
      const rest = (n: number) => {
        const seen = Math.min(known, n);
        known -= seen;
        if (n > seen) onBytes?.(n - seen);
      };
      return putBlob(putUrl, source, onBytes && rest);
    }
  }
}
