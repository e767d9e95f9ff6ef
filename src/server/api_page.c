/* api_page.c: GET /v1/profiles/{id}/homepage, the personalized homepage
 * (src/page), and the page service's life cycle in the server.
 *
 *   ?device=tv|phone|tablet|web   the device's format (default tv)
 *   ?rows=N&items=M               rows and titles per row (default: the device's)
 *   ?cursor=C                     the next rows of the same page (its next_cursor)
 *   ?policy=P                     another page policy (experiments; default page.policy)
 *
 * The page reflects the live state, which the writer updates before it answers
 * an event, so a thumbs down posted a moment ago is gone from the next page. The
 * catalogue snapshot is loaded at start and reloaded (at most once a second)
 * after titles change; the bundle is the one being served (follow.c).
 *
 * Each worker thread keeps one arena and one output buffer, reset per request:
 * once warm, a page costs no allocation but the response's buffer, which the
 * response takes (the thread allocates another as large). */
#include "server_impl.h"

#include <string.h>

#define ARENA_BLOCK ((size_t)4 << 20)
#define ARENA_CAP ((size_t)256 << 20)
#define BODY_CAP ((size_t)64 << 20)
#define RELOAD_MS 1000

typedef struct tls {
    mq_arena arena;
    mq_buf out;
} tls;

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void tls_free(void *p) {
    tls *t = p;
    mq_arena_free(&t->arena);
    mq_buf_free(&t->out);
    mq_free(t);
}

static void tls_init(void) {
    pthread_key_create(&tls_key, tls_free);
}

static tls *thread_tls(void) {
    pthread_once(&tls_once, tls_init);
    tls *t = pthread_getspecific(tls_key);
    if (!t) {
        t = mq_calloc(1, sizeof *t);
        mq_arena_init(&t->arena, ARENA_BLOCK, ARENA_CAP);
        mq_buf_init(&t->out, BODY_CAP);
        pthread_setspecific(tls_key, t);
    }
    mq_arena_reset(&t->arena);
    mq_buf_reset(&t->out);
    return t;
}

/* ------------------------------------------------------------- life cycle ---- */

static int load_catalog(mq_server *srv, mq_store *s, mq_err *err) {
    mq_catalog *cat = NULL;
    int rc = mq_store_load_catalog(s, &cat, err);
    if (rc)
        return rc;
    return mq_page_service_set_catalog(srv->pages, cat, err);
}

int mq_server_pages_start(mq_server *srv, mq_err *err) {
    mq_page_params p;
    int rc;
    if (srv->opt.config) {
        if ((rc = mq_page_params_from_config(&p, srv->opt.config, err)))
            return rc;
    } else {
        mq_page_params_default(&p);
        p.sem = srv->opt.sem;
    }
    if ((rc = mq_page_service_create(&p, &srv->pages, err)))
        return rc;
    uint64_t v = atomic_load(&srv->titles_version);
    double t0 = mq_mono_s();
    if ((rc = load_catalog(srv, srv->writer.store, err)))
        return mq_err_prefix(err, "loading the catalogue for pages");
    atomic_store(&srv->pages_titles_version, v);
    atomic_store(&srv->pages_reload_ms, mq_now_ms());
    mq_log(MQ_LOG_INFO, "pages: catalogue of %zu titles indexed in %.2f s",
           mq_catalog_title_count(mq_page_service_catalog(srv->pages)), mq_mono_s() - t0);
    return MQ_OK;
}

void mq_server_pages_stop(mq_server *srv) {
    mq_page_service_destroy(srv->pages);
    srv->pages = NULL;
}

/* Reloads the catalogue after titles changed: one request at a time does it,
 * the others go on with the current snapshot. */
static void maybe_reload(mq_server *srv) {
    uint64_t v = atomic_load(&srv->titles_version);
    int64_t now = mq_now_ms();
    if (v == atomic_load(&srv->pages_titles_version) ||
        now - atomic_load(&srv->pages_reload_ms) < RELOAD_MS ||
        pthread_mutex_trylock(&srv->pages_mu) != 0)
        return;
    if (v != atomic_load(&srv->pages_titles_version)) {
        mq_err err = {0};
        pthread_mutex_lock(&srv->read_mu);
        int rc = load_catalog(srv, srv->reader, &err);
        pthread_mutex_unlock(&srv->read_mu);
        if (rc)
            mq_log(MQ_LOG_WARN, "pages: reloading the catalogue: %s", err.msg);
        else
            atomic_store(&srv->pages_titles_version, v);
        atomic_store(&srv->pages_reload_ms, now);
    }
    pthread_mutex_unlock(&srv->pages_mu);
}

