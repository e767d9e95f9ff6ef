/* test_page.c: page assembly (src/page) on a small in-memory catalogue: no title
 * twice on the first screen and limited repetition below, diversity of row types
 * and themes, demotion of rows scrolled past, rotation after a horizontal scroll,
 * the maturity, thumbs-down and finished-title filters, stability across a quick
 * refresh and movement after an event, Continue Watching, the cursor, the JSON
 * form, and two profiles with different tastes getting different row orders
 * (with and without a bundle). */
#include "page/page.h"
#include "page/page_impl.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS (86400LL * 1000)
#define NOW 1790000000000LL
#define N_TITLES 96

static const char *const genres[] = {"Comedy", "Horror", "Drama", "Sci-Fi"};
static const char *const tags[][2] = {
    {"feel-good", "witty"}, {"scary", "haunted"}, {"dark", "slow-burn"}, {"epic", "space"}};

static mq_semantics sem;
static mq_catalog *cat;
static mq_arena cat_arena;

/* Title i (id i + 1): genre i % 4, two tags of it; every 12th is for adults only;
 * added one day apart; a series every 5th. */
static mq_catalog *make_catalog(void) {
    mq_catalog *c = mq_catalog_create();
    for (int i = 0; i < N_TITLES; i++) {
        mq_title t = {0};
        char id[16], name[32];
        snprintf(id, sizeof id, "t%03d", i + 1);
        snprintf(name, sizeof name, "%s title %d", genres[i % 4], i + 1);
        t.id = (uint32_t)i + 1;
        t.ext_id = id;
        t.name = name;
        t.kind = i % 5 == 0 ? MQ_KIND_SERIES : MQ_KIND_MOVIE;
        t.runtime_min = 100;
        t.maturity = i % 12 == 11 ? 18 : 7;
        t.added_ms = NOW - (int64_t)(N_TITLES - i) * DAY_MS;
        char *g[1] = {(char *)genres[i % 4]};
        t.genres = (mq_strlist){g, 1};
        char *tg[2] = {(char *)tags[i % 4][0], (char *)tags[i % 4][(i / 4) % 2]};
        t.tags = (mq_strlist){tg, (i / 4) % 2 ? 2u : 1u};
        char a0[32], a1[32], s0[32];
        snprintf(a0, sizeof a0, "%s-a0", id);
        snprintf(a1, sizeof a1, "%s-a1", id);
        snprintf(s0, sizeof s0, "%s-s0", id);
        mq_asset art[2] = {{a0, NULL, {0}}, {a1, NULL, {0}}};
        mq_asset syn[1] = {{s0, "A \"quoted\" synopsis.", {0}}};
        t.artwork = art;
        t.n_artwork = 2;
        t.synopses = syn;
        t.n_synopses = 1;
        mq_catalog_put_title(c, &t);
    }
    return c;
}

static mq_page_service *service(int cache_pages) {
    mq_page_params p;
    mq_page_params_default(&p);
    p.theme_min_titles = 5;
    p.cache_pages = cache_pages;
    p.explore = 0;
    mq_page_service *s;
    mq_err err = {0};
    cr_assert_eq(mq_page_service_create(&p, &s, &err), MQ_OK, "%s", err.msg);
    cr_assert_eq(mq_page_service_set_catalog(s, make_catalog(), &err), MQ_OK, "%s", err.msg);
    return s;
}

static void setup(void) {
    mq_semantics_defaults(&sem);
    mq_arena_init(&cat_arena, 1 << 16, 0);
    cat = NULL;
}

static void teardown(void) {
    mq_arena_free(&cat_arena);
}

TestSuite(page, .init = setup, .fini = teardown);

static mq_event ev(mq_event_type type, uint32_t profile, uint32_t title, int64_t ts) {
    mq_event e;
    mq_event_init(&e);
    e.type = type;
    e.profile_id = profile;
    e.title_id = title;
    e.ts_ms = ts;
    e.event_id = "x";
    e.profile = "p";
    e.device = MQ_DEVICE_TV;
    return e;
}

/* A full play of title t (a completion) by profile p at ts. */
static void watched(mq_state *st, uint32_t p, uint32_t t, int64_t ts) {
    mq_event e = ev(MQ_EV_PLAY_START, p, t, ts);
    e.position_s = 0;
    mq_state_apply(st, &e);
    e = ev(MQ_EV_COMPLETE, p, t, ts + 6000000);
    e.duration_s = 6000;
    mq_state_apply(st, &e);
}

/* A partial play: stopped at `frac` of the title. */
static void started(mq_state *st, uint32_t p, uint32_t t, int64_t ts, double frac) {
    mq_event e = ev(MQ_EV_PLAY_START, p, t, ts);
    e.position_s = 0;
    mq_state_apply(st, &e);
    e = ev(MQ_EV_PLAY_STOP, p, t, ts + 60000);
    e.position_s = frac * 6000;
    e.duration_s = 6000;
    mq_state_apply(st, &e);
}

