/* train.c: training the ranker and the match score through XGBoost's C API (1.7).
 *
 *   ranker  LambdaMART (Burges 2010, "From RankNet to LambdaRank to LambdaMART"):
 *           objective rank:ndcg, one group per page (or per profile without impressions), graded
 *           labels 0-3, histogram trees (tree_method hist);
 *   enjoy   binary:logistic on the outcome examples (a first play, labelled
 *           enjoyed when it completes or gets a thumbs up; a rating: positive or
 *           not), whose margin is then calibrated by isotonic regression (the
 *           pool-adjacent-violators algorithm; Zadrozny & Elkan 2002) on the
 *           outcomes of the latest rank.calib_frac of the window, held out from
 *           training. The match score is that calibrated probability.
 *
 * Both models are saved by XGBoost as JSON, read back into our own flattened
 * trees (forest.c), and stored in the bundle as sections (the trees and the
 * isotonic steps) and the metadata key "ranker" (feature names, sizes, feature
 * importance by total gain, validation figures). */
#include "rank_impl.h"

#include <stdlib.h>
#include <xgboost/c_api.h>

void mq_rank_params_from_config(mq_rank_params *p, const mq_config *c) {
    memset(p, 0, sizeof *p);
    p->trees = (int)mq_config_num(c, "rank.trees");
    p->depth = (int)mq_config_num(c, "rank.depth");
    p->eta = mq_config_num(c, "rank.eta");
    p->min_child_weight = mq_config_num(c, "rank.min_child_weight");
    p->subsample = mq_config_num(c, "rank.subsample");
    p->colsample = mq_config_num(c, "rank.colsample");
    p->lambda = mq_config_num(c, "rank.lambda");
    p->max_pages = (int)mq_config_num(c, "rank.max_groups");
    p->train_window = mq_config_num(c, "rank.window");
    p->calib_frac = mq_config_num(c, "rank.calib_frac");
    p->reward_window_ms = (int64_t)(mq_config_num(c, "rank.reward_window_s") * 1000);
    p->seed = (uint64_t)mq_config_num(c, "rank.seed");
    const char *ev = mq_config_str(c, "rank.eval_requests");
    p->eval_profiles = ev && strcmp(ev, "profiles") == 0;
    p->guard = mq_config_num(c, "rank.guard") != 0;
    const char *wi = mq_config_str(c, "rank.without_impressions");
    p->skip_without_impressions = !wi || strcmp(wi, "profiles") != 0;
    p->threads = (int)mq_config_num(c, "rank.threads");
}

const char *mq_rank_params_check(const mq_rank_params *p) {
    if (p->trees < 1 || p->trees > 5000)
        return "rank.trees: expected 1 to 5000";
    if (p->depth < 1 || p->depth > 12)
        return "rank.depth: expected 1 to 12";
    if (!(p->eta > 0 && p->eta <= 1))
        return "rank.eta: expected a number in (0, 1]";
    if (!(p->subsample > 0 && p->subsample <= 1) || !(p->colsample > 0 && p->colsample <= 1))
        return "rank.subsample and rank.colsample: expected numbers in (0, 1]";
    if (!(p->train_window > 0 && p->train_window < 1))
        return "rank.window: expected a fraction in (0, 1)";
    if (!(p->calib_frac > 0 && p->calib_frac < 1))
        return "rank.calib_frac: expected a fraction in (0, 1)";
    return NULL;
}

#define XGB(call)                                                                        \
    do {                                                                                 \
        if ((call) != 0) {                                                               \
            rc = mq_err_set(err, MQ_EINVAL, "XGBoost: %s", XGBGetLastError());          \
            goto out;                                                                    \
        }                                                                                \
    } while (0)

static void set_common(BoosterHandle bst, const mq_rank_params *p, int depth) {
    char v[64];
    snprintf(v, sizeof v, "%g", p->eta);
    XGBoosterSetParam(bst, "eta", v);
    snprintf(v, sizeof v, "%d", depth);
    XGBoosterSetParam(bst, "max_depth", v);
    snprintf(v, sizeof v, "%g", p->min_child_weight);
    XGBoosterSetParam(bst, "min_child_weight", v);
    snprintf(v, sizeof v, "%g", p->subsample);
    XGBoosterSetParam(bst, "subsample", v);
    snprintf(v, sizeof v, "%g", p->colsample);
    XGBoosterSetParam(bst, "colsample_bytree", v);
    snprintf(v, sizeof v, "%g", p->lambda);
    XGBoosterSetParam(bst, "lambda", v);
    snprintf(v, sizeof v, "%llu", (unsigned long long)(p->seed & 0x7fffffff));
    XGBoosterSetParam(bst, "seed", v);
    snprintf(v, sizeof v, "%d", p->threads > 0 ? p->threads : mq_threads_budget());
    XGBoosterSetParam(bst, "nthread", v);
    XGBoosterSetParam(bst, "tree_method", "hist");
    XGBoosterSetParam(bst, "verbosity", "0");
}

