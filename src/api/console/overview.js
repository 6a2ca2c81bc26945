// The overview: health with each readiness check, files by state, the schedule (scan now, change
// it with a preview of the next runs), the last scans, live instances (when the API has them) and
// the last 24 hours as charts. Refreshed every 5 s.
import { barChart, lagChart } from './charts.js';
import {
  $,
  actionButton,
  between,
  el,
  fmtCount,
  fmtTime,
  getJson,
  poll,
  section,
  send,
  stateBadge,
  timeEl,
} from './common.js';

const STATES = ['pending', 'processing', 'done', 'failed', 'skipped', 'gone'];

function describeSchedule(s) {
  const rule = s.cron ? `cron “${s.cron}”` : `every ${s.intervalHours} h`;
  return s.source === 'settings' ? `${rule} (set through the API)` : rule;
}

function renderHealth(ready) {
  const list = el(
    'ul',
    { class: 'checks' },
    ready.checks.map((c) =>
      el(
        'li',
        { dataset: { ok: String(c.ok), check: c.name } },
        el('span', { class: 'check-mark', 'aria-hidden': 'true' }, c.ok ? '✔' : '✖'),
        el('span', { class: 'check-name' }, c.name),
        el('span', { class: 'check-result' }, c.ok ? `ok, ${c.ms} ms` : `failing: ${c.error ?? 'no answer'}`),
      ),
    ),
  );
  $('health-body').replaceChildren(
    el(
      'p',
      { class: 'health-status', dataset: { state: ready.status } },
      ready.status === 'ready' ? 'Ready' : `Not ready: ${ready.failed.join(', ')}`,
    ),
    list,
  );
}

function renderCounts(stats) {
  $('counts-body').replaceChildren(
    el(
      'ul',
      { class: 'tiles' },
      el(
        'li',
        {},
        el(
          'a',
          { href: '/files', dataset: { state: 'all' } },
          el('span', { class: 'count' }, fmtCount(stats.total)),
          el('span', {}, 'all'),
        ),
      ),
      STATES.map((state) =>
        el(
          'li',
          {},
          el(
            'a',
            { href: `/files?state=${state}`, dataset: { state } },
            el('span', { class: 'count' }, fmtCount(stats.files[state])),
            el('span', {}, state),
          ),
        ),
      ),
    ),
  );
}

function renderSchedule(schedule) {
  $('schedule-rule').textContent = describeSchedule(schedule);
  $('schedule-next').replaceChildren(schedule.nextRunAt ? timeEl(schedule.nextRunAt) : 'not scheduled');
}

function renderScans(scans) {
  const rows = scans.map((s) =>
    el(
      'tr',
      { dataset: { scan: s.id } },
      el('td', { 'data-label': 'Requested' }, timeEl(s.requestedAt)),
      el('td', { 'data-label': 'Trigger' }, s.trigger),
      el('td', { 'data-label': 'Status' }, stateBadge(s.status)),
      el('td', { 'data-label': 'Listed', class: 'num' }, fmtCount(s.listed)),
      el('td', { 'data-label': 'Recorded', class: 'num' }, fmtCount(s.recorded)),
      el('td', { 'data-label': 'Duration' }, between(s.startedAt, s.finishedAt ?? s.updatedAt)),
      el('td', { 'data-label': 'Error', class: 'error' }, s.error ?? ''),
    ),
  );
  $('scans-rows').replaceChildren(...rows);
  $('scans-empty').hidden = rows.length > 0;
}

/**
 * The instances sharing the ledger (GET /api/instances, with a PostgreSQL ledger): shown only where
 * the API lists them. A silent instance (no heartbeat) is what an operator must notice.
 */
function renderInstances(body) {
  const box = $('instances');
  const instances = body?.instances;
  if (!Array.isArray(instances)) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  const rows = instances.map((i) =>
    el(
      'tr',
      { dataset: { instance: i.id, status: i.status } },
      el('th', { scope: 'row', class: 'key', 'data-label': 'Instance' }, i.id, i.self ? ' (this one)' : ''),
      el('td', { 'data-label': 'Status' }, stateBadge(i.status)),
      el('td', { 'data-label': 'Converting', class: 'num' }, fmtCount(i.filesInFlight)),
      el('td', { 'data-label': 'Started' }, timeEl(i.startedAt)),
      el('td', { 'data-label': 'Last heartbeat' }, timeEl(i.lastHeartbeatAt)),
      el('td', { 'data-label': 'Stopped' }, timeEl(i.stoppedAt)),
    ),
  );
  $('instances-body').replaceChildren(
    cardTable(
      ['Instance', 'Status', 'Converting', 'Started', 'Last heartbeat', 'Stopped'],
      el('tbody', {}, rows),
      new Set(['Converting']),
    ),
  );
}

