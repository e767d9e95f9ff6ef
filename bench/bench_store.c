/* bench_store.c: the store's event append rate against the raw SQLite limit.
 *
 * Usage: bench_store [N]        (default 1,000,000 events)
 *        bench_store raw DIR    the raw limit for the rows already in DIR's store
 *
 * The first form appends N rating events (the shape MovieLens imports produce)
 * through mq_store_append_events in batches of 50,000 with the store opened for
 * bulk loading, then inserts similar rows with a tiny loop of prepared INSERTs into
 * a bare copy of the events table (same columns and indexes, no id resolution, no
 * duplicate check): the limit the schema allows.
 *
 * The second form reads every event row of DIR/marquee.db into memory (after an
 * import there) and times a tiny loop of prepared INSERTs of exactly those rows,
 * all columns, into a fresh database with the same schema and pragmas as a bulk
 * import: the limit an importer of the same rows is measured against.
 * Both print one JSON object. */
#include "store/store.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static double raw_insert(const char *dir, size_t n, bool indexes) {
    char path[4096];
    snprintf(path, sizeof path, "%s/raw%d.db", dir, indexes);
    unlink(path);
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-262144; PRAGMA wal_autocheckpoint=65536;",
                 NULL, NULL, NULL);
    sqlite3_exec(db,
                 "CREATE TABLE events(seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE,"
                 "  profile_id INTEGER NOT NULL, type INTEGER NOT NULL, ts_ms INTEGER NOT NULL,"
                 "  title_id INTEGER, device INTEGER NOT NULL DEFAULT 0,"
                 "  tz_offset_min INTEGER NOT NULL DEFAULT 0, country TEXT, page_id TEXT, row_id TEXT,"
                 "  row_pos INTEGER, col_pos INTEGER, artwork_id TEXT, synopsis_id TEXT, propensity REAL,"
                 "  position_s REAL, duration_s REAL, query TEXT, value REAL, direction INTEGER)",
                 NULL, NULL, NULL);
    if (indexes)
        sqlite3_exec(db, "CREATE INDEX events_by_profile ON events(profile_id, seq)", NULL, NULL,
                     NULL);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db,
                       "INSERT INTO events(event_id, profile_id, type, ts_ms, title_id, value) "
                       "VALUES(?,?,?,?,?,?)",
                       -1, &st, NULL);
    char id[64];
    double t0 = mq_mono_s();
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    for (size_t i = 0; i < n; i++) {
        if (i % 50000 == 0 && i) {
            sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
            sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
        }
        int len = snprintf(id, sizeof id, "ml:%zu:%zu", i / 100, i % 10000);
        sqlite3_bind_text(st, 1, id, len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)(i / 100 + 1));
        sqlite3_bind_int(st, 3, MQ_EV_RATING);
        sqlite3_bind_int64(st, 4, 964982703000LL + (sqlite3_int64)i);
        sqlite3_bind_int64(st, 5, (sqlite3_int64)(i % 10000 + 1));
        sqlite3_bind_double(st, 6, 0.5 + (double)(i % 10) / 2);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    double dt = mq_mono_s() - t0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return (double)n / dt;
}

/* ------------------------------------------------- raw limit, same rows ---- */

#define N_COLS 20 /* the event columns after seq */