/* Trains one booster and returns its JSON model (caller frees) and total gains. */
static int fit(const float *x, const float *y, size_t n, const unsigned *groups, size_t ng,
               const mq_rank_params *p, bool ranking, char **json, size_t *json_len,
               double *gain, mq_err *err) {
    int rc = MQ_OK;
    DMatrixHandle dm = NULL;
    BoosterHandle bst = NULL;
    XGB(XGDMatrixCreateFromMat(x, n, MQ_RF_COUNT, NAN, &dm));
    XGB(XGDMatrixSetFloatInfo(dm, "label", y, n));
    if (ranking)
        XGB(XGDMatrixSetUIntInfo(dm, "group", groups, ng));
    XGB(XGBoosterCreate(&dm, 1, &bst));
    set_common(bst, p, ranking ? p->depth : MQ_MIN(p->depth, 6));
    XGB(XGBoosterSetParam(bst, "objective", ranking ? "rank:ndcg" : "binary:logistic"));
    if (ranking)
        XGB(XGBoosterSetParam(bst, "eval_metric", "ndcg@10"));
    for (int it = 0; it < p->trees; it++)
        XGB(XGBoosterUpdateOneIter(bst, it, dm));
    bst_ulong len = 0;
    const char *buf = NULL;
    XGB(XGBoosterSaveModelToBuffer(bst, "{\"format\": \"json\"}", &len, &buf));
    *json = mq_malloc(len + 1);
    memcpy(*json, buf, len);
    (*json)[len] = '\0';
    *json_len = len;
    if (gain) {
        bst_ulong nf = 0, dim = 0;
        const char **names = NULL;
        const bst_ulong *shape = NULL;
        const float *scores = NULL;
        for (int f = 0; f < MQ_RF_COUNT; f++)
            gain[f] = 0;
        if (XGBoosterFeatureScore(bst, "{\"importance_type\": \"total_gain\"}", &nf, &names, &dim,
                                  &shape, &scores) == 0) {
            double tot = 0;
            for (bst_ulong i = 0; i < nf; i++) {
                int64_t f;
                if (names[i][0] == 'f' && mq_parse_i64(names[i] + 1, &f) && f >= 0 &&
                    f < MQ_RF_COUNT) {
                    gain[f] = scores[i];
                    tot += scores[i];
                }
            }
            for (int f = 0; f < MQ_RF_COUNT && tot > 0; f++)
                gain[f] /= tot;
        }
    }
out:
    if (bst)
        XGBoosterFree(bst);
    if (dm)
        XGDMatrixFree(dm);
    return rc;
}

/* Pool adjacent violators: the non-decreasing fit of y on x (x sorted). Writes the
 * blocks as (mean x, mean y) pairs into out (2 * n floats); returns the count. */
typedef struct {
    float x, y;
} xy;

static int by_x(const void *a, const void *b) {
    const xy *p = a, *q = b;
    return p->x < q->x ? -1 : p->x > q->x;
}

static size_t isotonic(xy *v, size_t n, float *out) {
    qsort(v, n, sizeof *v, by_x);
    double *sx = mq_malloc((n + 1) * sizeof *sx), *sy = mq_malloc((n + 1) * sizeof *sy);
    double *w = mq_malloc((n + 1) * sizeof *w);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        sx[m] = v[i].x;
        sy[m] = v[i].y;
        w[m] = 1;
        m++;
        while (m > 1 && sy[m - 2] / w[m - 2] >= sy[m - 1] / w[m - 1]) {
            sx[m - 2] += sx[m - 1];
            sy[m - 2] += sy[m - 1];
            w[m - 2] += w[m - 1];
            m--;
        }
    }
    for (size_t i = 0; i < m; i++) {
        out[2 * i] = (float)(sx[i] / w[i]);
        out[2 * i + 1] = (float)(sy[i] / w[i]);
    }
    mq_free(sx);
    mq_free(sy);
    mq_free(w);
    return m;
}

