/* store.c: the public store API over a back end's operations: choosing the back
 * end, the cached id maps, resolving events' external ids, and the JSON form in
 * which titles are kept. */
#include "store.h"
#include "store_impl.h"

#include <string.h>

struct mq_store {
    mq_store_base *b;
};

/* ----------------------------------------------------------------- id maps ---- */

void mq_idmap_put(mq_idmap *m, const char *ext_id, uint32_t id, bool pending) {
    if (!m->ids)
        m->ids = mq_strmap_create();
    const char *key = mq_strmap_put(m->ids, ext_id, id);
    while (m->ext.len <= id)
        MQ_VEC_PUSH(&m->ext, NULL);
    m->ext.items[id] = key;
    if (pending)
        MQ_VEC_PUSH(&m->pending, mq_strdup(ext_id));
}

const char *mq_idmap_ext(const mq_idmap *m, uint32_t id) {
    return id < m->ext.len ? m->ext.items[id] : NULL;
}

void mq_idmap_forget_id(mq_idmap *m, uint32_t id) {
    const char *ext = mq_idmap_ext(m, id);
    if (!ext)
        return;
    uint32_t cur;
    /* The key may map to a newer id by now (deleted and created again). */
    if (mq_strmap_get(m->ids, ext, &cur) && cur == id)
        mq_strmap_remove(m->ids, ext);
    m->ext.items[id] = NULL;
}

static uint32_t idmap_get(const mq_idmap *m, const char *ext_id) {
    uint32_t id = 0;
    if (m->ids)
        mq_strmap_get(m->ids, ext_id, &id);
    return id;
}

static void idmap_forget(mq_idmap *m, const char *ext_id) {
    uint32_t id;
    if (m->ids && mq_strmap_get(m->ids, ext_id, &id)) {
        if (id < m->ext.len)
            m->ext.items[id] = NULL;
        mq_strmap_remove(m->ids, ext_id);
    }
}

static void idmap_settle(mq_idmap *m, bool rollback) {
    for (size_t i = 0; i < m->pending.len; i++) {
        if (rollback)
            idmap_forget(m, m->pending.items[i]);
        mq_free(m->pending.items[i]);
    }
    m->pending.len = 0;
}

static void idmap_free(mq_idmap *m) {
    idmap_settle(m, false);
    mq_free(m->pending.items);
    mq_free(m->ext.items);
    mq_strmap_destroy(m->ids);
    memset(m, 0, sizeof *m);
}

void mq_store_base_init(mq_store_base *b, const mq_store_ops *ops) {
    b->ops = ops;
    memset(&b->titles, 0, sizeof b->titles);
    memset(&b->profiles, 0, sizeof b->profiles);
    b->txn_depth = 0;
}

void mq_store_base_free(mq_store_base *b) {
    idmap_free(&b->titles);
    idmap_free(&b->profiles);
}

/* -------------------------------------------------------------- lifecycle ---- */

bool mq_store_is_postgres_url(const char *target) {
    return strncmp(target, "postgres://", 11) == 0 || strncmp(target, "postgresql://", 13) == 0;
}

int mq_store_open(const char *target, int flags, mq_store **out, mq_err *err) {
    *out = NULL;
    if (!target || !*target)
        return mq_err_set(err, MQ_EINVAL, "--data: expected a directory, got an empty string");
    mq_store_base *b;
    int rc = mq_store_is_postgres_url(target) ? mq_postgres_open(target, flags, &b, err)
                                              : mq_sqlite_open(target, flags, &b, err);
    if (rc)
        return rc;
    mq_store *s = mq_malloc(sizeof *s);
    s->b = b;
    *out = s;
    return MQ_OK;
}

void mq_store_close(mq_store *s) {
    if (!s)
        return;
    if (s->b->txn_depth)
        mq_store_rollback(s);
    mq_store_base_free(s->b);
    s->b->ops->close(s->b);
    mq_free(s->b);
    mq_free(s);
}

const char *mq_store_backend(const mq_store *s) {
    return s->b->ops->name;
}

