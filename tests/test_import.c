/* test_import.c: the importers through the library API, on small files each test
 * writes: every MovieLens layout (ml-100k with latin-1 bytes, ml-1m/10m, ml-latest
 * with RFC 4180 quoting and tags), JSONL titles, profiles and events; malformed
 * rows (the error names file:line, and the store is left exactly as it was),
 * --skip-bad counting, idempotent re-runs, and the reader and CSV splitter on
 * their own. Fast enough for the ASan run; ml-latest-small and the binary are in
 * test_import_movielens.c. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "ingest/ingest.h"
#include "ingest/ingest_impl.h"

/* ---------------------------------------------------------------- helpers ---- */

typedef struct {
    char *tmp;  /* the test's directory */
    char *data; /* the store's directory */
    mq_store *s;
    mq_arena arena;
} fixture;

static void fx_open(fixture *fx) {
    mq_log_set_level(MQ_LOG_ERROR); /* skip_bad tests log skipped rows */
    fx->tmp = th_tmpdir();
    if (asprintf(&fx->data, "%s/data", fx->tmp) < 0)
        abort();
    mq_err err = {0};
    cr_assert_eq(mq_store_open(fx->data, MQ_STORE_BULK, &fx->s, &err), 0, "%s", err.msg);
    mq_arena_init(&fx->arena, 4096, 0);
}

static void fx_close(fixture *fx) {
    mq_store_close(fx->s);
    mq_arena_free(&fx->arena);
    th_rmrf(fx->tmp);
    free(fx->data);
    free(fx->tmp);
}

/* Makes dir/sub and returns its path (caller frees). */
static char *subdir(const char *dir, const char *sub) {
    char *p;
    if (asprintf(&p, "%s/%s", dir, sub) < 0)
        abort();
    mq_err err = {0};
    cr_assert_eq(mq_mkdirs(p, &err), 0, "%s", err.msg);
    return p;
}

static void put(const char *dir, const char *name, const char *text) {
    free(th_write(dir, name, text));
}

static mq_store_stats stats(mq_store *s) {
    mq_store_stats st;
    mq_err err = {0};
    cr_assert_eq(mq_store_stats_get(s, &st, &err), 0, "%s", err.msg);
    return st;
}

static mq_import_opts opts(bool skip_bad, size_t batch) {
    mq_import_opts o;
    mq_import_opts_default(&o);
    o.skip_bad = skip_bad;
    o.batch = batch;
    return o;
}

static void get_title(fixture *fx, const char *id, mq_title *t) {
    mq_err err = {0};
    cr_assert_eq(mq_store_get_title(fx->s, id, t, &fx->arena, &err), 0, "%s", err.msg);
}

static void assert_list(const mq_strlist *l, const char *const *want, uint32_t n) {
    cr_assert_eq(l->n, n, "expected %u items, got %u", n, l->n);
    for (uint32_t i = 0; i < n; i++)
        cr_assert_str_eq(l->items[i], want[i]);
}

/* Events of the store, as JSON text in log order (the caller frees each and the
 * array). */
typedef struct {
    char **items;
    size_t n;
} ev_list;

static int collect(void *ud, const mq_event *e) {
    ev_list *l = ud;
    json_t *j = mq_event_to_json(e);
    l->items = realloc(l->items, (l->n + 1) * sizeof(char *));
    l->items[l->n++] = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return 0;
}

static ev_list events(mq_store *s) {
    ev_list l = {0};
    mq_err err = {0};
    mq_event_filter f = MQ_EVENT_FILTER_ALL;
    cr_assert_eq(mq_store_each_event(s, &f, collect, &l, &err), 0, "%s", err.msg);
    return l;
}

static void ev_free(ev_list *l) {
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
}

/* The stored event with this event_id, as JSON (NULL if absent; caller frees). */
static char *find_event(mq_store *s, const char *event_id) {
    ev_list l = events(s);
    char needle[160], *hit = NULL;
    snprintf(needle, sizeof needle, "\"event_id\":\"%s\"", event_id);
    for (size_t i = 0; i < l.n; i++)
        if (!hit && strstr(l.items[i], needle))
            hit = strdup(l.items[i]);
    ev_free(&l);
    return hit;
}

/* ----------------------------------------------------------------- ml-100k ---- */

/* 19 flags: unknown, Action, Adventure, Animation, Children's, Comedy, ... */
#define FLAGS_TOY "0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0"
#define FLAGS_DRAMA "0|0|0|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0"
#define FLAGS_UNKNOWN "1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0"

static void write_100k(const char *dir) {
    /* Latin-1, as GroupLens ships it: 0xE9 is e-acute. */
    put(dir, "u.item",
        "1|Toy Story "
        "(1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|" FLAGS_TOY "\n"
        "2|Mis\xe9rables, Les (1995)|01-Jan-1995||http://us.imdb.com/|" FLAGS_DRAMA "\n"
        "267|unknown||||" FLAGS_UNKNOWN "\n"
        "4|Dead Man|10-May-1996||http://us.imdb.com/|" FLAGS_DRAMA "\n");
    put(dir, "u.data",
        "296\t1\t4\t881250949\n"
        "296\t2\t5\t881250950\n"
        "7\t1\t3\t881250951\n"
        "7\t267\t1\t881250952\n");
}

