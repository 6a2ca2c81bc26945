// Shared by every view: DOM building (text only, never HTML from data), the API client with the
// token prompt, formatting, and polling that pauses while the tab is hidden.

const TOKEN_KEY = 'ft-token';

export const $ = (id) => document.getElementById(id);

/** el('td', { class: 'key', dataset: { state } }, 'text', child, ...): attributes and text children. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'dataset') Object.assign(node.dataset, value);
    else if (name === 'class') node.className = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

async function readBody(res) {
  const text = await res.text();
  try {
    return text ? JSON.parse(text) : {};
  } catch {
    return { message: text };
  }
}

/** GET a JSON document; 503 from /health/ready is an answer, not an error. */
export async function getJson(path, { allow = [] } = {}) {
  const res = await fetch(path, { headers: { accept: 'application/json' } });
  const body = await readBody(res);
  if (!res.ok && !allow.includes(res.status)) {
    throw new ApiError(res.status, body.message || `${res.status} ${res.statusText}`);
  }
  return body;
}

let tokenRequest = null;

/** Shows the token form with the API's refusal; resolves true once a token was entered, false on cancel. */
function askToken(reason) {
  const form = $('token-form');
  // Keyboard users go back to the control that asked, once the token is given or refused.
  const returnTo = form.contains(document.activeElement) ? null : document.activeElement;
  $('token-reason').textContent = reason;
  form.hidden = false;
  $('token').value = '';
  $('token').focus();
  tokenRequest ??= new Promise((resolve) => {
    const done = (ok) => {
      form.hidden = true;
      form.removeEventListener('submit', onSubmit);
      form.removeEventListener('keydown', onKey);
      $('token-cancel').removeEventListener('click', onCancel);
      tokenRequest = null;
      returnTo?.focus();
      resolve(ok);
    };
    const onSubmit = (event) => {
      event.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
      $('token').value = '';
      done(true);
    };
    const onCancel = () => done(false);
    const onKey = (event) => {
      if (event.key === 'Escape') onCancel();
    };
    form.addEventListener('submit', onSubmit);
    form.addEventListener('keydown', onKey);
    $('token-cancel').addEventListener('click', onCancel);
  });
  return tokenRequest;
}

/**
 * A call that changes something. On 401 the API's own words are shown with the token form; the call
 * is sent again with the token entered, until it is accepted or the operator cancels.
 */
export async function send(method, path, body) {
  for (;;) {
    const headers = { accept: 'application/json' };
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await readBody(res);
    if (res.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      const refusal = `The service refused: ${data.message || 'unauthorized'}.`;
      if (await askToken(`${refusal} Enter its API token to continue.`)) continue;
      throw new ApiError(401, refusal);
    }
    if (!res.ok) throw new ApiError(res.status, data.message || `${res.status} ${res.statusText}`);
    return { res, data };
  }
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const hourMinute = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

export function fmtTime(iso) {
  return iso ? dateTime.format(new Date(iso)) : '';
}

export function fmtHour(iso) {
  return hourMinute.format(new Date(iso));
}

/** A <time> element: local time shown, ISO (UTC) in datetime and the tooltip. */
export function timeEl(iso) {
  if (!iso) return '';
  return el('time', { datetime: iso, title: iso }, fmtTime(iso));
}

export function fmtDuration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  const h = Math.floor(m / 60);
  return `${h} h ${m % 60} min`;
}

export function between(startIso, endIso) {
  return startIso && endIso ? fmtDuration(Date.parse(endIso) - Date.parse(startIso)) : '';
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return '';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function fmtCount(n) {
  return n === null || n === undefined ? '' : Number(n).toLocaleString();
}

/** Where a key's page is: /files/<key, one encoded segment>. */
export function fileHref(key) {
  return `/files/${encodeURIComponent(key)}`;
}

export function stateBadge(state) {
  return el('span', { class: 'state', dataset: { state } }, state);
}

/** Says `text` to screen readers (a polite live region). */
export function announce(text) {
  $('announce').textContent = text;
}

/**
 * Runs `tick` now and every `ms` while the tab is visible (at once again when it becomes visible).
 * A tick that throws shows its message through `onError`; the next one tries again.
 */
export function poll(tick, ms, onError) {
  let timer = null;
  let running = false;
  let again = false;
  const run = async () => {
    clearTimeout(timer);
    // A call while a tick is in flight (the operator changed something) runs once more right after it.
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      await tick();
      onError?.(null);
    } catch (err) {
      onError?.(err);
    } finally {
      running = false;
    }
    if (again) {
      again = false;
      return run();
    }
    if (!document.hidden) timer = setTimeout(run, ms);
  };
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) run();
  });
  run();
  return run;
}

/**
 * A button for a call that changes something: inert while `run` works (aria-disabled, so it keeps
 * keyboard focus, unlike `disabled`), its progress and outcome in `status` (`busy` first; `run`'s own
 * text after; "<failed> <the API's reason>" when it throws).
 */
export function actionButton({ id, label, status, busy, failed, run }) {
  const button = el(
    'button',
    {
      id,
      type: 'button',
      onclick: async () => {
        if (button.getAttribute('aria-disabled') === 'true') return;
        button.setAttribute('aria-disabled', 'true');
        status.textContent = busy;
        try {
          await run();
        } catch (err) {
          status.textContent = `${failed} ${err.message}`;
        } finally {
          button.removeAttribute('aria-disabled');
        }
      },
    },
    label,
  );
  return button;
}

/** A section with a heading (h2) whose id labels it. */
export function section(id, title, ...children) {
  return el(
    'section',
    { id, 'aria-labelledby': `${id}-title` },
    el('h2', { id: `${id}-title` }, title),
    ...children,
  );
}

/** Keeps an element's children in step with `items` keyed by `keyOf`, so focus and scroll survive. */
export function reconcile(parent, items, keyOf, create, update) {
  const existing = new Map([...parent.children].map((child) => [child.dataset.rowKey, child]));
  let previous = null;
  for (const item of items) {
    const key = String(keyOf(item));
    let node = existing.get(key);
    if (node) {
      existing.delete(key);
      update(node, item);
    } else {
      node = create(item);
      node.dataset.rowKey = key;
    }
    const expectedPosition = previous ? previous.nextSibling : parent.firstChild;
    if (node !== expectedPosition) parent.insertBefore(node, expectedPosition);
    previous = node;
  }
  for (const stale of existing.values()) stale.remove();
}
