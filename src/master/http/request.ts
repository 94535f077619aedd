/**
 * Request path and query handling (wire spec §1.1): a `/proxy/<node>/<METHOD>/rest` prefix is
 * stripped to `/rest`; query values are percent-decoded without turning `+` into a space,
 * because the Python client sends job names (which may contain `+`) unencoded.
 */

export interface ParsedUrl {
  /** Path as sent (still percent-encoded), proxy prefix removed. */
  path: string;
  query: Map<string, string>;
}

/** Split a raw request URL into path (proxy prefix removed) and query. */
export function parseRequestUrl(rawUrl: string): ParsedUrl {
  const q = rawUrl.indexOf('?');
  let path = q < 0 ? rawUrl : rawUrl.slice(0, q);
  const search = q < 0 ? '' : rawUrl.slice(q + 1);
  const proxied = /^\/proxy\/[^/]+\/[A-Z]+(\/.*)$/.exec(path);
  if (proxied) path = proxied[1];
  const query = new Map<string, string>();
  for (const part of search.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const k = decode(eq < 0 ? part : part.slice(0, eq));
    const v = eq < 0 ? '' : decode(part.slice(eq + 1));
    // The first value wins, as mochiweb's keyfind does.
    if (!query.has(k)) query.set(k, v);
  }
  return { path, query };
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
