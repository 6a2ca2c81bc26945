// One file's page, at /files/<key>: every version (ETag, size, discovery, timings, attempts, error),
// the selected version's report (rejected items by line, warnings, the file's error), downloads of
// the JSON output and the report through the API, and "Reprocess". Refreshed every 3 s.
import {
  actionButton,
  announce,
  between,
  el,
  fmtBytes,
  fmtCount,
  getJson,
  poll,
  section,
  send,
  stateBadge,
  timeEl,
} from './common.js';

/** Rows shown before "show all": a report keeps up to 10,000 entries of each kind. */
const FIRST_ROWS = 200;

function keyPath(key) {
  return encodeURIComponent(key);
}

function versionCard(v, selected, onSelect) {
  const facts = [
    ['State', stateBadge(v.state)],
    ['ETag', el('code', {}, v.etag)],
    ['Size', fmtBytes(v.size)],
    ['Uploaded', timeEl(v.lastModified ?? v.eventTime)],
    [
      'Discovered',
      [v.discoveredBy === 'api' ? 'by the API' : `by ${v.discoveredBy}`, ', ', timeEl(v.discoveredAt)],
    ],
    ['Attempts', fmtCount(v.attempts)],
    ['Started', timeEl(v.startedAt)],
    ['Finished', timeEl(v.finishedAt)],
    ['Conversion took', between(v.startedAt, v.finishedAt)],
    ['Upload → JSON', between(v.lastModified ?? v.eventTime, v.finishedAt)],
    ['Items written', fmtCount(v.itemsWritten)],
    ['Items rejected', fmtCount(v.itemsRejected)],
    ['Bytes converted', fmtBytes(v.bytes)],
  ];
  if (v.state === 'pending' && v.nextAttemptAt) facts.push(['Next attempt', timeEl(v.nextAttemptAt)]);
  if (v.state === 'processing' && v.leaseOwner) facts.push(['Converting on', v.leaseOwner]);
  if (v.forced) facts.push(['Reprocess', 'requested']);
  const etagParam = `?etag=${encodeURIComponent(v.etag)}`;
  const downloads = el(
    'p',
    { class: 'downloads' },
    v.outputKey
      ? el(
          'a',
          { href: `/api/outputs/${keyPath(v.key)}${etagParam}`, download: '', class: 'download-output' },
          'Download JSON',
        )
      : null,
    v.reportKey || v.report
      ? el(
          'a',
          { href: `/api/reports/${keyPath(v.key)}${etagParam}`, download: '', class: 'download-report' },
          'Download report',
        )
      : null,
  );
  return el(
    'article',
    {
      class: `version${selected ? ' selected' : ''}`,
      dataset: { etag: v.etag, state: v.state },
      'aria-label': `Version ${v.etag}`,
    },
    el('h3', {}, `Version ${v.etag.slice(0, 12)}${v.etag.length > 12 ? '…' : ''}`),
    el(
      'dl',
      { class: 'facts' },
      facts.map(([term, value]) => el('div', {}, el('dt', {}, term), el('dd', {}, value))),
    ),
    v.error
      ? el(
          'p',
          { class: 'error version-error' },
          el('strong', {}, v.state === 'failed' ? 'Failed: ' : 'Last error: '),
          v.error,
        )
      : null,
    downloads,
    selected
      ? el('p', { class: 'hint' }, 'Its report is shown below.')
      : el(
          'button',
          { type: 'button', class: 'secondary', onclick: () => onSelect(v.etag) },
          'Show its report',
        ),
  );
}

function entriesTable(id, caption, entries, total) {
  if (!entries?.length) return el('p', { id: `${id}-none` }, `No ${caption.toLowerCase()}.`);
  const body = el('tbody', {});
  const addRows = (from, to) => {
    for (const e of entries.slice(from, to)) {
      body.append(
        el(
          'tr',
          {},
          el('td', { 'data-label': 'Line', class: 'num' }, e.line ?? ''),
          el('td', { 'data-label': 'Product id', class: 'key' }, e.id ?? '(none)'),
          el('td', { 'data-label': 'Field' }, e.field ?? ''),
          el('td', { 'data-label': 'Reason' }, e.reason ?? ''),
        ),
      );
    }
  };
  addRows(0, FIRST_ROWS);
  const more =
    entries.length > FIRST_ROWS
      ? el(
          'button',
          {
            type: 'button',
            class: 'secondary',
            onclick: (event) => {
              addRows(FIRST_ROWS, entries.length);
              event.currentTarget.remove();
            },
          },
          `Show all ${entries.length.toLocaleString()}`,
        )
      : null;
  const capped =
    total > entries.length
      ? el(
          'p',
          { class: 'hint' },
          `The report lists the first ${entries.length.toLocaleString()} of ${total.toLocaleString()}.`,
        )
      : null;
  return el(
    'div',
    {},
    el(
      'div',
      { class: 'table-wrap' },
      el(
        'table',
        { id, class: 'cards entries' },
        el('caption', { class: 'visually-hidden' }, `${caption} (${fmtCount(total)})`),
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            ['Line', 'Product id', 'Field', 'Reason'].map((h) =>
              el('th', { scope: 'col', class: h === 'Line' ? 'num' : undefined }, h),
            ),
          ),
        ),
        body,
      ),
    ),
    capped,
    more,
  );
}

