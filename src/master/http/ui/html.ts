/**
 * HTML building for the web UI: a tagged template that escapes every interpolated value unless
 * it is already {@link SafeHtml} (or an array of them), so a job name, tag or event message can
 * never inject markup.
 *
 * @example
 * html`<td>${job.name}</td>`            // escaped
 * html`<ul>${items.map((i) => html`<li>${i}</li>`)}</ul>`
 */

/** Markup that is already safe to insert. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/** Escape text for element content and quoted attribute values. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

type Part = SafeHtml | string | number | boolean | null | undefined | readonly Part[];

function render(v: Part): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof SafeHtml) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  return esc(String(v));
}

/** Tagged template: literal parts as written, interpolations escaped. */
export function html(strings: TemplateStringsArray, ...values: Part[]): SafeHtml {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new SafeHtml(out);
}

/** Trusted markup as is (only for strings built by this module's helpers). */
export function raw(s: string): SafeHtml {
  return new SafeHtml(s);
}

/** A URL path for a job page. */
export function jobHref(name: string, query = ''): string {
  return `/job/${encodeURIComponent(name)}${query ? `?${query}` : ''}`;
}

/** A URL path for a DDFS tag page. */
export function tagHref(name: string): string {
  return `/tags/${encodeURIComponent(name)}`;
}

/** Bytes as `1.5 GiB`. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

/** A duration as `850 ms`, `12.3 s`, `4 min 05 s`, `2 h 03 min`. */
export function formatMs(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.floor(s % 60)).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** ms since the epoch as a local `YYYY-MM-DD HH:MM:SS`. */
export function formatTime(ms: number | null): string {
  if (ms === null) return '–';
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** `<time>` element with a machine-readable datetime. */
export function timeEl(ms: number | null): SafeHtml {
  if (ms === null) return html`<span>–</span>`;
  return html`<time datetime="${new Date(ms).toISOString()}">${formatTime(ms)}</time>`;
}
