/**
 * The frame of every UI page: head, navigation (status · configure · DDFS), the main area, and
 * the scripts. Pages work without JavaScript for reading; `ui.js` adds live updates by polling
 * the page's fragments (`?fragment=a,b`) and the actions (kill, purge, configuration).
 */
import { html, type SafeHtml } from './html.js';

export type NavItem = 'status' | 'configure' | 'ddfs' | 'job';

export interface PageOptions {
  title: string;
  nav: NavItem;
  version: string;
  body: SafeHtml;
  /** Extra page script under /static/. */
  script?: string;
  /** Poll fragments every this many ms (0 = no live updates). */
  refreshMs?: number;
  /** Values for the scripts, as data attributes on <main>. */
  data?: Record<string, string>;
}

const NAV: [NavItem, string, string][] = [
  ['status', '/', 'Status'],
  ['configure', '/configure', 'Configure'],
  ['ddfs', '/tags', 'DDFS'],
];

export function page(o: PageOptions): string {
  const data = Object.entries(o.data ?? {}).map(([k, v]) => html` data-${k}="${v}"`);
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} · Disco master</title>
<link rel="stylesheet" href="/static/disco.css">
<link rel="icon" href="data:,">
<script src="/static/ui.js" defer></script>
${o.script ? html`<script src="/static/${o.script}" defer></script>` : ''}
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <a class="brand" href="/">Disco</a>
  <nav aria-label="Main">
    <ul>
      ${NAV.map(
        ([id, href, label]) =>
          html`<li><a href="${href}"${id === o.nav ? html` aria-current="page"` : ''}>${label}</a></li>`,
      )}
    </ul>
  </nav>
  <span class="version" title="master version">v${o.version}</span>
  <span class="live" id="live-status" role="status" aria-live="polite"></span>
</header>
<main id="main" data-refresh="${String(o.refreshMs ?? 0)}"${data}>
${o.body}
</main>
</body>
</html>
`.value;
}

/** A live region that the page script refreshes: `<div data-fragment=name>`. */
export function fragment(name: string, content: SafeHtml, tag: 'div' | 'tbody' = 'div'): SafeHtml {
  return tag === 'tbody'
    ? html`<tbody id="frag-${name}" data-fragment="${name}">${content}</tbody>`
    : html`<div id="frag-${name}" data-fragment="${name}">${content}</div>`;
}
