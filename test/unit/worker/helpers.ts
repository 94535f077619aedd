/**
 * Test helpers for the worker: bundling sources with esbuild (the worker must run as a
 * self-contained file), writing job homes, and a scripted fake node that speaks the worker
 * protocol to a real worker process.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { encodeJobPack, type JobDict } from '../../../src/protocol/jobpack.js';
import { hexHash } from '../../../src/protocol/names.js';
import { FileSource, type KV, RecordWriter, readRecords } from '../../../src/protocol/record-stream.js';
import { type Frame, FrameDecoder, type TaskInfo } from '../../../src/protocol/worker-protocol.js';
import { JOBDATA_DEFAULTS } from './task-run-fixture.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export function tempDir(prefix = 'disco-worker-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Bundle `entry` (a path in the repo) into a self-contained ESM file in `outDir`. */
export async function bundle(entry: string, outFile: string, banner = ''): Promise<string> {
  await build({
    entryPoints: [path.join(REPO, entry)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: outFile,
    logLevel: 'warning',
    banner: {
      js: `${banner}import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);`,
    },
  });
  return outFile;
}

/** Bundle the worker like scripts/build.mjs does. */
export function bundleWorker(dir: string): Promise<string> {
  return bundle('src/worker/main.ts', path.join(dir, 'worker.mjs'), '#!/usr/bin/env node\n');
}

/** Defined with the in-process task run (which must not import esbuild), used here for job homes. */
export { JOBDATA_DEFAULTS };

export interface TestJob {
  name: string;
  host: string;
  discoData: string;
  ddfsData: string;
  jobhome: string;
  jobfile: string;
  /** A TASK reply for this job. */
  task(mode: 'map' | 'reduce', taskid: number): TaskInfo;
}

/**
 * Write a job home laid out as a node would (`<disco_data>/<host>/<hh>/<job>/jobfile`), with
 * optional extra files (e.g. the job module at lib/job.mjs).
 */
export function makeJob(
  root: string,
  jobdata: Record<string, unknown>,
  opts: { files?: Record<string, string>; jobdict?: Partial<JobDict>; jobenvs?: Record<string, string> } = {},
): TestJob {
  const name = `Test@5dc:${Math.floor(Math.random() * 0xfffff).toString(16)}:1`;
  const host = 'testhost';
  const discoData = path.join(root, 'data');
  const ddfsData = path.join(root, 'ddfs');
  const jobhome = path.join(discoData, host, hexHash(name), name);
  mkdirSync(jobhome, { recursive: true });
  mkdirSync(ddfsData, { recursive: true });
  const jobdict: JobDict = {
    prefix: 'Test',
    input: [],
    worker: 'disco-worker.mjs',
    owner: 'test@localhost',
    nr_reduces: 1,
    scheduler: {},
    'map?': true,
    'reduce?': true,
    ...opts.jobdict,
  };
  const pack = encodeJobPack({
    jobdict,
    jobenvs: opts.jobenvs ?? {},
    jobhome: new Uint8Array(),
    jobdata: Buffer.from(JSON.stringify({ ...JOBDATA_DEFAULTS, ...jobdata })),
  });
  const jobfile = path.join(jobhome, 'jobfile');
  writeFileSync(jobfile, pack);
  for (const [rel, text] of Object.entries(opts.files ?? {})) {
    mkdirSync(path.dirname(path.join(jobhome, rel)), { recursive: true });
    writeFileSync(path.join(jobhome, rel), text);
  }
  return {
    name,
    host,
    discoData,
    ddfsData,
    jobhome,
    jobfile,
    task: (mode, taskid) => ({
      taskid,
      master: 'http://127.0.0.1:9',
      disco_port: 8989,
      put_port: 8990,
      ddfs_data: ddfsData,
      disco_data: discoData,
      mode,
      jobfile,
      jobname: name,
      host,
    }),
  };
}

/**
 * What the fake node answers: a reply, several replies in one write (`raw`), `null` for none,
 * or `'close'` to close the worker's stdin.
 */
export type Answer =
  | { type: string; body: unknown }
  | { raw: { type: string; body: unknown }[] }
  | null
  | 'close';

export interface Conversation {
  /** Every message the worker sent, in order. */
  frames: Frame[];
  /** Bytes the worker wrote that were not protocol messages (must stay empty). */
  stray: string;
  /** Protocol parse error, if the stream broke. */
  parseError: string | null;
  code: number | null;
}

/**
 * Run `node <worker>` and answer its messages with `answer` until it exits. The worker's
 * stdout and stderr are read as one stream, as a node does.
 */
export function converse(
  worker: string,
  answer: (f: Frame, frames: Frame[]) => Answer,
  opts: { timeoutMs?: number; cwd?: string } = {},
): Promise<Conversation> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [worker], {
      stdio: ['pipe', 'pipe', 'pipe'],
      cwd: opts.cwd ?? os.tmpdir(),
    });
    const dec = new FrameDecoder();
    const result: Conversation = { frames: [], stray: '', parseError: null, code: null };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`worker conversation timed out; frames so far: ${JSON.stringify(result.frames)}`));
    }, opts.timeoutMs ?? 20_000);
    const onData = (chunk: Buffer) => {
      if (result.parseError) {
        result.stray += chunk.toString('utf8');
        return;
      }
      let frames: Frame[];
      try {
        frames = dec.push(chunk);
      } catch (e) {
        result.parseError = (e as Error).message;
        result.stray += dec.pending.toString('utf8');
        return;
      }
      for (const f of frames) {
        result.frames.push(f);
        const a = answer(f, result.frames);
        const frame = (r: { type: string; body: unknown }) =>
          `${r.type} ${Buffer.byteLength(JSON.stringify(r.body))} ${JSON.stringify(r.body)}\n`;
        if (a === 'close') child.stdin.end();
        else if (a && 'raw' in a) child.stdin.write(a.raw.map(frame).join(''));
        else if (a) child.stdin.write(frame(a));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.stdin.on('error', () => {});
    child.on('exit', (code) => {
      clearTimeout(timer);
      result.code = code;
      if (dec.pending.length > 0) result.stray += dec.pending.toString('utf8');
      resolve(result);
    });
  });
}