const char *mq_store_target(const mq_store *s) {
    return s->b->target ? s->b->target : "";
}

int mq_store_schema_version(mq_store *s) {
    return s->b->ops->schema_version(s->b);
}

int mq_store_begin(mq_store *s, mq_err *err) {
    if (s->b->txn_depth)
        return mq_err_set(err, MQ_EINVAL, "internal: a transaction is already open");
    int rc = s->b->ops->begin(s->b, err);
    if (!rc)
        s->b->txn_depth = 1;
    return rc;
}

int mq_store_commit(mq_store *s, mq_err *err) {
    int rc = s->b->ops->commit(s->b, err);
    if (rc) {
        mq_store_rollback(s);
        return rc;
    }
    s->b->txn_depth = 0;
    idmap_settle(&s->b->titles, false);
    idmap_settle(&s->b->profiles, false);
    return MQ_OK;
}

void mq_store_rollback(mq_store *s) {
    s->b->ops->rollback(s->b);
    s->b->txn_depth = 0;
    idmap_settle(&s->b->titles, true);
    idmap_settle(&s->b->profiles, true);
}

/* Returns `call`, run inside the open transaction or else inside one of its own. */
#define IN_TXN(s, err, call)                                                             \
    do {                                                                                 \
        bool own_ = !(s)->b->txn_depth;                                                  \
        int rc_;                                                                         \
        if (own_ && (rc_ = mq_store_begin((s), (err))))                                  \
            return rc_;                                                                  \
        rc_ = (call);                                                                    \
        if (own_) {                                                                      \
            if (rc_)                                                                     \
                mq_store_rollback(s);                                                    \
            else                                                                         \
                rc_ = mq_store_commit((s), (err));                                       \
        }                                                                                \
        return rc_;                                                                      \
    } while (0)

/* ---------------------------------------------------------------- lookups ---- */

static int resolve(mq_store *s, int kind, const char *ext_id, uint32_t *id, mq_err *err) {
    mq_idmap *m = kind == MQ_IDMAP_TITLE ? &s->b->titles : &s->b->profiles;
    *id = idmap_get(m, ext_id);
    if (*id)
        return MQ_OK;
    int rc = s->b->ops->find_id(s->b, kind, ext_id, id, err);
    if (!rc && *id)
        mq_idmap_put(m, ext_id, *id, s->b->txn_depth > 0);
    return rc;
}

uint32_t mq_store_title_id(mq_store *s, const char *ext_id) {
    uint32_t id = 0;
    resolve(s, MQ_IDMAP_TITLE, ext_id, &id, NULL);
    return id;
}

uint32_t mq_store_profile_id(mq_store *s, const char *ext_id) {
    uint32_t id = 0;
    resolve(s, MQ_IDMAP_PROFILE, ext_id, &id, NULL);
    return id;
}

/* ----------------------------------------------------------------- events ---- */

/* Finds or creates, in one call, the profiles of the events whose titles are
 * known and whose profiles the cache misses; the ids go to the cache (as
 * pending: forgotten if the transaction rolls back). */
static int resolve_profiles(mq_store *s, mq_event *evs, size_t n, mq_append_status *status,
                            mq_err *err) {
    mq_store_base *b = s->b;
    mq_strmap *seen = mq_strmap_create();
    MQ_VEC(const char *) ext = {0};
    MQ_VEC(int64_t) created = {0};
    int rc = MQ_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        uint32_t id;
        if (idmap_get(&b->profiles, evs[i].profile) || mq_strmap_get(seen, evs[i].profile, &id))
            continue;
        if (evs[i].title) {
            if ((rc = resolve(s, MQ_IDMAP_TITLE, evs[i].title, &id, err)))
                break;
            if (!id) {
                status[i] = MQ_APPEND_UNKNOWN_TITLE; /* no profile for a rejected event */
                continue;
            }
        }
        mq_strmap_put(seen, evs[i].profile, 0);
        MQ_VEC_PUSH(&ext, evs[i].profile);
        MQ_VEC_PUSH(&created, evs[i].ts_ms);
    }
    if (!rc && ext.len) {
        uint32_t *ids = mq_malloc(ext.len * sizeof *ids);
        rc = b->ops->resolve_profiles(b, ext.items, created.items, ext.len, ids, err);
        for (size_t i = 0; !rc && i < ext.len; i++)
            mq_idmap_put(&b->profiles, ext.items[i], ids[i], true);
        mq_free(ids);
    }
    mq_free(ext.items);
    mq_free(created.items);
    mq_strmap_destroy(seen);
    return rc;
}

