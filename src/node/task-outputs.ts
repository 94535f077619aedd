/**
 * A task's outputs (wire spec §3.7): every local `OUTPUT` becomes one line
 * `<label> <type>://<host>/disco/<host>/<HH>/<job>/<path>\n` of the task's results file
 * `JobHome/.disco/<mode>-<taskid>-<usecs>.results` (named at the first such output); `[tag,
 * "tag"]` outputs become `tag://<tag>` results. On DONE the file is written and the task's
 * results are the file's `dir://` URL followed by its tag URLs.
 *
 * Cost per task: the lines are collected in memory (spilled to the open file past
 * {@link SPILL_BYTES}) and written with one synchronous open/write/close at DONE. The file is not fsynced:
 * it only matters while this node is connected — if the node (machine or daemon) goes away
 * the master counts every result stored here as lost and runs those tasks again, and the
 * shuffle's index, which is what outlives the phase, is written atomically with fsync.
 *
 * At DONE the local output files are stat'ed once each (a few µs apiece) for
 * {@link TaskOutputs.bytesWritten}, the node's `disco_node_task_output_bytes_total`.
 */
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { safeJoin } from '../common/fs-atomic.js';
import { erlangNow } from '../common/time.js';

/** An output the protocol must refuse: the task fails fatally with this message. */
export class OutputRefused extends Error {
  override name = 'OutputRefused';
}

/** Where a job's data lives, as seen from URLs and from the file system. */
export interface JobLocation {
  /** Absolute job home directory. */
  dir: string;
  /** `<host>/disco/<host>/<HH>/<job>`: the part of data URLs after `scheme://`. */
  urlBase: string;
}

const TYPE_RE = /^[A-Za-z][A-Za-z0-9+.-]*$/;

/** Collected lines past which they go to the (then opened) file before DONE. */
export const SPILL_BYTES = 256 * 1024;

/** Results-file writer of one task attempt. */
export class TaskOutputs {
  private file: fs.FileHandle | null = null;
  private fileName: string | null = null;
  private readonly tags: string[] = [];
  private lines: string[] = [];
  private bytes = 0;
  /** Local output files (absolute paths), measured at {@link close}. */
  private readonly files: string[] = [];
  /** Bytes of the local output files, known after a successful {@link close} (0 before). */
  bytesWritten = 0;

  constructor(
    private readonly job: JobLocation,
    private readonly mode: string,
    private readonly taskid: number,
  ) {}

  /**
   * Record one `OUTPUT` payload. Throws {@link OutputRefused} for outputs that must not be
   * recorded (paths outside the job home, labels or paths that would break the index line
   * format); other errors are I/O failures.
   */
  async add(body: readonly [string, string] | readonly [string, string, string]): Promise<void> {
    const [target, type] = body;
    const label = body[2] ?? '0';
    if (type === 'tag') {
      this.tags.push(`tag://${target}`);
      return;
    }
    if (!TYPE_RE.test(type)) throw new OutputRefused(`Invalid output type ${JSON.stringify(type)}`);
    if (label === '' || /\s/.test(label))
      throw new OutputRefused(`Invalid output label ${JSON.stringify(label)}`);
    const rel = this.relativePath(target);
    this.fileName ??= this.newName();
    this.files.push(path.join(this.job.dir, rel));
    const line = `${label} ${type}://${this.job.urlBase}/${rel}\n`;
    this.lines.push(line);
    this.bytes += line.length;
    if (this.bytes >= SPILL_BYTES) await this.spill();
  }

  /** Write the results file; returns the task's results (§3.7). */
  async close(): Promise<string[]> {
    if (this.fileName === null) return this.tags.slice();
    this.bytesWritten = outputBytes(this.files);
    const data = this.take();
    if (this.file) {
      const fh = this.file;
      this.file = null;
      try {
        if (data !== '') await fh.write(data);
      } finally {
        await fh.close();
      }
    } else {
      // A few lines into the page cache: written synchronously, which costs the event loop
      // ~30 µs — a third of the promise round trips through the thread pool it replaces.
      const file = this.filePath();
      try {
        writeFileSync(file, data);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        // The first results file of this job home (or `.disco` was removed).
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, data);
      }
    }
    return [`dir://${this.job.urlBase}/.disco/${this.fileName}`, ...this.tags];
  }

  /** Close without caring about the content (the task failed or was killed). */
  async abandon(): Promise<void> {
    const fh = this.file;
    this.file = null;
    this.lines = [];
    await fh?.close().catch(() => {});
  }

  private take(): string {
    const data = this.lines.join('');
    this.lines = [];
    this.bytes = 0;
    return data;
  }

  /** Many outputs: move the collected lines to the file (opened now). */
  private async spill(): Promise<void> {
    if (this.file === null) {
      const file = this.filePath();
      await fs.mkdir(path.dirname(file), { recursive: true });
      this.file = await fs.open(file, 'w');
    }
    await this.file.write(this.take());
  }

  /**
   * The output path relative to the job home. Workers send relative paths (the classic worker)
   * or absolute ones inside the job home; anything escaping it is refused.
   */
  private relativePath(target: string): string {
    if (/[\s]/.test(target)) throw new OutputRefused(`Invalid output path ${JSON.stringify(target)}`);
    const rel = path.isAbsolute(target) ? path.relative(this.job.dir, target) : target;
    const full = safeJoin(this.job.dir, rel);
    if (!full || full === path.resolve(this.job.dir))
      throw new OutputRefused(`Invalid output path ${JSON.stringify(target)}: outside the job home`);
    return path.relative(path.resolve(this.job.dir), full).split(path.sep).join('/');
  }

  private newName(): string {
    const t = erlangNow();
    const usecs = (t.mega * 1e6 + t.secs) * 1e6 + t.micro;
    return `${this.mode}-${this.taskid}-${usecs}.results`;
  }

  private filePath(): string {
    return path.join(this.job.dir, '.disco', this.fileName!);
  }
}

/** Total size of `files`; a file that is missing (a worker may name a file it never wrote) counts 0. */
function outputBytes(files: readonly string[]): number {
  let total = 0;
  for (const f of new Set(files)) {
    try {
      total += statSync(f).size;
    } catch {
      // not there: nothing was written
    }
  }
  return total;
}
