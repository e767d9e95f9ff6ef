/* test_store.c: the store contract (store.h): title and profile round trips,
 * idempotent appends, id resolution, scans with filters, deletes, statistics,
 * blobs and their versions, transactions and rollback, schema versions, and
 * following what another handle committed. Written against the public interface
 * only, and run on both back ends: each STORE_TEST runs in the suite
 * store_sqlite (a temporary data directory) and in store_postgres (a fresh
 * database on the server named by MQ_TEST_POSTGRES, a URL where the tests may
 * create databases; `make test` starts one with scripts/pg_test_server.sh).
 * Without MQ_TEST_POSTGRES the PostgreSQL tests skip, saying so. The tests of
 * store_postgres alone cover what only a server has: a lost connection, an error
 * inside a transaction, and a deletion by another node under a stale cache. */
#include "store/store.h"

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

static char *dir;    /* SQLite: the data directory */
static char *target; /* what mq_store_open is given */
static char *pg_db;  /* PostgreSQL: this test's database */
static bool no_server;
static mq_store *st;
static mq_err err;

#define NO_SERVER_MSG                                                                      \
    "MQ_TEST_POSTGRES is not set: the PostgreSQL store is not tested (make test starts "   \
    "a server; or set it to a URL where databases may be created)"

static void setup_sqlite(void) {
    dir = th_tmpdir();
    target = strdup(dir);
    memset(&err, 0, sizeof err);
    cr_assert_eq(mq_store_open(target, MQ_STORE_DEFAULT, &st, &err), MQ_OK, "%s", err.msg);
}

/* base with its database name replaced by db (postgres://u@h:p/DB?opts). */
static char *url_with_db(const char *base, const char *db) {
    const char *host = strstr(base, "://");
    cr_assert_not_null(host, "MQ_TEST_POSTGRES: expected a URL, got \"%s\"", base);
    const char *path = strchr(host + 3, '/');
    const char *q = strchr(host + 3, '?');
    size_t keep = path && (!q || path < q) ? (size_t)(path - base) : q ? (size_t)(q - base)
                                                                        : strlen(base);
    char *out;
    cr_assert(asprintf(&out, "%.*s/%s%s", (int)keep, base, db, q ? q : "") > 0);
    return out;
}

