/* ease.c: EASE (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse
 * Data", eq. 8): the item-item weights
 *
 *   G = X'X + lambda I,   P = G^-1,   B_ij = -P_ij / P_jj,   B_jj = 0
 *
 * in closed form. X'X is accumulated from the sparse rows straight into the lower
 * triangle of a dense float32 matrix (threads own bands of rows, so no atomics);
 * the inverse is a float32 Cholesky factorization and inverse (LAPACKE spotrf +
 * spotri, OpenBLAS using the whole thread budget), about ten times faster than a
 * float64 LU inverse. G is n x n, so EASE is skipped above models.ease.max_titles.
 * The bundle keeps, per title, its models.ease.keep largest weights by magnitude
 * (0 keeps the dense matrix). */
#include "models_impl.h"

#include <cblas.h>
#include <lapacke.h>
#include <stdlib.h>

typedef struct gram_ctx {
    const mq_matrix *m;
    const float *x; /* per entry value */
    float *G;
    uint32_t n, band;
} gram_ctx;

/* Rows [band*b0, band*b1) of the lower triangle of X'X. */
static void gram_band(void *ud, size_t b0, size_t b1, int tid) {
    gram_ctx *c = ud;
    const mq_matrix *m = c->m;
    uint32_t lo = (uint32_t)(b0 * c->band), hi = (uint32_t)MQ_MIN((size_t)c->n, b1 * c->band);
    for (uint32_t r = 0; r < m->n_rows; r++) {
        size_t s = m->row_ptr[r], e = m->row_ptr[r + 1];
        /* first entry with col >= lo (columns ascend within a row) */
        size_t a = s, z = e;
        while (a < z) {
            size_t mid = (a + z) / 2;
            if (m->col[mid] < lo)
                a = mid + 1;
            else
                z = mid;
        }
        for (size_t i = a; i < e && m->col[i] < hi; i++) {
            float xi = c->x[i];
            if (xi == 0)
                continue;
            float *Gi = c->G + (size_t)m->col[i] * c->n;
            for (size_t j = s; j <= i; j++)
                Gi[m->col[j]] += xi * c->x[j];
        }
    }
}

typedef struct post_ctx {
    float *P;
    const float *dinv;
    uint32_t n;
} post_ctx;

/* Copies the lower triangle to the upper, in tiles so both sides stay cached. */
static void mirror_tiles(void *ud, size_t t0, size_t t1, int tid) {
    post_ctx *c = ud;
    const uint32_t T = 64, n = c->n;
    for (size_t ti = t0; ti < t1; ti++) {
        uint32_t i0 = (uint32_t)ti * T;
        for (uint32_t j0 = 0; j0 <= i0; j0 += T)
            for (uint32_t i = i0; i < MQ_MIN(n, i0 + T); i++)
                for (uint32_t j = j0; j < MQ_MIN(i, j0 + T); j++)
                    c->P[(size_t)j * n + i] = c->P[(size_t)i * n + j];
    }
}

/* B_ij = -P_ij / P_jj, B_ii = 0 */
static void scale_rows(void *ud, size_t r0, size_t r1, int tid) {
    post_ctx *c = ud;
    for (size_t i = r0; i < r1; i++) {
        float *row = c->P + i * c->n;
        for (uint32_t j = 0; j < c->n; j++)
            row[j] *= -c->dinv[j];
        row[i] = 0;
    }
}

int mq_ease_fit_dense(const mq_matrix *m, const mq_train_params *p, float **Bo,
                      double *inverse_seconds, mq_err *err) {
    *Bo = NULL;
    uint32_t n = m->n_cols;
    if (n == 0)
        return mq_err_set(err, MQ_EINVAL, "ease: the matrix has no titles");
    int threads = mq_parallel_threads(p->threads);
    float *x = mq_malloc((m->nnz ? m->nnz : 1) * sizeof *x);
    for (size_t e = 0; e < m->nnz; e++)
        x[e] = mq_entry_value(p->binary, m->conf[e], m->neg[e]);
    float *G = calloc((size_t)n * n, sizeof *G);
    if (!G) {
        mq_free(x);
        return mq_err_set(err, MQ_ENOMEM, "ease: cannot allocate the %u x %u item matrix (%.0f MB)",
                          n, n, (double)n * n * 4 / 1e6);
    }
    gram_ctx gc = {m, x, G, n, 0};
    gc.band = (n + 63) / 64;
    mq_parallel_for((n + gc.band - 1) / gc.band, 1, threads, gram_band, &gc);
    mq_free(x);
    /* lambda, plus the emphasized-denoising term p/(1-p) G_ii of EDLAE (Steck 2020,
     * "Autoencoders that don't overfit towards the identity", eq. 11) when
     * models.ease.dropout > 0: popular titles are regularized more. */
    double dr = p->ease.dropout / (1 - p->ease.dropout);
    for (uint32_t i = 0; i < n; i++) {
        float *g = &G[(size_t)i * n + i];
        *g += (float)(p->ease.lambda + dr * *g);
    }

    /* Row-major lower triangle = column-major upper: no transposition needed. */
    openblas_set_num_threads(threads);
    double t0 = mq_mono_s();
    int info = LAPACKE_spotrf(LAPACK_COL_MAJOR, 'U', (lapack_int)n, G, (lapack_int)n);
    if (info == 0)
        info = LAPACKE_spotri(LAPACK_COL_MAJOR, 'U', (lapack_int)n, G, (lapack_int)n);
    if (inverse_seconds)
        *inverse_seconds = mq_mono_s() - t0;
    if (info != 0) {
        free(G);
        return mq_err_set(err, MQ_EINVAL,
                          "ease: X'X + lambda I is not positive definite in float32 (LAPACK "
                          "info %d); raise models.ease.lambda (now %g)",
                          info, p->ease.lambda);
    }
    float *dinv = mq_malloc((size_t)n * sizeof *dinv);
    for (uint32_t j = 0; j < n; j++)
        dinv[j] = 1.0f / G[(size_t)j * n + j];
    post_ctx pc = {G, dinv, n};
    mq_parallel_for((n + 63) / 64, 1, threads, mirror_tiles, &pc);
    mq_parallel_for(n, 64, threads, scale_rows, &pc);
    mq_free(dinv);
    *Bo = G;
    return MQ_OK;
}

