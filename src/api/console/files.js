// The files table: filter by state, search by key prefix, newest or oldest first, paged with the
// API's cursor. The filters and the page live in the URL (so back/forward and links keep the
// operator's place), and the page refreshes in place every 3 s: rows change state where they are,
// new files appear on the first page, and later pages say that newer files arrived.
import { announce, el, fileHref, fmtCount, getJson, poll, reconcile, stateBadge, timeEl } from './common.js';

const STATES = ['pending', 'processing', 'done', 'failed', 'skipped', 'gone'];
const PAGE_SIZE = 50;

function readLocation() {
  const params = new URLSearchParams(location.search);
  return {
    state: STATES.includes(params.get('state')) ? params.get('state') : '',
    prefix: params.get('prefix') ?? '',
    order: params.get('order') === 'oldest' ? 'oldest' : 'newest',
    cursor: params.get('cursor') ?? '',
    // Cursors of the pages before this one ('' is the first page): "Newer" goes back through them.
    previous: Array.isArray(history.state?.previous) ? history.state.previous : [],
  };
}

function urlOf(q) {
  const params = new URLSearchParams();
  if (q.state) params.set('state', q.state);
  if (q.prefix) params.set('prefix', q.prefix);
  if (q.order !== 'newest') params.set('order', q.order);
  if (q.cursor) params.set('cursor', q.cursor);
  const search = params.toString();
  return search ? `/files?${search}` : '/files';
}

function apiQuery(q, { cursor = q.cursor, limit = PAGE_SIZE } = {}) {
  const params = new URLSearchParams({ limit: String(limit), order: q.order });
  if (q.state) params.set('status', q.state);
  if (q.prefix) params.set('prefix', q.prefix);
  if (cursor) params.set('cursor', cursor);
  return `/api/files?${params}`;
}

const cellsOf = (f) => [
  ['State', stateBadge(f.state)],
  ['Attempts', fmtCount(f.attempts), 'num'],
  ['Items', fmtCount(f.itemsWritten), 'num'],
  ['Rejected', fmtCount(f.itemsRejected), 'num'],
  ['Discovered', timeEl(f.discoveredAt)],
  ['Finished', timeEl(f.finishedAt)],
  ['Error', f.error ?? '', 'error'],
];

/** What a row shows, to skip rebuilding rows that did not change. */
const signature = (f) =>
  [f.state, f.attempts, f.itemsWritten, f.itemsRejected, f.finishedAt, f.error].join('|');

function createRow(f) {
  const row = el(
    'tr',
    { dataset: { key: f.key, state: f.state } },
    el('th', { scope: 'row', class: 'key', 'data-label': 'Key' }, el('a', { href: fileHref(f.key) }, f.key)),
  );
  updateRow(row, f);
  return row;
}

function updateRow(row, f) {
  const sig = signature(f);
  if (row.dataset.sig === sig) return;
  row.dataset.sig = sig;
  row.dataset.state = f.state;
  while (row.children.length > 1) row.lastChild.remove();
  for (const [label, content, cls] of cellsOf(f))
    row.append(el('td', { 'data-label': label, class: cls }, content));
}

