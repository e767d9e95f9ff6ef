// profiles.js: the profile picker (GET /v1/profiles, a page of 50 at a time).
import {api} from './api.js';
import {h, enc, hue} from './dom.js';

export function renderProfiles(view) {
  let alive = true;
  let cursor = null;
  const grid = h('ul', {class: 'profiles', 'aria-label': 'Profiles'});
  const more = h('button', {type: 'button', class: 'btn more', hidden: true, text: 'More profiles'});
  const status = h('p', {class: 'muted', text: 'Loading profiles…'});
  const goInput = h('input', {type: 'text', name: 'profile', placeholder: 'profile id', 'aria-label': 'Profile id'});
  const go = h('form', {class: 'go'}, goInput, h('button', {type: 'submit', class: 'btn', text: 'Open'}));
  go.addEventListener('submit', (e) => {
    e.preventDefault();
    const id = goInput.value.trim();
    if (id) location.hash = `#/p/${enc(id)}`;
  });

  view.append(h('section', {class: 'picker'},
    h('h1', {text: 'Who’s watching?'}),
    h('p', {class: 'muted', text: 'Pick a profile to see the homepage marquee assembles for it.'}),
    go, status, grid, more));

  async function load() {
    more.disabled = true;
    const q = cursor ? `&cursor=${enc(cursor)}` : '';
    try {
      const page = await api(`/v1/profiles?limit=50${q}`);
      if (!alive) return;
      const items = (page && Array.isArray(page.items)) ? page.items : [];
      for (const p of items) {
        if (!p || p.id === undefined) continue;
        const id = String(p.id);
        const initial = [...id.replace(/^[^A-Za-z0-9]+/, '')][0] || '?';
        const meta = [p.country, p.maturity_limit !== undefined ? `maturity ${p.maturity_limit}` : null]
          .filter(Boolean).join(' · ');
        grid.append(h('li', {},
          h('a', {class: 'profile', href: `#/p/${enc(id)}`, dataset: {profile: id}},
            h('span', {class: 'avatar', style: `--h:${hue(id)}`, 'aria-hidden': 'true', text: initial.toUpperCase()}),
            h('span', {class: 'profile-id', text: id}),
            h('span', {class: 'profile-meta', text: meta}))));
      }
      cursor = page && page.next_cursor ? page.next_cursor : null;
      more.hidden = !cursor;
      status.textContent = grid.children.length ? '' : 'No profiles yet: run `marquee synth` or post events.';
    } catch {
      if (alive) status.textContent = 'Could not load the profiles.';
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener('click', load);
  load();
  return {dispose() { alive = false; }};
}
