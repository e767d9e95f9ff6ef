/* score.c: what the server and the evaluation call per profile: fold-in, scores
 * over the whole catalogue for any model of a bundle, exclusions. Nothing here
 * allocates: the workspace (mq_model_ws) is sized once per thread from the bundle.
 *
 * Every model's scores go through the same two finishing steps:
 *   - cold titles (no usable positive at training time) borrow a content-weighted
 *     average of their content neighbours' scores (content.c explains why);
 *   - a title left at exactly 0 (no path from the history to it) gets a tiny
 *     popularity-proportional score, so that ties among the unreachable are broken
 *     by popularity instead of by column order. */
#include "models_impl.h"

#include <cblas.h>

struct mq_model_ws {
    uint32_t k, n_feats;
    float *vec;   /* k */
    float *solve; /* k*k + k */
    float *feat;  /* n_feats */
    float pop_max;
    /* 1e-12 popular[j] / pop_max, the score of a title no history reaches, once
     * per workspace rather than divided again by every request; NULL when there
     * is no popularity. */
    float *tiny;
};

mq_model_ws *mq_model_ws_create(const mq_bundle *b) {
    mq_model_ws *ws = mq_calloc(1, sizeof *ws);
    ws->k = b->k;
    ws->n_feats = b->n_feats;
    ws->vec = mq_calloc((size_t)b->k + 1, sizeof *ws->vec);
    ws->solve = mq_calloc((size_t)b->k * b->k + b->k + 1, sizeof *ws->solve);
    ws->feat = mq_calloc((size_t)b->n_feats + 1, sizeof *ws->feat);
    for (uint32_t j = 0; b->popular && j < b->n; j++)
        if (b->popular[j] > ws->pop_max)
            ws->pop_max = b->popular[j];
    if (ws->pop_max > 0) {
        ws->tiny = mq_malloc(((size_t)b->n + 1) * sizeof *ws->tiny);
        for (uint32_t j = 0; j < b->n; j++)
            ws->tiny[j] = 1e-12f * b->popular[j] / ws->pop_max;
    }
    return ws;
}

void mq_model_ws_destroy(mq_model_ws *ws) {
    if (!ws)
        return;
    mq_free(ws->vec);
    mq_free(ws->solve);
    mq_free(ws->feat);
    mq_free(ws->tiny);
    mq_free(ws);
}

int mq_model_foldin(const mq_bundle *b, const mq_hist_item *h, size_t n, float *out_vec,
                    mq_model_ws *ws, mq_err *err) {
    if (!(b->models & (1u << MQ_MODEL_IALS)) || !b->Y)
        return mq_err_set(err, MQ_ENOTFOUND, "fold-in: the bundle has no iALS model");
    int rc = mq_ials_foldin_raw(b, h, n, out_vec, ws->solve);
    if (rc)
        return mq_err_set(err, MQ_EINVAL,
                          "fold-in: the normal equations are not positive definite (pivot "
                          "%d); the bundle's regularization is too small",
                          rc);
    return MQ_OK;
}

void mq_model_score_all(const mq_bundle *b, const float *user_vec, float *scores) {
    mq_dense_scores(b->Y, b->n, (int)b->k, user_vec, scores);
}

static void push_rows(const mq_csr *c, uint32_t i, float x, float *scores) {
    for (uint64_t q = c->ptr[i]; q < c->ptr[i + 1]; q++)
        scores[c->idx[q]] += x * c->w[q];
}

static void content_scores(const mq_bundle *b, const mq_hist_item *h, size_t n, float *scores,
                           mq_model_ws *ws) {
    memset(ws->feat, 0, (size_t)b->n_feats * sizeof *ws->feat);
    for (size_t t = 0; t < n; t++) {
        if (h[t].col >= b->n)
            continue;
        float x = mq_entry_value(b->binary, h[t].conf, h[t].neg);
        if (x == 0)
            continue;
        for (uint64_t q = b->content.ptr[h[t].col]; q < b->content.ptr[h[t].col + 1]; q++)
            ws->feat[b->content.idx[q]] += x * b->content.w[q];
    }
    for (uint32_t j = 0; j < b->n; j++) {
        float s = 0;
        for (uint64_t q = b->content.ptr[j]; q < b->content.ptr[j + 1]; q++)
            s += b->content.w[q] * ws->feat[b->content.idx[q]];
        scores[j] = s;
    }
}