typedef struct prune_ctx {
    const float *B;
    uint32_t n, keep;
    uint32_t *idx; /* n * keep */
    float *w;
    uint32_t *cnt;
    float *hs; /* per thread heap scores */
} prune_ctx;

static void prune_rows(void *ud, size_t r0, size_t r1, int tid) {
    prune_ctx *c = ud;
    float *hs = c->hs + (size_t)tid * c->keep;
    for (size_t i = r0; i < r1; i++) {
        const float *row = c->B + i * c->n;
        mq_heap h = {hs, c->idx + i * c->keep, 0, c->keep};
        for (uint32_t j = 0; j < c->n; j++) {
            float a = fabsf(row[j]);
            if (a == 0 || (h.n == h.k && a <= h.s[0]))
                continue;
            mq_heap_push(&h, a, j);
        }
        c->cnt[i] = (uint32_t)mq_heap_sort(&h);
        for (uint32_t t = 0; t < c->cnt[i]; t++)
            c->w[i * c->keep + t] = row[c->idx[i * c->keep + t]];
    }
}

int mq_fit_ease(mq_fit_ctx *c, mq_bundle *b, char *skip, size_t skip_len, mq_err *err) {
    const mq_train_params *p = c->p;
    uint32_t n = c->m->n_cols;
    if ((int64_t)n > p->ease.max_titles) {
        snprintf(skip, skip_len,
                 "%u titles is above models.ease.max_titles (%d): its item x item matrix "
                 "would take %.0f MB",
                 n, p->ease.max_titles, (double)n * n * 4 / 1e6);
        return MQ_OK;
    }
    float *B;
    double inv_s;
    int rc = mq_ease_fit_dense(c->m, p, &B, &inv_s, err);
    if (rc)
        return rc;
    if (p->ease.keep == 0 || (uint32_t)p->ease.keep >= n) {
        b->ease_dense = mq_bundle_own(b, MQ_SEC_EASE_DENSE, B, (size_t)n * n * sizeof *B);
    } else {
        uint32_t keep = (uint32_t)p->ease.keep;
        int threads = mq_parallel_threads(p->threads);
        prune_ctx pc = {B,
                        n,
                        keep,
                        mq_malloc((size_t)n * keep * sizeof(uint32_t)),
                        mq_malloc((size_t)n * keep * sizeof(float)),
                        mq_malloc(n * sizeof(uint32_t)),
                        mq_malloc((size_t)threads * keep * sizeof(float))};
        mq_parallel_for(n, 64, threads, prune_rows, &pc);
        free(B);
        uint64_t *ptr = mq_malloc(((size_t)n + 1) * sizeof *ptr);
        ptr[0] = 0;
        for (uint32_t i = 0; i < n; i++)
            ptr[i + 1] = ptr[i] + pc.cnt[i];
        size_t nnz = ptr[n];
        uint32_t *idx = mq_malloc((nnz ? nnz : 1) * sizeof *idx);
        float *w = mq_malloc((nnz ? nnz : 1) * sizeof *w);
        for (uint32_t i = 0; i < n; i++) {
            memcpy(idx + ptr[i], pc.idx + (size_t)i * keep, pc.cnt[i] * sizeof *idx);
            memcpy(w + ptr[i], pc.w + (size_t)i * keep, pc.cnt[i] * sizeof *w);
        }
        mq_free(pc.idx);
        mq_free(pc.w);
        mq_free(pc.cnt);
        mq_free(pc.hs);
        b->ease.ptr = mq_bundle_own(b, MQ_SEC_EASE_PTR, ptr, ((size_t)n + 1) * sizeof *ptr);
        b->ease.idx = mq_bundle_own(b, MQ_SEC_EASE_IDX, idx, nnz * sizeof *idx);
        b->ease.w = mq_bundle_own(b, MQ_SEC_EASE_W, w, nnz * sizeof *w);
    }
    b->models |= 1u << MQ_MODEL_EASE;
    return MQ_OK;
}