Test(import_ml100k, titles_events_latin1_and_ids) {
    fixture fx;
    fx_open(&fx);
    char *dir = subdir(fx.tmp, "ml-100k");
    write_100k(dir);
    mq_import_report r;
    mq_err err = {0};
    mq_import_opts o = opts(false, 0);
    cr_assert_eq(mq_import_movielens(fx.s, dir, &o, &r, &err), 0, "%s", err.msg);
    cr_assert_str_eq(r.layout, "ml-100k");
    cr_assert_eq(r.rows, 8);
    cr_assert_eq(r.titles, 4);
    cr_assert_eq(r.profiles, 2);
    cr_assert_eq(r.events, 4);
    cr_assert_eq(r.duplicates, 0);
    cr_assert_eq(r.bad_rows, 0);
    mq_store_stats st = stats(fx.s);
    cr_assert_eq(st.titles, 4);
    cr_assert_eq(st.profiles, 2);
    cr_assert_eq(st.events, 4);
    cr_assert_eq(st.by_type[MQ_EV_RATING], 4);

    mq_title t;
    get_title(&fx, "1", &t);
    cr_assert_str_eq(t.name, "Toy Story");
    cr_assert_eq(t.year, 1995);
    assert_list(&t.genres, (const char *[]){"Animation", "Children's", "Comedy"}, 3);
    get_title(&fx, "2", &t);
    cr_assert_str_eq(t.name, "Mis\xc3\xa9rables, Les", "latin-1 converted to UTF-8");
    get_title(&fx, "267", &t);
    cr_assert_str_eq(t.name, "unknown");
    cr_assert_eq(t.year, 0);
    cr_assert_eq(t.genres.n, 0, "the \"unknown\" flag is no genre");
    get_title(&fx, "4", &t);
    cr_assert_eq(t.year, 1996, "year from the release date when the name has none");

    cr_assert_neq(mq_store_profile_id(fx.s, "296"), 0, "user 296 is profile \"296\"");
    char *e = find_event(fx.s, "ml:296:1");
    cr_assert_not_null(e);
    cr_assert(strstr(e, "\"profile\":\"296\""), "%s", e);
    cr_assert(strstr(e, "\"title\":\"1\""), "%s", e);
    cr_assert(strstr(e, "\"type\":\"rating\""), "%s", e);
    cr_assert(strstr(e, "\"value\":4.0"), "%s", e);
    cr_assert(strstr(e, "\"ts\":\"1997-12-04T15:55:49Z\""), "%s", e);
    cr_assert_null(strstr(e, "context"), "no device: %s", e);
    free(e);
    free(dir);
    fx_close(&fx);
}

Test(import_ml100k, bad_genre_flag_names_the_line) {
    fixture fx;
    fx_open(&fx);
    char *dir = subdir(fx.tmp, "ml-100k");
    write_100k(dir);
    put(dir, "u.item",
        "1|Toy Story (1995)|01-Jan-1995||x|" FLAGS_TOY "\n"
        "2|Heat (1995)|01-Jan-1995||x|0|0|0|0|0|0|0|0|yes|0|0|0|0|0|0|0|0|0|0\n");
    mq_err err = {0};
    mq_import_opts o = opts(false, 0);
    cr_assert_eq(mq_import_movielens(fx.s, dir, &o, NULL, &err), MQ_EINVAL);
    cr_assert(strstr(err.msg, "u.item:2: expected 0 or 1 (the Drama flag) in column 14, got "
                              "\"yes\""),
              "%s", err.msg);
    cr_assert_eq(stats(fx.s).titles, 0);
    free(dir);
    fx_close(&fx);
}

/* ------------------------------------------------------------------- ml-1m ---- */

Test(import_ml1m, dat_layout_with_tags_dat) {
    fixture fx;
    fx_open(&fx);
    char *dir = subdir(fx.tmp, "ml-1m");
    put(dir, "movies.dat",
        "1::Toy Story (1995)::Animation|Children's|Comedy\n"
        "2::Caf\xe9 au lait (M\xe9tisse) (1993)::Comedy\n"
        "3::Star Wars: Episode IV - A New Hope (1977)::Action|Adventure|Fantasy|Sci-Fi\n");
    put(dir, "ratings.dat",
        "1::1::5::978300760\n"
        "1::2::3::978302109\n"
        "2::1::4::978301968\n"
        "2::3::4.5::978301969\n");
    put(dir, "tags.dat",
        "1::1::Pixar::1215184630\n"
        "2::1::pixar ::1215184631\n"
        "2::1::toys::1215184631\n"
        "2::3::space opera::1215184632\n");
    mq_import_report r;
    mq_err err = {0};
    mq_import_opts o = opts(false, 2); /* batches of 2: several transactions */
    cr_assert_eq(mq_import_movielens(fx.s, dir, &o, &r, &err), 0, "%s", err.msg);
    cr_assert_str_eq(r.layout, "ml-1m");
    cr_assert_eq(r.titles, 3);
    cr_assert_eq(r.events, 4);
    cr_assert_eq(r.profiles, 2);
    cr_assert_eq(r.rows, 3 + 4 + 4);
    mq_title t;
    get_title(&fx, "2", &t);
    cr_assert_str_eq(t.name, "Caf\xc3\xa9 au lait (M\xc3\xa9tisse)");
    cr_assert_eq(t.year, 1993);
    get_title(&fx, "3", &t);
    cr_assert_str_eq(t.name, "Star Wars: Episode IV - A New Hope");
    assert_list(&t.genres, (const char *[]){"Action", "Adventure", "Fantasy", "Sci-Fi"}, 4);
    assert_list(&t.tags, (const char *[]){"space opera"}, 1);
    get_title(&fx, "1", &t);
    assert_list(&t.tags, (const char *[]){"pixar", "toys"}, 2);
    char *e = find_event(fx.s, "ml:2:3");
    cr_assert(e && strstr(e, "\"value\":4.5"), "%s", e ? e : "(none)");
    free(e);
    free(dir);
    fx_close(&fx);
}

/* --------------------------------------------------------------- ml-latest ---- */

static const char *MOVIES_CSV = "movieId,title,genres\n"
                                "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n"
                                "11,\"American President, The (1995)\",Comedy|Drama|Romance\n"
                                "7789,\"11'09\"\"01 - September 11 (2002)\",Drama\n"
                                "100,Babylon 5,(no genres listed)\n"
                                "101,\"Millions (2004) \",Children|Comedy\n";

