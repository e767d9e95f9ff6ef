/* test_import_movielens.c: MQ_TEST_LABEL: integration. ml-latest-small from
 * ../shared/data (skipped with a message when absent) through the library and
 * the binary, and `marquee import` end to end on small files: the report, exit
 * codes, messages naming file:line, --skip-bad, and re-runs. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "ingest/ingest.h"

static void put(const char *dir, const char *name, const char *text) {
    free(th_write(dir, name, text));
}

static char *path_in(const char *dir, const char *name) {
    char *p;
    if (asprintf(&p, "%s/%s", dir, name) < 0)
        abort();
    return p;
}

/* Runs `marquee --data DATA ARGS... --json` and parses stdout; NULL when it is not
 * JSON. */
static json_t *run_json(int *code, char **errout, const char *data, const char *a1, const char *a2,
                        const char *a3, const char *a4) {
    char *out;
    *code = a4 ? th_run(&out, errout, "--data", data, a1, a2, a3, a4, "--json", NULL)
               : th_run(&out, errout, "--data", data, a1, a2, a3, "--json", NULL);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    free(out);
    return j;
}

static json_int_t jint(const json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    cr_assert(json_is_integer(v), "\"%s\" is not an integer", key);
    return json_integer_value(v);
}

/* `marquee stats --json` */
static json_t *store_stats(const char *data) {
    char *out;
    int code = th_run(&out, NULL, "--data", data, "stats", "--json", NULL);
    cr_assert_eq(code, 0);
    json_t *j = json_loads(out, 0, NULL);
    cr_assert_not_null(j, "%s", out);
    free(out);
    return j;
}

/* ------------------------------------------------------- ml-latest-small ---- */

