/**
 * The job subcommands of `disco`: run, submit, wait, results, events, jobs, info, kill,
 * purge, clean, mapresults, jobdict, trace. Each takes the command line context and prints human
 * output by default, JSON with `--json`. Job names accept the `@` / `@?text` shortcuts.
 *
 * @example
 * await runCommand(ctx, 'examples/wordcount.ts', ['/data/text.txt'], { wait: true });
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { formatEvent } from '../client/event-monitor.js';
import type { JobInputSpec, JobOptions } from '../client/job-options.js';
import { schedulerDict } from '../client/job-options.js';
import { chromeTrace, type TimelineJson } from '../client/trace.js';
import { CommError, DiscoError } from '../common/errors.js';
import type { CliContext } from './context.js';
import { formatJobInfo, formatResultUrl, formatValue, toJson } from './format.js';
import { CliExit } from './io.js';
import { jobFromModule } from './run-module.js';

/** Read all of standard input. */
async function readStdin(): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of process.stdin) parts.push(b as Buffer);
  return Buffer.concat(parts);
}

/**
 * Inputs from arguments, else from standard input (one per line) when it is not a terminal.
 * A line or argument with several whitespace-separated URLs is one input with replicas,
 * except a `raw://` input, whose data may itself contain spaces.
 */
export async function readInputs(args: readonly string[]): Promise<JobInputSpec[]> {
  let lines: string[] = [...args];
  if (lines.length === 0 && !process.stdin.isTTY) lines = (await readStdin()).toString('utf8').split('\n');
  return lines
    .map((l) => (l.trim().startsWith('raw://') ? [l.trim()] : l.trim().split(/\s+/).filter(Boolean)))
    .filter((parts) => parts.length > 0)
    .map((parts) => (parts.length === 1 ? parts[0] : parts));
}

/**
 * A relative path to an existing local file becomes absolute: workers resolve plain paths
 * on their node, from the job home, where a relative path means nothing.
 */
export function absoluteIfLocal(input: string): string {
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(input) || path.isAbsolute(input)) return input;
  return existsSync(input) ? path.resolve(input) : input;
}

/** `key=value` → [key, value], the value parsed as JSON when it is JSON, else kept as text. */
export function parseAssignment(text: string): [string, unknown] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new CliExit(`expected key=value, got ${JSON.stringify(text)}`);
  const raw = text.slice(eq + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    // plain text
  }
  return [text.slice(0, eq), value];
}

export interface RunOptions {
  name?: string;
  param?: string[];
  scheduler?: string[];
  partitions?: string;
  sort?: boolean;
  save?: boolean;
  profile?: boolean;
  wait?: boolean;
  show?: string | boolean;
  /** Progress bar while waiting (on a terminal; `--no-progress` turns it off). */
  progress?: boolean;
}

/** `disco run <module[:Export]> [inputs...]`. */
export async function runCommand(
  ctx: CliContext,
  spec: string,
  inputArgs: readonly string[],
  o: RunOptions,
): Promise<void> {
  const { job, file } = await jobFromModule(spec, ctx.disco, { name: o.name });
  const args: Record<string, unknown> = { module: file };
  for (const p of o.param ?? []) {
    const [k, v] = parseAssignment(p);
    args[k] = v;
  }
  const inputs = (await readInputs(inputArgs)).map((i) =>
    typeof i === 'string' ? absoluteIfLocal(i) : i.map(absoluteIfLocal),
  );
  if (inputs.length > 0) args.input = inputs;
  if (o.partitions !== undefined) {
    const n = Number(o.partitions);
    if (!Number.isInteger(n) || n < 0) throw new CliExit(`--partitions must be a non-negative integer`);
    args.partitions = n;
  }
  if (o.sort) args.sort = true;
  if (o.save) args.save = true;
  if (o.profile) args.profile = true;
  if (o.scheduler?.length)
    args.scheduler = schedulerDict(Object.fromEntries(o.scheduler.map(parseAssignment)));
  await job.run(args as JobOptions);
  ctx.io.out(job.name);
  if (o.wait || o.show) {
    const results = await job.wait({
      show: o.show === true ? true : o.show || undefined,
      progress: o.progress !== false,
    });
    for (const r of results) ctx.io.out(formatResultUrl(r));
  }
}