export function renderFiles(view) {
  document.title = 'Files · file-transformer';
  let q = readLocation();
  let newestSeen = 0;

  const stateSelect = el(
    'select',
    { id: 'filter-state' },
    el('option', { value: '' }, 'all states'),
    STATES.map((s) => el('option', { value: s }, s)),
  );
  const prefixInput = el('input', {
    id: 'filter-prefix',
    type: 'search',
    placeholder: 'e.g. partner/2026/',
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const orderSelect = el(
    'select',
    { id: 'filter-order' },
    el('option', { value: 'newest' }, 'newest first'),
    el('option', { value: 'oldest' }, 'oldest first'),
  );
  const rows = el('tbody', { id: 'file-rows' });
  const summary = el('p', { id: 'files-summary', role: 'status' });
  const error = el('p', { id: 'files-error', role: 'alert', class: 'error' });
  const newer = el('button', { id: 'page-newer', type: 'button', class: 'secondary' }, '← Newer');
  const older = el('button', { id: 'page-older', type: 'button', class: 'secondary' }, 'Older →');
  const first = el('button', { id: 'page-first', type: 'button', class: 'secondary' }, 'First page');
  const pageLabel = el('span', { id: 'page-number' });
  const arrived = el(
    'p',
    { id: 'files-arrived', class: 'notice', hidden: true },
    'Newer files have arrived. ',
    el(
      'button',
      { type: 'button', class: 'link', onclick: () => go({ cursor: '', previous: [] }) },
      'Show the newest',
    ),
  );
  let nextCursor = null;

  view.replaceChildren(
    el('h1', {}, 'Files'),
    el(
      'form',
      { role: 'search', class: 'filters', 'aria-label': 'Filter files', onsubmit: (e) => e.preventDefault() },
      el('div', { class: 'field' }, el('label', { for: 'filter-state' }, 'State'), stateSelect),
      el(
        'div',
        { class: 'field grow' },
        el('label', { for: 'filter-prefix' }, 'Key starts with'),
        prefixInput,
      ),
      el('div', { class: 'field' }, el('label', { for: 'filter-order' }, 'Order'), orderSelect),
    ),
    summary,
    arrived,
    error,
    el(
      'div',
      { class: 'table-wrap panel' },
      el(
        'table',
        { class: 'cards files' },
        el('caption', { class: 'visually-hidden' }, 'Files in the ledger, one row per object version'),
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            ['Key', 'State', 'Attempts', 'Items', 'Rejected', 'Discovered', 'Finished', 'Error'].map((h) =>
              el('th', { scope: 'col' }, h),
            ),
          ),
        ),
        rows,
      ),
    ),
    el('nav', { class: 'pager', 'aria-label': 'Pages' }, first, newer, pageLabel, older),
  );

  const showControls = () => {
    stateSelect.value = q.state;
    if (document.activeElement !== prefixInput) prefixInput.value = q.prefix;
    orderSelect.value = q.order;
    pageLabel.textContent = `Page ${q.previous.length + 1}`;
    newer.disabled = q.previous.length === 0;
    first.hidden = q.previous.length < 2;
    older.disabled = nextCursor === null;
  };

  async function load({ announceNew = false } = {}) {
    const asked = q;
    const page = await getJson(apiQuery(q));
    // The operator changed the query or page while this answer was on its way: it is not theirs.
    if (q !== asked) return;
    nextCursor = page.nextCursor;
    const before = new Set([...rows.children].map((r) => r.dataset.rowKey));
    reconcile(rows, page.files, (f) => f.id, createRow, updateRow);
    const added = page.files.filter((f) => !before.has(String(f.id))).length;
    if (announceNew && added > 0 && before.size > 0) announce(`${added} new file${added === 1 ? '' : 's'}`);
    const what = [q.state || null, q.prefix ? `key starting with “${q.prefix}”` : null]
      .filter(Boolean)
      .join(', ');
    summary.textContent =
      page.files.length === 0
        ? `No files${what ? ` (${what})` : ''}.`
        : `Showing ${page.files.length} file${page.files.length === 1 ? '' : 's'}${what ? ` (${what})` : ''}, ${q.order} first.`;
    showControls();
    if (q.order === 'newest') {
      const top =
        q.previous.length === 0
          ? page.files[0]
          : (await getJson(apiQuery(q, { cursor: '', limit: 1 }))).files[0];
      if (q !== asked) return;
      if (q.previous.length === 0 || newestSeen === 0) newestSeen = Math.max(newestSeen, top?.id ?? 0);
      arrived.hidden = !(q.previous.length > 0 && top && top.id > newestSeen);
    } else {
      arrived.hidden = true;
    }
  }

  const refresh = poll(
    () => load({ announceNew: true }),
    3000,
    (err) => {
      error.textContent = err ? `Could not load the files: ${err.message}` : '';
    },
  );

  /** A new query or page: it gets its own history entry, so Back returns to where the operator was. */
  function go(change, { replace = false } = {}) {
    q = { ...q, ...change };
    const state = { previous: q.previous };
    if (replace) history.replaceState(state, '', urlOf(q));
    else history.pushState(state, '', urlOf(q));
    rows.replaceChildren();
    if ('state' in change || 'prefix' in change || 'order' in change) newestSeen = 0;
    refresh();
  }

  stateSelect.addEventListener('change', () => go({ state: stateSelect.value, cursor: '', previous: [] }));
  orderSelect.addEventListener('change', () => go({ order: orderSelect.value, cursor: '', previous: [] }));
  let typing = null;
  prefixInput.addEventListener('input', () => {
    clearTimeout(typing);
    // One history entry per search, not per keystroke.
    typing = setTimeout(
      () => go({ prefix: prefixInput.value, cursor: '', previous: [] }, { replace: true }),
      300,
    );
  });
  older.addEventListener('click', () => {
    if (nextCursor) go({ cursor: nextCursor, previous: [...q.previous, q.cursor] });
  });
  newer.addEventListener('click', () => {
    if (q.previous.length > 0) go({ cursor: q.previous.at(-1), previous: q.previous.slice(0, -1) });
  });
  first.addEventListener('click', () => go({ cursor: '', previous: [] }));
  window.addEventListener('popstate', () => {
    q = readLocation();
    rows.replaceChildren();
    refresh();
  });
  history.replaceState({ previous: q.previous }, '', urlOf(q));
  showControls();
}
