/* postgres.c: the store on PostgreSQL through libpq, for deployments where
 * several `marquee serve` nodes share one database. Same contract as sqlite.c
 * (the store test suite runs on both); what differs:
 *
 * - Durability: synchronous_commit=on, so COMMIT returns once the WAL is flushed
 *   (off for MQ_STORE_BULK: a crash may lose the last commits, never corrupt).
 *   Success is reported only when the server answered COMMIT: committing an
 *   aborted transaction answers ROLLBACK, which is an error here.
 * - Ids come from sequences (serial columns); a cache miss falls back to the
 *   database, so ids another node created are found. A profile created by two
 *   nodes at once is inserted by one (ON CONFLICT DO NOTHING) and read by the
 *   other.
 * - Events are appended in batches: one INSERT ... SELECT FROM unnest(arrays)
 *   ON CONFLICT (event_id) DO NOTHING RETURNING per batch, instead of a round
 *   trip per event.
 * - Before each commit that appended events, the profile rows used are locked
 *   FOR KEY SHARE and the titles checked: a profile or title another node
 *   deleted in the meantime (this handle's cache is stale) fails the commit and
 *   is evicted from the cache, so the retry resolves the ids afresh, and a
 *   profile's deletion (which deletes the row first, then its events) cannot
 *   leave events behind.
 * - Following the log (mq_store_follow_events): each event row records its
 *   transaction id (xid). All transactions below the snapshot's xmin have ended,
 *   so the events with xid in [previous xmin, current xmin) are complete and
 *   final; reading them in (xid, seq) order visits every committed event exactly
 *   once, which a cursor on seq alone would not (seqs are taken before commit, so
 *   a lower seq can commit later). Own transactions' xids are excluded.
 * - Notifications: a commit that appended events, deleted a profile or title, or
 *   put a blob sends NOTIFY on the channel "marquee" (delivered only if it
 *   commits); mq_store_wait_notices LISTENs on it.
 * - Connection loss: a failed call whose connection broke marks the handle lost
 *   and returns MQ_ESTORE "URL: connection lost: ...; retrying". Later calls
 *   reconnect (re-preparing statements, re-subscribing), with backoff from 100 ms
 *   to 2 s so that an outage costs callers a fast error, not a hang.
 *
 * Results are read in chunks (keyset paging on the key), so scans of millions of
 * rows hold one chunk in memory and callbacks may call the store. */
#include "store.h"
#include "store_impl.h"

#include <libpq-fe.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 10000       /* rows per chunk of a scan */
#define STR_(x) #x
#define STR(x) STR_(x)
#define INSERT_BATCH 2000 /* events per INSERT statement */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define CHANNEL "marquee"
/* The advisory lock that serializes migrations between nodes starting at once. */
#define MIGRATION_LOCK "7243298113"

/* Each entry migrates from version i to i + 1 (the same versions as sqlite.c). */
static const char *const migrations[] = {
    /* 0 -> 1: the initial schema. xid is the writing transaction's id, for
     * following the log in commit order. */
    "CREATE TABLE titles(id SERIAL PRIMARY KEY, ext_id TEXT NOT NULL UNIQUE,"
    "  name TEXT NOT NULL, kind INTEGER NOT NULL, year INTEGER, added_ms BIGINT,"
    "  doc TEXT NOT NULL);"
    "CREATE TABLE profiles(id SERIAL PRIMARY KEY, ext_id TEXT NOT NULL UNIQUE,"
    "  country TEXT NOT NULL DEFAULT '', maturity_limit INTEGER NOT NULL,"
    "  created_ms BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE events(seq BIGSERIAL PRIMARY KEY, event_id TEXT NOT NULL UNIQUE,"
    "  profile_id INTEGER NOT NULL, type SMALLINT NOT NULL, ts_ms BIGINT NOT NULL,"
    "  title_id INTEGER, device SMALLINT NOT NULL DEFAULT 0,"
    "  tz_offset_min SMALLINT NOT NULL DEFAULT 0, country TEXT, page_id TEXT, row_id TEXT,"
    "  row_pos INTEGER, col_pos INTEGER, artwork_id TEXT, synopsis_id TEXT,"
    "  propensity DOUBLE PRECISION, position_s DOUBLE PRECISION, duration_s DOUBLE PRECISION,"
    "  query TEXT, value DOUBLE PRECISION, direction SMALLINT,"
    "  xid BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint));"
    "CREATE INDEX events_by_profile ON events(profile_id, seq);"
    "CREATE INDEX events_by_xid ON events(xid, seq);"
    "CREATE TABLE blobs(name TEXT PRIMARY KEY, data BYTEA NOT NULL, updated_ms BIGINT NOT NULL);",
    /* 1 -> 2: blob versions. */
    "ALTER TABLE blobs ADD COLUMN version BIGINT NOT NULL DEFAULT 1;",
    /* 2 -> 3: the evidence label shown with an impression. */
    "ALTER TABLE events ADD COLUMN label TEXT;",
};

_Static_assert(MQ_ARRAY_LEN(migrations) == MQ_STORE_SCHEMA_VERSION,
               "one migration per schema version");

#define EVENT_COLS                                                                         \
    "event_id, profile_id, type, ts_ms, title_id, device, tz_offset_min, country, page_id, " \
    "row_id, row_pos, col_pos, artwork_id, synopsis_id, propensity, position_s, "          \
    "duration_s, query, value, direction, label"
#define N_EVENT_COLS 21

enum {
    ST_INSERT_EVENTS,
    ST_INSERT_PROFILE,
    ST_FIND_PROFILE,
    ST_FIND_TITLE,
    ST_PUT_TITLE,
    ST_GET_TITLE,
    ST_PUT_PROFILE,
    ST_GET_PROFILE,
    ST_CHECK_IDS,
    ST_RESOLVE_PROFILES,
    ST_COUNT
};

static const struct {
    const char *sql;
    int n;
} stmts[ST_COUNT] = {
    /* xid is computed once per statement (an InitPlan), not per row. */
    [ST_INSERT_EVENTS] = {"INSERT INTO events(" EVENT_COLS ", xid) SELECT u.*, x.xid FROM "
                          "(SELECT pg_current_xact_id()::text::bigint AS xid) x, unnest($1::text[], "
                          "$2::int[], $3::smallint[], $4::bigint[], $5::int[], $6::smallint[], "
                          "$7::smallint[], $8::text[], $9::text[], $10::text[], $11::int[], "
                          "$12::int[], $13::text[], $14::text[], $15::float8[], $16::float8[], "
                          "$17::float8[], $18::text[], $19::float8[], $20::smallint[], $21::text[]) u "
                          "ON CONFLICT (event_id) DO NOTHING RETURNING event_id, seq, xid",
                          N_EVENT_COLS},
    [ST_INSERT_PROFILE] = {"INSERT INTO profiles(ext_id, country, maturity_limit, created_ms) "
                           "VALUES($1, '', 18, $2) ON CONFLICT (ext_id) DO NOTHING RETURNING id",
                           2},
    [ST_FIND_PROFILE] = {"SELECT id FROM profiles WHERE ext_id = $1", 1},
    [ST_FIND_TITLE] = {"SELECT id FROM titles WHERE ext_id = $1", 1},
    [ST_PUT_TITLE] = {"INSERT INTO titles(ext_id, name, kind, year, added_ms, doc) "
                      "VALUES($1,$2,$3,$4,$5,$6) ON CONFLICT (ext_id) DO UPDATE SET name = "
                      "excluded.name, kind = excluded.kind, year = excluded.year, added_ms = "
                      "excluded.added_ms, doc = excluded.doc RETURNING id",
                      6},
    [ST_GET_TITLE] = {"SELECT id, doc FROM titles WHERE ext_id = $1", 1},
    [ST_PUT_PROFILE] = {"INSERT INTO profiles(ext_id, country, maturity_limit, created_ms) "
                        "VALUES($1,$2,$3,$4) ON CONFLICT (ext_id) DO UPDATE SET country = "
                        "excluded.country, maturity_limit = excluded.maturity_limit, "
                        "created_ms = excluded.created_ms RETURNING id",
                        4},
    [ST_GET_PROFILE] = {"SELECT id, ext_id, country, maturity_limit, created_ms FROM profiles "
                        "WHERE ext_id = $1",
                        1},
    /* The ids of the profiles and titles given that still exist; the profiles
     * are locked until commit so that a concurrent deletion waits for it. */
    [ST_CHECK_IDS] = {"WITH p AS (SELECT id FROM profiles WHERE id = ANY($1::int[]) FOR KEY "
                      "SHARE), t AS (SELECT id FROM titles WHERE id = ANY($2::int[])) "
                      "SELECT 'p', id FROM p UNION ALL SELECT 't', id FROM t",
                      2},
    [ST_RESOLVE_PROFILES] = {"WITH input AS (SELECT * FROM unnest($1::text[], $2::bigint[]) AS "
                             "t(ext_id, created_ms)), ins AS (INSERT INTO profiles(ext_id, "
                             "country, maturity_limit, created_ms) SELECT ext_id, '', 18, "
                             "created_ms FROM input ON CONFLICT (ext_id) DO NOTHING RETURNING "
                             "id, ext_id) SELECT id, ext_id FROM ins UNION ALL SELECT p.id, "
                             "p.ext_id FROM profiles p JOIN input USING (ext_id)",
                             2},
};

