/* features.c: the feature table (MQ_RANK_FEATURES, rank.h) and how one request
 * becomes feature vectors. rk_prepare does the per-request work once: the live
 * history into bundle columns, every candidate model's scores over the whole
 * catalogue (fold-in for iALS included) and each title's rank under each, the
 * profile's genre shares and content centroid, the kNN neighbourhoods of its most
 * recent plays and of its thumbs, its device and hour habits, and the context.
 * rk_features is then a few loads per candidate. Scratch indexed by column is
 * reset by rk_finish, touching only what was set, so a request costs what its
 * profile has, not what the catalogue has (beyond the model scores). */
#include "rank_impl.h"

#include <pthread.h>
#include <stdlib.h>

static const char *const feat_names[] = {
#define MQ_RF_NAME(e, name, doc) name,
    MQ_RANK_FEATURES(MQ_RF_NAME)
#undef MQ_RF_NAME
};
static const char *const feat_docs[] = {
#define MQ_RF_DOC(e, name, doc) doc,
    MQ_RANK_FEATURES(MQ_RF_DOC)
#undef MQ_RF_DOC
};

const char *mq_rank_feature_name(mq_rank_feature f) {
    return (unsigned)f < MQ_RF_COUNT ? feat_names[f] : "unknown";
}

const char *mq_rank_feature_doc(mq_rank_feature f) {
    return (unsigned)f < MQ_RF_COUNT ? feat_docs[f] : "";
}

/* ------------------------------------------------------------- workspace ---- */

mq_rank_ws *mq_rank_ws_create(const mq_bundle *b) {
    mq_rank_ws *ws = mq_calloc(1, sizeof *ws);
    for (int k = 0; k < MQ_MODEL_COUNT; k++)
        ws->best[k] = mq_malloc(RK_RANK_CAP * sizeof *ws->best[k]);
    if (b)
        rk_ws_fit(ws, mq_ranker_get(b));
    return ws;
}

static void free_cols(mq_rank_ws *ws) {
    for (int k = 0; k < MQ_MODEL_COUNT; k++) {
        mq_free(ws->scores[k]);
        mq_free(ws->rank[k]);
        ws->scores[k] = NULL;
        ws->rank[k] = NULL;
    }
    mq_free(ws->sim_recent);
    mq_free(ws->sim_up);
    mq_free(ws->sim_down);
    mq_free(ws->sim_ign);
    mq_free(ws->src_recent);
    mq_free(ws->src_up);
    mq_free(ws->hist_at);
    mq_free(ws->country_rank);
    mq_free(ws->in_cand);
    mq_free(ws->cand_bits);
}

void mq_rank_ws_destroy(mq_rank_ws *ws) {
    if (!ws)
        return;
    free_cols(ws);
    mq_model_ws_destroy(ws->mws);
    for (int k = 0; k < MQ_MODEL_COUNT; k++)
        mq_free(ws->best[k]);
    mq_free(ws->touched.items);
    mq_free(ws->scattered.items);
    mq_free(ws->hist.items);
    mq_free(ws->hist_title.items);
    mq_free(ws->hist_ign.items);
    mq_free(ws->cen);
    mq_free(ws->cand.items);
    mq_free(ws->cand_cols.items);
    mq_free(ws->x.items);
    mq_free(ws->out_score.items);
    mq_free(ws->out_margin.items);
    mq_free(ws->order.items);
    mq_free(ws->saved.items);
    mq_free(ws->keys.items);
    mq_free(ws->excl.items);
    mq_free(ws);
}

