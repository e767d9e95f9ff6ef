/*
 * store.h: durable storage of the catalogue, the profiles, the event log and named
 * blobs (model bundles, checkpoints, the synthetic world's ground truth), behind
 * one interface with one implementation per back end: sqlite.c (the embedded
 * default) and postgres.c (a shared database for several nodes). The back end is
 * chosen in one place, mq_store_open(), from the target string.
 *
 * The store owns the external -> internal id maps: titles and profiles get dense
 * internal ids (1, 2, ...) when first stored, and events are appended with their
 * external ids, which the store resolves (creating unknown profiles, rejecting
 * unknown titles).
 *
 * The event log is append-only and idempotent on event_id: appending an event whose
 * event_id is already stored changes nothing and reports a duplicate.
 *
 * A store handle is not thread-safe; each thread opens its own or serializes.
 */
#ifndef MQ_STORE_H
#define MQ_STORE_H

#include "catalog/catalog.h"
#include "events/events.h"
#include "util/util.h"

/* The schema version this build writes. Opening a store written by a newer
 * version fails with MQ_EVERSION; older ones are migrated forward. */
#define MQ_STORE_SCHEMA_VERSION 3

typedef struct mq_store mq_store;

typedef enum {
    MQ_STORE_DEFAULT = 0,
    /* Bulk loading: fewer fsyncs (synchronous=NORMAL in WAL mode). An import still
     * commits only what it has fully written, but a power loss may lose the last
     * committed batches. Never used for acknowledging live events. */
    MQ_STORE_BULK = 1 << 0,
    MQ_STORE_READONLY = 1 << 1,
} mq_store_flags;

/* Opens (creating if needed) the store at `target`: a data directory (SQLite file
 * DIR/marquee.db), or a PostgreSQL connection URL (postgres://user@host:port/db
 * or postgresql://...; the database must exist, its tables are created). The
 * caller closes it with mq_store_close.
 *
 * PostgreSQL handles survive losing the server: a call made while the connection
 * is down fails with MQ_ESTORE ("...: connection lost: ...; retrying") and the
 * handle reconnects, with backoff, on a later call. A transaction open when the
 * connection was lost is gone; mq_store_commit reports success only when the
 * server answered COMMIT. */
int mq_store_open(const char *target, int flags, mq_store **out, mq_err *err);
void mq_store_close(mq_store *s);
/* "sqlite" or "postgres". */
const char *mq_store_backend(const mq_store *s);
/* The target for messages: the SQLite file, or the URL without its password. */
const char *mq_store_target(const mq_store *s);
int mq_store_schema_version(mq_store *s);

/* Explicit transactions. Every write outside one is its own transaction. */
int mq_store_begin(mq_store *s, mq_err *err);
int mq_store_commit(mq_store *s, mq_err *err);
void mq_store_rollback(mq_store *s);

/* ----------------------------------------------------- titles & profiles ---- */

/* Inserts or replaces by external id; sets t->id. */
int mq_store_put_title(mq_store *s, mq_title *t, mq_err *err);
/* MQ_ENOTFOUND when absent. Strings are allocated in `a`. */
int mq_store_get_title(mq_store *s, const char *ext_id, mq_title *out, mq_arena *a,
                       mq_err *err);
int mq_store_delete_title(mq_store *s, const char *ext_id, mq_err *err);
int mq_store_put_profile(mq_store *s, mq_profile *p, mq_err *err);
int mq_store_get_profile(mq_store *s, const char *ext_id, mq_profile *out, mq_arena *a,
                         mq_err *err);
/* Deletes the profile and all of its events (a privacy request). */
int mq_store_delete_profile(mq_store *s, const char *ext_id, mq_err *err);

/* Internal id of an external id, 0 when unknown. */
uint32_t mq_store_title_id(mq_store *s, const char *ext_id);
uint32_t mq_store_profile_id(mq_store *s, const char *ext_id);

/* Visits titles / profiles in id order; a callback returning non-zero stops the
 * scan and that value is returned. Pointers are valid during the callback only. */
typedef int (*mq_title_cb)(void *ud, const mq_title *t);
typedef int (*mq_profile_cb)(void *ud, const mq_profile *p);
int mq_store_each_title(mq_store *s, mq_title_cb cb, void *ud, mq_err *err);
int mq_store_each_profile(mq_store *s, mq_profile_cb cb, void *ud, mq_err *err);
/* Loads every title and profile into a new catalog; the caller destroys it. */
int mq_store_load_catalog(mq_store *s, mq_catalog **out, mq_err *err);

/* ---------------------------------------------------------------- events ---- */

typedef enum {
    MQ_APPEND_OK = 0,
    MQ_APPEND_DUPLICATE,     /* event_id already stored: nothing changed */
    MQ_APPEND_UNKNOWN_TITLE, /* the title is not in the catalogue: not stored */
} mq_append_status;

/* Appends events (in the open transaction, or in one of its own). Each event's
 * profile is resolved by external id (an unknown profile is created) and its
 * title likewise (an unknown title is rejected). status[i] says what happened to
 * evs[i]; evs[i].seq, profile_id and title_id are set for stored events. The call
 * fails as a whole only on a store error, after which nothing was appended. */