static void scroll(mq_state *st, uint32_t p, const char *row, mq_scroll_dir dir, int64_t ts) {
    mq_event e = ev(MQ_EV_ROW_SCROLL, p, 0, ts);
    e.page_id = "pg";
    e.row_id = row;
    e.row_pos = 0;
    e.direction = dir;
    mq_state_apply(st, &e);
}

static mq_page_request request(mq_state *st, uint32_t profile) {
    mq_page_request rq = {0};
    rq.profile_id = profile;
    rq.profile = "p";
    rq.maturity_limit = 18;
    rq.device = MQ_DEVICE_TV;
    rq.now_ms = NOW;
    rq.policy = -1;
    rq.state = st;
    rq.rows = 12;
    rq.items = 10;
    return rq;
}

static void build(mq_page_service *s, const mq_page_request *rq, mq_arena *a, mq_page *pg) {
    mq_err err = {0};
    cr_assert_eq(mq_page_build(s, rq, a, pg, &err), MQ_OK, "%s", err.msg);
}

static long row_index(const mq_page *pg, const char *row_id) {
    for (size_t i = 0; i < pg->n_rows; i++)
        if (strcmp(pg->rows[i].row_id, row_id) == 0)
            return (long)i;
    return -1;
}

static bool on_page(const mq_page *pg, uint32_t title, mq_page_row_kind *kind) {
    for (size_t i = 0; i < pg->n_rows; i++)
        for (size_t k = 0; k < pg->rows[i].n_items; k++)
            if (pg->rows[i].items[k].title_id == title) {
                if (kind)
                    *kind = pg->rows[i].kind;
                return true;
            }
    return false;
}

/* A horror fan (genre 1: titles 2, 6, 10, ...) and a comedy fan (titles 1, 5, ...). */
static void horror_fan(mq_state *st, uint32_t p) {
    for (int k = 0; k < 6; k++)
        watched(st, p, (uint32_t)(2 + 4 * k), NOW - (10 - k) * DAY_MS);
}

static void comedy_fan(mq_state *st, uint32_t p) {
    for (int k = 0; k < 6; k++)
        watched(st, p, (uint32_t)(1 + 4 * k), NOW - (10 - k) * DAY_MS);
}

Test(page, names_and_formats) {
    for (int k = 0; k < MQ_ROW_KIND_COUNT; k++)
        cr_assert_eq(mq_page_row_kind_parse(mq_page_row_type((mq_page_row_kind)k)), k);
    for (int p = 0; p < MQ_PAGE_POLICY_COUNT; p++)
        cr_assert_eq(mq_page_policy_parse(mq_page_policy_name((mq_page_policy)p)), p);
    cr_assert_eq(mq_page_policy_parse("nope"), -1);
    cr_assert_lt(mq_page_device_format(MQ_DEVICE_PHONE).visible,
                 mq_page_device_format(MQ_DEVICE_TV).visible);
    mq_page_params p;
    mq_page_params_default(&p);
    cr_assert_null(mq_page_params_check(&p));
    p.max_rows = 0;
    cr_assert_not_null(mq_page_params_check(&p));
}

Test(page, first_screen_has_no_repeats_and_below_is_limited) {
    mq_page_service *s = service(64);
    mq_state *st = mq_state_create(&sem);
    horror_fan(st, 7);
    started(st, 7, 30, NOW - DAY_MS, 0.4);
    mq_arena a;
    mq_arena_init(&a, 1 << 20, 0);
    mq_page_request rq = request(st, 7);
    rq.rows = 20;
    mq_page pg;
    build(s, &rq, &a, &pg);
    const mq_page_params *pp = mq_page_service_params(s);
    cr_assert_geq(pg.n_rows, 6);
    uint32_t seen[64];
    int n = 0;
    for (size_t i = 0; i < pg.n_rows && (int)i < pp->screen_rows; i++)
        for (size_t k = 0; k < pg.rows[i].n_items && (int)k < pp->screen_cols; k++) {
            for (int j = 0; j < n; j++)
                cr_assert_neq(seen[j], pg.rows[i].items[k].title_id,
                              "title %u twice within the first screen", seen[j]);
            seen[n++] = pg.rows[i].items[k].title_id;
        }
    int count[N_TITLES + 1] = {0};
    for (size_t i = 0; i < pg.n_rows; i++) {
        for (size_t k = 0; k < pg.rows[i].n_items; k++) {
            uint32_t t = pg.rows[i].items[k].title_id;
            count[t]++;
            for (size_t j = 0; j < k; j++)
                cr_assert_neq(pg.rows[i].items[j].title_id, t, "a title twice in one row");
        }
    }
    for (int t = 1; t <= N_TITLES; t++)
        cr_assert_leq(count[t], pp->max_repeats, "title %d appears %d times", t, count[t]);
    mq_page_done(s, &pg);
    mq_arena_free(&a);
    mq_state_destroy(st);
    mq_page_service_destroy(s);
}

