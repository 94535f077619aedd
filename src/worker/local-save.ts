/**
 * Short-circuit writes for `save: true` (the blocking twin of ddfs/client/local-node.ts): a
 * replica that new_blob places on the very node running the task is stored straight into
 * that node's volumes, without HTTP and, when the output and the volume share a file system
 * (the usual case: `DISCO_DATA` and `DDFS_DATA` under one root), without copying a byte: the
 * finished output file is hard-linked to `!partial-<ts>.<obj>` in the chosen volume's hash
 * directory, made 0400, linked to its final name (never replacing one) and the temporary
 * name removed, then the directory fsynced — the node's own commit (`commitFile`).
 *
 * The link shares the output's inode, which is safe because nothing writes a task output once
 * it is closed: `OutputFile.close` renamed it into place after its fsync (a later attempt
 * writes a fresh `.partial` inode in a fresh task directory), the shuffle only reads part
 * files of tasks that did not save, and the job-dir purge only unlinks. Mode 0400 shows on
 * the job-dir name too, which only the data server (reading) and the purge (unlinking) use.
 *
 * Used only when the task's `DDFS_DATA` holds the identity file of a live node whose name
 * and PUT port are the URL's, and this user owns and may write the directory. Across file
 * systems (`EXDEV`) the bytes are copied and fsynced; any other failure returns null and the
 * caller PUTs over HTTP, which reports what is wrong (e.g. "File exists").
 *
 * @example
 * const local = LocalSaveNode.find(task.ddfs_data);
 * const url = local?.serves(putUrl) ? local.store(putUrl, { file }) : null; // null: PUT it
 */
import {
  chmodSync,
  closeSync,
  constants,
  copyFileSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  rmSync,
  statSync,
} from 'node:fs';
import path from 'node:path';
import { writeAllSync } from '../common/fd-write.js';
import { fsyncDirSync } from '../common/fs-atomic.js';
import { ddfsTimestamp } from '../common/time.js';
import { MAX_BLOB_SIZE, OBJECT_MODE, objectUrl, unpackObjName } from '../ddfs/names.js';
import { type Volume, Volumes } from '../ddfs/node/volumes.js';
import { putUrlObject, TrustedNode } from '../ddfs/node-identity.js';

/** What a blob is made of: a file, or bytes in memory (text as UTF-8). */
export type SyncBlobSource = { file: string } | { data: Uint8Array | string };

function errCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

function removeQuietly(file: string): void {
  try {
    rmSync(file, { force: true });
  } catch {
    // GC removes stale temporary files.
  }
}

/** Write `source` to the new file `tmp` (fsynced): a hard link when it can, else a copy. */
function placeTemp(source: SyncBlobSource, tmp: string): void {
  if ('file' in source) {
    try {
      linkSync(source.file, tmp);
    } catch (e) {
      if (errCode(e) !== 'EXDEV') throw e;
      copyFileSync(source.file, tmp, constants.COPYFILE_EXCL);
    }
  } else {
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeAllSync(fd, typeof source.data === 'string' ? Buffer.from(source.data) : source.data);
    } finally {
      closeSync(fd);
    }
  }
  // A task output was fsynced when it was closed (then this costs next to nothing); any other
  // file is made as durable as the node's own store makes an upload.
  const fd = openSync(tmp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * The volume with the most room among those on the file system of `source` (a file there is
 * linked, not copied), or null.
 */
function sameDevice(volumes: Volumes, source: SyncBlobSource): Volume | null {
  if (!('file' in source)) return null;
  const dev = statSync(source.file).dev;
  const here = volumes.list().filter((v) => statSync(v.dir).dev === dev);
  return here.sort((a, b) => b.free - a.free)[0] ?? null;
}

/** The DDFS node of this machine whose volumes are the task's `DDFS_DATA`. */
export class LocalSaveNode extends TrustedNode {
  /**
   * Store `source` as the blob `putUrl` names; returns its `disco://` URL as the PUT would
   * answer, or null when it could not (nothing is left behind: PUT it instead).
   */
  store(putUrl: string, source: SyncBlobSource): string | null {
    let tmp: string | null = null;
    try {
      const obj = putUrlObject(putUrl);
      if (unpackObjName(obj) === null) return null;
      // As the PUT server: too large a blob is refused (the PUT says so).
      if ('file' in source && statSync(source.file).size > MAX_BLOB_SIZE) return null;
      const volumes = Volumes.scanSync(this.root, this.id.volumes);
      if (volumes.list().length === 0 || volumes.findSync('blob', obj)) return null;
      const vol = sameDevice(volumes, source) ?? volumes.choose();
      const dir = volumes.objectDir(vol.name, 'blob', obj);
      // The hash directory may be new on this volume (the node makes it the same way).
      mkdirSync(dir, { recursive: true });
      tmp = path.join(dir, `!partial-${ddfsTimestamp()}.${obj}`);
      try {
        placeTemp(source, tmp);
      } catch (e) {
        // Another writer's temporary file by that name is not ours to remove.
        if (errCode(e) === 'EEXIST') tmp = null;
        throw e;
      }
      chmodSync(tmp, OBJECT_MODE);
      // link, not rename: an existing blob is never replaced (EEXIST → the PUT says so).
      linkSync(tmp, path.join(dir, obj));
      // In place from here on: the rest is tidying (GC removes a stale `!partial`).
      const done = tmp;
      tmp = null;
      removeQuietly(done);
      fsyncDirSync(dir);
      return objectUrl(this.id.host, vol.name, 'blob', obj);
    } catch {
      if (tmp !== null) removeQuietly(tmp);
      return null;
    }
  }
}
