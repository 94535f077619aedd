/**
 * A fresh scope for every job in a reused worker process.
 *
 * Each job re-evaluates the computation's source (depends, helpers, the function) by calling
 * a compiled factory, so module-level `let`/`var` state starts anew for every job. Around each
 * job the worker:
 * - restores `globalThis` to its baseline (added properties deleted, replaced ones put back),
 *   so a global set by one job is never seen by the next;
 * - clears the timers the job left behind (the job's `setTimeout`/`setInterval`/`setImmediate`
 *   are tracked wrappers);
 * - checks that the built-in prototypes and namespaces are unchanged; if a job changed one
 *   (e.g. `Array.prototype.x = …`), the worker reports the job and exits, and the node starts a
 *   fresh one — state never leaks to another job.
 *
 * Values prepared by `setup` (and data given in `depends`) are installed as deep-frozen,
 * read-only globals before the baseline is taken: all jobs share them, none can change them.
 *
 * @example
 * const scope = new JobScope();
 * scope.installShared({ table: bigTable });
 * scope.takeBaseline();
 * const timers = scope.timers();
 * try { await run(timers.api); } finally { timers.clear(); const tainted = scope.restore(); }
 */

type Descriptors = Map<string | symbol, PropertyDescriptor>;

/**
 * A cheap picture of an object's own properties: the key list, data values by position, and
 * getter/setter pairs. Checking it reads properties directly (no descriptor objects), which
 * keeps the per-job check in the tens of microseconds.
 */
interface Picture {
  keys: (string | symbol)[];
  /** Data property values (accessor slots hold ACCESSOR). */
  values: unknown[];
  accessors: [string | symbol, unknown, unknown][];
  extensible: boolean;
}

const ACCESSOR = Symbol('accessor');

export function picture(o: object): Picture {
  const keys = Reflect.ownKeys(o);
  const values: unknown[] = new Array(keys.length);
  const accessors: Picture['accessors'] = [];
  for (let i = 0; i < keys.length; i++) {
    const d = Reflect.getOwnPropertyDescriptor(o, keys[i])!;
    if ('value' in d) values[i] = d.value;
    else {
      values[i] = ACCESSOR;
      accessors.push([keys[i], d.get, d.set]);
    }
  }
  return { keys, values, accessors, extensible: Object.isExtensible(o) };
}

/** The first difference between `o` and its picture, or null. */
export function changed(o: object, p: Picture): string | null {
  const keys = Reflect.ownKeys(o);
  if (keys.length !== p.keys.length) return 'gained or lost properties';
  const rec = o as Record<string | symbol, unknown>;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (k !== p.keys[i]) return `property '${String(k)}' changed`;
    const v = p.values[i];
    if (v !== ACCESSOR && !Object.is(rec[k], v)) return `property '${String(k)}' changed`;
  }
  for (const [k, get, set] of p.accessors) {
    const d = Reflect.getOwnPropertyDescriptor(o, k);
    if (!d || d.get !== get || d.set !== set) return `property '${String(k)}' changed`;
  }
  if (Object.isExtensible(o) !== p.extensible) return 'was sealed or frozen';
  return null;
}

/**
 * The common built-ins whose own properties must not change across jobs (checking every
 * intrinsic would cost more than a small job; these are the ones code actually patches).
 */
function intrinsics(): object[] {
  const g = globalThis as Record<string, unknown>;
  const list: object[] = [
    Object,
    Object.prototype,
    Function.prototype,
    Array,
    Array.prototype,
    String.prototype,
    Number.prototype,
    Promise,
    Promise.prototype,
    Map.prototype,
    Set.prototype,
    RegExp.prototype,
    Date.prototype,
    Error,
    Error.prototype,
    JSON,
    Math,
    Object.getPrototypeOf(Uint8Array.prototype) as object,
  ];
  if (typeof g.Buffer === 'function') list.push((g.Buffer as { prototype: object }).prototype);
  return list;
}

function snapshot(o: object): Descriptors {
  const m: Descriptors = new Map();
  for (const k of Reflect.ownKeys(o)) {
    const d = Reflect.getOwnPropertyDescriptor(o, k);
    if (d) m.set(k, d);
  }
  return m;
}

function sameDescriptor(a: PropertyDescriptor, b: PropertyDescriptor): boolean {
  return Object.is(a.value, b.value) && a.get === b.get && a.set === b.set && a.writable === b.writable;
}

/** Freeze a value and everything reachable from it (typed arrays' contents cannot be frozen). */
export function deepFreeze<T>(value: T, seen = new Set<unknown>()): T {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null || seen.has(value)) {
    return value;
  }
  seen.add(value);
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value;
  if (value instanceof Map) {
    for (const [k, v] of value) {
      deepFreeze(k, seen);
      deepFreeze(v, seen);
    }
    const m = value as Map<unknown, unknown>;
    const ro = () => {
      throw new TypeError('this Map is read-only (shared setup data)');
    };
    Object.defineProperties(m, { set: { value: ro }, delete: { value: ro }, clear: { value: ro } });
  } else if (value instanceof Set) {
    for (const v of value) deepFreeze(v, seen);
    const ro = () => {
      throw new TypeError('this Set is read-only (shared setup data)');
    };
    Object.defineProperties(value, { add: { value: ro }, delete: { value: ro }, clear: { value: ro } });
  }
  for (const k of Reflect.ownKeys(value as object)) {
    const d = Reflect.getOwnPropertyDescriptor(value as object, k);
    if (d && 'value' in d) deepFreeze(d.value, seen);
  }
  Object.freeze(value);
  return value;
}