static const char *RATINGS_CSV = "userId,movieId,rating,timestamp\n"
                                 "296,1,4.0,964982703\n"
                                 "296,11,3.5,964981247\n"
                                 "1,7789,0.5,964982224\n"
                                 "1,100,5.0,964983815\n"
                                 "1,101,2.5,964982931\n";

static const char *TAGS_CSV = "userId,movieId,tag,timestamp\n"
                              "296,1,Pixar,1445714994\n"
                              "1,1,pixar,1445714995\n"
                              "1,1,  Funny ,1445714996\n"
                              "2,1,\"tag, with comma\",1445714997\n"
                              "567,11,\"\"\"artsy\"\"\",1525285878\n";

static char *write_latest(const char *tmp, const char *name, const char *ratings) {
    char *dir = subdir(tmp, name);
    put(dir, "movies.csv", MOVIES_CSV);
    put(dir, "ratings.csv", ratings);
    put(dir, "tags.csv", TAGS_CSV);
    return dir;
}

Test(import_mllatest, quoting_year_genres_tags) {
    fixture fx;
    fx_open(&fx);
    char *dir = write_latest(fx.tmp, "ml-latest", RATINGS_CSV);
    mq_import_report r;
    mq_err err = {0};
    mq_import_opts o = opts(false, 0);
    cr_assert_eq(mq_import_movielens(fx.s, dir, &o, &r, &err), 0, "%s", err.msg);
    cr_assert_str_eq(r.layout, "ml-latest");
    cr_assert_eq(r.titles, 5);
    cr_assert_eq(r.events, 5);
    cr_assert_eq(r.profiles, 2);
    cr_assert_eq(r.rows, 5 + 5 + 5);
    mq_title t;
    get_title(&fx, "11", &t);
    cr_assert_str_eq(t.name, "American President, The");
    cr_assert_eq(t.year, 1995);
    assert_list(&t.tags, (const char *[]){"\"artsy\""}, 1);
    get_title(&fx, "7789", &t);
    cr_assert_str_eq(t.name, "11'09\"01 - September 11");
    cr_assert_eq(t.year, 2002);
    get_title(&fx, "100", &t);
    cr_assert_str_eq(t.name, "Babylon 5", "no year: the name is kept as given");
    cr_assert_eq(t.year, 0);
    cr_assert_eq(t.genres.n, 0, "(no genres listed) is no genre");
    get_title(&fx, "101", &t);
    cr_assert_str_eq(t.name, "Millions");
    cr_assert_eq(t.year, 2004);
    get_title(&fx, "1", &t);
    assert_list(&t.genres,
                (const char *[]){"Adventure", "Animation", "Children", "Comedy", "Fantasy"}, 5);
    /* Lowercased, trimmed, distinct, most frequent first (ties alphabetical). */
    assert_list(&t.tags, (const char *[]){"pixar", "funny", "tag, with comma"}, 3);
    free(dir);
    fx_close(&fx);
}

Test(import_mllatest, at_most_20_tags_most_frequent_first) {
    fixture fx;
    fx_open(&fx);
    mq_buf tags;
    mq_buf_init(&tags, 0);
    mq_buf_puts(&tags, "userId,movieId,tag,timestamp\n");
    /* tag k is applied k + 1 times: t24 is the most frequent. */
    for (int k = 0; k < 25; k++)
        for (int n = 0; n <= k; n++)
            mq_buf_printf(&tags, "%d,1,T%02d,1445714994\n", n + 1, k);
    char *dir = write_latest(fx.tmp, "ml-latest", RATINGS_CSV);
    put(dir, "tags.csv", tags.data);
    mq_buf_free(&tags);
    mq_err err = {0};
    mq_import_opts o = opts(false, 0);
    cr_assert_eq(mq_import_movielens(fx.s, dir, &o, NULL, &err), 0, "%s", err.msg);
    mq_title t;
    get_title(&fx, "1", &t);
    cr_assert_eq(t.tags.n, 20);
    cr_assert_str_eq(t.tags.items[0], "t24");
    cr_assert_str_eq(t.tags.items[19], "t05");
    free(dir);
    fx_close(&fx);
}

