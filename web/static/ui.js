// Disco web UI: live updates and actions shared by every page. No framework, no build step.
//
// Live updates: <main data-refresh="ms"> pages poll their own URL with ?fragment=a,b (the names
// of the [data-fragment] elements) and swap in the regions that changed. Polling pauses while
// the tab is hidden and stops once a finished job's page has its final state.
// Actions: [data-action] buttons (kill_job, purge_job) ask for confirmation, then POST to the
// same /disco/ctrl endpoints the API uses.

(() => {
  const main = document.getElementById('main');
  const liveEl = document.getElementById('live-status');
  const refreshMs = Number(main?.dataset.refresh || 0);
  /** Fragments not to refresh (e.g. the events log with live tail off). */
  const skip = new Set();
  let timer = null;
  let inFlight = false;
  let stopped = false;
  let hovered = null;

  // The indicator is a polite live region: its text changes only when the state does (a
  // screen reader would otherwise announce every poll); the time of the last update is a tooltip.
  function setLive(text, error) {
    if (!liveEl) return;
    if (liveEl.textContent !== text) liveEl.textContent = text;
    liveEl.classList.toggle('error', !!error);
  }

  function fragmentNames() {
    return [...document.querySelectorAll('[data-fragment]')]
      .map((el) => el.dataset.fragment)
      .filter((n) => !skip.has(n));
  }

  // A key that finds "the same" element in the new markup of a fragment.
  function keyOf(node) {
    if (node.tagName === 'SUMMARY' && node.parentElement?.dataset.key)
      return `details[data-key="${CSS.escape(node.parentElement.dataset.key)}"] > summary`;
    for (const attr of ['id', 'data-key', 'data-events-filter', 'data-task', 'data-job', 'href'])
      if (node.hasAttribute?.(attr))
        return `${node.tagName}[${attr}="${CSS.escape(node.getAttribute(attr))}"]`;
    return null;
  }

  // Replace a fragment's content, keeping what the person was doing in it: opened disclosures
  // (error stacks) stay open and keyboard focus stays on the same link or control.
  function swap(el, htmlText) {
    const open = [...el.querySelectorAll('details[open][data-key]')].map((d) => d.dataset.key);
    const focused = el.contains(document.activeElement) ? keyOf(document.activeElement) : null;
    el.innerHTML = htmlText;
    for (const key of open) {
      const d = el.querySelector(`details[data-key="${CSS.escape(key)}"]`);
      if (d) d.open = true;
    }
    if (focused) el.querySelector(focused)?.focus({ preventScroll: true });
    el.dispatchEvent(new CustomEvent('disco:updated', { bubbles: true }));
  }

  async function refresh() {
    if (inFlight || stopped) return;
    const names = fragmentNames();
    if (names.length === 0) return;
    inFlight = true;
    try {
      const params = new URLSearchParams(location.search);
      params.set('fragment', names.join(','));
      const res = await fetch(`${location.pathname}?${params}`, { headers: { Accept: 'application/json' } });
      if (res.status === 404) {
        setLive('gone (purged?)', true);
        stopped = true;
        return;
      }
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const body = await res.json();
      for (const [name, htmlText] of Object.entries(body.fragments || {})) {
        const el = document.querySelector(`[data-fragment="${CSS.escape(name)}"]`);
        if (el && el.innerHTML !== htmlText) swap(el, htmlText);
      }
      if (hovered) highlight(hovered);
      if (liveEl) liveEl.title = `updated ${new Date().toLocaleTimeString()}`;
      if (body.live === false && main.dataset.live !== undefined) {
        stopped = true;
        setLive('finished');
      } else setLive('live (updates every few seconds)');
    } catch {
      setLive('master unreachable, retrying…', true);
    } finally {
      inFlight = false;
    }
  }

  function schedule() {
    clearTimeout(timer);
    if (stopped || !refreshMs) return;
    timer = setTimeout(async () => {
      if (!document.hidden) await refresh();
      schedule();
    }, refreshMs);
  }

  function refreshNow() {
    clearTimeout(timer);
    return refresh().finally(schedule);
  }

  // A finished job's page needs no polling; the status and configure pages always poll.
  if (main?.dataset.live === 'false') stopped = true;
  if (refreshMs > 0 && !stopped) {
    setLive('live (updates every few seconds)');
    schedule();
  }
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && refreshMs > 0 && !stopped) refreshNow();
  });

  // ---- hovering a job highlights its cores on the node boxes
  function highlight(job) {
    for (const el of document.querySelectorAll('.core.hl')) el.classList.remove('hl');
    if (!job) return;
    for (const el of document.querySelectorAll(`.core[data-job="${CSS.escape(job)}"]`))
      el.classList.add('hl');
  }
  function onEnter(e) {
    const row = e.target.closest?.('tr[data-job]');
    if (!row) return;
    hovered = row.dataset.job;
    highlight(hovered);
  }
  function onLeave(e) {
    const row = e.target.closest?.('tr[data-job]');
    if (!row || row.contains(e.relatedTarget)) return;
    hovered = null;
    highlight(null);
  }
  document.addEventListener('mouseover', onEnter);
  document.addEventListener('mouseout', onLeave);
  document.addEventListener('focusin', onEnter);
  document.addEventListener('focusout', onLeave);
  // Enter on a focused job row opens the job.
  document.addEventListener('keydown', (e) => {
    const row = e.target.closest?.('tr[data-job]');
    if (row && e.key === 'Enter' && e.target === row) row.querySelector('a')?.click();
  });

  // ---- POST to a ctrl endpoint with a JSON body
  async function ctrl(op, payload) {
    const res = await fetch(`/disco/ctrl/${op}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(payload),
    });
    const text = await res.text();
    let body = text;
    try {
      body = JSON.parse(text);
    } catch {}
    if (!res.ok) throw new Error(typeof body === 'string' ? body : text);
    return body;
  }

  // ---- kill / purge
  document.addEventListener('click', async (e) => {
    const btn = e.target.closest?.('button[data-action]');
    if (!btn) return;
    const op = btn.dataset.action;
    const job = btn.dataset.job;
    const question =
      op === 'kill_job'
        ? `Kill job ${job}? Its running tasks stop and it ends as failed.`
        : `Purge job ${job}? Its events, results and all its data on the nodes are deleted.`;
    if (!window.confirm(question)) return;
    btn.disabled = true;
    try {
      await ctrl(op, job);
      if (op === 'purge_job') location.href = '/';
      else {
        stopped = false;
        await refreshNow();
      }
    } catch (err) {
      window.alert(`${op} failed: ${err.message}`);
    } finally {
      btn.disabled = false;
    }
  });

  // ---- filter forms update the URL and the fragments as you type
  for (const form of document.querySelectorAll('form[data-live-filter]')) {
    let debounce = null;
    const apply = () => {
      const params = new URLSearchParams(location.search);
      for (const el of form.elements) {
        if (!el.name) continue;
        if (el.value) params.set(el.name, el.value);
        else params.delete(el.name);
      }
      // A new task filter starts at its first page.
      if (form.dataset.liveFilter === 'tasks') params.delete('tpage');
      const qs = params.toString();
      history.replaceState(null, '', `${location.pathname}${qs ? `?${qs}` : ''}${location.hash}`);
      const wasStopped = stopped;
      stopped = false;
      refreshNow().finally(() => {
        if (wasStopped) stopped = true;
      });
    };
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      apply();
    });
    form.addEventListener('input', (e) => {
      if (!e.target.name) return;
      clearTimeout(debounce);
      debounce = setTimeout(apply, 250);
    });
    form.addEventListener('change', (e) => {
      if (e.target.tagName === 'SELECT') {
        clearTimeout(debounce);
        apply();
      }
    });
  }

  window.discoUI = { refreshNow, skip, ctrl, setLive };
})();