Test(import_movielens, ml_latest_small_library, .timeout = 600) {
    const char *dir = th_movielens_small();
    if (!dir)
        cr_skip_test("ml-latest-small is not in ../shared/data/ml-latest-small: skipped");
    char *tmp = th_tmpdir(), *data = path_in(tmp, "data");
    mq_store *s;
    mq_err err = {0};
    cr_assert_eq(mq_store_open(data, MQ_STORE_BULK, &s, &err), 0, "%s", err.msg);
    mq_import_report r;
    cr_assert_eq(mq_import_movielens(s, dir, NULL, &r, &err), 0, "%s", err.msg);
    cr_log_info("ml-latest-small: %llu rows in %.3f s (%.0f events/s; store %.3f s)",
                (unsigned long long)r.rows, r.seconds, (double)r.events / r.seconds,
                r.store_seconds);
    cr_assert_str_eq(r.layout, "ml-latest");
    cr_assert_eq(r.titles, 9742);
    cr_assert_eq(r.profiles, 610);
    cr_assert_eq(r.events, 100836);
    cr_assert_eq(r.bad_rows, 0);
    cr_assert_eq(r.rows, 9742 + 3683 + 100836);
    mq_store_stats st;
    cr_assert_eq(mq_store_stats_get(s, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(st.titles, 9742);
    cr_assert_eq(st.profiles, 610);
    cr_assert_eq(st.events, 100836);
    cr_assert_eq(st.by_type[MQ_EV_RATING], 100836);

    mq_arena a;
    mq_arena_init(&a, 4096, 0);
    mq_title t;
    cr_assert_eq(mq_store_get_title(s, "1", &t, &a, &err), 0, "%s", err.msg);
    cr_assert_str_eq(t.name, "Toy Story");
    cr_assert_eq(t.year, 1995);
    cr_assert_eq(t.genres.n, 5);
    cr_assert_gt(t.tags.n, 0);
    cr_assert_eq(mq_store_get_title(s, "11", &t, &a, &err), 0, "%s", err.msg);
    cr_assert_str_eq(t.name, "American President, The");
    cr_assert_neq(mq_store_profile_id(s, "296"), 0);
    cr_assert_eq(mq_store_profile_id(s, "611"), 0);
    mq_arena_free(&a);

    /* Idempotent: a second run stores nothing. */
    cr_assert_eq(mq_import_movielens(s, dir, NULL, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.events, 0);
    cr_assert_eq(r.duplicates, 100836);
    cr_assert_eq(r.profiles, 0);
    mq_store_stats st2;
    cr_assert_eq(mq_store_stats_get(s, &st2, &err), 0, "%s", err.msg);
    cr_assert_eq(st2.events, st.events);
    cr_assert_eq(st2.last_seq, st.last_seq);
    mq_store_close(s);
    th_rmrf(tmp);
    free(data);
    free(tmp);
}

Test(import_movielens, ml_latest_small_binary, .timeout = 600) {
    const char *dir = th_movielens_small();
    if (!dir)
        cr_skip_test("ml-latest-small is not in ../shared/data/ml-latest-small: skipped");
    char *tmp = th_tmpdir(), *data = path_in(tmp, "data"), *err;
    int code;
    json_t *j = run_json(&code, &err, data, "import", "movielens", dir, NULL);
    cr_assert_eq(code, 0, "%s", err);
    cr_assert_not_null(j);
    cr_assert_str_eq(json_string_value(json_object_get(j, "layout")), "ml-latest");
    cr_assert_eq(jint(j, "titles"), 9742);
    cr_assert_eq(jint(j, "profiles"), 610);
    cr_assert_eq(jint(j, "events"), 100836);
    cr_assert_eq(jint(j, "bad_rows"), 0);
    cr_log_info("marquee import movielens ml-latest-small: %.3f s, %.0f events/s",
                json_real_value(json_object_get(j, "seconds")),
                json_real_value(json_object_get(j, "events_per_s")));
    json_decref(j);
    free(err);
    j = store_stats(data);
    cr_assert_eq(jint(j, "titles"), 9742);
    cr_assert_eq(jint(j, "profiles"), 610);
    cr_assert_eq(jint(json_object_get(j, "events_by_type"), "rating"), 100836);
    json_decref(j);
    th_rmrf(tmp);
    free(data);
    free(tmp);
}

/* ----------------------------------------------------- the binary, small ---- */

static char *write_ml(const char *tmp, const char *name, const char *ratings) {
    char *dir = path_in(tmp, name);
    mq_err e = {0};
    cr_assert_eq(mq_mkdirs(dir, &e), 0);
    put(dir, "movies.csv",
        "movieId,title,genres\n"
        "1,Toy Story (1995),Adventure|Animation\n"
        "2,\"Usual Suspects, The (1995)\",Crime|Mystery|Thriller\n");
    put(dir, "ratings.csv", ratings);
    return dir;
}

Test(import_cli, movielens_report_failure_skip_and_rerun) {
    char *tmp = th_tmpdir(), *data = path_in(tmp, "data"), *err;
    char *good = write_ml(tmp, "good",
                          "userId,movieId,rating,timestamp\n"
                          "296,1,4.0,964982703\n"
                          "296,2,5.0,964982704\n"
                          "7,1,2.5,964982705\n");
    int code;
    json_t *j = run_json(&code, &err, data, "import", "movielens", good, NULL);
    cr_assert_eq(code, 0, "%s", err);
    cr_assert_not_null(j);
    const char *keys[] = {"layout",     "rows",     "titles",  "profiles",  "events",
                          "duplicates", "bad_rows", "seconds", "rows_per_s"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        cr_assert_not_null(json_object_get(j, keys[i]), "the report has \"%s\"", keys[i]);
    cr_assert_eq(jint(j, "rows"), 5);
    cr_assert_eq(jint(j, "events"), 3);
    cr_assert_eq(jint(j, "profiles"), 2);
    json_decref(j);
    free(err);

    /* A bad row: exit 1, file:line on stderr, the store as it was. */
    char *bad = write_ml(tmp, "bad",
                         "userId,movieId,rating,timestamp\n"
                         "8,1,4.0,964982703\n"
                         "8,3,4.0,964982703\n");
    char *out;
    code = th_run(&out, &err, "--data", data, "import", "movielens", bad, NULL);
    cr_assert_eq(code, 1);
    cr_assert(strstr(err, "bad/ratings.csv:3: expected a movie id listed in movies.csv in "
                          "column 2, got \"3\""),
              "%s", err);
    free(out);
    free(err);
    j = store_stats(data);
    cr_assert_eq(jint(j, "events"), 3);
    cr_assert_eq(jint(j, "profiles"), 2);
    json_decref(j);

    /* --skip-bad: counted, logged, the rest imported. */
    j = run_json(&code, &err, data, "import", "movielens", bad, "--skip-bad");
    cr_assert_eq(code, 0, "%s", err);
    cr_assert_eq(jint(j, "bad_rows"), 1);
    cr_assert_eq(jint(j, "events"), 1);
    cr_assert(strstr(err, "ratings.csv:3") && strstr(err, "skipped"), "%s", err);
    json_decref(j);
    free(err);

    /* Re-running stores nothing new. */
    j = run_json(&code, &err, data, "import", "movielens", good, NULL);
    cr_assert_eq(code, 0, "%s", err);
    cr_assert_eq(jint(j, "events"), 0);
    cr_assert_eq(jint(j, "duplicates"), 3);
    json_decref(j);
    free(err);

    /* The text summary. */
    code = th_run(&out, &err, "--data", data, "import", "movielens", good, NULL);
    cr_assert_eq(code, 0, "%s", err);
    cr_assert(strstr(out, "ml-latest") && strstr(out, "3 duplicates") && strstr(out, "rows/s"),
              "%s", out);
    free(out);
    free(err);
    th_rmrf(tmp);
    free(good);
    free(bad);
    free(data);
    free(tmp);
}

Test(import_cli, usage_errors_exit_2) {
    char *tmp = th_tmpdir(), *data = path_in(tmp, "data"), *err;
    char *file = th_write(tmp, "e.jsonl", "\n");
    struct {
        const char *kind, *path, *want;
    } cases[] = {
        {"nope", tmp, "expected movielens, titles, profiles or events, got \"nope\""},
        {"events", "/nonexistent/e.jsonl", "expected an existing file"},
        {"events", tmp, "expected a file, got a directory"},
        {"movielens", file, "expected a directory, got a file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int code = th_run(NULL, &err, "--data", data, "import", cases[i].kind, cases[i].path, NULL);
        cr_assert_eq(code, 2, "%s %s: %s", cases[i].kind, cases[i].path, err);
        cr_assert(strstr(err, cases[i].want), "%s", err);
        free(err);
    }
    cr_assert_eq(th_run(NULL, NULL, "--data", data, "import", "movielens", NULL), 2);
    cr_assert_eq(th_run(NULL, NULL, "--data", data, "import", "events", file, "--batch", "0", NULL),
                 2);
    /* A directory without MovieLens files is bad data, not usage. */
    cr_assert_eq(th_run(NULL, &err, "--data", data, "import", "movielens", tmp, NULL), 1);
    cr_assert(strstr(err, "expected a MovieLens directory"), "%s", err);
    free(err);
    th_rmrf(tmp);
    free(file);
    free(data);
    free(tmp);
}

Test(import_cli, jsonl_titles_profiles_events) {
    char *tmp = th_tmpdir(), *data = path_in(tmp, "data"), *err;
    char *t = th_write(tmp, "titles.jsonl",
                       "{\"id\":\"t1\",\"name\":\"Heat\",\"year\":1995,\"genres\":[\"Crime\"]}\n"
                       "{\"id\":\"t2\",\"name\":\"Ronin\",\"year\":1998}\n");
    char *p = th_write(tmp, "profiles.jsonl", "{\"id\":\"p1\",\"country\":\"US\"}\n");
    char *e = th_write(tmp, "events.jsonl",
                       "{\"event_id\":\"e1\",\"profile\":\"p1\",\"type\":\"complete\","
                       "\"ts\":\"2024-05-01T20:15:00Z\",\"title\":\"t1\",\"duration_s\":6000}\n"
                       "{\"event_id\":\"e2\",\"profile\":\"p2\",\"type\":\"thumbs\","
                       "\"ts\":\"2024-05-01T20:16:00Z\",\"title\":\"t2\",\"value\":\"down\"}\n"
                       "{\"event_id\":\"e3\",\"profile\":\"p2\",\"type\":\"thumbs\","
                       "\"ts\":\"2024-05-01T20:17:00Z\",\"title\":\"t3\",\"value\":\"up\"}\n");
    int code;
    json_t *j = run_json(&code, &err, data, "import", "titles", t, NULL);
    cr_assert_eq(code, 0, "%s", err);
    cr_assert_eq(jint(j, "titles"), 2);
    json_decref(j);
    free(err);
    j = run_json(&code, &err, data, "import", "profiles", p, NULL);
    cr_assert_eq(code, 0, "%s", err);
    cr_assert_eq(jint(j, "profiles"), 1);
    json_decref(j);
    free(err);
    /* t3 is not in the catalogue: line 3 fails the import, nothing is kept. */
    code = th_run(NULL, &err, "--data", data, "import", "events", e, NULL);
    cr_assert_eq(code, 1);
    cr_assert(strstr(err, "events.jsonl:3: expected a title id in the catalogue") &&
                  strstr(err, "\"t3\""),
              "%s", err);
    free(err);
    j = store_stats(data);
    cr_assert_eq(jint(j, "events"), 0);
    json_decref(j);
    j = run_json(&code, &err, data, "import", "events", e, "--skip-bad");
    cr_assert_eq(code, 0, "%s", err);
    cr_assert_eq(jint(j, "events"), 2);
    cr_assert_eq(jint(j, "bad_rows"), 1);
    cr_assert_eq(jint(j, "profiles"), 1, "p2 created by its event");
    json_decref(j);
    free(err);
    j = store_stats(data);
    cr_assert_eq(jint(j, "events"), 2);
    cr_assert_eq(jint(j, "profiles"), 2);
    cr_assert_eq(jint(json_object_get(j, "events_by_type"), "thumbs"), 1);
    cr_assert_eq(jint(json_object_get(j, "events_by_type"), "complete"), 1);
    json_decref(j);
    th_rmrf(tmp);
    free(t);
    free(p);
    free(e);
    free(data);
    free(tmp);
}
