// Job page: live tail switch for the events log, and "messages" links of the task table and
// timeline that filter the events log to one task without leaving the page.

(() => {
  const ui = window.discoUI;
  if (!ui) return;
  const follow = document.getElementById('events-follow');
  follow?.addEventListener('change', () => {
    if (follow.checked) {
      ui.skip.delete('events');
      ui.refreshNow();
    } else ui.skip.add('events');
  });

  document.addEventListener('click', (e) => {
    const link = e.target.closest?.('a[data-events-filter]');
    if (!link || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    const input = document.getElementById('events-filter');
    if (!input) return;
    input.value = link.dataset.eventsFilter;
    input.form.dispatchEvent(new Event('submit', { cancelable: true }));
    document.getElementById('events')?.scrollIntoView({ behavior: 'smooth', block: 'start' });
    input.focus({ preventScroll: true });
  });
})();
