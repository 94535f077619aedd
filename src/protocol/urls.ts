/**
 * URL schemes of Disco (wire spec §5.7): `disco://HOST/PATH`, `dir://HOST/PATH`,
 * `tag://[user:TOKEN@][HOST[:PORT]/]NAME`, `raw://DATA`, `http(s)://`, `file://` and plain paths,
 * plus `part://` inside `.results` files. Node names may carry a port (`host:9001`): then that
 * port is used instead of `DISCO_PORT`.
 *
 * @example
 * resolveHttp('disco://n1/ddfs/vol0/blob/ab/x$1', 8989) // 'http://n1:8989/ddfs/vol0/blob/ab/x$1'
 */
import path from 'node:path';

export interface SplitUrl {
  scheme: string;
  /** Host part, including `:port` when present ('' when absent). */
  host: string;
  /** Path without the leading slash (for `raw://`, the data). */
  path: string;
}

/** Split a URL; a plain path is scheme `file`. */
export function splitUrl(url: string): SplitUrl {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/(.*)$/s.exec(url);
  if (!m) return { scheme: 'file', host: '', path: url };
  const scheme = m[1].toLowerCase();
  const rest = m[2];
  if (scheme === 'raw') return { scheme, host: '', path: rest };
  if (scheme === 'file') return { scheme, host: '', path: rest.startsWith('/') ? rest : `/${rest}` };
  const slash = rest.indexOf('/');
  if (slash < 0) return { scheme, host: rest, path: '' };
  return { scheme, host: rest.slice(0, slash), path: rest.slice(slash + 1) };
}

/** Host a URL's data lives on (for data locality), or null (`raw://`, files, tags). */
export function urlHost(url: string): string | null {
  const { scheme, host } = splitUrl(url);
  if (scheme === 'raw' || scheme === 'file' || scheme === 'tag' || !host) return null;
  if (scheme === 'http' || scheme === 'https') return host.replace(/:\d+$/, '');
  return host;
}

/** `host` with its default port, for building `http://` URLs. */
function hostPort(host: string, defaultPort: number | string): string {
  return /:\d+$/.test(host) ? host : `${host}:${defaultPort}`;
}

/**
 * The HTTP URL for a `disco://`, `dir://` or `http(s)://` URL. `dir://` without host goes to
 * `masterUrl`. Other schemes are returned unchanged.
 */
export function resolveHttp(url: string, discoPort: number | string, masterUrl?: string): string {
  const u = splitUrl(url);
  if (u.scheme === 'disco' || u.scheme === 'dir' || u.scheme === 'part') {
    if (!u.host) {
      if (!masterUrl) throw new Error(`URL ${url} has no host and no master is known`);
      return `${masterUrl.replace(/\/$/, '')}/${u.path}`;
    }
    return `http://${hostPort(u.host, discoPort)}/${u.path}`;
  }
  return url;
}

/**
 * If `url` points at data on `thisHost`, the local file path: `disco://HOST/ddfs/X` →
 * `ddfsData/X`, `disco://HOST/disco/X` → `discoData/X`. Null when remote or not a data URL.
 * Refuses paths that escape the data roots.
 */
export function localPath(
  url: string,
  thisHost: string,
  roots: { discoData: string; ddfsData: string; discoPort: number | string },
): string | null {
  const u = splitUrl(url);
  let p: string;
  if (u.scheme === 'disco' || u.scheme === 'dir' || u.scheme === 'part') {
    if (u.host !== thisHost && u.host !== `${thisHost}:${roots.discoPort}`) return null;
    p = u.path;
  } else if (u.scheme === 'http') {
    if (u.host !== thisHost && u.host !== `${thisHost}:${roots.discoPort}`) return null;
    p = u.path;
  } else {
    return null;
  }
  const slash = p.indexOf('/');
  if (slash < 0) return null;
  const top = p.slice(0, slash);
  const rest = decodeURIComponentSafe(p.slice(slash + 1));
  const root = top === 'ddfs' ? roots.ddfsData : top === 'disco' ? roots.discoData : null;
  if (!root || rest === null) return null;
  const full = path.resolve(root, rest);
  if (!full.startsWith(path.resolve(root) + path.sep)) return null;
  return full;
}

function decodeURIComponentSafe(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

/** A parsed `tag://` URL. */
export interface TagUrl {
  tag: string;
  host: string | null;
  token: string | null;
}

/**
 * `tag://NAME`, `tag://HOST[:PORT]/NAME`, `tag://user:TOKEN@/NAME`, `tag://user:TOKEN@HOST/NAME`.
 * Without a `/`, everything is the name (tag names may contain `@` and `:`, e.g.
 * `tag://disco:job:results:Job@5dc:1:2`), as in the original's `urlsplit`.
 */
export function parseTagUrl(url: string): TagUrl {
  const m = /^tag:\/\/(.*)$/s.exec(url);
  if (!m) throw new Error(`not a tag:// URL: ${url}`);
  let rest = m[1];
  let token: string | null = null;
  const at = rest.indexOf('@');
  const slash = rest.indexOf('/');
  if (slash < 0) return { tag: rest, host: null, token: null };
  if (at >= 0 && at < slash) {
    const cred = rest.slice(0, at);
    const colon = cred.indexOf(':');
    token = colon >= 0 ? cred.slice(colon + 1) : null;
    rest = rest.slice(at + 1);
  }
  const s = rest.indexOf('/');
  if (s < 0) return { tag: rest, host: null, token };
  const host = rest.slice(0, s);
  return { tag: rest.slice(s + 1), host: host || null, token };
}

/** Job name in a `disco|dir|http` URL: the path component after `<HH>` (`util.jobname`). */
export function jobNameOfUrl(url: string): string | null {
  const parts = splitUrl(url).path.split('/');
  // disco/<host>/<HH>/<job>/...
  if (parts[0] === 'disco' && parts.length >= 4) return parts[3];
  return parts.length >= 2 ? parts[parts.length - 2] : null;
}
