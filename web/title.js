// title.js: one title for one profile: the artwork and synopsis the bandits chose
// for it, the match and its reasons, labels and "more like this"
// (GET /v1/profiles/{p}/titles/{t}), with the catalogue's facts (GET /v1/titles/{t}).
import {api} from './api.js';
import {h, enc, clear} from './dom.js';
import {poster, matchBadge, actionButtons} from './cards.js';

const str = (x) => (typeof x === 'string' ? x : x === undefined || x === null ? '' : String(x));
const arr = (x) => (Array.isArray(x) ? x : []);

export function renderTitle(view, profile, titleId) {
  let alive = true;
  const root = h('section', {class: 'title-page', dataset: {title: titleId}},
    h('p', {class: 'muted', text: 'Loading…'}));
  view.append(root);

  async function load() {
    const [pt, cat, st] = await Promise.all([
      api(`/v1/profiles/${enc(profile)}/titles/${enc(titleId)}?device=web`).catch(() => null),
      api(`/v1/titles/${enc(titleId)}`).catch(() => null),
      api(`/v1/profiles/${enc(profile)}/state`, {quiet: true}).catch(() => null),
    ]);
    if (!alive) return;
    clear(root);
    if (!pt && !cat) {
      root.append(h('h1', {text: titleId}), h('p', {class: 'muted', text: 'This title could not be loaded.'}),
                  h('a', {href: `#/p/${enc(profile)}`, text: '← Back to the homepage'}));
      return;
    }
    const name = str((pt && pt.name) || (cat && cat.name) || titleId);
    document.title = `${name} · marquee`;

    // The artwork and synopsis chosen for this profile, else the editorial defaults.
    const chosenArt = pt && pt.artwork && typeof pt.artwork === 'object' ? pt.artwork : null;
    const catArt = arr(cat && cat.artwork);
    const art = chosenArt || (catArt[0] && catArt[0].id ? {id: catArt[0].id} : null);
    const chosenSyn = pt && pt.synopsis && typeof pt.synopsis === 'object' ? pt.synopsis : null;
    const catSyn = arr(cat && cat.synopses);
    const synText = str((chosenSyn && chosenSyn.text) || (catSyn[0] && catSyn[0].text));

    let thumb = null, cw = false;
    if (st) {
      if (arr(st.thumbs && st.thumbs.up).includes(titleId)) thumb = 'up';
      if (arr(st.thumbs && st.thumbs.down).includes(titleId)) thumb = 'down';
      const c = arr(st.continue_watching).find((x) => x && x.title === titleId);
      if (c) cw = typeof c.position_s === 'number' && c.position_s > 0 ? c.position_s : true;
    }

    const facts = [];
    if (cat) {
      if (cat.year) facts.push(str(cat.year));
      if (cat.runtime_min) facts.push(`${cat.runtime_min} min`);
      if (cat.kind) facts.push(str(cat.kind));
      if (cat.maturity !== undefined && cat.maturity !== null) facts.push(`maturity ${cat.maturity}`);
    }
    const pct = pt && typeof pt.match === 'number' ? pt.match : null;
    const reasons = arr(pt && pt.reasons).filter((r) => r && (r.text || r.code));
    const labels = [...new Set([...arr(pt && pt.labels), ...arr(cat && cat.labels)].map(str).filter(Boolean))];

    const artNote = chosenArt
      ? `Artwork ${str(chosenArt.id)} chosen for you` +
        (typeof chosenArt.propensity === 'number' ? ` (propensity ${chosenArt.propensity.toFixed(3)})` : '')
      : art ? `Editorial artwork ${str(art.id)}` : 'No artwork: a placeholder';
    const synNote = chosenSyn ? `Synopsis ${str(chosenSyn.id)} chosen for you` :
                    catSyn[0] ? 'Editorial synopsis' : '';

    const hero = h('div', {class: 'hero'},
      h('div', {class: 'hero-art'}, poster(titleId, name, art, {eager: true}),
        h('p', {class: 'small muted art-note', text: artNote})),
      h('div', {class: 'hero-info'},
        h('a', {class: 'back', href: `#/p/${enc(profile)}`, text: '← Home'}),
        h('h1', {class: 'title-name', text: name}),
        h('div', {class: 'title-line'},
          pct !== null ? matchBadge(pct) : h('span', {class: 'match none', text: pt && pt.in_bundle === false ? 'new: no match yet' : 'no match score'}),
          facts.length ? h('span', {class: 'facts', text: facts.join(' · ')}) : null),
        arr(cat && cat.genres).length ? h('div', {class: 'genres'}, arr(cat.genres).map((g) => h('span', {class: 'chip', text: str(g)}))) : null,
        synText ? h('p', {class: 'synopsis', text: synText}) : h('p', {class: 'synopsis muted', text: 'No synopsis.'}),
        synNote ? h('p', {class: 'small muted', text: synNote}) : null,
        labels.length ? h('div', {class: 'labels'}, labels.map((l) => h('span', {class: 'label', text: l}))) : null,
        h('div', {class: 'title-actions'},
          actionButtons(profile, titleId, name, {thumb, inProgress: cw, onChange: () => load()}),
          cw ? h('span', {class: 'small muted', text: 'In Continue Watching'}) : null),
        h('h2', {text: 'Why this match'}),
        reasons.length
          ? h('ul', {class: 'reasons'}, reasons.map((r) => h('li', {dataset: {code: str(r.code)}},
              r.title ? h('a', {href: `#/p/${enc(profile)}/t/${enc(r.title)}`, text: str(r.text || r.code)})
                      : str(r.text || r.code))))
          : h('p', {class: 'muted', text: pt ? 'No reasons given.' : 'Not available: the match service did not answer.'}),
        pt && typeof pt.match_probability === 'number'
          ? h('p', {class: 'small muted', text: `P(enjoy) = ${pt.match_probability.toFixed(3)} · ranker: ${str(pt.ranker) || 'unknown'}`})
          : null));

    const more = arr(pt && pt.more_like_this).filter((x) => x && x.title !== undefined);
    const moreEl = h('section', {class: 'more-like-this'},
      h('h2', {text: 'More like this'}),
      more.length
        ? h('div', {class: 'grid'}, more.map((m) => {
            const t = str(m.title), n = str(m.name || m.title);
            return h('a', {class: 'mini', href: `#/p/${enc(profile)}/t/${enc(t)}`, dataset: {title: t}},
              h('span', {class: 'poster'}, poster(t, n, m.artwork || null), matchBadge(m.match)),
              h('span', {class: 'mini-name', text: n}));
          }))
        : h('p', {class: 'muted', text: 'Nothing similar yet.'}));

    const variants = catArt.filter((a) => a && a.id);
    const variantsEl = variants.length > 1 ? h('section', {class: 'variants'},
      h('h2', {text: 'Artwork variants'}),
      h('p', {class: 'small muted', text: 'The bandit picks one of these for each profile; the chosen one is outlined.'}),
      h('div', {class: 'variant-strip'}, variants.map((a) => h('figure', {
        class: 'variant' + (art && str(art.id) === str(a.id) ? ' chosen' : ''),
      }, h('img', {src: `/v1/titles/${enc(titleId)}/artwork/${enc(a.id)}`, alt: `${name}: ${str(a.id)}`,
                   loading: 'lazy', width: 100, height: 150}),
         h('figcaption', {text: arr(a.tags).map(str).join(', ') || str(a.id)}))))) : null;

    root.append(...[hero, moreEl, variantsEl].filter(Boolean));
  }
  load();
  return {dispose() { alive = false; document.title = 'marquee'; }};
}