/** A table that becomes labelled cards on a narrow screen; `numeric` names the right-aligned columns. */
function cardTable(headers, body, numeric = new Set()) {
  return el(
    'div',
    { class: 'table-wrap' },
    el(
      'table',
      { class: 'cards' },
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          headers.map((h) => el('th', { scope: 'col', class: numeric.has(h) ? 'num' : undefined }, h)),
        ),
      ),
      body,
    ),
  );
}

function renderCharts(timeline) {
  const hours = timeline.hours;
  $('charts-body').replaceChildren(
    barChart(hours, { label: 'Files converted per hour', valueAt: (h) => h.files, unit: 'files' }),
    barChart(hours, { label: 'Items converted per hour', valueAt: (h) => h.items, unit: 'items' }),
    barChart(hours, {
      label: 'Failed files per hour',
      valueAt: (h) => h.failures,
      unit: 'failures',
      tone: 'bad',
    }),
    lagChart(hours, 'Upload → JSON lag'),
  );
}

async function followScan(location, status) {
  for (;;) {
    const scan = await getJson(location);
    status.textContent = `Scan ${scan.id}: ${scan.status} (${scan.listed} listed, ${scan.recorded} new)`;
    if (scan.status === 'done' || scan.status === 'failed') {
      if (scan.error) status.textContent += `: ${scan.error}`;
      return;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

function scheduleForm(refresh) {
  const preview = el('ol', { id: 'preview-runs', class: 'runs' });
  const previewStatus = el('p', { id: 'preview-status', role: 'status' });
  const saveStatus = el('p', { id: 'schedule-status', role: 'status' });
  const hours = el('input', {
    id: 'interval-hours',
    type: 'number',
    min: '0.0167',
    max: '8784',
    step: 'any',
    value: '3',
    inputmode: 'decimal',
  });
  const cron = el('input', {
    id: 'cron',
    type: 'text',
    placeholder: '0 */3 * * *',
    spellcheck: 'false',
    autocomplete: 'off',
    'aria-describedby': 'cron-hint',
  });
  const kind = () => document.querySelector('input[name="schedule-kind"]:checked')?.value ?? 'interval';
  const setting = () =>
    kind() === 'cron' ? { cron: cron.value.trim() } : { intervalHours: Number(hours.value) };

  let previewTimer = null;
  const updatePreview = () => {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(async () => {
      hours.disabled = kind() !== 'interval';
      cron.disabled = kind() !== 'cron';
      const s = setting();
      const query =
        'cron' in s
          ? `cron=${encodeURIComponent(s.cron)}`
          : `intervalHours=${encodeURIComponent(s.intervalHours)}`;
      if (('cron' in s && !s.cron) || ('intervalHours' in s && !(s.intervalHours > 0))) {
        preview.replaceChildren();
        previewStatus.textContent = 'Enter a schedule to see its next runs.';
        return;
      }
      try {
        const body = await getJson(`/api/schedule/preview?${query}&count=5`);
        preview.replaceChildren(...body.runs.map((r) => el('li', {}, timeEl(r))));
        previewStatus.textContent = 'Next runs if saved:';
      } catch (err) {
        preview.replaceChildren();
        previewStatus.textContent = `Not a valid schedule: ${err.message}`;
      }
    }, 250);
  };

  const form = el(
    'form',
    {
      id: 'schedule-form',
      onsubmit: async (event) => {
        event.preventDefault();
        saveStatus.textContent = 'Saving…';
        try {
          const { data } = await send('PUT', '/api/schedule', setting());
          saveStatus.textContent = `Saved: ${describeSchedule(data)}${data.nextRunAt ? `, next scan ${fmtTime(data.nextRunAt)}` : ''}.`;
          renderSchedule(data);
          refresh();
        } catch (err) {
          saveStatus.textContent = `Not saved. ${err.message}`;
        }
      },
    },
    el(
      'fieldset',
      {},
      el('legend', {}, 'Change the schedule'),
      el(
        'div',
        { class: 'kind' },
        el(
          'label',
          {},
          el('input', {
            type: 'radio',
            name: 'schedule-kind',
            value: 'interval',
            checked: true,
            onchange: updatePreview,
          }),
          ' Every N hours',
        ),
        el(
          'label',
          {},
          el('input', { type: 'radio', name: 'schedule-kind', value: 'cron', onchange: updatePreview }),
          ' Cron expression',
        ),
      ),
      el('div', { class: 'field' }, el('label', { for: 'interval-hours' }, 'Hours between scans'), hours),
      el(
        'div',
        { class: 'field' },
        el('label', { for: 'cron' }, 'Cron expression'),
        cron,
        el(
          'small',
          { id: 'cron-hint' },
          'minute hour day month weekday, in the service’s time zone; e.g. 0 6-22/2 * * 1-5',
        ),
      ),
      previewStatus,
      preview,
      el('button', { type: 'submit' }, 'Save schedule'),
      saveStatus,
    ),
  );
  hours.addEventListener('input', updatePreview);
  cron.addEventListener('input', updatePreview);
  updatePreview();
  return form;
}

export function renderOverview(view) {
  document.title = 'Overview · file-transformer';
  const scanStatus = el('p', { id: 'scan-status', role: 'status' });
  let refresh = () => {};
  const scanButton = actionButton({
    id: 'scan-now',
    label: 'Scan now',
    status: scanStatus,
    busy: 'Starting a scan…',
    failed: 'Scan not started.',
    run: async () => {
      const { res } = await send('POST', '/api/scans');
      await followScan(res.headers.get('location'), scanStatus);
      refresh();
    },
  });

  const loadError = el('p', { id: 'load-error', role: 'alert', class: 'error' });
  view.replaceChildren(
    el('h1', {}, 'Overview'),
    loadError,
    el(
      'div',
      { class: 'grid' },
      section('health', 'Health', el('div', { id: 'health-body' }, 'Loading…')),
      section('counts', 'Files by state', el('div', { id: 'counts-body' }, 'Loading…')),
      section(
        'schedule',
        'Scans',
        el('p', {}, 'Schedule: ', el('span', { id: 'schedule-rule' }, '…')),
        el('p', {}, 'Next scheduled scan: ', el('span', { id: 'schedule-next' }, '…')),
        el('div', { class: 'actions' }, scanButton),
        scanStatus,
        el(
          'details',
          {},
          el('summary', {}, 'Change the schedule'),
          scheduleForm(() => refresh()),
        ),
      ),
    ),
    section(
      'scans',
      'Last scans',
      cardTable(
        ['Requested', 'Trigger', 'Status', 'Listed', 'Recorded', 'Duration', 'Error'],
        el('tbody', { id: 'scans-rows' }),
      ),
      el('p', { id: 'scans-empty', hidden: true }, 'No scan yet.'),
    ),
    el(
      'section',
      { id: 'instances', 'aria-labelledby': 'instances-title', hidden: true },
      el('h2', { id: 'instances-title' }, 'Instances'),
      el('div', { id: 'instances-body' }),
    ),
    section('charts', 'Last 24 hours', el('div', { id: 'charts-body', class: 'charts' }, 'Loading…')),
  );

  refresh = poll(
    async () => {
      const [ready, stats, schedule, scans, timeline, instances] = await Promise.all([
        getJson('/health/ready', { allow: [503] }),
        getJson('/api/stats'),
        getJson('/api/schedule'),
        getJson('/api/scans?limit=10'),
        getJson('/api/stats/timeline?hours=24'),
        getJson('/api/instances').catch(() => null),
      ]);
      renderHealth(ready);
      renderCounts(stats);
      renderSchedule(schedule);
      renderScans(scans.scans);
      renderInstances(instances);
      renderCharts(timeline);
    },
    5000,
    (err) => {
      loadError.textContent = err ? `Could not load: ${err.message}` : '';
    },
  );
}