static void put_forest(mq_bundle *b, const mq_forest *f, const char *feat, const char *thr,
                       const char *leaf) {
    size_t inner = ((size_t)1 << f->depth) - 1, leaves = (size_t)1 << f->depth;
    mq_bundle_add_section(b, feat, f->feat, (f->n_trees * inner + 1) * sizeof(uint32_t));
    mq_bundle_add_section(b, thr, f->thr, (f->n_trees * inner + 1) * sizeof(float));
    mq_bundle_add_section(b, leaf, f->leaf, f->n_trees * leaves * sizeof(float));
}

static int by_time_desc(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x > y ? -1 : x < y;
}

int mq_rank_train(const mq_rank_data *d, const mq_rank_params *p, mq_bundle *into,
                  mq_rank_train_report *rep, mq_err *err) {
    memset(rep, 0, sizeof *rep);
    rep->impressions = d->impressions;
    int rc = MQ_OK;
    char *json = NULL, *rank_json = NULL;
    size_t json_len = 0, rank_json_len = 0;
    mq_forest rank = {0}, enjoy = {0};
    unsigned *gsize = NULL;
    float *margin = NULL;
    xy *cal = NULL;
    float *iso = NULL;
    bool rank_it = true;
    if (!d->impressions && p->skip_without_impressions) {
        snprintf(rep->skipped, sizeof rep->skipped,
                 "the data has no impressions (rank.without_impressions = skip): the fallback "
                 "blend serves; the match score is still trained");
        rank_it = false;
    } else if (d->n_groups < 20) {
        snprintf(rep->skipped, sizeof rep->skipped,
                 "only %zu training groups (pages with a play, or new positives) in the window; "
                 "at least 20 are needed",
                 d->n_groups);
        rank_it = false;
    }
    double t0 = mq_mono_s();
    /* The calibration window: the latest calib_frac of the time span of the groups
     * (or of the outcomes, without a ranker). */
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t g = 0; rank_it && g < d->n_groups; g++) {
        lo = MQ_MIN(lo, d->group_ms[g]);
        hi = MQ_MAX(hi, d->group_ms[g]);
    }
    for (size_t i = 0; !rank_it && i < d->n_out; i++) {
        lo = MQ_MIN(lo, d->out_ms[i]);
        hi = MQ_MAX(hi, d->out_ms[i]);
    }
    if (lo > hi)
        return MQ_OK; /* nothing at all in the window */
    int64_t cut = hi - (int64_t)((double)(hi - lo) * p->calib_frac);
    bool used = false;
    if (!rank_it)
        goto enjoy;
    /* Training groups: before the cut, the most recent max_pages of them. */
    size_t ntr = 0, rows = 0;
    for (size_t g = 0; g < d->n_groups; g++)
        if (d->group_ms[g] < cut)
            ntr++;
    int64_t oldest = INT64_MIN;
    if (p->max_pages > 0 && ntr > (size_t)p->max_pages) {
        int64_t *ts = mq_malloc(ntr * sizeof *ts);
        size_t k = 0;
        for (size_t g = 0; g < d->n_groups; g++)
            if (d->group_ms[g] < cut)
                ts[k++] = d->group_ms[g];
        qsort(ts, k, sizeof *ts, by_time_desc);
        oldest = ts[p->max_pages - 1];
        mq_free(ts);
    }
    float *x = mq_malloc((d->n_rows + 1) * MQ_RF_COUNT * sizeof *x);
    float *y = mq_malloc((d->n_rows + 1) * sizeof *y);
    gsize = mq_malloc((d->n_groups + 1) * sizeof *gsize);
    size_t ng = 0;
    for (size_t g = 0; g < d->n_groups; g++) {
        if (d->group_ms[g] >= cut || d->group_ms[g] < oldest)
            continue;
        size_t a = d->group_ptr[g], z = d->group_ptr[g + 1];
        memcpy(x + rows * MQ_RF_COUNT, d->x + a * MQ_RF_COUNT,
               (z - a) * MQ_RF_COUNT * sizeof(float));
        memcpy(y + rows, d->label + a, (z - a) * sizeof(float));
        rows += z - a;
        gsize[ng++] = (unsigned)(z - a);
    }
    rep->groups = ng;
    rep->rows = rows;
    if (ng < 10) {
        snprintf(rep->skipped, sizeof rep->skipped,
                 "only %zu training groups before the calibration window", ng);
        mq_free(x);
        mq_free(y);
        rank_it = false;
        goto enjoy;
    }
    rc = fit(x, y, rows, gsize, ng, p, true, &json, &json_len, rep->gain, err);
    mq_free(x);
    mq_free(y);
    if (rc || (rc = mq_forest_from_xgboost_json(json, json_len, &rank, err)))
        goto out;
    /* XGBoost's own model is kept too (for the benchmark against its predict). */
    rank_json = json;
    rank_json_len = json_len;
    json = NULL;
    rep->seconds = mq_mono_s() - t0;

    /* Validation on the calibration window: the ranker against each model. */
    {
        double nd = 0, ndm[MQ_MODEL_COUNT] = {0};
        size_t nv = 0;
        float *sc = NULL;
        size_t sc_cap = 0;
        float *ms = NULL;
        for (size_t g = 0; g < d->n_groups; g++) {
            if (d->group_ms[g] < cut)
                continue;
            size_t a = d->group_ptr[g], z = d->group_ptr[g + 1];
            if (z - a > sc_cap) {
                sc_cap = z - a;
                sc = mq_realloc(sc, sc_cap * sizeof *sc);
                ms = mq_realloc(ms, sc_cap * sizeof *ms);
            }
            mq_forest_predict(&rank, d->x + a * MQ_RF_COUNT, z - a, sc);
            nd += rk_group_ndcg(sc, d->label + a, z - a, d->group_missing[g], g);
            for (int k = 0; k < MQ_MODEL_COUNT; k++) {
                for (size_t i = a; i < z; i++)
                    ms[i - a] = d->x[i * MQ_RF_COUNT + MQ_RF_SCORE_POPULAR + k];
                ndm[k] += rk_group_ndcg(ms, d->label + a, z - a, d->group_missing[g], g);
            }
            nv++;
        }
        mq_free(sc);
        mq_free(ms);
        rep->valid_ndcg10 = nv ? nd / (double)nv : NAN;
        int best = 0;
        for (int k = 1; k < MQ_MODEL_COUNT; k++)
            if (ndm[k] > ndm[best])
                best = k;
        rep->valid_ndcg10_best = nv ? ndm[best] / (double)nv : NAN;
        snprintf(rep->valid_best_model, sizeof rep->valid_best_model, "%s",
                 mq_model_name((mq_model_kind)best));
    }

    /* A ranker that does not beat the best single model on the held-out groups is
     * stored (for inspection) but not used: the bundle then serves that model. */
    used = !p->guard || !(rep->valid_ndcg10 < rep->valid_ndcg10_best);
    rep->used = used;

