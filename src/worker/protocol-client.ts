/**
 * The worker side of Disco worker protocol 1.0 (wire spec §3): messages go out on stderr
 * (fd 2), replies come in on stdin (fd 0), framed `TYPE SP LEN SP JSON \n`. Fully synchronous:
 * every message that has a reply blocks until the reply arrives, which is also how the node's
 * rate limit slows a chatty worker down.
 *
 * The worker announces `"reuse": true` in `WORKER`: after `DONE` it asks for the next task with
 * `TASK ""`; the node answers with another task of the same job, or closes stdin, on which
 * {@link ProtocolClient.nextTask} returns null and the worker exits.
 *
 * It also asks for the `pipeline` extension (src/protocol/worker-protocol.ts). When the node
 * accepts it, `MSG` and `OUTPUT` get no reply and the `INPUT ""` reply arrives with the task,
 * so the client keeps the message rate itself and messages without a reply may be *deferred*:
 * they go out with the next message, in the same write — the outputs, the per-task "Done: …"
 * and "Results sent to master" messages, `DONE` and the next `TASK ""`. A classic task then
 * costs one write and one round trip instead of six writes and five round trips. Nothing that
 * a person waits to see is deferred past the end of its task; progress messages and console
 * output go out at once.
 *
 * @example
 * const c = new ProtocolClient();
 * c.hello();
 * for (let t = c.nextTask(); t; t = c.nextTask()) { ...; c.done(); }
 */
import { readSync, writeSync } from 'node:fs';
import { DataError, ProtocolError } from '../common/errors.js';
import {
  encodeFrame,
  type Frame,
  FrameDecoder,
  fastTaskInfo,
  type InputEntry,
  PIPELINE_ACCEPTED,
  type Replica,
  type TaskInfo,
  TaskInfoSchema,
} from '../protocol/worker-protocol.js';
import { sleepSync } from './sleep-sync.js';

/** stdin reached end of file: the node does not want this worker any more. */
export class EndOfInput extends Error {
  override name = 'EndOfInput';
}

/** Messages per second the client allows itself (the node delays replies past 5/s, §3.6). */
export const MSG_PER_SECOND = 5;
/** Longest MSG text sent; longer texts are cut (events are meant to be read by people). */
export const MAX_MSG_LENGTH = 64 * 1024;

export interface ProtocolClientOptions {
  /** File descriptor replies are read from (default 0). */
  input?: number;
  /** File descriptor messages are written to (default 2). */
  output?: number;
  /** Ask to be reused for further tasks (default true). */
  reuse?: boolean;
  /** Ask for the `pipeline` extension (default true; used only if the node accepts). */
  pipeline?: boolean;
}

/** An `INPUT` reply that lists every input (`["done", ...]`, not `"more"` to come). */
function isDone(reply: Frame | null): boolean {
  return reply !== null && Array.isArray(reply.body) && reply.body[0] === 'done';
}

function isErrno(e: unknown, ...codes: string[]): boolean {
  return typeof e === 'object' && e !== null && codes.includes((e as { code?: string }).code ?? '');
}

export class ProtocolClient {
  private readonly inFd: number;
  private readonly outFd: number;
  readonly reuse: boolean;
  private readonly askPipeline: boolean;
  /** The node accepted `pipeline`: no replies to `MSG`/`OUTPUT`, inputs come with the task. */
  private pipeline = false;
  /** The pushed `INPUT ""` reply of the current task (pipeline), until {@link inputs} takes it. */
  private pushedInputs: Frame | null = null;
  /**
   * Pipeline: replicas of the current task's inputs as the node last listed them. The node
   * re-orders an input's replicas only on `INPUT_ERR` (which goes through this client and drops
   * the entry), so `include` of a listed input needs no round trip.
   */
  private known = new Map<number, Replica[]>();
  /** Encoded frames without a reply, waiting to go out with the next write. */
  private deferred: Buffer[] = [];
  private readonly decoder = new FrameDecoder();
  private readonly queued: Frame[] = [];
  private readonly readBuf = Buffer.allocUnsafe(64 * 1024);
  /** Send times of recent MSGs (for pacing). */
  private readonly recentMsgs: number[] = [];

  constructor(opts: ProtocolClientOptions = {}) {
    this.inFd = opts.input ?? 0;
    this.outFd = opts.output ?? 2;
    this.reuse = opts.reuse ?? true;
    this.askPipeline = opts.pipeline ?? true;
  }

