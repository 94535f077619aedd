/**
 * A child process driven from the synchronous worker without deadlocks: a helper thread owns
 * the child and its pipes (ordinary asynchronous Node streams on the thread's own event loop),
 * and the worker's thread talks to it through a `MessageChannel`, blocking in `Atomics.wait`
 * on a shared counter whenever it has nothing to do.
 *
 * Why a thread: both sides of the pipes must keep moving. The worker writes input ahead
 * (pipelined, never one record per round trip) while the program writes results; if the
 * worker blocked writing a full stdin pipe while the program blocked writing a full stdout
 * pipe, both would wait forever. Node has no synchronous `poll()`, so a single thread can
 * only avoid that by polling non-blocking descriptors and sleeping between attempts (each
 * sleep is latency, each spin burns a core) and would still have no way to learn the exit
 * status without returning to its event loop. The helper thread has neither problem: its
 * streams apply backpressure, `close` reports the exit code or signal, and every event wakes
 * the worker at once (a futex wake-up, microseconds).
 *
 * Flow control both ways: the worker keeps at most {@link MAX_INPUT_IN_FLIGHT} bytes of input
 * handed over but not yet accepted by the pipe (the thread reports each completed write), and
 * the thread pauses the program's stdout once {@link MAX_OUTPUT_UNREAD} bytes wait unread
 * (the worker acknowledges what it consumed). Memory stays bounded whatever the sizes.
 *
 * Measured on the project's shared 2-core machine (figures vary with its load): `cat` as the
 * program, 256 KiB batches, 300 MiB through the thread and back at 385–680 MB/s; a
 * synchronous round trip per record (write one, wait for its answer) 50–200 µs, i.e. only
 * 5,000–20,000 records/s — hence the write-ahead in `run-external.ts`; the first program of a
 * worker process ~55 ms (thread start included), later ones ~2–3 ms (`/bin/true`: spawn and
 * exit). The thread is started on first use, kept for later tasks of a reused worker, and
 * unref'd so it never keeps a process alive.
 *
 * @example
 * const ch = ChildChannel.spawn({ file: '/job/ext/map/cmap', args: ['map'], cwd: '/job/ext/map', env });
 * ch.onStdout = (b) => decoder.push(b);
 * ch.write(batch.take()); ch.endInput();
 * while (!ch.exit) ch.poll(true);
 */
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';

/** Input handed to the thread but not yet accepted by the pipe, before `write` waits. */
export const MAX_INPUT_IN_FLIGHT = 4 * 1024 * 1024;
/** Program output the thread buffers for the worker before it pauses the program's stdout. */
export const MAX_OUTPUT_UNREAD = 8 * 1024 * 1024;
/**
 * Output consumed before the worker tells the thread (fewer messages; the thread resumes a
 * paused stdout at half of {@link MAX_OUTPUT_UNREAD}, far above what may stay unacknowledged).
 */
const ACK_BYTES = 1024 * 1024;

export interface SpawnOptions {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string | undefined>;
}

/** How the program ended: exit code, or the signal that killed it. */
export interface ChildExit {
  code: number | null;
  signal: string | null;
}

type FromHelper =
  | { t: 'spawned'; id: number; pid: number }
  | { t: 'spawnError'; id: number; message: string; code?: string }
  | { t: 'out' | 'err'; id: number; b: Uint8Array }
  | { t: 'wrote'; id: number; n: number }
  | { t: 'exit'; id: number; code: number | null; signal: string | null };

type ToHelper =
  | ({ t: 'spawn'; id: number } & SpawnOptions)
  | { t: 'in'; id: number; b: ArrayBuffer }
  | { t: 'end' | 'kill'; id: number }
  | { t: 'ack'; id: number; n: number };

/**
 * The helper thread's program. It runs from its source text (`toString()`), so it uses only
 * its arguments and globals: nothing from this module's scope.
 */
