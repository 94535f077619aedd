/**
 * Disco settings: the original names and defaults (wire spec §8), read in the original's
 * order — explicit values, then the environment, then the settings file, then defaults.
 *
 * The settings file (`DISCO_SETTINGS_FILE`, else `~/.disco`, else `/etc/disco/settings.py`) uses
 * the original's Python assignment syntax, restricted to literals: `DISCO_PORT = 8989`,
 * `DISCO_ROOT = "/srv/disco"`. JSON objects are accepted too.
 *
 * @example
 * const s = loadSettings({ DISCO_PORT: '9000' });
 * s.get('DISCO_MASTER'); // 'http://<hostname>:9000'
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type SettingName = keyof typeof DEFAULTS;
type Resolver = (s: { get(name: string): string }) => string;

/** Package root (the folder holding package.json); DISCO_HOME defaults to it. */
export const PACKAGE_ROOT = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));

/** This package's version (`disco --version`, `GET /disco/version`); 'unknown' if unreadable. */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

function findPackageRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return start;
    dir = up;
  }
}

const DEFAULTS = {
  DISCO_PORT: () => '8989',
  DDFS_PUT_PORT: () => '8990',
  DISCO_PROXY_PORT: () => '8999',
  DISCO_PROXY: () => '',
  DISCO_PROXY_ENABLED: () => '',
  DISCO_TEST_PORT: () => '9444',
  DISCO_TEST_HOST: () => os.hostname(),
  DISCO_MASTER_HOST: () => os.hostname(),
  DISCO_MASTER: (s) => `http://${s.get('DISCO_MASTER_HOST')}:${s.get('DISCO_PORT')}`,
  DISCO_HOME: () => PACKAGE_ROOT,
  DISCO_ROOT: (s) => path.join(s.get('DISCO_HOME'), 'root'),
  DISCO_DATA: (s) => path.join(s.get('DISCO_ROOT'), 'data'),
  DISCO_NAME: (s) => `disco_${s.get('DISCO_PORT')}`,
  DISCO_MASTER_ROOT: (s) => path.join(s.get('DISCO_DATA'), `_${s.get('DISCO_NAME')}`),
  DISCO_MASTER_CONFIG: (s) => path.join(s.get('DISCO_ROOT'), `${s.get('DISCO_NAME')}.config`),
  DISCO_LOG_DIR: (s) => path.join(s.get('DISCO_ROOT'), 'log'),
  DISCO_PID_DIR: (s) => path.join(s.get('DISCO_ROOT'), 'run'),
  DISCO_MASTER_HOME: (s) => s.get('DISCO_HOME'),
  DISCO_WWW_ROOT: (s) => path.join(s.get('DISCO_HOME'), 'web'),
  DDFS_ROOT: (s) => path.join(s.get('DISCO_ROOT'), 'ddfs'),
  DDFS_DATA: (s) => s.get('DDFS_ROOT'),
  DDFS_TAG_MIN_REPLICAS: () => '1',
  DDFS_TAG_REPLICAS: () => '1',
  DDFS_BLOB_REPLICAS: () => '1',
  DDFS_READ_TOKEN: () => '',
  DDFS_WRITE_TOKEN: () => '',
  DDFS_GC_INITIAL_WAIT: () => '',
  DDFS_PARANOID_DELETE: () => '',
  DDFS_PUT_MAX: () => '3',
  DDFS_GET_MAX: () => '3',
  DISCO_GC_AFTER: () => String(100 * 365 * 24 * 3600),
  DISCO_WORKER_MAX_MEM: () => '80%',
  DISCO_EVENTS: () => '',
  DISCO_DEBUG: () => 'off',
  DISCO_FLAGS: () => '',
  DISCO_SCHEDULER: () => 'fair',
  DISCO_SCHEDULER_ALPHA: () => '0.001',
  DISCO_JOB_OWNER: () => `${safeUser()}@${os.hostname()}`,
  DISCO_ULIMIT: () => '16000000',
  DISCO_USER: () => safeUser(),
  DISCO_TEST_PURGE: () => 'purge',
  DISCO_TEST_PROFILE: () => '',
  /** Shared secret: when set, nodes and master authenticate each other (HMAC challenge). */
  DISCO_SECRET: () => '',
  /** Host name this node registers as (defaults to the machine's host name). */
  DISCO_NODE_NAME: () => os.hostname(),
  /** How many warm TypeScript worker processes a node keeps per free slot (0 disables). */
  DISCO_WORKER_POOL: () => '1',
  /** Tasks a node may hold queued per slot beyond its running ones (hides the master round trip). */
  DISCO_TASK_PREFETCH: () => '1',
  /** Only jobs whose tasks average less than this many milliseconds are prefetched. */
  DISCO_TASK_PREFETCH_BELOW_MS: () => '100',
  /** Largest job pack the master accepts, bytes (original: 1 GiB). */
  DISCO_MAX_JOB_PACK: () => String(1024 * 1024 * 1024),
  /** Address the master's HTTP server binds ('' = all interfaces). */
  DISCO_LISTEN_HOST: () => '',
  /** When set, the master starts and supervises a node process for every config host on its machine. */
  DISCO_SPAWN_LOCAL_NODES: () => '1',
  /** Multiplier of the task retry back-off (tests use a small value to retry at once). */
  DISCO_RETRY_DELAY_SCALE: () => '1',
} satisfies Record<string, Resolver>;

