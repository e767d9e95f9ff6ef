// cards.js: posters, match badges and the play / thumbs actions shared by the
// homepage and the title page.
import {api, makeEvent, postEvents, showError} from './api.js';
import {h, s, enc, hue} from './dom.js';

export const defaultArtwork = (title) => `/v1/titles/${enc(title)}/artwork/default`;

export function artworkUrl(title, artwork) {
  if (artwork && typeof artwork.url === 'string' && artwork.url) return artwork.url;
  if (artwork && artwork.id) return `/v1/titles/${enc(title)}/artwork/${enc(artwork.id)}`;
  return defaultArtwork(title);
}

// A 2:3 poster: the chosen artwork, else the server's placeholder, else one drawn here.
export function poster(title, name, artwork, {eager = false} = {}) {
  const wrap = h('span', {class: 'poster-art'});
  const img = h('img', {
    src: artworkUrl(title, artwork), alt: name || title, width: 200, height: 300,
    loading: eager ? 'eager' : 'lazy', decoding: 'async', draggable: 'false',
  });
  img.addEventListener('error', () => {
    const fallback = defaultArtwork(title);
    if (!img.dataset.fallback && !img.src.endsWith(fallback)) {
      img.dataset.fallback = '1';
      img.src = fallback;
      return;
    }
    img.replaceWith(h('span', {class: 'poster-fallback', style: `--h:${hue(title)}`},
      h('span', {class: 'poster-fallback-name', text: name || title})));
  });
  wrap.append(img);
  return wrap;
}

export function matchBadge(pct) {
  if (typeof pct !== 'number' || !Number.isFinite(pct)) return null;
  return h('span', {class: 'match', title: 'How likely you are to enjoy it', text: `${Math.round(pct)}% match`});
}

// ------------------------------------------------------------------ actions ---

// Icons as inline SVG (headless and minimal systems have no emoji font).
const THUMB = 'M8 10l4-7c1.5 0 2.6 1.2 2.2 2.9L13.4 10h6.1c1.4 0 2.4 1.3 2 2.6l-2 7c-.3.8-1 1.4-1.9 1.4H8z';
function icon(kind) {
  const svg = s('svg', {viewBox: '0 0 24 24', width: 16, height: 16, 'aria-hidden': 'true', class: 'icon'});
  if (kind === 'play') svg.append(s('path', {d: 'M7 4.5v15l12.5-7.5z', fill: 'currentColor'}));
  else if (kind === 'finish') svg.append(s('path', {d: 'M5 4.5v15l10-7.5zM16.5 4.5h2.5v15h-2.5z', fill: 'currentColor'}));
  else {
    const g = s('g', {fill: 'none', stroke: 'currentColor', 'stroke-width': 1.8, 'stroke-linejoin': 'round',
                      transform: kind === 'down' ? 'rotate(180 12 12)' : undefined},
      s('rect', {x: 2.5, y: 10, width: 3.5, height: 11, rx: 0.8}), s('path', {d: THUMB}));
    svg.append(g);
  }
  return svg;
}

export function toast(message) {
  const t = document.getElementById('toast');
  t.textContent = message;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 3500);
}

export async function thumbs(profile, title, value) {
  return api(`/v1/profiles/${enc(profile)}/thumbs`, {
    method: 'POST',
    body: {title, value, context: {device: 'web'}},
  });
}

async function runtimeSeconds(title) {
  try {
    const t = await api(`/v1/titles/${enc(title)}`, {quiet: true});
    if (t && typeof t.runtime_min === 'number' && t.runtime_min > 0) return t.runtime_min * 60;
  } catch { /* a title without a runtime: assume a film's length */ }
  return 100 * 60;
}

// A play: play_start, then play_progress and play_stop at 40% of the runtime, so
// that the title is in progress (Continue Watching). With finish, the title is
// watched to its end instead: play_start where it was, play_progress to the end
// and complete (it leaves Continue Watching).
export async function play(profile, title, {finish = false, from = 0, click = null} = {}) {
  const duration = await runtimeSeconds(title);
  const events = [];
  if (click) events.push(makeEvent(profile, 'click', {title, ...click}));
  const start = Math.max(0, Math.min(from || 0, duration * 0.95));
  events.push(makeEvent(profile, 'play_start', {title, position_s: start}));
  if (finish) {
    events.push(makeEvent(profile, 'play_progress', {title, position_s: duration, duration_s: duration}));
    events.push(makeEvent(profile, 'complete', {title, duration_s: duration}));
    events.push(makeEvent(profile, 'play_stop', {title, position_s: duration, duration_s: duration}));
  } else {
    const pos = Math.max(start, Math.round(duration * 0.4));
    events.push(makeEvent(profile, 'play_progress', {title, position_s: pos, duration_s: duration}));
    events.push(makeEvent(profile, 'play_stop', {title, position_s: pos, duration_s: duration}));
  }
  // Events of one play must keep their order: give them increasing timestamps.
  const t0 = Date.now();
  events.forEach((e, i) => { e.ts = t0 + i; });
  const res = await postEvents(events);
  if (!res || !res.accepted) showError('POST /v1/events: the play was not stored');
  return {duration, res};
}

// The buttons under a poster. onChange(kind, value) runs after a successful action.
export function actionButtons(profile, title, name, {thumb = null, inProgress = false, click = null,
                                                     onChange = () => {}} = {}) {
  const up = h('button', {type: 'button', class: 'act thumb-up', 'aria-label': `Thumbs up: ${name}`,
                          title: 'I like this', 'aria-pressed': String(thumb === 'up')}, icon('up'));
  const down = h('button', {type: 'button', class: 'act thumb-down', 'aria-label': `Thumbs down: ${name}`,
                            title: 'Not for me', 'aria-pressed': String(thumb === 'down')}, icon('down'));
  const playBtn = h('button', {type: 'button', class: 'act play', 'aria-label': `${inProgress ? 'Finish' : 'Play'}: ${name}`,
                               title: inProgress ? 'Resume and watch to the end' : 'Play (watches 40%)',
                               }, icon(inProgress ? 'finish' : 'play'));
  const busy = async (btn, fn) => {
    if (btn.disabled) return;
    btn.disabled = true;
    try { await fn(); } catch { /* shown in the banner */ } finally { btn.disabled = false; }
  };
  up.addEventListener('click', () => busy(up, async () => {
    const value = up.getAttribute('aria-pressed') === 'true' ? 'none' : 'up';
    await thumbs(profile, title, value);
    up.setAttribute('aria-pressed', String(value === 'up'));
    down.setAttribute('aria-pressed', 'false');
    toast(value === 'up' ? `You liked ${name}` : `Thumbs removed from ${name}`);
    onChange('thumbs', value);
  }));
  down.addEventListener('click', () => busy(down, async () => {
    const value = down.getAttribute('aria-pressed') === 'true' ? 'none' : 'down';
    await thumbs(profile, title, value);
    down.setAttribute('aria-pressed', String(value === 'down'));
    up.setAttribute('aria-pressed', 'false');
    toast(value === 'down' ? `${name}: you won't see it again` : `Thumbs removed from ${name}`);
    onChange('thumbs', value);
  }));
  playBtn.addEventListener('click', () => busy(playBtn, async () => {
    const from = typeof inProgress === 'number' ? inProgress : 0;
    const {duration} = await play(profile, title, {finish: Boolean(inProgress), from, click});
    toast(inProgress ? `Finished ${name}` : `Played ${name} for ${Math.round(duration * 0.4 / 60)} min`);
    onChange('play', inProgress ? 'finish' : 'start');
  }));
  return h('span', {class: 'actions'}, playBtn, up, down);
}
