/*
 * store_impl.h: private to the store module. The operations a back end provides
 * (mq_store_ops) and the state every back end shares (mq_store_base): the id
 * maps. store.c implements the public API on top of these; sqlite.c and
 * postgres.c implement the operations.
 */
#ifndef MQ_STORE_IMPL_H
#define MQ_STORE_IMPL_H

#include "store.h"

enum { MQ_IDMAP_TITLE = 0, MQ_IDMAP_PROFILE = 1 };

/* External <-> internal ids, cached. Entries added inside a transaction are
 * recorded in `pending` and removed again on rollback. */
typedef struct mq_idmap {
    mq_strmap *ids;
    MQ_VEC(const char *) ext; /* index = internal id; points into ids' arena */
    MQ_VEC(char *) pending;
} mq_idmap;

void mq_idmap_put(mq_idmap *m, const char *ext_id, uint32_t id, bool pending);
const char *mq_idmap_ext(const mq_idmap *m, uint32_t id);
/* Forgets an internal id (another process deleted it; the cache is stale). */
void mq_idmap_forget_id(mq_idmap *m, uint32_t id);

typedef struct mq_store_base mq_store_base;

typedef struct mq_store_ops {
    const char *name;
    void (*close)(mq_store_base *b);
    int (*begin)(mq_store_base *b, mq_err *err);
    int (*commit)(mq_store_base *b, mq_err *err);
    void (*rollback)(mq_store_base *b);
    int (*schema_version)(mq_store_base *b);
    /* Looks an external id up in the database (not the cache); *id = 0 if absent. */
    int (*find_id)(mq_store_base *b, int kind, const char *ext_id, uint32_t *id, mq_err *err);
    int (*create_profile)(mq_store_base *b, const char *ext_id, int64_t created_ms,
                          uint32_t *id, mq_err *err);
    /* Optional: the ids of n profiles by external id, creating the missing ones
     * (created_ms[i] for ext[i]), in one round trip instead of two per profile. */
    int (*resolve_profiles)(mq_store_base *b, const char *const *ext, const int64_t *created_ms,
                            size_t n, uint32_t *ids, mq_err *err);
    /* Inserts unless event_id exists (then *dup = true). Sets e->seq. */
    int (*insert_event)(mq_store_base *b, mq_event *e, bool *dup, mq_err *err);
    /* Optional: the same for n events at once, in order (a repeat of an event_id
     * within the batch is a duplicate of its first occurrence). Used instead of
     * insert_event when set, for back ends where a round trip per row costs more
     * than the insert. */
    int (*insert_events)(mq_store_base *b, mq_event *const *evs, size_t n, bool *dup,
                         mq_err *err);
    int (*each_event)(mq_store_base *b, const mq_event_filter *f, mq_event_cb cb, void *ud,
                      mq_err *err);
    /* Upsert by ext id with the title's JSON document; sets t->id. */
    int (*put_title)(mq_store_base *b, mq_title *t, const char *doc, mq_err *err);
    /* MQ_ENOTFOUND when absent; *doc is freed by the caller. */
    int (*get_title_doc)(mq_store_base *b, const char *ext_id, uint32_t *id, char **doc,
                         mq_err *err);
    int (*put_profile)(mq_store_base *b, mq_profile *p, mq_err *err);
    int (*get_profile)(mq_store_base *b, const char *ext_id, mq_profile *out, mq_arena *a,
                       mq_err *err);
    /* Deletes a title, or a profile with its events. */
    int (*delete_row)(mq_store_base *b, int kind, uint32_t id, mq_err *err);
    int (*stats)(mq_store_base *b, mq_store_stats *st, mq_err *err);
    int (*put_blob)(mq_store_base *b, const char *name, const void *data, size_t len,
                    mq_err *err);
    /* *version always; data and len only when data is not NULL. MQ_ENOTFOUND (with
     * a message) when absent. */
    int (*get_blob)(mq_store_base *b, const char *name, int64_t *version, void **data,
                    size_t *len, mq_err *err);
    /* One page, ids > after, at most limit rows, in id order (mq_store_list_*;
     * mq_store_each_* ask for everything: after 0, limit SIZE_MAX). */
    int (*list_title_docs)(mq_store_base *b, uint32_t after, size_t limit,
                           int (*cb)(void *, uint32_t, const char *), void *ud, mq_err *err);
    int (*list_profiles)(mq_store_base *b, uint32_t after, size_t limit, mq_profile_cb cb,
                         void *ud, mq_err *err);
    /* mq_store_follow_events and mq_store_wait_notices. */
    int (*follow)(mq_store_base *b, mq_event_cb cb, void *ud, mq_err *err);
    int (*wait)(mq_store_base *b, int timeout_ms, mq_store_notice *out, size_t max, size_t *n,
                mq_err *err);
} mq_store_ops;

struct mq_store_base {
    const mq_store_ops *ops;
    mq_idmap titles, profiles;
    int txn_depth; /* 1 inside an explicit transaction */
    const char *target; /* for messages (mq_store_target); owned by the back end */
};

void mq_store_base_init(mq_store_base *b, const mq_store_ops *ops);
void mq_store_base_free(mq_store_base *b);

int mq_sqlite_open(const char *dir, int flags, mq_store_base **out, mq_err *err);
int mq_postgres_open(const char *url, int flags, mq_store_base **out, mq_err *err);
/* True for the targets mq_postgres_open takes (postgres:// or postgresql://). */
bool mq_store_is_postgres_url(const char *target);

#endif
