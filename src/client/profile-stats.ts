/**
 * Task profiles of a job (`profile: true`), merged into one table of functions — the
 * original's `pstats.Stats` for Disco's cProfile output. Each task stores a V8 CPU profile
 * (Chrome DevTools `.cpuprofile` JSON: a call tree of `nodes` and a time series of sampled
 * node ids); this module is pure computation on those:
 *
 * - {@link functionStats}: per function, the samples and the *self* time (it was running)
 *   and *total* time (it was on the stack; the original's cumulative time), summed over
 *   profiles. A sample lasts until the next one (the last until the profile's end), as in
 *   DevTools. A recursive function counts once per sample in its total time.
 * - {@link mergeProfiles}: one profile whose call tree is the union of the trees (equal
 *   call paths merged) and whose samples are the profiles' samples back to back — a file
 *   DevTools (Performance panel, "Load profile") opens as one recording.
 * - {@link ProfileStats}: the table, sortable and printable like `print_stats()`.
 *
 * Functions are identified by name, script URL, line and column (not script ids, which
 * differ between worker processes), so the same function in many tasks is one row.
 *
 * @example
 * const stats = new ProfileStats([parseCpuProfile(JSON.parse(text))]);
 * stats.sort('self').print({ limit: 20 });
 */
import path from 'node:path';
import { z } from 'zod';

const CallFrameSchema = z.object({
  functionName: z.string(),
  scriptId: z.union([z.string(), z.number()]),
  url: z.string(),
  lineNumber: z.number(),
  columnNumber: z.number(),
});

const ProfileNodeSchema = z.object({
  id: z.number().int(),
  callFrame: CallFrameSchema,
  hitCount: z.number().optional(),
  children: z.array(z.number().int()).optional(),
  positionTicks: z.array(z.object({ line: z.number(), ticks: z.number() })).optional(),
});

/** A V8 CPU profile (`Profiler.Profile` of the DevTools protocol; a `.cpuprofile` file). */
export const CpuProfileSchema = z.object({
  nodes: z.array(ProfileNodeSchema).min(1),
  /** Microseconds. */
  startTime: z.number(),
  endTime: z.number(),
  samples: z.array(z.number().int()).optional(),
  /** Microseconds between samples; the first is from `startTime`. */
  timeDeltas: z.array(z.number()).optional(),
});
export type CpuProfile = z.infer<typeof CpuProfileSchema>;
export type CpuProfileNode = CpuProfile['nodes'][number];
export type CallFrame = CpuProfileNode['callFrame'];

/**
 * Check that `json` is a CPU profile whose samples name its nodes; `source` names it in errors.
 *
 * @example
 * const p = parseCpuProfile(JSON.parse(readFileSync('task.cpuprofile', 'utf8')), 'task.cpuprofile');
 */
