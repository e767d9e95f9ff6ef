/* sqlite.c: the embedded store on SQLite in WAL mode. Acknowledged writes are
 * durable (synchronous=FULL: the WAL is fsynced at each commit) unless the store
 * was opened for bulk loading. The schema is versioned in the meta table and
 * migrated forward on open; a newer schema is refused.
 *
 * Id maps (external -> internal) for titles and profiles are cached in memory and
 * filled on open; a miss falls back to the database, so another process's inserts
 * are seen. Entries created inside a transaction are forgotten on rollback.
 *
 * Following the log (mq_store_follow_events) is by seq: SQLite has one writer at
 * a time, so seq order is commit order. PRAGMA data_version says whether another
 * connection committed anything since the last look, so a follower polling an
 * unchanged database reads nothing; this handle's own committed seq ranges are
 * skipped. */
#include "store.h"
#include "store_impl.h"

#include <math.h>
#include <sqlite3.h>
#include <string.h>
#include <time.h>

/* Each entry migrates from version i to i + 1. */
static const char *const migrations[] = {
    /* 0 -> 1: the initial schema. */
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE titles(id INTEGER PRIMARY KEY, ext_id TEXT NOT NULL UNIQUE,"
    "  name TEXT NOT NULL, kind INTEGER NOT NULL, year INTEGER, added_ms INTEGER,"
    "  doc TEXT NOT NULL);"
    "CREATE TABLE profiles(id INTEGER PRIMARY KEY, ext_id TEXT NOT NULL UNIQUE,"
    "  country TEXT NOT NULL DEFAULT '', maturity_limit INTEGER NOT NULL,"
    "  created_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE events(seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE,"
    "  profile_id INTEGER NOT NULL, type INTEGER NOT NULL, ts_ms INTEGER NOT NULL,"
    "  title_id INTEGER, device INTEGER NOT NULL DEFAULT 0,"
    "  tz_offset_min INTEGER NOT NULL DEFAULT 0, country TEXT, page_id TEXT, row_id TEXT,"
    "  row_pos INTEGER, col_pos INTEGER, artwork_id TEXT, synopsis_id TEXT, propensity REAL,"
    "  position_s REAL, duration_s REAL, query TEXT, value REAL, direction INTEGER);"
    "CREATE INDEX events_by_profile ON events(profile_id, seq);"
    "CREATE TABLE blobs(name TEXT PRIMARY KEY, data BLOB NOT NULL, updated_ms INTEGER NOT NULL);",
    /* 1 -> 2: blob versions, so that nodes notice a new bundle cheaply. */
    "ALTER TABLE blobs ADD COLUMN version INTEGER NOT NULL DEFAULT 1;",
    /* 2 -> 3: the evidence label shown with an impression. */
    "ALTER TABLE events ADD COLUMN label TEXT;",
};

_Static_assert(MQ_ARRAY_LEN(migrations) == MQ_STORE_SCHEMA_VERSION,
               "one migration per schema version");

#define EVENT_COLS                                                                         \
    "event_id, profile_id, type, ts_ms, title_id, device, tz_offset_min, country, page_id, " \
    "row_id, row_pos, col_pos, artwork_id, synopsis_id, propensity, position_s, "          \
    "duration_s, query, value, direction, label"

enum {
    ST_INSERT_EVENT,
    ST_INSERT_PROFILE,
    ST_FIND_PROFILE,
    ST_FIND_TITLE,
    ST_PUT_TITLE,
    ST_GET_TITLE,
    ST_PUT_PROFILE,
    ST_GET_PROFILE,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_INSERT_EVENT] = "INSERT OR IGNORE INTO events(" EVENT_COLS
                        ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [ST_INSERT_PROFILE] = "INSERT INTO profiles(ext_id, country, maturity_limit, created_ms) "
                          "VALUES(?, '', 18, ?)",
    [ST_FIND_PROFILE] = "SELECT id FROM profiles WHERE ext_id = ?",
    [ST_FIND_TITLE] = "SELECT id FROM titles WHERE ext_id = ?",
    [ST_PUT_TITLE] = "INSERT INTO titles(ext_id, name, kind, year, added_ms, doc) "
                     "VALUES(?,?,?,?,?,?) ON CONFLICT(ext_id) DO UPDATE SET name = excluded.name,"
                     " kind = excluded.kind, year = excluded.year, added_ms = excluded.added_ms,"
                     " doc = excluded.doc RETURNING id",
    [ST_GET_TITLE] = "SELECT id, doc FROM titles WHERE ext_id = ?",
    [ST_PUT_PROFILE] = "INSERT INTO profiles(ext_id, country, maturity_limit, created_ms) "
                       "VALUES(?,?,?,?) ON CONFLICT(ext_id) DO UPDATE SET country = "
                       "excluded.country, maturity_limit = excluded.maturity_limit, created_ms = "
                       "excluded.created_ms RETURNING id",
    [ST_GET_PROFILE] = "SELECT id, ext_id, country, maturity_limit, created_ms FROM profiles "
                       "WHERE ext_id = ?",
};

