/**
 * The cluster configuration (wire spec §4.2): the host table `[[hostspec, cores], ...]`, the
 * manual blacklist, the GC blacklist and the master's persisted settings, stored as JSON in
 * `DISCO_MASTER_CONFIG`: `{"hosts":[...],"blacklist":[...],"gc_blacklist":[...],"settings":{...}}`.
 * The original's old format (a bare host table) is still read.
 *
 * Concurrency: one {@link ClusterConfig} object per master owns the file; every change is
 * written atomically before listeners are told.
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { z } from 'zod';
import { writeFileAtomic } from '../../common/fs-atomic.js';
import { expandHostSpec, HostSpecError } from './host-ranges.js';

/** One config-table row as the client sends it: `[hostspec, cores]`, both strings. */
export type ConfigRow = [string, string];

/** A configured host after range expansion. */
export interface ConfiguredHost {
  name: string;
  cores: number;
}

/** Default `max_failure_rate` (`config.hrl` `TASK_MAX_FAILURES`). */
export const DEFAULT_MAX_FAILURE_RATE = 10_000_000;

const RowSchema = z.tuple([z.string(), z.union([z.string(), z.number().int()])]);
const FileSchema = z.union([
  z.array(RowSchema),
  z
    .object({
      hosts: z.array(RowSchema).default([]),
      blacklist: z.array(z.string()).default([]),
      gc_blacklist: z.array(z.string()).default([]),
      settings: z
        .object({ max_failure_rate: z.number().int().positive().optional() })
        .passthrough()
        .default({}),
    })
    .passthrough(),
]);

/** Result of validating a table: the rows to store and the expanded hosts, or the error text. */
export type TableCheck =
  | { ok: true; rows: ConfigRow[]; hosts: ConfiguredHost[] }
  | { ok: false; error: string };

/**
 * Validate a config table (the body of `save_config_table`). Errors are the original's
 * texts: `duplicate nodes` or `invalid config` (the latter with the reason appended).
 */
export function checkConfigTable(json: unknown): TableCheck {
  if (!Array.isArray(json))
    return { ok: false, error: 'invalid config: a list of [host, cores] rows expected' };
  const rows: ConfigRow[] = [];
  const hosts: ConfiguredHost[] = [];
  for (const row of json) {
    const r = RowSchema.safeParse(row);
    if (!r.success)
      return { ok: false, error: `invalid config: row ${JSON.stringify(row)} is not [host, cores]` };
    const spec = r.data[0].trim();
    const coresText = String(r.data[1]).trim();
    if (!/^\d+$/.test(coresText))
      return {
        ok: false,
        error: `invalid config: cores ${JSON.stringify(coresText)} of ${spec} is not a number`,
      };
    const cores = Number.parseInt(coresText, 10);
    let names: string[];
    try {
      names = expandHostSpec(spec);
    } catch (e) {
      if (e instanceof HostSpecError) return { ok: false, error: `invalid config: ${e.message}` };
      throw e;
    }
    rows.push([r.data[0], String(r.data[1])]);
    for (const name of names) hosts.push({ name, cores });
  }
  const seen = new Set<string>();
  for (const h of hosts) {
    if (seen.has(h.name)) return { ok: false, error: 'duplicate nodes' };
    seen.add(h.name);
  }
  return { ok: true, rows, hosts };
}

/** Persisted contents of the config file. */
export interface ConfigData {
  rows: ConfigRow[];
  blacklist: string[];
  gcBlacklist: string[];
  maxFailureRate: number;
}

/** Row used when no config file exists: the master's own host with one slot per CPU. */
export function defaultConfigRows(masterHost: string): ConfigRow[] {
  return [[masterHost, String(Math.max(1, os.cpus().length))]];
}

/** Read the config file; a missing file gives the default table, a corrupt one throws. */
export async function readConfigFile(file: string, masterHost: string): Promise<ConfigData> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      return {
        rows: defaultConfigRows(masterHost),
        blacklist: [],
        gcBlacklist: [],
        maxFailureRate: DEFAULT_MAX_FAILURE_RATE,
      };
    throw e;
  }
  const parsed = FileSchema.safeParse(JSON.parse(text));
  if (!parsed.success)
    throw new Error(`${file}: not a Disco config file: ${parsed.error.issues[0]?.message}`);
  const d = parsed.data;
  const rawRows = Array.isArray(d) ? d : d.hosts;
  const check = checkConfigTable(rawRows);
  if (!check.ok) throw new Error(`${file}: ${check.error}`);
  if (Array.isArray(d))
    return { rows: check.rows, blacklist: [], gcBlacklist: [], maxFailureRate: DEFAULT_MAX_FAILURE_RATE };
  return {
    rows: check.rows,
    blacklist: d.blacklist,
    gcBlacklist: d.gc_blacklist,
    maxFailureRate: d.settings.max_failure_rate ?? DEFAULT_MAX_FAILURE_RATE,
  };
}

