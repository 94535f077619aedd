// DDFS pages: the tag list (prefix filter) and one tag (replica sets with blob download links,
// attributes, referenced tags), read from the DDFS API (/ddfs/tags/<prefix>, /ddfs/tag/<tag>).

(() => {
  const main = document.getElementById('main');
  const tag = main.dataset.tag;
  const port = main.dataset.discoPort || '8989';

  function el(name, attrs = {}, ...children) {
    const e = document.createElement(name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    for (const c of children) e.append(c);
    return e;
  }
  const tagPath = (name) => encodeURIComponent(name).replace(/%3A/gi, ':').replace(/%40/gi, '@');

  /** An http(s) link for a blob replica URL (disco://host/path → http://host:port/path). */
  function httpUrl(url) {
    const m = /^(disco|dir):\/\/([^/]+)\/(.*)$/.exec(url);
    if (m) return `http://${/:\d+$/.test(m[2]) ? m[2] : `${m[2]}:${port}`}/${m[3]}`;
    if (/^https?:\/\//.test(url)) return url;
    return null;
  }
  function tagOf(url) {
    const m = /^tag:\/\/(?:[^@/]*@)?(?:[^/]*\/)?([A-Za-z0-9:@_-]+)$/.exec(url);
    return m ? m[1] : null;
  }
  function blobName(url) {
    const last = url.split('/').pop() || url;
    return last.replace(/\$[^$]*$/, '');
  }

  async function getJson(url) {
    const res = await fetch(url, { headers: { Accept: 'application/json' } });
    if (res.status === 401) throw new Error('this tag needs a read token');
    if (res.status === 404) throw new Error('no such tag');
    if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
    return res.json();
  }

  async function listTags() {
    const input = document.getElementById('tag-prefix');
    const out = document.getElementById('tag-list');
    const statusEl = document.getElementById('tags-status');
    const prefix = input.value.trim();
    statusEl.textContent = 'Loading…';
    try {
      const names = await getJson(`/ddfs/tags/${tagPath(prefix)}`);
      out.replaceChildren(
        ...names
          .slice(0, 5000)
          .map((n) => el('li', {}, el('a', { href: `/tags/${encodeURIComponent(n)}` }, n))),
      );
      statusEl.textContent = `${names.length} tag${names.length === 1 ? '' : 's'}${prefix ? ` starting with “${prefix}”` : ''}${names.length > 5000 ? ' (first 5000 shown)' : ''}.`;
    } catch (e) {
      statusEl.textContent = `Could not list tags: ${e.message}`;
    }
  }

  async function showTag() {
    const statusEl = document.getElementById('tag-status');
    let t;
    try {
      t = await getJson(`/ddfs/tag/${tagPath(tag)}`);
    } catch (e) {
      statusEl.textContent = `Cannot show ${tag}: ${e.message}.`;
      return;
    }
    const urls = Array.isArray(t.urls) ? t.urls : [];
    const links = [];
    const blobs = [];
    for (const set of urls) {
      const first = Array.isArray(set) ? set[0] : set;
      const name = typeof first === 'string' ? tagOf(first) : null;
      if (name) links.push(name);
      else blobs.push(Array.isArray(set) ? set : [set]);
    }
    const attrs = Object.entries(t['user-data'] || {});
    statusEl.textContent = '';
    const facts = document.getElementById('tag-facts');
    const fact = (k, v) => el('div', {}, el('dt', {}, k), el('dd', {}, v));
    facts.replaceChildren(
      fact('Id', t.id ?? '–'),
      fact('Last modified', t['last-modified'] ?? '–'),
      fact('Blobs', String(blobs.length)),
      fact('Tags referenced', String(links.length)),
      fact('Attributes', String(attrs.length)),
    );
    const linksEl = document.getElementById('tag-links');
    linksEl.replaceChildren(
      links.length
        ? el(
            'ul',
            {},
            ...links.map((n) => el('li', {}, el('a', { href: `/tags/${encodeURIComponent(n)}` }, n))),
          )
        : el('p', { class: 'muted' }, 'None.'),
    );
    const attrsEl = document.getElementById('tag-attrs');
    attrsEl.replaceChildren(
      attrs.length
        ? el(
            'table',
            {},
            el(
              'thead',
              {},
              el('tr', {}, el('th', { scope: 'col' }, 'Name'), el('th', { scope: 'col' }, 'Value')),
            ),
            el(
              'tbody',
              {},
              ...attrs.map(([k, v]) => el('tr', {}, el('td', {}, k), el('td', {}, el('pre', {}, String(v))))),
            ),
          )
        : el('p', { class: 'muted' }, 'None.'),
    );
    const filter = document.getElementById('blob-filter');
    const urlsEl = document.getElementById('tag-urls');
    const render = () => {
      const needle = filter.value.trim().toLowerCase();
      const shown = blobs.filter(
        (set) => !needle || set.some((u) => String(u).toLowerCase().includes(needle)),
      );
      if (shown.length === 0) {
        urlsEl.replaceChildren(
          el('p', { class: 'muted' }, blobs.length ? 'No blob matches the filter.' : 'No blobs.'),
        );
        return;
      }
      const rows = shown.slice(0, 2000).map((set, i) =>
        el(
          'tr',
          {},
          el('td', { class: 'num' }, String(i + 1)),
          el('td', {}, blobName(String(set[0]))),
          el(
            'td',
            {},
            ...set.flatMap((u, k) => {
              const href = httpUrl(String(u));
              const host = (/^[a-z]+:\/\/([^/]+)/.exec(String(u)) || [])[1] || String(u);
              const node = href
                ? el('a', { href, download: '', title: String(u) }, host)
                : el('span', {}, String(u));
              return k > 0 ? [', ', node] : [node];
            }),
          ),
        ),
      );
      urlsEl.replaceChildren(
        el(
          'table',
          { class: 'blobs' },
          el(
            'caption',
            {},
            `${shown.length} blob${shown.length === 1 ? '' : 's'}${shown.length > 2000 ? ' (first 2000 shown)' : ''}; each replica links to its download`,
          ),
          el(
            'thead',
            {},
            el(
              'tr',
              {},
              el('th', { scope: 'col', class: 'num' }, '#'),
              el('th', { scope: 'col' }, 'Blob'),
              el('th', { scope: 'col' }, 'Replicas'),
            ),
          ),
          el('tbody', {}, ...rows),
        ),
      );
    };
    filter.addEventListener('input', render);
    document.getElementById('blob-filter-form').addEventListener('submit', (e) => e.preventDefault());
    render();
  }

  if (tag) showTag();
  else {
    const form = document.getElementById('tag-filter-form');
    let debounce = null;
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const p = document.getElementById('tag-prefix').value.trim();
      history.replaceState(null, '', p ? `/tags?prefix=${encodeURIComponent(p)}` : '/tags');
      listTags();
    });
    form.addEventListener('input', () => {
      clearTimeout(debounce);
      debounce = setTimeout(() => form.requestSubmit(), 300);
    });
    listTags();
  }
})();
