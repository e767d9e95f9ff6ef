// dashboard.js: the operator dashboard (GET /v1/dashboard), refreshed every 5 s.
// Every field may be missing or null: its panel then says "not available".
import {api, clearError, report} from './api.js';
import {h, clear, fmtNum, fmtDuration} from './dom.js';
import {lineChart, barChart, gauge, table, shortNum} from './charts.js';

const num = (x) => typeof x === 'number' && Number.isFinite(x);
const obj = (x) => (x && typeof x === 'object' && !Array.isArray(x) ? x : null);
const arr = (x) => (Array.isArray(x) ? x : []);
const NA = 'not available';

function panel(id, title, ...body) {
  return h('section', {class: 'panel', id: `panel-${id}`, dataset: {panel: id}},
    h('h2', {text: title}), ...body);
}
const na = (why) => h('p', {class: 'na muted', text: why ? `${NA}: ${why}` : NA});

function tile(label, value, sub) {
  return h('div', {class: 'tile'}, h('div', {class: 'tile-value', text: value}),
    h('div', {class: 'tile-label', text: label}), sub ? h('div', {class: 'tile-sub muted', text: sub}) : null);
}

// -------------------------------------------------------------- panels -----

function eventsPanel(events) {
  const e = obj(events);
  if (!e) return panel('events', 'Events ingested per second', na());
  const per = arr(e.per_second).filter((p) => p && num(p.t) && num(p.n));
  const now = per.length ? per[per.length - 1].t : 0;
  const chart = per.length
    ? lineChart(per.map((p) => ({x: p.t, y: p.n})), {
        label: 'Events ingested per second, last 5 minutes',
        xfmt: (t) => (t === now ? 'now' : `${Math.round(t - now)} s`)})
    : na('no per-second series');
  const byType = obj(e.by_type);
  const types = byType ? Object.entries(byType).filter(([, n]) => num(n) && n > 0).sort((a, b) => b[1] - a[1]) : [];
  const last60 = per.slice(-60).reduce((a, p) => a + p.n, 0);
  return panel('events', 'Events ingested per second',
    h('div', {class: 'panel-note muted', text: [
      `${fmtNum(e.total)} events since start`,
      per.length ? `${fmtNum(last60 / Math.min(60, per.length), 1)}/s over the last minute` : null,
      num(e.duplicates) ? `${fmtNum(e.duplicates)} duplicates` : null,
      num(e.rejected) ? `${fmtNum(e.rejected)} rejected` : null,
      num(e.followed) && e.followed ? `${fmtNum(e.followed)} followed from other nodes` : null,
    ].filter(Boolean).join(' · ')}),
    chart,
    h('h3', {text: 'By type'}),
    types.length ? barChart(types.map(([t, n]) => ({label: t, value: n})), {label: 'Events by type', height: 200})
                 : na());
}

function latencyPanel(latency) {
  const l = obj(latency);
  if (!l) return panel('latency', 'Request latency', na());
  const le = arr(l.le), counts = arr(l.counts);
  const label = (b) => (b < 0.001 ? `${+(b * 1e6).toPrecision(3)} µs` : b < 1 ? `${+(b * 1e3).toPrecision(3)} ms` : `${b} s`);
  const bars = counts.map((c, i) => ({label: i < le.length ? `≤ ${label(le[i])}` : `> ${label(le[le.length - 1] ?? 0)}`, value: c}));
  return panel('latency', 'Request latency',
    h('div', {class: 'tiles'},
      tile('requests', fmtNum(l.count)),
      tile('mean', num(l.mean_ms) ? `${fmtNum(l.mean_ms, 1)} ms` : NA),
      tile('p50', num(l.p50_ms) ? `${fmtNum(l.p50_ms, 2)} ms` : NA),
      tile('p90', num(l.p90_ms) ? `${fmtNum(l.p90_ms, 2)} ms` : NA),
      tile('p99', num(l.p99_ms) ? `${fmtNum(l.p99_ms, 2)} ms` : NA)),
    bars.length && bars.some((b) => num(b.value)) ? barChart(bars, {label: 'Request latency histogram', valueLabels: true})
                : na('no histogram'));
}

const METRIC_COLS = ['recall@20', 'ndcg@20', 'hr@10', 'mrr', 'coverage@20', 'ecs@20'];