export function parseCpuProfile(json: unknown, source = 'profile'): CpuProfile {
  const r = CpuProfileSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new TypeError(
      `${source} is not a V8 CPU profile: ${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
  }
  const p = r.data;
  const ids = new Set(p.nodes.map((n) => n.id));
  for (const s of p.samples ?? [])
    if (!ids.has(s)) throw new TypeError(`${source} is not a V8 CPU profile: sample of unknown node ${s}`);
  if ((p.samples?.length ?? 0) !== (p.timeDeltas?.length ?? 0))
    throw new TypeError(`${source} is not a V8 CPU profile: samples and timeDeltas differ in length`);
  return p;
}

/** One row of the table. Times in milliseconds. */
export interface FunctionStat {
  /** Function name (`(anonymous)` when it has none; V8's `(program)`, `(garbage collector)`, …). */
  name: string;
  /** Script URL (empty for V8's own entries and for evaluated job function sources). */
  url: string;
  /** 1-based line and column (0 when unknown). */
  line: number;
  column: number;
  /** Samples taken while this function was running. */
  samples: number;
  /** Time it was running. */
  selfMs: number;
  /** Time it was on the stack (running, or calling something that was). */
  totalMs: number;
}

/** How a table is sorted: by total (cumulative) time, or by self time. */
export type ProfileSortKey = 'cumulative' | 'self';

/** Sort-key spellings accepted from users (pstats' names included). */
const SORT_ALIASES: Record<string, ProfileSortKey> = {
  cumulative: 'cumulative',
  cumtime: 'cumulative',
  cum: 'cumulative',
  total: 'cumulative',
  self: 'self',
  time: 'self',
  tottime: 'self',
};

/**
 * The sort key a user named (`cumulative`/`cumtime`/`total`, `self`/`time`/`tottime`).
 *
 * @example
 * parseSortKey('tottime'); // 'self'
 */
export function parseSortKey(text: string): ProfileSortKey {
  const k = SORT_ALIASES[text.trim().toLowerCase()];
  if (!k) throw new TypeError(`unknown sort key ${JSON.stringify(text)}: use cumulative or self`);
  return k;
}

function frameKey(f: CallFrame): string {
  return `${f.functionName}\u0000${f.url}\u0000${f.lineNumber}\u0000${f.columnNumber}`;
}

/** Duration of each sample (µs): until the next sample, the last one until the end. */
function sampleDurations(p: CpuProfile): number[] {
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  const times: number[] = new Array(samples.length);
  let t = p.startTime;
  for (let i = 0; i < samples.length; i++) {
    t += deltas[i];
    times[i] = t;
  }
  const out: number[] = new Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const next = i + 1 < samples.length ? times[i + 1] : Math.max(p.endTime, times[i]);
    out[i] = Math.max(0, next - times[i]);
  }
  return out;
}

const ROOT = '(root)';

/**
 * Per-function samples, self and total time over `profiles` (see module docs), unsorted.
 * V8's `(root)` node is left out: it is always on the stack.
 *
 * @example
 * functionStats([profile]).find((f) => f.name === 'slowSquare')?.selfMs;
 */
export function functionStats(profiles: readonly CpuProfile[]): FunctionStat[] {
  const rows = new Map<string, FunctionStat>();
  const rowOf = (f: CallFrame): FunctionStat => {
    const key = frameKey(f);
    let r = rows.get(key);
    if (!r) {
      r = {
        name: f.functionName || '(anonymous)',
        url: f.url,
        line: f.lineNumber >= 0 ? f.lineNumber + 1 : 0,
        column: f.columnNumber >= 0 ? f.columnNumber + 1 : 0,
        samples: 0,
        selfMs: 0,
        totalMs: 0,
      };
      rows.set(key, r);
    }
    return r;
  };
  for (const p of profiles) {
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    // Time and samples per node first, then each node's time goes to the functions on its path.
    const time = new Map<number, number>();
    const count = new Map<number, number>();
    const durations = sampleDurations(p);
    (p.samples ?? []).forEach((id, i) => {
      time.set(id, (time.get(id) ?? 0) + durations[i]);
      count.set(id, (count.get(id) ?? 0) + 1);
    });
    for (const [id, us] of time) {
      const node = byId.get(id)!;
      if (node.callFrame.functionName === ROOT && !parent.has(id)) continue;
      const self = rowOf(node.callFrame);
      self.selfMs += us / 1000;
      self.samples += count.get(id) ?? 0;
      const seen = new Set<FunctionStat>();
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const n = byId.get(at)!;
        if (n.callFrame.functionName === ROOT && !parent.has(at)) break;
        const r = rowOf(n.callFrame);
        if (seen.has(r)) continue;
        seen.add(r);
        r.totalMs += us / 1000;
      }
    }
  }
  return [...rows.values()];
}

/**
 * One profile from many (see module docs): equal call paths become one node (hit counts
 * added), samples follow each other in the given order with each profile's own spacing.
 *
 * @example
 * writeFileSync('job.cpuprofile', JSON.stringify(mergeProfiles(profiles)));
 */
export function mergeProfiles(profiles: readonly CpuProfile[]): CpuProfile {
  if (profiles.length === 0) throw new TypeError('no profiles to merge');
  const nodes: CpuProfileNode[] = [];
  const childIndex = new Map<number, Map<string, number>>();
  const add = (parentId: number | null, frame: CallFrame, hits: number): number => {
    const key = frameKey(frame);
    const siblings = parentId === null ? null : childIndex.get(parentId)!;
    const found = siblings ? siblings.get(key) : nodes.length > 0 ? 1 : undefined;
    if (found !== undefined) {
      const n = nodes[found - 1];
      n.hitCount = (n.hitCount ?? 0) + hits;
      return found;
    }
    const id = nodes.length + 1;
    nodes.push({ id, callFrame: { ...frame }, hitCount: hits, children: [] });
    childIndex.set(id, new Map());
    if (parentId !== null) {
      siblings!.set(key, id);
      nodes[parentId - 1].children!.push(id);
    }
    return id;
  };

  const samples: number[] = [];
  const timeDeltas: number[] = [];
  const startTime = profiles[0].startTime;
  let gap = 0;
  for (const p of profiles) {
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const children = new Set(p.nodes.flatMap((n) => n.children ?? []));
    const roots = p.nodes.filter((n) => !children.has(n.id));
    const mapped = new Map<number, number>();
    // Iterative walk: profiles of deep recursion must not overflow the stack here.
    const stack: [number, number | null][] = roots.map((r) => [r.id, null]);
    while (stack.length > 0) {
      const [id, parentMerged] = stack.pop()!;
      const n = byId.get(id);
      if (!n || mapped.has(id)) continue;
      const m = add(parentMerged, n.callFrame, n.hitCount ?? 0);
      mapped.set(id, m);
      for (const c of n.children ?? []) stack.push([c, m]);
    }
    const deltas = p.timeDeltas ?? [];
    let last = p.startTime;
    (p.samples ?? []).forEach((s, i) => {
      samples.push(mapped.get(s)!);
      timeDeltas.push(i === 0 ? gap + deltas[0] : deltas[i]);
      last += deltas[i];
    });
    // What is left of this profile after its last sample comes before the next one's first.
    gap = (p.samples?.length ? 0 : gap) + Math.max(0, p.endTime - last);
  }
  const sampled = timeDeltas.reduce((a, b) => a + b, 0);
  return { nodes, startTime, endTime: startTime + sampled + gap, samples, timeDeltas };
}

/** Options of {@link ProfileStats.print} and {@link ProfileStats.toString}. */
export interface PrintOptions {
  /** Rows to show (default: the `limit` given to the constructor, else all). */
  limit?: number;
  /** Only functions whose `name (file:line)` matches (a string: case-insensitive substring). */
  filter?: string | RegExp;
}

function fmt(n: number, digits: number, width: number): string {
  return n.toFixed(digits).padStart(width);
}

function shortLocation(f: FunctionStat): string {
  if (!f.url) return f.line > 0 ? `<job function>:${f.line}` : '';
  // Like pstats' strip_dirs(): the file name is enough to find a function.
  const file = f.url.startsWith('file://') ? path.basename(new URL(f.url).pathname) : f.url;
  return `${file}:${f.line}`;
}

/**
 * Profiles of a job merged into a table of functions (the original's `pstats.Stats`).
 *
 * @example
 * const stats = await disco.profileStats(job.name, { mode: 'map' });
 * stats.sort('self').print({ limit: 10 });
 * stats.functions[0]; // { name: 'map', selfMs: 12.5, totalMs: 340.1, ... }
 */
export class ProfileStats {
  /** The table, in the current sort order. */
  readonly functions: FunctionStat[];
  /** How the table is sorted. */
  sortKey: ProfileSortKey;
  /** Sampled time over all profiles, ms. */
  readonly totalMs: number;
  /** Samples over all profiles. */
  readonly samples: number;
  /** Where the profiles came from (OOB keys), in merge order. */
  readonly sources: readonly string[];
  #merged: CpuProfile | null = null;

  /**
   * @param profiles parsed task profiles
   * @param opts `sortBy` (default cumulative), `limit` (rows printed by default), `sources`
   */
  constructor(
    readonly profiles: readonly CpuProfile[],
    private readonly opts: { sortBy?: ProfileSortKey; limit?: number; sources?: readonly string[] } = {},
  ) {
    this.functions = functionStats(profiles);
    let total = 0;
    let samples = 0;
    for (const p of profiles) {
      for (const d of sampleDurations(p)) total += d;
      samples += p.samples?.length ?? 0;
    }
    this.totalMs = total / 1000;
    this.samples = samples;
    this.sources = opts.sources ?? [];
    this.sortKey = opts.sortBy ?? 'cumulative';
    this.sort(this.sortKey);
  }

  /** Sort the table (ties: the other time, then name); returns this. */
  sort(by: ProfileSortKey): this {
    this.sortKey = by;
    const [a, b] = by === 'self' ? (['selfMs', 'totalMs'] as const) : (['totalMs', 'selfMs'] as const);
    this.functions.sort(
      (x, y) => y[a] - x[a] || y[b] - x[b] || (x.name < y.name ? -1 : x.name > y.name ? 1 : 0),
    );
    return this;
  }

  /** The profiles as one `.cpuprofile` object (see {@link mergeProfiles}). */
  merged(): CpuProfile {
    this.#merged ??= mergeProfiles(this.profiles);
    return this.#merged;
  }

  /** The table as text, like pstats' `print_stats()`. */
  toString(opts: PrintOptions = {}): string {
    const filter =
      typeof opts.filter === 'string'
        ? (s: string) => s.toLowerCase().includes((opts.filter as string).toLowerCase())
        : opts.filter instanceof RegExp
          ? (s: string) => (opts.filter as RegExp).test(s)
          : () => true;
    const label = (f: FunctionStat) => {
      const loc = shortLocation(f);
      return loc ? `${f.name} (${loc})` : f.name;
    };
    const rows = this.functions.filter((f) => filter(label(f)));
    const limit = opts.limit ?? this.opts.limit ?? rows.length;
    const shown = rows.slice(0, Math.max(0, limit));
    const pct = (ms: number) => (this.totalMs > 0 ? (100 * ms) / this.totalMs : 0);
    const lines = [
      `${this.samples} samples in ${(this.totalMs / 1000).toFixed(3)} s from ${this.profiles.length} task profile${this.profiles.length === 1 ? '' : 's'}`,
      `Ordered by: ${this.sortKey === 'self' ? 'self time' : 'cumulative time'}${shown.length < rows.length ? `; ${shown.length} of ${rows.length} functions shown` : ''}`,
      '',
      '  samples    self ms   self%   total ms  total%  function (file:line)',
    ];
    for (const f of shown) {
      lines.push(
        `${String(f.samples).padStart(9)} ${fmt(f.selfMs, 1, 10)} ${fmt(pct(f.selfMs), 1, 6)}% ${fmt(f.totalMs, 1, 10)} ${fmt(pct(f.totalMs), 1, 6)}%  ${label(f)}`,
      );
    }
    return `${lines.join('\n')}\n`;
  }

  /** Print the table (default: to standard output); returns this. */
  print(opts: PrintOptions & { out?: (text: string) => void } = {}): this {
    const text = this.toString(opts);
    if (opts.out) opts.out(text);
    else process.stdout.write(text);
    return this;
  }
}