/* ---------------------------------------------------------------- handler ---- */

static bool int_arg(mq_req *r, const char *name, int max, int *out) {
    const char *v = mq_req_query(r, name);
    int64_t x;
    *out = 0;
    if (!v)
        return true;
    if (!mq_parse_i64(v, &x) || x < 1 || x > max) {
        mq_req_error(r, 400, "%s: expected an integer from 1 to %d, got \"%.64s\"", name, max, v);
        return false;
    }
    *out = (int)x;
    return true;
}

mq_hres mq_h_homepage(mq_req *r) {
    mq_server *srv = r->srv;
    if (!mq_ext_id_valid(r->param)) {
        mq_req_error(r, 400, "path: profile id: expected 1-128 bytes without control characters");
        return MQ_H_DONE;
    }
    const mq_page_params *pp = mq_page_service_params(srv->pages);
    mq_page_request rq = {0};
    rq.policy = -1;
    rq.device = MQ_DEVICE_TV;
    const char *dev = mq_req_query(r, "device");
    if (dev) {
        int d = mq_device_parse(dev);
        if (d <= MQ_DEVICE_UNKNOWN) {
            mq_req_error(r, 400, "device: expected tv, phone, tablet or web, got \"%.64s\"", dev);
            return MQ_H_DONE;
        }
        rq.device = (mq_device)d;
    }
    if (!int_arg(r, "rows", pp->max_rows, &rq.rows) ||
        !int_arg(r, "items", pp->max_items, &rq.items))
        return MQ_H_DONE;
    const char *pol = mq_req_query(r, "policy");
    if (pol && (rq.policy = mq_page_policy_parse(pol)) < 0) {
        mq_req_error(r, 400, "policy: expected popular, template, no-ranker or full, got \"%.64s\"",
                     pol);
        return MQ_H_DONE;
    }
    mq_profile prof;
    if (!mq_req_read_profile(r, &prof))
        return MQ_H_DONE;
    mq_err err = {0};
    int rc;
    maybe_reload(srv);
    rq.profile_id = prof.id;
    rq.profile = r->param;
    rq.maturity_limit = prof.maturity_limit;
    rq.now_ms = mq_now_ms();
    rq.state = srv->state;
    mq_served_bundle *sb = mq_server_bundle_acquire(srv);
    rq.bundle = sb ? sb->b : NULL;
    rq.bundle_version = sb ? sb->version : 0;
    /* The bandits choose the assets; the read lock is held until the page is
     * rendered (a label's text is the model's). */
    const mq_assets *assets = mq_server_assets_acquire(srv);
    rq.assets = assets;
    tls *t = thread_tls();
    mq_page page;
    const char *cursor = mq_req_query(r, "cursor");
    if (cursor && *cursor)
        rc = mq_page_next(srv->pages, &rq, cursor, rq.rows, &t->arena, &page, &err);
    else
        rc = mq_page_build(srv->pages, &rq, &t->arena, &page, &err);
    if (rc) {
        mq_server_assets_release(srv, assets);
        mq_server_bundle_release(sb);
        mq_req_error(r, rc == MQ_ENOTFOUND ? 410 : rc == MQ_EINVAL ? 400 : 500, "%s", err.msg);
        return MQ_H_DONE;
    }
    rc = mq_page_json(&page, pp, &t->out);
    mq_page_done(srv->pages, &page);
    mq_server_assets_release(srv, assets);
    mq_server_bundle_release(sb);
    if (rc) {
        mq_req_error(r, 500, "the page does not fit in %zu bytes", (size_t)BODY_CAP);
        return MQ_H_DONE;
    }
    /* The response takes the buffer, and the thread starts a new one as large:
     * a page is a few hundred KB, and copying it out was a memcpy per page. */
    size_t len;
    char *body = mq_buf_take(&t->out, &len);
    mq_req_reply_owned(r, 200, NULL, body, len);
    return MQ_H_DONE;
}