function helperMain(wt: typeof import('node:worker_threads'), cp: typeof import('node:child_process')): void {
  const { port, signal, maxUnread } = wt.workerData as {
    port: MessagePort;
    signal: SharedArrayBuffer;
    maxUnread: number;
  };
  const sig = new Int32Array(signal);
  const post = (m: unknown, transfer?: ArrayBuffer[]): void => {
    port.postMessage(m, transfer);
    Atomics.add(sig, 0, 1);
    Atomics.notify(sig, 0);
  };
  let child: import('node:child_process').ChildProcess | null = null;
  let current = -1;
  let unread = 0;
  let paused = false;
  port.on('message', (m: ToHelper) => {
    if (m.t === 'spawn') {
      current = m.id;
      unread = 0;
      paused = false;
      const id = m.id;
      let c: import('node:child_process').ChildProcess;
      try {
        c = cp.spawn(m.file, m.args, { cwd: m.cwd, env: m.env, stdio: ['pipe', 'pipe', 'pipe'] });
      } catch (e) {
        post({ t: 'spawnError', id, message: (e as Error).message, code: (e as { code?: string }).code });
        return;
      }
      child = c;
      let failed = false;
      c.on('error', (e: Error & { code?: string }) => {
        if (c.pid === undefined) {
          failed = true;
          post({ t: 'spawnError', id, message: e.message, code: e.code });
        }
      });
      // A program that exits without reading all its input breaks the pipe; its exit status says why.
      c.stdin?.on('error', () => {});
      c.stdout?.on('data', (b: Buffer) => {
        const n = b.length;
        // A pipe's chunk has an ArrayBuffer of its own: moved to the worker, not copied twice.
        const own =
          b.byteOffset === 0 && b.buffer.byteLength === n && !(b.buffer instanceof SharedArrayBuffer);
        post({ t: 'out', id, b }, own ? [b.buffer as ArrayBuffer] : undefined);
        if (id !== current) return;
        unread += n;
        if (unread > maxUnread && !paused) {
          paused = true;
          c.stdout?.pause();
        }
      });
      c.stderr?.on('data', (b: Buffer) => post({ t: 'err', id, b }));
      c.on('close', (code: number | null, sg: NodeJS.Signals | null) => {
        if (!failed) post({ t: 'exit', id, code, signal: sg });
        if (child === c) child = null;
      });
      if (c.pid !== undefined) post({ t: 'spawned', id, pid: c.pid });
      return;
    }
    if (m.id !== current || !child) return;
    const c = child;
    if (m.t === 'in') {
      const n = m.b.byteLength;
      if (!c.stdin || c.stdin.destroyed) post({ t: 'wrote', id: m.id, n });
      else c.stdin.write(Buffer.from(m.b), () => post({ t: 'wrote', id: m.id, n }));
    } else if (m.t === 'end') c.stdin?.end();
    else if (m.t === 'kill') c.kill('SIGKILL');
    else if (m.t === 'ack') {
      unread -= m.n;
      if (paused && unread <= maxUnread / 2) {
        paused = false;
        c.stdout?.resume();
      }
    }
  });
}

interface Helper {
  worker: Worker;
  port: MessagePort;
  sig: Int32Array;
}

let helper: Helper | null = null;
let nextId = 1;

function startHelper(): Helper {
  const { port1, port2 } = new MessageChannel();
  const signal = new SharedArrayBuffer(4);
  const worker = new Worker(
    `(${helperMain.toString()})(require('node:worker_threads'), require('node:child_process'));`,
    {
      eval: true,
      workerData: { port: port2, signal, maxUnread: MAX_OUTPUT_UNREAD },
      transferList: [port2],
      stdout: false,
      stderr: false,
    },
  );
  worker.unref();
  port1.unref();
  worker.on('error', () => {
    // The thread died (it should not): forget it, so the next program gets a new one.
    helper = null;
  });
  return { worker, port: port1, sig: new Int32Array(signal) };
}

