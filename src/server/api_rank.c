/* api_rank.c: the ranker's endpoints (issue 5; src/rank, docs/ranking.md).
 *
 *   GET /v1/profiles/{id}/recommendations?k=50&device=phone
 *       the profile's ranked titles with their score, match and reasons;
 *   GET /v1/profiles/{id}/titles/{title}?device=tv
 *       one title for one profile: the match score, the reasons, the labels and
 *       "more like this", personalized.
 *   Both take ?tz_offset_min=M (the device's offset from UTC, for the time of day).
 *
 * Both read the live state, which the writer updates before it answers an event,
 * so a thumbs down or a completed play posted a moment earlier already counts.
 * The bundle is the one being served (follow.c): a request holds a reference for
 * its whole duration, so a hot swap in the middle changes nothing for it; with no
 * bundle the answer is 503 with a message saying how to make one. Each worker
 * thread keeps one ranking workspace (mq_rank_ws), reused by every request. */
#include "rank/rank.h"
#include "server_impl.h"

#include <math.h>
#include <string.h>

#define K_DEFAULT 50
#define K_MAX 1000
#define MORE_LIKE_THIS 12

static pthread_key_t ws_key;
static pthread_once_t ws_once = PTHREAD_ONCE_INIT;

static void ws_free(void *p) {
    mq_rank_ws_destroy(p);
}

static void ws_init(void) {
    pthread_key_create(&ws_key, ws_free);
}

static mq_rank_ws *thread_ws(const mq_bundle *b) {
    pthread_once(&ws_once, ws_init);
    mq_rank_ws *ws = pthread_getspecific(ws_key);
    if (!ws) {
        ws = mq_rank_ws_create(b);
        pthread_setspecific(ws_key, ws);
    }
    return ws;
}

/* What every model endpoint needs first: the profile, the bundle, the context. */
typedef struct rank_req {
    mq_profile profile;
    mq_served_bundle *sb;
    const mq_ranker *rk;
    mq_rank_context ctx;
    mq_rank_settings set;
    mq_state_view v;
    bool have_view;
} rank_req;

static void rank_req_done(rank_req *q) {
    if (q->have_view)
        mq_state_view_free(&q->v);
    mq_server_bundle_release(q->sb);
}

static bool int_arg(mq_req *r, const char *name, int64_t lo, int64_t hi, int64_t *v) {
    const char *s = mq_req_query(r, name);
    if (!s)
        return true;
    if (!mq_parse_i64(s, v) || *v < lo || *v > hi) {
        mq_req_error(r, 400, "%s: expected an integer from %lld to %lld, got \"%.64s\"", name,
                     (long long)lo, (long long)hi, s);
        return false;
    }
    return true;
}

static bool begin(mq_req *r, rank_req *q) {
    memset(q, 0, sizeof *q);
    if (!mq_ext_id_valid(r->param)) {
        mq_req_error(r, 400, "path: profile id: expected 1-128 bytes without control characters");
        return false;
    }
    mq_device dev = MQ_DEVICE_UNKNOWN;
    const char *d = mq_req_query(r, "device");
    if (d) {
        int dv = mq_device_parse(d);
        if (dv < 0) {
            mq_req_error(r, 400, "device: expected tv, phone, tablet or web, got \"%.64s\"", d);
            return false;
        }
        dev = (mq_device)dv;
    }
    int64_t tz = 0;
    if (!int_arg(r, "tz_offset_min", -14 * 60, 14 * 60, &tz))
        return false;
    if (!mq_req_read_profile(r, &q->profile))
        return false;
    q->sb = mq_server_bundle_acquire(r->srv);
    if (!q->sb) {
        mq_req_error(r, 503,
                     "no bundle is served yet: run `marquee train` (it publishes one, and every "
                     "node loads it)");
        return false;
    }
    q->rk = mq_ranker_get(q->sb->b);
    int64_t now = mq_now_ms();
    mq_rank_context_init(&q->ctx, dev, now);
    q->ctx.tz_offset_min = (int)tz;
    q->ctx.country = q->profile.country;
    q->ctx.maturity_limit = q->profile.maturity_limit;
    if (r->srv->opt.config)
        mq_rank_settings_from_config(&q->set, r->srv->opt.config);
    else
        mq_rank_settings_default(&q->set);
    q->have_view = true;
    mq_state_get(r->srv->state, q->profile.id, now, &q->v);
    return true;
}

