/**
 * Files between a dispynode and its client: files the client sends for a computation
 * (`file`, and `sendFile` for any path under the computation's directory), and files jobs send
 * to the client with `dispySendFile` (streamed in chunks on the client's connection; the
 * job's call returns when the client's `xferDone` comes back).
 *
 * Files larger than the node's `maxFileSize` are refused either way.
 *
 * @example
 * const files = new FileTransfer({ maxFileSize: 0 });
 * await files.receive(comp, m, false);      // a chunk from the client
 * void files.sendFromJob(comp, worker, m);  // a job's dispySendFile
 * files.done(xferDoneFromClient);           // answers the job
 */
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { HandlerResult } from '../protocol/connection.js';
import { ReplyError } from '../protocol/connection.js';
import { FILE_CHUNK_BYTES } from '../protocol/constants.js';
import type { MessageOf } from '../protocol/messages.js';
import type { FromWorker } from '../protocol/worker-protocol.js';
import type { NodeComp } from './computation.js';
import type { WorkerHandle } from './worker-pool.js';

export interface FileTransferDeps {
  /** The node's limit on a file's size in bytes (0: none). */
  maxFileSize: number;
}

/** A job's `dispySendFile` waiting for the client's `xferDone`. */
interface PendingXfer {
  worker: WorkerHandle;
  reqId: number;
  comp: NodeComp;
}

export class FileTransfer {
  private nextXfer = 1;
  private readonly xfers = new Map<number, PendingXfer>();

  constructor(private readonly deps: FileTransferDeps) {}

  /** A chunk of a file from the client; `anyPath`: not necessarily one of the computation's files. */
  async receive(
    comp: NodeComp,
    m: MessageOf<'file'> | MessageOf<'sendFile'>,
    anyPath: boolean,
  ): Promise<HandlerResult> {
    if (!anyPath && !comp.spec.files.some((f) => f.path === m.path)) {
      throw new ReplyError(`file ${m.path} is not part of the computation`);
    }
    const max = this.deps.maxFileSize;
    if (max > 0 && m.total > max) {
      throw new ReplyError(`file ${m.path} (${m.total} bytes) exceeds max_file_size ${max}`);
    }
    const r = await comp.files.chunk(m);
    return { received: r.received };
  }

  /** Stream a file a job sends (`dispySendFile`) to the computation's client. */
  async sendFromJob(
    comp: NodeComp,
    w: WorkerHandle,
    m: Extract<FromWorker, { t: 'sendFile' }>,
  ): Promise<void> {
    const fail = (error: string) => w.send({ t: 'reply', reqId: m.reqId, ok: false, error });
    const conn = comp.session?.conn;
    if (!conn || conn.closed) return fail('the client is not connected');
    const st = await fs.stat(m.path).catch(() => null);
    if (!st?.isFile()) return fail(`${m.path} is not a file`);
    const max = this.deps.maxFileSize;
    if (max > 0 && st.size > max) {
      return fail(`${m.path} (${st.size} bytes) exceeds the node's max_file_size of ${max} bytes`);
    }
    const rel = path.relative(comp.dir, m.path);
    const name = rel.startsWith('..') || path.isAbsolute(rel) ? path.basename(m.path) : rel;
    const xferId = this.nextXfer++;
    this.xfers.set(xferId, { worker: w, reqId: m.reqId, comp });
    let offset = 0;
    const send = (data: Uint8Array) =>
      conn.send({
        t: 'xfer',
        computeId: comp.spec.computeId,
        uid: m.uid,
        xferId,
        path: name,
        offset,
        total: st.size,
        data,
        mtimeMs: st.mtimeMs,
        mode: st.mode,
      });
    try {
      const stream = createReadStream(m.path, { highWaterMark: FILE_CHUNK_BYTES });
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        send(chunk);
        offset += chunk.length;
        if (conn.congested) await new Promise((r) => conn.socket.once('drain', r));
      }
      // An empty file still needs one message: the client creates the file from it.
      if (st.size === 0) send(new Uint8Array(0));
    } catch (e) {
      this.xfers.delete(xferId);
      fail(`reading ${m.path}: ${(e as Error).message}`);
    }
  }

  /** The client has the file (or failed to take it): the job's `dispySendFile` returns. */
  done(m: MessageOf<'xferDone'>): HandlerResult {
    const x = this.xfers.get(m.xferId);
    if (!x) return;
    this.xfers.delete(m.xferId);
    x.worker.send({ t: 'reply', reqId: x.reqId, ok: m.ok, ...(m.error ? { error: m.error } : {}) });
  }
}
