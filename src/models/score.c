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
    /* The content model's rows in SELL-16 order (below), built once per
     * workspace; n_slices = 0 without a content model. */
    uint32_t n_slices;
    uint32_t *slice_off; /* n_slices + 1: a slice's first step */
    uint32_t *slice_col; /* 16 per slice: the lane's column, or n for padding */
    uint32_t *cell_idx;  /* 16 per step: feature of each lane (0 when padding) */
    float *cell_w;       /* 16 per step: its weight (0 when padding) */
    /* The cold titles (non-empty cold rows) and sum_n sim(j,n) of each, which
     * depends on the bundle only: borrow_cold visits these, not the catalogue. */
    uint32_t n_cold;
    uint32_t *cold_col;
    double *cold_wsum;
};

static void sell_build(mq_model_ws *ws, const mq_bundle *b);
static void cold_build(mq_model_ws *ws, const mq_bundle *b);

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
    if ((b->models & (1u << MQ_MODEL_CONTENT)) && b->content.ptr)
        sell_build(ws, b);
    cold_build(ws, b);
    return ws;
}

void mq_model_ws_destroy(mq_model_ws *ws) {
    if (!ws)
        return;
    mq_free(ws->vec);
    mq_free(ws->solve);
    mq_free(ws->feat);
    mq_free(ws->tiny);
    mq_free(ws->slice_off);
    mq_free(ws->slice_col);
    mq_free(ws->cell_idx);
    mq_free(ws->cell_w);
    mq_free(ws->cold_col);
    mq_free(ws->cold_wsum);
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

/* The content scores are a sparse matrix (titles x features) times the profile's
 * feature vector. Row by row, each title's sum is one chain of dependent adds
 * (a few per title, ~8 on average) and the loop's exit mispredicts on every
 * title: latency-bound. In SELL-C-sigma order (Kreutzer et al. 2014, "A unified
 * sparse matrix data format for efficient general sparse matrix-vector
 * multiplication on modern processors with wide SIMD units"), with C = 16 and
 * sigma = the whole catalogue, 16 titles of similar length (sorted by it) are
 * summed at once, one lane each: every lane adds its title's terms in the row's
 * own order, multiply then add, so each score is the same bits as the row-wise
 * loop; a lane past its row's end adds 0 * feat[0] = +-0, which leaves a sum
 * that is never -0 unchanged. */
#define SELL_C 16

static void sell_build(mq_model_ws *ws, const mq_bundle *b) {
    uint32_t n = b->n;
    const uint64_t *ptr = b->content.ptr;
    /* The columns by row length, longest first (a counting sort: stable, so a
     * slice's titles stay in column order among equal lengths). */
    uint32_t maxlen = 0;
    for (uint32_t j = 0; j < n; j++)
        maxlen = MQ_MAX(maxlen, (uint32_t)(ptr[j + 1] - ptr[j]));
    uint32_t *start = mq_calloc((size_t)maxlen + 2, sizeof *start);
    for (uint32_t j = 0; j < n; j++)
        start[maxlen - (ptr[j + 1] - ptr[j]) + 1]++;
    for (uint32_t l = 0; l <= maxlen; l++)
        start[l + 1] += start[l];
    uint32_t n_slices = (n + SELL_C - 1) / SELL_C;
    uint32_t *col = mq_malloc(((size_t)n_slices * SELL_C + 1) * sizeof *col);
    for (uint32_t j = 0; j < n; j++)
        col[start[maxlen - (ptr[j + 1] - ptr[j])]++] = j;
    for (uint32_t i = n; i < n_slices * SELL_C; i++)
        col[i] = n;
    mq_free(start);
    uint32_t *off = mq_malloc(((size_t)n_slices + 1) * sizeof *off);
    off[0] = 0;
    for (uint32_t sl = 0; sl < n_slices; sl++) /* its first lane is its longest row */
        off[sl + 1] = off[sl] + (uint32_t)(ptr[col[sl * SELL_C] + 1] - ptr[col[sl * SELL_C]]);
    size_t cells = (size_t)off[n_slices] * SELL_C;
    uint32_t *idx = mq_calloc(cells + 1, sizeof *idx);
    float *w = mq_calloc(cells + 1, sizeof *w);
    for (uint32_t sl = 0; sl < n_slices; sl++)
        for (uint32_t l = 0; l < SELL_C; l++) {
            uint32_t j = col[sl * SELL_C + l];
            for (uint64_t q = j < n ? ptr[j] : 0; j < n && q < ptr[j + 1]; q++) {
                size_t cell = ((size_t)off[sl] + (q - ptr[j])) * SELL_C + l;
                idx[cell] = b->content.idx[q];
                w[cell] = b->content.w[q];
            }
        }
    ws->n_slices = n_slices;
    ws->slice_off = off;
    ws->slice_col = col;
    ws->cell_idx = idx;
    ws->cell_w = w;
}

typedef float v16f __attribute__((vector_size(64)));

#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define SELL_CLONES                                                                                \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"),                   \
                   optimize("fp-contract=off")))