static json_t *reasons_json(const mq_ranker *rk, const mq_ranked *o) {
    json_t *a = json_array();
    for (int i = 0; i < o->n_reasons; i++) {
        char text[320];
        mq_rank_reason_text(rk, &o->reasons[i], NULL, NULL, text, sizeof text);
        json_t *e = json_object();
        json_object_set_new(e, "code", json_string(mq_rank_reason_code(o->reasons[i].kind)));
        json_t *t = json_string(text);
        json_object_set_new(e, "text", t ? t : json_string(mq_rank_reason_code(o->reasons[i].kind)));
        if (o->reasons[i].col != UINT32_MAX) {
            const char *ext = mq_bundle_title_ext(mq_ranker_bundle(rk), o->reasons[i].col);
            json_object_set_new(e, "title", json_string(ext ? ext : ""));
        }
        json_array_append_new(a, e);
    }
    return a;
}

static json_t *item_json(const mq_ranker *rk, const mq_ranked *o, bool with_reasons) {
    json_t *e = json_object();
    const char *ext = mq_bundle_title_ext(mq_ranker_bundle(rk), o->col);
    json_object_set_new(e, "title", json_string(ext ? ext : ""));
    json_t *nm = json_string(mq_ranker_title_name(rk, o->col));
    json_object_set_new(e, "name", nm ? nm : json_string(ext ? ext : ""));
    json_object_set_new(e, "score", json_real(isfinite(o->score) ? o->score : 0));
    json_object_set_new(e, "match", o->match_pct >= 0 ? json_integer(o->match_pct) : json_null());
    if (with_reasons)
        json_object_set_new(e, "reasons", reasons_json(rk, o));
    return e;
}

static void context_json(json_t *o, const rank_req *q) {
    json_object_set_new(o, "profile", json_string(q->profile.ext_id));
    json_object_set_new(o, "device", json_string(mq_device_name(q->ctx.device)));
    json_object_set_new(o, "ranker", json_string(mq_ranker_trained(q->rk) ? "trained"
                                                                         : "fallback blend"));
    if (!mq_ranker_trained(q->rk))
        json_object_set_new(o, "ranker_status", json_string(mq_ranker_status(q->rk)));
    json_object_set_new(o, "match_calibrated", json_boolean(mq_ranker_calibrated(q->rk)));
    json_object_set_new(o, "bundle_version", json_integer(q->sb->version));
}

mq_hres mq_h_recommendations(mq_req *r) {
    int64_t k = K_DEFAULT;
    if (!int_arg(r, "k", 1, K_MAX, &k))
        return MQ_H_DONE;
    rank_req q;
    if (!begin(r, &q)) {
        rank_req_done(&q);
        return MQ_H_DONE;
    }
    mq_ranked *out = mq_arena_alloc(&r->arena, (size_t)k * sizeof *out);
    mq_rank_ws *ws = thread_ws(q.sb->b);
    mq_err err = {0};
    long got = mq_rank_profile(q.rk, &q.v, &q.ctx, &q.set, ws, out, (size_t)k, &err);
    if (got < 0) {
        mq_req_error(r, 500, "ranking failed: %s", err.msg);
        rank_req_done(&q);
        return MQ_H_DONE;
    }
    json_t *o = json_object();
    context_json(o, &q);
    json_t *items = json_array();
    for (long i = 0; i < got; i++)
        json_array_append_new(items, item_json(q.rk, &out[i], true));
    json_object_set_new(o, "items", items);
    rank_req_done(&q);
    mq_req_json(r, 200, o);
    return MQ_H_DONE;
}

