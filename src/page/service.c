/* service.c: mq_page_service, the entry points. A request takes a reference on
 * the current catalogue snapshot (a new catalogue swaps the pointer; the old one
 * is freed by its last reader), scores the titles for the profile (score.c),
 * proposes candidate rows (builders.c), assembles the page (assemble.c), keeps
 * the layout (cache.c) and renders the rows asked for (render.c).
 *
 * Session seed and stability: the seed of a page's exploration noise and asset
 * draws is a hash of (page.seed, the request's seed, profile, the session:
 * now / page.session_minutes). A request in the same session whose profile has
 * done nothing since its previous page (the signature of its state: plays,
 * positions, thumbs, list, searches; impressions and scrolls excepted, since
 * showing the page logs them) gets the same layout again, under a new page_id. */
#include "page_impl.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int mq_page_service_create(const mq_page_params *p, mq_page_service **out, mq_err *err) {
    *out = NULL;
    const char *bad = mq_page_params_check(p);
    if (bad)
        return mq_err_set(err, MQ_EINVAL, "%s", bad);
    mq_page_service *s = mq_calloc(1, sizeof *s);
    s->p = *p;
    pthread_mutex_init(&s->snap_mu, NULL);
    s->cache = pg_cache_create(p->cache_pages, p->cache_ttl_s);
    s->boot = (uint32_t)pg_mix((uint64_t)mq_now_ms() ^ ((uint64_t)(uintptr_t)s << 16));
    atomic_init(&s->seq, 0);
    int rc = mq_page_service_set_catalog(s, mq_catalog_create(), err);
    if (rc) {
        mq_page_service_destroy(s);
        return rc;
    }
    *out = s;
    return MQ_OK;
}

void mq_page_service_destroy(mq_page_service *s) {
    if (!s)
        return;
    pg_snap_release(s->snap);
    pg_cache_destroy(s->cache);
    pthread_mutex_destroy(&s->snap_mu);
    mq_free(s);
}

const mq_page_params *mq_page_service_params(const mq_page_service *s) {
    return &s->p;
}

int mq_page_service_set_catalog(mq_page_service *s, mq_catalog *cat, mq_err *err) {
    pg_snap *snap = NULL;
    pthread_mutex_lock(&s->snap_mu);
    uint64_t version = ++s->snap_versions;
    pthread_mutex_unlock(&s->snap_mu);
    int rc = pg_snap_build(cat, &s->p, version, &snap, err);
    if (rc) {
        mq_catalog_destroy(cat);
        return rc;
    }
    pthread_mutex_lock(&s->snap_mu);
    pg_snap *old = s->snap;
    s->snap = snap;
    pthread_mutex_unlock(&s->snap_mu);
    pg_snap_release(old);
    return MQ_OK;
}

const mq_catalog *mq_page_service_catalog(const mq_page_service *s) {
    return s->snap ? s->snap->cat : NULL;
}

static pg_snap *snap_acquire(mq_page_service *s) {
    pthread_mutex_lock(&s->snap_mu);
    pg_snap *snap = s->snap;
    atomic_fetch_add(&snap->refs, 1);
    pthread_mutex_unlock(&s->snap_mu);
    return snap;
}

void mq_page_done(mq_page_service *s, mq_page *p) {
    (void)s;
    pg_snap_release(p->snap);
    p->snap = NULL;
}

/* What the profile did, as far as the page is concerned (not what it was shown). */
static uint64_t signature(const mq_state_view *v, bool have) {
    uint64_t h = 0x6d71706167650001ULL;
    if (!have)
        return h;
    for (size_t i = 0; i < v->n_titles; i++) {
        const mq_state_title *t = &v->titles[i];
        if (!t->plays && !t->thumb && !t->in_list && !(t->weight > 0) && !(t->negative > 0))
            continue; /* only shown */
        uint64_t x = (uint64_t)t->title_id | ((uint64_t)t->plays << 32) |
                     ((uint64_t)(t->thumb + 1) << 40) | ((uint64_t)t->in_list << 42) |
                     ((uint64_t)t->completed_ever << 43) | ((uint64_t)t->playing << 44) |
                     ((uint64_t)(uint32_t)(t->position_s / 30) << 45);
        /* Order-independent: the state's order is not part of what was done. */
        h += pg_mix(x);
    }
    for (size_t i = 0; i < v->n_searches; i++)
        h += pg_mix(mq_hash_bytes(v->searches[i].query, strlen(v->searches[i].query)) ^
                    v->searches[i].clicked);
    return pg_mix(h);
}

