/**
 * The outputs of one task, opened on first use: one per partition label for partitioned map
 * output (`<taskdir>/<mode>-<label>`, type `part`), or the single output `<taskdir>/<uid>`
 * (type `disco`, label `"0"`). Reported to the master in the order they were opened.
 *
 * @example
 * const outs = new OutputFactory({ jobhome, paths, streams: [], writer: undefined, params });
 * outs.get('3').add('key', 1);
 * outs.closeAll(); // then OUTPUT each of outs.list()
 */
import { openTaskOutput, type TaskOutput } from './outputs.js';
import type { TaskPaths } from './task-paths.js';
import type { UserFunction } from './user-code.js';

export interface OutputFactoryOptions {
  jobhome: string;
  paths: TaskPaths;
  /** `mapOutputStream` / `reduceOutputStream`. */
  streams: readonly UserFunction[];
  /** `mapWriter` / `reduceWriter` (undefined: default record writer). */
  writer: UserFunction | null | undefined;
  params: unknown;
}

export class OutputFactory {
  private readonly outs = new Map<string | null, TaskOutput>();

  constructor(private readonly o: OutputFactoryOptions) {}

  /** The output for partition `label` (null: not partitioned), opening it if needed. */
  get(label: string | null): TaskOutput {
    let out = this.outs.get(label);
    if (!out) {
      out = openTaskOutput({
        jobhome: this.o.jobhome,
        rel: this.o.paths.outputRel(label),
        type: label === null ? 'disco' : 'part',
        label: label ?? '0',
        partition: label,
        streams: this.o.streams,
        writer: this.o.writer,
        params: this.o.params,
      });
      this.outs.set(label, out);
    }
    return out;
  }

  /** Outputs in the order they were opened. */
  list(): TaskOutput[] {
    return [...this.outs.values()];
  }

  /** Finish every output (fsync and move into place). */
  closeAll(): void {
    for (const o of this.outs.values()) o.close();
  }

  /** Drop every output (the task failed). */
  abortAll(): void {
    for (const o of this.outs.values()) {
      try {
        o.abort();
      } catch {
        // the task is failing already; a leftover .partial file is harmless
      }
    }
  }
}
