/**
 * Where a task writes (wire spec §6.2): `uid = <mode>:<taskid>-<2 hex>-<pid>` (the two hex
 * digits are md5 of the current time, as in the original), task directory
 * `<md5(uid)[:2]>/<uid>` relative to the job home. Outputs are `<taskdir>/<mode>-<label>` for
 * partitioned map output and `<taskdir>/<uid>` otherwise; temporary files live in
 * `<taskdir>/tmp`.
 *
 * Nothing is created up front: outputs create their directory when they open, and `tmp` is
 * created on first use (most map tasks never need it). A task costs no directory operations
 * of its own, which matters at thousands of tasks a second.
 *
 * @example
 * const p = makeTaskPaths('/data/n1/ab/Job@1:2:3', 'map', 0); // p.rel: '88/map:0-42-16110'
 * p.outputRel('0'); // '88/map:0-42-16110/map-0'
 * p.tmp; // created now
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { hexHash } from '../protocol/names.js';

export interface TaskPaths {
  uid: string;
  /** Task directory relative to the job home. */
  rel: string;
  /** Task directory, absolute (created by the first output). */
  abs: string;
  /** Temporary files (downloads, sort runs): created when first read, removed by {@link TaskPaths.cleanup}. */
  readonly tmp: string;
  /** Output path relative to the job home: `<mode>-<label>`, or `<uid>` when label is null. */
  outputRel(label: string | null): string;
  /** Remove `tmp` if it was created. */
  cleanup(): void;
}

/** Choose a fresh task directory under `jobhome` (see the module doc: nothing is created). */
export function makeTaskPaths(jobhome: string, mode: 'map' | 'reduce', taskid: number): TaskPaths {
  for (let attempt = 0; ; attempt++) {
    const stamp = hexHash(String(Date.now() / 1000 + attempt));
    const uid = `${mode}:${taskid}-${stamp}-${process.pid}`;
    const rel = path.posix.join(hexHash(uid), uid);
    const abs = path.join(jobhome, rel);
    // A reused process may run the same task id again: never share a directory that an
    // earlier attempt wrote to.
    if (existsSync(abs) && attempt < 256) continue;
    const tmp = path.join(abs, 'tmp');
    let tmpMade = false;
    return {
      uid,
      rel,
      abs,
      get tmp() {
        if (!tmpMade) {
          mkdirSync(tmp, { recursive: true });
          tmpMade = true;
        }
        return tmp;
      },
      outputRel: (label) => path.posix.join(rel, label === null ? uid : `${mode}-${label}`),
      cleanup: () => {
        if (tmpMade) rmSync(tmp, { recursive: true, force: true });
        tmpMade = false;
      },
    };
  }
}
