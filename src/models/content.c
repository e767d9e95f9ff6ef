/* content.c: the content model and cold start.
 *
 * Each title is a TF-IDF vector over its genres and tags (binary term frequency,
 * idf = log(N / df)), L2-normalized. A profile's content score for title j is
 * v_j . sum over its history i of x_ui v_i: cosine ranking against the profile's
 * taste in genres and tags. It needs no one to have watched j, which is what the
 * other models lack:
 *
 * Cold start. A title nobody had a usable positive on at training time ("cold")
 * gets, in every model, a score borrowed from its models.content.neighbours most
 * similar warm titles: cold_weight * sum_n sim(j,n) score(n) / sum_n sim(j,n)
 * (score.c). Here we find those neighbours. A profile with no history gets
 * popularity (score.c). */
#include "models_impl.h"

#include <stdlib.h>

typedef struct cold_ctx {
    const uint64_t *ptr; /* content CSR (title -> features) */
    const uint32_t *idx;
    const float *w;
    const uint64_t *fptr; /* inverted: feature -> warm titles */
    const uint32_t *fidx;
    const float *fw;
    const uint8_t *warm;
    uint32_t n, keep;
    float *acc;
    uint32_t *touched;
    float *hs;
    uint32_t *nb_idx;
    float *nb_w;
    uint32_t *nb_cnt;
} cold_ctx;

static void cold_rows(void *ud, size_t j0, size_t j1, int tid) {
    cold_ctx *c = ud;
    float *acc = c->acc + (size_t)tid * c->n;
    uint32_t *touched = c->touched + (size_t)tid * c->n;
    float *hs = c->hs + (size_t)tid * c->keep;
    for (size_t j = j0; j < j1; j++) {
        c->nb_cnt[j] = 0;
        if (c->warm[j])
            continue;
        size_t nt = 0;
        for (uint64_t q = c->ptr[j]; q < c->ptr[j + 1]; q++) {
            uint32_t f = c->idx[q];
            for (uint64_t r = c->fptr[f]; r < c->fptr[f + 1]; r++) {
                uint32_t t = c->fidx[r];
                if (acc[t] == 0)
                    touched[nt++] = t;
                acc[t] += c->w[q] * c->fw[r];
            }
        }
        mq_heap h = {hs, c->nb_idx + j * c->keep, 0, c->keep};
        for (size_t t = 0; t < nt; t++) {
            mq_heap_push(&h, acc[touched[t]], touched[t]);
            acc[touched[t]] = 0;
        }
        c->nb_cnt[j] = (uint32_t)mq_heap_sort(&h);
        memcpy(c->nb_w + j * c->keep, hs, c->nb_cnt[j] * sizeof(float));
    }
}