void rk_ws_fit(mq_rank_ws *ws, const mq_ranker *rk) {
    uint32_t n = rk->n;
    if (n > ws->cap) {
        free_cols(ws);
        uint32_t c = n;
        /* Every rank starts unranked (RK_RANK_CAP); rk_prepare sets the ranked
         * few and puts them back at the next request. */
        for (int k = 0; k < MQ_MODEL_COUNT; k++) {
            ws->scores[k] = mq_malloc((size_t)c * sizeof(float));
            ws->rank[k] = mq_malloc((size_t)c * sizeof(uint16_t));
            for (uint32_t i = 0; i < c; i++)
                ws->rank[k][i] = RK_RANK_CAP;
            ws->n_best[k] = 0;
        }
        ws->sim_recent = mq_calloc(c, sizeof(float));
        ws->sim_up = mq_calloc(c, sizeof(float));
        ws->sim_down = mq_calloc(c, sizeof(float));
        ws->sim_ign = mq_calloc(c, sizeof(float));
        ws->src_recent = mq_calloc(c, sizeof(uint32_t));
        ws->src_up = mq_calloc(c, sizeof(uint32_t));
        ws->hist_at = mq_malloc(c * sizeof(int32_t));
        for (uint32_t i = 0; i < c; i++)
            ws->hist_at[i] = -1;
        ws->country_rank = mq_calloc(c, sizeof(uint16_t));
        ws->in_cand = mq_calloc(c, sizeof *ws->in_cand);
        ws->cand_bits = mq_calloc((size_t)c / 64 + 1, sizeof *ws->cand_bits);
        ws->cap = c;
    }
    /* The model workspace depends on the bundle's shapes only. */
    int k = 0;
    mq_bundle_item_factors(rk->b, &k);
    if (!ws->mws || ws->mws_n != n || ws->mws_k != (uint32_t)k ||
        ws->mws_feats != rk->n_feats || ws->sized_for != rk->b) {
        mq_model_ws_destroy(ws->mws);
        ws->mws = mq_model_ws_create(rk->b);
        ws->mws_n = n;
        ws->mws_k = (uint32_t)k;
        ws->mws_feats = rk->n_feats;
        ws->sized_for = rk->b;
    }
    if (rk->n_feats > ws->centroid_cap) {
        mq_free(ws->cen);
        ws->cen = mq_calloc((size_t)rk->n_feats * RK_CEN_COUNT, sizeof(float));
        ws->centroid_cap = rk->n_feats;
    }
}

/* ------------------------------------------------------------- preparing ---- */

void mq_rank_context_init(mq_rank_context *c, mq_device device, int64_t now_ms) {
    memset(c, 0, sizeof *c);
    c->device = device;
    c->weekday = -1;
    c->hour = -1;
    c->now_ms = now_ms;
}

static void touch(mq_rank_ws *ws, uint32_t col) {
    MQ_VEC_PUSH(&ws->touched, col);
}

/* History titles ahead whose kNN rows are prefetched. */
#define KNN_AHEAD 4

/* Scatters the kNN row of `src` into sim[] (max), remembering the source. The
 * row's targets are distinct, so each step is a load, a max and a store with no
 * branch to mispredict; rk_finish walks the row again to clear what it set. */
static void scatter_knn(mq_rank_ws *ws, const mq_ranker *rk, uint32_t src, float scale, float *sim,
                        uint32_t *from) {
    if (!rk->knn_ptr)
        return;
    uint64_t a = rk->knn_ptr[src], z = rk->knn_ptr[src + 1];
    MQ_VEC_PUSH(&ws->scattered, ((rk_scatter){sim, rk->knn_idx + a, (size_t)(z - a)}));
    if (from) {
        for (uint64_t q = a; q < z; q++) {
            uint32_t j = rk->knn_idx[q];
            float w = rk->knn_w[q] * scale, old = sim[j];
            uint32_t gt = -(uint32_t)(w > old); /* a mask: the compiler keeps it a select */
            sim[j] = w > old ? w : old;
            from[j] ^= (from[j] ^ src) & gt;
        }
    } else {
        for (uint64_t q = a; q < z; q++) {
            uint32_t j = rk->knn_idx[q];
            float w = rk->knn_w[q] * scale, old = sim[j];
            sim[j] = w > old ? w : old;
        }
    }
}

typedef struct {
    int64_t t;
    uint32_t col;
} recent_item;

static int by_recent(const void *a, const void *b) {
    const recent_item *x = a, *y = b;
    return x->t > y->t ? -1 : x->t < y->t;
}

bool rk_too_mature(const mq_ranker *rk, const mq_rank_context *ctx, uint32_t col) {
    if (!rk->titles || ctx->maturity_limit <= 0 || ctx->maturity_limit >= 18)
        return false;
    return rk->titles[col].maturity > ctx->maturity_limit;
}

bool rk_excluded(const mq_ranker *rk, const mq_rank_ws *ws, uint32_t col) {
    (void)rk;
    int32_t h = ws->hist_at[col];
    if (h < 0 || !ws->v)
        return false;
    const mq_state_title *t = &ws->v->titles[ws->hist_title.items[h]];
    if (t->thumb < 0)
        return true;
    if (mq_state_title_continue(t) || t->in_list)
        return false;
    /* Anything played (finished, abandoned or rated) is not recommended again. */
    return t->plays > 0 || t->completed_ever || t->weight > 0 || t->negative > 0;
}

/* ---------------------------------------------------------------- ranks ---- */

