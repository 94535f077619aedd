/**
 * A small parser of the Prometheus text exposition format (0.0.4) for tests: samples with
 * their labels, the declared types, and lookups by name and labels. Strict: a malformed line
 * throws, so a test also checks that `/metrics` is well-formed.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  samples: Sample[];
  types: Map<string, string>;
  help: Map<string, string>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

function parseValue(s: string): number {
  if (s === '+Inf') return Number.POSITIVE_INFINITY;
  if (s === '-Inf') return Number.NEGATIVE_INFINITY;
  if (s === 'NaN') return Number.NaN;
  const v = Number(s);
  if (s === '' || Number.isNaN(v)) throw new Error(`bad sample value ${JSON.stringify(s)}`);
  return v;
}

function parseLabels(text: string, line: string): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  let i = 1; // after '{'
  for (;;) {
    while (text[i] === ' ') i++;
    if (text[i] === '}') return [labels, i + 1];
    const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(text.slice(i));
    if (!m) throw new Error(`bad label name in ${line}`);
    const key = m[0];
    i += key.length;
    if (text[i] !== '=' || text[i + 1] !== '"') throw new Error(`bad label in ${line}`);
    i += 2;
    let value = '';
    for (;;) {
      const c = text[i];
      if (c === undefined) throw new Error(`unterminated label value in ${line}`);
      if (c === '"') break;
      if (c === '\\') {
        const n = text[i + 1];
        value += n === 'n' ? '\n' : n;
        i += 2;
      } else {
        value += c;
        i += 1;
      }
    }
    i += 1;
    if (key in labels) throw new Error(`duplicate label ${key} in ${line}`);
    labels[key] = value;
    if (text[i] === ',') i += 1;
    else if (text[i] !== '}') throw new Error(`bad label list in ${line}`);
  }
}

export function parsePrometheus(text: string): Exposition {
  const out: Exposition = { samples: [], types: new Map(), help: new Map() };
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (TYPE|HELP) ([a-zA-Z_:][a-zA-Z0-9_:]*) ?(.*)$/.exec(line);
      if (m?.[1] === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(m[3]))
          throw new Error(`bad type in ${line}`);
        if (out.types.has(m[2])) throw new Error(`type of ${m[2]} declared twice`);
        out.types.set(m[2], m[3]);
      } else if (m?.[1] === 'HELP') out.help.set(m[2], m[3]);
      continue;
    }
    const nm = NAME.exec(line);
    if (!nm) throw new Error(`bad metric name in ${line}`);
    let rest = line.slice(nm[0].length);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) {
      const [l, end] = parseLabels(rest, line);
      labels = l;
      rest = rest.slice(end);
    }
    const parts = rest.trim().split(/\s+/);
    if (parts.length < 1 || parts.length > 2) throw new Error(`bad sample ${line}`);
    out.samples.push({ name: nm[0], labels, value: parseValue(parts[0]) });
  }
  return out;
}

/** Sum of the samples `name` whose labels include `labels`; undefined when none matches. */
export function sampleValue(
  e: Exposition,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const hits = e.samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return hits.length === 0 ? undefined : hits.reduce((a, h) => a + h.value, 0);
}