#else
#define SELL_CLONES __attribute__((optimize("fp-contract=off")))
#endif
SELL_CLONES static void sell_scores(const mq_model_ws *ws, const float *feat, uint32_t n,
                                    float *scores) {
    for (uint32_t sl = 0; sl < ws->n_slices; sl++) {
        v16f acc = {0};
        for (uint32_t p = ws->slice_off[sl]; p < ws->slice_off[sl + 1]; p++) {
            const uint32_t *fi = ws->cell_idx + (size_t)p * SELL_C;
            v16f f, w;
            for (int l = 0; l < SELL_C; l++)
                f[l] = feat[fi[l]];
            memcpy(&w, ws->cell_w + (size_t)p * SELL_C, sizeof w);
            acc += w * f;
        }
        const uint32_t *col = ws->slice_col + (size_t)sl * SELL_C;
        for (int l = 0; l < SELL_C; l++)
            if (col[l] < n)
                scores[col[l]] = acc[l];
    }
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
    sell_scores(ws, ws->feat, b->n, scores);
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

static void cold_build(mq_model_ws *ws, const mq_bundle *b) {
    if (!b->cold.ptr || b->cold_weight == 0)
        return;
    for (uint32_t j = 0; j < b->n; j++)
        ws->n_cold += b->cold.ptr[j + 1] > b->cold.ptr[j];
    ws->cold_col = mq_malloc(((size_t)ws->n_cold + 1) * sizeof *ws->cold_col);
    ws->cold_wsum = mq_malloc(((size_t)ws->n_cold + 1) * sizeof *ws->cold_wsum);
    uint32_t i = 0;
    for (uint32_t j = 0; j < b->n; j++) {
        if (b->cold.ptr[j + 1] == b->cold.ptr[j])
            continue;
        double wsum = 0; /* summed as borrow_cold summed it per request before */
        for (uint64_t q = b->cold.ptr[j]; q < b->cold.ptr[j + 1]; q++)
            wsum += b->cold.w[q];
        ws->cold_col[i] = j;
        ws->cold_wsum[i++] = wsum;
    }
}

/* The cold titles in column order, as a scan of the catalogue visits them (their
 * neighbours are warm, content.c, so no borrowed score feeds another anyway). */
static void borrow_cold(const mq_bundle *b, const mq_model_ws *ws, float *scores) {
    for (uint32_t i = 0; i < ws->n_cold; i++) {
        uint32_t j = ws->cold_col[i];
        double s = 0;
        for (uint64_t q = b->cold.ptr[j]; q < b->cold.ptr[j + 1]; q++)
            s += (double)b->cold.w[q] * scores[b->cold.idx[q]];
        if (ws->cold_wsum[i] > 0)
            scores[j] = (float)(b->cold_weight * s / ws->cold_wsum[i]);
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
        borrow_cold(b, ws, scores);
    if (ws->tiny)
        fill_zeros(scores, ws->tiny, b->n);
    return MQ_OK;
}

void mq_model_exclude(const mq_bundle *b, float *scores, const mq_hist_item *h, size_t n) {
    for (size_t t = 0; t < n; t++)
        if (h[t].col < b->n)
            scores[h[t].col] = -INFINITY;
}