/* rank[c] = position of column c in the descending order of s (ties by lower
 * column), for the best `cap`, which go into best[] in that order; the others
 * keep what the caller set. Returns how many were ranked. A radix
 * selection finds the cap-th score and a radix sort orders the few above it
 * (mq_topk_radix): linear in n, where a heap of `cap` costs n log(cap).
 * -INFINITY is never ranked. */
static size_t rk_ranks(mq_rank_ws *ws, const float *s, uint32_t n, size_t cap, uint16_t *rank,
                       uint32_t *best) {
    MQ_VEC_RESERVE(&ws->keys, mq_topk_scratch_len(n));
    size_t got = mq_topk_radix(s, n, MQ_MIN(cap, (size_t)RK_RANK_CAP), best, NULL, ws->keys.items);
    for (size_t i = 0; i < got; i++)
        rank[best[i]] = (uint16_t)i;
    return got;
}

/* Scales one of the interleaved centroids (c[RK_CEN_COUNT * f], f < n) to unit
 * length, unless it is zero. */
static void normalize_centroid(float *c, uint32_t n) {
    double nn = 0;
    for (uint32_t f = 0; f < n; f++)
        nn += (double)c[RK_CEN_COUNT * f] * c[RK_CEN_COUNT * f];
    if (nn > 0) {
        float inv = (float)(1 / sqrt(nn));
        for (uint32_t f = 0; f < n; f++)
            c[RK_CEN_COUNT * f] *= inv;
    }
}