function bundlePanel(bundle) {
  const b = obj(bundle);
  if (!b) return panel('bundle', 'Model bundle', na());
  if (b.version === null || b.version === undefined)
    return panel('bundle', 'Model bundle', na(b.message || 'no bundle served yet (run marquee train)'));
  const meta = obj(b.meta) || {};
  const rows = [];
  const models = obj(obj(meta.validation) && meta.validation.models);
  if (models) {
    for (const [name, m] of Object.entries(models)) {
      const mm = obj(m) || {};
      rows.push([name + (name === b.default_model ? ' (served)' : ''),
                 ...METRIC_COLS.map((c) => (num(mm[c]) ? (c.startsWith('ecs') ? fmtNum(mm[c], 1) : mm[c].toFixed(3)) : '–'))]);
    }
  }
  const ranker = obj(meta.ranker);
  const rv = ranker && obj(ranker.validation);
  const info = [
    ['version', String(b.version)],
    ['loaded', b.loaded_at ? String(b.loaded_at) : NA],
    ['models', arr(b.models).join(', ') || NA],
    ['default model', b.default_model ? String(b.default_model) : NA],
    ['titles', num(b.titles) ? fmtNum(b.titles) : NA],
    ['size', num(b.bytes) ? `${fmtNum(b.bytes / 1024, 0)} KiB` : NA],
  ];
  if (ranker) {
    info.push(['ranker', ranker.used === false ? `not used: ${ranker.why || 'no reason'}` : 'trained, in use']);
    if (rv && num(rv['ndcg@10'])) info.push(['ranker NDCG@10', rv['ndcg@10'].toFixed(4)]);
    if (ranker.enjoy && num(ranker.enjoy.calibration_ece)) info.push(['match calibration ECE', ranker.enjoy.calibration_ece.toFixed(4)]);
  }
  const recallBars = models ? Object.entries(models).map(([name, m]) => ({
    label: name, value: obj(m) && num(m['recall@20']) ? m['recall@20'] : NaN, highlight: name === b.default_model,
  })) : [];
  return panel('bundle', 'Model bundle in service',
    h('dl', {class: 'kv'}, info.map(([k, v]) => [h('dt', {text: k}), h('dd', {text: v})])),
    h('h3', {text: 'Offline metrics (validation)'}),
    meta.validation && meta.validation.description ? h('p', {class: 'small muted', text: String(meta.validation.description)}) : null,
    rows.length ? table(['model', ...METRIC_COLS], rows) : na('the bundle has no validation report'),
    recallBars.some((x) => num(x.value)) ? barChart(recallBars, {label: 'Recall@20 by model', height: 180, yfmt: (x) => x.toFixed(2)}) : null);
}

function banditsPanel(bandits) {
  const b = obj(bandits);
  if (!b) return panel('bandits', 'Asset bandits',
    na('not serving yet: still catching up with the event log, or off (assets.serve = 0)'));
  const slots = arr(b.slots).filter(obj);
  const head = [`policy ${b.policy ? String(b.policy) : NA}`];
  if (num(b.impressions)) head.push(`${fmtNum(b.impressions)} impressions`);
  if (num(b.rewarded)) head.push(`${fmtNum(b.rewarded)} rewarded`);
  if (num(b.pending)) head.push(`${fmtNum(b.pending)} pending`);
  if (num(b.profiles)) head.push(`${fmtNum(b.profiles)} profiles`);
  return panel('bandits', 'Asset bandits',
    h('p', {class: 'panel-note muted', text: head.join(' · ')}),
    slots.length ? slots.map((sl) => {
      const arms = arr(sl.arms).filter((a) => a && num(a.weight)).sort((x, y) => y.weight - x.weight);
      const best = arms[0];
      const tip = (a) => [`${a.tag}: weight ${a.weight.toFixed(4)}`, num(a.sd) ? `sd ${a.sd.toFixed(4)}` : null,
                          num(a.impressions) ? `${fmtNum(a.impressions)} impressions` : null,
                          num(a.rewards) ? `${fmtNum(a.rewards)} rewards` : null,
                          num(a.rate) ? `take rate ${(a.rate * 100).toFixed(2)}%` : null].filter(Boolean).join(' · ');
      return h('div', {class: 'slot', dataset: {slot: String(sl.slot ?? '')}},
        h('h3', {text: `${sl.slot ?? 'slot'}: arm weights`}),
        h('p', {class: 'small muted', text: [`${fmtNum(sl.updates)} updates`, `reward sum ${fmtNum(sl.reward_sum, 1)}`,
                                             num(sl.refreshes) ? `${fmtNum(sl.refreshes)} refreshes` : null].filter(Boolean).join(' · ')}),
        arms.length ? barChart(arms.map((a) => ({label: String(a.tag ?? '?'), value: a.weight, err: num(a.sd) ? a.sd : undefined,
                                                  highlight: a === best, note: a.weight.toFixed(3), tip: tip(a)})),
                               {label: `Arm weights: ${sl.slot}`, height: 210, yfmt: (x) => x.toFixed(2)})
                    : na('no arms'));
    }) : na('no slots'));
}

