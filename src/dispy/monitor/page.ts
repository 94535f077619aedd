/** The monitor's single page: plain HTML + a small script polling `/api/status`. */
export const MONITOR_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dispy: Cluster Status</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em} h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;margin:.4em 0 1em} th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f2f2f2} td.l,th.l{text-align:left} .totals span{margin-right:2em}
button{cursor:pointer} #err{color:#b00}
</style></head><body>
<h1>dispy: Cluster Status</h1><div id="err"></div><div id="clusters">loading…</div>
<script>
const POLL_MS = %POLL_MS%;
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));
const bytes = (n) => n < 1024 ? n + ' B' : n < 1048576 ? (n/1024).toFixed(1) + ' KB' : n < 1073741824 ? (n/1048576).toFixed(1) + ' MB' : (n/1073741824).toFixed(1) + ' GB';
const time = (t) => t ? new Date(t * 1000).toLocaleTimeString() : '';
async function cancel(computeId, uid) {
  await fetch('/api/cancel', { method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({ computeId, uid }) });
  update();
}
function render(data) {
  if (!data.clusters.length) return '<p>No clusters.</p>';
  return data.clusters.map((c) => {
    const nodes = c.nodes.map((n) => '<tr><td class="l">' + esc(n.ipAddr) + '</td><td class="l">' + esc(n.name) + '</td><td>' + n.cpus +
      '</td><td>' + n.busy + '</td><td>' + n.jobsDone + '</td><td>' + (n.jobsDone ? (n.cpuTime / n.jobsDone).toFixed(3) : '') +
      '</td><td>' + n.cpuTime.toFixed(3) + '</td><td>' + bytes(n.tx) + '</td><td>' + bytes(n.rx) + '</td><td>' + time(n.updateTime) + '</td></tr>').join('');
    const jobs = c.jobs.map((j) => '<tr><td class="l">' + esc(j.id) + '</td><td class="l">' + esc(j.status) + '</td><td class="l">' + esc(j.node) +
      '</td><td>' + time(j.startTime) + '</td><td class="l">' + esc(j.args) + '</td><td><button data-c="' + esc(c.computeId) + '" data-u="' + j.uid + '">Cancel</button></td></tr>').join('');
    return '<h2>' + esc(c.name) + ' <small>(' + esc(c.computeId) + ')</small></h2>' +
      '<div class="totals"><span>Jobs Submitted: <b>' + c.submitted + '</b></span><span>Done: <b>' + c.done + '</b></span><span>Pending: <b>' + c.pending + '</b></span></div>' +
      '<table><tr><th class="l">IP Address</th><th class="l">Name</th><th>CPUs</th><th>Busy</th><th>Jobs Done</th><th>Sec/Job</th><th>Node Time Sec</th><th>Sent</th><th>Rcvd</th><th>Last Update</th></tr>' + nodes + '</table>' +
      (c.jobs.length ? '<table><tr><th class="l">Job</th><th class="l">Status</th><th class="l">Node</th><th>Started</th><th class="l">Arguments</th><th></th></tr>' + jobs + '</table>' : '<p>No running jobs.</p>');
  }).join('');
}
async function update() {
  try {
    const r = await fetch('/api/status', { cache: 'no-store' });
    document.getElementById('clusters').innerHTML = render(await r.json());
    document.getElementById('err').textContent = '';
  } catch (e) { document.getElementById('err').textContent = 'update failed: ' + e; }
}
document.addEventListener('click', (e) => { const b = e.target.closest('button[data-u]'); if (b) cancel(b.dataset.c, Number(b.dataset.u)); });
update(); setInterval(update, POLL_MS);
</script></body></html>
`;
