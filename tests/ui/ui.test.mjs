// Browser tests of the marquee web UI (issue 8): playwright-core driving Debian's
// chromium, headless, against a `marquee serve` on a small synthetic world made
// in a temporary directory.
//
//   MARQUEE=build/marquee node tests/ui/ui.test.mjs      (ctest: test_ui)
//
// Environment: MARQUEE (the binary; default build/marquee), MQ_ARTIFACTS (where
// screenshots go; default build/ui-artifacts), CHROMIUM (default /usr/bin/chromium).
// Exits 77 (skipped) when node's playwright-core or chromium is missing, except in
// CI: scripts/deps_ui.sh installs both.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {spawn, execFileSync} from 'node:child_process';
import {createWriteStream, existsSync, mkdtempSync, mkdirSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {dirname, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const MARQUEE = process.env.MARQUEE || join(root, 'build/marquee');
const ARTIFACTS = process.env.MQ_ARTIFACTS || join(root, 'build/ui-artifacts');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const KEY = 'ui-test-key';
const XSS_NAME = '<script>window.__pwned=1</script><b>x</b>';

// In CI (CI set, as .ci/run does) a missing dependency is a failure, not a skip:
// `make test` installed them, so their absence is a broken setup.
function skip(why) {
  const ci = !!process.env.CI;
  console.log(`test_ui: ${ci ? 'FAILED' : 'skipped'}: ${why} (scripts/deps_ui.sh installs what is missing)`);
  process.exit(ci ? 1 : 77);
}
if (!existsSync(join(here, 'node_modules/playwright-core'))) skip('tests/ui/node_modules/playwright-core is missing (npm ci in tests/ui)');
if (!existsSync(CHROMIUM)) skip(`${CHROMIUM} is missing (apt-get install chromium)`);
if (!existsSync(MARQUEE)) {
  console.error(`test_ui: ${MARQUEE} is missing: build it, or set MARQUEE`);
  process.exit(1);
}
const {chromium} = await import('playwright-core');

let tmp, server, base, context, page;
const posted = []; // every event the UI posted, in order
const errors = []; // page errors and console errors

function mq(...args) {
  return execFileSync(MARQUEE, args, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']});
}

async function http(path, {method = 'GET', body} = {}) {
  const res = await fetch(base + path, {
    method,
    headers: {'X-API-Key': KEY, ...(body ? {'Content-Type': 'application/json'} : {})},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return {status: res.status, json, text};
}

function startServer(data) {
  return new Promise((resolvePromise, reject) => {
    const p = spawn(MARQUEE, ['--data', data, 'serve', '--port', '0', '--server.api_key', KEY],
                    {stdio: ['ignore', 'pipe', 'pipe']});
    let out = '', err = '';
    const timer = setTimeout(() => reject(new Error(`serve did not start in 60 s: ${out}${err}`)), 60000);
    p.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) { clearTimeout(timer); resolvePromise({proc: p, url: m[1].replace(/\/$/, '')}); }
    });
    p.stderr.on('data', (d) => { err += d; if (err.length > 20000) err = err.slice(-10000); });
    p.stderr.pipe(createWriteStream(join(ARTIFACTS, 'serve.log'))); // the server's log, for a failure
    p.on('exit', (code) => { clearTimeout(timer); reject(new Error(`serve exited (${code}): ${err}`)); });
  });
}

async function shot(name) {
  await page.mouse.move(640, 20); // no hover effects in the picture
  await page.waitForTimeout(250);
  await page.screenshot({path: join(ARTIFACTS, name)});
}

// The homepage of `profile`, loaded and showing rows.
async function openHome(profile) {
  await page.goto(`${base}/#/p/${encodeURIComponent(profile)}`);
  await page.locator('.row .card').first().waitFor({timeout: 20000});
}

const titlesIn = (sel) => page.locator(sel).evaluateAll((els) => els.map((e) => e.dataset.title));

before(async () => {
  mkdirSync(ARTIFACTS, {recursive: true});
  tmp = mkdtempSync(join(tmpdir(), 'marquee-ui-'));
  const data = join(tmp, 'data');
  mq('--data', data, 'synth', '--titles', '300', '--profiles', '400', '--seed', '3');
  mq('--data', data, 'train');
  mq('--data', data, 'simulate', '--sessions', '100'); // the dashboard's time-to-play plot
  server = await startServer(data);
  base = server.url;
  const health = await http('/healthz');
  assert.equal(health.status, 200, 'healthz');
  const put = await http('/v1/titles/xss-1', {method: 'PUT', body: {
    name: XSS_NAME, kind: 'movie', year: 2025, runtime_min: 90, genres: ['Drama', 'Thriller'],
    tags: ['<img src=x onerror="window.__pwned=2">'],
    artwork: [{id: 'xss-1-a0', tags: ['neon', 'close-up', '<b>motif</b>']}],
    synopses: [{id: 'xss-1-s0', text: '<img src=x onerror="window.__pwned=3">A synopsis.'}],
  }});
  assert.ok(put.status === 200 || put.status === 201, `PUT title: ${put.status} ${put.text}`);

  context = await chromium.launchPersistentContext(join(tmp, 'chromium-profile'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: {width: 1280, height: 800},
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
           '--disable-component-update', '--no-first-run'],
  });
  page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(15000);
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  page.on('request', (r) => {
    if (r.method() === 'POST' && new URL(r.url()).pathname === '/v1/events') {
      try { posted.push(...JSON.parse(r.postData() || '[]')); } catch { /* not JSON */ }
    }
  });
});

after(async () => {
  if (context) await context.close().catch(() => {});
  if (server) server.proc.kill('SIGTERM');
  if (tmp && !process.env.MQ_KEEP_TMP) rmSync(tmp, {recursive: true, force: true});
});

// The first profile with some history (a profile that did nothing has a generic page).
async function someProfile(n = 0) {
  const list = await http('/v1/profiles?limit=50');
  const ids = list.json.items.map((p) => p.id);
  const found = [];
  for (const id of ids) {
    const st = await http(`/v1/profiles/${encodeURIComponent(id)}/state`);
    if (st.status === 200 && st.json.history && st.json.history.length >= 3) found.push(id);
    if (found.length > n) return found[n];
  }
  return ids[n];
}

test('a write without the API key asks for it; with the key it works', async () => {
  const profile = await someProfile(3);
  await page.goto(`${base}/#/`);
  await page.evaluate(() => localStorage.removeItem('marquee.apiKey'));
  await openHome(profile);
  const card = page.locator('.row:not([data-row-type="continue-watching"]) .card').first();
  await card.locator('.thumb-up').click();
  const banner = page.locator('#banner');
  await banner.waitFor({state: 'visible'});
  assert.match(await banner.textContent(), /API key/);
  assert.ok(await page.locator('#settings').isVisible(), 'the settings open for the key');
  await page.fill('#api-key', KEY);
  await page.click('#api-key-save');
  await page.locator('.row .card').first().waitFor();
  const again = page.locator('.row:not([data-row-type="continue-watching"]) .card').first();
  await again.locator('.thumb-up').click();
  await page.locator('.row:not([data-row-type="continue-watching"]) .card .thumb-up[aria-pressed="true"]').first().waitFor();
  assert.equal(await page.evaluate(() => localStorage.getItem('marquee.apiKey')), KEY);
});

test('the picker lists profiles; a homepage has rows of posters with match badges', async () => {
  await page.goto(`${base}/#/`);
  await page.locator('.profile').first().waitFor();
  assert.ok(await page.locator('.profile').count() >= 20, 'profiles listed');
  const profile = await someProfile(0);
  await page.locator(`.profile[data-profile="${profile}"]`).click();
  await page.waitForURL(/#\/p\//);
  await page.locator('.row .card').first().waitFor();
  const rows = await page.locator('.row').count();
  assert.ok(rows >= 3, `rows shown: ${rows}`);
  assert.ok(await page.locator('.row .caption').first().textContent());
  assert.ok(await page.locator('.row .evidence').count() >= 1, 'rows have evidence');
  const badges = await page.locator('.card .match').allTextContents();
  assert.ok(badges.length >= 5 && badges.every((b) => /^\d{1,3}% match$/.test(b)), `badges: ${badges.slice(0, 5)}`);
  // The posters are images the server drew (not the fallback drawn in the page).
  const img = page.locator('.row .card img').first();
  await img.evaluate((el) => (el.complete && el.naturalWidth ? 0 : new Promise((r) => { el.onload = r; el.onerror = r; })));
  assert.ok(await img.evaluate((el) => el.naturalWidth > 0), 'the first poster loaded');
  assert.match(await img.getAttribute('src'), /^\/v1\/titles\/[^/]+\/artwork\//);
  const box = await img.boundingBox();
  assert.ok(Math.abs(box.height / box.width - 1.5) < 0.05, `posters are 2:3 (${box.width}x${box.height})`);
  // Rows scroll horizontally.
  const scroller = page.locator('.row .scroller').nth(1);
  assert.ok(await scroller.evaluate((el) => el.scrollWidth > el.clientWidth), 'a row overflows horizontally');
  await shot('homepage.png');

  // Impressions of the visible posters, with page, row, position and artwork.
  await page.waitForTimeout(1500);
  await page.evaluate(() => window.marquee.flush());
  const imps = posted.filter((e) => e.type === 'impression' && e.profile === profile);
  assert.ok(imps.length >= 6, `impressions sent: ${imps.length}`);
  for (const f of ['page_id', 'row_id', 'row_pos', 'col_pos', 'artwork_id', 'title', 'event_id', 'ts'])
    assert.ok(imps.every((e) => e[f] !== undefined), `impressions carry ${f}`);
  assert.ok(imps.every((e) => e.context.device === 'web'));
  const keys = imps.map((e) => `${e.page_id}|${e.row_id}|${e.title}`);
  assert.equal(new Set(keys).size, keys.length, 'one impression per page, row and title');

  // A horizontal scroll in a row sends row_scroll along.
  await scroller.evaluate((el) => el.scrollBy({left: 700}));
  await page.waitForTimeout(900);
  // Scrolling down loads more rows and sends row_scroll past for the rows above.
  const before = await page.locator('.row').count();
  for (let i = 0; i < 12; i++) {
    await page.mouse.wheel(0, 900);
    await page.waitForTimeout(250);
  }
  await page.waitForFunction((n) => document.querySelectorAll('.row').length > n, before, {timeout: 10000});
  await page.waitForTimeout(600);
  await page.evaluate(() => window.marquee.flush());
  const scrolls = posted.filter((e) => e.type === 'row_scroll' && e.profile === profile);
  assert.ok(scrolls.some((e) => e.direction === 'along' && e.col_pos > 0), 'row_scroll along sent');
  assert.ok(scrolls.some((e) => e.direction === 'past'), 'row_scroll past sent');
  const st = await http(`/v1/profiles/${encodeURIComponent(profile)}/state`);
  assert.ok(st.json.rows.by_row.some((r) => r.skipped > 0), 'the server counted a row scrolled past');
});

test('thumbs down removes a title, and it stays gone after a reload', async () => {
  const profile = await someProfile(1);
  await openHome(profile);
  const card = page.locator('.row[data-row-type="top-picks"] .card, .row:not([data-row-type="continue-watching"]) .card').first();
  const title = await card.getAttribute('data-title');
  const answer = page.waitForResponse((r) => r.url().includes('/thumbs') && r.request().method() === 'POST');
  await card.locator('.thumb-down').click();
  assert.equal((await answer).status(), 200);
  // Gone without a reload (the page re-fetches) ...
  await page.waitForFunction((t) => ![...document.querySelectorAll('.card')].some((c) => c.dataset.title === t && !c.classList.contains('gone')), title);
  // ... and after one.
  await page.reload();
  await page.locator('.row .card').first().waitFor();
  assert.ok(!(await titlesIn('.row .card')).includes(title), `${title} is still on the page`);
  const st = await http(`/v1/profiles/${encodeURIComponent(profile)}/state`);
  assert.ok(st.json.thumbs.down.includes(title), 'the server has the thumbs down');
});

test('play puts a title in Continue Watching; finishing it takes it out', async () => {
  const profile = await someProfile(2);
  await openHome(profile);
  const cwBefore = await titlesIn('.row[data-row-type="continue-watching"] .card');
  const candidates = await titlesIn('.row:not([data-row-type="continue-watching"]) .card');
  // A film: a series whose episode is finished stays, offering the next episode.
  let title = null;
  for (const t of candidates.filter((c) => !cwBefore.includes(c))) {
    const got = await http(`/v1/titles/${encodeURIComponent(t)}`);
    if (got.json && got.json.kind === 'movie') { title = t; break; }
  }
  assert.ok(title, 'a film not in Continue Watching');
  await page.locator(`.row:not([data-row-type="continue-watching"]) .card[data-title="${title}"] .play`).first().click();
  await page.waitForFunction((t) => [...document.querySelectorAll('.row[data-row-type="continue-watching"] .card')]
    .some((c) => c.dataset.title === t), title, {timeout: 15000});
  const types = posted.filter((e) => e.title === title && e.profile === profile).map((e) => e.type);
  assert.ok(types.includes('play_start') && types.includes('play_stop'), `play events: ${types}`);
  const stop = posted.find((e) => e.title === title && e.type === 'play_stop');
  assert.ok(stop.position_s > 0 && stop.duration_s > stop.position_s, 'a partial watch');
  await page.reload();
  await page.locator('.row .card').first().waitFor();
  const cwAfter = await titlesIn('.row[data-row-type="continue-watching"] .card');
  assert.ok(cwAfter.includes(title), `Continue Watching after the play: ${cwAfter}`);
  assert.notDeepEqual(cwAfter, cwBefore);
  // Finishing it (complete) takes it out of Continue Watching.
  await page.locator(`.row[data-row-type="continue-watching"] .card[data-title="${title}"] .play`).click();
  await page.waitForFunction((t) => ![...document.querySelectorAll('.row[data-row-type="continue-watching"] .card')]
    .some((c) => c.dataset.title === t) && document.querySelector('.row'), title, {timeout: 15000});
  assert.ok(posted.some((e) => e.title === title && e.type === 'complete'), 'complete sent');
});

test('a title page shows the match, reasons, synopsis, artwork and more like this', async () => {
  const profile = await someProfile(0);
  await openHome(profile);
  const card = page.locator('.row:not([data-row-type="continue-watching"]) .card').first();
  const title = await card.getAttribute('data-title');
  // The answer the page renders, not a second request: impressions landing in between
  // legitimately move the match.
  const answer = page.waitForResponse((r) => new URL(r.url()).pathname ===
    `/v1/profiles/${encodeURIComponent(profile)}/titles/${encodeURIComponent(title)}`);
  await card.locator('a.poster').click();
  await page.waitForURL(new RegExp(`#/p/.+/t/${title}$`));
  await page.locator('.title-name').waitFor();
  const api = await (await answer).json();
  assert.equal(await page.locator('.title-name').textContent(), api.name);
  if (typeof api.match === 'number') {
    const shown = /^(\d+)% match$/.exec(await page.locator('.title-line .match').textContent());
    assert.ok(shown && Number(shown[1]) === api.match, `match ${shown && shown[1]} vs ${api.match}`);
  }
  assert.ok((await page.locator('.synopsis').textContent()).length > 10, 'a synopsis');
  assert.ok(await page.locator('.reasons li').count() >= 1, 'reasons');
  assert.ok(await page.locator('.more-like-this .mini').count() >= 3, 'more like this');
  const img = page.locator('.hero-art img');
  await img.evaluate((el) => (el.complete && el.naturalWidth ? 0 : new Promise((r) => { el.onload = r; el.onerror = r; })));
  assert.ok(await img.evaluate((el) => el.naturalWidth > 0), 'the artwork loaded');
  if (api.artwork && api.artwork.url) assert.equal(await img.getAttribute('src'), api.artwork.url);
  if (api.synopsis && api.synopsis.text) assert.equal(await page.locator('.synopsis').textContent(), api.synopsis.text);
  await shot('title.png');
  // "More like this" leads to another title page.
  const next = page.locator('.more-like-this .mini').first();
  const nextTitle = await next.getAttribute('data-title');
  await next.click();
  await page.waitForFunction((t) => document.querySelector('.title-page')?.dataset.title === t, nextTitle);
});

test('the dashboard draws its plots', async () => {
  // Some traffic for the plots.
  for (let i = 0; i < 5; i++) await http('/v1/profiles?limit=5');
  await page.goto(`${base}/#/dashboard`);
  await page.locator('.panel').first().waitFor({timeout: 20000});
  for (const p of ['events', 'latency', 'bundle', 'bandits', 'coverage', 'simulation'])
    assert.equal(await page.locator(`.panel[data-panel="${p}"]`).count(), 1, `panel ${p}`);
  assert.ok(await page.locator('svg.chart').count() >= 3, 'SVG plots');
  assert.ok(await page.locator('#panel-latency svg.chart .bar rect').count() >= 3, 'latency histogram bars');
  assert.ok(await page.locator('#panel-bundle table.data tbody tr').count() >= 3, 'offline metrics table');
  const dash = await http('/v1/dashboard');
  if (dash.status === 200) {
    assert.ok(await page.locator('#panel-events svg.chart polyline').count() === 1, 'events per second line');
    if (dash.json.bandits && dash.json.bandits.slots && dash.json.bandits.slots.length)
      assert.ok(await page.locator('#panel-bandits .bar').count() >= 2, 'bandit arms');
    if (dash.json.coverage) assert.match(await page.locator('#panel-coverage').textContent(), /\d/);
    if (dash.json.simulation)
      assert.ok(await page.locator('#panel-simulation svg.chart .bar').count() >= 2, 'time-to-play bars');
  } else {
    console.log(`# /v1/dashboard answered ${dash.status}: the dashboard used its fallback`);
  }
  await page.waitForTimeout(300);
  await shot('dashboard.png');
});

test('a title with HTML in its name is rendered inert', async () => {
  const profile = await someProfile(0);
  await page.goto(`${base}/#/p/${profile}/t/xss-1`);
  await page.locator('.title-name').waitFor();
  assert.equal(await page.locator('.title-name').textContent(), XSS_NAME);
  assert.equal(await page.locator('.title-name b, .title-name script').count(), 0);
  assert.ok((await page.locator('.synopsis').textContent()).includes('<img src=x'), 'synopsis shown as text');
  await page.waitForTimeout(500);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.equal(await page.locator('script').count(), 1, 'no script element besides the app');
  await shot('title-html-name.png');
  // The poster the server draws escapes the name too.
  const svg = await fetch(`${base}/v1/titles/xss-1/artwork/default`).then((r) => r.text());
  assert.ok(!svg.includes('<script>') && !svg.includes('<b>'), 'the poster escapes the name');
  // In the homepage's rows as well, when it shows up there (a new title in New Releases).
  await openHome(profile);
  for (let i = 0; i < 8; i++) { await page.mouse.wheel(0, 1200); await page.waitForTimeout(200); }
  const xss = page.locator('.card[data-title="xss-1"] .card-name');
  if (await xss.count()) assert.equal(await xss.first().textContent(), XSS_NAME);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
});

test('no script errors', () => {
  const real = errors.filter((e) => !/401|Unauthorized|Failed to load resource/.test(e));
  assert.deepEqual(real, []);
});
