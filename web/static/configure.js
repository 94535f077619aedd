// Configure page: edit the node table, the Disco and DDFS blacklists and max_failure_rate,
// through the same /disco/ctrl endpoints the API uses.

(() => {
  const ui = window.discoUI;
  if (!ui) return;

  function status(el, text, ok) {
    if (!el) return;
    el.textContent = text;
    el.classList.toggle('ok', ok);
    el.classList.toggle('error', !ok);
  }

  // ---- node table
  const form = document.getElementById('config-table');
  const tbody = form?.querySelector('tbody');
  const template = document.getElementById('row-template');
  const tableStatus = document.getElementById('table-status');

  function renumber() {
    [...tbody.rows].forEach((tr, i) => {
      const host = tr.querySelector('.host-input');
      const cores = tr.querySelector('.cores-input');
      const labels = tr.querySelectorAll('label');
      host.id = `host-${i}`;
      cores.id = `cores-${i}`;
      labels[0].htmlFor = host.id;
      labels[0].textContent = `Host or host range, row ${i + 1}`;
      labels[1].htmlFor = cores.id;
      labels[1].textContent = `Cores, row ${i + 1}`;
      const hidden = tr.querySelector('.remove-row .visually-hidden');
      if (hidden) hidden.textContent = ` row ${i + 1}`;
    });
  }

  document.getElementById('add-row')?.addEventListener('click', () => {
    const row = template.content.querySelector('tr').cloneNode(true);
    tbody.appendChild(row);
    renumber();
    row.querySelector('.host-input').focus();
  });
  tbody?.addEventListener('click', (e) => {
    const btn = e.target.closest('.remove-row');
    if (!btn) return;
    btn.closest('tr').remove();
    renumber();
    status(tableStatus, 'Row removed; save the table to apply.', true);
  });
  form?.addEventListener('submit', async (e) => {
    e.preventDefault();
    const rows = [...tbody.rows].map((tr) => [
      tr.querySelector('.host-input').value.trim(),
      String(tr.querySelector('.cores-input').value).trim(),
    ]);
    try {
      const reply = await ui.ctrl('save_config_table', rows);
      status(tableStatus, reply === 'table saved!' ? 'Table saved.' : String(reply), true);
      ui.refreshNow();
    } catch (err) {
      status(tableStatus, `Not saved: ${err.message}`, false);
    }
  });

  // ---- blacklists
  for (const f of document.querySelectorAll('form.add-host')) {
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      const input = f.querySelector('input');
      const out = f.querySelector('.form-status');
      const host = input.value.trim();
      if (!host) return;
      try {
        await ui.ctrl(f.dataset.op, host);
        input.value = '';
        status(out, `${host} added.`, true);
        await ui.refreshNow();
      } catch (err) {
        status(out, `Failed: ${err.message}`, false);
      }
    });
  }
  document.addEventListener('click', async (e) => {
    const btn = e.target.closest?.('button[data-op]');
    if (!btn) return;
    btn.disabled = true;
    try {
      await ui.ctrl(btn.dataset.op, btn.dataset.host);
      await ui.refreshNow();
    } catch (err) {
      window.alert(`Failed: ${err.message}`);
      btn.disabled = false;
    }
  });

  // ---- settings
  const settings = document.getElementById('settings');
  settings?.addEventListener('submit', async (e) => {
    e.preventDefault();
    const out = document.getElementById('settings-status');
    const value = String(document.getElementById('max-failure-rate').value).trim();
    try {
      await ui.ctrl('save_settings', { max_failure_rate: value });
      status(out, 'Settings saved.', true);
    } catch (err) {
      status(out, `Not saved: ${err.message}`, false);
    }
  });
})();
