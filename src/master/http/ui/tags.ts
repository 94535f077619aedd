/**
 * The DDFS pages: `/tags` lists tags with a prefix filter, `/tags/<tag>` shows a tag's replica
 * sets (blob download links), attributes and the tags it references. The page script reads the
 * DDFS API itself (`/ddfs/tags/<prefix>`, `/ddfs/tag/<tag>`), which is the JSON twin, so what
 * people see is what scripts get.
 */
import { html } from './html.js';
import { page } from './layout.js';

export function tagsPage(
  version: string,
  o: { prefix: string; tag: string | null; discoPort: string },
): string {
  const body = o.tag
    ? html`<nav class="crumbs" aria-label="Breadcrumb"><a href="/tags">DDFS</a> › tag</nav>
<h1>Tag <code id="tag-name">${o.tag}</code></h1>
<p id="tag-status" role="status" aria-live="polite">Loading…</p>
<dl class="facts" id="tag-facts"></dl>
<section aria-labelledby="links-h"><h2 id="links-h">Tags referenced</h2><div id="tag-links"><p class="muted">–</p></div></section>
<section aria-labelledby="urls-h"><h2 id="urls-h">Blobs (replica sets)</h2>
  <form class="filter" id="blob-filter-form" role="search"><label for="blob-filter">Filter blobs</label><input id="blob-filter" type="search" autocomplete="off"></form>
  <div id="tag-urls"><p class="muted">–</p></div></section>
<section aria-labelledby="attrs-h"><h2 id="attrs-h">Attributes</h2><div id="tag-attrs"><p class="muted">–</p></div></section>
<noscript><p>This page needs JavaScript; the same data is at <a href="/ddfs/tag/${o.tag}">/ddfs/tag/${o.tag}</a>.</p></noscript>`
    : html`<h1>DDFS tags</h1>
<form class="filter" id="tag-filter-form" role="search" action="/tags" method="get">
  <label for="tag-prefix">Tags starting with</label>
  <input id="tag-prefix" name="prefix" type="search" value="${o.prefix}" placeholder="e.g. data:" autocomplete="off">
  <button type="submit">List</button>
</form>
<p id="tags-status" role="status" aria-live="polite">Loading…</p>
<ul class="tag-list" id="tag-list"></ul>
<noscript><p>This page needs JavaScript; the same data is at <a href="/ddfs/tags">/ddfs/tags</a>.</p></noscript>`;
  return page({
    title: o.tag ? `Tag ${o.tag}` : 'DDFS',
    nav: 'ddfs',
    version,
    script: 'tags.js',
    data: { tag: o.tag ?? '', prefix: o.prefix, 'disco-port': o.discoPort },
    body,
  });
}
