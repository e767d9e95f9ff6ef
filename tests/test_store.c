/* test_store.c: the store contract (store.h): title and profile round trips,
 * idempotent appends, id resolution, scans with filters, deletes, statistics,
 * blobs, transactions and rollback, schema versions. Written against the public
 * interface only, so the PostgreSQL back end can run the same suite. */
#include "store/store.h"

#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

static char *dir;
static mq_store *st;
static mq_err err;

static void setup(void) {
    dir = th_tmpdir();
    memset(&err, 0, sizeof err);
    cr_assert_eq(mq_store_open(dir, MQ_STORE_DEFAULT, &st, &err), MQ_OK, "%s", err.msg);
}

static void teardown(void) {
    mq_store_close(st);
    th_rmrf(dir);
    free(dir);
}

static void put_title(const char *ext, const char *name) {
    mq_title t = {.ext_id = (char *)ext, .name = (char *)name, .year = 1999};
    cr_assert_eq(mq_store_put_title(st, &t, &err), MQ_OK, "%s", err.msg);
    cr_assert_gt(t.id, 0);
}

static mq_event rating(const char *id, const char *profile, const char *title, double stars,
                       int64_t ts) {
    mq_event e;
    mq_event_init(&e);
    e.event_id = id;
    e.profile = profile;
    e.title = title;
    e.type = MQ_EV_RATING;
    e.value = stars;
    e.ts_ms = ts;
    return e;
}

TestSuite(store, .init = setup, .fini = teardown);

Test(store, title_round_trip_with_assets) {
    char *tags[] = {"close-up", "warm"};
    char *genres[] = {"Crime", "Drama"};
    mq_asset art[2] = {{.id = "a0", .tags = {tags, 2}}, {.id = "a1", .tags = {tags, 1}}};
    mq_asset syn[1] = {{.id = "s0", .text = "A crew plans one last job.", .tags = {tags + 1, 1}}};
    mq_title t = {.ext_id = "heat",
                  .name = "Heat <script>",
                  .kind = MQ_KIND_MOVIE,
                  .year = 1995,
                  .runtime_min = 170,
                  .maturity = 16,
                  .added_ms = 1700000000000LL,
                  .genres = {genres, 2},
                  .artwork = art,
                  .n_artwork = 2,
                  .synopses = syn,
                  .n_synopses = 1};
    cr_assert_eq(mq_store_put_title(st, &t, &err), MQ_OK, "%s", err.msg);
    mq_arena a;
    mq_arena_init(&a, 0, 0);
    mq_title got;
    cr_assert_eq(mq_store_get_title(st, "heat", &got, &a, &err), MQ_OK, "%s", err.msg);
    cr_assert_eq(got.id, t.id);
    cr_assert_str_eq(got.name, "Heat <script>");
    cr_assert_eq(got.year, 1995);
    cr_assert_eq(got.runtime_min, 170);
    cr_assert_eq(got.maturity, 16);
    cr_assert_eq(got.added_ms, 1700000000000LL);
    cr_assert_eq(got.genres.n, 2);
    cr_assert_str_eq(got.genres.items[1], "Drama");
    cr_assert_eq(got.n_artwork, 2);
    cr_assert_str_eq(got.artwork[1].id, "a1");
    cr_assert_eq(got.artwork[0].tags.n, 2);
    cr_assert_str_eq(got.synopses[0].text, "A crew plans one last job.");

    /* Upsert keeps the id and replaces the fields. */
    uint32_t id = t.id;
    t.year = 1996;
    cr_assert_eq(mq_store_put_title(st, &t, &err), MQ_OK);
    cr_assert_eq(t.id, id);
    cr_assert_eq(mq_store_get_title(st, "heat", &got, &a, &err), MQ_OK);
    cr_assert_eq(got.year, 1996);
    cr_assert_eq(mq_store_get_title(st, "nope", &got, &a, &err), MQ_ENOTFOUND);
    cr_assert(strstr(err.msg, "\"nope\""));
    mq_arena_free(&a);
}