/** `disco submit [file]`: a job pack from a file or standard input. */
export async function submitCommand(ctx: CliContext, file: string | undefined): Promise<void> {
  const pack = file && file !== '-' ? readFileSync(file) : await readStdin();
  ctx.io.out(await ctx.disco.submit(pack));
}

/** `disco wait <job>`: wait, then print the result URLs. */
export async function waitCommand(
  ctx: CliContext,
  ref: string,
  o: { show?: string | boolean; timeout?: string; json?: boolean; progress?: boolean },
): Promise<void> {
  const name = await ctx.jobName(ref);
  const timeout = o.timeout === undefined ? undefined : Number(o.timeout) * 1000;
  const results = await ctx.disco.wait(name, {
    show: o.show === true ? true : o.show || undefined,
    timeout,
    progress: o.progress !== false,
  });
  if (o.json) ctx.io.out(toJson(results));
  else for (const r of results) ctx.io.out(formatResultUrl(r));
}

/** `disco results <job>`: the records of a finished job (`--urls`: just the result URLs). */
export async function resultsCommand(
  ctx: CliContext,
  ref: string,
  o: { json?: boolean; urls?: boolean },
): Promise<void> {
  const name = await ctx.jobName(ref);
  const [status, results] = await ctx.disco.results(name, { timeout: 0 });
  if (status === 'unknown job') throw new CliExit(`unknown job ${name}`);
  if (status !== 'ready')
    throw new CliExit(`job ${name} is ${status}${status === 'active' ? ' (disco wait waits for it)' : ''}`);
  if (o.urls) {
    if (o.json) ctx.io.out(toJson(results));
    else for (const r of results) ctx.io.out(formatResultUrl(r));
    return;
  }
  for await (const [k, v] of ctx.disco.resultIterator(results)) {
    ctx.io.out(o.json ? toJson([k, v]) : `${formatValue(k)}\t${formatValue(v)}`);
  }
}

/** `disco events <job>`: the job's events (`--follow` until it ends). */
export async function eventsCommand(
  ctx: CliContext,
  ref: string,
  o: { follow?: boolean; offset?: string; json?: boolean },
): Promise<void> {
  const name = await ctx.jobName(ref);
  const offset = o.offset === undefined ? 0 : Number(o.offset);
  if (!Number.isInteger(offset) || offset < 0) throw new CliExit('--offset must be a non-negative integer');
  for await (const ev of ctx.disco.events(name, { offset, follow: o.follow })) {
    ctx.io.out(formatEvent(ev, o.json ? 'json' : 'nocolor'));
  }
}

/** `disco jobs`: job names, newest first (`-S`: with status). */
export async function jobsCommand(ctx: CliContext, o: { status?: boolean; json?: boolean }): Promise<void> {
  const jobs = await ctx.disco.joblist();
  if (o.json) {
    ctx.io.out(toJson(jobs.map(([start, status, name]) => ({ name, status, start }))));
    return;
  }
  for (const [, status, name] of jobs) ctx.io.out(o.status ? `${name}\t${status}` : name);
}

/** `disco info <job>`. */
export async function infoCommand(ctx: CliContext, ref: string, o: { json?: boolean }): Promise<void> {
  const name = await ctx.jobName(ref);
  let info: Awaited<ReturnType<typeof ctx.disco.jobinfo>>;
  try {
    info = await ctx.disco.jobinfo(name);
  } catch (e) {
    if (e instanceof CommError && e.status === 404) throw new CliExit(`unknown job ${name}`);
    throw e;
  }
  ctx.io.out(o.json ? toJson(info) : formatJobInfo(name, info));
}

/** `disco kill|purge|clean <jobs...>`. */
export async function jobActionCommand(
  ctx: CliContext,
  action: 'kill' | 'purge' | 'clean',
  refs: readonly string[],
): Promise<void> {
  if (refs.length === 0) throw new DiscoError('name at least one job');
  for (const ref of refs) {
    const name = await ctx.jobName(ref);
    await ctx.disco[action](name);
  }
}

/** `disco mapresults <job>`. */
export async function mapresultsCommand(ctx: CliContext, ref: string, o: { json?: boolean }): Promise<void> {
  const name = await ctx.jobName(ref);
  let results: string[];
  try {
    results = await ctx.disco.mapresults(name);
  } catch (e) {
    if (e instanceof CommError && e.status === 404)
      throw new CliExit(`no map results for ${name} (unknown job, or its map phase has not finished)`);
    throw e;
  }
  if (o.json) ctx.io.out(toJson(results));
  else for (const r of results) ctx.io.out(formatResultUrl(r));
}