Test(page, rows_are_diverse) {
    mq_page_service *s = service(0);
    mq_state *st = mq_state_create(&sem);
    horror_fan(st, 7);
    mq_arena a;
    mq_arena_init(&a, 1 << 20, 0);
    mq_page_request rq = request(st, 7);
    mq_page pg;
    build(s, &rq, &a, &pg);
    /* Several row types near the top, and never the same row twice. */
    int kinds[MQ_ROW_KIND_COUNT] = {0}, distinct = 0;
    for (size_t i = 0; i < pg.n_rows && i < 6; i++)
        if (kinds[pg.rows[i].kind]++ == 0)
            distinct++;
    cr_assert_geq(distinct, 3, "the first 6 rows have %d row types", distinct);
    for (size_t i = 0; i < pg.n_rows; i++)
        for (size_t j = 0; j < i; j++)
            cr_assert_str_neq(pg.rows[i].row_id, pg.rows[j].row_id);
    /* Theme rows of the fan's genre are not all stacked on top: the diversity
     * penalty puts other rows between them. */
    int horror_top = 0;
    for (size_t i = 0; i < pg.n_rows && i < 4; i++)
        horror_top += strncmp(pg.rows[i].row_id, "theme:horror", 12) == 0;
    cr_assert_leq(horror_top, 2);
    mq_page_done(s, &pg);
    mq_arena_free(&a);
    mq_state_destroy(st);
    mq_page_service_destroy(s);
}

Test(page, rows_scrolled_past_are_demoted) {
    mq_page_service *s = service(0);
    mq_state *st = mq_state_create(&sem);
    horror_fan(st, 7);
    mq_arena a;
    mq_arena_init(&a, 1 << 20, 0);
    mq_page_request rq = request(st, 7);
    mq_page pg;
    build(s, &rq, &a, &pg);
    char row[128];
    size_t r0 = 0;
    while (r0 < pg.n_rows && pg.rows[r0].kind == MQ_ROW_CONTINUE)
        r0++;
    cr_assert_lt(r0, pg.n_rows);
    snprintf(row, sizeof row, "%s", pg.rows[r0].row_id);
    long before = row_index(&pg, row);
    mq_page_done(s, &pg);
    for (int i = 0; i < 40; i++)
        scroll(st, 7, row, MQ_DIR_PAST, NOW - 1000 + i);
    mq_arena_reset(&a);
    build(s, &rq, &a, &pg);
    long after = row_index(&pg, row);
    cr_assert(after < 0 || after > before, "%s was at %ld, still at %ld after 40 skips", row,
              before, after);
    mq_page_done(s, &pg);
    mq_arena_free(&a);
    mq_state_destroy(st);
    mq_page_service_destroy(s);
}

Test(page, a_horizontal_scroll_rotates_the_row) {
    mq_page_service *s = service(0);
    mq_state *st = mq_state_create(&sem);
    horror_fan(st, 7);
    mq_arena a;
    mq_arena_init(&a, 1 << 20, 0);
    mq_page_request rq = request(st, 7);
    rq.items = 6;
    mq_page pg;
    build(s, &rq, &a, &pg);
    long r = -1;
    for (size_t i = 0; i < pg.n_rows && r < 0; i++)
        if (pg.rows[i].kind == MQ_ROW_THEME && pg.rows[i].n_items == 6)
            r = (long)i;
    cr_assert_geq(r, 0);
    char row[128];
    snprintf(row, sizeof row, "%s", pg.rows[r].row_id);
    uint32_t first[6];
    for (int k = 0; k < 6; k++)
        first[k] = pg.rows[r].items[k].title_id;
    mq_page_done(s, &pg);
    scroll(st, 7, row, MQ_DIR_ALONG, NOW - 1000);
    mq_arena_reset(&a);
    build(s, &rq, &a, &pg);
    long r2 = row_index(&pg, row);
    cr_assert_geq(r2, 0, "the row scrolled along is still on the page");
    /* "interested in this theme, not these titles": its first titles are new. */
    cr_assert_neq(pg.rows[r2].items[0].title_id, first[0]);
    int same = 0;
    for (size_t k = 0; k < pg.rows[r2].n_items; k++)
        for (int j = 0; j < 6; j++)
            same += pg.rows[r2].items[k].title_id == first[j];
    cr_assert_lt(same, 6, "rotation showed the same titles");
    mq_page_done(s, &pg);
    mq_arena_free(&a);
    mq_state_destroy(st);
    mq_page_service_destroy(s);
}

