// home.js: a profile's homepage (GET /v1/profiles/{id}/homepage), rows of posters
// loaded six at a time as the member scrolls down, with impressions and row
// scrolls logged back as events (batched by api.js).
import {api, enqueue, makeEvent, ApiError, report} from './api.js';
import {h, enc, clear} from './dom.js';
import {poster, matchBadge, actionButtons, toast} from './cards.js';

const ROWS = 6;

export function renderHome(view, profile) {
  let alive = true;
  let gen = 0;            // bumps on every full (re)load; stale answers are dropped
  let cursor = null;
  let loading = false;
  let thumbsOf = new Map(); // title -> 'up' | 'down'
  let progress = new Map(); // title -> position_s (Continue Watching)
  const impressed = new Set(); // page|row|title
  const rowInfo = new WeakMap(); // section -> {pageId, rowId, pos, maxCol, entered, pastSent, alongSent}

  const title = h('h1', {class: 'home-title', text: 'Home'});
  const pageInfo = h('span', {class: 'page-info muted'});
  const refreshBtn = h('button', {type: 'button', class: 'btn', text: 'Refresh'});
  const rowsEl = h('div', {class: 'rows', id: 'rows'});
  let rowsElRef = rowsEl;
  const status = h('p', {class: 'rows-status muted', text: 'Assembling your homepage…'});
  const sentinel = h('div', {class: 'sentinel', 'aria-hidden': 'true'});
  view.append(h('section', {class: 'home', dataset: {profile}},
    h('div', {class: 'home-head'}, title, pageInfo, refreshBtn),
    rowsEl, sentinel, status));
  refreshBtn.addEventListener('click', () => load({keepScroll: true}));

  // ------------------------------------------------------------ events ----
  const ev = (type, fields) => enqueue(makeEvent(profile, type, fields));

  const impressionObserver = new IntersectionObserver((entries) => {
    for (const e of entries) {
      if (!e.isIntersecting || e.intersectionRatio < 0.5) continue;
      const d = e.target.dataset;
      const key = `${d.pageId}|${d.rowId}|${d.title}`;
      impressionObserver.unobserve(e.target);
      if (impressed.has(key)) continue;
      impressed.add(key);
      const fields = {
        title: d.title, page_id: d.pageId, row_id: d.rowId,
        row_pos: Number(d.rowPos), col_pos: Number(d.colPos),
        artwork_id: d.artworkId || 'default',
      };
      if (d.synopsisId) fields.synopsis_id = d.synopsisId;
      if (d.label) fields.label = d.label;
      const p = Number(d.propensity);
      if (d.propensity && p > 0 && p <= 1) fields.propensity = p;
      ev('impression', fields);
      const section = e.target.closest('.row');
      const info = section && rowInfo.get(section);
      if (info) info.maxCol = Math.max(info.maxCol, Number(d.colPos));
    }
  }, {threshold: [0.5]});

  // A row scrolled past: it was on screen and has left it through the top.
  const rowObserver = new IntersectionObserver((entries) => {
    for (const e of entries) {
      const info = rowInfo.get(e.target);
      if (!info) continue;
      if (e.isIntersecting) { info.entered = true; continue; }
      const top = e.rootBounds ? e.rootBounds.top : 0;
      if (info.entered && !info.pastSent && e.boundingClientRect.bottom <= top + 1) {
        info.pastSent = true;
        ev('row_scroll', {page_id: info.pageId, row_id: info.rowId, row_pos: info.pos,
                          direction: 'past', col_pos: Math.max(0, info.maxCol)});
      }
    }
  }, {threshold: [0]});

  // A scroll along a row, reported once it settles, when it reached a further column.
  function watchAlong(section, scroller) {
    let timer = null;
    scroller.addEventListener('scroll', () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        const info = rowInfo.get(section);
        if (!info || scroller.scrollLeft < 8) return;
        const edge = scroller.scrollLeft + scroller.clientWidth;
        let col = 0;
        for (const card of scroller.children) {
          if (card.offsetLeft + card.offsetWidth / 2 <= edge) col = Number(card.dataset.colPos);
        }
        if (col > info.alongSent) {
          info.alongSent = col;
          ev('row_scroll', {page_id: info.pageId, row_id: info.rowId, row_pos: info.pos,
                            direction: 'along', col_pos: col});
        }
      }, 400);
    }, {passive: true});
  }

  // ------------------------------------------------------------ render ----
  function card(item, row, pageId, col) {
    const t = String(item.title);
    const name = typeof item.name === 'string' && item.name ? item.name : t;
    const art = item.artwork && typeof item.artwork === 'object' ? item.artwork : null;
    const syn = item.synopsis && typeof item.synopsis === 'object' ? item.synopsis : null;
    const click = {page_id: pageId, row_id: row.row_id, row_pos: row.position ?? 0, col_pos: col};
    const href = `#/p/${enc(profile)}/t/${enc(t)}`;
    const link = h('a', {class: 'poster', href, 'aria-label': name, title: syn && syn.text ? syn.text : name},
      poster(t, name, art), matchBadge(item.match_pct ?? (typeof item.match === 'number' ? item.match * 100 : null)));
    link.addEventListener('click', () => ev('click', {title: t, ...click}));
    const inCw = row.type === 'continue-watching';
    const labels = Array.isArray(item.labels) ? item.labels.filter((x) => typeof x === 'string') : [];
    const actions = actionButtons(profile, t, name, {
      thumb: thumbsOf.get(t) || null,
      inProgress: inCw ? (progress.get(t) || true) : false,
      click,
      onChange: (kind, value) => {
        if (kind === 'thumbs') {
          if (value === 'none') thumbsOf.delete(t); else thumbsOf.set(t, value);
          if (value === 'down') {
            document.querySelectorAll('.card').forEach((c) => {
              if (c.dataset.title === t) c.classList.add('gone');
            });
            setTimeout(() => load({keepScroll: true}), 350);
          }
        } else {
          load({keepScroll: true});
        }
      },
    });
    const el = h('article', {
      class: 'card',
      dataset: {
        title: t, pageId, rowId: row.row_id, rowPos: String(row.position ?? 0), colPos: String(col),
        artworkId: art && art.id ? String(art.id) : '', synopsisId: syn && syn.id ? String(syn.id) : '',
        label: typeof item.label === 'string' ? item.label : '',
        propensity: art && typeof art.propensity === 'number' ? String(art.propensity) : '',
      },
    },
      h('div', {class: 'poster-wrap'}, link,
        labels.length ? h('div', {class: 'labels'}, labels.map((l) => h('span', {class: 'label', text: l}))) : null,
        actions),
      h('div', {class: 'card-body'},
        h('a', {class: 'card-name', href, text: name}),
        item.evidence ? h('div', {class: 'card-evidence', text: item.evidence}) : null));
    return el;
  }

  function rowSection(row, pageId) {
    const items = Array.isArray(row.items) ? row.items.filter((x) => x && x.title !== undefined) : [];
    const scroller = h('div', {class: 'scroller', role: 'list'});
    items.forEach((item, col) => {
      const c = card(item, row, pageId, col);
      c.setAttribute('role', 'listitem');
      scroller.append(c);
    });
    const left = h('button', {type: 'button', class: 'row-nav left', 'aria-label': 'Scroll left', text: '‹'});
    const right = h('button', {type: 'button', class: 'row-nav right', 'aria-label': 'Scroll right', text: '›'});
    left.addEventListener('click', () => scroller.scrollBy({left: -scroller.clientWidth * 0.9, behavior: 'smooth'}));
    right.addEventListener('click', () => scroller.scrollBy({left: scroller.clientWidth * 0.9, behavior: 'smooth'}));
    const section = h('section', {
      class: 'row', dataset: {rowId: String(row.row_id ?? ''), rowType: String(row.type ?? ''), pageId},
    },
      h('header', {class: 'row-head'},
        h('h2', {class: 'caption', text: row.caption || row.row_id || 'Row'}),
        row.evidence ? h('p', {class: 'evidence', text: row.evidence}) : null),
      h('div', {class: 'row-body'}, left, scroller, right));
    const updateNav = () => {
      left.hidden = scroller.scrollLeft < 4;
      right.hidden = scroller.scrollLeft + scroller.clientWidth >= scroller.scrollWidth - 4;
    };
    scroller.addEventListener('scroll', updateNav, {passive: true});
    requestAnimationFrame(updateNav);
    section.updateNav = updateNav;
    rowInfo.set(section, {pageId, rowId: String(row.row_id), pos: row.position ?? 0, maxCol: -1,
                          entered: false, pastSent: false, alongSent: 0});
    watchAlong(section, scroller);
    return section;
  }

  function appendRows(page, target) {
    const pageId = String(page.page_id ?? '');
    const rows = Array.isArray(page.rows) ? page.rows : [];
    for (const row of rows) {
      if (!row) continue;
      const section = rowSection(row, pageId);
      target.append(section);
    }
    return rows.length;
  }

  function observe(target) {
    for (const section of target.querySelectorAll('.row')) {
      rowObserver.observe(section);
      for (const c of section.querySelectorAll('.card')) impressionObserver.observe(c);
    }
  }

  function describe(page) {
    const shown = rowsElRef.querySelectorAll('.row').length;
    const total = typeof page.row_count === 'number' ? page.row_count : shown;
    pageInfo.textContent = `page ${page.page_id ?? '?'} · ${shown} of ${total} rows`;
    pageInfo.dataset.pageId = String(page.page_id ?? '');
  }

  // ------------------------------------------------------------ loading ---
  async function loadState() {
    try {
      const st = await api(`/v1/profiles/${enc(profile)}/state`, {quiet: true});
      const th = st && st.thumbs ? st.thumbs : {};
      thumbsOf = new Map();
      (Array.isArray(th.up) ? th.up : []).forEach((t) => thumbsOf.set(String(t), 'up'));
      (Array.isArray(th.down) ? th.down : []).forEach((t) => thumbsOf.set(String(t), 'down'));
      progress = new Map();
      for (const c of (Array.isArray(st && st.continue_watching) ? st.continue_watching : []))
        if (c && typeof c.position_s === 'number') progress.set(String(c.title), c.position_s);
    } catch { /* a new profile has no state yet */ }
  }

  async function load({keepScroll = false} = {}) {
    const my = ++gen;
    loading = true;
    const y = scrollY;
    status.textContent = keepScroll ? 'Updating…' : 'Assembling your homepage…';
    try {
      const [page] = await Promise.all([
        api(`/v1/profiles/${enc(profile)}/homepage?rows=${ROWS}&device=web`),
        loadState(),
      ]);
      if (!alive || my !== gen) return;
      const fresh = h('div', {class: 'rows', id: 'rows'});
      const n = appendRows(page || {}, fresh);
      rowsElRef.replaceWith(fresh);
      rowsElRef = fresh;
      impressionObserver.disconnect();
      rowObserver.disconnect();
      observe(fresh);
      cursor = page && page.next_cursor ? page.next_cursor : null;
      describe(page || {});
      status.textContent = n ? (cursor ? '' : 'That’s everything.') : 'No rows for this profile.';
      if (keepScroll) scrollTo(0, y);
    } catch (e) {
      if (alive && my === gen) status.textContent = 'The homepage could not be loaded.';
    } finally {
      if (my === gen) loading = false;
    }
    if (alive && my === gen) maybeMore();
  }

  async function loadMore() {
    if (!cursor || loading) return;
    const my = gen;
    loading = true;
    status.textContent = 'Loading more rows…';
    try {
      const page = await api(`/v1/profiles/${enc(profile)}/homepage?cursor=${enc(cursor)}&rows=${ROWS}&device=web`,
                             {quiet: true});
      if (!alive || my !== gen) return;
      const frag = h('div', {class: 'rows-chunk'});
      appendRows(page || {}, frag);
      const sections = [...frag.children];
      rowsElRef.append(...sections);
      for (const s of sections) {
        rowObserver.observe(s);
        for (const c of s.querySelectorAll('.card')) impressionObserver.observe(c);
      }
      cursor = page && page.next_cursor ? page.next_cursor : null;
      describe(page || {});
      status.textContent = cursor ? '' : 'That’s everything.';
    } catch (e) {
      if (!alive || my !== gen) return;
      if (e instanceof ApiError && e.status === 410) {
        toast('The page expired: here is a fresh one.');
        loading = false;
        load();
        return;
      }
      status.textContent = 'More rows could not be loaded.';
      report(e, 'GET', `/v1/profiles/${profile}/homepage?cursor=`);
      cursor = null;
    } finally {
      if (my === gen) loading = false;
    }
    if (alive && my === gen) maybeMore();
  }

  // Loads more while the sentinel is near the viewport (the observer fires on
  // changes only, so a short page is topped up here).
  function maybeMore() {
    if (!cursor) return;
    const r = sentinel.getBoundingClientRect();
    if (r.top < innerHeight + 600) loadMore();
  }

  const sentinelObserver = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadMore();
  }, {rootMargin: '0px 0px 600px 0px'});
  sentinelObserver.observe(sentinel);

  const onResize = () => document.querySelectorAll('.row').forEach((r) => r.updateNav && r.updateNav());
  addEventListener('resize', onResize);

  title.textContent = 'Home';
  load();

  return {
    dispose() {
      alive = false;
      removeEventListener('resize', onResize);
      impressionObserver.disconnect();
      rowObserver.disconnect();
      sentinelObserver.disconnect();
      clear(view);
    },
  };
}