static void admin(const char *sql) {
    PGconn *c = PQconnectdb(getenv("MQ_TEST_POSTGRES"));
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
              "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

/* Runs sql in this test's database. */
static void in_db(const char *sql) {
    PGconn *c = PQconnectdb(target);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
              "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

static void setup_postgres(void) {
    const char *base = getenv("MQ_TEST_POSTGRES");
    memset(&err, 0, sizeof err);
    no_server = !base || !*base;
    if (no_server)
        return;
    static unsigned counter;
    cr_assert(asprintf(&pg_db, "mq_test_%d_%u_%ld", (int)getpid(), counter++,
                       (long)(mq_now_ms() % 1000000)) > 0);
    char sql[256];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", pg_db);
    admin(sql);
    target = url_with_db(base, pg_db);
    cr_assert_eq(mq_store_open(target, MQ_STORE_DEFAULT, &st, &err), MQ_OK, "%s", err.msg);
}

static void teardown(void) {
    mq_store_close(st);
    st = NULL;
    if (dir) {
        th_rmrf(dir);
        free(dir);
        dir = NULL;
    }
    if (pg_db) {
        char sql[256];
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", pg_db);
        admin(sql);
        free(pg_db);
        pg_db = NULL;
    }
    free(target);
    target = NULL;
}

static bool is_postgres(void) {
    return strcmp(mq_store_backend(st), "postgres") == 0;
}

/* One test body, run on each back end. */
#define STORE_TEST(name)                                                                   \
    static void name(void);                                                                \
    Test(store_sqlite, name, .init = setup_sqlite, .fini = teardown) {      \
        name();                                                                            \
    }                                                                                      \
    Test(store_postgres, name, .init = setup_postgres, .fini = teardown) {  \
        if (no_server)                                                                     \
            cr_skip_test(NO_SERVER_MSG);                                                   \
        name();                                                                            \
    }                                                                                      \
    static void name(void)

/* A test of store_postgres alone. */
#define PG_TEST(name)                                                                      \
    static void name(void);                                                                \
    Test(store_postgres, name, .init = setup_postgres, .fini = teardown) {  \
        if (no_server)                                                                     \
            cr_skip_test(NO_SERVER_MSG);                                                   \
        name();                                                                            \
    }                                                                                      \
    static void name(void)

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

STORE_TEST(title_round_trip_with_assets) {
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

STORE_TEST(profile_round_trip_and_delete_takes_events) {
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

STORE_TEST(append_is_idempotent_and_resolves_ids) {
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

STORE_TEST(time_quantile_is_the_split_time) {
    int64_t t = 0;
    cr_assert_eq(mq_store_time_quantile(st, 0.9, &t, &err), MQ_EINVAL);
    cr_assert(strstr(err.msg, "no events"), "%s", err.msg);
    put_title("1", "One");
    /* Appended out of time order: the quantile is of the times, not the log. */
    mq_event evs[5] = {rating("a", "u1", "1", 4, 50), rating("b", "u2", "1", 3, 10),
                       rating("c", "u3", "1", 5, 40), rating("d", "u4", "1", 4, 20),
                       rating("e", "u5", "1", 2, 30)};
    mq_append_status status[5];
    cr_assert_eq(mq_store_append_events(st, evs, 5, status, &err), MQ_OK, "%s", err.msg);
    static const struct {
        double q;
        int64_t want;
    } cases[] = {{0, 10}, {0.5, 30}, {0.9, 50}, {1, 50}, {-1, 10}, {2, 50}};
    for (size_t i = 0; i < MQ_ARRAY_LEN(cases); i++) {
        cr_assert_eq(mq_store_time_quantile(st, cases[i].q, &t, &err), MQ_OK, "%s", err.msg);
        cr_assert_eq(t, cases[i].want, "q %g: %lld, want %lld", cases[i].q, (long long)t,
                     (long long)cases[i].want);
    }
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

STORE_TEST(scan_filters_and_fields) {
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

typedef struct {
    char page[16], row[16], artwork[16], synopsis[16], label[32];
    int row_pos, col_pos;
    double propensity;
} imp_fields;

static int copy_impression(void *ud, const mq_event *e) {
    imp_fields *f = ud;
    snprintf(f->page, sizeof f->page, "%s", e->page_id ? e->page_id : "-");
    snprintf(f->row, sizeof f->row, "%s", e->row_id ? e->row_id : "-");
    snprintf(f->artwork, sizeof f->artwork, "%s", e->artwork_id ? e->artwork_id : "-");
    snprintf(f->synopsis, sizeof f->synopsis, "%s", e->synopsis_id ? e->synopsis_id : "-");
    snprintf(f->label, sizeof f->label, "%s", e->label ? e->label : "-");
    f->row_pos = e->row_pos;
    f->col_pos = e->col_pos;
    f->propensity = e->propensity;
    return 0;
}

/* Every field of an impression comes back, the label shown included (schema 3). */
STORE_TEST(impression_fields_round_trip) {
    put_title("1", "One");
    mq_event e;
    mq_event_init(&e);
    e.event_id = "i1";
    e.profile = "u1";
    e.title = "1";
    e.type = MQ_EV_IMPRESSION;
    e.ts_ms = 1000;
    e.page_id = "pg";
    e.row_id = "top";
    e.row_pos = 3;
    e.col_pos = 7;
    e.artwork_id = "1-a2";
    e.synopsis_id = "1-s1";
    e.label = "Award-winning";
    e.propensity = 0.125;
    mq_append_status status;
    cr_assert_eq(mq_store_append_events(st, &e, 1, &status, &err), MQ_OK, "%s", err.msg);
    imp_fields f;
    memset(&f, 0, sizeof f);
    mq_event_filter flt = MQ_EVENT_FILTER_ALL;
    cr_assert_eq(mq_store_each_event(st, &flt, copy_impression, &f, &err), MQ_OK, "%s", err.msg);
    cr_assert_str_eq(f.page, "pg");
    cr_assert_str_eq(f.row, "top");
    cr_assert_str_eq(f.artwork, "1-a2");
    cr_assert_str_eq(f.synopsis, "1-s1");
    cr_assert_str_eq(f.label, "Award-winning");
    cr_assert_eq(f.row_pos, 3);
    cr_assert_eq(f.col_pos, 7);
    cr_assert_float_eq(f.propensity, 0.125, 1e-12);
}

STORE_TEST(rollback_forgets_created_profiles) {
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

STORE_TEST(blobs_and_catalog) {
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

/* Runs SQL on the store's database directly (the store must be closed). */
static void store_sql(bool postgres, const char *sql) {
    if (postgres) {
        in_db(sql);
        return;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/marquee.db", dir);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &msg), SQLITE_OK, "%s: %s", sql, msg);
    sqlite3_close(db);
}

STORE_TEST(data_survives_reopen_and_schema_is_versioned) {
    bool pg = is_postgres();
    put_title("1", "One");
    mq_event e = rating("x", "u", "1", 4, 1);
    mq_append_status status;
    cr_assert_eq(mq_store_append_events(st, &e, 1, &status, &err), MQ_OK);
    cr_assert_eq(mq_store_schema_version(st), MQ_STORE_SCHEMA_VERSION);
    mq_store_close(st);

    cr_assert_eq(mq_store_open(target, MQ_STORE_DEFAULT, &st, &err), MQ_OK, "%s", err.msg);
    cr_assert_eq(mq_store_title_id(st, "1"), 1, "ids survive a reopen");
    mq_store_stats s;
    mq_store_stats_get(st, &s, &err);
    cr_assert_eq(s.events, 1);
    mq_store_close(st);
    st = NULL;

    /* Pretend a newer marquee wrote this store. */
    store_sql(pg, "UPDATE meta SET value = '99' WHERE key = 'schema_version'");
    cr_assert_eq(mq_store_open(target, MQ_STORE_DEFAULT, &st, &err), MQ_EVERSION);
    cr_assert_null(st);
    cr_assert(strstr(err.msg, "schema version 99"), "%s", err.msg);
    cr_assert(strstr(err.msg, "newer marquee"), "%s", err.msg);

    /* An older one (version 1: blobs without versions, events without labels) is
     * migrated forward, through every version. */
    store_sql(pg, "ALTER TABLE blobs DROP COLUMN version; ALTER TABLE events DROP COLUMN label; "
                  "UPDATE meta SET value = '1' WHERE key = 'schema_version'");
    cr_assert_eq(mq_store_open(target, MQ_STORE_DEFAULT, &st, &err), MQ_OK, "%s", err.msg);
    cr_assert_eq(mq_store_schema_version(st), MQ_STORE_SCHEMA_VERSION);
    mq_store_stats_get(st, &s, &err);
    cr_assert_eq(s.events, 1, "the data survives the migration");
    cr_assert_eq(mq_store_put_blob(st, "b", "x", 1, &err), MQ_OK, "%s", err.msg);
}

STORE_TEST(blob_versions) {
    int64_t v = 0;
    cr_assert_eq(mq_store_get_blob_version(st, "bundle", &v, NULL, NULL, &err), MQ_ENOTFOUND);
    cr_assert(strstr(err.msg, "\"bundle\""), "%s", err.msg);
    cr_assert_eq(mq_store_put_blob(st, "bundle", "one", 3, &err), MQ_OK, "%s", err.msg);
    cr_assert_eq(mq_store_get_blob_version(st, "bundle", &v, NULL, NULL, &err), MQ_OK, "%s",
                 err.msg);
    cr_assert_eq(v, 1);
    cr_assert_eq(mq_store_put_blob(st, "bundle", "second", 6, &err), MQ_OK);
    void *data;
    size_t len;
    cr_assert_eq(mq_store_get_blob_version(st, "bundle", &v, &data, &len, &err), MQ_OK);
    cr_assert_eq(v, 2, "each put is a new version");
    cr_assert_eq(len, 6);
    cr_assert_eq(memcmp(data, "second", 6), 0);
    mq_free(data);
    /* An empty blob is a blob. */
    cr_assert_eq(mq_store_put_blob(st, "empty", "", 0, &err), MQ_OK, "%s", err.msg);
    cr_assert_eq(mq_store_get_blob(st, "empty", &data, &len, &err), MQ_OK, "%s", err.msg);
    cr_assert_eq(len, 0);
    mq_free(data);
}

typedef struct {
    int n;
    char ids[8][64], profiles[8][64], queries[8][64];
} odd_seen;

static int odd_cb(void *ud, const mq_event *e) {
    odd_seen *o = ud;
    if (o->n < 8) {
        snprintf(o->ids[o->n], 64, "%s", e->event_id);
        snprintf(o->profiles[o->n], 64, "%s", e->profile ? e->profile : "(null)");
        snprintf(o->queries[o->n], 64, "%s", e->query ? e->query : "(null)");
    }
    o->n++;
    return 0;
}

STORE_TEST(ids_and_text_are_kept_exactly) {
    /* Quotes, backslashes, commas, braces, the word NULL and non-ASCII text, in
     * every kind of id and in a text field, in one batch. */
    static const char *const odd[] = {"a\"b", "c\\d", "e,f", "{g}", "NULL", "h i", "é€"};
    mq_event evs[7];
    for (int i = 0; i < 7; i++) {
        mq_event_init(&evs[i]);
        evs[i].event_id = odd[i];
        evs[i].profile = odd[6 - i];
        evs[i].type = MQ_EV_SEARCH;
        evs[i].query = odd[i];
        evs[i].ts_ms = 1000 + i;
    }
    mq_append_status status[7];
    cr_assert_eq(mq_store_append_events(st, evs, 7, status, &err), MQ_OK, "%s", err.msg);
    for (int i = 0; i < 7; i++)
        cr_assert_eq(status[i], MQ_APPEND_OK, "event %d", i);
    odd_seen o = {0};
    cr_assert_eq(mq_store_each_event(st, &MQ_EVENT_FILTER_ALL, odd_cb, &o, &err), MQ_OK);
    cr_assert_eq(o.n, 7);
    for (int i = 0; i < 7; i++) {
        cr_assert_str_eq(o.ids[i], odd[i]);
        cr_assert_str_eq(o.profiles[i], odd[6 - i]);
        cr_assert_str_eq(o.queries[i], odd[i]);
        cr_assert_gt(mq_store_profile_id(st, odd[i]), 0);
    }
    /* A batch repeating an id within itself stores the first. */
    mq_event twice[2];
    for (int i = 0; i < 2; i++) {
        mq_event_init(&twice[i]);
        twice[i].event_id = "same";
        twice[i].profile = "p";
        twice[i].type = MQ_EV_SEARCH;
        twice[i].query = i ? "second" : "first";
        twice[i].ts_ms = 5;
    }
    cr_assert_eq(mq_store_append_events(st, twice, 2, status, &err), MQ_OK, "%s", err.msg);
    cr_assert_eq(status[0], MQ_APPEND_OK);
    cr_assert_eq(status[1], MQ_APPEND_DUPLICATE);
    cr_assert_gt(twice[0].seq, 0);
    cr_assert_eq(twice[1].seq, 0);
}

typedef struct {
    int n;
    char ids[32][16];
    uint32_t profile_ids[32];
    char profiles[32][16];
} followed;

static int follow_cb(void *ud, const mq_event *e) {
    followed *f = ud;
    cr_assert_lt(f->n, 32);
    snprintf(f->ids[f->n], 16, "%s", e->event_id);
    snprintf(f->profiles[f->n], 16, "%s", e->profile ? e->profile : "-");
    f->profile_ids[f->n] = e->profile_id;
    f->n++;
    return 0;
}

/* Appends one rating event through handle h. */
static void append_via(mq_store *h, const char *id, const char *profile) {
    mq_event e = rating(id, profile, "1", 4, 1000);
    mq_append_status status;
    mq_err e2 = {0};
    cr_assert_eq(mq_store_append_events(h, &e, 1, &status, &e2), MQ_OK, "%s", e2.msg);
    cr_assert_eq(status, MQ_APPEND_OK);
}

/* Follows through h until `want` events were visited in all, or 5 s passed: on
 * PostgreSQL an event becomes visible to followers once every transaction older
 * than its own has ended, and other tests' transactions on the same server count. */
static void follow_until(mq_store *h, followed *f, int want) {
    memset(f, 0, sizeof *f);
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(mq_store_follow_events(h, follow_cb, f, &err), MQ_OK, "%s", err.msg);
        if (f->n >= want)
            break;
        usleep(50000);
    }
}

STORE_TEST(follow_visits_what_other_handles_commit_once) {
    put_title("1", "One");
    append_via(st, "before", "u0");
    mq_store *other;
    cr_assert_eq(mq_store_open(target, MQ_STORE_DEFAULT, &other, &err), MQ_OK, "%s", err.msg);

    /* The first calls visit everything already stored. */
    followed f;
    follow_until(other, &f, 1);
    cr_assert_eq(f.n, 1);
    cr_assert_str_eq(f.ids[0], "before");
    memset(&f, 0, sizeof f);
    cr_assert_eq(mq_store_follow_events(st, follow_cb, &f, &err), MQ_OK, "%s", err.msg);
    cr_assert_eq(f.n, 0, "its own events are not visited, even on the first call");

    /* Then only what the other handle committed, never one's own. */
    append_via(st, "a1", "u1");
    append_via(other, "b1", "u2");
    cr_assert_eq(mq_store_begin(st, &err), MQ_OK);
    append_via(st, "a2", "u3");
    follow_until(other, &f, 1);
    cr_assert_eq(f.n, 1, "a1 only: a2 is not committed, b1 is its own");
    cr_assert_str_eq(f.ids[0], "a1");
    cr_assert_str_eq(f.profiles[0], "u1", "a profile created elsewhere is named");
    cr_assert_eq(f.profile_ids[0], mq_store_profile_id(st, "u1"));
    cr_assert_eq(mq_store_commit(st, &err), MQ_OK, "%s", err.msg);
    follow_until(other, &f, 1);
    cr_assert_eq(f.n, 1);
    cr_assert_str_eq(f.ids[0], "a2");
    cr_assert_eq(mq_store_follow_events(other, follow_cb, &f, &err), MQ_OK);
    cr_assert_eq(f.n, 1, "nothing is visited twice");

    follow_until(st, &f, 1);
    cr_assert_eq(f.n, 1);
    cr_assert_str_eq(f.ids[0], "b1");

    /* A rolled-back append is never visited. */
    cr_assert_eq(mq_store_begin(other, &err), MQ_OK);
    append_via(other, "gone", "u4");
    mq_store_rollback(other);
    append_via(other, "after", "u5");
    follow_until(st, &f, 1);
    cr_assert_eq(f.n, 1);
    cr_assert_str_eq(f.ids[0], "after");
    mq_store_close(other);
}

STORE_TEST(notices_announce_commits_elsewhere) {
    mq_store *listener;
    cr_assert_eq(mq_store_open(target, MQ_STORE_DEFAULT, &listener, &err), MQ_OK, "%s", err.msg);
    mq_store_notice n[8];
    size_t got;
    double t0 = mq_mono_s();
    cr_assert_eq(mq_store_wait_notices(listener, 50, n, 8, &got, &err), MQ_OK, "%s", err.msg);
    cr_assert_eq(got, 0, "nothing happened");
    cr_assert_geq(mq_mono_s() - t0, 0.04, "the wait lasts its timeout");
    put_title("1", "One");
    append_via(st, "e1", "u1");
    uint32_t u1 = mq_store_profile_id(st, "u1");
    cr_assert_eq(mq_store_delete_profile(st, "u1", &err), MQ_OK);
    cr_assert_eq(mq_store_put_blob(st, "bundle", "x", 1, &err), MQ_OK);
    bool events = false, deleted = false, blob = false;
    for (int i = 0; i < (is_postgres() ? 20 : 1) && !(events && deleted && blob); i++) {
        cr_assert_eq(mq_store_wait_notices(listener, 100, n, 8, &got, &err), MQ_OK);
        for (size_t k = 0; k < got; k++) {
            events |= n[k].kind == MQ_NOTICE_EVENTS;
            deleted |= n[k].kind == MQ_NOTICE_PROFILE_DELETED && n[k].id == u1;
            blob |= n[k].kind == MQ_NOTICE_BLOB && strcmp(n[k].name, "bundle") == 0;
        }
    }
    if (is_postgres()) {
        cr_assert(events && deleted && blob, "events %d, deletion %d, blob %d", events, deleted,
                  blob);
    } else {
        /* SQLite has no notifications: followers poll. */
        cr_assert(!events && !deleted && !blob);
    }
    mq_store_close(listener);
}

/* Ends every other session on this test's database, as a server restart would. */
static void cut_connections(void) {
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s' AND "
             "pid <> pg_backend_pid()",
             pg_db);
    in_db(sql);
}

/* Retries a stats call until the handle has reconnected (within its backoff). */
static uint64_t events_after_reconnect(void) {
    mq_store_stats s;
    for (int i = 0; i < 60; i++) {
        if (mq_store_stats_get(st, &s, &err) == MQ_OK)
            return s.events;
        usleep(50000);
    }
    cr_assert_fail("the store did not reconnect: %s", err.msg);
    return 0;
}

PG_TEST(lost_connection_is_restored_or_fails_clearly) {
    put_title("1", "One");
    append_via(st, "a", "u1");
    /* Cut while idle (a server restart between two calls): the next call finds
     * out, reconnects and runs once more, so it does not fail for nothing. */
    cut_connections();
    mq_store_stats s;
    cr_assert_eq(mq_store_stats_get(st, &s, &err), MQ_OK, "%s", err.msg);
    cr_assert_eq(s.events, 1);

    /* Cut inside a transaction: the commit fails, saying so, and nothing was
     * stored; the handle reconnects for the next call. */
    cr_assert_eq(mq_store_begin(st, &err), MQ_OK, "%s", err.msg);
    append_via(st, "b", "u2");
    cut_connections();
    cr_assert_neq(mq_store_commit(st, &err), MQ_OK, "a commit that did not happen fails");
    cr_assert(strstr(err.msg, "connection lost"), "%s", err.msg);
    cr_assert(strncmp(err.msg, "postgres", 8) == 0, "the message names the store: %s", err.msg);
    cr_assert_eq(events_after_reconnect(), 1);
    cr_assert_eq(mq_store_profile_id(st, "u2"), 0, "the profile it created is forgotten");
    append_via(st, "b", "u2"); /* stored now, not a duplicate */
    cr_assert_eq(events_after_reconnect(), 2);
}

PG_TEST(an_error_inside_a_transaction_leaves_the_handle_usable) {
    put_title("1", "One");
    cr_assert_eq(mq_store_begin(st, &err), MQ_OK);
    append_via(st, "ok1", "u1");
    mq_event bad = rating("bad", "\xff\xfe", "1", 4, 1000); /* not UTF-8: the server refuses */
    mq_append_status status;
    cr_assert_eq(mq_store_append_events(st, &bad, 1, &status, &err), MQ_ESTORE);
    cr_assert(strstr(err.msg, "UTF8"), "%s", err.msg);
    mq_store_rollback(st);
    append_via(st, "ok2", "u2");
    mq_store_stats s;
    cr_assert_eq(mq_store_stats_get(st, &s, &err), MQ_OK, "%s", err.msg);
    cr_assert_eq(s.events, 1, "ok1 was rolled back with the transaction, ok2 stored");
    cr_assert_eq(mq_store_profile_id(st, "u1"), 0);
}

PG_TEST(a_deletion_elsewhere_is_not_undone_by_a_stale_cache) {
    put_title("1", "One");
    append_via(st, "a", "u1");
    mq_store *other;
    cr_assert_eq(mq_store_open(target, MQ_STORE_DEFAULT, &other, &err), MQ_OK, "%s", err.msg);
    append_via(other, "b", "u1"); /* other now caches u1's id */
    uint32_t old = mq_store_profile_id(other, "u1");
    cr_assert_eq(mq_store_delete_profile(st, "u1", &err), MQ_OK, "%s", err.msg);

    mq_event e = rating("c", "u1", "1", 4, 1000);
    mq_append_status status;
    cr_assert_eq(mq_store_append_events(other, &e, 1, &status, &err), MQ_ESTORE);
    cr_assert(strstr(err.msg, "\"u1\" was deleted by another writer"), "%s", err.msg);
    /* The retry creates the profile afresh. */
    cr_assert_eq(mq_store_append_events(other, &e, 1, &status, &err), MQ_OK, "%s", err.msg);
    cr_assert_eq(status, MQ_APPEND_OK);
    cr_assert_neq(e.profile_id, old);
    cr_assert_eq(mq_store_profile_id(st, "u1"), e.profile_id);
    mq_store_stats s;
    cr_assert_eq(mq_store_stats_get(st, &s, &err), MQ_OK);
    cr_assert_eq(s.events, 1, "only the event after the deletion");
    mq_store_close(other);
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