int mq_store_append_events(mq_store *s, mq_event *evs, size_t n, mq_append_status *status,
                           mq_err *err);

typedef struct mq_event_filter {
    int64_t after_seq;   /* only events with seq > after_seq */
    uint32_t profile_id; /* 0 = every profile */
    int64_t from_ms, to_ms; /* ts range [from, to); 0 = unbounded */
    int type;            /* -1 = every type */
} mq_event_filter;

#define MQ_EVENT_FILTER_ALL ((mq_event_filter){0, 0, 0, 0, -1})

/* Visits events in log order (seq). Strings are valid during the callback only. */
typedef int (*mq_event_cb)(void *ud, const mq_event *e);
int mq_store_each_event(mq_store *s, const mq_event_filter *f, mq_event_cb cb, void *ud,
                        mq_err *err);
/* The q-quantile (q in [0, 1], clamped) of the times of every event: the global
 * time split's T. MQ_EINVAL when the store has no events. */
int mq_store_time_quantile(mq_store *s, double q, int64_t *out, mq_err *err);

typedef struct mq_store_stats {
    uint64_t titles, profiles, events;
    uint64_t by_type[MQ_EV_COUNT];
    int64_t first_ts_ms, last_ts_ms; /* 0 when there are no events */
    int64_t last_seq;
} mq_store_stats;

int mq_store_stats_get(mq_store *s, mq_store_stats *st, mq_err *err);

/* ----------------------------------------------------------------- blobs ---- */

/* Named binary objects (bundles, checkpoints, ground truth). put replaces. get
 * returns MQ_ENOTFOUND when absent; the caller frees *data with mq_free. */
int mq_store_put_blob(mq_store *s, const char *name, const void *data, size_t len,
                      mq_err *err);
int mq_store_get_blob(mq_store *s, const char *name, void **data, size_t *len, mq_err *err);
/* The blob's version (1 when first put, one more at each put), and when `data` is
 * not NULL its bytes as of that version (freed by the caller with mq_free). A
 * node that serves a blob (the bundle) polls the version, which is cheap, and
 * reads the bytes only when it changed. */
int mq_store_get_blob_version(mq_store *s, const char *name, int64_t *version, void **data,
                              size_t *len, mq_err *err);

/* ---------------------------------------------------------------- paging ---- */

/* One page of a listing: visits at most `limit` titles (profiles) whose internal
 * id is greater than `after_id`, in id order. The last id visited is the next
 * page's `after_id`; 0 starts from the beginning. Callback rules as for
 * mq_store_each_title. */
int mq_store_list_titles(mq_store *s, uint32_t after_id, size_t limit, mq_title_cb cb,
                         void *ud, mq_err *err);
int mq_store_list_profiles(mq_store *s, uint32_t after_id, size_t limit, mq_profile_cb cb,
                           void *ud, mq_err *err);

/* ------------------------------------------------------- several writers ---- */

/* Several processes (`marquee serve` nodes on one PostgreSQL database, or an
 * import into a served SQLite directory) write one store; each node keeps live
 * state built from the log, so it must learn what the others committed.
 *
 * mq_store_follow_events visits, in commit order, the events that other handles
 * committed since this handle's previous call; the first call visits every event
 * in the store. Events appended and committed through this same handle are not
 * visited: their writer applied them when it committed. Callback rules as for
 * mq_store_each_event. Commit order on PostgreSQL is the order of transaction ids:
 * an event is visited once no transaction that started before its own is still
 * open, so a long-running writing transaction elsewhere (a big import batch)
 * holds back what committed after it until it ends. */
int mq_store_follow_events(mq_store *s, mq_event_cb cb, void *ud, mq_err *err);

/* What another handle committed, as announced by the back end (PostgreSQL:
 * LISTEN/NOTIFY on the channel "marquee"). Notices are hints for prompt reaction:
 * one may be lost with the connection, so followers also poll. */
typedef enum {
    MQ_NOTICE_EVENTS = 1,      /* events were committed: follow the log */
    MQ_NOTICE_PROFILE_DELETED, /* id: the profile's internal id */
    MQ_NOTICE_TITLE_DELETED,   /* id: the title's internal id */
    MQ_NOTICE_BLOB,            /* name: the blob that was put */
    MQ_NOTICE_RESYNC,          /* the connection was re-established: notices may
                                * have been missed, catch up on everything */
} mq_notice_kind;

typedef struct mq_store_notice {
    mq_notice_kind kind;
    uint32_t id;
    char name[64];
} mq_store_notice;

/* Waits up to timeout_ms for notices; *n is how many were written to out (0 on a
 * timeout). The first call subscribes. A back end without notifications (SQLite)
 * waits out the timeout and reports none: followers poll it. Fails with
 * MQ_ESTORE while the connection is down (retrying as every call does). */
int mq_store_wait_notices(mq_store *s, int timeout_ms, mq_store_notice *out, size_t max,
                          size_t *n, mq_err *err);

#endif