Test(page, maturity_thumbs_down_and_finished_filters) {
    mq_page_service *s = service(0);
    mq_state *st = mq_state_create(&sem);
    horror_fan(st, 7); /* finished 2, 6, 10, 14, 18, 22 */
    mq_arena a;
    mq_arena_init(&a, 1 << 20, 0);
    mq_page_request rq = request(st, 7);
    rq.maturity_limit = 13;
    rq.rows = 20;
    mq_page pg;
    build(s, &rq, &a, &pg);
    uint32_t victim = 0;
    for (size_t i = 0; i < pg.n_rows; i++)
        for (size_t k = 0; k < pg.rows[i].n_items; k++) {
            const mq_page_item *it = &pg.rows[i].items[k];
            cr_assert_leq(it->title->maturity, 13, "%s (maturity %d) shown to a 13 limit",
                          it->title->ext_id, it->title->maturity);
            if (it->title_id % 4 == 2 && it->title_id <= 22)
                cr_assert(pg.rows[i].kind == MQ_ROW_WATCH_AGAIN ||
                              pg.rows[i].kind == MQ_ROW_CONTINUE,
                          "finished %s shown in %s", it->title->ext_id, pg.rows[i].row_id);
            if (!victim && pg.rows[i].kind != MQ_ROW_WATCH_AGAIN)
                victim = it->title_id;
        }
    cr_assert_neq(victim, 0);
    mq_page_done(s, &pg);
    mq_event e = ev(MQ_EV_THUMBS, 7, victim, NOW - 500);
    e.value = MQ_THUMB_DOWN;
    mq_state_apply(st, &e);
    mq_arena_reset(&a);
    build(s, &rq, &a, &pg);
    cr_assert_not(on_page(&pg, victim, NULL), "a thumbs down title is still on the page");
    mq_page_done(s, &pg);
    mq_arena_free(&a);
    mq_state_destroy(st);
    mq_page_service_destroy(s);
}

static void same_rows(const mq_page *x, const mq_page *y, bool *same) {
    *same = x->n_rows == y->n_rows;
    for (size_t i = 0; *same && i < x->n_rows; i++) {
        *same = strcmp(x->rows[i].row_id, y->rows[i].row_id) == 0 &&
                x->rows[i].n_items == y->rows[i].n_items;
        for (size_t k = 0; *same && k < x->rows[i].n_items; k++)
            *same = x->rows[i].items[k].title_id == y->rows[i].items[k].title_id;
    }
}

Test(page, stable_across_a_refresh_and_moves_after_an_event) {
    mq_page_service *s = service(64);
    mq_state *st = mq_state_create(&sem);
    horror_fan(st, 7);
    mq_arena a1, a2;
    mq_arena_init(&a1, 1 << 20, 0);
    mq_arena_init(&a2, 1 << 20, 0);
    mq_page_request rq = request(st, 7);
    mq_page p1, p2;
    build(s, &rq, &a1, &p1);
    /* Showing the page logs impressions; a refresh a minute later is the same page. */
    for (size_t k = 0; k < p1.rows[0].n_items; k++) {
        mq_event e = ev(MQ_EV_IMPRESSION, 7, p1.rows[0].items[k].title_id, NOW + 1000);
        e.page_id = p1.page_id;
        e.row_id = p1.rows[0].row_id;
        mq_state_apply(st, &e);
    }
    rq.now_ms = NOW + 60000;
    build(s, &rq, &a2, &p2);
    bool same;
    same_rows(&p1, &p2, &same);
    cr_assert(same, "a quick refresh changed the page");
    cr_assert_str_neq(p1.page_id, p2.page_id, "page ids are unique per request");
    cr_assert(p2.stats.reused);
    mq_page_done(s, &p2);
    /* The profile plays something: the page moves. */
    watched(st, 7, 26, NOW + 70000);
    mq_arena_reset(&a2);
    rq.now_ms = NOW + 8000000;
    build(s, &rq, &a2, &p2);
    same_rows(&p1, &p2, &same);
    cr_assert_not(same, "the page did not move after a play");
    cr_assert_not(p2.stats.reused);
    /* And without the cache, the same inputs give the same page. */
    mq_page_request r2 = rq;
    r2.fresh = true;
    mq_page p3;
    mq_arena a3;
    mq_arena_init(&a3, 1 << 20, 0);
    build(s, &r2, &a3, &p3);
    same_rows(&p2, &p3, &same);
    cr_assert(same, "the same state and session gave another page");
    mq_page_done(s, &p3);
    mq_page_done(s, &p2);
    mq_page_done(s, &p1);
    mq_arena_free(&a1);
    mq_arena_free(&a2);
    mq_arena_free(&a3);
    mq_state_destroy(st);
    mq_page_service_destroy(s);
}

