/**
 * A task's outputs (wire spec §3.7): every local `OUTPUT` becomes one line
 * `<label> <type>://<host>/disco/<host>/<HH>/<job>/<path>\n` of the task's results file
 * `JobHome/.disco/<mode>-<taskid>-<usecs>.results`, opened on the first such output; `[tag,
 * "tag"]` outputs become `tag://<tag>` results. On DONE the file is fsynced and closed and the
 * task's results are the file's `dir://` URL followed by its tag URLs.
 */
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

/** Results-file writer of one task attempt. */
export class TaskOutputs {
  private file: fs.FileHandle | null = null;
  private fileName: string | null = null;
  private readonly tags: string[] = [];

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
    if (this.file === null) await this.open();
    await this.file!.write(`${label} ${type}://${this.job.urlBase}/${rel}\n`);
  }

  /** Flush and close the results file; returns the task's results (§3.7). */
  async close(): Promise<string[]> {
    const results: string[] = [];
    if (this.file) {
      const fh = this.file;
      this.file = null;
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      results.push(`dir://${this.job.urlBase}/.disco/${this.fileName}`);
    }
    return [...results, ...this.tags];
  }

  /** Close without caring about the content (the task failed or was killed). */
  async abandon(): Promise<void> {
    const fh = this.file;
    this.file = null;
    await fh?.close().catch(() => {});
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

  private async open(): Promise<void> {
    const t = erlangNow();
    const usecs = (t.mega * 1e6 + t.secs) * 1e6 + t.micro;
    this.fileName = `${this.mode}-${this.taskid}-${usecs}.results`;
    const dir = path.join(this.job.dir, '.disco');
    await fs.mkdir(dir, { recursive: true });
    this.file = await fs.open(path.join(dir, this.fileName), 'w');
  }
}