/** Change notification: which part of the config changed. */
export type ConfigChange = 'hosts' | 'blacklist' | 'gc_blacklist' | 'settings';

/** The live configuration of one master; every mutation is persisted before it is visible. */
export class ClusterConfig {
  private data: ConfigData;
  private hostList: ConfiguredHost[];
  private readonly listeners: ((change: ConfigChange) => void)[] = [];
  /** Serializes file writes so they land in mutation order. */
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly file: string,
    data: ConfigData,
  ) {
    this.data = data;
    const check = checkConfigTable(data.rows);
    this.hostList = check.ok ? check.hosts : [];
    this.pruneLists();
  }

  /** Load `file` (or the default table for `masterHost` if it does not exist). */
  static async load(file: string, masterHost: string): Promise<ClusterConfig> {
    return new ClusterConfig(file, await readConfigFile(file, masterHost));
  }

  onChange(fn: (change: ConfigChange) => void): void {
    this.listeners.push(fn);
  }

  /** The raw table (`load_config_table`). */
  rows(): ConfigRow[] {
    return this.data.rows.map(([h, c]) => [h, c]);
  }

  /** Expanded hosts in table order. */
  hosts(): ConfiguredHost[] {
    return this.hostList;
  }

  host(name: string): ConfiguredHost | undefined {
    return this.hostList.find((h) => h.name === name);
  }

  blacklist(): string[] {
    return [...this.data.blacklist];
  }

  gcBlacklist(): string[] {
    return [...this.data.gcBlacklist];
  }

  isBlacklisted(name: string): boolean {
    return this.data.blacklist.includes(name);
  }

  maxFailureRate(): number {
    return this.data.maxFailureRate;
  }

  /** Replace the table; returns the error text (`duplicate nodes`, `invalid config: ...`) or null. */
  async saveTable(json: unknown): Promise<string | null> {
    const check = checkConfigTable(json);
    if (!check.ok) return check.error;
    this.data = { ...this.data, rows: check.rows };
    this.hostList = check.hosts;
    this.pruneLists();
    await this.persist('hosts');
    return null;
  }

  /** Add a configured host to the manual blacklist (unknown hosts are ignored, as in the original). */
  async setBlacklisted(name: string, on: boolean): Promise<void> {
    this.data = { ...this.data, blacklist: toggle(this.data.blacklist, name, on) };
    this.pruneLists();
    await this.persist('blacklist');
  }

  async setGcBlacklisted(name: string, on: boolean): Promise<void> {
    this.data = { ...this.data, gcBlacklist: toggle(this.data.gcBlacklist, name, on) };
    this.pruneLists();
    await this.persist('gc_blacklist');
  }

  async setMaxFailureRate(n: number): Promise<void> {
    this.data = { ...this.data, maxFailureRate: n };
    await this.persist('settings');
  }

  /** Blacklists only name configured hosts (`make_blacklist/2`). */
  private pruneLists(): void {
    const known = new Set(this.hostList.map((h) => h.name));
    const prune = (l: string[]) => [...new Set(l.filter((h) => known.has(h)))].sort();
    this.data = {
      ...this.data,
      blacklist: prune(this.data.blacklist),
      gcBlacklist: prune(this.data.gcBlacklist),
    };
  }

  private async persist(change: ConfigChange): Promise<void> {
    const body = JSON.stringify({
      hosts: this.data.rows,
      blacklist: this.data.blacklist,
      gc_blacklist: this.data.gcBlacklist,
      settings: { max_failure_rate: this.data.maxFailureRate },
    });
    const write = this.writing.then(() => writeFileAtomic(this.file, body));
    this.writing = write.catch(() => {});
    await write;
    for (const fn of this.listeners) fn(change);
  }
}

function toggle(list: string[], name: string, on: boolean): string[] {
  const rest = list.filter((h) => h !== name);
  return on ? [...rest, name] : rest;
}