/** The worker's side of one running program (see module docs). */
export class ChildChannel {
  /** Called with each chunk of the program's stdout, in order. */
  onStdout: (chunk: Buffer) => void = () => {};
  /** Called with each chunk of the program's stderr, in order. */
  onStderr: (chunk: Buffer) => void = () => {};
  /** Set once the program has ended and all its output has been delivered. */
  exit: ChildExit | null = null;
  /** The program's process id (once started). */
  pid: number | null = null;
  private inFlight = 0;
  private unacked = 0;
  private ended = false;

  private constructor(
    private readonly h: Helper,
    private readonly id: number,
    private readonly what: string,
  ) {}

  /** Start `file` in the helper thread. Throws if it cannot be started (missing, not executable). */
  static spawn(opts: SpawnOptions): ChildChannel {
    if (!helper) helper = startHelper();
    const ch = new ChildChannel(helper, nextId++, opts.file);
    ch.send({ t: 'spawn', id: ch.id, ...opts });
    while (ch.pid === null && ch.exit === null) ch.poll(true);
    return ch;
  }

  /** Hand `bytes` to the program's stdin (transferred: the buffer is unusable afterwards). */
  write(bytes: ArrayBuffer): void {
    if (this.exit) return; // it is gone; its exit status tells the caller why
    const n = bytes.byteLength;
    if (n === 0) return;
    this.h.port.postMessage({ t: 'in', id: this.id, b: bytes } satisfies ToHelper, [bytes]);
    this.inFlight += n;
    while (this.inFlight > MAX_INPUT_IN_FLIGHT && !this.exit) this.poll(true);
  }

  /** Close the program's stdin (it sees end of file once it has read what was written). */
  endInput(): void {
    if (this.ended) return;
    this.ended = true;
    this.send({ t: 'end', id: this.id });
  }

  /** Kill the program now (SIGKILL), e.g. when the task fails. */
  kill(): void {
    if (this.exit) return;
    if (this.pid !== null) {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    this.send({ t: 'kill', id: this.id });
  }

  /**
   * Handle whatever the thread reported (output, completed writes, the exit). With `block`,
   * wait up to `timeoutMs` for something when nothing has arrived yet. Handlers run here, on
   * the caller's stack, so their exceptions reach the caller.
   */
  poll(block: boolean, timeoutMs = 1000): void {
    const seen = Atomics.load(this.h.sig, 0);
    if (this.drain() || !block) return;
    Atomics.wait(this.h.sig, 0, seen, timeoutMs);
    this.drain();
  }

  /** Bytes written but not yet accepted by the pipe. */
  get pendingInput(): number {
    return this.inFlight;
  }

  private drain(): boolean {
    let any = false;
    let consumed = 0;
    try {
      for (;;) {
        const r = receiveMessageOnPort(this.h.port);
        if (!r) break;
        const m = r.message as FromHelper;
        if (m.id !== this.id) continue; // an earlier program's late news
        any = true;
        switch (m.t) {
          case 'spawned':
            this.pid = m.pid;
            break;
          case 'spawnError':
            this.exit = { code: null, signal: null };
            throw new Error(`cannot start ${this.what}: ${m.message}`);
          case 'out':
            consumed += m.b.byteLength;
            this.onStdout(Buffer.from(m.b.buffer, m.b.byteOffset, m.b.byteLength));
            break;
          case 'err':
            this.onStderr(Buffer.from(m.b.buffer, m.b.byteOffset, m.b.byteLength));
            break;
          case 'wrote':
            this.inFlight -= m.n;
            break;
          case 'exit':
            this.exit = { code: m.code, signal: m.signal };
            break;
        }
      }
    } finally {
      this.unacked += consumed;
      if (this.unacked >= ACK_BYTES && !this.exit) {
        this.send({ t: 'ack', id: this.id, n: this.unacked });
        this.unacked = 0;
      }
    }
    return any;
  }

  private send(m: ToHelper): void {
    this.h.port.postMessage(m);
  }
}
