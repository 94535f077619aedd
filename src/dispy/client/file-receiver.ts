/**
 * Receives files that jobs send with `dispySendFile` (`xfer` chunks) and saves them under the
 * client's directory at the path the node gives (relative to the job's directory), refusing
 * paths that would leave it. Chunks of one transfer are written in order; the node is told
 * the outcome with `xferDone`, which completes the job's `dispySendFile` call.
 *
 * @example
 * const rx = new FileReceiver(process.cwd());
 * rx.chunk(msg, (done) => conn.send(done));
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { safeJoin } from '../../common/fs-atomic.js';
import type { MessageOf } from '../protocol/messages.js';

interface Transfer {
  fh: fs.FileHandle | null;
  target: string;
  chain: Promise<void>;
  failed: string | null;
}

export class FileReceiver {
  private readonly transfers = new Map<string, Transfer>();

  constructor(readonly dir: string) {}

  chunk(m: MessageOf<'xfer'>, reply: (done: MessageOf<'xferDone'>) => void, key = ''): void {
    const id = `${key}/${m.computeId}/${m.xferId}`;
    let t = this.transfers.get(id);
    if (!t) {
      const target = safeJoin(this.dir, m.path);
      t = {
        fh: null,
        target: target ?? '',
        chain: Promise.resolve(),
        failed: target ? null : `invalid path ${m.path}`,
      };
      this.transfers.set(id, t);
    }
    const tr = t;
    const last = m.offset + m.data.length >= m.total;
    tr.chain = tr.chain.then(async () => {
      if (tr.failed) return;
      try {
        if (!tr.fh) {
          await fs.mkdir(path.dirname(tr.target), { recursive: true });
          tr.fh = await fs.open(tr.target, 'w');
        }
        await tr.fh.write(m.data, 0, m.data.length, m.offset);
        if (last) {
          await tr.fh.close();
          tr.fh = null;
          if (m.mode !== undefined) await fs.chmod(tr.target, m.mode & 0o777);
          if (m.mtimeMs !== undefined) await fs.utimes(tr.target, new Date(), new Date(m.mtimeMs));
        }
      } catch (e) {
        tr.failed = (e as Error).message;
        await tr.fh?.close().catch(() => undefined);
        tr.fh = null;
      }
    });
    if (last) {
      void tr.chain.then(() => {
        this.transfers.delete(id);
        reply({
          t: 'xferDone',
          computeId: m.computeId,
          xferId: m.xferId,
          ok: !tr.failed,
          ...(tr.failed ? { error: tr.failed } : {}),
        });
      });
    }
  }
}
