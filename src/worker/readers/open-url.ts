/**
 * Opening one input URL as an {@link InputStream} (the original's `task_input_stream` scheme
 * dispatch, `disco.schemes.scheme_*`):
 *
 * - `raw://DATA` — the text after the scheme is the data;
 * - `file://PATH` and plain paths — a file on this node (relative paths: the job home);
 * - `disco://`, `part://`, `http(s)://` — a local file when the data lives on this node
 *   (wire spec §5.7), else downloaded over HTTP into a temporary file under the task
 *   directory, which is removed when the stream is closed.
 *
 * `dir://` and `tag://` name lists of inputs; they are expanded before opening (see
 * `dir.ts`, `tag.ts`).
 *
 * @example
 * const s = openUrl('raw://hello', ctx); s.read().toString(); // 'hello'
 */
import { statSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { FileSource } from '../../protocol/record-stream.js';
import { localPath, resolveHttp, splitUrl } from '../../protocol/urls.js';
import type { TaskInfo } from '../../protocol/worker-protocol.js';
import { downloadSync } from './http-sync.js';
import { InputStream } from './input-stream.js';

/** Where this task runs: what decides between local reads and HTTP. */
export interface OpenContext {
  /** This node's name as the master knows it (TASK `host`). */
  host: string;
  discoPort: number;
  discoData: string;
  ddfsData: string;
  /** The master's URL (TASK `master`), for host-less `dir://` URLs. */
  master: string;
  /** Directory for downloaded temporary files. */
  tmpDir: string;
}

/** The {@link OpenContext} of a running task; `tmpDir` is asked for on first use (most tasks download nothing). */
export function taskOpenContext(task: TaskInfo, tmpDir: () => string): OpenContext {
  return {
    host: task.host,
    discoPort: task.disco_port,
    discoData: task.disco_data,
    ddfsData: task.ddfs_data,
    master: task.master,
    get tmpDir() {
      return tmpDir();
    },
  };
}

let downloads = 0;

/** The local file behind `url` on this node, or null when it must be fetched over HTTP. */
export function localFileOf(url: string, ctx: OpenContext): string | null {
  const u = splitUrl(url);
  if (u.scheme === 'file') return path.resolve(u.path);
  return localPath(url, ctx.host, {
    discoData: ctx.discoData,
    ddfsData: ctx.ddfsData,
    discoPort: ctx.discoPort,
  });
}

/**
 * Fetch a remote URL into a new temporary file under `ctx.tmpDir`; returns its path. The caller
 * removes it.
 */
export function fetchToTemp(url: string, ctx: OpenContext): string {
  const dest = path.join(ctx.tmpDir, `download-${process.pid}-${++downloads}`);
  try {
    downloadSync(resolveHttp(url, ctx.discoPort, ctx.master), dest);
  } catch (e) {
    removeQuietly(dest);
    throw e;
  }
  return dest;
}

/** Open `url` for reading (see module docs). I/O errors propagate (they are replica failures). */
export function openUrl(url: string, ctx: OpenContext): InputStream {
  const u = splitUrl(url);
  switch (u.scheme) {
    case 'raw':
      return InputStream.fromBytes(Buffer.from(u.path, 'utf8'), url);
    case 'file':
      return openFile(path.resolve(u.path), url);
    case 'disco':
    case 'part':
    case 'http':
    case 'https': {
      const local = localFileOf(url, ctx);
      if (local) return openFile(local, url);
      const tmp = fetchToTemp(url, ctx);
      try {
        return openFile(tmp, url, () => removeQuietly(tmp));
      } catch (e) {
        removeQuietly(tmp);
        throw e;
      }
    }
    case 'dir':
    case 'tag':
      throw new Error(`internal: ${u.scheme}:// input ${url} must be expanded before it is opened`);
    default:
      throw new Error(`unsupported input URL scheme '${u.scheme}://' in ${url}`);
  }
}

function openFile(file: string, url: string, onClose?: () => void): InputStream {
  const size = statSync(file).size;
  return new InputStream(new FileSource(file), size, url, onClose);
}

/** Remove a file, ignoring errors (temporary files of a task that is ending anyway). */
export function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone, or the directory went away with the task
  }
}
