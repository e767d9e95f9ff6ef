// api.js: the HTTP API (docs/openapi.yaml), the API key, the error banner and the
// event queue (impressions and row scrolls are batched and flushed every second).

const KEY_STORAGE = 'marquee.apiKey';

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export function apiKey() {
  try { return localStorage.getItem(KEY_STORAGE) || ''; } catch { return ''; }
}

export function setApiKey(key) {
  try {
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
  } catch { /* storage disabled: the key lasts for this page only */ }
}

// ------------------------------------------------------------------ banner ----

export function showError(message) {
  const banner = document.getElementById('banner');
  document.getElementById('banner-text').textContent = message;
  banner.hidden = false;
  banner.classList.toggle('auth', /API key/.test(message));
}

export function clearError() {
  document.getElementById('banner').hidden = true;
}

let unauthorizedHandler = () => {};
export function onUnauthorized(fn) { unauthorizedHandler = fn; }

function describe(method, path, err) {
  if (err.status === 401)
    return apiKey()
      ? `The server refused the API key (${err.message}). Check it under Settings.`
      : `This server needs an API key: enter it under Settings (${err.message}).`;
  const what = err.status ? `${method} ${path.split('?')[0]} failed (${err.status})` :
                            `${method} ${path.split('?')[0]} failed`;
  return `${what}: ${err.message}`;
}

// Reports an error of an API call in the banner (unless told to stay quiet).
export function report(err, method = 'GET', path = '') {
  if (!(err instanceof ApiError)) err = new ApiError(0, String(err && err.message || err));
  if (err.status === 401) unauthorizedHandler();
  showError(describe(method, path || err.path || '', err));
}

// ------------------------------------------------------------------ fetch -----

// api('/v1/...', {method, body}) -> the parsed JSON answer (null for 204). A non-2xx
// answer throws an ApiError carrying the server's {"error": "..."} message.
export async function api(path, {method = 'GET', body, quiet = false, keepalive = false} = {}) {
  const headers = {Accept: 'application/json'};
  const key = apiKey();
  if (key) headers['X-API-Key'] = key;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method, headers, keepalive,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    const err = new ApiError(0, `the server did not answer (${e.message})`);
    err.path = path;
    if (!quiet) report(err, method, path);
    throw err;
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const message = (data && typeof data.error === 'string' && data.error) ||
                    text.slice(0, 300) || res.statusText || 'no answer';
    const err = new ApiError(res.status, message, data);
    err.path = path;
    if (!quiet) report(err, method, path);
    throw err;
  }
  return data;
}

// ------------------------------------------------------------------ events ----

const session = Math.random().toString(36).slice(2, 10) + Date.now().toString(36);
let seq = 0;
const tzOffset = -new Date().getTimezoneOffset();

// An event with the common fields filled in (docs/data-model.md): device "web".
export function makeEvent(profile, type, fields = {}) {
  return {
    event_id: `web-${session}-${++seq}`,
    profile,
    type,
    ts: Date.now(),
    context: {device: 'web', tz_offset_min: Math.max(-840, Math.min(840, tzOffset))},
    ...fields,
  };
}

// Posts events now; resolves with the ingest result. Rejected events are shown.
export async function postEvents(events) {
  if (!events.length) return {accepted: 0, duplicates: 0, rejected: []};
  const res = await api('/v1/events', {method: 'POST', body: events});
  if (res && Array.isArray(res.rejected) && res.rejected.length) {
    const r = res.rejected[0];
    showError(`POST /v1/events: ${res.rejected.length} event(s) rejected: ${r.error || 'no reason'}`);
  }
  return res;
}

// The queue for impressions and row scrolls: flushed every second, on demand
// (window.marquee.flush(), used by the tests) and when the page is hidden.
const queue = [];
export const stats = {queued: 0, sent: 0, failed: 0, byType: {}};

export function enqueue(ev) {
  queue.push(ev);
  stats.queued++;
  stats.byType[ev.type] = (stats.byType[ev.type] || 0) + 1;
}

let flushing = null;
export function flush({keepalive = false} = {}) {
  if (flushing) return flushing.then(() => (queue.length ? flush({keepalive}) : undefined));
  if (!queue.length) return Promise.resolve();
  const batch = queue.splice(0, 500);
  flushing = postEvents(batch)
    .then(() => { stats.sent += batch.length; })
    .catch(() => { stats.failed += batch.length; })
    .finally(() => { flushing = null; });
  return flushing.then(() => (queue.length ? flush({keepalive}) : undefined));
}

setInterval(() => { flush(); }, 1000);
addEventListener('pagehide', () => {
  if (!queue.length) return;
  const batch = queue.splice(0);
  const headers = {'Content-Type': 'application/json'};
  const key = apiKey();
  if (key) headers['X-API-Key'] = key;
  fetch('/v1/events', {method: 'POST', headers, body: JSON.stringify(batch), keepalive: true})
    .catch(() => {});
});