static void page_id(const mq_page_service *s, uint64_t seq, char *out, size_t n) {
    snprintf(out, n, "pg-%08" PRIx32 "-%" PRIx64, s->boot, seq);
}

static bool parse_cursor(const mq_page_service *s, const char *c, uint64_t *seq, size_t *row) {
    uint32_t boot;
    uint64_t q;
    unsigned long r;
    int used = 0;
    if (sscanf(c, "pg-%8" SCNx32 "-%" SCNx64 ".%lu%n", &boot, &q, &r, &used) != 3 ||
        c[used] != '\0' || boot != s->boot || r > MQ_PAGE_MAX_ROWS)
        return false;
    *seq = q;
    *row = r;
    return true;
}

static void finish(mq_page_service *s, const pg_layout *l, size_t from, size_t rows, mq_page *out) {
    page_id(s, l->seq, out->page_id, sizeof out->page_id);
    size_t end = from + rows;
    if (end < l->n_rows && s->p.cache_pages > 0)
        snprintf(out->next_cursor, sizeof out->next_cursor, "%s.%zu", out->page_id, end);
    else
        out->next_cursor[0] = '\0';
}

int mq_page_build(mq_page_service *s, const mq_page_request *rq, mq_arena *a, mq_page *out,
                  mq_err *err) {
    memset(out, 0, sizeof *out);
    size_t a0 = a->used_total;
    double t0 = mq_mono_s();
    pg_snap *snap = snap_acquire(s);
    out->snap = snap;
    pg_req q = {0};
    q.svc = s;
    q.p = &s->p;
    q.snap = snap;
    q.rq = rq;
    q.a = a;
    q.end = snap->end;
    q.policy = rq->policy >= 0 && rq->policy < MQ_PAGE_POLICY_COUNT ? (mq_page_policy)rq->policy
                                                                    : s->p.policy;
    q.fmt = mq_page_device_format(rq->device);
    int shown = rq->rows > 0 ? rq->rows : q.fmt.rows;
    q.rows = MQ_MIN(MQ_MAX(shown, q.fmt.rows), s->p.max_rows);
    shown = MQ_MIN(shown, q.rows);
    q.items = MQ_MIN(rq->items > 0 ? rq->items : q.fmt.items, s->p.max_items);
    q.session = rq->now_ms / ((int64_t)s->p.session_minutes * 60000);
    q.seed =
        pg_mix(s->p.seed ^
               pg_mix(rq->seed ^ pg_mix(((uint64_t)rq->profile_id << 32) ^ (uint64_t)q.session)));
    mq_rng_seed(&q.rng, q.seed, 0x706167);
    out->profile = rq->profile;
    out->device = rq->device;
    out->policy = q.policy;
    out->generated_ms = rq->now_ms;
    q.have_view =
        rq->state && rq->profile_id && mq_state_get(rq->state, rq->profile_id, rq->now_ms, &q.view);
    uint64_t sig = pg_mix(signature(&q.view, q.have_view) ^ pg_mix(snap->version) ^
                          pg_mix((uint64_t)rq->bundle_version ^ (uint64_t)(uintptr_t)rq->bundle) ^
                          ((uint64_t)q.policy << 8) ^ ((uint64_t)rq->device << 12) ^
                          ((uint64_t)q.rows << 16) ^ ((uint64_t)q.items << 32));
    pg_layout L = {0};
    bool reused = false;
    int rc = MQ_OK;
    if (!rq->fresh) {
        pg_layout prev;
        uint64_t last = pg_cache_latest(s->cache, rq->profile_id);
        if (last && pg_cache_get(s->cache, last, rq->now_ms, a, &prev) &&
            prev.profile == rq->profile_id && prev.signature == sig && prev.session == q.session) {
            L = prev;
            reused = true;
        }
    }
    double t1 = mq_mono_s(), t2 = t1;
    if (!reused) {
        q.bd = pg_bdata_get(snap, rq->bundle, rq->bundle_version);
        size_t e = q.end;
        q.u = mq_arena_alloc(a, e * sizeof *q.u);
        q.match = mq_arena_alloc(a, e * sizeof *q.match);
        q.key = mq_arena_alloc(a, e * sizeof *q.key);
        q.flags = mq_arena_alloc(a, e);
        q.use = mq_arena_alloc(a, e);
        q.theme_aff = mq_arena_alloc(a, ((size_t)snap->n_themes + 1) * sizeof *q.theme_aff);
        q.covered = mq_arena_alloc(a, (size_t)snap->n_themes + 1);
        if (!q.u || !q.match || !q.key || !q.flags || !q.use || !q.theme_aff || !q.covered) {
            rc = mq_err_set(err, MQ_ENOMEM, "page: the request arena is full");
            goto out;
        }
        memset(q.flags, 0, e);
        memset(q.use, 0, e);
        /* Every way pg_score scores (the ranker, the default model, popularity)
         * writes u and match for every title id from 1: only id 0 (no title) is
         * left, and 40 KB need not be written twice per page. */
        if (e) {
            q.u[0] = 0;
            q.match[0] = NAN;
        }
        memset(q.theme_aff, 0, ((size_t)snap->n_themes + 1) * sizeof *q.theme_aff);
        memset(q.covered, 0, (size_t)snap->n_themes + 1);
        if ((rc = pg_score(&q, err)))
            goto out;
        t2 = mq_mono_s();
        pg_build_candidates(&q);
        out->stats.candidates = q.cands.len;
        if ((rc = pg_assemble(&q, &L, err)))
            goto out;
        L.profile = rq->profile_id;
        L.device = (uint8_t)rq->device;
        L.policy = (uint8_t)q.policy;
        L.session = q.session;
        L.signature = sig;
        L.snap_version = snap->version;
        L.bundle = rq->bundle;
        L.bundle_version = rq->bundle_version;
        L.rows_req = q.rows;
        L.items_req = q.items;
    }
    L.seq = atomic_fetch_add(&s->seq, 1) + 1;
    L.created_ms = rq->now_ms;
    pg_cache_put(s->cache, &L, rq->now_ms);
    double t3 = mq_mono_s();
    pg_render_rows(&L, snap, a, 0, (size_t)shown, out);
    finish(s, &L, 0, (size_t)shown, out);
    out->stats.reused = reused;
    out->stats.score_us = (t2 - t1) * 1e6;
    out->stats.assemble_us = (t3 - t0) * 1e6;
    out->stats.render_us = (mq_mono_s() - t3) * 1e6;
out:
    if (q.have_view)
        mq_state_view_free(&q.view);
    mq_free(q.cands.items);
    pg_bdata_release(q.bd);
    out->stats.arena_bytes = a->used_total - a0;
    if (rc) {
        mq_page_done(s, out);
        memset(out, 0, sizeof *out);
    }
    return rc;
}