/** `disco jobdict <job>`: the jobdict the job was submitted with. */
export async function jobdictCommand(ctx: CliContext, ref: string, o: { json?: boolean }): Promise<void> {
  const name = await ctx.jobName(ref);
  const pack = await ctx.disco.jobpack(name);
  if (o.json) {
    ctx.io.out(toJson(pack.jobdict));
    return;
  }
  ctx.io.out(name);
  for (const [k, v] of Object.entries(pack.jobdict)) ctx.io.out(`\t${k}\t${formatValue(v)}`);
}

/** `disco trace <job> [-o file]`: the job's task attempts as a Chrome trace JSON file. */
export async function traceCommand(ctx: CliContext, ref: string, o: { output?: string }): Promise<void> {
  const name = await ctx.jobName(ref);
  let timeline: TimelineJson;
  try {
    const res = await ctx.disco.request(`/disco/api/v1/jobs/${encodeURIComponent(name)}/timeline`);
    timeline = JSON.parse(res.body.toString('utf8')) as TimelineJson;
  } catch (e) {
    if (e instanceof CommError && e.status === 404) throw new CliExit(`unknown job ${name}`);
    throw e;
  }
  const trace = JSON.stringify(chromeTrace(name, timeline));
  const file = o.output ?? `${name.replace(/[^A-Za-z0-9_.-]/g, '_')}.trace.json`;
  if (file === '-') {
    ctx.io.out(trace);
    return;
  }
  writeFileSync(file, trace);
  ctx.io.err(
    `${file}: ${timeline.bars.length} task attempts on ${timeline.nodes.length} nodes (open it in chrome://tracing or https://ui.perfetto.dev)`,
  );
}

/** `disco oob list <job>` (and the original's `disco oob <job>`): the job's OOB keys. */
export async function oobListCommand(ctx: CliContext, ref: string, o: { json?: boolean }): Promise<void> {
  const name = await ctx.jobName(ref);
  const keys = await ctx.disco.oobList(name);
  if (o.json) ctx.io.out(toJson(keys));
  else for (const k of keys) ctx.io.out(k);
}

/** `disco oob get <key> <job> [-o file]`: an OOB value, as text or into a file (bytes as they are). */
export async function oobGetCommand(
  ctx: CliContext,
  key: string,
  ref: string,
  o: { output?: string },
): Promise<void> {
  const name = await ctx.jobName(ref);
  const value = await ctx.disco.oobGet(name, key);
  if (o.output && o.output !== '-') writeFileSync(o.output, value);
  else ctx.io.out(value.toString('utf8'));
}

/**
 * `disco pstats <job> [--mode map|reduce] [-k sort] [-n rows] [-o file.cpuprofile]`: the job's
 * task profiles as one table (the original's `disco pstats`), optionally saved as a profile
 * Chrome DevTools opens.
 */
export async function pstatsCommand(
  ctx: CliContext,
  ref: string,
  o: { mode?: string; sortStats?: string; limit?: string; output?: string; filter?: string },
): Promise<void> {
  const name = await ctx.jobName(ref);
  const mode = o.mode ?? '';
  if (mode !== '' && mode !== 'map' && mode !== 'reduce')
    throw new CliExit(`--mode must be map or reduce, got ${JSON.stringify(mode)}`);
  const { parseSortKey } = await import('../client/profile-stats.js');
  let sortBy: ReturnType<typeof parseSortKey>;
  try {
    sortBy = parseSortKey(o.sortStats ?? 'cumulative');
  } catch (e) {
    throw new CliExit(`-k: ${(e as Error).message}`);
  }
  let limit: number | undefined;
  if (o.limit !== undefined) {
    limit = Number(o.limit);
    if (!Number.isInteger(limit) || limit < 0) throw new CliExit('--limit must be a non-negative integer');
  }
  const stats = await ctx.disco.profileStats(name, {
    mode: mode as 'map' | 'reduce' | '',
    sortBy,
    limit,
    save: o.output,
  });
  ctx.io.out(stats.toString({ filter: o.filter }).trimEnd());
  if (o.output) ctx.io.err(`${o.output}: merged profile (open it in Chrome DevTools, Performance panel)`);
}
