/**
 * The operations dashboard at GET /: one HTML page and a little vanilla JS that reads the API (no build
 * step, no framework, nothing from a CDN). It shows readiness, files by state, the most recent files
 * (filterable by state), the schedule, and a "Scan now" button. Scanning is a mutating call: when the
 * service has an API token, the page asks for it once and keeps it in sessionStorage (this tab only).
 *
 * Everything that comes from the ledger (keys, errors) is put into the page with textContent, never as
 * HTML, and a Content-Security-Policy allows only this origin's script and style.
 */
import type { FastifyInstance } from 'fastify';

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>file-transformer</title>
<link rel="stylesheet" href="/dashboard.css">
<script src="/dashboard.js" defer></script>
</head>
<body>
<header>
  <h1>file-transformer</h1>
  <span id="ready" class="badge" data-state="unknown">checking…</span>
  <nav><a href="/docs">API</a> · <a href="/metrics">metrics</a></nav>
</header>
<main>
  <section aria-labelledby="states-title">
    <h2 id="states-title">Files by state</h2>
    <div id="states" role="group" aria-label="filter by state"></div>
  </section>
  <section aria-labelledby="scan-title">
    <h2 id="scan-title">Scan</h2>
    <p>Schedule: <span id="schedule">…</span></p>
    <button id="scan-now" type="button">Scan now</button>
    <span id="scan-status" role="status"></span>
    <form id="token-form" hidden>
      <label>API token <input id="token" type="password" autocomplete="off" required></label>
      <button type="submit">Use token</button>
    </form>
  </section>
  <section aria-labelledby="files-title">
    <h2 id="files-title">Recent files <span id="filter-label"></span></h2>
    <table>
      <thead><tr><th>Key</th><th>State</th><th>Attempts</th><th>Items</th><th>Rejected</th><th>Finished</th><th>Error</th></tr></thead>
      <tbody id="files"></tbody>
    </table>
    <p id="error" role="alert"></p>
  </section>
</main>
</body>
</html>
`;

const CSS = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1b1f24; background: #f6f8fa; }
header { display: flex; gap: 1rem; align-items: center; padding: .75rem 1.5rem; background: #24292f; color: #fff; }
header h1 { font-size: 1.1rem; margin: 0; }
header nav { margin-left: auto; }
header a { color: #c9d1d9; }
main { padding: 1rem 1.5rem; max-width: 1200px; }
section { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: .5rem 1rem 1rem; margin-bottom: 1rem; }
h2 { font-size: 1rem; }
.badge { padding: .1rem .5rem; border-radius: 1rem; font-size: .8rem; background: #6e7781; }
.badge[data-state="ready"] { background: #1a7f37; }
.badge[data-state="not ready"] { background: #cf222e; }
#states button { margin: 0 .5rem .5rem 0; padding: .4rem .8rem; border: 1px solid #d0d7de; border-radius: 6px; background: #fff; cursor: pointer; }
#states button[aria-pressed="true"] { background: #ddf4ff; border-color: #0969da; }
#states .count { font-weight: 600; margin-left: .3rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #eaeef2; vertical-align: top; }
td.key { font-family: ui-monospace, monospace; overflow-wrap: anywhere; min-width: 14rem; }
td.when { white-space: nowrap; }
td.error { color: #cf222e; max-width: 24rem; }
td[data-state="done"] { color: #1a7f37; }
td[data-state="failed"] { color: #cf222e; }
#error { color: #cf222e; }
`;