enjoy:
    /* The enjoy model and its calibration. */
    size_t ntr_o = 0, ncal = 0;
    for (size_t i = 0; i < d->n_out; i++) {
        if (d->out_ms[i] < cut)
            ntr_o++;
        else
            ncal++;
    }
    bool have_enjoy = false;
    size_t npos = 0;
    for (size_t i = 0; i < d->n_out; i++)
        npos += d->out_label[i] > 0;
    rep->outcomes = d->n_out;
    if (ntr_o >= 50 && ncal >= 50 && npos > 0 && npos < d->n_out) {
        double t1 = mq_mono_s();
        float *ox = mq_malloc(ntr_o * MQ_RF_COUNT * sizeof *ox);
        float *oy = mq_malloc(ntr_o * sizeof *oy);
        size_t k = 0;
        for (size_t i = 0; i < d->n_out; i++)
            if (d->out_ms[i] < cut) {
                memcpy(ox + k * MQ_RF_COUNT, d->out_x + i * MQ_RF_COUNT,
                       MQ_RF_COUNT * sizeof(float));
                oy[k++] = d->out_label[i];
            }
        mq_rank_params ep = *p;
        rc = fit(ox, oy, ntr_o, NULL, 0, &ep, false, &json, &json_len, NULL, err);
        mq_free(ox);
        mq_free(oy);
        if (rc || (rc = mq_forest_from_xgboost_json(json, json_len, &enjoy, err)))
            goto out;
        mq_free(json);
        json = NULL;
        /* Isotonic calibration on the held-out outcomes. */
        cal = mq_malloc(ncal * sizeof *cal);
        margin = mq_malloc(MQ_RF_COUNT * sizeof *margin);
        k = 0;
        for (size_t i = 0; i < d->n_out; i++)
            if (d->out_ms[i] >= cut) {
                float mg;
                mq_forest_predict(&enjoy, d->out_x + i * MQ_RF_COUNT, 1, &mg);
                cal[k].x = mg;
                cal[k++].y = d->out_label[i];
            }
        iso = mq_malloc(2 * ncal * sizeof *iso);
        size_t nb = isotonic(cal, ncal, iso);
        /* ECE of the calibrated score on the same outcomes (in-sample). */
        mq_ranker tmp = {0};
        tmp.calibrated = true;
        tmp.iso = iso;
        tmp.n_iso = (uint32_t)nb;
        double bins_p[10] = {0}, bins_y[10] = {0}, bins_n[10] = {0};
        for (size_t i = 0; i < ncal; i++) {
            float pr = rk_match(&tmp, cal[i].x);
            int bi = MQ_MIN((int)(pr * 10), 9);
            bins_p[bi] += pr;
            bins_y[bi] += cal[i].y;
            bins_n[bi] += 1;
        }
        double ece = 0;
        for (int bi = 0; bi < 10; bi++)
            if (bins_n[bi] > 0)
                ece += fabs(bins_p[bi] - bins_y[bi]) / (double)ncal;
        rep->calib_ece = ece;
        mq_bundle_add_section(into, RK_SEC_ISO, iso, nb * 2 * sizeof(float));
        put_forest(into, &enjoy, RK_SEC_ENJOY_FEAT, RK_SEC_ENJOY_THR, RK_SEC_ENJOY_LEAF);
        rep->enjoy_seconds = mq_mono_s() - t1;
        have_enjoy = true;
    }

    /* Into the bundle. */
    if (!rank_it && !have_enjoy)
        goto out;
    if (rank_it) {
        put_forest(into, &rank, RK_SEC_RANK_FEAT, RK_SEC_RANK_THR, RK_SEC_RANK_LEAF);
        mq_bundle_add_section(into, RK_SEC_RANK_XGB, rank_json, rank_json_len);
    }
    json_t *names = json_array(), *imp = json_object();
    for (int f = 0; f < MQ_RF_COUNT; f++) {
        json_array_append_new(names, json_string(mq_rank_feature_name((mq_rank_feature)f)));
        json_object_set_new(imp, mq_rank_feature_name((mq_rank_feature)f),
                            json_real(rep->gain[f]));
    }
    json_t *meta = json_object();
    json_object_set_new(meta, "features", names);
    json_object_set_new(meta, "importance_total_gain", imp);
    if (rank_it)
        json_object_set_new(meta, "rank",
                            json_pack("{s:i, s:i, s:f}", "trees", (int)rank.n_trees, "depth",
                                      (int)rank.depth, "base", (double)rank.base));
    if (have_enjoy)
        json_object_set_new(meta, "enjoy",
                            json_pack("{s:i, s:i, s:f, s:f}", "trees", (int)enjoy.n_trees,
                                      "depth", (int)enjoy.depth, "base", (double)enjoy.base,
                                      "calibration_ece", rep->calib_ece));
    json_object_set_new(meta, "data",
                        json_string(d->impressions ? "logged impressions grouped per page"
                                                   : "candidate sets per profile (no impressions)"));
    json_object_set_new(meta, "groups", json_integer((json_int_t)rep->groups));
    json_object_set_new(meta, "rows", json_integer((json_int_t)rep->rows));
    json_object_set_new(meta, "outcomes", json_integer((json_int_t)rep->outcomes));
    json_object_set_new(meta, "train_seconds", json_real(rep->seconds));
    json_object_set_new(meta, "used", json_boolean(used));
    if (!rank_it) {
        json_object_set_new(meta, "why", json_string(rep->skipped));
    } else if (!used) {
        char why[200];
        snprintf(why, sizeof why,
                 "the trained ranker (validation NDCG@10 %.4f) did not beat the best single model "
                 "%s (%.4f) on the held-out groups: serving %s",
                 rep->valid_ndcg10, rep->valid_best_model, rep->valid_ndcg10_best,
                 rep->valid_best_model);
        json_object_set_new(meta, "why", json_string(why));
        json_object_set_new(meta, "serve_model", json_string(rep->valid_best_model));
    }
    if (rank_it)
        json_object_set_new(
            meta, "validation",
            json_pack("{s:f, s:f, s:s}", "ndcg@10", rep->valid_ndcg10, "best_model_ndcg@10",
                      rep->valid_ndcg10_best, "best_model", rep->valid_best_model));
    json_object_set_new(meta, "params",
                        json_pack("{s:i, s:i, s:f, s:f, s:f, s:f, s:f}", "trees", p->trees,
                                  "depth", p->depth, "eta", p->eta, "min_child_weight",
                                  p->min_child_weight, "subsample", p->subsample, "colsample",
                                  p->colsample, "lambda", p->lambda));
    mq_bundle_meta_set(into, RK_META, meta);
    rep->trained = rank_it;
out:
    mq_free(json);
    mq_free(rank_json);
    mq_free(gsize);
    mq_free(margin);
    mq_free(cal);
    mq_free(iso);
    mq_forest_free(&rank);
    mq_forest_free(&enjoy);
    return rc;
}
