/* cmd_import.c: `marquee import KIND PATH`: loads MovieLens or JSONL data into the
 * store (src/ingest) and prints what it did, as text or (--json) one JSON object.
 * The store is opened for bulk loading: an import commits in large batches and
 * can be re-run if a power loss takes the last ones. */
#include "cli.h"
#include "ingest/ingest.h"

#include <string.h>
#include <sys/stat.h>

typedef int (*import_fn)(mq_store *, const char *, const mq_import_opts *, mq_import_report *,
                         mq_err *);

static const struct {
    const char *kind;
    bool dir; /* the path is a directory */
    import_fn fn;
} kinds[] = {
    {"movielens", true, mq_import_movielens},
    {"titles", false, mq_import_titles_jsonl},
    {"profiles", false, mq_import_profiles_jsonl},
    {"events", false, mq_import_events_jsonl},
};

static void print_report(const mq_cli *cli, const char *kind, const char *path,
                         const mq_import_report *r) {
    double rate = r->seconds > 0 ? (double)r->rows / r->seconds : 0;
    double ev_rate = r->seconds > 0 ? (double)(r->events + r->duplicates) / r->seconds : 0;
    if (mq_cli_has(cli, "json")) {
        json_t *o = json_object();
        json_object_set_new(o, "kind", json_string(kind));
        json_object_set_new(o, "path", json_string(path));
        json_object_set_new(o, "layout", json_string(r->layout));
        json_object_set_new(o, "rows", json_integer((json_int_t)r->rows));
        json_object_set_new(o, "titles", json_integer((json_int_t)r->titles));
        json_object_set_new(o, "profiles", json_integer((json_int_t)r->profiles));
        json_object_set_new(o, "events", json_integer((json_int_t)r->events));
        json_object_set_new(o, "duplicates", json_integer((json_int_t)r->duplicates));
        json_object_set_new(o, "bad_rows", json_integer((json_int_t)r->bad_rows));
        json_object_set_new(o, "seconds", json_real(r->seconds));
        json_object_set_new(o, "store_seconds", json_real(r->store_seconds));
        json_object_set_new(o, "rows_per_s", json_real(rate));
        json_object_set_new(o, "events_per_s", json_real(ev_rate));
        json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
        fputc('\n', stdout);
        json_decref(o);
        return;
    }
    printf("imported    %s (%s) from %s\n", kind, r->layout, path);
    printf("rows        %llu read, %llu bad%s\n", (unsigned long long)r->rows,
           (unsigned long long)r->bad_rows, r->bad_rows ? " (skipped)" : "");
    printf("titles      %llu written\n", (unsigned long long)r->titles);
    printf("profiles    %llu %s\n", (unsigned long long)r->profiles,
           strcmp(kind, "profiles") == 0 ? "written" : "new");
    printf("events      %llu stored, %llu duplicates (already stored)\n",
           (unsigned long long)r->events, (unsigned long long)r->duplicates);
    printf("time        %.2f s, %.0f rows/s", r->seconds, rate);
    if (r->events + r->duplicates)
        printf(", %.0f events/s", ev_rate);
    printf("\n");
}

int mq_cmd_import(mq_cli *cli) {
    const char *kind = cli->pos[0], *path = cli->pos[1];
    size_t k = 0;
    while (k < MQ_ARRAY_LEN(kinds) && strcmp(kinds[k].kind, kind) != 0)
        k++;
    if (k == MQ_ARRAY_LEN(kinds))
        return mq_cli_fail(cli, MQ_EXIT_USAGE,
                           "expected movielens, titles, profiles or events, got \"%s\"", kind);
    struct stat st;
    if (stat(path, &st) != 0)
        return mq_cli_fail(cli, MQ_EXIT_USAGE, "%s: expected an existing %s, got no such path",
                           path, kinds[k].dir ? "directory" : "file");
    if (kinds[k].dir != S_ISDIR(st.st_mode))
        return mq_cli_fail(cli, MQ_EXIT_USAGE, "%s: expected a %s, got a %s", path,
                           kinds[k].dir ? "directory" : "file",
                           S_ISDIR(st.st_mode) ? "directory" : "file");

    mq_import_opts o;
    mq_import_opts_default(&o);
    int64_t batch;
    if (!mq_cli_flag_i64(cli, "batch", 1, 10000000,
                         (int64_t)mq_config_num(cli->config, "import.batch"), &batch))
        return MQ_EXIT_USAGE;
    o.batch = (size_t)batch;
    o.skip_bad = mq_cli_has(cli, "skip-bad");
    o.progress = true;

    mq_err err = {0};
    mq_store *s;
    if (mq_store_open(mq_cli_store(cli), MQ_STORE_BULK, &s, &err))
        return mq_cli_fail(cli, MQ_EXIT_FAIL, "%s", err.msg);
    mq_import_report r;
    int rc = kinds[k].fn(s, path, &o, &r, &err);
    mq_store_close(s);
    if (rc)
        return mq_cli_fail(cli, MQ_EXIT_FAIL, "%s", err.msg);
    print_report(cli, kind, path, &r);
    return MQ_EXIT_OK;
}