Test(store, profile_round_trip_and_delete_takes_events) {
    mq_profile p = {.ext_id = "296", .country = "US", .maturity_limit = 13, .created_ms = 5};
    cr_assert_eq(mq_store_put_profile(st, &p, &err), MQ_OK, "%s", err.msg);
    put_title("1", "Toy Story");
    mq_event evs[2] = {rating("e1", "296", "1", 4, 1000), rating("e2", "7", "1", 2, 2000)};
    mq_append_status status[2];
    cr_assert_eq(mq_store_append_events(st, evs, 2, status, &err), MQ_OK, "%s", err.msg);
    cr_assert_eq(evs[0].profile_id, p.id, "events resolve to the existing profile");
    mq_profile got;
    cr_assert_eq(mq_store_get_profile(st, "296", &got, NULL, &err), MQ_OK);
    cr_assert_str_eq(got.country, "US");
    cr_assert_eq(got.maturity_limit, 13);

    cr_assert_eq(mq_store_delete_profile(st, "296", &err), MQ_OK, "%s", err.msg);
    mq_store_stats s;
    cr_assert_eq(mq_store_stats_get(st, &s, &err), MQ_OK);
    cr_assert_eq(s.events, 1, "the deleted profile's events are gone, others stay");
    cr_assert_eq(s.profiles, 1);
    cr_assert_eq(mq_store_profile_id(st, "296"), 0);
    cr_assert_eq(mq_store_delete_profile(st, "296", &err), MQ_ENOTFOUND);
}

Test(store, append_is_idempotent_and_resolves_ids) {
    put_title("1", "One");
    put_title("2", "Two");
    mq_event evs[4] = {rating("a", "u1", "1", 4, 10), rating("b", "u1", "2", 3, 20),
                       rating("a", "u1", "2", 5, 30), rating("c", "u2", "999", 4, 40)};
    mq_append_status status[4];
    cr_assert_eq(mq_store_append_events(st, evs, 4, status, &err), MQ_OK, "%s", err.msg);
    cr_assert_eq(status[0], MQ_APPEND_OK);
    cr_assert_eq(status[1], MQ_APPEND_OK);
    cr_assert_eq(status[2], MQ_APPEND_DUPLICATE, "the first event with an id wins");
    cr_assert_eq(status[3], MQ_APPEND_UNKNOWN_TITLE);
    cr_assert_gt(evs[1].seq, evs[0].seq);
    cr_assert_eq(mq_store_profile_id(st, "u2"), 0, "a rejected event creates no profile");
    uint32_t u1 = mq_store_profile_id(st, "u1");
    cr_assert_gt(u1, 0, "an unknown profile is created");

    /* A retry of the whole batch stores nothing new. */
    cr_assert_eq(mq_store_append_events(st, evs, 2, status, &err), MQ_OK);
    cr_assert_eq(status[0], MQ_APPEND_DUPLICATE);
    cr_assert_eq(status[1], MQ_APPEND_DUPLICATE);
    mq_store_stats s;
    cr_assert_eq(mq_store_stats_get(st, &s, &err), MQ_OK);
    cr_assert_eq(s.events, 2);
    cr_assert_eq(s.by_type[MQ_EV_RATING], 2);
    cr_assert_eq(s.first_ts_ms, 10);
    cr_assert_eq(s.last_ts_ms, 20);
}

typedef struct {
    int n;
    char ids[16][8];
    double values[16];
    char titles[16][8];
} collected;

static int collect(void *ud, const mq_event *e) {
    collected *c = ud;
    snprintf(c->ids[c->n], 8, "%s", e->event_id);
    snprintf(c->titles[c->n], 8, "%s", e->title ? e->title : "-");
    c->values[c->n] = e->value;
    c->n++;
    return 0;
}