/* Seqs [lo, hi] committed by this handle in one transaction. */
typedef struct {
    int64_t lo, hi;
} seq_range;

typedef struct {
    mq_store_base base;
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    char *path;
    /* Following: seqs up to follow_seq are visited; own committed ranges since. */
    seq_range tx; /* this transaction's inserted seqs; lo = 0: none */
    MQ_VEC(seq_range) own;
    int64_t follow_seq, data_version;
    bool following;
} sq_store;

static int sq_fail(sq_store *s, mq_err *err, const char *what) {
    return mq_err_set(err, MQ_ESTORE, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

static int exec(sq_store *s, const char *sql, mq_err *err) {
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = mq_err_set(err, MQ_ESTORE, "%s: %s", s->path, msg ? msg : "unknown error");
        sqlite3_free(msg);
        return rc;
    }
    return MQ_OK;
}

static int schema_version(sq_store *s) {
    sqlite3_stmt *st;
    int v = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = 'schema_version'", -1,
                           &st, NULL) != SQLITE_OK)
        return 0; /* no meta table: an empty database */
    if (sqlite3_step(st) == SQLITE_ROW)
        v = atoi((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return v;
}

static int migrate(sq_store *s, mq_err *err) {
    int v = schema_version(s);
    int latest = (int)MQ_ARRAY_LEN(migrations);
    if (v > latest)
        return mq_err_set(err, MQ_EVERSION,
                          "%s: the store has schema version %d, written by a newer marquee; this "
                          "build reads versions up to %d. Upgrade marquee or use another --data "
                          "directory",
                          s->path, v, latest);
    for (; v < latest; v++) {
        char set[128];
        snprintf(set, sizeof set,
                 "INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', '%d');", v + 1);
        int rc;
        if ((rc = exec(s, "BEGIN IMMEDIATE", err)))
            return rc;
        if ((rc = exec(s, migrations[v], err)) || (rc = exec(s, set, err))) {
            exec(s, "ROLLBACK", NULL);
            return mq_err_prefix(err, "migrating the store to schema version %d", v + 1);
        }
        if ((rc = exec(s, "COMMIT", err)))
            return rc;
    }
    return MQ_OK;
}

static int load_ids(sq_store *s, mq_err *err) {
    static const char *const sql[2] = {"SELECT id, ext_id FROM titles",
                                       "SELECT id, ext_id FROM profiles"};
    for (int k = 0; k < 2; k++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(s->db, sql[k], -1, &st, NULL) != SQLITE_OK)
            return sq_fail(s, err, "loading ids");
        while (sqlite3_step(st) == SQLITE_ROW)
            mq_idmap_put(k == 0 ? &s->base.titles : &s->base.profiles,
                         (const char *)sqlite3_column_text(st, 1),
                         (uint32_t)sqlite3_column_int64(st, 0), false);
        sqlite3_finalize(st);
    }
    return MQ_OK;
}