int rk_prepare(const mq_ranker *rk, const mq_state_view *v, const mq_rank_context *ctx,
               const mq_rank_settings *s, mq_rank_ws *ws, mq_err *err) {
    rk_ws_fit(ws, rk);
    const mq_bundle *b = rk->b;
    uint32_t n = rk->n;
    ws->v = v;
    ws->ctx = *ctx;
    if (!ws->ctx.now_ms)
        ws->ctx.now_ms = mq_now_ms();
    int wd = ctx->weekday, hr = ctx->hour;
    if (wd < 0 || hr < 0 || wd > 6 || hr > 23) {
        int w2, h2;
        mq_time_local(ws->ctx.now_ms, ctx->tz_offset_min, &w2, &h2);
        if (wd < 0 || wd > 6)
            wd = w2;
        if (hr < 0 || hr > 23)
            hr = h2;
    }
    ws->new_days = s && s->new_days > 0 ? s->new_days : 30;
    ws->weekday = wd;
    ws->hour = hr;
    ws->slot = rk_slot(hr);
    ws->weekend = wd >= 5;
    ws->country = rk_country_index(rk, ctx->country);

    /* History in bundle columns. */
    ws->hist.len = 0;
    ws->hist_title.len = 0;
    size_t n_hist_titles = 0;
    if (v) {
        for (size_t i = 0; i < v->n_titles; i++) {
            uint32_t col = mq_bundle_col(b, v->titles[i].title_id);
            if (col == UINT32_MAX)
                continue;
            mq_hist_item h = {col, (float)v->titles[i].weight, (float)v->titles[i].negative};
            ws->hist_at[col] = (int32_t)ws->hist.len;
            touch(ws, col);
            MQ_VEC_PUSH(&ws->hist, h);
            MQ_VEC_PUSH(&ws->hist_title, (uint32_t)i);
            n_hist_titles += v->titles[i].weight > 0 || v->titles[i].plays > 0;
        }
    }
    ws->hist_size = logf(1.0f + (float)n_hist_titles);

    ws->excl.len = 0;
    for (size_t i = 0; i < ws->hist.len; i++)
        if (rk_excluded(rk, ws, ws->hist.items[i].col))
            MQ_VEC_PUSH(&ws->excl, ws->hist.items[i].col);

    /* Every model's scores and ranks. Between requests every rank is
     * RK_RANK_CAP but those of the previous request's best[k], which are put
     * back first: a few hundred stores where resetting the catalogue costs n per
     * model. */
    for (int k = 0; k < MQ_MODEL_COUNT; k++) {
        uint16_t *rank = ws->rank[k];
        for (uint32_t i = 0; i < ws->n_best[k]; i++)
            rank[ws->best[k][i]] = RK_RANK_CAP;
        ws->n_best[k] = 0;
        if (!(rk->models & (1u << k)))
            continue;
        int rc = mq_model_score(b, (mq_model_kind)k, ws->hist.items, ws->hist.len, ws->scores[k],
                                ws->mws, err);
        if (rc)
            return rc;
        float *sc = ws->scores[k];
        if (ws->lazy_ranks)
            continue; /* counted per title in rk_features */
        /* Ranks among what could be shown: excluded titles take no place. */
        size_t cap = MQ_MIN((size_t)RK_RANK_CAP, (size_t)n);
        const float *fixed =
            mq_model_fixed_scores(b, (mq_model_kind)k, ws->hist.items, ws->hist.len);
        const uint32_t *ord = NULL;
        uint32_t n_ord = 0;
        if (fixed && fixed == rk->popular) {
            ord = rk->pop_order;
            n_ord = rk->n_pop_order;
        } else if (fixed && fixed == rk->trending) {
            ord = rk->trend_order;
            n_ord = rk->n_trend_order;
        }
        if (ord) {
            /* The bundle's order, less the excluded titles. */
            uint16_t r = 0;
            for (uint32_t i = 0; i < n_ord && r < cap; i++)
                if (!rk_excluded(rk, ws, ord[i])) {
                    ws->best[k][r] = ord[i];
                    rank[ord[i]] = r++;
                }
            ws->n_best[k] = r;
            continue;
        }
        /* Masked for the selection and put back after. */
        MQ_VEC_RESERVE(&ws->saved, ws->excl.len + 1);
        for (size_t i = 0; i < ws->excl.len; i++) {
            ws->saved.items[i] = sc[ws->excl.items[i]];
            sc[ws->excl.items[i]] = -INFINITY;
        }
        ws->n_best[k] = (uint32_t)rk_ranks(ws, sc, n, cap, rank, ws->best[k]);
        for (size_t i = ws->excl.len; i-- > 0;)
            sc[ws->excl.items[i]] = ws->saved.items[i];
    }

    /* Genre shares and the content centroid. */
    memset(ws->genre_pos, 0, sizeof ws->genre_pos);
    memset(ws->genre_neg, 0, sizeof ws->genre_neg);
    if (rk->n_feats)
        memset(ws->cen, 0, (size_t)rk->n_feats * RK_CEN_COUNT * sizeof(float));
    /* Shown and not played: per genre and as a content centroid. */
    float gshow[RK_MAX_GENRES + 1] = {0}, gplay[RK_MAX_GENRES + 1] = {0};
    double tshow = 0, tplay = 0;
    for (size_t i = 0; v && i < ws->hist.len; i++) {
        const mq_state_title *st = &v->titles[ws->hist_title.items[i]];
        uint32_t col = ws->hist.items[i].col;
        float ign = (float)st->signal[MQ_SIG_IMPRESSION_NO_PLAY];
        float pl = st->plays > 0 || st->weight > 0 ? 1.0f : 0.0f;
        tshow += ign;
        tplay += pl;
        if (rk->titles)
            for (int g = 0; g < RK_TITLE_GENRES && rk->titles[col].genre[g]; g++) {
                gshow[rk->titles[col].genre[g]] += ign;
                gplay[rk->titles[col].genre[g]] += pl;
            }
        if (rk->content_ptr && ign > 0)
            for (uint64_t q = rk->content_ptr[col]; q < rk->content_ptr[col + 1]; q++)
                ws->cen[RK_CEN_COUNT * rk->content_idx[q] + RK_CEN_SHOWN] += ign * rk->content_w[q];
    }
    float base = (float)((tplay + 1) / (tplay + tshow + 2));
    for (int g = 0; g <= RK_MAX_GENRES; g++)
        ws->genre_take[g] = (gplay[g] + 2 * base) / (gplay[g] + gshow[g] + 2);
    double wpos = 0, wneg = 0, ysum = 0, yw = 0;
    for (size_t i = 0; i < ws->hist.len; i++) {
        const mq_hist_item *h = &ws->hist.items[i];
        if (rk->titles)
            for (int g = 0; g < RK_TITLE_GENRES && rk->titles[h->col].genre[g]; g++) {
                ws->genre_pos[rk->titles[h->col].genre[g]] += h->conf;
                ws->genre_neg[rk->titles[h->col].genre[g]] += h->neg;
            }
        wpos += h->conf;
        wneg += h->neg;
        if (rk->content_ptr && h->conf != h->neg) {
            int which = h->conf > h->neg ? RK_CEN_POS : RK_CEN_NEG;
            float wt = fabsf(h->conf - h->neg);
            for (uint64_t q = rk->content_ptr[h->col]; q < rk->content_ptr[h->col + 1]; q++)
                ws->cen[RK_CEN_COUNT * rk->content_idx[q] + which] += wt * rk->content_w[q];
        }
        if (rk->titles && rk->titles[h->col].year && h->conf > h->neg) {
            ysum += (double)(h->conf - h->neg) * rk->titles[h->col].year;
            yw += h->conf - h->neg;
        }
    }
    ws->mean_year = yw > 0 ? (float)(ysum / yw) : 0;
    for (int g = 0; g <= RK_MAX_GENRES; g++) {
        ws->genre_pos[g] = wpos > 0 ? (float)(ws->genre_pos[g] / wpos) : 0;
        ws->genre_neg[g] = wneg > 0 ? (float)(ws->genre_neg[g] / wneg) : 0;
    }
    for (int which = RK_CEN_POS; which <= RK_CEN_SHOWN; which++)
        normalize_centroid(ws->cen + which, rk->n_feats);

    /* The most recent plays, and the thumbs: kNN neighbourhoods. */
    int R = s && s->recent > 0 ? s->recent : 5;
    recent_item rec[64];
    int nr = 0;
    if (v) {
        for (size_t i = 0; i < ws->hist.len; i++) {
            /* The history's kNN rows are scattered over the bundle: ask for the
             * row offsets some titles ahead and the rows ahead of those, so their
             * misses overlap with the scattering of the rows before. */
            if (rk->knn_ptr && i + 2 * KNN_AHEAD < ws->hist.len)
                __builtin_prefetch(&rk->knn_ptr[ws->hist.items[i + 2 * KNN_AHEAD].col]);
            if (rk->knn_ptr && i + KNN_AHEAD < ws->hist.len) {
                uint64_t q = rk->knn_ptr[ws->hist.items[i + KNN_AHEAD].col];
                __builtin_prefetch(&rk->knn_idx[q]);
                __builtin_prefetch(&rk->knn_w[q]);
            }
            const mq_state_title *t = &v->titles[ws->hist_title.items[i]];
            uint32_t col = ws->hist.items[i].col;
            double ign = t->signal[MQ_SIG_IMPRESSION_NO_PLAY];
            if (ign > 0)
                scatter_knn(ws, rk, col, (float)(MQ_MIN(ign, 3) / 3), ws->sim_ign, NULL);
            if (t->thumb > 0)
                scatter_knn(ws, rk, col, 1, ws->sim_up, ws->src_up);
            else if (t->thumb < 0)
                scatter_knn(ws, rk, col, 1, ws->sim_down, NULL);
            if (t->plays == 0 && !(t->weight > 0))
                continue;
            recent_item it = {t->last_ms, col};
            if (nr < (int)MQ_ARRAY_LEN(rec)) {
                rec[nr++] = it;
            } else {
                int oldest = 0;
                for (int j = 1; j < nr; j++)
                    if (rec[j].t < rec[oldest].t)
                        oldest = j;
                if (it.t > rec[oldest].t)
                    rec[oldest] = it;
            }
        }
    }
    qsort(rec, (size_t)nr, sizeof *rec, by_recent);
    if (nr > R)
        nr = R;
    for (int i = 0; i < nr; i++) {
        scatter_knn(ws, rk, rec[i].col, 1, ws->sim_recent, ws->src_recent);
        if (rk->content_ptr)
            for (uint64_t q = rk->content_ptr[rec[i].col]; q < rk->content_ptr[rec[i].col + 1]; q++)
                ws->cen[RK_CEN_COUNT * rk->content_idx[q] + RK_CEN_RECENT] += rk->content_w[q];
    }
    normalize_centroid(ws->cen + RK_CEN_RECENT, rk->n_feats);
    ws->have_recent_vec = false;
    if (rk->Y && rk->factors > 0 && rk->factors <= (int)MQ_ARRAY_LEN(ws->recent_vec) && nr > 0) {
        int f = rk->factors;
        memset(ws->recent_vec, 0, (size_t)f * sizeof(float));
        for (int i = 0; i < nr; i++) {
            const float *y = rk->Y + (size_t)rec[i].col * (size_t)f;
            double nn = 0;
            for (int d = 0; d < f; d++)
                nn += (double)y[d] * y[d];
            if (nn <= 0)
                continue;
            float inv = (float)(1 / sqrt(nn));
            for (int d = 0; d < f; d++)
                ws->recent_vec[d] += y[d] * inv;
        }
        double nn = 0;
        for (int d = 0; d < f; d++)
            nn += (double)ws->recent_vec[d] * ws->recent_vec[d];
        if (nn > 0) {
            float inv = (float)(1 / sqrt(nn));
            for (int d = 0; d < f; d++)
                ws->recent_vec[d] *= inv;
            ws->have_recent_vec = true;
        }
    }

    /* iALS again, the titles shown without a play as weak negatives. */
    ws->have_ign_vec = false;
    if (rk->Y && rk->factors > 0 && rk->factors <= (int)MQ_ARRAY_LEN(ws->ign_vec) && v) {
        ws->hist_ign.len = 0;
        bool any = false;
        for (size_t i = 0; i < ws->hist.len; i++) {
            mq_hist_item h = ws->hist.items[i];
            double ign = v->titles[ws->hist_title.items[i]].signal[MQ_SIG_IMPRESSION_NO_PLAY];
            if (ign > 0 && !(h.conf > 0)) {
                h.neg += (float)MQ_MIN(0.25 * ign, 1.0);
                any = true;
            }
            MQ_VEC_PUSH(&ws->hist_ign, h);
        }
        if (any) {
            mq_err e2 = {0};
            ws->have_ign_vec = mq_model_foldin(b, ws->hist_ign.items, ws->hist_ign.len,
                                               ws->ign_vec, ws->mws, &e2) == MQ_OK;
        }
    }

    /* Habits. */
    ws->device_share = ws->hour_share = 0;
    if (v) {
        double tot = 0, hs = 0;
        for (int d = 0; d < MQ_DEVICE_COUNT; d++)
            tot += v->device[d];
        if (tot > 0 && (unsigned)ctx->device < MQ_DEVICE_COUNT)
            ws->device_share = v->device[ctx->device] / tot;
        tot = 0;
        for (int h = 0; h < 24; h++) {
            tot += v->hour[h];
            int dh = abs(h - hr);
            if (dh > 12)
                dh = 24 - dh;
            if (dh <= 2)
                hs += v->hour[h];
        }
        ws->hour_share = tot > 0 ? hs / tot : 0;
    }

    /* Country popularity. */
    if (ws->country >= 0 && rk->country_top) {
        const uint32_t *top = rk->country_top + (size_t)ws->country * RK_COUNTRY_TOP;
        for (int i = 0; i < RK_COUNTRY_TOP; i++) {
            if (top[i] >= n)
                break;
            if (!ws->country_rank[top[i]])
                touch(ws, top[i]);
            ws->country_rank[top[i]] = (uint16_t)(i + 1);
        }
    }
    return MQ_OK;
}