static long cw_pos(const mq_page *pg, uint32_t title) {
    long cw = row_index(pg, "continue-watching");
    for (size_t k = 0; cw >= 0 && k < pg->rows[cw].n_items; k++)
        if (pg->rows[cw].items[k].title_id == title)
            return (long)k;
    return -1;
}

Test(page, continue_watching_follows_resumes_and_completions) {
    mq_page_service *s = service(0);
    mq_state *st = mq_state_create(&sem);
    comedy_fan(st, 7);
    started(st, 7, 34, NOW - 3 * DAY_MS, 0.5); /* movies (34 - 1) % 5 != 0 */
    started(st, 7, 38, NOW - 1 * DAY_MS, 0.3);
    started(st, 7, 41, NOW - 5 * DAY_MS, 0.5); /* a series: (41 - 1) % 5 == 0 */
    mq_arena a;
    mq_arena_init(&a, 1 << 20, 0);
    mq_page_request rq = request(st, 7);
    mq_page pg;
    build(s, &rq, &a, &pg);
    long cw = row_index(&pg, "continue-watching");
    cr_assert_geq(cw, 0);
    cr_assert_eq(cw_pos(&pg, 38), 0, "the most recent start comes first");
    cr_assert_geq(cw_pos(&pg, 34), 1);
    long series = cw_pos(&pg, 41);
    cr_assert_geq(series, 1);
    cr_assert(strstr(pg.rows[cw].items[0].evidence, "min left"));
    mq_page_done(s, &pg);
    /* The movie completes: it leaves; an episode of the series completes: the
     * series stays, for its next episode, and moves up. */
    mq_event e = ev(MQ_EV_COMPLETE, 7, 38, NOW - 2000);
    e.duration_s = 6000;
    mq_state_apply(st, &e);
    e = ev(MQ_EV_COMPLETE, 7, 41, NOW - 1000);
    e.duration_s = 6000;
    mq_state_apply(st, &e);
    mq_arena_reset(&a);
    build(s, &rq, &a, &pg);
    cr_assert_eq(cw_pos(&pg, 38), -1, "a completed movie leaves Continue Watching");
    cr_assert_geq(cw_pos(&pg, 34), 0);
    long moved = cw_pos(&pg, 41);
    cr_assert_geq(moved, 0, "a series with a completed episode stays");
    cr_assert_lt(moved, series, "and moves up");
    cw = row_index(&pg, "continue-watching");
    cr_assert_str_eq(pg.rows[cw].items[moved].evidence, "Next episode");
    mq_page_done(s, &pg);
    mq_arena_free(&a);
    mq_state_destroy(st);
    mq_page_service_destroy(s);
}

Test(page, cursor_gives_the_next_rows_of_the_same_page) {
    mq_page_service *s = service(64);
    mq_state *st = mq_state_create(&sem);
    horror_fan(st, 7);
    mq_arena a;
    mq_arena_init(&a, 1 << 20, 0);
    mq_page_request rq = request(st, 7);
    rq.rows = 3;
    mq_page pg, next;
    build(s, &rq, &a, &pg);
    cr_assert_eq(pg.n_rows, 3);
    cr_assert_gt(pg.total_rows, 3);
    cr_assert_neq(pg.next_cursor[0], '\0');
    mq_err err = {0};
    cr_assert_eq(mq_page_next(s, &rq, pg.next_cursor, 3, &a, &next, &err), MQ_OK, "%s", err.msg);
    cr_assert_str_eq(next.page_id, pg.page_id);
    cr_assert_eq(next.first_row, 3);
    for (size_t i = 0; i < next.n_rows; i++)
        for (size_t j = 0; j < pg.n_rows; j++)
            cr_assert_str_neq(next.rows[i].row_id, pg.rows[j].row_id);
    mq_page_done(s, &next);
    cr_assert_eq(mq_page_next(s, &rq, "pg-00000000-1.3", 3, &a, &next, &err), MQ_EINVAL);
    mq_page_request other = rq;
    other.profile_id = 8;
    cr_assert_eq(mq_page_next(s, &other, pg.next_cursor, 3, &a, &next, &err), MQ_EINVAL);
    mq_page_done(s, &pg);
    mq_arena_free(&a);
    mq_state_destroy(st);
    mq_page_service_destroy(s);
}