Test(store, scan_filters_and_fields) {
    put_title("1", "One");
    mq_event evs[4] = {rating("a", "u1", "1", 4, 100), rating("b", "u2", "1", 3, 200),
                       rating("c", "u1", "1", 5, 300), rating("d", "u1", "1", 1, 400)};
    mq_event search;
    mq_event_init(&search);
    search.event_id = "s";
    search.profile = "u1";
    search.type = MQ_EV_SEARCH;
    search.query = "heist";
    search.ts_ms = 500;
    search.device = MQ_DEVICE_PHONE;
    mq_append_status status[4];
    cr_assert_eq(mq_store_append_events(st, evs, 4, status, &err), MQ_OK);
    cr_assert_eq(mq_store_append_events(st, &search, 1, status, &err), MQ_OK);

    collected c = {0};
    mq_event_filter f = MQ_EVENT_FILTER_ALL;
    f.profile_id = mq_store_profile_id(st, "u1");
    cr_assert_eq(mq_store_each_event(st, &f, collect, &c, &err), MQ_OK, "%s", err.msg);
    cr_assert_eq(c.n, 4);
    cr_assert_str_eq(c.ids[0], "a");
    cr_assert_str_eq(c.ids[3], "s");
    cr_assert_str_eq(c.titles[0], "1", "external title ids come back");
    cr_assert_str_eq(c.titles[3], "-", "a search has no title");
    cr_assert_float_eq(c.values[1], 5, 1e-12);

    memset(&c, 0, sizeof c);
    f = MQ_EVENT_FILTER_ALL;
    f.from_ms = 200;
    f.to_ms = 400;
    cr_assert_eq(mq_store_each_event(st, &f, collect, &c, &err), MQ_OK);
    cr_assert_eq(c.n, 2);
    cr_assert_str_eq(c.ids[0], "b");

    memset(&c, 0, sizeof c);
    f = MQ_EVENT_FILTER_ALL;
    f.type = MQ_EV_SEARCH;
    cr_assert_eq(mq_store_each_event(st, &f, collect, &c, &err), MQ_OK);
    cr_assert_eq(c.n, 1);

    memset(&c, 0, sizeof c);
    f = MQ_EVENT_FILTER_ALL;
    f.after_seq = evs[2].seq;
    cr_assert_eq(mq_store_each_event(st, &f, collect, &c, &err), MQ_OK);
    cr_assert_eq(c.n, 2, "after_seq resumes the log");
}

Test(store, rollback_forgets_created_profiles) {
    put_title("1", "One");
    cr_assert_eq(mq_store_begin(st, &err), MQ_OK);
    mq_event e = rating("x", "ghost", "1", 4, 1);
    mq_append_status status;
    cr_assert_eq(mq_store_append_events(st, &e, 1, &status, &err), MQ_OK);
    cr_assert_gt(mq_store_profile_id(st, "ghost"), 0);
    mq_store_rollback(st);
    cr_assert_eq(mq_store_profile_id(st, "ghost"), 0);
    mq_store_stats s;
    mq_store_stats_get(st, &s, &err);
    cr_assert_eq(s.events, 0);
    cr_assert_eq(s.profiles, 0);
    /* The same event can be stored afterwards, with a fresh profile. */
    cr_assert_eq(mq_store_append_events(st, &e, 1, &status, &err), MQ_OK);
    cr_assert_eq(status, MQ_APPEND_OK);
}

Test(store, blobs_and_catalog) {
    cr_assert_eq(mq_store_put_blob(st, "bundle", "\0\1\2", 3, &err), MQ_OK);
    void *data;
    size_t len;
    cr_assert_eq(mq_store_get_blob(st, "bundle", &data, &len, &err), MQ_OK);
    cr_assert_eq(len, 3);
    cr_assert_eq(((char *)data)[2], 2);
    mq_free(data);
    cr_assert_eq(mq_store_get_blob(st, "none", &data, &len, &err), MQ_ENOTFOUND);

    put_title("b", "Bee");
    put_title("a", "Ay");
    mq_catalog *c;
    cr_assert_eq(mq_store_load_catalog(st, &c, &err), MQ_OK);
    cr_assert_eq(mq_catalog_title_count(c), 2);
    uint32_t id = mq_catalog_title_id(c, "a");
    cr_assert_str_eq(mq_catalog_title(c, id)->name, "Ay");
    cr_assert_eq(mq_catalog_title_id(c, "zzz"), 0);
    mq_catalog_destroy(c);

    cr_assert_eq(mq_store_delete_title(st, "a", &err), MQ_OK);
    cr_assert_eq(mq_store_title_id(st, "a"), 0);
}