void rk_finish(mq_rank_ws *ws) {
    for (size_t i = 0; i < ws->scattered.len; i++) {
        const rk_scatter *sc = &ws->scattered.items[i];
        for (size_t q = 0; q < sc->len; q++)
            sc->sim[sc->idx[q]] = 0;
    }
    ws->scattered.len = 0;
    for (size_t i = 0; i < ws->touched.len; i++) {
        uint32_t c = ws->touched.items[i];
        ws->hist_at[c] = -1;
        ws->country_rank[c] = 0;
        ws->in_cand[c] = 0;
    }
    ws->touched.len = 0;
    for (size_t i = 0; i < ws->cand.len; i++)
        ws->in_cand[ws->cand.items[i]] = 0;
}

typedef float v4f __attribute__((vector_size(16)));

/* log2(1 + r) for every rank up to the cap, computed once. */
static float lrank_table[RK_RANK_CAP + 1];
static pthread_once_t lrank_once = PTHREAD_ONCE_INIT;

static void lrank_init(void) {
    for (int r = 0; r <= RK_RANK_CAP; r++)
        lrank_table[r] = log2f(1.0f + (float)r);
}

static float lrank(uint16_t r) {
    return lrank_table[r <= RK_RANK_CAP ? r : RK_RANK_CAP];
}