static void sq_close(mq_store_base *b) {
    sq_store *s = (sq_store *)b;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    mq_free(s->own.items);
    mq_free(s->path);
}

static int sq_begin(mq_store_base *b, mq_err *err) {
    sq_store *s = (sq_store *)b;
    s->tx.lo = s->tx.hi = 0;
    return exec(s, "BEGIN IMMEDIATE", err);
}

static int sq_commit(mq_store_base *b, mq_err *err) {
    sq_store *s = (sq_store *)b;
    int rc = exec(s, "COMMIT", err);
    if (!rc && s->tx.lo)
        MQ_VEC_PUSH(&s->own, s->tx);
    s->tx.lo = s->tx.hi = 0;
    return rc;
}

static void sq_rollback(mq_store_base *b) {
    sq_store *s = (sq_store *)b;
    s->tx.lo = s->tx.hi = 0;
    exec(s, "ROLLBACK", NULL);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s) {
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static void bind_num(sqlite3_stmt *st, int i, double v) {
    if (isnan(v))
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_double(st, i, v);
}

static int sq_find_id(mq_store_base *b, int kind, const char *ext_id, uint32_t *id,
                      mq_err *err) {
    sq_store *s = (sq_store *)b;
    sqlite3_stmt *st = s->st[kind == MQ_IDMAP_TITLE ? ST_FIND_TITLE : ST_FIND_PROFILE];
    sqlite3_bind_text(st, 1, ext_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    *id = rc == SQLITE_ROW ? (uint32_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sq_fail(s, err, "looking up an id");
    return MQ_OK;
}

static int sq_create_profile(mq_store_base *b, const char *ext_id, int64_t created_ms,
                             uint32_t *id, mq_err *err) {
    sq_store *s = (sq_store *)b;
    sqlite3_stmt *st = s->st[ST_INSERT_PROFILE];
    sqlite3_bind_text(st, 1, ext_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, created_ms);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_fail(s, err, "creating a profile");
    *id = (uint32_t)sqlite3_last_insert_rowid(s->db);
    return MQ_OK;
}

static int sq_insert_event(mq_store_base *b, mq_event *e, bool *dup, mq_err *err) {
    sq_store *s = (sq_store *)b;
    sqlite3_stmt *st = s->st[ST_INSERT_EVENT];
    sqlite3_bind_text(st, 1, e->event_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, e->profile_id);
    sqlite3_bind_int(st, 3, (int)e->type);
    sqlite3_bind_int64(st, 4, e->ts_ms);
    if (e->title_id)
        sqlite3_bind_int64(st, 5, e->title_id);
    else
        sqlite3_bind_null(st, 5);
    sqlite3_bind_int(st, 6, (int)e->device);
    sqlite3_bind_int(st, 7, e->tz_offset_min);
    bind_text(st, 8, e->country[0] ? e->country : NULL);
    bind_text(st, 9, e->page_id);
    bind_text(st, 10, e->row_id);
    if (e->row_pos >= 0)
        sqlite3_bind_int(st, 11, e->row_pos);
    else
        sqlite3_bind_null(st, 11);
    if (e->col_pos >= 0)
        sqlite3_bind_int(st, 12, e->col_pos);
    else
        sqlite3_bind_null(st, 12);
    bind_text(st, 13, e->artwork_id);
    bind_text(st, 14, e->synopsis_id);
    bind_num(st, 15, e->propensity);
    bind_num(st, 16, e->position_s);
    bind_num(st, 17, e->duration_s);
    bind_text(st, 18, e->query);
    bind_num(st, 19, e->value);
    if (e->direction)
        sqlite3_bind_int(st, 20, (int)e->direction);
    else
        sqlite3_bind_null(st, 20);
    bind_text(st, 21, e->label);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_fail(s, err, "appending an event");
    *dup = sqlite3_changes(s->db) == 0;
    e->seq = *dup ? 0 : sqlite3_last_insert_rowid(s->db);
    if (e->seq) {
        if (!s->tx.lo || e->seq < s->tx.lo)
            s->tx.lo = e->seq;
        s->tx.hi = MQ_MAX(s->tx.hi, e->seq);
    }
    return MQ_OK;
}

static const char *col_text(sqlite3_stmt *st, int i) {
    return (const char *)sqlite3_column_text(st, i);
}

static double col_num(sqlite3_stmt *st, int i) {
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static int col_pos(sqlite3_stmt *st, int i) {
    return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_int(st, i);
}

/* The external id of an internal one this handle's cache misses (another
 * process created it), read from the database and cached; NULL if it is gone. */
static const char *name_of(sq_store *s, int kind, uint32_t id) {
    mq_idmap *m = kind == MQ_IDMAP_TITLE ? &s->base.titles : &s->base.profiles;
    const char *ext = mq_idmap_ext(m, id);
    if (ext || !id)
        return ext;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           kind == MQ_IDMAP_TITLE ? "SELECT ext_id FROM titles WHERE id = ?"
                                                  : "SELECT ext_id FROM profiles WHERE id = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        mq_idmap_put(m, col_text(st, 0), id, false);
        ext = mq_idmap_ext(m, id);
    }
    sqlite3_finalize(st);
    return ext;
}

static int sq_each_event(mq_store_base *b, const mq_event_filter *f, mq_event_cb cb, void *ud,
                         mq_err *err) {
    sq_store *s = (sq_store *)b;
    char sql[512];
    int n = snprintf(sql, sizeof sql, "SELECT seq, " EVENT_COLS " FROM events WHERE seq > ?1");
    if (f->profile_id)
        n += snprintf(sql + n, sizeof sql - (size_t)n, " AND profile_id = ?2");
    if (f->from_ms)
        n += snprintf(sql + n, sizeof sql - (size_t)n, " AND ts_ms >= ?3");
    if (f->to_ms)
        n += snprintf(sql + n, sizeof sql - (size_t)n, " AND ts_ms < ?4");
    if (f->type >= 0)
        n += snprintf(sql + n, sizeof sql - (size_t)n, " AND type = ?5");
    snprintf(sql + n, sizeof sql - (size_t)n, " ORDER BY seq");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return sq_fail(s, err, "scanning events");
    sqlite3_bind_int64(st, 1, f->after_seq);
    if (f->profile_id)
        sqlite3_bind_int64(st, 2, f->profile_id);
    if (f->from_ms)
        sqlite3_bind_int64(st, 3, f->from_ms);
    if (f->to_ms)
        sqlite3_bind_int64(st, 4, f->to_ms);
    if (f->type >= 0)
        sqlite3_bind_int(st, 5, f->type);
    int rc, ret = MQ_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        mq_event e;
        mq_event_init(&e);
        e.seq = sqlite3_column_int64(st, 0);
        e.event_id = col_text(st, 1);
        e.profile_id = (uint32_t)sqlite3_column_int64(st, 2);
        e.type = (mq_event_type)sqlite3_column_int(st, 3);
        e.ts_ms = sqlite3_column_int64(st, 4);
        e.title_id = (uint32_t)sqlite3_column_int64(st, 5);
        e.device = (mq_device)sqlite3_column_int(st, 6);
        e.tz_offset_min = (int16_t)sqlite3_column_int(st, 7);
        if (col_text(st, 8))
            snprintf(e.country, sizeof e.country, "%s", col_text(st, 8));
        e.page_id = col_text(st, 9);
        e.row_id = col_text(st, 10);
        e.row_pos = col_pos(st, 11);
        e.col_pos = col_pos(st, 12);
        e.artwork_id = col_text(st, 13);
        e.synopsis_id = col_text(st, 14);
        e.propensity = col_num(st, 15);
        e.position_s = col_num(st, 16);
        e.duration_s = col_num(st, 17);
        e.query = col_text(st, 18);
        e.value = col_num(st, 19);
        e.direction = (mq_scroll_dir)sqlite3_column_int(st, 20);
        e.label = col_text(st, 21);
        e.profile = name_of(s, MQ_IDMAP_PROFILE, e.profile_id);
        e.title = e.title_id ? name_of(s, MQ_IDMAP_TITLE, e.title_id) : NULL;
        if ((ret = cb(ud, &e)))
            break;
    }
    if (!ret && rc != SQLITE_DONE)
        ret = sq_fail(s, err, "scanning events");
    sqlite3_finalize(st);
    return ret;
}

/* ------------------------------------------------------ titles, profiles ---- */

static int sq_put_title(mq_store_base *b, mq_title *t, const char *doc, mq_err *err) {
    sq_store *s = (sq_store *)b;
    sqlite3_stmt *st = s->st[ST_PUT_TITLE];
    sqlite3_bind_text(st, 1, t->ext_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, t->name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, (int)t->kind);
    sqlite3_bind_int(st, 4, t->year);
    sqlite3_bind_int64(st, 5, t->added_ms);
    sqlite3_bind_text(st, 6, doc, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        t->id = (uint32_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return sq_fail(s, err, "storing a title");
    return MQ_OK;
}

static int sq_get_title_doc(mq_store_base *b, const char *ext_id, uint32_t *id, char **doc,
                            mq_err *err) {
    sq_store *s = (sq_store *)b;
    sqlite3_stmt *st = s->st[ST_GET_TITLE];
    sqlite3_bind_text(st, 1, ext_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *id = (uint32_t)sqlite3_column_int64(st, 0);
        *doc = mq_strdup(col_text(st, 1));
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return MQ_ENOTFOUND;
    if (rc != SQLITE_ROW)
        return sq_fail(s, err, "reading a title");
    return MQ_OK;
}

static int sq_put_profile(mq_store_base *b, mq_profile *p, mq_err *err) {
    sq_store *s = (sq_store *)b;
    sqlite3_stmt *st = s->st[ST_PUT_PROFILE];
    sqlite3_bind_text(st, 1, p->ext_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, p->country, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, p->maturity_limit);
    sqlite3_bind_int64(st, 4, p->created_ms);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        p->id = (uint32_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return sq_fail(s, err, "storing a profile");
    return MQ_OK;
}

static void read_profile(sqlite3_stmt *st, mq_profile *p, mq_arena *a) {
    memset(p, 0, sizeof *p);
    p->id = (uint32_t)sqlite3_column_int64(st, 0);
    p->ext_id = a ? mq_arena_strdup(a, col_text(st, 1)) : (char *)col_text(st, 1);
    snprintf(p->country, sizeof p->country, "%s", col_text(st, 2) ? col_text(st, 2) : "");
    p->maturity_limit = sqlite3_column_int(st, 3);
    p->created_ms = sqlite3_column_int64(st, 4);
}

static int sq_get_profile(mq_store_base *b, const char *ext_id, mq_profile *out, mq_arena *a,
                          mq_err *err) {
    sq_store *s = (sq_store *)b;
    sqlite3_stmt *st = s->st[ST_GET_PROFILE];
    sqlite3_bind_text(st, 1, ext_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        read_profile(st, out, a);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return MQ_ENOTFOUND;
    if (rc != SQLITE_ROW)
        return sq_fail(s, err, "reading a profile");
    return MQ_OK;
}

static int run_delete(sq_store *s, const char *sql, uint32_t id, mq_err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return sq_fail(s, err, "deleting");
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? MQ_OK : sq_fail(s, err, "deleting");
}

static int sq_delete(mq_store_base *b, int kind, uint32_t id, mq_err *err) {
    sq_store *s = (sq_store *)b;
    if (kind == MQ_IDMAP_TITLE)
        return run_delete(s, "DELETE FROM titles WHERE id = ?", id, err);
    int rc = run_delete(s, "DELETE FROM events WHERE profile_id = ?", id, err);
    return rc ? rc : run_delete(s, "DELETE FROM profiles WHERE id = ?", id, err);
}

static int query_u64(sq_store *s, const char *sql, uint64_t *out, mq_err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return sq_fail(s, err, "reading statistics");
    *out = sqlite3_step(st) == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return MQ_OK;
}

static int sq_stats(mq_store_base *b, mq_store_stats *out, mq_err *err) {
    sq_store *s = (sq_store *)b;
    memset(out, 0, sizeof *out);
    uint64_t first = 0, last = 0, seq = 0;
    int rc;
    if ((rc = query_u64(s, "SELECT count(*) FROM titles", &out->titles, err)) ||
        (rc = query_u64(s, "SELECT count(*) FROM profiles", &out->profiles, err)) ||
        (rc = query_u64(s, "SELECT min(ts_ms) FROM events", &first, err)) ||
        (rc = query_u64(s, "SELECT max(ts_ms) FROM events", &last, err)) ||
        (rc = query_u64(s, "SELECT max(seq) FROM events", &seq, err)))
        return rc;
    out->first_ts_ms = (int64_t)first;
    out->last_ts_ms = (int64_t)last;
    out->last_seq = (int64_t)seq;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT type, count(*) FROM events GROUP BY type", -1, &st,
                           NULL) != SQLITE_OK)
        return sq_fail(s, err, "reading statistics");
    while (sqlite3_step(st) == SQLITE_ROW) {
        int t = sqlite3_column_int(st, 0);
        uint64_t c = (uint64_t)sqlite3_column_int64(st, 1);
        if (t >= 0 && t < MQ_EV_COUNT)
            out->by_type[t] = c;
        out->events += c;
    }
    sqlite3_finalize(st);
    return MQ_OK;
}

static int sq_put_blob(mq_store_base *b, const char *name, const void *data, size_t len,
                       mq_err *err) {
    sq_store *s = (sq_store *)b;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO blobs(name, data, updated_ms, version) VALUES(?,?,?,1) "
                           "ON CONFLICT(name) DO UPDATE SET data = excluded.data, updated_ms = "
                           "excluded.updated_ms, version = blobs.version + 1",
                           -1, &st, NULL) != SQLITE_OK)
        return sq_fail(s, err, "storing a blob");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_blob64(st, 2, data, len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, mq_now_ms());
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? MQ_OK : sq_fail(s, err, "storing a blob");
}

static int sq_get_blob(mq_store_base *b, const char *name, int64_t *version, void **data,
                       size_t *len, mq_err *err) {
    sq_store *s = (sq_store *)b;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           data ? "SELECT version, data FROM blobs WHERE name = ?"
                                : "SELECT version FROM blobs WHERE name = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return sq_fail(s, err, "reading a blob");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *version = sqlite3_column_int64(st, 0);
        if (data) {
            *len = (size_t)sqlite3_column_bytes(st, 1);
            *data = mq_malloc(*len + 1);
            if (*len)
                memcpy(*data, sqlite3_column_blob(st, 1), *len);
            ((char *)*data)[*len] = '\0';
        }
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return mq_err_set(err, MQ_ENOTFOUND, "%s: no blob named \"%s\"", s->path, name);
    return rc == SQLITE_ROW ? MQ_OK : sq_fail(s, err, "reading a blob");
}

static int sq_schema_version(mq_store_base *b) {
    return schema_version((sq_store *)b);
}

static int sq_list_title_docs(mq_store_base *b, uint32_t after, size_t limit,
                              int (*cb)(void *, uint32_t, const char *), void *ud, mq_err *err);
static int sq_list_profiles(mq_store_base *b, uint32_t after, size_t limit, mq_profile_cb cb,
                            void *ud, mq_err *err);
static int sq_follow(mq_store_base *b, mq_event_cb cb, void *ud, mq_err *err);
static int sq_wait(mq_store_base *b, int timeout_ms, mq_store_notice *out, size_t max,
                   size_t *n, mq_err *err);

static const mq_store_ops sq_ops = {
    .name = "sqlite",
    .close = sq_close,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .schema_version = sq_schema_version,
    .find_id = sq_find_id,
    .create_profile = sq_create_profile,
    .insert_event = sq_insert_event,
    .each_event = sq_each_event,
    .put_title = sq_put_title,
    .get_title_doc = sq_get_title_doc,
    .put_profile = sq_put_profile,
    .get_profile = sq_get_profile,
    .delete_row = sq_delete,
    .stats = sq_stats,
    .put_blob = sq_put_blob,
    .get_blob = sq_get_blob,
    .list_title_docs = sq_list_title_docs,
    .list_profiles = sq_list_profiles,
    .follow = sq_follow,
    .wait = sq_wait,
};

int mq_sqlite_open(const char *dir, int flags, mq_store_base **out, mq_err *err) {
    *out = NULL;
    int rc;
    if (!(flags & MQ_STORE_READONLY) && (rc = mq_mkdirs(dir, err)))
        return rc;
    sq_store *s = mq_calloc(1, sizeof *s);
    size_t n = strlen(dir) + 16;
    s->path = mq_malloc(n);
    snprintf(s->path, n, "%s/marquee.db", dir);
    int oflags = (flags & MQ_STORE_READONLY) ? SQLITE_OPEN_READONLY
                                             : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(s->path, &s->db, oflags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        rc = mq_err_set(err, MQ_ESTORE, "%s: cannot open: %s", s->path,
                        s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 10000);
    if ((rc = exec(s, "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=OFF;", err)))
        goto fail;
    /* Bulk loads checkpoint the WAL rarely (every 256 MiB instead of 4 MiB): a
     * checkpoint per batch commit cost a third of a large import. Serving
     * checkpoints every 64 MiB: ingestion in batches of 1,000 ran 4-13% faster
     * than with SQLite's 4 MiB (scripts/bench_ingest.sh, A/B in one sitting).
     * Durability does not depend on it: every commit's WAL frames are fsynced
     * (synchronous=FULL) before the answer. */
    if ((rc = exec(s,
                   (flags & MQ_STORE_BULK)
                       ? "PRAGMA synchronous=NORMAL; PRAGMA cache_size=-262144; PRAGMA wal_autocheckpoint=65536;"
                       : "PRAGMA synchronous=FULL; PRAGMA cache_size=-65536; PRAGMA wal_autocheckpoint=16384;",
                   err)))
        goto fail;
    if (!(flags & MQ_STORE_READONLY) && (rc = migrate(s, err)))
        goto fail;
    if (schema_version(s) != (int)MQ_ARRAY_LEN(migrations)) {
        rc = mq_err_set(err, MQ_EVERSION,
                        "%s: schema version %d, expected %d: a store written by an older "
                        "marquee, which a command that writes (serve, train, import) migrates "
                        "forward",
                        s->path, schema_version(s), (int)MQ_ARRAY_LEN(migrations));
        goto fail;
    }
    for (int i = 0; i < ST_COUNT; i++)
        if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                               NULL) != SQLITE_OK) {
            rc = sq_fail(s, err, "preparing statements");
            goto fail;
        }
    mq_store_base_init(&s->base, &sq_ops);
    s->base.target = s->path;
    if ((rc = load_ids(s, err)))
        goto fail_base;
    *out = &s->base;
    return MQ_OK;
fail_base:
    mq_store_base_free(&s->base);
fail:
    sq_close(&s->base);
    mq_free(s);
    return rc;
}

/* ---------------------------------------------------------------- paging ---- */

/* Keyset paging on the integer primary key: each page is an index range scan,
 * so the last page of a million profiles costs what the first does. */
static int sq_list_title_docs(mq_store_base *b, uint32_t after, size_t limit,
                              int (*cb)(void *, uint32_t, const char *), void *ud, mq_err *err) {
    sq_store *s = (sq_store *)b;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT id, doc FROM titles WHERE id > ? ORDER BY id LIMIT ?",
                           -1, &st, NULL) != SQLITE_OK)
        return sq_fail(s, err, "listing titles");
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)MQ_MIN(limit, (size_t)INT64_MAX));
    int rc, ret = MQ_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if ((ret = cb(ud, (uint32_t)sqlite3_column_int64(st, 0), col_text(st, 1))))
            break;
    if (!ret && rc != SQLITE_DONE)
        ret = sq_fail(s, err, "listing titles");
    sqlite3_finalize(st);
    return ret;
}