function reportView(v) {
  const r = v.report;
  if (!r) {
    return el(
      'p',
      { id: 'report-none' },
      v.state === 'pending' || v.state === 'processing'
        ? 'Not converted yet.'
        : 'This version has no report.',
    );
  }
  const err = r.error;
  return el(
    'div',
    {},
    err
      ? el(
          'div',
          { id: 'report-error', class: 'file-error', role: 'note' },
          el('h3', {}, 'The file failed as a whole'),
          el('p', {}, err.line ? `Line ${err.line}: ` : '', err.message),
        )
      : null,
    el(
      'dl',
      { class: 'facts counts' },
      [
        ['Items seen', r.itemsSeen],
        ['Written', r.itemsWritten],
        ['Rejected', r.itemsRejected],
        ['Warnings', r.warningsTotal ?? r.warnings?.length ?? 0],
        ['Bytes read', fmtBytes(r.bytes)],
      ].map(([t, d]) =>
        el('div', {}, el('dt', {}, t), el('dd', {}, typeof d === 'number' ? fmtCount(d) : d)),
      ),
    ),
    el('h3', {}, `Rejected items (${fmtCount(r.itemsRejected ?? r.rejections?.length ?? 0)})`),
    entriesTable('rejections', 'Rejected items', r.rejections, r.itemsRejected ?? r.rejections?.length ?? 0),
    el('h3', {}, `Warnings (${fmtCount(r.warningsTotal ?? r.warnings?.length ?? 0)})`),
    entriesTable('warnings', 'Warnings', r.warnings, r.warningsTotal ?? r.warnings?.length ?? 0),
  );
}

export function renderFile(view, key) {
  document.title = `${key} · file-transformer`;
  let selected = null;
  let versions = [];
  let shownSignature = '';

  const actionStatus = el('p', { id: 'action-status', role: 'status' });
  const reprocess = actionButton({
    id: 'reprocess',
    label: 'Reprocess',
    status: actionStatus,
    busy: 'Requesting…',
    failed: 'Not reprocessed.',
    run: async () => {
      await send('POST', `/api/files/${keyPath(key)}/reprocess`);
      actionStatus.textContent = 'Queued for conversion again.';
      selected = null;
      refresh();
    },
  });
  const headState = el('span', { id: 'file-state' });
  const loadError = el('p', { id: 'load-error', role: 'alert', class: 'error' });
  const versionsBox = el('div', { id: 'versions', class: 'versions' });
  const reportBox = el('div', { id: 'report' });
  const reportTitle = el('h2', { id: 'report-title' }, 'Report');

  view.replaceChildren(
    el('p', { class: 'crumbs' }, el('a', { href: '/files' }, 'Files'), ' / '),
    el('h1', { class: 'key' }, key),
    el('div', { class: 'file-head' }, headState, reprocess),
    actionStatus,
    loadError,
    section('versions-section', 'Versions', versionsBox),
    el('section', { 'aria-labelledby': 'report-title' }, reportTitle, reportBox),
  );

  const render = () => {
    const current = versions.find((v) => v.etag === selected) ?? versions[0];
    // Rebuild only on change, so an expanded table or a focused button stays as it is.
    const sig = JSON.stringify([
      selected,
      versions.map((v) => [v.etag, v.state, v.attempts, v.finishedAt, v.error, v.forced, v.nextAttemptAt]),
    ]);
    if (sig === shownSignature) return;
    const previousState = shownSignature ? headState.textContent : null;
    shownSignature = sig;
    headState.replaceChildren('Latest version: ', stateBadge(versions[0].state));
    if (previousState && previousState !== headState.textContent) announce(`Now ${versions[0].state}`);
    versionsBox.replaceChildren(
      ...versions.map((v) =>
        versionCard(v, v === current, (etag) => {
          selected = etag;
          render();
          reportTitle.focus();
        }),
      ),
    );
    reportTitle.tabIndex = -1;
    reportTitle.textContent =
      versions.length > 1 ? `Report of version ${current.etag.slice(0, 12)}` : 'Report';
    reportBox.replaceChildren(reportView(current));
  };

  const refresh = poll(
    async () => {
      try {
        versions = (await getJson(`/api/files/${keyPath(key)}`)).versions;
      } catch (err) {
        if (err.status === 404) {
          versionsBox.replaceChildren(el('p', { id: 'not-found' }, `The ledger has no file with this key.`));
          reprocess.hidden = true;
          return;
        }
        throw err;
      }
      reprocess.hidden = false;
      render();
    },
    3000,
    (err) => {
      loadError.textContent = err ? `Could not load: ${err.message}` : '';
    },
  );
}