/** Timers of one job, cleared when the job ends. */
export interface JobTimers {
  api: {
    setTimeout: typeof setTimeout;
    setInterval: typeof setInterval;
    setImmediate: typeof setImmediate;
    clearTimeout: typeof clearTimeout;
    clearInterval: typeof clearInterval;
    clearImmediate: typeof clearImmediate;
  };
  clear(): void;
}

export class JobScope {
  private baseline: Descriptors = new Map();
  private globalPicture: Picture | null = null;
  private readonly watched = intrinsics();
  private watchedPictures: Picture[] = [];

  /** Install read-only shared values as globals (before {@link takeBaseline}). */
  installShared(values: Record<string, unknown>): void {
    for (const [name, v] of Object.entries(values)) {
      Object.defineProperty(globalThis, name, {
        value: deepFreeze(v),
        writable: false,
        enumerable: true,
        configurable: true,
      });
    }
  }

  /** Record the state that every job starts from. */
  takeBaseline(): void {
    this.baseline = snapshot(globalThis);
    this.globalPicture = picture(globalThis);
    this.watchedPictures = this.watched.map((o) => picture(o));
  }

  /** Names of globals added since the baseline (what `setup` created). */
  addedGlobals(): string[] {
    const out: string[] = [];
    for (const k of Reflect.ownKeys(globalThis)) {
      if (typeof k === 'string' && !this.baseline.has(k)) out.push(k);
    }
    return out;
  }

  /**
   * Put `globalThis` back to the baseline. Returns a description of a changed built-in (the
   * worker must then be replaced), or null when the process is clean.
   */
  restore(): string | null {
    const g = globalThis as object;
    if (!this.globalPicture || changed(g, this.globalPicture) !== null) {
      // Rare: the job touched globals. Put every one back from the full descriptors.
      for (const k of Reflect.ownKeys(g)) {
        if (!this.baseline.has(k)) Reflect.deleteProperty(g, k);
      }
      for (const [k, d] of this.baseline) {
        const now = Reflect.getOwnPropertyDescriptor(g, k);
        if (!now || !sameDescriptor(now, d)) {
          if (!Reflect.defineProperty(g, k, d)) return `global '${String(k)}' could not be restored`;
        }
      }
      // Property order may differ after re-adding: take a new picture.
      this.globalPicture = picture(g);
    }
    for (let i = 0; i < this.watched.length; i++) {
      const why = changed(this.watched[i], this.watchedPictures[i]);
      if (why) return describe(this.watched[i], why);
    }
    return null;
  }

  /** Fresh tracked timers for one job. */
  timers(): JobTimers {
    const timeouts = new Set<NodeJS.Timeout>();
    const immediates = new Set<NodeJS.Immediate>();
    const api = {
      setTimeout: ((fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
        const t = setTimeout(
          (...a: unknown[]) => {
            timeouts.delete(t);
            fn(...a);
          },
          ms,
          ...args,
        );
        timeouts.add(t);
        return t;
      }) as unknown as typeof setTimeout,
      setInterval: ((fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
        const t = setInterval(fn, ms, ...args);
        timeouts.add(t);
        return t;
      }) as unknown as typeof setInterval,
      setImmediate: ((fn: (...a: unknown[]) => void, ...args: unknown[]) => {
        const t = setImmediate(
          (...a: unknown[]) => {
            immediates.delete(t);
            fn(...a);
          },
          ...args,
        );
        immediates.add(t);
        return t;
      }) as unknown as typeof setImmediate,
      clearTimeout: ((t: NodeJS.Timeout) => {
        timeouts.delete(t);
        clearTimeout(t);
      }) as typeof clearTimeout,
      clearInterval: ((t: NodeJS.Timeout) => {
        timeouts.delete(t);
        clearInterval(t);
      }) as typeof clearInterval,
      clearImmediate: ((t: NodeJS.Immediate) => {
        immediates.delete(t);
        clearImmediate(t);
      }) as typeof clearImmediate,
    };
    return {
      api,
      clear() {
        for (const t of timeouts) clearTimeout(t);
        for (const t of immediates) clearImmediate(t);
        timeouts.clear();
        immediates.clear();
      },
    };
  }
}

function describe(o: object, what: string): string {
  const own = Object.getOwnPropertyDescriptor(o, 'constructor')?.value as { name?: string } | undefined;
  const tag = (o as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag];
  const name =
    typeof o === 'function'
      ? (o as { name?: string }).name || 'a built-in function'
      : own?.name
        ? `${own.name}.prototype`
        : typeof tag === 'string'
          ? tag
          : 'a built-in object';
  return `the job changed a built-in (${name} ${what}); the worker process is replaced`;
}