/* Dot products of y with two vectors, in 8 lanes (vectorized by the compiler).
 * Built for AVX2 too, where the 8 lanes are one register instead of two halves
 * spilled around every step; contraction off, every lane does the same multiply
 * then add on every CPU, so the sums are the same bits. */
typedef float v8f __attribute__((vector_size(32)));

#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define DOT_CLONES                                                                                 \
    __attribute__((target_clones("arch=x86-64-v3", "default"), optimize("fp-contract=off")))
#else
#define DOT_CLONES __attribute__((optimize("fp-contract=off")))
#endif

DOT_CLONES static void dot2(const float *y, const float *a, const float *b, int k, float *da,
                            float *db) {
    v8f sa = {0}, sb = {0};
    int i = 0;
    for (; i + 8 <= k; i += 8) {
        v8f vy, va, vb;
        memcpy(&vy, y + i, sizeof vy);
        memcpy(&va, a + i, sizeof va);
        memcpy(&vb, b + i, sizeof vb);
        sa += vy * va;
        sb += vy * vb;
    }
    float ra = 0, rb = 0;
    for (int j = 0; j < 8; j++) {
        ra += sa[j];
        rb += sb[j];
    }
    for (; i < k; i++) {
        ra += y[i] * a[i];
        rb += y[i] * b[i];
    }
    *da = ra;
    *db = rb;
}