const JS = `'use strict';
const STATES = ['pending', 'processing', 'done', 'failed', 'skipped', 'gone'];
const $ = (id) => document.getElementById(id);
let filter = '';

function authHeaders() {
  const token = sessionStorage.getItem('ft-token');
  return token ? { authorization: 'Bearer ' + token } : {};
}

async function getJson(path) {
  const res = await fetch(path, { headers: { accept: 'application/json' } });
  const body = await res.json();
  if (!res.ok && res.status !== 503) throw new Error(body.message || res.statusText);
  return body;
}

function cell(text, cls) {
  const td = document.createElement('td');
  td.textContent = text === null || text === undefined ? '' : String(text);
  if (cls) td.className = cls;
  return td;
}

function renderStates(counts) {
  const box = $('states');
  box.replaceChildren();
  for (const state of ['', ...STATES]) {
    const b = document.createElement('button');
    b.type = 'button';
    b.dataset.state = state || 'all';
    b.setAttribute('aria-pressed', String(state === filter));
    b.textContent = state || 'all';
    const n = document.createElement('span');
    n.className = 'count';
    n.textContent = String(state ? counts.files[state] : counts.total);
    b.append(n);
    b.addEventListener('click', () => { filter = state; refresh(); });
    box.append(b);
  }
}

function renderFiles(files) {
  const rows = files.map((f) => {
    const tr = document.createElement('tr');
    tr.dataset.key = f.key;
    const key = cell(f.key, 'key');
    const state = cell(f.state);
    state.dataset.state = f.state;
    tr.append(key, state, cell(f.attempts), cell(f.itemsWritten), cell(f.itemsRejected),
      cell(f.finishedAt ? new Date(f.finishedAt).toLocaleString() : '', 'when'), cell(f.error, 'error'));
    return tr;
  });
  $('files').replaceChildren(...rows);
  $('filter-label').textContent = filter ? '(' + filter + ')' : '';
}

function describeSchedule(s) {
  const every = s.cron ? 'cron ' + s.cron : 'every ' + s.intervalHours + ' h';
  return s.nextRunAt ? every + ', next ' + new Date(s.nextRunAt).toLocaleString() : every;
}

async function refresh() {
  try {
    const query = '/api/files?limit=25' + (filter ? '&status=' + encodeURIComponent(filter) : '');
    const [stats, page, ready, schedule] = await Promise.all([
      getJson('/api/stats'), getJson(query), getJson('/health/ready'), getJson('/api/schedule'),
    ]);
    renderStates(stats);
    renderFiles(page.files);
    const badge = $('ready');
    badge.dataset.state = ready.status;
    badge.textContent = ready.status === 'ready' ? 'ready' : 'not ready: ' + ready.failed.join(', ');
    $('schedule').textContent = describeSchedule(schedule);
    $('error').textContent = '';
  } catch (err) {
    $('error').textContent = 'Could not load: ' + err.message;
  }
}

async function followScan(location) {
  for (;;) {
    const scan = await getJson(location);
    $('scan-status').textContent = 'scan ' + scan.id + ': ' + scan.status +
      ' (' + scan.listed + ' listed, ' + scan.recorded + ' new)';
    if (scan.status === 'done' || scan.status === 'failed') return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function scanNow() {
  $('scan-status').textContent = 'starting…';
  const res = await fetch('/api/scans', { method: 'POST', headers: authHeaders() });
  if (res.status === 401) {
    sessionStorage.removeItem('ft-token');
    $('scan-status').textContent = 'this service needs its API token to scan';
    $('token-form').hidden = false;
    $('token').focus();
    return;
  }
  const body = await res.json();
  if (!res.ok) { $('scan-status').textContent = body.message; return; }
  await followScan(res.headers.get('location'));
  await refresh();
}

$('scan-now').addEventListener('click', () => { scanNow().catch((e) => { $('scan-status').textContent = e.message; }); });
$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  sessionStorage.setItem('ft-token', $('token').value);
  $('token').value = '';
  $('token-form').hidden = true;
  scanNow().catch((e) => { $('scan-status').textContent = e.message; });
});
refresh();
setInterval(refresh, 5000);
`;

export async function dashboardRoutes(app: FastifyInstance) {
  const hide = { hide: true };
  app.get('/', { schema: hide }, async (_request, reply) => {
    reply.header('Content-Security-Policy', CSP).type('text/html; charset=utf-8');
    return HTML;
  });
  app.get('/dashboard.js', { schema: hide }, async (_request, reply) => {
    reply.type('text/javascript; charset=utf-8');
    return JS;
  });
  app.get('/dashboard.css', { schema: hide }, async (_request, reply) => {
    reply.type('text/css; charset=utf-8');
    return CSS;
  });
}
