/**
 * A custom worker — a new kind of worker built by extending `Worker`, with no job functions
 * and no protocol code (docs/custom-workers.md). `LineStats` counts the lines and words of
 * each input in a map task, and a single reduce task adds them up. It shows every hook:
 *
 * - `jobDict`: a map phase and one reduce task, and a field of its own (`line_stats`), which
 *   the master keeps (`disco jobdict <job>` shows it) and the tasks read back;
 * - `jobEnvs`: the pattern of a word, as an environment variable of the worker processes
 *   (a job's own `jobenvs` option overrides it);
 * - `jobHome`: the stop words, shipped as a file of the job home;
 * - fields (`foldCase`) travel to the nodes; `#private` fields stay on the client;
 * - `run(task, io)`: reads entries with `io.read`, writes records with `io.output().add`.
 *
 * Submit it to a running cluster:
 *
 *     disco run examples/custom-worker.ts:LineStatsJob examples/data/sample.txt --wait
 *     disco results @?LineStatsJob
 *
 * or call `main` from code (as the end-to-end tests do).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  type Disco,
  Job,
  type TaskIO,
  Worker,
  type WorkerHomeFile,
  type WorkerJob,
  type WorkerJobDict,
  type WorkerTask,
} from '../src/index.js';

/** What `LineStats` reports per input and in total. */
export interface LineStatsRecord {
  lines: number;
  /** Words, not counting stop words. */
  words: number;
  /** Length of the longest line, in characters. */
  longest: number;
}

/** The version of the `line_stats` job dict field this worker writes and reads. */
const FORMAT = 1;
/** Where the stop words go in the job home. */
const STOPWORDS_FILE = 'lib/stopwords.txt';

export class LineStats extends Worker {
  /** The class travels as an export of this module. */
  static module = import.meta.url;

  /** Match stop words without regard to case (a field: it travels to the nodes). */
  foldCase = true;
  /** Client-only (a `#private` field does not travel): shipped as a job home file instead. */
  readonly #stopwords: readonly string[];

  /** On the nodes the class is created without arguments, then given its fields. */
  constructor(opts: { foldCase?: boolean; stopwords?: readonly string[] } = {}) {
    super();
    if (opts.foldCase !== undefined) this.foldCase = opts.foldCase;
    this.#stopwords = opts.stopwords ?? [];
  }

  override jobDict(job: WorkerJob): WorkerJobDict {
    return {
      'map?': true,
      'reduce?': true,
      nr_reduces: 1,
      line_stats: { format: FORMAT, inputs: job.input.length },
    };
  }

  override jobEnvs(): Record<string, string> {
    return { LINE_STATS_WORD: "[\\p{L}\\p{N}']+" };
  }

  override jobHome(): WorkerHomeFile[] {
    return [{ name: STOPWORDS_FILE, data: this.#stopwords.join('\n') }];
  }

  override run(task: WorkerTask, io: TaskIO): void {
    const field = task.jobDict.line_stats as { format?: number } | undefined;
    if (field?.format !== FORMAT)
      io.err(`LineStats: this job was built for format ${field?.format}, not ${FORMAT}`);
    if (task.mode === 'map') this.map(task, io);
    else this.reduce(io);
  }

  /** One record per input: `[taskId, stats]`. */
  private map(task: WorkerTask, io: TaskIO): void {
    const word = new RegExp(process.env.LINE_STATS_WORD || '\\S+', 'gu');
    const fold = (w: string) => (this.foldCase ? w.toLowerCase() : w);
    // The job home is the working directory.
    const stop = new Set(readFileSync(STOPWORDS_FILE, 'utf8').split('\n').filter(Boolean).map(fold));
    const stats: LineStatsRecord = { lines: 0, words: 0, longest: 0 };
    for (const entry of io.read()) {
      const line = String(entry);
      stats.lines++;
      stats.longest = Math.max(stats.longest, [...line].length);
      for (const [w] of line.matchAll(word)) if (!stop.has(fold(w))) stats.words++;
    }
    io.output().add(task.taskId, stats);
    io.msg(`input ${task.taskId}: ${stats.lines} lines, ${stats.words} words`);
  }

  /** The map records in input order, then `['total', stats]`. */
  private reduce(io: TaskIO): void {
    const per = [...io.read()] as [number, LineStatsRecord][];
    per.sort((a, b) => a[0] - b[0]);
    const total: LineStatsRecord = { lines: 0, words: 0, longest: 0 };
    const out = io.output();
    for (const [id, s] of per) {
      out.add(id, s);
      total.lines += s.lines;
      total.words += s.words;
      total.longest = Math.max(total.longest, s.longest);
    }
    out.add('total', total);
  }
}

/** A few English stop words. */
export const STOPWORDS: readonly string[] = ['a', 'an', 'and', 'of', 'the', 'to'];

/** A job run by `LineStats`, with English stop words (what `disco run …:LineStatsJob` submits). */
export class LineStatsJob extends Job {
  static worker = new LineStats({ stopwords: STOPWORDS });
}

/** The sample text shipped with the examples. */
export const SAMPLE_TEXT = path.join(import.meta.dirname, 'data', 'sample.txt');

/** Count the lines and words of `inputs` (default: the sample text); print and return the records. */
export async function main(
  inputs: string[] = [],
  opts: { master?: string | Disco; out?: (line: string) => void } = {},
): Promise<[number | 'total', LineStatsRecord][]> {
  const out = opts.out ?? console.log;
  const input = (inputs.length > 0 ? inputs : [SAMPLE_TEXT]).map((i) =>
    /^\w+:\/\//.test(i) ? i : path.resolve(i),
  );
  const job = await new LineStatsJob({ master: opts.master }).run({ input });
  const records: [number | 'total', LineStatsRecord][] = [];
  for await (const kv of job.resultIterator<number | 'total', LineStatsRecord>(await job.wait())) {
    records.push(kv);
  }
  out(job.name);
  for (const [k, s] of records) out(`${k}\t${s.lines} lines\t${s.words} words\tlongest ${s.longest}`);
  return records;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  });
}