function coveragePanel(coverage) {
  const c = obj(coverage);
  if (!c) return panel('coverage', 'Catalogue coverage', na());
  const cat = c.catalog_titles;
  // Either {coverage, ecs, shown_titles, impressions} or per kind: {impressions: {...}, plays: {...}}.
  const kinds = [];
  if (obj(c.impressions) || obj(c.plays)) {
    if (obj(c.impressions)) kinds.push(['shown', c.impressions]);
    if (obj(c.plays)) kinds.push(['played', c.plays]);
  } else {
    kinds.push(['shown', {coverage: c.coverage, ecs: c.ecs, titles: c.shown_titles, total: c.impressions}]);
  }
  return panel('coverage', 'Catalogue coverage and Effective Catalog Size',
    kinds.map(([what, k]) => h('div', {class: 'coverage-kind', dataset: {kind: what}},
      h('h3', {text: what === 'shown' ? 'Titles shown (impressions)' : 'Titles played'}),
      h('div', {class: 'tiles'},
        tile('coverage', num(k.coverage) ? `${(k.coverage * 100).toFixed(1)}%` : NA,
             `${fmtNum(k.titles)} of ${fmtNum(cat)} titles ${what}`),
        tile('Effective Catalog Size', num(k.ecs) ? fmtNum(k.ecs, 1) : NA, `1 = one title takes all; ${fmtNum(cat)} = uniform`),
        tile(what === 'shown' ? 'impressions' : 'plays', fmtNum(k.total))),
      gauge(k.coverage, `Share of the catalogue ${what}`))));
}

function simulationPanel(sim) {
  const s = obj(sim);
  if (!s) return panel('simulation', 'Simulator: time to play', na('run `marquee simulate` to see its results here'));
  const pols = arr(s.policies).filter(obj);
  const target = obj(s.options) && num(s.options.target_s) ? s.options.target_s : 90;
  return panel('simulation', 'Simulator: time to play',
    h('p', {class: 'panel-note muted', text: `${fmtNum(s.sessions ?? (obj(s.options) || {}).sessions)} sessions per policy · ${fmtNum(s.profiles)} profiles · ${fmtNum(s.titles)} titles`}),
    pols.length ? [
      h('h3', {text: 'Median time to play (s)'}),
      barChart(pols.map((p) => ({label: String(p.policy), value: num(p.median_time_to_play_s) ? p.median_time_to_play_s : NaN})),
               {label: 'Median time to play by page policy', height: 180}),
      h('h3', {text: `Sessions that play within ${target} s`}),
      barChart(pols.map((p) => ({label: String(p.policy), value: num(p.share_played_within_target) ? p.share_played_within_target : NaN,
                                 note: num(p.share_played_within_target) ? `${(p.share_played_within_target * 100).toFixed(1)}%` : NA})),
               {label: 'Share of sessions playing within the target', height: 180, yfmt: (x) => `${Math.round(x * 100)}%`}),
      table(['policy', 'sessions', 'played', 'median s', 'take rate', 'watch min', 'ECS'],
            pols.map((p) => [String(p.policy), fmtNum(p.sessions), fmtNum(p.played), fmtNum(p.median_time_to_play_s, 1),
                             num(p.take_rate) ? p.take_rate.toFixed(4) : NA, fmtNum(p.watch_minutes_per_session, 1), fmtNum(p.ecs, 1)])),
    ] : na('no policies'));
}

function ecsOf(c) {
  c = obj(c);
  if (!c) return NA;
  const v = obj(c.impressions) ? c.impressions.ecs : c.ecs;
  return num(v) ? fmtNum(v, 1) : NA;
}

// ------------------------------------------------------------------ view ---

export function renderDashboard(view) {
  let alive = true;
  let timer = null;
  let body = h('div', {class: 'dash-body'}, h('p', {class: 'muted', text: 'Loading the dashboard…'}));
  const updated = h('span', {class: 'muted small'});
  view.append(h('section', {class: 'dashboard'},
    h('div', {class: 'home-head'}, h('h1', {text: 'Operator dashboard'}), updated), body));

  async function load() {
    let d = null;
    try {
      d = await api('/v1/dashboard', {quiet: true});
      clearError();
    } catch (e) {
      report(e, 'GET', '/v1/dashboard');
      if (!alive) return;
      if (!body.querySelector('.panel')) {
        clear(body).append(h('p', {class: 'muted', text: e.status === 401
          ? 'The dashboard needs the API key (Settings).' : 'The dashboard could not be loaded.'}));
      }
      schedule();
      return;
    }
    if (!alive) return;
    d = obj(d) || {};
    const fresh = h('div', {class: 'dash-body'},
      h('div', {class: 'tiles top'},
        tile('uptime', num(d.uptime_s) ? fmtDuration(d.uptime_s) : NA),
        tile('events', obj(d.events) && num(d.events.total) ? shortNum(d.events.total) : NA),
        tile('p99 latency', obj(d.latency) && num(d.latency.p99_ms) ? `${fmtNum(d.latency.p99_ms, 2)} ms` : NA),
        tile('bundle', obj(d.bundle) && d.bundle.version != null ? `v${d.bundle.version}` : NA),
        tile('ECS (shown)', ecsOf(d.coverage))),
      h('div', {class: 'panels'},
        eventsPanel(d.events), latencyPanel(d.latency), coveragePanel(d.coverage),
        banditsPanel(d.bandits), bundlePanel(d.bundle), simulationPanel(d.simulation)));
    body.replaceWith(fresh);
    body = fresh;
    updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
    schedule();
  }
  function schedule() {
    clearTimeout(timer);
    if (alive) timer = setTimeout(load, 5000);
  }
  load();
  return {dispose() { alive = false; clearTimeout(timer); }};
}