typedef MQ_VEC(uint32_t) u32_vec;
typedef MQ_VEC(int64_t) i64_vec;

typedef struct {
    mq_store_base base;
    PGconn *conn;
    char *url;  /* as given, with any password: only for connecting */
    char *name; /* the URL without its password, for messages */
    int flags;
    /* Connection state */
    bool lost, in_tx, listening, prepared, connecting;
    int backoff_ms;
    int64_t retry_at_ms;
    char lost_msg[384];
    bool resync; /* reconnected while listening: notices may have been missed */
    /* The open transaction */
    int64_t tx_xid; /* 0 until it appended an event */
    u32_vec tx_profiles, tx_titles;
    /* Following */
    bool following;
    int64_t frontier;  /* every xid below it has been visited */
    i64_vec own_xids;  /* xids of this handle's committed transactions >= frontier */
    mq_buf arrays[N_EVENT_COLS]; /* scratch for batch inserts */
} pg_store;

/* -------------------------------------------------------------- messages ---- */

/* The URL with the password (postgres://user:PASSWORD@host) replaced by "***". */
static char *redact(const char *url) {
    const char *scheme = strstr(url, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *slash = scheme ? strchr(scheme + 3, '/') : NULL;
    if (at && (!slash || at < slash)) {
        const char *colon = memchr(scheme + 3, ':', (size_t)(at - scheme - 3));
        if (colon) {
            size_t n = strlen(url) + 8;
            char *r = mq_malloc(n);
            snprintf(r, n, "%.*s:***%s", (int)(colon - url), url, at);
            return r;
        }
    }
    /* password=... in the query string */
    const char *pw = strstr(url, "password=");
    if (pw) {
        const char *end = strchr(pw, '&');
        size_t n = strlen(url) + 8;
        char *r = mq_malloc(n);
        snprintf(r, n, "%.*spassword=***%s", (int)(pw - url), url, end ? end : "");
        return r;
    }
    return mq_strdup(url);
}

/* libpq's message, on one line, without the trailing newline. */
static void one_line(const char *in, char *out, size_t n) {
    size_t k = 0;
    for (const char *p = in ? in : ""; *p && k + 1 < n; p++)
        out[k++] = (*p == '\n' || *p == '\r' || *p == '\t') ? ' ' : *p;
    while (k && out[k - 1] == ' ')
        k--;
    out[k] = '\0';
}

static bool connection_error(pg_store *s, const PGresult *r) {
    if (!s->conn || PQstatus(s->conn) != CONNECTION_OK)
        return true;
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    /* 08: connection exception; 57P01-03: the server is shutting down. */
    return state && (strncmp(state, "08", 2) == 0 || strncmp(state, "57P0", 4) == 0);
}

/* Fails a call: marks the connection lost when it is, and says so. */
static int pg_fail(pg_store *s, const PGresult *r, const char *what, mq_err *err) {
    char msg[384];
    one_line(r && PQresultErrorMessage(r)[0] ? PQresultErrorMessage(r)
                                             : s->conn ? PQerrorMessage(s->conn) : "no connection",
             msg, sizeof msg);
    if (connection_error(s, r)) {
        if (!s->lost)
            mq_log(MQ_LOG_WARN, "%s: connection lost: %s", s->name, msg);
        s->lost = true;
        s->retry_at_ms = 0; /* the next call tries at once, then backs off */
        snprintf(s->lost_msg, sizeof s->lost_msg, "%s", msg);
        return mq_err_set(err, MQ_ESTORE, "%s: connection lost while %s: %s; retrying", s->name,
                          what, msg);
    }
    return mq_err_set(err, MQ_ESTORE, "%s: %s: %s", s->name, what, msg);
}

/* ------------------------------------------------------------ connection ---- */

static int connect_session(pg_store *s, mq_err *err);

/* Runs a statement (prepared when `name` is set, else `sql`). A connection that
 * broke while idle (the server restarted since the last call) is found out only
 * by using it: outside a transaction, that first failure reconnects and runs the
 * statement once more, so the first call after an outage does not fail for
 * nothing. Every statement run outside a transaction is a read, BEGIN, or an
 * idempotent upsert (a blob), so running it again is harmless. */
static PGresult *execute(pg_store *s, const char *name, const char *sql, int n,
                         const char *const *params, const int *lens, const int *fmts,
                         int result_format) {
    for (int attempt = 0;; attempt++) {
        PGresult *r = name ? PQexecPrepared(s->conn, name, n, params, lens, fmts, result_format)
                           : n || result_format
                               ? PQexecParams(s->conn, sql, n, NULL, params, lens, fmts,
                                              result_format)
                               : PQexec(s->conn, sql);
        ExecStatusType st = PQresultStatus(r);
        bool failed = st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || !r;
        if (!failed || attempt > 0 || s->in_tx || s->connecting || !connection_error(s, r))
            return r;
        s->connecting = true;
        int rc = connect_session(s, NULL);
        s->connecting = false;
        if (rc)
            return r; /* still down: the caller reports the first failure */
        mq_log(MQ_LOG_INFO, "%s: reconnected", s->name);
        s->resync = s->listening;
        PQclear(r);
    }
}

static PGresult *exec_sql(pg_store *s, const char *sql, ExecStatusType want, const char *what,
                          mq_err *err) {
    PGresult *r = execute(s, NULL, sql, 0, NULL, NULL, NULL, 0);
    if (PQresultStatus(r) != want) {
        pg_fail(s, r, what, err);
        PQclear(r);
        return NULL;
    }
    return r;
}

static int exec_cmd(pg_store *s, const char *sql, const char *what, mq_err *err) {
    PGresult *r = exec_sql(s, sql, PGRES_COMMAND_OK, what, err);
    if (!r)
        return MQ_ESTORE;
    PQclear(r);
    return MQ_OK;
}

static void ignore_notice(void *arg, const char *message) {
    (void)arg;
    (void)message;
}

static int prepare(pg_store *s, mq_err *err);
static int connect_once(pg_store *s, mq_err *err);

/* Connects and prepares the session: settings, statements, LISTEN. */
static int connect_session(pg_store *s, mq_err *err) {
    bool was = s->connecting;
    s->connecting = true; /* no retries inside */
    int rc = connect_once(s, err);
    s->connecting = was;
    return rc;
}

static int connect_once(pg_store *s, mq_err *err) {
    if (s->conn)
        PQfinish(s->conn);
    /* Defaults first: the URL's own parameters override them. */
    const char *keys[] = {"connect_timeout", "application_name", "keepalives",
                          "keepalives_idle", "keepalives_interval", "keepalives_count",
                          "dbname", NULL};
    const char *vals[] = {"5", "marquee", "1", "10", "5", "3", s->url, NULL};
    s->conn = PQconnectdbParams(keys, vals, 1);
    if (!s->conn)
        return mq_err_set(err, MQ_ENOMEM, "%s: cannot allocate a connection", s->name);
    if (PQstatus(s->conn) != CONNECTION_OK) {
        char msg[384];
        one_line(PQerrorMessage(s->conn), msg, sizeof msg);
        snprintf(s->lost_msg, sizeof s->lost_msg, "%s", msg);
        return mq_err_set(err, MQ_ESTORE, "%s: cannot connect: %s", s->name, msg);
    }
    PQsetNoticeProcessor(s->conn, ignore_notice, NULL);
    char set[256];
    snprintf(set, sizeof set,
             "SET synchronous_commit = %s; SET default_transaction_read_only = %s; "
             "SET client_min_messages = warning",
             (s->flags & MQ_STORE_BULK) ? "off" : "on",
             (s->flags & MQ_STORE_READONLY) ? "on" : "off");
    int rc;
    if ((rc = exec_cmd(s, set, "configuring the session", err)))
        return rc;
    if (!s->prepared)
        return MQ_OK; /* opening: the schema may not exist yet (mq_postgres_open) */
    return prepare(s, err);
}

/* Prepares the statements and subscribes again after a reconnect. */
static int prepare(pg_store *s, mq_err *err) {
    int rc;
    for (int i = 0; i < ST_COUNT; i++) {
        char name[8];
        snprintf(name, sizeof name, "s%d", i);
        PGresult *r = PQprepare(s->conn, name, stmts[i].sql, stmts[i].n, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            rc = pg_fail(s, r, "preparing statements", err);
            PQclear(r);
            return rc;
        }
        PQclear(r);
    }
    if (s->listening && (rc = exec_cmd(s, "LISTEN " CHANNEL, "subscribing to notices", err)))
        return rc;
    s->prepared = true;
    return MQ_OK;
}

/* Called first by every operation: reconnects a lost connection, with backoff. */
static int ensure(pg_store *s, mq_err *err) {
    if (!s->lost)
        return MQ_OK;
    if (s->in_tx)
        return mq_err_set(err, MQ_ESTORE,
                          "%s: connection lost during a transaction, which did not commit: %s",
                          s->name, s->lost_msg);
    int64_t now = mq_now_ms();
    if (now < s->retry_at_ms)
        return mq_err_set(err, MQ_ESTORE, "%s: connection lost: %s; retrying in %lld ms",
                          s->name, s->lost_msg, (long long)(s->retry_at_ms - now));
    int rc = connect_session(s, err);
    if (rc) {
        s->backoff_ms = MQ_MIN(MQ_MAX(s->backoff_ms * 2, BACKOFF_MIN_MS), BACKOFF_MAX_MS);
        s->retry_at_ms = mq_now_ms() + s->backoff_ms;
        return mq_err_set(err, MQ_ESTORE, "%s: connection lost: %s; retrying in %d ms", s->name,
                          s->lost_msg, s->backoff_ms);
    }
    mq_log(MQ_LOG_INFO, "%s: reconnected", s->name);
    s->lost = false;
    s->backoff_ms = 0;
    s->resync = s->listening;
    return MQ_OK;
}

/* Runs prepared statement i with text parameters. */
static PGresult *run(pg_store *s, int i, const char *const *params, ExecStatusType want,
                     const char *what, mq_err *err) {
    char name[8];
    snprintf(name, sizeof name, "s%d", i);
    PGresult *r = execute(s, name, NULL, stmts[i].n, params, NULL, NULL, 0);
    if (PQresultStatus(r) != want) {
        pg_fail(s, r, what, err);
        PQclear(r);
        return NULL;
    }
    return r;
}

static PGresult *query(pg_store *s, const char *sql, int n, const char *const *params,
                       const char *what, mq_err *err) {
    PGresult *r = execute(s, NULL, sql, n, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        pg_fail(s, r, what, err);
        PQclear(r);
        return NULL;
    }
    return r;
}

static int64_t get_i64(const PGresult *r, int row, int col) {
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static const char *get_text(const PGresult *r, int row, int col) {
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static double get_num(const PGresult *r, int row, int col) {
    return PQgetisnull(r, row, col) ? NAN : strtod(PQgetvalue(r, row, col), NULL);
}

/* ------------------------------------------------------------------ schema ---- */

/* 0 for a database without the meta table (nothing of marquee's yet). */
static int schema_version(pg_store *s, int *v, mq_err *err) {
    *v = 0;
    PGresult *r = exec_sql(s, "SELECT to_regclass('meta') IS NULL", PGRES_TUPLES_OK,
                           "reading the schema version", err);
    if (!r)
        return MQ_ESTORE;
    bool absent = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (absent)
        return MQ_OK;
    r = exec_sql(s, "SELECT value FROM meta WHERE key = 'schema_version'", PGRES_TUPLES_OK,
                 "reading the schema version", err);
    if (!r)
        return MQ_ESTORE;
    if (PQntuples(r) > 0)
        *v = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return MQ_OK;
}

static int migrate(pg_store *s, mq_err *err) {
    int latest = (int)MQ_ARRAY_LEN(migrations), v, rc;
    /* One node migrates at a time; the others wait, then find nothing to do. */
    if ((rc = exec_cmd(s,
                       "BEGIN; SELECT pg_advisory_xact_lock(" MIGRATION_LOCK ");"
                       "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
                       "creating the schema", err)))
        goto fail;
    if ((rc = schema_version(s, &v, err)))
        goto fail;
    if (v > latest) {
        rc = mq_err_set(err, MQ_EVERSION,
                        "%s: the store has schema version %d, written by a newer marquee; this "
                        "build reads versions up to %d. Upgrade marquee or use another database",
                        s->name, v, latest);
        goto fail;
    }
    for (; v < latest; v++) {
        char set[160];
        snprintf(set, sizeof set,
                 "INSERT INTO meta(key, value) VALUES('schema_version', '%d') ON CONFLICT (key) "
                 "DO UPDATE SET value = excluded.value",
                 v + 1);
        if ((rc = exec_cmd(s, migrations[v], "migrating", err)) ||
            (rc = exec_cmd(s, set, "migrating", err))) {
            mq_err_prefix(err, "migrating the store to schema version %d", v + 1);
            goto fail;
        }
    }
    PGresult *r = exec_sql(s, "COMMIT", PGRES_COMMAND_OK, "committing the schema", err);
    if (!r)
        return MQ_ESTORE;
    bool ok = strcmp(PQcmdStatus(r), "COMMIT") == 0;
    PQclear(r);
    return ok ? MQ_OK : mq_err_set(err, MQ_ESTORE, "%s: the schema did not commit", s->name);
fail:
    if (s->conn && PQstatus(s->conn) == CONNECTION_OK)
        PQclear(PQexec(s->conn, "ROLLBACK"));
    return rc;
}

static int load_ids(pg_store *s, mq_err *err) {
    static const char *const sql[2] = {
        "SELECT id, ext_id FROM titles WHERE id > $1 ORDER BY id LIMIT 100000",
        "SELECT id, ext_id FROM profiles WHERE id > $1 ORDER BY id LIMIT 100000"};
    for (int k = 0; k < 2; k++) {
        int64_t after = 0;
        for (;;) {
            char a[24];
            snprintf(a, sizeof a, "%lld", (long long)after);
            const char *p[1] = {a};
            PGresult *r = query(s, sql[k], 1, p, "loading ids", err);
            if (!r)
                return MQ_ESTORE;
            int n = PQntuples(r);
            for (int i = 0; i < n; i++) {
                after = get_i64(r, i, 0);
                mq_idmap_put(k == 0 ? &s->base.titles : &s->base.profiles, PQgetvalue(r, i, 1),
                             (uint32_t)after, false);
            }
            PQclear(r);
            if (n < 100000)
                break;
        }
    }
    return MQ_OK;
}

/* ------------------------------------------------------------ transactions ---- */

static void tx_reset(pg_store *s) {
    s->in_tx = false;
    s->tx_xid = 0;
    s->tx_profiles.len = s->tx_titles.len = 0;
}

static int pg_begin(mq_store_base *b, mq_err *err) {
    pg_store *s = (pg_store *)b;
    int rc = ensure(s, err);
    if (rc)
        return rc;
    tx_reset(s);
    if ((rc = exec_cmd(s, "BEGIN", "beginning a transaction", err)))
        return rc;
    s->in_tx = true;
    return MQ_OK;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void uniq(u32_vec *v) {
    if (!v->len)
        return;
    qsort(v->items, v->len, sizeof *v->items, cmp_u32);
    size_t k = 1;
    for (size_t i = 1; i < v->len; i++)
        if (v->items[i] != v->items[k - 1])
            v->items[k++] = v->items[i];
    v->len = k;
}

static void int_array(mq_buf *b, const u32_vec *v) {
    mq_buf_reset(b);
    mq_buf_puts(b, "{");
    for (size_t i = 0; i < v->len; i++)
        mq_buf_printf(b, "%s%u", i ? "," : "", v->items[i]);
    mq_buf_puts(b, "}");
}

static bool in_sorted(const u32_vec *v, uint32_t id) {
    return v->len && bsearch(&id, v->items, v->len, sizeof id, cmp_u32) != NULL;
}

/* Checks that the profiles and titles this transaction's events name still
 * exist (see the file comment). A missing one is evicted from the cache. */
static int check_ids(pg_store *s, mq_err *err) {
    uniq(&s->tx_profiles);
    uniq(&s->tx_titles);
    mq_buf pa, ta;
    mq_buf_init(&pa, 0);
    mq_buf_init(&ta, 0);
    int_array(&pa, &s->tx_profiles);
    int_array(&ta, &s->tx_titles);
    const char *p[2] = {pa.data, ta.data};
    PGresult *r = run(s, ST_CHECK_IDS, p, PGRES_TUPLES_OK, "checking profiles and titles", err);
    mq_buf_free(&pa);
    mq_buf_free(&ta);
    if (!r)
        return MQ_ESTORE;
    int n = PQntuples(r), rc = MQ_OK;
    if ((size_t)n != s->tx_profiles.len + s->tx_titles.len) {
        u32_vec found[2] = {{0}, {0}};
        for (int i = 0; i < n; i++)
            MQ_VEC_PUSH(&found[PQgetvalue(r, i, 0)[0] == 't'], (uint32_t)get_i64(r, i, 1));
        const char *gone_kind = NULL;
        char gone_ext[MQ_ID_MAX_LEN + 1] = "?";
        for (int k = 0; k < 2; k++) {
            u32_vec *want = k ? &s->tx_titles : &s->tx_profiles;
            mq_idmap *m = k ? &s->base.titles : &s->base.profiles;
            uniq(&found[k]);
            for (size_t i = 0; i < want->len; i++)
                if (!in_sorted(&found[k], want->items[i])) {
                    if (!gone_kind) {
                        const char *ext = mq_idmap_ext(m, want->items[i]);
                        gone_kind = k ? "title" : "profile";
                        snprintf(gone_ext, sizeof gone_ext, "%s", ext ? ext : "?");
                    }
                    mq_idmap_forget_id(m, want->items[i]);
                }
            mq_free(found[k].items);
        }
        rc = mq_err_set(err, MQ_ESTORE,
                        "%s: %s \"%s\" was deleted by another writer while this write ran; "
                        "nothing was stored, retry",
                        s->name, gone_kind ? gone_kind : "an id", gone_ext);
    }
    PQclear(r);
    return rc;
}

static int pg_commit(mq_store_base *b, mq_err *err) {
    pg_store *s = (pg_store *)b;
    if (s->lost)
        return ensure(s, err); /* fails: the transaction is gone */
    int rc;
    if (s->tx_xid && (rc = check_ids(s, err)))
        return rc; /* store.c rolls back */
    /* The notice and the commit in one round trip: if the NOTIFY fails, the
     * COMMIT is not run and the answer is the error. */
    PGresult *r = exec_sql(s, s->tx_xid ? "NOTIFY " CHANNEL ", 'e'; COMMIT" : "COMMIT",
                           PGRES_COMMAND_OK, "committing", err);
    if (!r) {
        s->in_tx = false; /* the server ended it whatever the outcome */
        return MQ_ESTORE;
    }
    /* An aborted transaction answers ROLLBACK to COMMIT: that is a failure. */
    bool ok = strcmp(PQcmdStatus(r), "COMMIT") == 0;
    PQclear(r);
    if (!ok) {
        tx_reset(s);
        return mq_err_set(err, MQ_ESTORE, "%s: the transaction was rolled back by the server",
                          s->name);
    }
    if (s->tx_xid && (!s->following || s->tx_xid >= s->frontier))
        MQ_VEC_PUSH(&s->own_xids, s->tx_xid);
    tx_reset(s);
    return MQ_OK;
}

static void pg_rollback(mq_store_base *b) {
    pg_store *s = (pg_store *)b;
    if (!s->lost && s->conn && PQstatus(s->conn) == CONNECTION_OK) {
        PGresult *r = PQexec(s->conn, "ROLLBACK");
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            pg_fail(s, r, "rolling back", NULL);
        PQclear(r);
    }
    tx_reset(s);
}

/* ------------------------------------------------------------------- ids ---- */

static int pg_find_id(mq_store_base *b, int kind, const char *ext_id, uint32_t *id,
                      mq_err *err) {
    pg_store *s = (pg_store *)b;
    *id = 0;
    int rc = ensure(s, err);
    if (rc)
        return rc;
    const char *p[1] = {ext_id};
    PGresult *r = run(s, kind == MQ_IDMAP_TITLE ? ST_FIND_TITLE : ST_FIND_PROFILE, p,
                      PGRES_TUPLES_OK, "looking up an id", err);
    if (!r)
        return MQ_ESTORE;
    if (PQntuples(r))
        *id = (uint32_t)get_i64(r, 0, 0);
    PQclear(r);
    return MQ_OK;
}

static int pg_create_profile(mq_store_base *b, const char *ext_id, int64_t created_ms,
                             uint32_t *id, mq_err *err) {
    pg_store *s = (pg_store *)b;
    int rc = ensure(s, err);
    if (rc)
        return rc;
    char ms[24];
    snprintf(ms, sizeof ms, "%lld", (long long)created_ms);
    const char *p[2] = {ext_id, ms};
    PGresult *r = run(s, ST_INSERT_PROFILE, p, PGRES_TUPLES_OK, "creating a profile", err);
    if (!r)
        return MQ_ESTORE;
    *id = PQntuples(r) ? (uint32_t)get_i64(r, 0, 0) : 0;
    PQclear(r);
    /* Another node created it first: read its id. */
    if (!*id && (rc = pg_find_id(b, MQ_IDMAP_PROFILE, ext_id, id, err)))
        return rc;
    if (!*id)
        return mq_err_set(err, MQ_ESTORE, "%s: profile \"%s\" could not be created", s->name,
                          ext_id);
    return MQ_OK;
}

static void arr_text(mq_buf *b, const char *v);
static void arr_int(mq_buf *b, long long v, bool null);

/* Finds or creates n profiles in one statement. A profile another node created
 * after this statement's snapshot conflicts (so is not inserted) and is not in
 * the snapshot either: those few are read again afterwards. */
static int pg_resolve_profiles(mq_store_base *b, const char *const *ext, const int64_t *created,
                               size_t n, uint32_t *ids, mq_err *err) {
    pg_store *s = (pg_store *)b;
    int rc = ensure(s, err);
    if (rc)
        return rc;
    mq_buf ea, ca;
    mq_buf_init(&ea, 0);
    mq_buf_init(&ca, 0);
    mq_buf_puts(&ea, "{");
    mq_buf_puts(&ca, "{");
    mq_strmap *index = mq_strmap_create();
    for (size_t i = 0; i < n; i++) {
        arr_text(&ea, ext[i]);
        arr_int(&ca, created[i], false);
        mq_strmap_put(index, ext[i], (uint32_t)i);
        ids[i] = 0;
    }
    mq_buf_puts(&ea, "}");
    mq_buf_puts(&ca, "}");
    const char *p[2] = {ea.data, ca.data};
    PGresult *r = run(s, ST_RESOLVE_PROFILES, p, PGRES_TUPLES_OK, "creating profiles", err);
    mq_buf_free(&ea);
    mq_buf_free(&ca);
    if (!r) {
        mq_strmap_destroy(index);
        return MQ_ESTORE;
    }
    for (int i = 0, rows = PQntuples(r); i < rows; i++) {
        uint32_t k;
        if (mq_strmap_get(index, PQgetvalue(r, i, 1), &k))
            ids[k] = (uint32_t)get_i64(r, i, 0);
    }
    PQclear(r);
    mq_strmap_destroy(index);
    for (size_t i = 0; i < n && !rc; i++)
        if (!ids[i] && !(rc = pg_find_id(b, MQ_IDMAP_PROFILE, ext[i], &ids[i], err)) && !ids[i])
            rc = mq_err_set(err, MQ_ESTORE, "%s: profile \"%s\" could not be created", s->name,
                            ext[i]);
    return rc;
}

/* ---------------------------------------------------------------- events ---- */

/* Elements of PostgreSQL array literals: {"text",NULL,3}. */
static void arr_sep(mq_buf *b) {
    mq_buf_puts(b, b->len > 1 ? "," : "");
}

static void arr_text(mq_buf *b, const char *v) {
    arr_sep(b);
    if (!v) {
        mq_buf_puts(b, "NULL");
        return;
    }
    mq_buf_puts(b, "\"");
    const char *run_start = v;
    for (const char *p = v; *p; p++)
        if (*p == '"' || *p == '\\') {
            mq_buf_append(b, run_start, (size_t)(p - run_start));
            mq_buf_append(b, "\\", 1);
            run_start = p;
        }
    mq_buf_puts(b, run_start);
    mq_buf_puts(b, "\"");
}

static void arr_int(mq_buf *b, long long v, bool null) {
    arr_sep(b);
    if (null)
        mq_buf_puts(b, "NULL");
    else
        mq_buf_printf(b, "%lld", v);
}

static void arr_num(mq_buf *b, double v) {
    arr_sep(b);
    if (!isfinite(v))
        mq_buf_puts(b, "NULL");
    else
        mq_buf_printf(b, "%.17g", v);
}

static void push_id(u32_vec *v, uint32_t id) {
    if (!v->len || v->items[v->len - 1] != id)
        MQ_VEC_PUSH(v, id);
}

static int insert_chunk(pg_store *s, mq_event *const *evs, size_t n, bool *dup, mq_err *err) {
    mq_buf *a = s->arrays;
    for (int c = 0; c < N_EVENT_COLS; c++) {
        mq_buf_reset(&a[c]);
        mq_buf_puts(&a[c], "{");
    }
    mq_strmap *first = mq_strmap_create(); /* event_id -> index of its first occurrence */
    for (size_t i = 0; i < n; i++) {
        const mq_event *e = evs[i];
        dup[i] = true;
        uint32_t prev;
        if (!mq_strmap_get(first, e->event_id, &prev))
            mq_strmap_put(first, e->event_id, (uint32_t)i);
        arr_text(&a[0], e->event_id);
        arr_int(&a[1], e->profile_id, false);
        arr_int(&a[2], e->type, false);
        arr_int(&a[3], e->ts_ms, false);
        arr_int(&a[4], e->title_id, !e->title_id);
        arr_int(&a[5], e->device, false);
        arr_int(&a[6], e->tz_offset_min, false);
        arr_text(&a[7], e->country[0] ? e->country : NULL);
        arr_text(&a[8], e->page_id);
        arr_text(&a[9], e->row_id);
        arr_int(&a[10], e->row_pos, e->row_pos < 0);
        arr_int(&a[11], e->col_pos, e->col_pos < 0);
        arr_text(&a[12], e->artwork_id);
        arr_text(&a[13], e->synopsis_id);
        arr_num(&a[14], e->propensity);
        arr_num(&a[15], e->position_s);
        arr_num(&a[16], e->duration_s);
        arr_text(&a[17], e->query);
        arr_num(&a[18], e->value);
        arr_int(&a[19], e->direction, !e->direction);
        arr_text(&a[20], e->label);
        push_id(&s->tx_profiles, e->profile_id);
        if (e->title_id)
            push_id(&s->tx_titles, e->title_id);
    }
    const char *p[N_EVENT_COLS];
    for (int c = 0; c < N_EVENT_COLS; c++) {
        mq_buf_puts(&a[c], "}");
        p[c] = a[c].data;
    }
    PGresult *r = run(s, ST_INSERT_EVENTS, p, PGRES_TUPLES_OK, "appending events", err);
    if (!r) {
        mq_strmap_destroy(first);
        return MQ_ESTORE;
    }
    for (int i = 0, rows = PQntuples(r); i < rows; i++) {
        uint32_t k;
        if (!mq_strmap_get(first, PQgetvalue(r, i, 0), &k))
            continue;
        dup[k] = false;
        evs[k]->seq = get_i64(r, i, 1);
        s->tx_xid = get_i64(r, i, 2);
    }
    PQclear(r);
    mq_strmap_destroy(first);
    return MQ_OK;
}

static int pg_insert_events(mq_store_base *b, mq_event *const *evs, size_t n, bool *dup,
                            mq_err *err) {
    pg_store *s = (pg_store *)b;
    int rc = ensure(s, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        evs[i]->seq = 0;
    for (size_t off = 0; off < n; off += INSERT_BATCH)
        if ((rc = insert_chunk(s, evs + off, MQ_MIN(n - off, (size_t)INSERT_BATCH), dup + off,
                               err)))
            return rc;
    return MQ_OK;
}

static int pg_insert_event(mq_store_base *b, mq_event *e, bool *dup, mq_err *err) {
    return pg_insert_events(b, &e, 1, dup, err);
}

/* Fills the id caches with the ids of a chunk of events that they miss (rows
 * other processes created after this handle loaded its ids). */
static int fill_ids(pg_store *s, const PGresult *r, int pcol, int tcol, mq_err *err) {
    u32_vec miss[2] = {{0}, {0}};
    for (int i = 0, n = PQntuples(r); i < n; i++) {
        uint32_t p = (uint32_t)get_i64(r, i, pcol), t = (uint32_t)get_i64(r, i, tcol);
        if (p && !mq_idmap_ext(&s->base.profiles, p))
            MQ_VEC_PUSH(&miss[0], p);
        if (t && !mq_idmap_ext(&s->base.titles, t))
            MQ_VEC_PUSH(&miss[1], t);
    }
    int rc = MQ_OK;
    mq_buf arr;
    mq_buf_init(&arr, 0);
    for (int k = 0; k < 2 && !rc; k++) {
        if (!miss[k].len)
            continue;
        uniq(&miss[k]);
        int_array(&arr, &miss[k]);
        const char *p[1] = {arr.data};
        PGresult *q = query(s,
                            k ? "SELECT id, ext_id FROM titles WHERE id = ANY($1::int[])"
                              : "SELECT id, ext_id FROM profiles WHERE id = ANY($1::int[])",
                            1, p, "looking up ids", err);
        if (!q) {
            rc = MQ_ESTORE;
            break;
        }
        for (int i = 0, n = PQntuples(q); i < n; i++)
            mq_idmap_put(k ? &s->base.titles : &s->base.profiles, PQgetvalue(q, i, 1),
                         (uint32_t)get_i64(q, i, 0), false);
        PQclear(q);
    }
    mq_buf_free(&arr);
    mq_free(miss[0].items);
    mq_free(miss[1].items);
    return rc;
}

/* The columns of an event scan: seq, EVENT_COLS, xid. */
#define SCAN_COLS "seq, " EVENT_COLS ", xid"

static void read_event(pg_store *s, const PGresult *r, int i, mq_event *e) {
    mq_event_init(e);
    e->seq = get_i64(r, i, 0);
    e->event_id = get_text(r, i, 1);
    e->profile_id = (uint32_t)get_i64(r, i, 2);
    e->type = (mq_event_type)get_i64(r, i, 3);
    e->ts_ms = get_i64(r, i, 4);
    e->title_id = (uint32_t)get_i64(r, i, 5);
    e->device = (mq_device)get_i64(r, i, 6);
    e->tz_offset_min = (int16_t)get_i64(r, i, 7);
    if (get_text(r, i, 8))
        snprintf(e->country, sizeof e->country, "%s", get_text(r, i, 8));
    e->page_id = get_text(r, i, 9);
    e->row_id = get_text(r, i, 10);
    e->row_pos = PQgetisnull(r, i, 11) ? -1 : (int32_t)get_i64(r, i, 11);
    e->col_pos = PQgetisnull(r, i, 12) ? -1 : (int32_t)get_i64(r, i, 12);
    e->artwork_id = get_text(r, i, 13);
    e->synopsis_id = get_text(r, i, 14);
    e->propensity = get_num(r, i, 15);
    e->position_s = get_num(r, i, 16);
    e->duration_s = get_num(r, i, 17);
    e->query = get_text(r, i, 18);
    e->value = get_num(r, i, 19);
    e->direction = (mq_scroll_dir)get_i64(r, i, 20);
    e->label = get_text(r, i, 21);
    e->profile = mq_idmap_ext(&s->base.profiles, e->profile_id);
    e->title = e->title_id ? mq_idmap_ext(&s->base.titles, e->title_id) : NULL;
}

/* Visits a chunk's events, with external ids. */
static int visit_chunk(pg_store *s, PGresult *r, mq_event_cb cb, void *ud, mq_err *err) {
    int rc = fill_ids(s, r, 2, 5, err);
    for (int i = 0, n = PQntuples(r); i < n && !rc; i++) {
        mq_event e;
        read_event(s, r, i, &e);
        rc = cb(ud, &e);
    }
    return rc;
}

static int pg_each_event(mq_store_base *b, const mq_event_filter *f, mq_event_cb cb, void *ud,
                         mq_err *err) {
    pg_store *s = (pg_store *)b;
    int rc = ensure(s, err);
    if (rc)
        return rc;
    char sql[768];
    int n = snprintf(sql, sizeof sql, "SELECT " SCAN_COLS " FROM events WHERE seq > $1");
    char v[5][24];
    const char *p[5];
    int np = 1;
    if (f->profile_id) {
        snprintf(v[np], sizeof v[np], "%u", f->profile_id);
        p[np] = v[np];
        n += snprintf(sql + n, sizeof sql - (size_t)n, " AND profile_id = $%d", ++np);
    }
    if (f->from_ms) {
        snprintf(v[np], sizeof v[np], "%lld", (long long)f->from_ms);
        p[np] = v[np];
        n += snprintf(sql + n, sizeof sql - (size_t)n, " AND ts_ms >= $%d", ++np);
    }
    if (f->to_ms) {
        snprintf(v[np], sizeof v[np], "%lld", (long long)f->to_ms);
        p[np] = v[np];
        n += snprintf(sql + n, sizeof sql - (size_t)n, " AND ts_ms < $%d", ++np);
    }
    if (f->type >= 0) {
        snprintf(v[np], sizeof v[np], "%d", f->type);
        p[np] = v[np];
        n += snprintf(sql + n, sizeof sql - (size_t)n, " AND type = $%d", ++np);
    }
    snprintf(sql + n, sizeof sql - (size_t)n, " ORDER BY seq LIMIT %d", CHUNK);
    int64_t after = f->after_seq;
    for (;;) {
        snprintf(v[0], sizeof v[0], "%lld", (long long)after);
        p[0] = v[0];
        PGresult *r = query(s, sql, np, p, "scanning events", err);
        if (!r)
            return MQ_ESTORE;
        int rows = PQntuples(r);
        if (rows)
            after = get_i64(r, rows - 1, 0);
        rc = visit_chunk(s, r, cb, ud, err);
        PQclear(r);
        if (rc || rows < CHUNK)
            return rc;
    }
}

/* --------------------------------------------------------------- following ---- */

/* Visits the events of xids in [lo, hi) but this handle's own, in (xid, seq)
 * order (or seq order for the first read, which starts from nothing). */
static int follow_range(pg_store *s, int64_t lo, int64_t hi, mq_event_cb cb, void *ud,
                        mq_err *err) {
    mq_buf own;
    mq_buf_init(&own, 0);
    mq_buf_puts(&own, "{");
    for (size_t i = 0; i < s->own_xids.len; i++)
        mq_buf_printf(&own, "%s%lld", i ? "," : "", (long long)s->own_xids.items[i]);
    mq_buf_puts(&own, "}");
    /* The first read takes everything below the frontier by seq (the primary
     * key); later ones a range of xids by (xid, seq), on events_by_xid. */
    bool first = lo == 0;
    const char *sql =
        first ? "SELECT " SCAN_COLS " FROM events WHERE xid < $1 AND seq > $2 AND "
                "xid <> ALL($3::bigint[]) ORDER BY seq LIMIT " STR(CHUNK)
              : "SELECT " SCAN_COLS " FROM events WHERE xid >= $4 AND xid < $1 AND "
                "(xid, seq) > ($5, $2) AND xid <> ALL($3::bigint[]) "
                "ORDER BY xid, seq LIMIT " STR(CHUNK);
    int64_t kx = lo, ks = 0;
    int rc = MQ_OK;
    for (;;) {
        char v[4][24];
        snprintf(v[0], sizeof v[0], "%lld", (long long)hi);
        snprintf(v[1], sizeof v[1], "%lld", (long long)ks);
        snprintf(v[2], sizeof v[2], "%lld", (long long)lo);
        snprintf(v[3], sizeof v[3], "%lld", (long long)kx);
        const char *p[5] = {v[0], v[1], own.data, v[2], v[3]};
        PGresult *r = query(s, sql, first ? 3 : 5, p, "following the event log", err);
        if (!r) {
            rc = MQ_ESTORE;
            break;
        }
        int rows = PQntuples(r);
        if (rows) {
            kx = get_i64(r, rows - 1, N_EVENT_COLS + 1);
            ks = get_i64(r, rows - 1, 0);
        }
        rc = visit_chunk(s, r, cb, ud, err);
        PQclear(r);
        if (rc || rows < CHUNK)
            break;
    }
    mq_buf_free(&own);
    return rc;
}

static int pg_follow(mq_store_base *b, mq_event_cb cb, void *ud, mq_err *err) {
    pg_store *s = (pg_store *)b;
    int rc = ensure(s, err);
    if (rc)
        return rc;
    PGresult *r = exec_sql(s, "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
                           PGRES_TUPLES_OK, "following the event log", err);
    if (!r)
        return MQ_ESTORE;
    int64_t xmin = get_i64(r, 0, 0);
    PQclear(r);
    if (s->following && xmin <= s->frontier)
        return MQ_OK; /* no transaction ended since: nothing new can be visible */
    if ((rc = follow_range(s, s->following ? s->frontier : 0, xmin, cb, ud, err)))
        return rc;
    s->frontier = xmin;
    s->following = true;
    /* Own xids below the frontier will not be met again. */
    size_t k = 0;
    for (size_t i = 0; i < s->own_xids.len; i++)
        if (s->own_xids.items[i] >= xmin)
            s->own_xids.items[k++] = s->own_xids.items[i];
    s->own_xids.len = k;
    return MQ_OK;
}

/* "e", "p <id>", "t <id>", "b <name>" */
static bool parse_notice(const char *payload, mq_store_notice *n) {
    memset(n, 0, sizeof *n);
    switch (payload[0]) {
    case 'e':
        n->kind = MQ_NOTICE_EVENTS;
        return true;
    case 'p':
    case 't':
        n->kind = payload[0] == 'p' ? MQ_NOTICE_PROFILE_DELETED : MQ_NOTICE_TITLE_DELETED;
        n->id = (uint32_t)strtoul(payload + 1, NULL, 10);
        return n->id != 0;
    case 'b':
        n->kind = MQ_NOTICE_BLOB;
        snprintf(n->name, sizeof n->name, "%s", payload[1] ? payload + 2 : "");
        return true;
    }
    return false;
}

static void drain(pg_store *s, mq_store_notice *out, size_t max, size_t *n) {
    PGnotify *nf;
    while ((nf = PQnotifies(s->conn))) {
        mq_store_notice nt;
        if (parse_notice(nf->extra ? nf->extra : "", &nt)) {
            /* Repeats carry nothing new: one "events" notice is as good as ten. */
            bool seen = false;
            for (size_t i = 0; i < *n && !seen; i++)
                seen = out[i].kind == nt.kind && out[i].id == nt.id &&
                       strcmp(out[i].name, nt.name) == 0;
            if (!seen && *n < max)
                out[(*n)++] = nt;
            else if (!seen && max)
                out[max - 1] = (mq_store_notice){.kind = MQ_NOTICE_RESYNC};
        }
        PQfreemem(nf);
    }
}

static int pg_wait(mq_store_base *b, int timeout_ms, mq_store_notice *out, size_t max,
                   size_t *n, mq_err *err) {
    pg_store *s = (pg_store *)b;
    *n = 0;
    if (!s->listening) {
        s->listening = true;
        if (!s->lost && exec_cmd(s, "LISTEN " CHANNEL, "subscribing to notices", err))
            return MQ_ESTORE;
    }
    int rc = ensure(s, err);
    if (rc)
        return rc;
    if (s->resync) {
        s->resync = false;
        if (max)
            out[(*n)++] = (mq_store_notice){.kind = MQ_NOTICE_RESYNC};
    }
    if (!PQconsumeInput(s->conn))
        return pg_fail(s, NULL, "waiting for notices", err);
    drain(s, out, max, n);
    if (*n)
        return MQ_OK;
    struct pollfd pfd = {PQsocket(s->conn), POLLIN, 0};
    if (pfd.fd < 0)
        return pg_fail(s, NULL, "waiting for notices", err);
    if (poll(&pfd, 1, timeout_ms) > 0) {
        if (!PQconsumeInput(s->conn))
            return pg_fail(s, NULL, "waiting for notices", err);
        drain(s, out, max, n);
    }
    return MQ_OK;
}

/* ------------------------------------------------------- titles, profiles ---- */

static int pg_put_title(mq_store_base *b, mq_title *t, const char *doc, mq_err *err) {
    pg_store *s = (pg_store *)b;
    int rc = ensure(s, err);
    if (rc)
        return rc;
    char kind[16], year[16], added[24];
    snprintf(kind, sizeof kind, "%d", (int)t->kind);
    snprintf(year, sizeof year, "%d", t->year);
    snprintf(added, sizeof added, "%lld", (long long)t->added_ms);
    const char *p[6] = {t->ext_id, t->name, kind, year, added, doc};
    PGresult *r = run(s, ST_PUT_TITLE, p, PGRES_TUPLES_OK, "storing a title", err);
    if (!r)
        return MQ_ESTORE;
    t->id = (uint32_t)get_i64(r, 0, 0);
    PQclear(r);
    return MQ_OK;
}

static int pg_get_title_doc(mq_store_base *b, const char *ext_id, uint32_t *id, char **doc,
                            mq_err *err) {
    pg_store *s = (pg_store *)b;
    int rc = ensure(s, err);
    if (rc)
        return rc;
    const char *p[1] = {ext_id};
    PGresult *r = run(s, ST_GET_TITLE, p, PGRES_TUPLES_OK, "reading a title", err);
    if (!r)
        return MQ_ESTORE;
    rc = MQ_ENOTFOUND;
    if (PQntuples(r)) {
        *id = (uint32_t)get_i64(r, 0, 0);
        *doc = mq_strdup(PQgetvalue(r, 0, 1));
        rc = MQ_OK;
    }
    PQclear(r);
    return rc;
}

static int pg_put_profile(mq_store_base *b, mq_profile *pr, mq_err *err) {
    pg_store *s = (pg_store *)b;
    int rc = ensure(s, err);
    if (rc)
        return rc;
    char lim[16], created[24];
    snprintf(lim, sizeof lim, "%d", pr->maturity_limit);
    snprintf(created, sizeof created, "%lld", (long long)pr->created_ms);
    const char *p[4] = {pr->ext_id, pr->country, lim, created};
    PGresult *r = run(s, ST_PUT_PROFILE, p, PGRES_TUPLES_OK, "storing a profile", err);
    if (!r)
        return MQ_ESTORE;
    pr->id = (uint32_t)get_i64(r, 0, 0);
    PQclear(r);
    return MQ_OK;
}

static void read_profile(const PGresult *r, int i, mq_profile *p, mq_arena *a) {
    memset(p, 0, sizeof *p);
    p->id = (uint32_t)get_i64(r, i, 0);
    p->ext_id = a ? mq_arena_strdup(a, PQgetvalue(r, i, 1)) : PQgetvalue(r, i, 1);
    snprintf(p->country, sizeof p->country, "%s", PQgetvalue(r, i, 2));
    p->maturity_limit = (int)get_i64(r, i, 3);
    p->created_ms = get_i64(r, i, 4);
}

static int pg_get_profile(mq_store_base *b, const char *ext_id, mq_profile *out, mq_arena *a,
                          mq_err *err) {
    pg_store *s = (pg_store *)b;
    int rc = ensure(s, err);
    if (rc)
        return rc;
    const char *p[1] = {ext_id};
    PGresult *r = run(s, ST_GET_PROFILE, p, PGRES_TUPLES_OK, "reading a profile", err);
    if (!r)
        return MQ_ESTORE;
    rc = MQ_ENOTFOUND;
    if (PQntuples(r)) {
        read_profile(r, 0, out, a);
        /* Without an arena the strings would die with the result. */
        if (!a)
            out->ext_id = NULL;
        rc = MQ_OK;
    }
    PQclear(r);
    return rc;
}

static int run_sql(pg_store *s, const char *sql, const char *param, const char *what,
                   mq_err *err) {
    const char *p[1] = {param};
    PGresult *r = execute(s, NULL, sql, param ? 1 : 0, p, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? MQ_OK : pg_fail(s, r, what, err);
    PQclear(r);
    return rc;
}

static int pg_delete(mq_store_base *b, int kind, uint32_t id, mq_err *err) {
    pg_store *s = (pg_store *)b;
    int rc = ensure(s, err);
    if (rc)
        return rc;
    char v[16], note[24];
    snprintf(v, sizeof v, "%u", id);
    snprintf(note, sizeof note, "%c %u", kind == MQ_IDMAP_TITLE ? 't' : 'p', id);
    if (kind == MQ_IDMAP_TITLE)
        rc = run_sql(s, "DELETE FROM titles WHERE id = $1", v, "deleting a title", err);
    else if (!(rc = run_sql(s, "DELETE FROM profiles WHERE id = $1", v, "deleting a profile",
                            err)))
        /* The profile row first: a writer holding it FOR KEY SHARE commits its
         * events before this statement, which then sees and deletes them. */
        rc = run_sql(s, "DELETE FROM events WHERE profile_id = $1", v, "deleting events", err);
    if (!rc)
        rc = run_sql(s, "SELECT pg_notify('" CHANNEL "', $1)", note, "notifying", err);
    return rc;
}

/* Keyset scans of titles (docs) and profiles. */
static int scan_titles(pg_store *s, uint32_t after, size_t limit,
                       int (*cb)(void *, uint32_t, const char *), void *ud, mq_err *err) {
    int rc = ensure(s, err);
    if (rc)
        return rc;
    while (limit > 0) {
        char a[16], l[24];
        size_t n = MQ_MIN(limit, (size_t)CHUNK);
        snprintf(a, sizeof a, "%u", after);
        snprintf(l, sizeof l, "%zu", n);
        const char *p[2] = {a, l};
        PGresult *r = query(s, "SELECT id, doc FROM titles WHERE id > $1 ORDER BY id LIMIT $2",
                            2, p, "scanning titles", err);
        if (!r)
            return MQ_ESTORE;
        int rows = PQntuples(r);
        for (int i = 0; i < rows && !rc; i++) {
            after = (uint32_t)get_i64(r, i, 0);
            rc = cb(ud, after, PQgetvalue(r, i, 1));
        }
        PQclear(r);
        if (rc || (size_t)rows < n)
            return rc;
        limit -= n;
    }
    return MQ_OK;
}

static int scan_profiles(pg_store *s, uint32_t after, size_t limit, mq_profile_cb cb, void *ud,
                         mq_err *err) {
    int rc = ensure(s, err);
    if (rc)
        return rc;
    while (limit > 0) {
        char a[16], l[24];
        size_t n = MQ_MIN(limit, (size_t)CHUNK);
        snprintf(a, sizeof a, "%u", after);
        snprintf(l, sizeof l, "%zu", n);
        const char *p[2] = {a, l};
        PGresult *r = query(s,
                            "SELECT id, ext_id, country, maturity_limit, created_ms FROM profiles "
                            "WHERE id > $1 ORDER BY id LIMIT $2",
                            2, p, "scanning profiles", err);
        if (!r)
            return MQ_ESTORE;
        int rows = PQntuples(r);
        for (int i = 0; i < rows && !rc; i++) {
            mq_profile pr;
            read_profile(r, i, &pr, NULL);
            after = pr.id;
            rc = cb(ud, &pr);
        }
        PQclear(r);
        if (rc || (size_t)rows < n)
            return rc;
        limit -= n;
    }
    return MQ_OK;
}

static int pg_list_title_docs(mq_store_base *b, uint32_t after, size_t limit,
                              int (*cb)(void *, uint32_t, const char *), void *ud, mq_err *err) {
    return scan_titles((pg_store *)b, after, limit, cb, ud, err);
}

static int pg_list_profiles(mq_store_base *b, uint32_t after, size_t limit, mq_profile_cb cb,
                            void *ud, mq_err *err) {
    return scan_profiles((pg_store *)b, after, limit, cb, ud, err);
}

static int pg_stats(mq_store_base *b, mq_store_stats *out, mq_err *err) {
    pg_store *s = (pg_store *)b;
    memset(out, 0, sizeof *out);
    int rc = ensure(s, err);
    if (rc)
        return rc;
    PGresult *r = exec_sql(s,
                           "SELECT (SELECT count(*) FROM titles), (SELECT count(*) FROM profiles), "
                           "min(ts_ms), max(ts_ms), max(seq) FROM events",
                           PGRES_TUPLES_OK, "reading statistics", err);
    if (!r)
        return MQ_ESTORE;
    out->titles = (uint64_t)get_i64(r, 0, 0);
    out->profiles = (uint64_t)get_i64(r, 0, 1);
    out->first_ts_ms = get_i64(r, 0, 2);
    out->last_ts_ms = get_i64(r, 0, 3);
    out->last_seq = get_i64(r, 0, 4);
    PQclear(r);
    r = exec_sql(s, "SELECT type, count(*) FROM events GROUP BY type", PGRES_TUPLES_OK,
                 "reading statistics", err);
    if (!r)
        return MQ_ESTORE;
    for (int i = 0, n = PQntuples(r); i < n; i++) {
        int64_t t = get_i64(r, i, 0);
        uint64_t c = (uint64_t)get_i64(r, i, 1);
        if (t >= 0 && t < MQ_EV_COUNT)
            out->by_type[t] = c;
        out->events += c;
    }
    PQclear(r);
    return MQ_OK;
}

/* ------------------------------------------------------------------ blobs ---- */

static int pg_put_blob(mq_store_base *b, const char *name, const void *data, size_t len,
                       mq_err *err) {
    pg_store *s = (pg_store *)b;
    int rc = ensure(s, err);
    if (rc)
        return rc;
    if (len > (size_t)INT32_MAX)
        return mq_err_set(err, MQ_ETOOBIG, "%s: blob \"%s\": %zu bytes, more than PostgreSQL "
                                           "takes in one value (1 GiB)",
                          s->name, name, len);
    char ms[24], note[80];
    snprintf(ms, sizeof ms, "%lld", (long long)mq_now_ms());
    snprintf(note, sizeof note, "b %.64s", name);
    const char *p[4] = {name, data, ms, note};
    int lens[4] = {0, (int)len, 0, 0}, fmts[4] = {0, 1, 0, 0};
    /* One statement: the put and its notice commit together. */
    PGresult *r = execute(s, NULL,
                               "WITH up AS (INSERT INTO blobs(name, data, updated_ms, version) "
                               "VALUES($1, $2, $3, 1) ON CONFLICT (name) DO UPDATE SET data = "
                               "excluded.data, updated_ms = excluded.updated_ms, version = "
                               "blobs.version + 1 RETURNING version) "
                               "SELECT pg_notify('" CHANNEL "', $4), version FROM up",
                               4, p, lens, fmts, 0);
    rc = PQresultStatus(r) == PGRES_TUPLES_OK ? MQ_OK : pg_fail(s, r, "storing a blob", err);
    PQclear(r);
    return rc;
}

static int pg_get_blob(mq_store_base *b, const char *name, int64_t *version, void **data,
                       size_t *len, mq_err *err) {
    pg_store *s = (pg_store *)b;
    int rc = ensure(s, err);
    if (rc)
        return rc;
    const char *p[1] = {name};
    /* Binary results: the bytes as they are, the version as a big-endian int8. */
    PGresult *r = execute(s, NULL,
                          data ? "SELECT version, data FROM blobs WHERE name = $1"
                               : "SELECT version FROM blobs WHERE name = $1",
                          1, p, NULL, NULL, 1);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = pg_fail(s, r, "reading a blob", err);
        PQclear(r);
        return rc;
    }
    if (!PQntuples(r)) {
        PQclear(r);
        return mq_err_set(err, MQ_ENOTFOUND, "%s: no blob named \"%s\"", s->name, name);
    }
    const unsigned char *v = (const unsigned char *)PQgetvalue(r, 0, 0);
    uint64_t ver = 0;
    for (int i = 0; i < 8 && PQgetlength(r, 0, 0) == 8; i++)
        ver = ver << 8 | v[i];
    *version = (int64_t)ver;
    if (data) {
        *len = (size_t)PQgetlength(r, 0, 1);
        *data = mq_malloc(*len + 1);
        if (*len)
            memcpy(*data, PQgetvalue(r, 0, 1), *len);
        ((char *)*data)[*len] = '\0';
    }
    PQclear(r);
    return MQ_OK;
}

/* ------------------------------------------------------------- lifecycle ---- */

static int pg_schema_version(mq_store_base *b) {
    pg_store *s = (pg_store *)b;
    int v = 0;
    if (ensure(s, NULL) || schema_version(s, &v, NULL))
        return 0;
    return v;
}

static void pg_close(mq_store_base *b) {
    pg_store *s = (pg_store *)b;
    if (s->conn)
        PQfinish(s->conn);
    for (int c = 0; c < N_EVENT_COLS; c++)
        mq_buf_free(&s->arrays[c]);
    mq_free(s->tx_profiles.items);
    mq_free(s->tx_titles.items);
    mq_free(s->own_xids.items);
    mq_free(s->url);
    mq_free(s->name);
}

static const mq_store_ops pg_ops = {
    .name = "postgres",
    .close = pg_close,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .schema_version = pg_schema_version,
    .find_id = pg_find_id,
    .create_profile = pg_create_profile,
    .resolve_profiles = pg_resolve_profiles,
    .insert_event = pg_insert_event,
    .insert_events = pg_insert_events,
    .each_event = pg_each_event,
    .put_title = pg_put_title,
    .get_title_doc = pg_get_title_doc,
    .put_profile = pg_put_profile,
    .get_profile = pg_get_profile,
    .delete_row = pg_delete,
    .stats = pg_stats,
    .put_blob = pg_put_blob,
    .get_blob = pg_get_blob,
    .list_title_docs = pg_list_title_docs,
    .list_profiles = pg_list_profiles,
    .follow = pg_follow,
    .wait = pg_wait,
};

int mq_postgres_open(const char *url, int flags, mq_store_base **out, mq_err *err) {
    *out = NULL;
    pg_store *s = mq_calloc(1, sizeof *s);
    s->url = mq_strdup(url);
    s->name = redact(url);
    s->flags = flags;
    for (int c = 0; c < N_EVENT_COLS; c++)
        mq_buf_init(&s->arrays[c], 0);
    mq_store_base_init(&s->base, &pg_ops);
    s->base.target = s->name;
    int rc, v;
    if ((rc = connect_session(s, err)))
        goto fail;
    if (!(flags & MQ_STORE_READONLY) && (rc = migrate(s, err)))
        goto fail;
    if ((rc = schema_version(s, &v, err)))
        goto fail;
    if (v != (int)MQ_ARRAY_LEN(migrations)) {
        rc = mq_err_set(err, MQ_EVERSION,
                        v > (int)MQ_ARRAY_LEN(migrations)
                            ? "%s: the store has schema version %d, written by a newer marquee; "
                              "this build reads versions up to %d. Upgrade marquee or use "
                              "another database"
                            : "%s: schema version %d, expected %d: a store written by an "
                              "older marquee, which a command that writes (serve, train, "
                              "import) migrates forward",
                        s->name, v, (int)MQ_ARRAY_LEN(migrations));
        goto fail;
    }
    if ((rc = prepare(s, err)) || (rc = load_ids(s, err)))
        goto fail;
    *out = &s->base;
    return MQ_OK;
fail:
    mq_store_base_free(&s->base);
    pg_close(&s->base);
    mq_free(s);
    return rc;
}
