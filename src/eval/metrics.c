/* metrics.c: ranking metrics on one ranked list, exactly as DESIGN.md defines
 * them (binary relevance; Recall@K and NDCG@K normalized by min(K, |held-out|)),
 * and the Effective Catalog Size of a distribution of recommendations. */
#include "eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool held_has(const uint32_t *held, size_t n, uint32_t c) {
    size_t a = 0, z = n;
    while (a < z) {
        size_t m = (a + z) / 2;
        if (held[m] < c)
            a = m + 1;
        else
            z = m;
    }
    return a < n && held[a] == c;
}

static size_t hits(const uint32_t *ranked, size_t n_ranked, const uint32_t *held, size_t n_held,
                   size_t k) {
    size_t h = 0;
    for (size_t i = 0; i < n_ranked && i < k; i++)
        h += held_has(held, n_held, ranked[i]);
    return h;
}

double mq_metric_recall(const uint32_t *ranked, size_t n_ranked, const uint32_t *held,
                        size_t n_held, size_t k) {
    if (n_held == 0 || k == 0)
        return 0;
    return (double)hits(ranked, n_ranked, held, n_held, k) / (double)MQ_MIN(k, n_held);
}

double mq_metric_hr(const uint32_t *ranked, size_t n_ranked, const uint32_t *held, size_t n_held,
                    size_t k) {
    return hits(ranked, n_ranked, held, n_held, k) > 0 ? 1.0 : 0.0;
}

double mq_metric_ndcg(const uint32_t *ranked, size_t n_ranked, const uint32_t *held, size_t n_held,
                      size_t k) {
    if (n_held == 0 || k == 0)
        return 0;
    double dcg = 0, idcg = 0;
    for (size_t i = 0; i < n_ranked && i < k; i++)
        if (held_has(held, n_held, ranked[i]))
            dcg += 1.0 / log2((double)i + 2);
    for (size_t i = 0; i < MQ_MIN(k, n_held); i++)
        idcg += 1.0 / log2((double)i + 2);
    return dcg / idcg;
}

double mq_metric_rr(const float *scores, uint32_t n, const uint32_t *held, size_t n_held) {
    /* The best-ranked held-out title: highest score, ties by lower column. */
    float best = -INFINITY;
    uint32_t best_c = UINT32_MAX;
    for (size_t i = 0; i < n_held; i++) {
        uint32_t c = held[i];
        if (c >= n || scores[c] == -INFINITY || scores[c] != scores[c])
            continue;
        if (best_c == UINT32_MAX || scores[c] > best || (scores[c] == best && c < best_c)) {
            best = scores[c];
            best_c = c;
        }
    }
    if (best_c == UINT32_MAX)
        return 0;
    size_t above = 0;
    for (uint32_t c = 0; c < n; c++) {
        float s = scores[c];
        if (s > best || (s == best && c < best_c))
            above++;
    }
    return 1.0 / (double)(above + 1);
}

static int cmp_desc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x > y ? -1 : x < y;
}

double mq_metric_ecs(const double *counts, size_t n) {
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += counts[i];
    if (!(total > 0))
        return 0;
    double *p = mq_malloc((n ? n : 1) * sizeof *p);
    memcpy(p, counts, n * sizeof *p);
    qsort(p, n, sizeof *p, cmp_desc);
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += p[i] / total * (double)(i + 1);
    mq_free(p);
    return 2 * s - 1;
}
