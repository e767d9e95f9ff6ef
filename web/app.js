// app.js: the router of the marquee web UI (hash routes) and the settings bar.
//   #/                    profile picker
//   #/p/{profile}         the profile's homepage
//   #/p/{profile}/t/{t}   a title page for the profile
//   #/dashboard           the operator dashboard
import {apiKey, setApiKey, clearError, onUnauthorized, flush, stats} from './api.js';
import {clear, h} from './dom.js';
import {renderProfiles} from './profiles.js';
import {renderHome} from './home.js';
import {renderTitle} from './title.js';
import {renderDashboard} from './dashboard.js';

const view = document.getElementById('view');
let current = null; // {dispose()} of the view on screen

function parse(hash) {
  const parts = hash.replace(/^#\/?/, '').split('/').filter((x) => x !== '');
  const dec = (x) => { try { return decodeURIComponent(x); } catch { return x; } };
  if (parts.length === 0) return {name: 'profiles'};
  if (parts[0] === 'dashboard' && parts.length === 1) return {name: 'dashboard'};
  if (parts[0] === 'p' && parts.length === 2) return {name: 'home', profile: dec(parts[1])};
  if (parts[0] === 'p' && parts.length === 4 && parts[2] === 't')
    return {name: 'title', profile: dec(parts[1]), title: dec(parts[3])};
  return {name: 'notfound', hash};
}

function setWho(profile) {
  const who = document.getElementById('who');
  clear(who);
  if (profile) {
    who.append('Browsing as ', h('a', {href: `#/p/${encodeURIComponent(profile)}`, class: 'who-id',
                                       text: profile}));
  }
}

function route() {
  if (current && current.dispose) current.dispose();
  current = null;
  clearError();
  document.getElementById('toast').hidden = true;
  flush();
  clear(view);
  const r = parse(location.hash);
  document.querySelectorAll('[data-nav]').forEach((a) => {
    a.classList.toggle('active', a.dataset.nav === (r.name === 'dashboard' ? 'dashboard' : 'profiles'));
  });
  setWho(r.profile);
  view.dataset.route = r.name;
  scrollTo(0, 0);
  switch (r.name) {
    case 'profiles': current = renderProfiles(view); break;
    case 'home': current = renderHome(view, r.profile); break;
    case 'title': current = renderTitle(view, r.profile, r.title); break;
    case 'dashboard': current = renderDashboard(view); break;
    default:
      view.append(h('section', {class: 'empty'},
        h('h1', {text: 'Nothing here'}),
        h('p', {}, 'No page at ', h('code', {text: r.hash}), '. ', h('a', {href: '#/', text: 'Pick a profile'}), '.')));
  }
}

// ---------------------------------------------------------------- settings ----

const settings = document.getElementById('settings');
const toggle = document.getElementById('settings-toggle');
const keyInput = document.getElementById('api-key');
const note = document.getElementById('settings-note');

function openSettings(open) {
  const wasOpen = !settings.hidden;
  settings.hidden = !open;
  toggle.setAttribute('aria-expanded', String(open));
  // Another 401 while the settings are open (the event queue's, say) must not wipe
  // what is being typed.
  if (open && !wasOpen) {
    keyInput.value = apiKey();
    keyInput.focus();
  }
}

toggle.addEventListener('click', () => openSettings(settings.hidden));
settings.addEventListener('submit', (e) => {
  e.preventDefault();
  setApiKey(keyInput.value.trim());
  note.textContent = keyInput.value.trim() ? 'Saved: sent as X-API-Key.' : 'No key saved.';
  openSettings(false);
  route();
});
document.getElementById('api-key-clear').addEventListener('click', () => {
  keyInput.value = '';
  setApiKey('');
  note.textContent = 'No key saved.';
});
document.getElementById('banner-close').addEventListener('click', clearError);
onUnauthorized(() => openSettings(true));

// For the tests and the curious: flush the event queue now, and what it sent.
window.marquee = {flush: () => flush(), stats};

addEventListener('hashchange', route);
route();