Test(page, json_form) {
    mq_page_service *s = service(0);
    mq_state *st = mq_state_create(&sem);
    comedy_fan(st, 3);
    mq_event e = ev(MQ_EV_SEARCH, 3, 0, NOW - 3600000);
    e.query = "horror";
    mq_state_apply(st, &e);
    mq_arena a;
    mq_arena_init(&a, 1 << 20, 0);
    mq_page_request rq = request(st, 3);
    rq.rows = 20;
    mq_page pg;
    build(s, &rq, &a, &pg);
    mq_buf b;
    mq_buf_init(&b, 0);
    cr_assert_eq(mq_page_json(&pg, mq_page_service_params(s), &b), MQ_OK);
    json_error_t je;
    json_t *j = json_loads(b.data, 0, &je);
    cr_assert_not_null(j, "%s at %d", je.text, je.column);
    cr_assert_str_eq(json_string_value(json_object_get(j, "page_id")), pg.page_id);
    json_t *rows = json_object_get(j, "rows");
    cr_assert_eq(json_array_size(rows), pg.n_rows);
    bool searched = false;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        cr_assert(json_is_string(json_object_get(row, "row_id")));
        cr_assert(json_is_string(json_object_get(row, "type")));
        cr_assert(json_is_string(json_object_get(row, "caption")));
        cr_assert(json_is_string(json_object_get(row, "evidence")));
        searched |=
            strcmp(json_string_value(json_object_get(row, "type")), "because-you-searched") == 0;
        json_t *item = json_array_get(json_object_get(row, "items"), 0);
        cr_assert_not_null(item);
        cr_assert(json_is_string(json_object_get(item, "title")));
        cr_assert(json_is_string(json_object_get(item, "evidence")));
        cr_assert(json_is_array(json_object_get(item, "labels")));
        json_t *art = json_object_get(item, "artwork");
        cr_assert(json_is_string(json_object_get(art, "id")));
        cr_assert(json_is_string(json_object_get(art, "url")));
        cr_assert_str_eq(
            json_string_value(json_object_get(json_object_get(item, "synopsis"), "text")),
            "A \"quoted\" synopsis.");
    }
    cr_assert(searched, "a recent search gives a Because you searched row");
    json_decref(j);
    mq_buf_free(&b);
    mq_page_done(s, &pg);
    mq_arena_free(&a);
    mq_state_destroy(st);
    mq_page_service_destroy(s);
}

/* The row ids in page order, as one string. */
static void row_order(const mq_page *pg, char *out, size_t n) {
    out[0] = '\0';
    for (size_t i = 0; i < pg->n_rows; i++) {
        strncat(out, pg->rows[i].row_id, n - strlen(out) - 1);
        strncat(out, " ", n - strlen(out) - 1);
    }
}

/* The genre (index into genres[]) of the first row about a subject: a theme
 * row's genre, or the genre of a Because-you-watched row's title; -1 if none. */
static int first_personal_genre(const mq_page *pg) {
    for (size_t i = 0; i < pg->n_rows; i++) {
        const mq_page_row *r = &pg->rows[i];
        if (r->kind == MQ_ROW_BECAUSE_WATCHED) {
            int t = atoi(strchr(r->row_id, ':') + 2); /* "because-you-watched:t014" */
            return (t - 1) % 4;
        }
        if (r->kind == MQ_ROW_THEME) {
            for (int g = 0; g < 4; g++) {
                char id[64];
                snprintf(id, sizeof id, "theme:%s", genres[g]);
                for (char *p = id; *p; p++)
                    *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
                if (strncmp(r->row_id, id, strlen(id)) == 0)
                    return g;
            }
        }
    }
    return -1;
}

static void different_tastes(const mq_bundle *b) {
    mq_page_service *s = service(0);
    mq_state *st = mq_state_create(&sem);
    horror_fan(st, 7);
    comedy_fan(st, 8);
    mq_arena a;
    mq_arena_init(&a, 1 << 20, 0);
    mq_page_request rq = request(st, 7);
    rq.bundle = b;
    rq.bundle_version = 1;
    mq_page h, c;
    build(s, &rq, &a, &h);
    rq.profile_id = 8;
    build(s, &rq, &a, &c);
    char oh[4096], oc[4096];
    row_order(&h, oh, sizeof oh);
    row_order(&c, oc, sizeof oc);
    cr_assert_str_neq(oh, oc);
    /* Not just other titles in the same rows: the first row about a subject (a
     * theme, or a title watched) is each fan's own genre. */
    cr_assert_eq(first_personal_genre(&h), 1, "horror fan: %s", oh);
    cr_assert_eq(first_personal_genre(&c), 0, "comedy fan: %s", oc);
    mq_page_done(s, &h);
    mq_page_done(s, &c);
    mq_arena_free(&a);
    mq_state_destroy(st);
    mq_page_service_destroy(s);
}

Test(page, different_tastes_get_different_row_orders) {
    different_tastes(NULL);
}

