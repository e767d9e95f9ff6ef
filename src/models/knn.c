/* knn.c: item-kNN (Sarwar et al. 2001; Deshpande & Karypis 2004) with cosine
 * similarity and shrinkage,
 *
 *   sim(i, j) = x_i . x_j / (|x_i| |x_j| + shrink)
 *
 * over the item columns of the matrix, keeping for each target title j its
 * models.knn.neighbours most similar titles i. A profile's score for j is then
 * sum over its history i of x_ui sim(i, j). Co-occurrences come from the sparse
 * rows (sum over users of |I_u|^2 work, no dense item x item matrix); threads own
 * target titles. The kept weights are stored transposed (by source i), so that
 * scoring pushes each history title's row. */
#include "models_impl.h"

#include <stdlib.h>

typedef struct knn_ctx {
    const mq_fit_ctx *c;
    const float *norm;
    uint32_t n, keep;
    float *acc;        /* per thread: n floats */
    uint32_t *touched; /* per thread: n */
    float *hs;         /* per thread: keep */
    uint32_t *nb_idx;  /* n * keep: neighbours of target j */
    float *nb_w;
    uint32_t *nb_cnt;
} knn_ctx;

static void knn_targets(void *ud, size_t j0, size_t j1, int tid) {
    knn_ctx *k = ud;
    const mq_fit_ctx *c = k->c;
    const mq_matrix *m = c->m;
    float *acc = k->acc + (size_t)tid * k->n;
    uint32_t *touched = k->touched + (size_t)tid * k->n;
    float *hs = k->hs + (size_t)tid * k->keep;
    double shrink = c->p->knn.shrink;
    for (size_t j = j0; j < j1; j++) {
        k->nb_cnt[j] = 0;
        if (k->norm[j] == 0)
            continue;
        size_t nt = 0;
        for (size_t q = c->col_ptr[j]; q < c->col_ptr[j + 1]; q++) {
            size_t ej = c->col_entry[q];
            float xj = c->x[ej];
            if (xj == 0)
                continue;
            uint32_t r = c->col_row[q];
            for (size_t e = m->row_ptr[r]; e < m->row_ptr[r + 1]; e++) {
                float xi = c->x[e];
                uint32_t i = m->col[e];
                if (xi == 0 || i == j)
                    continue;
                if (acc[i] == 0)
                    touched[nt++] = i;
                acc[i] += xi * xj;
            }
        }
        mq_heap h = {hs, k->nb_idx + j * k->keep, 0, k->keep};
        for (size_t t = 0; t < nt; t++) {
            uint32_t i = touched[t];
            float s = (float)(acc[i] / ((double)k->norm[i] * k->norm[j] + shrink));
            acc[i] = 0;
            mq_heap_push(&h, s, i);
        }
        k->nb_cnt[j] = (uint32_t)mq_heap_sort(&h);
        memcpy(k->nb_w + j * k->keep, hs, k->nb_cnt[j] * sizeof(float));
    }
}

int mq_fit_knn(mq_fit_ctx *c, mq_bundle *b, mq_err *err) {
    const mq_matrix *m = c->m;
    uint32_t n = m->n_cols, keep = (uint32_t)MQ_MIN((int64_t)c->p->knn.neighbours, (int64_t)n);
    if (keep == 0)
        keep = 1;
    int threads = mq_parallel_threads(c->p->threads);
    float *norm = mq_calloc(n ? n : 1, sizeof *norm);
    for (size_t e = 0; e < m->nnz; e++)
        norm[m->col[e]] += c->x[e] * c->x[e];
    for (uint32_t j = 0; j < n; j++)
        norm[j] = sqrtf(norm[j]);
    knn_ctx k = {c,
                 norm,
                 n,
                 keep,
                 mq_calloc((size_t)threads * n, sizeof(float)),
                 mq_malloc((size_t)threads * n * sizeof(uint32_t)),
                 mq_malloc((size_t)threads * keep * sizeof(float)),
                 mq_malloc((size_t)n * keep * sizeof(uint32_t)),
                 mq_malloc((size_t)n * keep * sizeof(float)),
                 mq_calloc(n ? n : 1, sizeof(uint32_t))};
    mq_parallel_for(n, 16, threads, knn_targets, &k);
    /* Transpose: row i lists the targets j that keep i as a neighbour. */
    uint64_t *ptr = mq_calloc((size_t)n + 1, sizeof *ptr);
    for (uint32_t j = 0; j < n; j++)
        for (uint32_t t = 0; t < k.nb_cnt[j]; t++)
            ptr[k.nb_idx[(size_t)j * keep + t] + 1]++;
    for (uint32_t i = 0; i < n; i++)
        ptr[i + 1] += ptr[i];
    size_t nnz = ptr[n];
    uint32_t *idx = mq_malloc((nnz ? nnz : 1) * sizeof *idx);
    float *w = mq_malloc((nnz ? nnz : 1) * sizeof *w);
    uint64_t *fill = mq_malloc(((size_t)n + 1) * sizeof *fill);
    memcpy(fill, ptr, ((size_t)n + 1) * sizeof *fill);
    for (uint32_t j = 0; j < n; j++)
        for (uint32_t t = 0; t < k.nb_cnt[j]; t++) {
            uint32_t i = k.nb_idx[(size_t)j * keep + t];
            idx[fill[i]] = j;
            w[fill[i]++] = k.nb_w[(size_t)j * keep + t];
        }
    mq_free(fill);
    mq_free(norm);
    mq_free(k.acc);
    mq_free(k.touched);
    mq_free(k.hs);
    mq_free(k.nb_idx);
    mq_free(k.nb_w);
    mq_free(k.nb_cnt);
    b->knn.ptr = mq_bundle_own(b, MQ_SEC_KNN_PTR, ptr, ((size_t)n + 1) * sizeof *ptr);
    b->knn.idx = mq_bundle_own(b, MQ_SEC_KNN_IDX, idx, nnz * sizeof *idx);
    b->knn.w = mq_bundle_own(b, MQ_SEC_KNN_W, w, nnz * sizeof *w);
    b->models |= 1u << MQ_MODEL_KNN;
    (void)err;
    return MQ_OK;
}