/* s[j] = s[j] == 0 ? tiny[j] : s[j], four at a time (a select of bits, so the
 * compiler need not be trusted to vectorize the branch). */
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

static void fill_zeros(float *s, const float *tiny, uint32_t n) {
    uint32_t j = 0;
    for (; j + 4 <= n; j += 4) {
        v4f x, t;
        memcpy(&x, s + j, sizeof x);
        memcpy(&t, tiny + j, sizeof t);
        v4i zero = x == (v4f){0, 0, 0, 0};
        v4i r = (zero & (v4i)t) | (~zero & (v4i)x);
        memcpy(s + j, &r, sizeof r);
    }
    for (; j < n; j++)
        s[j] = s[j] == 0 ? tiny[j] : s[j];
}

static void borrow_cold(const mq_bundle *b, float *scores) {
    if (!b->cold.ptr || b->cold_weight == 0)
        return;
    for (uint32_t j = 0; j < b->n; j++) {
        uint64_t a = b->cold.ptr[j], z = b->cold.ptr[j + 1];
        if (a == z)
            continue;
        double s = 0, wsum = 0;
        for (uint64_t q = a; q < z; q++) {
            s += (double)b->cold.w[q] * scores[b->cold.idx[q]];
            wsum += b->cold.w[q];
        }
        if (wsum > 0)
            scores[j] = (float)(b->cold_weight * s / wsum);
    }
}

const float *mq_model_fixed_scores(const mq_bundle *b, mq_model_kind kind, const mq_hist_item *h,
                                   size_t n) {
    if ((unsigned)kind >= MQ_MODEL_COUNT || !(b->models & (1u << kind)))
        return NULL;
    if (kind == MQ_MODEL_TRENDING)
        return b->trending;
    if (kind == MQ_MODEL_POPULAR)
        return b->popular;
    for (size_t t = 0; t < n; t++)
        if (h[t].col < b->n && mq_entry_value(true, h[t].conf, h[t].neg) > 0)
            return NULL;
    return b->popular; /* no usable history */
}

int mq_model_score(const mq_bundle *b, mq_model_kind kind, const mq_hist_item *h, size_t n,
                   float *scores, mq_model_ws *ws, mq_err *err) {
    if ((unsigned)kind >= MQ_MODEL_COUNT || !(b->models & (1u << kind))) {
        char have[128] = "";
        for (int k = 0; k < MQ_MODEL_COUNT; k++)
            if (b->models & (1u << k))
                snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s",
                         have[0] ? ", " : "", mq_model_name((mq_model_kind)k));
        return mq_err_set(err, MQ_ENOTFOUND, "the bundle has no %s model (it has: %s)",
                          mq_model_name(kind), have);
    }
    const float *fixed = mq_model_fixed_scores(b, kind, h, n);
    if (fixed) {
        memcpy(scores, fixed, (size_t)b->n * sizeof *scores);
        return MQ_OK;
    }
    switch (kind) {
    case MQ_MODEL_KNN:
    case MQ_MODEL_EASE:
        memset(scores, 0, (size_t)b->n * sizeof *scores);
        for (size_t t = 0; t < n; t++) {
            if (h[t].col >= b->n)
                continue;
            float x = mq_entry_value(b->binary, h[t].conf, h[t].neg);
            if (x == 0)
                continue;
            if (kind == MQ_MODEL_KNN)
                push_rows(&b->knn, h[t].col, x, scores);
            else if (b->ease_dense)
                mq_axpy(x, b->ease_dense + (size_t)h[t].col * b->n, scores, (int)b->n);
            else
                push_rows(&b->ease, h[t].col, x, scores);
        }
        break;
    case MQ_MODEL_IALS: {
        int rc = mq_model_foldin(b, h, n, ws->vec, ws, err);
        if (rc)
            return rc;
        mq_model_score_all(b, ws->vec, scores);
        break;
    }
    case MQ_MODEL_CONTENT:
        content_scores(b, h, n, scores, ws);
        break;
    default:
        break;
    }
    if (kind != MQ_MODEL_CONTENT)
        borrow_cold(b, scores);
    if (ws->tiny)
        fill_zeros(scores, ws->tiny, b->n);
    return MQ_OK;
}

void mq_model_exclude(const mq_bundle *b, float *scores, const mq_hist_item *h, size_t n) {
    for (size_t t = 0; t < n; t++)
        if (h[t].col < b->n)
            scores[h[t].col] = -INFINITY;
}