static int raw_same_rows(const char *src_dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/marquee.db", src_dir);
    sqlite3 *src;
    if (sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "%s: cannot open\n", path);
        return 1;
    }
    /* Load the rows as sqlite3_values, column by column, so the insert loop binds
     * exactly what the import stored. */
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(src,
                           "SELECT event_id, profile_id, type, ts_ms, title_id, device, "
                           "tz_offset_min, country, page_id, row_id, row_pos, col_pos, "
                           "artwork_id, synopsis_id, propensity, position_s, duration_s, query, "
                           "value, direction FROM events ORDER BY seq",
                           -1, &q, NULL) != SQLITE_OK) {
        fprintf(stderr, "%s\n", sqlite3_errmsg(src));
        return 1;
    }
    MQ_VEC(sqlite3_value *) vals = {0};
    size_t n = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        for (int c = 0; c < N_COLS; c++)
            MQ_VEC_PUSH(&vals, sqlite3_value_dup(sqlite3_column_value(q, c)));
        n++;
    }
    sqlite3_finalize(q);
    sqlite3_close(src);

    char dir[] = "/tmp/mq-bench-raw-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/raw.db", dir);
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-262144; PRAGMA wal_autocheckpoint=65536;",
                 NULL, NULL, NULL);
    sqlite3_exec(db,
                 "CREATE TABLE events(seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE,"
                 "  profile_id INTEGER NOT NULL, type INTEGER NOT NULL, ts_ms INTEGER NOT NULL,"
                 "  title_id INTEGER, device INTEGER NOT NULL DEFAULT 0,"
                 "  tz_offset_min INTEGER NOT NULL DEFAULT 0, country TEXT, page_id TEXT, row_id TEXT,"
                 "  row_pos INTEGER, col_pos INTEGER, artwork_id TEXT, synopsis_id TEXT, propensity REAL,"
                 "  position_s REAL, duration_s REAL, query TEXT, value REAL, direction INTEGER);"
                 "CREATE INDEX events_by_profile ON events(profile_id, seq);",
                 NULL, NULL, NULL);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db,
                       "INSERT INTO events(event_id, profile_id, type, ts_ms, title_id, device, "
                       "tz_offset_min, country, page_id, row_id, row_pos, col_pos, artwork_id, "
                       "synopsis_id, propensity, position_s, duration_s, query, value, direction) "
                       "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                       -1, &st, NULL);
    double t0 = mq_mono_s();
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    for (size_t i = 0; i < n; i++) {
        if (i % 50000 == 0 && i) {
            sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
            sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
        }
        for (int c = 0; c < N_COLS; c++)
            sqlite3_bind_value(st, c + 1, vals.items[i * N_COLS + (size_t)c]);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    double dt = mq_mono_s() - t0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    for (size_t i = 0; i < vals.len; i++)
        sqlite3_value_free(vals.items[i]);
    mq_free(vals.items);
    printf("{\"events\": %zu, \"raw_sqlite_same_rows_per_s\": %.0f, \"seconds\": %.3f}\n", n,
           n / dt, dt);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "raw") == 0)
        return raw_same_rows(argv[2]);
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 1000000;
    char dir[] = "/tmp/mq-bench-store-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    mq_err err = {0};
    mq_store *s;
    if (mq_store_open(dir, MQ_STORE_BULK, &s, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    /* The catalogue the events refer to. */
    mq_store_begin(s, &err);
    for (int t = 1; t <= 10000; t++) {
        char ext[16];
        snprintf(ext, sizeof ext, "%d", t - 1);
        mq_title title = {.ext_id = ext, .name = ext};
        mq_store_put_title(s, &title, &err);
    }
    mq_store_commit(s, &err);

    size_t batch = 50000;
    mq_event *evs = mq_calloc(batch, sizeof *evs);
    mq_append_status *status = mq_calloc(batch, sizeof *status);
    char (*ids)[32] = mq_calloc(batch, 32), (*profiles)[24] = mq_calloc(batch, 24),
         (*titles)[24] = mq_calloc(batch, 24);
    double t0 = mq_mono_s(), t_append = 0;
    for (size_t done = 0; done < n;) {
        size_t m = MQ_MIN(batch, n - done);
        for (size_t k = 0; k < m; k++) {
            size_t i = done + k;
            mq_event *e = &evs[k];
            mq_event_init(e);
            snprintf(ids[k], 32, "ml:%zu:%zu", i / 100, i % 10000);
            snprintf(profiles[k], 24, "%zu", i / 100);
            snprintf(titles[k], 24, "%zu", i % 10000);
            e->event_id = ids[k];
            e->profile = profiles[k];
            e->title = titles[k];
            e->type = MQ_EV_RATING;
            e->ts_ms = 964982703000LL + (int64_t)i;
            e->value = 0.5 + (double)(i % 10) / 2;
        }
        double ta = mq_mono_s();
        if (mq_store_begin(s, &err) || mq_store_append_events(s, evs, m, status, &err) ||
            mq_store_commit(s, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        t_append += mq_mono_s() - ta;
        done += m;
    }
    double total = mq_mono_s() - t0;
    mq_store_close(s);
    double raw_idx = raw_insert(dir, n, true);
    double raw_noidx = raw_insert(dir, n, false);
    printf("{\"events\": %zu, \"store_events_per_s\": %.0f, \"store_append_only_per_s\": %.0f, "
           "\"raw_sqlite_same_schema_per_s\": %.0f, \"raw_sqlite_no_profile_index_per_s\": %.0f}\n",
           n, (double)n / total, (double)n / t_append, raw_idx, raw_noidx);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
