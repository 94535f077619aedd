/**
 * Receiving files in chunks (`file` / `sendFile` messages) into a directory: chunks must come in
 * order, the announced size is enforced (and the `maxFileSize` limit), paths never leave the
 * directory; on the last chunk the file gets its mode and modification time. Used by
 * dispynode (computation files) and dispyscheduler (files it forwards to nodes).
 *
 * @example
 * const sink = new FileSink(dir, 10 << 20);
 * await sink.chunk({ path: 'data/x.csv', offset: 0, total: 3, data, mode: 0o644 });
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { safeJoin } from '../../common/fs-atomic.js';
import { ReplyError } from '../protocol/connection.js';

export interface Chunk {
  path: string;
  offset: number;
  total: number;
  data: Uint8Array;
  mtimeMs?: number;
  mode?: number;
}

interface OpenFile {
  fh: fs.FileHandle;
  next: number;
  total: number;
}

export class FileSink {
  private readonly open = new Map<string, OpenFile>();

  constructor(
    readonly dir: string,
    private readonly maxFileSize: number,
  ) {}

  /** Write one chunk; resolves with the bytes received so far (and the file's full path). */
  async chunk(m: Chunk): Promise<{ received: number; file: string; complete: boolean }> {
    if (this.maxFileSize > 0 && m.total > this.maxFileSize) {
      throw new ReplyError(`file ${m.path} (${m.total} bytes) exceeds max_file_size ${this.maxFileSize}`);
    }
    const target = safeJoin(this.dir, m.path);
    if (!target) throw new ReplyError(`invalid file path ${m.path}`);
    let of = this.open.get(m.path);
    if (m.offset === 0) {
      if (of) await of.fh.close().catch(() => undefined);
      await fs.mkdir(path.dirname(target), { recursive: true });
      of = { fh: await fs.open(target, 'w', 0o600), next: 0, total: m.total };
      this.open.set(m.path, of);
    }
    if (!of || of.next !== m.offset) {
      throw new ReplyError(`file ${m.path}: chunk at ${m.offset} out of order (expected ${of?.next ?? 0})`);
    }
    if (of.next + m.data.length > of.total) throw new ReplyError(`file ${m.path}: more data than announced`);
    await of.fh.write(m.data, 0, m.data.length, m.offset);
    of.next += m.data.length;
    const complete = of.next === of.total;
    if (complete) {
      this.open.delete(m.path);
      await of.fh.close();
      if (m.mode !== undefined) await fs.chmod(target, m.mode & 0o777);
      if (m.mtimeMs !== undefined) await fs.utimes(target, new Date(), new Date(m.mtimeMs));
    }
    return { received: of.next, file: target, complete };
  }

  /** Files still being received. */
  get incomplete(): string[] {
    return [...this.open.keys()];
  }

  async close(): Promise<void> {
    for (const f of this.open.values()) await f.fh.close().catch(() => undefined);
    this.open.clear();
  }
}