/** A fake node for one or more tasks: standard replies, `tasks` handed out in order. */
export function scriptedNode(
  tasks: TaskInfo[],
  inputs: (task: TaskInfo, frames: Frame[]) => [number, string[]][],
  hooks: { inputErr?: (body: unknown) => Answer } = {},
): (f: Frame, frames: Frame[]) => Answer {
  let next = 0;
  let current: TaskInfo | null = null;
  const entries = (frames: Frame[]) =>
    inputs(current as TaskInfo, frames).map(([iid, urls]) => [iid, 'ok', urls.map((u, rid) => [rid, u])]);
  return (f, frames) => {
    switch (f.type) {
      case 'WORKER':
      case 'MSG':
      case 'OUTPUT':
        return { type: 'OK', body: 'ok' };
      case 'TASK':
        if (next >= tasks.length) return 'close';
        current = tasks[next++];
        return { type: 'TASK', body: current };
      case 'INPUT': {
        const all = entries(frames);
        if (f.body === '') return { type: 'INPUT', body: ['done', all] };
        const ids = (f.body as [string, number[]])[1];
        return { type: 'INPUT', body: ['done', all.filter((e) => ids.includes(e[0] as number))] };
      }
      case 'INPUT_ERR':
        return hooks.inputErr ? hooks.inputErr(f.body) : { type: 'FAIL', body: '' };
      case 'DONE':
        return null;
      case 'ERROR':
      case 'FATAL':
        return 'close';
      default:
        return { type: 'FAIL', body: `unexpected ${f.type}` };
    }
  };
}

/**
 * Write `records` to a record file in `dir` (`RecordWriter` options as given) and read them
 * back from the file, as a task reads its inputs (a reader reusing its buffers).
 */
export function fileRoundTrip(
  dir: string,
  name: string,
  records: readonly KV[],
  opts: ConstructorParameters<typeof RecordWriter>[1],
): KV[] {
  const file = path.join(dir, name);
  const chunks: Buffer[] = [];
  const w = new RecordWriter((h) => chunks.push(h), opts);
  for (const [k, v] of records) w.write(k, v);
  w.close();
  writeFileSync(file, Buffer.concat(chunks));
  const src = new FileSource(file);
  try {
    return [...readRecords(src)];
  } finally {
    src.close();
  }
}