/* Resolves every event's ids first (creating profiles), then inserts the events
 * that are not rejected, in one call when the back end takes batches. */
static int append(mq_store *s, mq_event *evs, size_t n, mq_append_status *status,
                  mq_err *err) {
    mq_store_base *b = s->b;
    mq_event **todo = NULL;
    bool *dup = NULL;
    size_t n_todo = 0;
    if (b->ops->insert_events) {
        todo = mq_malloc(n * sizeof *todo);
        dup = mq_malloc(n * sizeof *dup);
    }
    int rc = MQ_OK;
    if (b->ops->resolve_profiles)
        rc = resolve_profiles(s, evs, n, status, err);
    for (size_t i = 0; i < n && !rc; i++) {
        mq_event *e = &evs[i];
        e->title_id = 0;
        e->seq = 0;
        if (e->title) {
            if ((rc = resolve(s, MQ_IDMAP_TITLE, e->title, &e->title_id, err)))
                break;
            if (!e->title_id) {
                status[i] = MQ_APPEND_UNKNOWN_TITLE;
                continue;
            }
        }
        if ((rc = resolve(s, MQ_IDMAP_PROFILE, e->profile, &e->profile_id, err)))
            break;
        if (!e->profile_id) {
            if ((rc = b->ops->create_profile(b, e->profile, e->ts_ms, &e->profile_id, err)))
                break;
            mq_idmap_put(&b->profiles, e->profile, e->profile_id, true);
        }
        if (todo) {
            status[i] = MQ_APPEND_OK; /* settled below */
            todo[n_todo++] = e;
            continue;
        }
        bool d;
        if ((rc = b->ops->insert_event(b, e, &d, err)))
            break;
        status[i] = d ? MQ_APPEND_DUPLICATE : MQ_APPEND_OK;
    }
    if (!rc && n_todo) {
        rc = b->ops->insert_events(b, todo, n_todo, dup, err);
        for (size_t i = 0, k = 0; !rc && i < n; i++)
            if (k < n_todo && todo[k] == &evs[i] && dup[k++])
                status[i] = MQ_APPEND_DUPLICATE;
    }
    mq_free(todo);
    mq_free(dup);
    return rc;
}

int mq_store_append_events(mq_store *s, mq_event *evs, size_t n, mq_append_status *status,
                           mq_err *err) {
    IN_TXN(s, err, append(s, evs, n, status, err));
}

int mq_store_each_event(mq_store *s, const mq_event_filter *f, mq_event_cb cb, void *ud,
                        mq_err *err) {
    return s->b->ops->each_event(s->b, f, cb, ud, err);
}

typedef struct {
    MQ_VEC(int64_t) ts;
} ts_ctx;