/* The same with a bundle: each profile of a genre played that genre's titles. */
Test(page, different_tastes_get_different_row_orders_with_models) {
    mq_entry e[400];
    size_t n = 0;
    for (uint32_t u = 0; u < 40; u++)
        for (uint32_t k = 0; k < 8; k++) {
            uint32_t col = (u % 4) + 4 * ((u + 3 * k) % 24); /* titles of genre u % 4 */
            e[n++] = (mq_entry){u, col, 1.0f, 0.0f, 1, NOW - (int64_t)k * DAY_MS};
        }
    mq_matrix *m = mq_matrix_from_entries(40, N_TITLES, e, n);
    mq_config *cfg = mq_config_create();
    mq_train_params p;
    mq_train_params_from_config(&p, cfg);
    p.models = (1u << MQ_MODEL_POPULAR) | (1u << MQ_MODEL_TRENDING) | (1u << MQ_MODEL_KNN) |
               (1u << MQ_MODEL_IALS);
    p.ials.factors = 8;
    p.ials.iters = 4;
    p.threads = 1;
    mq_bundle *b = NULL;
    mq_err err = {0};
    cr_assert_eq(mq_train(m, &p, NULL, NULL, NULL, &b, &err), MQ_OK, "%s", err.msg);
    different_tastes(b);
    mq_bundle_destroy(b);
    mq_matrix_destroy(m);
    mq_config_destroy(cfg);
}

/* Genres (of title id: (id - 1) % 4) and genre x tag themes in the visible
 * places (6 on a TV) of the first `rows` rows. */
static int themes_on_top(const mq_page *pg, size_t rows) {
    bool seen[8] = {0};
    int n = 0;
    for (size_t i = 0; i < pg->n_rows && i < rows; i++)
        for (size_t k = 0; k < pg->rows[i].n_items && k < 6; k++) {
            uint32_t t = pg->rows[i].items[k].title_id - 1;
            int th = (int)(t % 4) * 2 + (int)((t / 4) % 2); /* genre, and its second tag */
            n += !seen[th];
            seen[th] = true;
        }
    return n;
}

/* A member the page knows nothing about, on a catalogue where one genre is far
 * more popular: with page.coverage_weight the first rows spread over more themes
 * than the popular rows alone would show (here 6 of the 8 genre x tag themes
 * against 4). */
Test(page, an_unknown_taste_gets_first_rows_spread_over_themes) {
    mq_entry e[600];
    size_t n = 0;
    for (uint32_t u = 0; u < 60; u++)
        for (uint32_t k = 0; k < 8; k++) {
            uint32_t g = u < 45 ? 0 : u % 4; /* comedies, mostly */
            e[n++] = (mq_entry){u, g + 4 * ((u + 3 * k) % 24), 1.0f, 0.0f, 1,
                                NOW - (int64_t)k * DAY_MS};
        }
    mq_matrix *m = mq_matrix_from_entries(60, N_TITLES, e, n);
    mq_config *cfg = mq_config_create();
    mq_train_params p;
    mq_train_params_from_config(&p, cfg);
    p.models = (1u << MQ_MODEL_POPULAR) | (1u << MQ_MODEL_TRENDING) | (1u << MQ_MODEL_KNN);
    p.threads = 1;
    mq_bundle *b = NULL;
    mq_err err = {0};
    cr_assert_eq(mq_train(m, &p, NULL, NULL, NULL, &b, &err), MQ_OK, "%s", err.msg);
    int spread[2];
    for (int with = 0; with < 2; with++) {
        mq_page_params pp;
        mq_page_params_default(&pp);
        pp.theme_min_titles = 5;
        pp.cache_pages = 0;
        pp.explore = 0;
        pp.coverage_weight = with ? 1.0 : 0.0;
        mq_page_service *s;
        cr_assert_eq(mq_page_service_create(&pp, &s, &err), MQ_OK, "%s", err.msg);
        cr_assert_eq(mq_page_service_set_catalog(s, make_catalog(), &err), MQ_OK, "%s", err.msg);
        mq_state *st = mq_state_create(&sem);
        mq_arena a;
        mq_arena_init(&a, 1 << 20, 0);
        mq_page_request rq = request(st, 9);
        rq.bundle = b;
        rq.bundle_version = 1;
        mq_page pg;
        build(s, &rq, &a, &pg);
        spread[with] = themes_on_top(&pg, 3);
        mq_page_done(s, &pg);
        mq_arena_free(&a);
        mq_state_destroy(st);
        mq_page_service_destroy(s);
    }
    cr_assert_gt(spread[1], spread[0], "themes in the first 3 rows: %d with coverage, %d without",
                 spread[1], spread[0]);
    mq_bundle_destroy(b);
    mq_matrix_destroy(m);
    mq_config_destroy(cfg);
}