static int sq_list_profiles(mq_store_base *b, uint32_t after, size_t limit, mq_profile_cb cb,
                            void *ud, mq_err *err) {
    sq_store *s = (sq_store *)b;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, ext_id, country, maturity_limit, created_ms FROM profiles "
                           "WHERE id > ? ORDER BY id LIMIT ?",
                           -1, &st, NULL) != SQLITE_OK)
        return sq_fail(s, err, "listing profiles");
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)MQ_MIN(limit, (size_t)INT64_MAX));
    int rc, ret = MQ_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        mq_profile p;
        read_profile(st, &p, NULL);
        if ((ret = cb(ud, &p)))
            break;
    }
    if (!ret && rc != SQLITE_DONE)
        ret = sq_fail(s, err, "listing profiles");
    sqlite3_finalize(st);
    return ret;
}

/* ------------------------------------------------------------- following ---- */

typedef struct {
    sq_store *s;
    mq_event_cb cb;
    void *ud;
    int64_t max_seq;
} follow_scan;

static bool own_seq(const sq_store *s, int64_t seq) {
    for (size_t i = 0; i < s->own.len; i++)
        if (seq >= s->own.items[i].lo && seq <= s->own.items[i].hi)
            return true;
    return false;
}

static int follow_cb(void *ud, const mq_event *e) {
    follow_scan *f = ud;
    f->max_seq = MQ_MAX(f->max_seq, e->seq);
    return own_seq(f->s, e->seq) ? 0 : f->cb(f->ud, e);
}