/** Names of every known setting (the `DISCO_SETTINGS` list the master exports). */
export const SETTING_NAMES = Object.keys(DEFAULTS) as SettingName[];

/** Resolved settings: lazily computed, so derived defaults follow overrides. */
export class Settings {
  private readonly cache = new Map<string, string>();
  private resolving = new Set<string>();

  constructor(
    private readonly explicit: Record<string, string | undefined> = {},
    private readonly env: Record<string, string | undefined> = process.env,
    private readonly file: Record<string, string> = {},
  ) {}

  /** The value of a setting as a string ('' when unset and without default). */
  get(name: string): string {
    const hit = this.cache.get(name);
    if (hit !== undefined) return hit;
    const v = this.explicit[name] ?? this.env[name] ?? this.file[name] ?? this.fallback(name);
    this.cache.set(name, v);
    return v;
  }

  int(name: SettingName): number {
    const raw = this.get(name);
    const n = Number.parseInt(raw, 10);
    if (!Number.isFinite(n))
      throw new Error(`setting ${name} must be an integer, got ${JSON.stringify(raw)}`);
    return n;
  }

  /** A flag is set iff its value is a non-empty string other than 'off'/'0'/'false'. */
  flag(name: SettingName): boolean {
    const v = this.get(name).trim().toLowerCase();
    return v !== '' && v !== 'off' && v !== '0' && v !== 'false';
  }

  /** Every known setting with its value (what `disco -v` prints). */
  all(): Record<SettingName, string> {
    const out = {} as Record<SettingName, string>;
    for (const n of SETTING_NAMES) out[n] = this.get(n);
    return out;
  }

  /** A copy with some values forced (used to derive a node's or test cluster's settings). */
  with(overrides: Record<string, string | undefined>): Settings {
    return new Settings({ ...this.explicit, ...overrides }, this.env, this.file);
  }

  private fallback(name: string): string {
    const d = (DEFAULTS as Record<string, Resolver>)[name];
    if (!d) return '';
    if (this.resolving.has(name)) throw new Error(`setting ${name} depends on itself`);
    this.resolving.add(name);
    try {
      return d(this);
    } finally {
      this.resolving.delete(name);
    }
  }
}

/** Locate and parse the settings file; missing file → no values. */
export function readSettingsFile(
  env: Record<string, string | undefined> = process.env,
): Record<string, string> {
  const candidates = env.DISCO_SETTINGS_FILE
    ? [env.DISCO_SETTINGS_FILE]
    : [path.join(os.homedir(), '.disco'), '/etc/disco/settings.py'];
  for (const file of candidates) {
    if (!existsSync(file)) continue;
    return parseSettingsText(readFileSync(file, 'utf8'), file);
  }
  return {};
}

/** Parse `NAME = literal` lines (Python-style) or a JSON object. */
export function parseSettingsText(text: string, file = 'settings'): Record<string, string> {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    const obj = JSON.parse(trimmed) as Record<string, unknown>;
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, v === null ? '' : String(v)]));
  }
  const out: Record<string, string> = {};
  text.split('\n').forEach((line, i) => {
    const l = line.replace(/^\s+|\s+$/g, '');
    if (l === '' || l.startsWith('#')) return;
    const m = /^([A-Z_][A-Z0-9_]*)\s*=\s*(.+)$/.exec(l);
    if (!m) throw new Error(`${file}:${i + 1}: expected NAME = value, got ${JSON.stringify(line)}`);
    out[m[1]] = parseLiteral(m[2], `${file}:${i + 1}`);
  });
  return out;
}

function parseLiteral(raw: string, where: string): string {
  const v = raw.replace(/\s+#.*$/, '').trim();
  const q = /^(['"])(.*)\1$/.exec(v);
  if (q) return q[2];
  if (v === 'None' || v === 'False') return '';
  if (v === 'True') return '1';
  if (/^-?\d+(\.\d+)?$/.test(v)) return v;
  throw new Error(`${where}: only string, number, True/False/None literals are supported, got ${v}`);
}

/** Settings from the environment and settings file, with explicit overrides. */
export function loadSettings(explicit: Record<string, string | undefined> = {}): Settings {
  return new Settings(explicit, process.env, readSettingsFile());
}

function safeUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? 'disco';
  }
}
