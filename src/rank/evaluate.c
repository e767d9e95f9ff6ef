/* evaluate.c: the ranker against the candidate models, and the match score's
 * calibration, on data built from a test window (data.c).
 *
 * Each group is ranked by the ranker and, separately, by each candidate model's
 * own score (the score features of the same rows, computed from the same live
 * state), and scored by NDCG@10 with graded gains. The best single model is the
 * one with the highest mean on these groups. The relative gain of the ranker
 * over it, mean(ranker) / mean(best) - 1, gets a paired bootstrap 95% interval
 * (Efron & Tibshirani 1993, percentile method): groups are resampled with
 * replacement and both means recomputed on each resample.
 *
 * Calibration: the outcomes of the window (first plays, labelled enjoyed or not)
 * are binned by predicted P(enjoy) into ten bins of width 0.1; the reliability
 * table is each bin's mean prediction against its observed rate, and the expected
 * calibration error is sum_b (n_b / N) |mean predicted_b - observed_b|
 * (Naeini et al. 2015). */
#include "rank_impl.h"

#include <stdlib.h>

typedef struct {
    float s;
    uint64_t tie;
    float l;
} srow;

static int by_score(const void *a, const void *b) {
    const srow *x = a, *y = b;
    if (x->s != y->s)
        return x->s > y->s ? -1 : 1;
    return x->tie < y->tie ? -1 : x->tie > y->tie;
}

static int by_gain_desc(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x > y ? -1 : x < y;
}

