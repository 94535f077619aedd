/**
 * The configure page (`/configure`, also `/config.html`): the node table (host or host range
 * such as `nx01:30`, and the cores of each), the Disco and DDFS blacklists (DDFS entries that
 * are safe to remove are marked), and `max_failure_rate`. `configure.js` saves through the
 * same endpoints the API uses (`save_config_table`, `blacklist`, `whitelist`, `gc_blacklist`,
 * `gc_whitelist`, `save_settings`). Twin: `/disco/api/v1/config`.
 */
import { html, type SafeHtml } from './html.js';
import { fragment, page } from './layout.js';
import type { ConfigModel } from './model.js';

export const CONFIG_FRAGMENTS = ['blacklist', 'gcblacklist', 'hosts'] as const;

function list(hosts: string[], op: 'whitelist' | 'gc_whitelist', safe: Set<string>): SafeHtml {
  if (hosts.length === 0) return html`<p class="muted">None.</p>`;
  return html`<ul class="blacklist">${hosts.map(
    (h) =>
      html`<li class="${safe.has(h) ? 'safe' : ''}"><span class="host">${h}</span>${
        op === 'gc_whitelist'
          ? safe.has(h)
            ? html` <span class="badge safe-badge">safe to remove</span>`
            : html` <span class="badge">data still being moved</span>`
          : ''
      } <button type="button" data-op="${op}" data-host="${h}">Remove from list<span class="visually-hidden"> ${h}</span></button></li>`,
  )}</ul>`;
}

export function configFragments(m: ConfigModel): Record<(typeof CONFIG_FRAGMENTS)[number], SafeHtml> {
  const safe = new Set(m.safeGcBlacklist);
  return {
    blacklist: list(m.blacklist, 'whitelist', new Set()),
    gcblacklist: list(m.gcBlacklist, 'gc_whitelist', safe),
    hosts: html`<p class="muted">${m.hosts.length} nodes, ${m.hosts.reduce((a, h) => a + h.cores, 0)} cores: ${m.hosts
      .slice(0, 50)
      .map((h) => h.name)
      .join(', ')}${m.hosts.length > 50 ? ', …' : ''}</p>`,
  };
}

function row(host: string, cores: string, i: number): SafeHtml {
  return html`<tr>
  <td><label class="visually-hidden" for="host-${i}">Host or host range, row ${i + 1}</label><input id="host-${i}" class="host-input" name="host" value="${host}" required autocomplete="off" spellcheck="false"></td>
  <td><label class="visually-hidden" for="cores-${i}">Cores, row ${i + 1}</label><input id="cores-${i}" class="cores-input" name="cores" type="number" min="1" step="1" value="${cores}" required></td>
  <td><button type="button" class="remove-row">Remove<span class="visually-hidden"> row ${i + 1}</span></button></td>
</tr>`;
}

export function configurePage(version: string, m: ConfigModel): string {
  const f = configFragments(m);
  const datalist = html`<datalist id="known-hosts">${m.hosts.map((h) => html`<option value="${h.name}">`)}</datalist>`;
  return page({
    title: 'Configure',
    nav: 'configure',
    version,
    refreshMs: 5000,
    script: 'configure.js',
    body: html`<h1>Configure the cluster</h1>
<section aria-labelledby="table-h">
  <h2 id="table-h">Nodes</h2>
  <p>One row per host or host range: <code>nx01:30</code> means <code>nx01</code> to <code>nx30</code>; <code>10.0.0.1:4</code> works for addresses. Cores is how many tasks may run on each host at once.</p>
  <form id="config-table">
    <table class="config">
      <thead><tr><th scope="col">Host or range</th><th scope="col">Cores</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
      <tbody>${m.table.map(([h, c], i) => row(h, c, i))}</tbody>
    </table>
    <p class="buttons"><button type="button" id="add-row">Add row</button> <button type="submit" id="save-table" class="primary">Save table</button></p>
    <p class="form-status" id="table-status" role="status" aria-live="polite"></p>
  </form>
  ${fragment('hosts', f.hosts)}
  <template id="row-template">${row('', '1', 999)}</template>
</section>
<div class="two-col">
<section aria-labelledby="bl-h">
  <h2 id="bl-h">Blacklisted nodes for Disco</h2>
  <p>No new tasks run on these nodes, and no new DDFS data is stored there; existing data is still read.</p>
  ${fragment('blacklist', f.blacklist)}
  <form class="add-host" data-op="blacklist">
    <label for="bl-host">Blacklist a node</label>
    <input id="bl-host" name="host" list="known-hosts" autocomplete="off" required>
    <button type="submit">Blacklist</button>
    <span class="form-status" role="status" aria-live="polite"></span>
  </form>
</section>
<section aria-labelledby="gcbl-h">
  <h2 id="gcbl-h">Blacklisted nodes for DDFS</h2>
  <p>Garbage collection moves DDFS data away from these nodes. A node marked <span class="badge safe-badge">safe to remove</span> holds nothing DDFS still needs.</p>
  ${fragment('gcblacklist', f.gcblacklist)}
  <form class="add-host" data-op="gc_blacklist">
    <label for="gcbl-host">Blacklist a node for DDFS</label>
    <input id="gcbl-host" name="host" list="known-hosts" autocomplete="off" required>
    <button type="submit">Blacklist for DDFS</button>
    <span class="form-status" role="status" aria-live="polite"></span>
  </form>
</section>
</div>
${datalist}
<section aria-labelledby="settings-h">
  <h2 id="settings-h">Settings</h2>
  <form id="settings">
    <label for="max-failure-rate">Max failures per task (<code>max_failure_rate</code>)</label>
    <input id="max-failure-rate" name="max_failure_rate" type="number" min="1" step="1" value="${m.maxFailureRate}" required>
    <button type="submit">Save settings</button>
    <span class="form-status" id="settings-status" role="status" aria-live="polite"></span>
  </form>
  <p class="muted">A job fails once one of its tasks has failed this many times (recoverable errors; a crash fails the job at once). Applies to jobs submitted afterwards.</p>
</section>`,
  });
}