Test(page, every_policy_builds_a_page) {
    mq_page_service *s = service(0);
    mq_state *st = mq_state_create(&sem);
    horror_fan(st, 7);
    mq_arena a;
    mq_arena_init(&a, 1 << 20, 0);
    for (int p = 0; p < MQ_PAGE_POLICY_COUNT; p++) {
        mq_page_request rq = request(st, 7);
        rq.policy = p;
        mq_page pg;
        build(s, &rq, &a, &pg);
        cr_assert_gt(pg.n_rows, 3, "%s", mq_page_policy_name((mq_page_policy)p));
        cr_assert_eq(pg.policy, (mq_page_policy)p);
        if (p == MQ_PAGE_POLICY_POPULAR || p == MQ_PAGE_POLICY_TEMPLATE) {
            /* the same row types for a new profile as for this one */
            mq_page_request r2 = request(st, 99);
            r2.policy = p;
            mq_page pn;
            build(s, &r2, &a, &pn);
            if (p == MQ_PAGE_POLICY_POPULAR)
                cr_assert_str_eq(pn.rows[0].row_id, pg.rows[0].row_id);
            mq_page_done(s, &pn);
        }
        mq_page_done(s, &pg);
        mq_arena_reset(&a);
    }
    mq_arena_free(&a);
    mq_state_destroy(st);
    mq_page_service_destroy(s);
}

/* The live state's memory of searches (state.c, for the search rows): distinct
 * queries (case and spaces aside), newest first, the title clicked, at most
 * MQ_STATE_MAX_SEARCHES kept. */
Test(page, state_remembers_the_latest_searches) {
    mq_state *st = mq_state_create(&sem);
    const char *qs[] = {"heist", "  Space ", "romcom", "HEIST", "true crime", "cartoons"};
    for (int i = 0; i < 6; i++) {
        mq_event e = ev(MQ_EV_SEARCH, 5, 0, NOW - (int64_t)(10 - i) * 60000);
        e.query = qs[i];
        mq_state_apply(st, &e);
    }
    mq_event c = ev(MQ_EV_SEARCH_CLICK, 5, 12, NOW - 1000);
    c.query = "cartoons";
    mq_state_apply(st, &c);
    mq_state_view v;
    cr_assert(mq_state_get(st, 5, NOW, &v));
    cr_assert_eq(v.n_searches, MQ_STATE_MAX_SEARCHES);
    cr_assert_str_eq(v.searches[0].query, "cartoons");
    cr_assert_eq(v.searches[0].clicked, 12);
    cr_assert_str_eq(v.searches[1].query, "true crime");
    cr_assert_str_eq(v.searches[2].query, "heist", "a repeat moves the first spelling up");
    cr_assert_str_eq(v.searches[3].query, "romcom");
    for (size_t i = 0; i < v.n_searches; i++)
        cr_assert_str_neq(v.searches[i].query, "Space", "the oldest was dropped");
    mq_state_view_free(&v);
    mq_state_destroy(st);
}

/* The JSON's numbers without snprintf: the same text as snprintf, for the row
 * scores ("%.4f") and the propensities ("%.4g") of a page, at the rounding
 * ties and over a million random floats. */
Test(page, numbers_are_written_as_snprintf_writes_them) {
    const float fixed[] = {0.5f,     0.00005f, 0.99995f, 0.12345f, 1.0f / 3, 0.0001f, 0.1f,
                           0.9667f,  0.03125f, 0.4375f,  2.5e-5f,  1e-4f,    0.99999f, 0.25f,
                           0.00049f, 0.12355f, 0.2f,     0.6f,     0.05f,    0.015625f};
    char want[64], got[32];
    mq_rng r;
    mq_rng_seed(&r, 11, 0);
    int g4 = 0;
    for (int i = 0; i < 1000000 + (int)MQ_ARRAY_LEN(fixed); i++) {
        float p = i < (int)MQ_ARRAY_LEN(fixed) ? fixed[i] : (float)mq_rng_unif(&r);
        if (p > 0 && p < 1 && pg_fmt_g4(p, got)) {
            g4++;
            snprintf(want, sizeof want, "%.4g", (double)p);
            cr_assert_str_eq(got, want, "%%.4g of %.9g", (double)p);
        }
        cr_assert(pg_fmt_f4(p, got));
        snprintf(want, sizeof want, "%.4f", (double)p);
        cr_assert_str_eq(got, want, "%%.4f of %.9g", (double)p);
        float s = (p - 0.5f) * 7; /* scores: negative too */
        if (pg_fmt_f4(s, got)) {
            snprintf(want, sizeof want, "%.4f", (double)s);
            cr_assert_str_eq(got, want, "%%.4f of %.9g", (double)s);
        }
    }
    cr_assert_gt(g4, 999000, "only %d propensities written without snprintf", g4);
    cr_assert_not(pg_fmt_g4(0.1, got), "0.1 is not a float's value: snprintf writes it");
    cr_assert_not(pg_fmt_f4(1e12, got));
}