int mq_fit_content(mq_fit_ctx *c, mq_bundle *b, mq_err *err) {
    const mq_matrix *m = c->m;
    uint32_t n = m->n_cols, nf = m->feat_ptr ? m->n_feats : 0;
    int threads = mq_parallel_threads(c->p->threads);
    uint64_t *ptr = mq_calloc((size_t)n + 1, sizeof *ptr);
    size_t nnz = m->feat_ptr ? m->feat_ptr[n] : 0;
    uint32_t *idx = mq_malloc((nnz ? nnz : 1) * sizeof *idx);
    float *w = mq_malloc((nnz ? nnz : 1) * sizeof *w);
    double *df = mq_calloc(nf ? nf : 1, sizeof *df);
    for (size_t q = 0; q < nnz; q++)
        df[m->feat_idx[q]] += 1;
    for (uint32_t j = 0; j < n; j++) {
        size_t a = m->feat_ptr ? m->feat_ptr[j] : 0, z = m->feat_ptr ? m->feat_ptr[j + 1] : 0;
        double norm = 0;
        for (size_t q = a; q < z; q++) {
            idx[q] = m->feat_idx[q];
            double v = log((double)n / df[idx[q]]);
            w[q] = (float)v;
            norm += v * v;
        }
        norm = norm > 0 ? 1.0 / sqrt(norm) : 0;
        for (size_t q = a; q < z; q++)
            w[q] = (float)(w[q] * norm);
        ptr[j + 1] = z;
    }
    mq_free(df);

    /* Warm titles: any usable positive in training. */
    uint8_t *warm = mq_calloc(n ? n : 1, 1);
    for (size_t e = 0; e < m->nnz; e++)
        if (c->x[e] > 0)
            warm[m->col[e]] = 1;
    /* Inverted index over warm titles only. */
    uint64_t *fptr = mq_calloc((size_t)nf + 1, sizeof *fptr);
    for (uint32_t j = 0; j < n; j++)
        if (warm[j])
            for (uint64_t q = ptr[j]; q < ptr[j + 1]; q++)
                fptr[idx[q] + 1]++;
    for (uint32_t f = 0; f < nf; f++)
        fptr[f + 1] += fptr[f];
    size_t nwf = nf ? fptr[nf] : 0;
    uint32_t *fidx = mq_malloc((nwf ? nwf : 1) * sizeof *fidx);
    float *fw = mq_malloc((nwf ? nwf : 1) * sizeof *fw);
    uint64_t *fill = mq_malloc(((size_t)nf + 1) * sizeof *fill);
    memcpy(fill, fptr, ((size_t)nf + 1) * sizeof *fill);
    for (uint32_t j = 0; j < n; j++)
        if (warm[j])
            for (uint64_t q = ptr[j]; q < ptr[j + 1]; q++) {
                fidx[fill[idx[q]]] = j;
                fw[fill[idx[q]]++] = w[q];
            }
    mq_free(fill);
    uint32_t keep = (uint32_t)c->p->content.neighbours;
    cold_ctx cc = {ptr,
                   idx,
                   w,
                   fptr,
                   fidx,
                   fw,
                   warm,
                   n,
                   keep,
                   mq_calloc((size_t)threads * n + 1, sizeof(float)),
                   mq_malloc(((size_t)threads * n + 1) * sizeof(uint32_t)),
                   mq_malloc((size_t)threads * keep * sizeof(float)),
                   mq_malloc(((size_t)n * keep + 1) * sizeof(uint32_t)),
                   mq_malloc(((size_t)n * keep + 1) * sizeof(float)),
                   mq_calloc(n ? n : 1, sizeof(uint32_t))};
    mq_parallel_for(n, 64, threads, cold_rows, &cc);
    uint64_t *cptr = mq_calloc((size_t)n + 1, sizeof *cptr);
    for (uint32_t j = 0; j < n; j++)
        cptr[j + 1] = cptr[j] + cc.nb_cnt[j];
    size_t cn = cptr[n];
    uint32_t *cidx = mq_malloc((cn ? cn : 1) * sizeof *cidx);
    float *cw = mq_malloc((cn ? cn : 1) * sizeof *cw);
    for (uint32_t j = 0; j < n; j++) {
        memcpy(cidx + cptr[j], cc.nb_idx + (size_t)j * keep, cc.nb_cnt[j] * sizeof *cidx);
        memcpy(cw + cptr[j], cc.nb_w + (size_t)j * keep, cc.nb_cnt[j] * sizeof *cw);
    }
    mq_free(cc.acc);
    mq_free(cc.touched);
    mq_free(cc.hs);
    mq_free(cc.nb_idx);
    mq_free(cc.nb_w);
    mq_free(cc.nb_cnt);
    mq_free(fptr);
    mq_free(fidx);
    mq_free(fw);
    mq_free(warm);

    b->n_feats = nf;
    b->content.ptr = mq_bundle_own(b, MQ_SEC_CONTENT_PTR, ptr, ((size_t)n + 1) * sizeof *ptr);
    b->content.idx = mq_bundle_own(b, MQ_SEC_CONTENT_IDX, idx, nnz * sizeof *idx);
    b->content.w = mq_bundle_own(b, MQ_SEC_CONTENT_W, w, nnz * sizeof *w);
    b->cold.ptr = mq_bundle_own(b, MQ_SEC_COLD_PTR, cptr, ((size_t)n + 1) * sizeof *cptr);
    b->cold.idx = mq_bundle_own(b, MQ_SEC_COLD_IDX, cidx, cn * sizeof *cidx);
    b->cold.w = mq_bundle_own(b, MQ_SEC_COLD_W, cw, cn * sizeof *cw);
    b->cold_weight = c->p->content.cold_weight;
    b->models |= 1u << MQ_MODEL_CONTENT;
    (void)err;
    return MQ_OK;
}