/* The rank rk_ranks would give col under model k, by counting: for the few titles
 * of a logged page this is cheaper than ordering the catalogue. */
static uint16_t count_rank(const mq_ranker *rk, const mq_rank_ws *ws, int k, uint32_t col) {
    const float *s = ws->scores[k];
    float v = s[col];
    for (size_t i = 0; i < ws->excl.len; i++)
        if (ws->excl.items[i] == col)
            return RK_RANK_CAP;
    uint32_t above = 0, tied = 0;
    for (uint32_t j = 0; j < rk->n; j++)
        above += s[j] > v;
    for (uint32_t j = 0; j < col; j++)
        tied += s[j] == v;
    uint32_t r = above + tied;
    for (size_t i = 0; i < ws->excl.len; i++) {
        uint32_t j = ws->excl.items[i];
        r -= s[j] > v || (s[j] == v && j < col);
    }
    return (uint16_t)MQ_MIN(r, (uint32_t)RK_RANK_CAP);
}

void rk_features_prefetch_far(const mq_ranker *rk, uint32_t col) {
    if (rk->titles)
        __builtin_prefetch(&rk->titles[col]);
    if (rk->content_ptr)
        __builtin_prefetch(&rk->content_ptr[col]);
}

void rk_features_prefetch(const mq_ranker *rk, uint32_t col) {
    if (rk->content_ptr) {
        uint64_t q = rk->content_ptr[col], z = rk->content_ptr[col + 1];
        mq_prefetch(&rk->content_idx[q], (size_t)(z - q) * sizeof *rk->content_idx);
        mq_prefetch(&rk->content_w[q], (size_t)(z - q) * sizeof *rk->content_w);
    }
    if (rk->Y)
        mq_prefetch(rk->Y + (size_t)col * (size_t)rk->factors, (size_t)rk->factors * sizeof(float));
}