mq_hres mq_h_profile_title(mq_req *r) {
    if (!mq_ext_id_valid(r->param2)) {
        mq_req_error(r, 400, "path: title id: expected 1-128 bytes without control characters");
        return MQ_H_DONE;
    }
    rank_req q;
    if (!begin(r, &q)) {
        rank_req_done(&q);
        return MQ_H_DONE;
    }
    mq_title t;
    mq_err err = {0};
    if (!mq_req_read_title(r, r->param2, &t)) {
        rank_req_done(&q);
        return MQ_H_DONE;
    }
    const mq_bundle *b = q.sb->b;
    uint32_t col = mq_bundle_col(b, t.id);
    json_t *o = json_object();
    context_json(o, &q);
    json_object_set_new(o, "title", json_string(t.ext_id));
    json_object_set_new(o, "name", json_string(t.name ? t.name : t.ext_id));
    json_t *labels = json_array();
    for (uint32_t i = 0; i < t.labels.n; i++)
        json_array_append_new(labels, json_string(t.labels.items[i]));
    mq_rank_ws *ws = thread_ws(b);
    json_t *reasons = NULL, *more = json_array();
    if (col == UINT32_MAX) {
        /* Added after the bundle was trained: nothing to say about it yet. */
        json_object_set_new(o, "match", json_null());
        json_object_set_new(o, "match_probability", json_null());
        json_object_set_new(o, "score", json_null());
        json_object_set_new(o, "in_bundle", json_false());
        reasons = json_array();
    } else {
        mq_ranked one;
        if (mq_rank_titles(q.rk, &q.v, &q.ctx, &q.set, &col, 1, ws, &one, &err)) {
            json_decref(o);
            json_decref(labels);
            json_decref(more);
            mq_req_error(r, 500, "ranking failed: %s", err.msg);
            rank_req_done(&q);
            return MQ_H_DONE;
        }
        json_object_set_new(o, "match", one.match_pct >= 0 ? json_integer(one.match_pct)
                                                          : json_null());
        json_object_set_new(o, "match_probability",
                            one.match == one.match && one.match >= 0 ? json_real(one.match)
                                                                     : json_null());
        json_object_set_new(o, "score", json_real(isfinite(one.score) ? one.score : 0));
        json_object_set_new(o, "in_bundle", json_true());
        reasons = reasons_json(q.rk, &one);
        /* Labels the ranker can vouch for, beside the catalogue's own. */
        for (int i = 0; i < one.n_reasons; i++) {
            const char *lab = one.reasons[i].kind == MQ_REASON_NEW        ? "New"
                              : one.reasons[i].kind == MQ_REASON_TRENDING ? "Trending Now"
                                                                          : NULL;
            bool dup = false;
            for (size_t j = 0; lab && j < json_array_size(labels); j++)
                dup |= strcmp(json_string_value(json_array_get(labels, j)), lab) == 0;
            if (lab && !dup)
                json_array_append_new(labels, json_string(lab));
        }
        mq_ranked sim[MORE_LIKE_THIS];
        long got = mq_rank_similar(q.rk, col, &q.v, &q.ctx, &q.set, ws, sim, MORE_LIKE_THIS, &err);
        for (long i = 0; i < got; i++)
            json_array_append_new(more, item_json(q.rk, &sim[i], false));
    }
    json_object_set_new(o, "reasons", reasons);
    json_object_set_new(o, "labels", labels);
    json_object_set_new(o, "more_like_this", more);
    mq_server_assets_title_json(r->srv, r, q.profile.id, &q.ctx, &t, o);
    rank_req_done(&q);
    mq_req_json(r, 200, o);
    return MQ_H_DONE;
}