Test(import_mllatest, rerun_is_idempotent) {
    fixture fx;
    fx_open(&fx);
    char *dir = write_latest(fx.tmp, "ml-latest", RATINGS_CSV);
    mq_import_report r;
    mq_err err = {0};
    mq_import_opts o = opts(false, 0);
    cr_assert_eq(mq_import_movielens(fx.s, dir, &o, &r, &err), 0, "%s", err.msg);
    mq_store_stats before = stats(fx.s);
    ev_list e1 = events(fx.s);
    cr_assert_eq(mq_import_movielens(fx.s, dir, &o, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.events, 0);
    cr_assert_eq(r.duplicates, 5);
    cr_assert_eq(r.profiles, 0);
    cr_assert_eq(r.titles, 5, "titles are upserts: written again, unchanged");
    mq_store_stats after = stats(fx.s);
    cr_assert_eq(after.titles, before.titles);
    cr_assert_eq(after.profiles, before.profiles);
    cr_assert_eq(after.events, before.events);
    cr_assert_eq(after.last_seq, before.last_seq);
    ev_list e2 = events(fx.s);
    cr_assert_eq(e1.n, e2.n);
    for (size_t i = 0; i < e1.n; i++)
        cr_assert_str_eq(e1.items[i], e2.items[i]);
    ev_free(&e1);
    ev_free(&e2);
    free(dir);
    fx_close(&fx);
}

/* A malformed ratings row: the import fails naming file:line, and the store is
 * exactly as it was (here: already holding an earlier import). */
static void expect_failure_leaves_store(const char *ratings, const char *want) {
    fixture fx;
    fx_open(&fx);
    char *good = write_latest(fx.tmp, "good", RATINGS_CSV);
    mq_err err = {0};
    mq_import_opts o = opts(false, 2);
    cr_assert_eq(mq_import_movielens(fx.s, good, &o, NULL, &err), 0, "%s", err.msg);
    mq_store_stats before = stats(fx.s);
    ev_list e1 = events(fx.s);

    char *bad = subdir(fx.tmp, "bad");
    put(bad, "movies.csv", "movieId,title,genres\n1,Renamed (1995),Drama\n555,New (2001),Drama\n");
    put(bad, "ratings.csv", ratings);
    mq_import_report r;
    cr_assert_eq(mq_import_movielens(fx.s, bad, &o, &r, &err), MQ_EINVAL);
    cr_assert(strstr(err.msg, want), "expected \"%s\" in \"%s\"", want, err.msg);
    mq_store_stats after = stats(fx.s);
    cr_assert_eq(after.titles, before.titles);
    cr_assert_eq(after.profiles, before.profiles);
    cr_assert_eq(after.events, before.events);
    cr_assert_eq(after.last_seq, before.last_seq);
    cr_assert_eq(mq_store_title_id(fx.s, "555"), 0, "no title of the failed import is kept");
    mq_title t;
    get_title(&fx, "1", &t);
    cr_assert_str_eq(t.name, "Toy Story", "no title of the failed import is updated");
    ev_list e2 = events(fx.s);
    cr_assert_eq(e1.n, e2.n);
    for (size_t i = 0; i < e1.n; i++)
        cr_assert_str_eq(e1.items[i], e2.items[i]);
    ev_free(&e1);
    ev_free(&e2);
    free(good);
    free(bad);
    fx_close(&fx);
}

Test(import_mllatest, bad_rating_fails_and_leaves_store_unchanged) {
    expect_failure_leaves_store("userId,movieId,rating,timestamp\n"
                                "900,1,4.0,964982703\n"
                                "900,555,4.0,964982703\n"
                                "901,1,seven,964982703\n"
                                "902,1,4.0,964982703\n",
                                "ratings.csv:4: expected a rating from 0.5 to 5 in column 3, got "
                                "\"seven\"");
}

Test(import_mllatest, unknown_movie_is_a_bad_row) {
    expect_failure_leaves_store("userId,movieId,rating,timestamp\n"
                                "900,1,4.0,964982703\n"
                                "900,555,4.0,964982703\n"
                                "900,12345,4.0,964982703\n",
                                "ratings.csv:4: expected a movie id listed in movies.csv in "
                                "column 2, got \"12345\"");
}

Test(import_mllatest, wrong_field_count_and_bad_numbers) {
    expect_failure_leaves_store("userId,movieId,rating,timestamp\n900,1,4.0\n",
                                "ratings.csv:2: expected 4 fields "
                                "(userId,movieId,rating,timestamp), got 3");
    expect_failure_leaves_store("userId,movieId,rating,timestamp\n900,1,4.0,yesterday\n",
                                "ratings.csv:2: expected a Unix time in seconds in column 4, "
                                "got \"yesterday\"");
    expect_failure_leaves_store("userId,movieId,rating,timestamp\nu900,1,4.0,1\n",
                                "ratings.csv:2: expected a user id (an integer) in column 1, "
                                "got \"u900\"");
    expect_failure_leaves_store("userId,movieId,rating,timestamp\n900,1,5.5,1\n",
                                "ratings.csv:2: expected a rating from 0.5 to 5 in column 3, "
                                "got \"5.5\"");
    expect_failure_leaves_store("user,movie,stars\n900,1,5.5,1\n",
                                "ratings.csv:1: expected the header "
                                "userId,movieId,rating,timestamp, got \"user,movie,stars\"");
}

Test(import_mllatest, bad_quoting_names_the_line) {
    fixture fx;
    fx_open(&fx);
    char *dir = write_latest(fx.tmp, "ml", RATINGS_CSV);
    put(dir, "movies.csv",
        "movieId,title,genres\n1,Toy Story (1995),Comedy\n"
        "2,\"Bad \"quote\" (1999)\",Drama\n");
    mq_err err = {0};
    mq_import_opts o = opts(false, 0);
    cr_assert_eq(mq_import_movielens(fx.s, dir, &o, NULL, &err), MQ_EINVAL);
    cr_assert(strstr(err.msg, "movies.csv:3: expected a comma or the end of the line after the "
                              "closing quote of field 2, got \"quote"),
              "%s", err.msg);
    put(dir, "movies.csv",
        "movieId,title,genres\n1,Toy Story (1995),Comedy\n"
        "2,\"Never closed (1999),Drama\n3,Other,Drama\n");
    cr_assert_eq(mq_import_movielens(fx.s, dir, &o, NULL, &err), MQ_EINVAL);
    cr_assert(strstr(err.msg, "movies.csv:3: expected a closing quote for field 2, got the end "
                              "of the file"),
              "%s", err.msg);
    put(dir, "movies.csv", "movieId,title,genres\n1,Toy Story (1995),Comedy\n1,Again,Drama\n");
    cr_assert_eq(mq_import_movielens(fx.s, dir, &o, NULL, &err), MQ_EINVAL);
    cr_assert(strstr(err.msg, "movies.csv:3: expected a movie id not listed before, got \"1\" "
                              "again (first on line 2)"),
              "%s", err.msg);
    /* A quoted line break: the record after it is on line 5, and says so. */
    put(dir, "movies.csv",
        "movieId,title,genres\n1,Toy Story (1995),Comedy\n"
        "2,\"Two\nLines (1999)\",Drama\n3,Bad,x,y\n");
    cr_assert_eq(mq_import_movielens(fx.s, dir, &o, NULL, &err), MQ_EINVAL);
    cr_assert(strstr(err.msg, "movies.csv:5: expected 3 fields (movieId,title,genres), got 4"),
              "%s", err.msg);
    mq_store_stats st = stats(fx.s);
    cr_assert_eq(st.titles + st.events + st.profiles, 0);
    free(dir);
    fx_close(&fx);
}

Test(import_mllatest, skip_bad_counts_and_imports_the_rest) {
    fixture fx;
    fx_open(&fx);
    char *dir = write_latest(fx.tmp, "ml",
                             "userId,movieId,rating,timestamp\n"
                             "296,1,4.0,964982703\n"
                             "296,99,4.0,964982703\n" /* unknown movie */
                             "296,11,nine,964982703\n"
                             "\n" /* blank: not a row */
                             "1,100,5.0,964983815\n"
                             "1,101\n"
                             "2,1,4.0,964982703\n");
    mq_import_report r;
    mq_err err = {0};
    mq_import_opts o = opts(true, 0);
    cr_assert_eq(mq_import_movielens(fx.s, dir, &o, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.bad_rows, 3);
    cr_assert_eq(r.events, 3);
    cr_assert_eq(r.profiles, 3);
    cr_assert_eq(r.rows, 5 + 5 + 6);
    mq_store_stats st = stats(fx.s);
    cr_assert_eq(st.events, 3);
    cr_assert_eq(st.profiles, 3);
    free(dir);
    fx_close(&fx);
}

Test(import_mllatest, not_a_movielens_directory) {
    fixture fx;
    fx_open(&fx);
    char *dir = subdir(fx.tmp, "empty");
    put(dir, "ratings.csv", "userId,movieId,rating,timestamp\n");
    mq_err err = {0};
    cr_assert_eq(mq_import_movielens(fx.s, dir, NULL, NULL, &err), MQ_EINVAL);
    cr_assert(strstr(err.msg, "expected a MovieLens directory"), "%s", err.msg);
    free(dir);
    fx_close(&fx);
}

/* ------------------------------------------------------------------- JSONL ---- */

static const char *TITLES_JSONL =
    "{\"id\":\"t1\",\"name\":\"Heat\",\"year\":1995,\"genres\":[\"Crime\",\"Thriller\"],"
    "\"tags\":[\"heist\"]}\n"
    "\n"
    "{\"id\":\"t2\",\"name\":\"Am\xc3\xa9lie\",\"kind\":\"movie\",\"maturity\":\"R\"}\n"
    "{\"id\":\"s1\",\"name\":\"The Wire\",\"kind\":\"series\",\"runtime_min\":58}\r\n";

static const char *PROFILES_JSONL = "{\"id\":\"p1\",\"country\":\"FR\",\"maturity_limit\":16}\n"
                                    "{\"id\":\"p2\"}\n";

static const char *EVENTS_JSONL =
    "{\"event_id\":\"e1\",\"profile\":\"p1\",\"type\":\"play_start\",\"ts\":\"2024-05-01T20:15:"
    "00Z\","
    "\"title\":\"t1\",\"position_s\":0,\"context\":{\"device\":\"tv\",\"tz_offset_min\":120}}\n"
    "{\"event_id\":\"e2\",\"profile\":\"p3\",\"type\":\"thumbs\",\"ts\":1714594500000,"
    "\"title\":\"t2\",\"value\":\"up\"}\n"
    "   \n"
    "{\"event_id\":\"e3\",\"profile\":\"p1\",\"type\":\"search\",\"ts\":\"2024-05-01T20:16:00Z\","
    "\"query\":\"heat\"}\n"
    "{\"event_id\":\"e4\",\"profile\":\"p2\",\"type\":\"impression\",\"ts\":1714594600000,"
    "\"title\":\"s1\",\"page_id\":\"pg1\",\"row_id\":\"r1\",\"row_pos\":0,\"col_pos\":3,"
    "\"artwork_id\":\"a1\",\"propensity\":0.25}\n";

static void import_jsonl_world(fixture *fx, mq_import_report *r) {
    char *t = th_write(fx->tmp, "titles.jsonl", TITLES_JSONL);
    char *p = th_write(fx->tmp, "profiles.jsonl", PROFILES_JSONL);
    char *e = th_write(fx->tmp, "events.jsonl", EVENTS_JSONL);
    mq_err err = {0};
    mq_import_opts o = opts(false, 2);
    cr_assert_eq(mq_import_titles_jsonl(fx->s, t, &o, &r[0], &err), 0, "%s", err.msg);
    cr_assert_eq(mq_import_profiles_jsonl(fx->s, p, &o, &r[1], &err), 0, "%s", err.msg);
    cr_assert_eq(mq_import_events_jsonl(fx->s, e, &o, &r[2], &err), 0, "%s", err.msg);
    free(t);
    free(p);
    free(e);
}

Test(import_jsonl, titles_profiles_events) {
    fixture fx;
    fx_open(&fx);
    mq_import_report r[3];
    import_jsonl_world(&fx, r);
    cr_assert_str_eq(r[0].layout, "jsonl");
    cr_assert_eq(r[0].rows, 3, "blank lines are not rows");
    cr_assert_eq(r[0].titles, 3);
    cr_assert_eq(r[1].profiles, 2);
    cr_assert_eq(r[2].rows, 4);
    cr_assert_eq(r[2].events, 4);
    cr_assert_eq(r[2].profiles, 1, "p3 was created by its event");
    mq_store_stats st = stats(fx.s);
    cr_assert_eq(st.titles, 3);
    cr_assert_eq(st.profiles, 3);
    cr_assert_eq(st.events, 4);

    mq_title t;
    get_title(&fx, "t2", &t);
    cr_assert_str_eq(t.name, "Am\xc3\xa9lie");
    cr_assert_eq(t.maturity, 16);
    get_title(&fx, "s1", &t);
    cr_assert_eq(t.kind, MQ_KIND_SERIES);
    cr_assert_eq(t.runtime_min, 58);
    mq_profile p;
    mq_err err = {0};
    cr_assert_eq(mq_store_get_profile(fx.s, "p1", &p, &fx.arena, &err), 0, "%s", err.msg);
    cr_assert_str_eq(p.country, "FR");
    cr_assert_eq(p.maturity_limit, 16);

    char *e = find_event(fx.s, "e1");
    cr_assert(e && strstr(e, "\"device\":\"tv\"") && strstr(e, "\"tz_offset_min\":120"), "%s",
              e ? e : "(none)");
    free(e);
    e = find_event(fx.s, "e4");
    cr_assert(e && strstr(e, "\"propensity\":0.25") && strstr(e, "\"col_pos\":3"), "%s",
              e ? e : "(none)");
    free(e);
    fx_close(&fx);
}

Test(import_jsonl, exported_events_read_back) {
    /* What the store holds, written out as events.jsonl (as `synth --export`
     * does), imports into a fresh store as the same events. */
    fixture a, b;
    fx_open(&a);
    fx_open(&b);
    mq_import_report r[3];
    import_jsonl_world(&a, r);
    ev_list ea = events(a.s);
    mq_buf out;
    mq_buf_init(&out, 0);
    for (size_t i = 0; i < ea.n; i++)
        mq_buf_printf(&out, "%s\n", ea.items[i]);
    char *t = th_write(b.tmp, "titles.jsonl", TITLES_JSONL);
    char *e = th_write(b.tmp, "events.jsonl", out.data);
    mq_err err = {0};
    cr_assert_eq(mq_import_titles_jsonl(b.s, t, NULL, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(mq_import_events_jsonl(b.s, e, NULL, r, &err), 0, "%s", err.msg);
    cr_assert_eq(r[0].events, ea.n);
    ev_list eb = events(b.s);
    cr_assert_eq(ea.n, eb.n);
    for (size_t i = 0; i < ea.n; i++)
        cr_assert_str_eq(ea.items[i], eb.items[i]);
    /* And again: nothing new. */
    cr_assert_eq(mq_import_events_jsonl(b.s, e, NULL, r, &err), 0, "%s", err.msg);
    cr_assert_eq(r[0].events, 0);
    cr_assert_eq(r[0].duplicates, ea.n);
    ev_free(&ea);
    ev_free(&eb);
    mq_buf_free(&out);
    free(t);
    free(e);
    fx_close(&a);
    fx_close(&b);
}

Test(import_jsonl, bad_lines_fail_naming_the_line) {
    fixture fx;
    fx_open(&fx);
    mq_import_report r[3];
    import_jsonl_world(&fx, r);
    mq_store_stats before = stats(fx.s);
    mq_err err = {0};
    mq_import_opts o = opts(false, 1);

    char *e = th_write(fx.tmp, "more.jsonl",
                       "{\"event_id\":\"n1\",\"profile\":\"p9\",\"type\":\"list_add\",\"ts\":1,"
                       "\"title\":\"t1\"}\n"
                       "{\"event_id\":\"n2\", \"profile\": }\n");
    cr_assert_eq(mq_import_events_jsonl(fx.s, e, &o, NULL, &err), MQ_EINVAL);
    cr_assert(strstr(err.msg, "more.jsonl:2: expected a JSON object, got invalid JSON at column "),
              "%s", err.msg);
    free(e);

    e = th_write(fx.tmp, "more.jsonl",
                 "{\"event_id\":\"n1\",\"profile\":\"p9\",\"type\":\"list_add\",\"ts\":1,"
                 "\"title\":\"t1\"}\n"
                 "{\"event_id\":\"n2\",\"profile\":\"p9\",\"type\":\"list_add\",\"ts\":1,"
                 "\"title\":\"nope\"}\n");
    cr_assert_eq(mq_import_events_jsonl(fx.s, e, &o, NULL, &err), MQ_EINVAL);
    cr_assert(strstr(err.msg, "more.jsonl:2: expected a title id in the catalogue (import the "
                              "titles first), got \"nope\""),
              "%s", err.msg);
    free(e);

    e = th_write(fx.tmp, "more.jsonl",
                 "{\"event_id\":\"n1\",\"profile\":\"p9\",\"type\":\"rating\",\"ts\":1,"
                 "\"title\":\"t1\",\"value\":7}\n");
    cr_assert_eq(mq_import_events_jsonl(fx.s, e, &o, NULL, &err), MQ_EINVAL);
    cr_assert(strstr(err.msg, "more.jsonl:1") && strstr(err.msg, "value"), "%s", err.msg);
    free(e);

    char *t = th_write(fx.tmp, "titles2.jsonl",
                       "{\"id\":\"t9\",\"name\":\"New\"}\n{\"id\":\"t10\",\"year\":\"soon\"}\n");
    cr_assert_eq(mq_import_titles_jsonl(fx.s, t, &o, NULL, &err), MQ_EINVAL);
    cr_assert(strstr(err.msg, "titles2.jsonl:2"), "%s", err.msg);
    free(t);
    char *p = th_write(fx.tmp, "profiles2.jsonl", "{\"id\":\"p8\"}\n[1,2]\n");
    cr_assert_eq(mq_import_profiles_jsonl(fx.s, p, &o, NULL, &err), MQ_EINVAL);
    cr_assert(strstr(err.msg, "profiles2.jsonl:2: expected a profile object, got"), "%s", err.msg);
    free(p);

    mq_store_stats after = stats(fx.s);
    cr_assert_eq(after.titles, before.titles);
    cr_assert_eq(after.profiles, before.profiles);
    cr_assert_eq(after.events, before.events);
    cr_assert_eq(mq_store_profile_id(fx.s, "p9"), 0);
    cr_assert_eq(mq_store_title_id(fx.s, "t9"), 0);
    fx_close(&fx);
}

Test(import_jsonl, skip_bad_counts_unknown_titles_and_junk) {
    fixture fx;
    fx_open(&fx);
    mq_import_report r[3];
    import_jsonl_world(&fx, r);
    char *e = th_write(fx.tmp, "more.jsonl",
                       "{\"event_id\":\"n1\",\"profile\":\"p9\",\"type\":\"list_add\",\"ts\":1,"
                       "\"title\":\"t1\"}\n"
                       "not json at all\n"
                       "{\"event_id\":\"n2\",\"profile\":\"p10\",\"type\":\"list_add\",\"ts\":1,"
                       "\"title\":\"nope\"}\n"
                       "{\"event_id\":\"e1\",\"profile\":\"p1\",\"type\":\"list_add\",\"ts\":1,"
                       "\"title\":\"t1\"}\n"
                       "{\"event_id\":\"n3\",\"profile\":\"p9\",\"type\":\"list_remove\",\"ts\":2,"
                       "\"title\":\"t1\"}\n");
    mq_err err = {0};
    mq_import_opts o = opts(true, 2);
    cr_assert_eq(mq_import_events_jsonl(fx.s, e, &o, r, &err), 0, "%s", err.msg);
    cr_assert_eq(r[0].rows, 5);
    cr_assert_eq(r[0].bad_rows, 2);
    cr_assert_eq(r[0].events, 2);
    cr_assert_eq(r[0].duplicates, 1, "e1 was stored before");
    cr_assert_eq(r[0].profiles, 1, "p9 is new; p10's only event was rejected");
    cr_assert_eq(mq_store_profile_id(fx.s, "p10"), 0);
    free(e);
    fx_close(&fx);
}

/* ------------------------------------------------------ reader and fields ---- */

Test(import_fields, lines_crlf_bom_and_no_final_newline) {
    char *tmp = th_tmpdir();
    char *path = th_write(tmp, "f.txt", "\xEF\xBB\xBFone\r\ntwo\n\nthree");
    ing_lines r;
    mq_err err = {0};
    cr_assert_eq(ing_lines_open(&r, path, &err), 0, "%s", err.msg);
    const char *want[] = {"one", "two", "", "three"};
    char *line;
    size_t len;
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(ing_lines_next(&r, &line, &len, &err), 0);
        cr_assert_not_null(line);
        cr_assert_str_eq(line, want[i]);
        cr_assert_eq(len, strlen(want[i]));
        cr_assert_eq(r.line, (uint64_t)i + 1);
    }
    cr_assert_eq(ing_lines_next(&r, &line, &len, &err), 0);
    cr_assert_null(line);
    cr_assert_eq(r.consumed, r.size);
    ing_lines_close(&r);
    cr_assert_eq(ing_lines_open(&r, tmp, &err), MQ_EIO, "a directory is not a file");
    th_rmrf(tmp);
    free(path);
    free(tmp);
}

Test(import_fields, long_lines_grow_the_buffer) {
    char *tmp = th_tmpdir();
    size_t n = 3u << 20; /* longer than the reader's first buffer */
    char *big = malloc(n + 8);
    memset(big, 'x', n);
    memcpy(big + n, "\nok\n", 5);
    char *path = th_write(tmp, "big.txt", big);
    ing_lines r;
    mq_err err = {0};
    cr_assert_eq(ing_lines_open(&r, path, &err), 0, "%s", err.msg);
    char *line;
    size_t len;
    cr_assert_eq(ing_lines_next(&r, &line, &len, &err), 0, "%s", err.msg);
    cr_assert_eq(len, n);
    cr_assert_eq(ing_lines_next(&r, &line, &len, &err), 0, "%s", err.msg);
    cr_assert_str_eq(line, "ok");
    ing_lines_close(&r);
    free(big);
    th_rmrf(tmp);
    free(path);
    free(tmp);
}

Test(import_fields, csv_rfc4180) {
    char *tmp = th_tmpdir();
    char *path = th_write(tmp, "f.csv",
                          "a,\"b, \"\"c\"\"\",,\"\"\n"
                          "x,\"two\nlines\",z\n"
                          "plain,\"\",end\n"
                          "q\"uote,1\n");
    ing_lines r;
    mq_buf scratch;
    mq_buf_init(&scratch, 0);
    ing_fields f;
    mq_err err = {0};
    char *line;
    size_t len;
    cr_assert_eq(ing_lines_open(&r, path, &err), 0);
    cr_assert_eq(ing_lines_next(&r, &line, &len, &err), 0);
    cr_assert_eq(ing_split_csv(&r, line, len, &scratch, &f, &err), 0, "%s", err.msg);
    cr_assert_eq(f.n, 4);
    cr_assert_str_eq(f.f[0], "a");
    cr_assert_str_eq(f.f[1], "b, \"c\"");
    cr_assert_str_eq(f.f[2], "");
    cr_assert_str_eq(f.f[3], "");
    cr_assert_eq(ing_lines_next(&r, &line, &len, &err), 0);
    cr_assert_eq(ing_split_csv(&r, line, len, &scratch, &f, &err), 0, "%s", err.msg);
    cr_assert_eq(f.n, 3);
    cr_assert_str_eq(f.f[1], "two\nlines");
    cr_assert_str_eq(f.f[2], "z");
    cr_assert_eq(r.line, 3, "a quoted line break continues the record");
    cr_assert_eq(ing_lines_next(&r, &line, &len, &err), 0);
    cr_assert_eq(ing_split_csv(&r, line, len, &scratch, &f, &err), 0, "%s", err.msg);
    cr_assert_eq(f.n, 3);
    cr_assert_str_eq(f.f[1], "");
    cr_assert_eq(ing_lines_next(&r, &line, &len, &err), 0);
    cr_assert_eq(ing_split_csv(&r, line, len, &scratch, &f, &err), 0, "%s", err.msg);
    cr_assert_eq(f.n, 2);
    cr_assert_str_eq(f.f[0], "q\"uote", "a quote inside an unquoted field is literal");
    ing_lines_close(&r);
    mq_buf_free(&scratch);
    th_rmrf(tmp);
    free(path);
    free(tmp);
}

Test(import_fields, numbers_and_text) {
    double d;
    uint64_t u;
    cr_assert(ing_parse_decimal("4.0", &d) && d == 4.0);
    cr_assert(ing_parse_decimal("3.5", &d) && d == 3.5);
    cr_assert(ing_parse_decimal("5", &d) && d == 5.0);
    cr_assert(ing_parse_decimal("0.25", &d) && fabs(d - 0.25) < 1e-12);
    cr_assert_not(ing_parse_decimal("", &d));
    cr_assert_not(ing_parse_decimal("4.", &d));
    cr_assert_not(ing_parse_decimal(".5", &d));
    cr_assert_not(ing_parse_decimal("-1", &d));
    cr_assert_not(ing_parse_decimal("4.0x", &d));
    cr_assert_not(ing_parse_decimal("1e3", &d));
    cr_assert(ing_parse_uint("0296", &u) && u == 296);
    cr_assert_not(ing_parse_uint("", &u));
    cr_assert_not(ing_parse_uint("12a", &u));
    cr_assert_not(ing_parse_uint("1234567890123456789", &u), "19 digits could overflow");
    mq_arena a;
    mq_arena_init(&a, 1024, 0);
    cr_assert_str_eq(ing_text_dup(&a, "caf\xe9", 4), "caf\xc3\xa9");
    cr_assert_str_eq(ing_text_dup(&a, "caf\xc3\xa9", 5), "caf\xc3\xa9", "UTF-8 is kept");
    cr_assert_str_eq(ing_text_dup(&a, "\x93quoted\x94", 8), "\xe2\x80\x9cquoted\xe2\x80\x9d",
                     "Windows-1252 quotes");
    mq_arena_free(&a);
    char buf[64], s[] = "  padded \t";
    cr_assert_str_eq(ing_trim(s), "padded");
    ing_quote("a\"b\x01", buf, sizeof buf);
    cr_assert_str_eq(buf, "\"a\\\"b\\x01\"");
}

Test(import_jsonl, store_failure_stops_the_writer) {
    /* A store that cannot be written (opened read-only): the writer's failure
     * stops the import with the store's message, in both modes, without hanging. */
    fixture fx;
    fx_open(&fx);
    mq_import_report r[3];
    import_jsonl_world(&fx, r);
    mq_store_close(fx.s);
    mq_err err = {0};
    cr_assert_eq(mq_store_open(fx.data, MQ_STORE_READONLY, &fx.s, &err), 0, "%s", err.msg);
    mq_buf lines;
    mq_buf_init(&lines, 0);
    for (int i = 0; i < 20; i++)
        mq_buf_printf(&lines,
                      "{\"event_id\":\"ro%d\",\"profile\":\"p1\",\"type\":\"list_add\",\"ts\":1,"
                      "\"title\":\"t1\"}\n",
                      i);
    char *e = th_write(fx.tmp, "ro.jsonl", lines.data);
    for (int skip = 0; skip < 2; skip++) {
        mq_import_opts o = opts(skip, 3);
        mq_err_clear(&err);
        int rc = mq_import_events_jsonl(fx.s, e, &o, r, &err);
        cr_assert_eq(rc, MQ_ESTORE, "skip_bad=%d: rc %d: %s", skip, rc, err.msg);
        cr_assert(strstr(err.msg, "marquee.db"), "skip_bad=%d: %s", skip, err.msg);
        cr_assert_eq(r[0].events, 0);
    }
    mq_buf_free(&lines);
    free(e);
    fx_close(&fx);
}

Test(import_fields, overlong_line_is_a_bad_row) {
    /* A line past the reader's cap is skipped whole and reported with its number;
     * with skip_bad the lines after it still import. */
    fixture fx;
    fx_open(&fx);
    mq_import_report r[3];
    import_jsonl_world(&fx, r);
    size_t n = ING_LINE_MAX + 100;
    mq_buf b;
    mq_buf_init(&b, 0);
    mq_buf_puts(&b, "{\"event_id\":\"l1\",\"profile\":\"p1\",\"type\":\"list_add\",\"ts\":1,"
                    "\"title\":\"t1\"}\n{\"x\":\"");
    char *pad = malloc(n);
    memset(pad, 'x', n);
    mq_buf_append(&b, pad, n);
    free(pad);
    mq_buf_puts(&b, "\"}\n{\"event_id\":\"l3\",\"profile\":\"p1\",\"type\":\"list_add\",\"ts\":1,"
                    "\"title\":\"t1\"}");
    char *e = th_write(fx.tmp, "long.jsonl", b.data);
    mq_buf_free(&b);
    mq_err err = {0};
    mq_import_opts o = opts(false, 0);
    cr_assert_eq(mq_import_events_jsonl(fx.s, e, &o, r, &err), MQ_EINVAL);
    cr_assert(
        strstr(err.msg, "long.jsonl:2: expected a line shorter than 16 MiB, got a longer one"),
        "%s", err.msg);
    o.skip_bad = true;
    cr_assert_eq(mq_import_events_jsonl(fx.s, e, &o, r, &err), 0, "%s", err.msg);
    cr_assert_eq(r[0].bad_rows, 1);
    cr_assert_eq(r[0].events, 2);
    cr_assert_eq(r[0].rows, 3);
    free(e);
    fx_close(&fx);
}