void rk_features(const mq_ranker *rk, const mq_rank_ws *ws, uint32_t col, float *x) {
    pthread_once(&lrank_once, lrank_init);
    for (int k = 0; k < MQ_MODEL_COUNT; k++) {
        bool has = rk->models & (1u << k);
        x[MQ_RF_SCORE_POPULAR + k] = has ? ws->scores[k][col] : 0;
        uint16_t r = !has ? RK_RANK_CAP : ws->lazy_ranks ? count_rank(rk, ws, k, col)
                                                       : ws->rank[k][col];
        x[MQ_RF_RANK_POPULAR + k] = lrank(r);
    }
    const rk_title *t = rk->titles ? &rk->titles[col] : NULL;
    float gp = 0, gn = 0;
    int ng = 0;
    if (t)
        for (; ng < RK_TITLE_GENRES && t->genre[ng]; ng++) {
            gp += ws->genre_pos[t->genre[ng]];
            gn += ws->genre_neg[t->genre[ng]];
        }
    x[MQ_RF_GENRE_AFFINITY] = ng ? gp / (float)ng : 0;
    x[MQ_RF_GENRE_NEGATIVE] = ng ? gn / (float)ng : 0;
    float th = 0, tn = 0, ti = 0, tr = 0;
    if (rk->content_ptr) {
        /* Four lanes, one per centroid, each a multiply then an add as before. */
        v4f acc = {0, 0, 0, 0};
        for (uint64_t q = rk->content_ptr[col]; q < rk->content_ptr[col + 1]; q++) {
            v4f c;
            memcpy(&c, ws->cen + RK_CEN_COUNT * (size_t)rk->content_idx[q], sizeof c);
            acc += rk->content_w[q] * c;
        }
        th = acc[0];
        tn = acc[1];
        ti = acc[2];
        tr = acc[3];
    }
    x[MQ_RF_THEME_RECENT] = tr;
    x[MQ_RF_THEME_AFFINITY] = th;
    x[MQ_RF_THEME_NEGATIVE] = tn;
    x[MQ_RF_THEME_IGNORED] = ti;
    float gt = 0;
    int ngt = 0;
    if (t)
        for (; ngt < RK_TITLE_GENRES && t->genre[ngt]; ngt++)
            gt += ws->genre_take[t->genre[ngt]];
    x[MQ_RF_GENRE_TAKE_RATE] = ngt ? gt / (float)ngt : 0;
    x[MQ_RF_YEAR_DIFF] = t && t->year && ws->mean_year > 0 ? (float)t->year - ws->mean_year : 0;
    x[MQ_RF_SIM_RECENT] = ws->sim_recent[col];
    float sf = 0, si = x[MQ_RF_SCORE_IALS];
    if (rk->Y && (ws->have_recent_vec || ws->have_ign_vec)) {
        const float *y = rk->Y + (size_t)col * (size_t)rk->factors;
        float dr, di;
        dot2(y, ws->recent_vec, ws->ign_vec, rk->factors, &dr, &di);
        if (ws->have_recent_vec && rk->inv_norm)
            sf = dr * rk->inv_norm[col];
        if (ws->have_ign_vec)
            si = di;
    }
    x[MQ_RF_SIM_RECENT_FACTORS] = sf;
    x[MQ_RF_SIM_IGNORED] = ws->sim_ign[col];
    x[MQ_RF_SCORE_IALS_IGNORED] = si;
    x[MQ_RF_POPULARITY] = rk->log_pop[col];
    x[MQ_RF_TRENDING] = rk->trending ? rk->trending[col] : 0;
    x[MQ_RF_TAKE_RATE] = t ? t->take_rate : 0;
    x[MQ_RF_IMPRESSIONS] = rk->log_imp[col];
    x[MQ_RF_COUNTRY_POPULARITY] =
        ws->country_rank[col] ? lrank((uint16_t)(ws->country_rank[col] - 1)) : lrank(RK_RANK_CAP);
    float age = -1;
    if (t && t->added_ms > 0)
        age = (float)((double)(ws->ctx.now_ms - t->added_ms) / 86400000.0);
    x[MQ_RF_AGE_DAYS] = age;
    x[MQ_RF_IS_NEW] = age >= 0 && age <= ws->new_days ? 1 : 0;
    x[MQ_RF_YEAR] = t ? t->year : 0;
    float runtime = t ? t->runtime : 0;
    float maturity = t ? t->maturity : 0;
    float series = t ? (t->kind == MQ_KIND_SERIES) : 0;
    x[MQ_RF_RUNTIME] = runtime;
    x[MQ_RF_MATURITY] = maturity;
    x[MQ_RF_IS_SERIES] = series;
    int32_t h = ws->hist_at[col];
    const mq_state_title *st = h >= 0 && ws->v ? &ws->v->titles[ws->hist_title.items[h]] : NULL;
    x[MQ_RF_IMPRESSIONS_NO_PLAY] = st ? (float)st->signal[MQ_SIG_IMPRESSION_NO_PLAY] : 0;
    x[MQ_RF_THUMBS_UP_SIM] = ws->sim_up[col];
    x[MQ_RF_THUMBS_DOWN_SIM] = ws->sim_down[col];
    x[MQ_RF_OWN_WEIGHT] = st ? (float)st->weight : 0;
    x[MQ_RF_OWN_NEGATIVE] = st ? (float)st->negative : 0;
    float prog = 0;
    if (st && mq_state_title_continue(st) && st->duration_s > 0)
        prog = (float)(st->position_s / st->duration_s);
    x[MQ_RF_PROGRESS] = prog;
    x[MQ_RF_IN_LIST] = st && st->in_list ? 1 : 0;
    x[MQ_RF_HISTORY_SIZE] = ws->hist_size;
    mq_device d = ws->ctx.device;
    x[MQ_RF_DEVICE] = (float)d;
    x[MQ_RF_WEEKEND] = ws->weekend ? 1 : 0;
    x[MQ_RF_SLOT] = (float)ws->slot;
    x[MQ_RF_DEVICE_SHARE] = (float)ws->device_share;
    x[MQ_RF_HOUR_SHARE] = (float)ws->hour_share;
    bool mobile = d == MQ_DEVICE_PHONE || d == MQ_DEVICE_TABLET;
    bool wkmorning = ws->weekend && ws->slot == 1;
    x[MQ_RF_MOBILE_X_RUNTIME] = mobile ? runtime : -1;
    x[MQ_RF_TV_X_MATURITY] = d == MQ_DEVICE_TV ? maturity : -1;
    x[MQ_RF_WEEKEND_MORNING_X_MATURITY] = wkmorning ? maturity : -1;
    x[MQ_RF_TV_WEEKEND_MORNING_X_MATURITY] = wkmorning && d == MQ_DEVICE_TV ? maturity : -1;
    x[MQ_RF_EVENING_X_SERIES] = ws->slot == 3 ? series : -1;
    x[MQ_RF_SLOT_X_RUNTIME] = (float)ws->slot * 1000 + runtime;
}