int mq_page_next(mq_page_service *s, const mq_page_request *rq, const char *cursor, int rows,
                 mq_arena *a, mq_page *out, mq_err *err) {
    memset(out, 0, sizeof *out);
    uint64_t seq;
    size_t from;
    if (!parse_cursor(s, cursor, &seq, &from))
        return mq_err_set(
            err, MQ_EINVAL,
            "cursor: expected the next_cursor of a page of this server, got \"%.64s\"", cursor);
    pg_layout L;
    if (!pg_cache_get(s->cache, seq, rq->now_ms, a, &L))
        return mq_err_set(err, MQ_ENOTFOUND,
                          "cursor: the page has expired (pages are kept %d s); ask for a new page",
                          s->p.cache_ttl_s);
    if (L.profile != rq->profile_id)
        return mq_err_set(err, MQ_EINVAL, "cursor: expected a page of profile %s", rq->profile);
    pg_snap *snap = snap_acquire(s);
    out->snap = snap;
    out->profile = rq->profile;
    out->device = (mq_device)L.device;
    out->policy = (mq_page_policy)L.policy;
    out->generated_ms = L.created_ms;
    size_t n = rows > 0 ? (size_t)rows : (size_t)mq_page_device_format(out->device).rows;
    pg_render_rows(&L, snap, a, from, n, out);
    finish(s, &L, from, out->n_rows, out);
    return MQ_OK;
}