static uint64_t mix(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double rk_group_ndcg(const float *score, const float *label, size_t n, uint32_t missing,
                     uint64_t salt) {
    if (n == 0)
        return 0;
    srow *r = mq_malloc(n * sizeof *r);
    float *g = mq_malloc((n + missing + 1) * sizeof *g);
    for (size_t i = 0; i < n; i++) {
        r[i] = (srow){score[i] == score[i] ? score[i] : -INFINITY, mix(salt * 1000003u + i),
                      label[i]};
        g[i] = label[i];
    }
    for (uint32_t i = 0; i < missing; i++)
        g[n + i] = 1;
    qsort(r, n, sizeof *r, by_score);
    qsort(g, n + missing, sizeof *g, by_gain_desc);
    double dcg = 0, idcg = 0;
    for (size_t i = 0; i < 10 && i < n; i++)
        dcg += (exp2(r[i].l) - 1) / log2((double)i + 2);
    for (size_t i = 0; i < 10 && i < n + missing; i++)
        idcg += (exp2(g[i]) - 1) / log2((double)i + 2);
    mq_free(r);
    mq_free(g);
    return idcg > 0 ? dcg / idcg : 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The history bucket of a group, from its first row's history_size feature
 * (log(1 + titles)). */
static int history_bucket(const mq_rank_data *d, size_t g) {
    static const int lo[4] = MQ_RANK_HISTORY_BUCKETS;
    double titles = expm1((double)d->x[d->group_ptr[g] * MQ_RF_COUNT + MQ_RF_HISTORY_SIZE]);
    int b = 0;
    while (b < 3 && titles + 0.5 >= lo[b + 1])
        b++;
    return b;
}

int mq_rank_evaluate(const mq_ranker *rk, const mq_rank_data *d, const float *oracle,
                     int bootstrap, uint64_t seed, mq_rank_eval *out, mq_err *err) {
    memset(out, 0, sizeof *out);
    out->impressions = d->impressions;
    size_t G = d->n_groups;
    out->requests = G;
    for (int k = 0; k < MQ_MODEL_COUNT; k++)
        out->ndcg_models[k] = NAN;
    out->ece = NAN;
    out->rel_gain = out->ci_lo = out->ci_hi = NAN;
    out->ndcg_oracle = NAN;
    for (int h = 0; h < 4; h++)
        out->by_history[h].ranker = out->by_history[h].best = out->by_history[h].oracle = NAN;
    if (G == 0)
        return mq_err_set(err, MQ_EINVAL,
                          "ranker evaluation: no groups in the test window (no page with a "
                          "play, no profile with a new positive)");
    double *nr = mq_malloc(G * sizeof *nr), *no = oracle ? mq_malloc(G * sizeof *no) : NULL;
    double *nm = mq_malloc(G * MQ_MODEL_COUNT * sizeof *nm);
    size_t cap = 0;
    float *sc = NULL, *ms = NULL;
    for (size_t g = 0; g < G; g++) {
        size_t a = d->group_ptr[g], z = d->group_ptr[g + 1], m = z - a;
        if (m > cap) {
            cap = m;
            sc = mq_realloc(sc, cap * sizeof *sc);
            ms = mq_realloc(ms, cap * sizeof *ms);
        }
        const float *x = d->x + a * MQ_RF_COUNT;
        if (rk->trained)
            mq_forest_predict(&rk->rank, x, m, sc);
        else
            for (size_t i = 0; i < m; i++)
                sc[i] = rk_blend(rk, x + i * MQ_RF_COUNT);
        nr[g] = rk_group_ndcg(sc, d->label + a, m, d->group_missing[g], g);
        if (oracle)
            no[g] = rk_group_ndcg(oracle + a, d->label + a, m, d->group_missing[g], g);
        for (int k = 0; k < MQ_MODEL_COUNT; k++) {
            for (size_t i = 0; i < m; i++)
                ms[i] = x[i * MQ_RF_COUNT + MQ_RF_SCORE_POPULAR + k];
            nm[g * MQ_MODEL_COUNT + k] = rk_group_ndcg(ms, d->label + a, m, d->group_missing[g], g);
        }
    }
    mq_free(sc);
    mq_free(ms);
    double sr = 0, smod[MQ_MODEL_COUNT] = {0};
    for (size_t g = 0; g < G; g++) {
        sr += nr[g];
        for (int k = 0; k < MQ_MODEL_COUNT; k++)
            smod[k] += nm[g * MQ_MODEL_COUNT + k];
    }
    out->ndcg_ranker = sr / (double)G;
    int best = -1;
    for (int k = 0; k < MQ_MODEL_COUNT; k++) {
        if (!(rk->models & (1u << k)))
            continue;
        out->ndcg_models[k] = smod[k] / (double)G;
        if (best < 0 || out->ndcg_models[k] > out->ndcg_models[best])
            best = k;
    }
    out->best = best >= 0 ? (mq_model_kind)best : MQ_MODEL_POPULAR;
    if (best >= 0 && smod[best] > 0) {
        out->rel_gain = sr / smod[best] - 1;
        int B = bootstrap > 0 ? bootstrap : 1000;
        double *rs = mq_malloc((size_t)B * sizeof *rs);
        mq_rng rng;
        mq_rng_seed(&rng, seed, 0xB007);
        for (int it = 0; it < B; it++) {
            double a = 0, bsum = 0;
            for (size_t i = 0; i < G; i++) {
                size_t g = mq_rng_below(&rng, (uint32_t)G);
                a += nr[g];
                bsum += nm[g * MQ_MODEL_COUNT + best];
            }
            rs[it] = bsum > 0 ? a / bsum - 1 : 0;
        }
        qsort(rs, (size_t)B, sizeof *rs, cmp_double);
        out->ci_lo = rs[(size_t)(0.025 * (B - 1))];
        out->ci_hi = rs[(size_t)(0.975 * (B - 1))];
        mq_free(rs);
    }
    double so = 0, hr[4] = {0}, hb[4] = {0}, ho[4] = {0};
    for (size_t g = 0; g < G; g++) {
        int h = history_bucket(d, g);
        out->by_history[h].requests++;
        hr[h] += nr[g];
        if (best >= 0)
            hb[h] += nm[g * MQ_MODEL_COUNT + best];
        if (no) {
            so += no[g];
            ho[h] += no[g];
        }
    }
    if (no)
        out->ndcg_oracle = so / (double)G;
    for (int h = 0; h < 4; h++) {
        double n = (double)out->by_history[h].requests;
        if (n == 0)
            continue;
        out->by_history[h].ranker = hr[h] / n;
        out->by_history[h].best = best >= 0 ? hb[h] / n : NAN;
        out->by_history[h].oracle = no ? ho[h] / n : NAN;
    }
    mq_free(nr);
    mq_free(nm);
    mq_free(no);

    /* Calibration of the match score. */
    if (rk->calibrated && d->n_out) {
        double sp[10] = {0}, sy[10] = {0};
        for (size_t i = 0; i < d->n_out; i++) {
            float mg;
            mq_forest_predict(&rk->enjoy, d->out_x + i * MQ_RF_COUNT, 1, &mg);
            float pr = rk_match(rk, mg);
            int b = MQ_MIN(MQ_MAX((int)(pr * 10), 0), 9);
            sp[b] += pr;
            sy[b] += d->out_label[i];
            out->reliability_n[b]++;
        }
        double ece = 0;
        for (int b = 0; b < 10; b++) {
            size_t nb = out->reliability_n[b];
            out->reliability_pred[b] = nb ? sp[b] / (double)nb : NAN;
            out->reliability_obs[b] = nb ? sy[b] / (double)nb : NAN;
            ece += fabs(sp[b] - sy[b]) / (double)d->n_out;
        }
        out->ece = ece;
        out->outcomes = d->n_out;
    }
    return MQ_OK;
}