static int64_t data_version(sq_store *s) {
    sqlite3_stmt *st;
    int64_t v = -1;
    if (sqlite3_prepare_v2(s->db, "PRAGMA data_version", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    return v;
}

static int sq_follow(mq_store_base *b, mq_event_cb cb, void *ud, mq_err *err) {
    sq_store *s = (sq_store *)b;
    int64_t dv = data_version(s), own_hi = 0;
    for (size_t i = 0; i < s->own.len; i++)
        own_hi = MQ_MAX(own_hi, s->own.items[i].hi);
    int rc = MQ_OK;
    if (!s->following || dv != s->data_version || dv < 0) {
        /* Someone else committed (or this is the first look): read past follow_seq. */
        follow_scan f = {s, cb, ud, s->follow_seq};
        mq_event_filter flt = MQ_EVENT_FILTER_ALL;
        flt.after_seq = s->follow_seq;
        rc = sq_each_event(b, &flt, follow_cb, &f, err);
        if (rc)
            return rc;
        s->follow_seq = f.max_seq;
        s->data_version = dv;
        s->following = true;
    }
    s->follow_seq = MQ_MAX(s->follow_seq, own_hi);
    s->own.len = 0;
    return rc;
}

static int sq_wait(mq_store_base *b, int timeout_ms, mq_store_notice *out, size_t max,
                   size_t *n, mq_err *err) {
    /* No notifications in SQLite: the follower polls after the timeout. */
    struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
    if (timeout_ms > 0)
        nanosleep(&ts, NULL);
    *n = 0;
    return MQ_OK;
}