  /** `WORKER {"version":"1.0","pid":N,"reuse":true,"pipeline":true}` → `OK`. */
  hello(): void {
    const body: Record<string, unknown> = { version: '1.0', pid: process.pid, reuse: this.reuse };
    if (this.askPipeline) body.pipeline = true;
    const r = this.request('WORKER', body, ['OK']);
    const b = r.body as Record<string, unknown> | null;
    this.pipeline =
      this.askPipeline && typeof b === 'object' && b !== null && b.pipeline === PIPELINE_ACCEPTED.pipeline;
  }

  /** Whether the node accepted the `pipeline` extension. */
  get pipelined(): boolean {
    return this.pipeline;
  }

  /** `TASK ""` → the task; null when the node closed stdin instead of answering. */
  nextTask(): TaskInfo | null {
    let reply: Frame;
    try {
      reply = this.request('TASK', '', ['TASK']);
    } catch (e) {
      if (e instanceof EndOfInput) return null;
      throw e;
    }
    let info = fastTaskInfo(reply.body);
    if (!info) {
      const parsed = TaskInfoSchema.safeParse(reply.body);
      if (!parsed.success)
        throw new ProtocolError(`invalid TASK reply: ${JSON.stringify(reply.body).slice(0, 300)}`);
      info = parsed.data;
    }
    // The inputs follow the task at once (pipeline).
    this.pushedInputs = this.pipeline ? this.expect(this.readFrame(), 'TASK', ['INPUT']) : null;
    this.known.clear();
    // The node throttles MSGs per task, so a reused worker's pacing starts afresh with each
    // task; carrying it over made a reused worker sleep ~1 s every few tasks.
    this.recentMsgs.length = 0;
    return info;
  }

  /** `INPUT ""` → every input of the task with its replicas (pipeline: as pushed with the task). */
  inputs(): InputEntry[] {
    const pushed = this.pushedInputs;
    this.pushedInputs = null;
    const entries = this.inputReply(pushed ?? this.request('INPUT', '', ['INPUT']));
    if (this.pipeline && isDone(pushed))
      for (const [iid, , replicas] of entries) this.known.set(iid, replicas);
    return entries;
  }

  /** `INPUT ["include",[iid]]` → the current replicas of one input, best first. */
  include(iid: number): Replica[] {
    const known = this.known.get(iid);
    if (known) return known.slice();
    const entries = this.inputReply(this.request('INPUT', ['include', [iid]], ['INPUT']));
    const e = entries.find((x) => x[0] === iid);
    return e ? e[2] : [];
  }

  /** `INPUT_ERR [iid, rids]` → replicas left to try (`RETRY`), or null (`FAIL`). */
  inputFailed(iid: number, rids: number[]): Replica[] | null {
    this.known.delete(iid);
    const r = this.request('INPUT_ERR', [iid, rids], ['RETRY', 'FAIL']);
    if (r.type === 'FAIL') return null;
    return this.replicas(r.body);
  }

  /**
   * `OUTPUT [path, type, label]` (or `[tag, "tag"]`) → `OK`. Pipeline: no reply, and it goes
   * out with the next message (outputs are reported at the end of a task, before `DONE`).
   */
  output(pathOrTag: string, type: string, label?: string): void {
    const body = label === undefined ? [pathOrTag, type] : [pathOrTag, type, label];
    if (this.pipeline) this.send('OUTPUT', body, true);
    else this.request('OUTPUT', body, ['OK']);
  }

  /**
   * `MSG text` → `OK` (no reply with `pipeline`). Blank texts are skipped; at most
   * {@link MSG_PER_SECOND} go out per second (the client waits), so the node's throttle never
   * has to kill the job. A `droppable` message (periodic progress) is skipped instead of
   * waited for. A `defer`red message (with `pipeline` only) goes out with the next message
   * the worker sends — for messages that are immediately followed by another one.
   */
  msg(text: string, opts: { droppable?: boolean; defer?: boolean } = {}): void {
    let t = text.trim();
    if (t === '') return;
    if (t.length > MAX_MSG_LENGTH)
      t = `${t.slice(0, MAX_MSG_LENGTH)}… (${t.length - MAX_MSG_LENGTH} more characters)`;
    if (!this.pace(opts.droppable === true)) return;
    if (this.pipeline) this.send('MSG', t, opts.defer === true);
    else this.request('MSG', t, ['OK']);
  }

  /**
   * `DONE ""` (no reply). A reusable worker asks `TASK ""` right after, so its `DONE` waits
   * to go out in the same write; call {@link flush} before exiting instead.
   */
  done(): void {
    this.send('DONE', '', this.reuse);
  }