Test(store, data_survives_reopen_and_schema_is_versioned) {
    put_title("1", "One");
    mq_event e = rating("x", "u", "1", 4, 1);
    mq_append_status status;
    cr_assert_eq(mq_store_append_events(st, &e, 1, &status, &err), MQ_OK);
    cr_assert_eq(mq_store_schema_version(st), MQ_STORE_SCHEMA_VERSION);
    mq_store_close(st);

    cr_assert_eq(mq_store_open(dir, MQ_STORE_DEFAULT, &st, &err), MQ_OK, "%s", err.msg);
    cr_assert_eq(mq_store_title_id(st, "1"), 1, "ids survive a reopen");
    mq_store_stats s;
    mq_store_stats_get(st, &s, &err);
    cr_assert_eq(s.events, 1);
    mq_store_close(st);

    /* Pretend a newer marquee wrote this store. */
    char path[4096];
    snprintf(path, sizeof path, "%s/marquee.db", dir);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_exec(db, "UPDATE meta SET value = '99' WHERE key = 'schema_version'", NULL, NULL,
                 NULL);
    sqlite3_close(db);
    cr_assert_eq(mq_store_open(dir, MQ_STORE_DEFAULT, &st, &err), MQ_EVERSION);
    cr_assert(strstr(err.msg, "schema version 99"), "%s", err.msg);
    cr_assert(strstr(err.msg, "newer marquee"), "%s", err.msg);
    /* Reopen something valid for the teardown. */
    th_rmrf(dir);
    cr_assert_eq(mq_store_open(dir, MQ_STORE_DEFAULT, &st, &err), MQ_OK);
}

Test(catalog, title_json_errors_name_the_field) {
    json_error_t je;
    struct {
        const char *json, *msg;
    } cases[] = {
        {"{\"name\":\"x\"}", "titles.jsonl:4.id: expected a string"},
        {"{\"id\":\"t\",\"name\":\"x\",\"year\":\"soon\"}",
         "titles.jsonl:4.year: expected an integer from 1870 to 2100, got \"soon\""},
        {"{\"id\":\"t\",\"name\":\"x\",\"kind\":\"opera\"}",
         "titles.jsonl:4.kind: expected \"movie\" or \"series\", got \"opera\""},
        {"{\"id\":\"t\",\"name\":\"x\",\"genres\":[\"a\",3]}",
         "titles.jsonl:4.genres[1]: expected a non-empty string"},
        {"{\"id\":\"t\",\"name\":\"x\",\"artwork\":[{\"tags\":[]}]}",
         "titles.jsonl:4.artwork[0].id: expected a string"},
        {"{\"id\":\"t\",\"name\":\"x\",\"maturity\":\"XXX\"}", "titles.jsonl:4.maturity: expected a rating"},
    };
    mq_arena a;
    mq_arena_init(&a, 0, 0);
    for (size_t i = 0; i < MQ_ARRAY_LEN(cases); i++) {
        json_t *j = json_loads(cases[i].json, 0, &je);
        mq_title t;
        mq_err e = {0};
        cr_assert_eq(mq_title_from_json(j, &t, &a, "titles.jsonl:4", &e), MQ_EINVAL, "case %zu", i);
        cr_assert(strncmp(e.msg, cases[i].msg, strlen(cases[i].msg)) == 0, "case %zu: %s", i,
                  e.msg);
        json_decref(j);
    }
    json_t *j = json_loads("{\"id\":\"t\",\"name\":\"x\",\"maturity\":\"PG-13\",\"kind\":\"series\"}",
                           0, &je);
    mq_title t;
    cr_assert_eq(mq_title_from_json(j, &t, &a, "x", NULL), MQ_OK);
    cr_assert_eq(t.maturity, 13);
    cr_assert_eq(t.kind, MQ_KIND_SERIES);
    json_decref(j);
    mq_arena_free(&a);
}