static int on_ts(void *ud, const mq_event *e) {
    ts_ctx *c = ud;
    MQ_VEC_PUSH(&c->ts, e->ts_ms);
    return 0;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int mq_store_time_quantile(mq_store *s, double q, int64_t *out, mq_err *err) {
    ts_ctx c = {{0}};
    mq_event_filter f = MQ_EVENT_FILTER_ALL;
    int rc = mq_store_each_event(s, &f, on_ts, &c, err);
    if (!rc && c.ts.len == 0)
        rc = mq_err_set(err, MQ_EINVAL, "the store has no events");
    if (!rc) {
        qsort(c.ts.items, c.ts.len, sizeof *c.ts.items, cmp_i64);
        q = q < 0 ? 0 : q > 1 ? 1 : q;
        *out = c.ts.items[(size_t)(q * (double)(c.ts.len - 1) + 0.5)];
    }
    mq_free(c.ts.items);
    return rc;
}

int mq_store_stats_get(mq_store *s, mq_store_stats *st, mq_err *err) {
    return s->b->ops->stats(s->b, st, err);
}

/* ------------------------------------------------------- titles, profiles ---- */

static int put_title(mq_store *s, mq_title *t, mq_err *err) {
    if (!t->ext_id || !mq_ext_id_valid(t->ext_id))
        return mq_err_set(err, MQ_EINVAL, "title id: expected 1-128 bytes of text");
    json_t *j = mq_title_to_json(t);
    char *doc = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    int rc = s->b->ops->put_title(s->b, t, doc, err);
    free(doc);
    if (!rc)
        mq_idmap_put(&s->b->titles, t->ext_id, t->id, s->b->txn_depth > 0);
    return rc;
}

int mq_store_put_title(mq_store *s, mq_title *t, mq_err *err) {
    IN_TXN(s, err, put_title(s, t, err));
}

int mq_store_get_title(mq_store *s, const char *ext_id, mq_title *out, mq_arena *a,
                       mq_err *err) {
    uint32_t id;
    char *doc = NULL;
    int rc = s->b->ops->get_title_doc(s->b, ext_id, &id, &doc, err);
    if (rc == MQ_ENOTFOUND)
        return mq_err_set(err, MQ_ENOTFOUND, "title \"%s\" is not in the catalogue", ext_id);
    if (rc)
        return rc;
    json_error_t je;
    json_t *j = json_loads(doc, 0, &je);
    mq_free(doc);
    if (!j)
        return mq_err_set(err, MQ_ECORRUPT, "title \"%s\": stored document does not parse: %s",
                          ext_id, je.text);
    rc = mq_title_from_json(j, out, a, "stored title", err);
    json_decref(j);
    out->id = id;
    return rc;
}

static int delete_by_ext(mq_store *s, int kind, const char *ext_id, mq_err *err) {
    uint32_t id;
    int rc = resolve(s, kind, ext_id, &id, err);
    if (rc)
        return rc;
    if (!id)
        return mq_err_set(err, MQ_ENOTFOUND, "%s \"%s\" does not exist",
                          kind == MQ_IDMAP_TITLE ? "title" : "profile", ext_id);
    if ((rc = s->b->ops->delete_row(s->b, kind, id, err)))
        return rc;
    idmap_forget(kind == MQ_IDMAP_TITLE ? &s->b->titles : &s->b->profiles, ext_id);
    return MQ_OK;
}

int mq_store_delete_title(mq_store *s, const char *ext_id, mq_err *err) {
    IN_TXN(s, err, delete_by_ext(s, MQ_IDMAP_TITLE, ext_id, err));
}

static int put_profile(mq_store *s, mq_profile *p, mq_err *err) {
    if (!p->ext_id || !mq_ext_id_valid(p->ext_id))
        return mq_err_set(err, MQ_EINVAL, "profile id: expected 1-128 bytes of text");
    int rc = s->b->ops->put_profile(s->b, p, err);
    if (!rc)
        mq_idmap_put(&s->b->profiles, p->ext_id, p->id, s->b->txn_depth > 0);
    return rc;
}

int mq_store_put_profile(mq_store *s, mq_profile *p, mq_err *err) {
    IN_TXN(s, err, put_profile(s, p, err));
}

int mq_store_get_profile(mq_store *s, const char *ext_id, mq_profile *out, mq_arena *a,
                         mq_err *err) {
    int rc = s->b->ops->get_profile(s->b, ext_id, out, a, err);
    if (rc == MQ_ENOTFOUND)
        return mq_err_set(err, MQ_ENOTFOUND, "profile \"%s\" does not exist", ext_id);
    return rc;
}

int mq_store_delete_profile(mq_store *s, const char *ext_id, mq_err *err) {
    IN_TXN(s, err, delete_by_ext(s, MQ_IDMAP_PROFILE, ext_id, err));
}

typedef struct {
    mq_title_cb cb;
    void *ud;
    mq_arena arena;
    mq_err *err;
} title_scan;

static int title_doc_cb(void *ud, uint32_t id, const char *doc) {
    title_scan *ts = ud;
    json_error_t je;
    json_t *j = json_loads(doc, 0, &je);
    if (!j)
        return mq_err_set(ts->err, MQ_ECORRUPT, "title %u: stored document does not parse: %s",
                          id, je.text);
    mq_title t;
    mq_arena_reset(&ts->arena);
    int rc = mq_title_from_json(j, &t, &ts->arena, "stored title", ts->err);
    json_decref(j);
    if (rc)
        return rc;
    t.id = id;
    return ts->cb(ts->ud, &t);
}

int mq_store_each_title(mq_store *s, mq_title_cb cb, void *ud, mq_err *err) {
    title_scan ts = {cb, ud, {0}, err};
    mq_arena_init(&ts.arena, 16 * 1024, 0);
    int rc = s->b->ops->list_title_docs(s->b, 0, SIZE_MAX, title_doc_cb, &ts, err);
    mq_arena_free(&ts.arena);
    return rc;
}

int mq_store_each_profile(mq_store *s, mq_profile_cb cb, void *ud, mq_err *err) {
    return s->b->ops->list_profiles(s->b, 0, SIZE_MAX, cb, ud, err);
}

static int catalog_title(void *ud, const mq_title *t) {
    mq_catalog_put_title(ud, t);
    return 0;
}

static int catalog_profile(void *ud, const mq_profile *p) {
    mq_catalog_put_profile(ud, p);
    return 0;
}

int mq_store_load_catalog(mq_store *s, mq_catalog **out, mq_err *err) {
    mq_catalog *c = mq_catalog_create();
    int rc = mq_store_each_title(s, catalog_title, c, err);
    if (!rc)
        rc = mq_store_each_profile(s, catalog_profile, c, err);
    if (rc) {
        mq_catalog_destroy(c);
        c = NULL;
    }
    *out = c;
    return rc;
}

/* ------------------------------------------------------------------ blobs ---- */

int mq_store_put_blob(mq_store *s, const char *name, const void *data, size_t len,
                      mq_err *err) {
    return s->b->ops->put_blob(s->b, name, data, len, err);
}

int mq_store_get_blob(mq_store *s, const char *name, void **data, size_t *len, mq_err *err) {
    int64_t version;
    return s->b->ops->get_blob(s->b, name, &version, data, len, err);
}

int mq_store_get_blob_version(mq_store *s, const char *name, int64_t *version, void **data,
                              size_t *len, mq_err *err) {
    return s->b->ops->get_blob(s->b, name, version, data, len, err);
}

/* ---------------------------------------------------------- several writers ---- */

int mq_store_follow_events(mq_store *s, mq_event_cb cb, void *ud, mq_err *err) {
    if (s->b->txn_depth)
        return mq_err_set(err, MQ_EINVAL, "internal: following the log inside a transaction");
    return s->b->ops->follow(s->b, cb, ud, err);
}

int mq_store_wait_notices(mq_store *s, int timeout_ms, mq_store_notice *out, size_t max,
                          size_t *n, mq_err *err) {
    *n = 0;
    return s->b->ops->wait(s->b, timeout_ms, out, max, n, err);
}

/* ----------------------------------------------------------------- paging ---- */

int mq_store_list_titles(mq_store *s, uint32_t after_id, size_t limit, mq_title_cb cb,
                         void *ud, mq_err *err) {
    title_scan ts = {cb, ud, {0}, err};
    mq_arena_init(&ts.arena, 16 * 1024, 0);
    int rc = s->b->ops->list_title_docs(s->b, after_id, limit, title_doc_cb, &ts, err);
    mq_arena_free(&ts.arena);
    return rc;
}

int mq_store_list_profiles(mq_store *s, uint32_t after_id, size_t limit, mq_profile_cb cb,
                           void *ud, mq_err *err) {
    return s->b->ops->list_profiles(s->b, after_id, limit, cb, ud, err);
}
