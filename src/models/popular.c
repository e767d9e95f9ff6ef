/* popular.c: popularity and trending, from the pairs of the matrix.
 *
 *   popular_i  = sum over profiles with a usable positive on i of
 *                0.5^(age / models.popular.half_life_days), age measured from the
 *                pair's latest event to the newest event in the data (0 = no decay);
 *   trending_i = (s_i - e_i) / sqrt(e_i + prior), where s_i counts the profiles
 *                that started i in the last models.trending.window_days, and e_i is
 *                what the long baseline (models.trending.baseline_days) predicts for
 *                a window that long: a z-score, so a title must both rise and have
 *                volume to trend.
 * Both are always fitted: popularity is also the fallback for profiles with no
 * history and the reference of the novelty metric. */
#include "models_impl.h"

int mq_fit_popular(mq_fit_ctx *c, mq_bundle *b, mq_err *err) {
    const mq_matrix *m = c->m;
    const mq_train_params *p = c->p;
    uint32_t n = m->n_cols;
    float *pop = mq_calloc(n ? n : 1, sizeof *pop);
    float *trend = mq_calloc(n ? n : 1, sizeof *trend);
    double *s = mq_calloc(n ? n : 1, sizeof *s), *l = mq_calloc(n ? n : 1, sizeof *l);
    int64_t now = m->newest_ms;
    double day = 86400000.0;
    int64_t w_short = (int64_t)(p->pop.trending_window_days * day);
    int64_t w_long = (int64_t)(p->pop.trending_baseline_days * day);
    for (size_t e = 0; e < m->nnz; e++) {
        if (mq_entry_value(true, m->conf[e], m->neg[e]) == 0)
            continue;
        uint32_t i = m->col[e];
        double age = (double)(now - m->t_last[e]) / day;
        pop[i] += p->pop.half_life_days > 0 ? (float)pow(0.5, age / p->pop.half_life_days) : 1.0f;
        int64_t start_age = now - m->t_first[e];
        if (start_age < w_short)
            s[i] += 1;
        if (start_age < w_long)
            l[i] += 1;
    }
    double ratio = p->pop.trending_window_days / p->pop.trending_baseline_days;
    for (uint32_t i = 0; i < n; i++) {
        double ex = l[i] * ratio;
        trend[i] = (float)((s[i] - ex) / sqrt(ex + p->pop.trending_prior + 1e-9));
    }
    mq_free(s);
    mq_free(l);
    b->popular = mq_bundle_own(b, MQ_SEC_POPULAR, pop, (size_t)n * sizeof *pop);
    b->trending = mq_bundle_own(b, MQ_SEC_TRENDING, trend, (size_t)n * sizeof *trend);
    b->models |= 1u << MQ_MODEL_POPULAR | 1u << MQ_MODEL_TRENDING;
    (void)err;
    return MQ_OK;
}