  /** Write out deferred messages now. */
  flush(): void {
    if (this.deferred.length === 0) return;
    const frames = this.deferred;
    this.deferred = [];
    this.writeAll(frames.length === 1 ? frames[0] : Buffer.concat(frames));
  }

  /** `ERROR text` (no reply): the task failed and may be retried elsewhere. */
  error(text: string): void {
    this.send('ERROR', text);
  }

  /** `FATAL text` (no reply): the job fails. */
  fatal(text: string): void {
    this.send('FATAL', text);
  }

  /** Block until stdin is closed (after ERROR/FATAL the node kills or releases us). */
  waitForEnd(): void {
    try {
      for (;;) this.readFrame();
    } catch {
      // end of input or a broken pipe: either way we are done
    }
  }

  /** Make room for one more message within the rate; false when `drop` and there is none. */
  private pace(drop: boolean): boolean {
    const now = Date.now();
    while (this.recentMsgs.length > 0 && now - this.recentMsgs[0] >= 1000) this.recentMsgs.shift();
    if (this.recentMsgs.length >= MSG_PER_SECOND) {
      if (drop) return false;
      sleepSync(1000 - (now - this.recentMsgs[0]) + 1);
      this.recentMsgs.shift();
    }
    this.recentMsgs.push(Date.now());
    return true;
  }

  private inputReply(r: Frame): InputEntry[] {
    const b = r.body;
    if (!Array.isArray(b) || b.length !== 2 || !Array.isArray(b[1]))
      throw new ProtocolError(`invalid INPUT reply: ${JSON.stringify(b).slice(0, 300)}`);
    const out: InputEntry[] = [];
    for (const e of b[1] as unknown[]) {
      if (!Array.isArray(e) || e.length < 3 || typeof e[0] !== 'number')
        throw new ProtocolError(`invalid input entry: ${JSON.stringify(e).slice(0, 300)}`);
      if (e[1] === 'failed') throw new DataError(`Can't handle broken input ${e[0]}`);
      out.push([e[0], 'ok', this.replicas(e[2])]);
    }
    return out;
  }

  private replicas(v: unknown): Replica[] {
    if (!Array.isArray(v))
      throw new ProtocolError(`invalid replica list: ${JSON.stringify(v).slice(0, 300)}`);
    return v.map((r) => {
      if (!Array.isArray(r) || typeof r[0] !== 'number' || typeof r[1] !== 'string')
        throw new ProtocolError(`invalid replica: ${JSON.stringify(r).slice(0, 300)}`);
      return [r[0], r[1]] as Replica;
    });
  }

  private request(type: string, body: unknown, expect: string[]): Frame {
    this.send(type, body);
    return this.expect(this.readFrame(), type, expect);
  }

  private expect(reply: Frame, type: string, expect: string[]): Frame {
    if (!expect.includes(reply.type))
      throw new ProtocolError(
        `unexpected reply ${reply.type} ${JSON.stringify(reply.body).slice(0, 200)} to ${type} (expected ${expect.join('/')})`,
      );
    return reply;
  }

  private send(type: string, body: unknown, defer = false): void {
    const frame = encodeFrame(type, body);
    if (defer) {
      this.deferred.push(frame);
      return;
    }
    if (this.deferred.length > 0) {
      this.deferred.push(frame);
      this.flush();
      return;
    }
    this.writeAll(frame);
  }

  private writeAll(frame: Buffer): void {
    let off = 0;
    while (off < frame.length) {
      try {
        off += writeSync(this.outFd, frame, off, frame.length - off);
      } catch (e) {
        if (isErrno(e, 'EAGAIN', 'EWOULDBLOCK', 'EINTR')) sleepSync(2);
        else throw e;
      }
    }
  }

  private readFrame(): Frame {
    for (;;) {
      const f = this.queued.shift();
      if (f) return f;
      let n: number;
      try {
        n = readSync(this.inFd, this.readBuf, 0, this.readBuf.length, null);
      } catch (e) {
        if (isErrno(e, 'EAGAIN', 'EWOULDBLOCK', 'EINTR')) {
          sleepSync(2);
          continue;
        }
        if (isErrno(e, 'EOF', 'EPIPE', 'ECONNRESET')) throw new EndOfInput('stdin closed');
        throw e;
      }
      if (n === 0) throw new EndOfInput('stdin closed');
      // Copy: the decoder may keep a reference to a partial frame across reads.
      this.queued.push(...this.decoder.push(Buffer.from(this.readBuf.subarray(0, n))));
    }
  }
}
