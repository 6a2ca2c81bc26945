// The console's entry point: picks the view from the URL (/, /files, /files/<key>) and keeps the
// readiness badge in the header current.

import { $, getJson, poll } from './common.js';
import { renderFile } from './file.js';
import { renderFiles } from './files.js';
import { renderOverview } from './overview.js';

function route() {
  const view = $('view');
  const path = location.pathname;
  const match = /^\/files\/(.+)$/.exec(path);
  let nav = 'overview';
  if (match) {
    nav = 'files';
    renderFile(view, decodeURIComponent(match[1]));
  } else if (path === '/files' || path === '/files/') {
    nav = 'files';
    renderFiles(view);
  } else {
    renderOverview(view);
  }
  for (const link of document.querySelectorAll('[data-nav]')) {
    if (link.dataset.nav === nav) link.setAttribute('aria-current', 'page');
  }
}

function watchReadiness() {
  const badge = $('ready');
  poll(
    async () => {
      const ready = await getJson('/health/ready', { allow: [503] });
      badge.dataset.state = ready.status;
      badge.textContent = ready.status === 'ready' ? 'ready' : `not ready: ${ready.failed.join(', ')}`;
    },
    10000,
    (err) => {
      if (!err) return;
      badge.dataset.state = 'not ready';
      badge.textContent = 'service unreachable';
    },
  );
}

route();
watchReadiness();
