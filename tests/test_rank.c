/* test_rank.c: the ranker's parts that need no world: our tree evaluator gives
 * XGBoost's own predictions (ranking and logistic models, trees of every shape);
 * extra bundle sections survive writing, reading and corruption checks; the
 * ranker and its calibration trained on in-memory data are stored in a bundle and
 * read back with the same scores; the fallback blend without a ranker; NDCG with
 * graded labels and ties; the isotonic calibration is monotone and calibrated. */
#include "helpers.h"
#include "rank/rank_impl.h" /* the internal preparation, to compare its two rank paths */

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xgboost/c_api.h>

/* Rows with a known structure: the label depends on a few features non-linearly. */
static void make_rows(size_t n, uint64_t seed, float *x, float *y) {
    mq_rng r;
    mq_rng_seed(&r, seed, 7);
    for (size_t i = 0; i < n; i++) {
        float *row = x + i * MQ_RF_COUNT;
        for (int f = 0; f < MQ_RF_COUNT; f++)
            row[f] = (float)(mq_rng_unif(&r) * 4 - 2);
        /* Some features are discrete, as device and slot are. */
        row[MQ_RF_DEVICE] = (float)mq_rng_below(&r, 5);
        row[MQ_RF_SLOT] = (float)mq_rng_below(&r, 4);
        double s = row[MQ_RF_SCORE_IALS] + 0.5 * row[MQ_RF_POPULARITY] +
                   (row[MQ_RF_DEVICE] == 2 && row[MQ_RF_RUNTIME] < 0 ? 1.5 : 0) +
                   0.3 * mq_rng_normal(&r);
        y[i] = s > 1.5 ? 3 : s > 0.8 ? 2 : s > 0.2 ? 1 : 0;
    }
}

static void xgb_ok(int rc) {
    cr_assert_eq(rc, 0, "XGBoost: %s", XGBGetLastError());
}

/* Trains a booster with XGBoost directly and returns it. */
static BoosterHandle train_xgb(const float *x, const float *y, size_t n, const unsigned *groups,
                               size_t ng, const char *objective, int trees, int depth,
                               DMatrixHandle *dm) {
    xgb_ok(XGDMatrixCreateFromMat(x, n, MQ_RF_COUNT, NAN, dm));
    xgb_ok(XGDMatrixSetFloatInfo(*dm, "label", y, n));
    if (groups)
        xgb_ok(XGDMatrixSetUIntInfo(*dm, "group", groups, ng));
    BoosterHandle b;
    xgb_ok(XGBoosterCreate(dm, 1, &b));
    char d[16];
    snprintf(d, sizeof d, "%d", depth);
    XGBoosterSetParam(b, "objective", objective);
    XGBoosterSetParam(b, "max_depth", d);
    XGBoosterSetParam(b, "eta", "0.3");
    XGBoosterSetParam(b, "tree_method", "hist");
    XGBoosterSetParam(b, "nthread", "1");
    XGBoosterSetParam(b, "verbosity", "0");
    /* A high min_child_weight leaves some trees shallower than the rest, so the
     * padding to complete trees is exercised. */
    XGBoosterSetParam(b, "min_child_weight", "5");
    for (int i = 0; i < trees; i++)
        xgb_ok(XGBoosterUpdateOneIter(b, i, *dm));
    return b;
}

static void compare_with_xgboost(const char *objective, const unsigned *groups, size_t ng,
                                 int depth) {
    size_t n = 600;
    float *x = malloc(n * MQ_RF_COUNT * sizeof *x), *y = malloc(n * sizeof *y);
    make_rows(n, 42, x, y);
    if (strcmp(objective, "binary:logistic") == 0)
        for (size_t i = 0; i < n; i++)
            y[i] = y[i] >= 2;
    DMatrixHandle dm;
    BoosterHandle b = train_xgb(x, y, n, groups, ng, objective, 30, depth, &dm);
    bst_ulong len;
    const char *json;
    xgb_ok(XGBoosterSaveModelToBuffer(b, "{\"format\": \"json\"}", &len, &json));
    mq_forest f;
    mq_err err = {0};
    cr_assert_eq(mq_forest_from_xgboost_json(json, len, &f, &err), 0, "%s", err.msg);
    cr_assert_eq(f.n_trees, 30);
    cr_assert_leq(f.depth, (uint32_t)depth);
    /* XGBoost's margin (output_margin) for every row. */
    const bst_ulong *shape;
    bst_ulong dim;
    const float *pred;
    xgb_ok(XGBoosterPredictFromDMatrix(
        b, dm, "{\"type\": 1, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, "
               "\"strict_shape\": false}",
        &shape, &dim, &pred));
    float *ours = malloc(n * sizeof *ours);
    mq_forest_predict(&f, x, n, ours);
    for (size_t i = 0; i < n; i++)
        cr_assert(fabsf(ours[i] - pred[i]) <= 1e-5f * (1 + fabsf(pred[i])),
                  "%s row %zu: ours %.9g, XGBoost %.9g", objective, i, ours[i], pred[i]);
    /* The vectorized evaluator (when the machine has AVX-512) and the portable one
     * agree to the bit. */
    float *port = malloc(n * sizeof *port);
    mq_forest_predict_portable(&f, x, n, port);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(port[i], ours[i], "row %zu: portable %.9g, fast %.9g", i, port[i], ours[i]);
    free(port);
    /* Rows scored one at a time give the same as in blocks. */
    for (size_t i = 0; i < 40; i++) {
        float one;
        mq_forest_predict(&f, x + i * MQ_RF_COUNT, 1, &one);
        cr_assert_eq(one, ours[i]);
    }
    free(ours);
    mq_forest_free(&f);
    XGBoosterFree(b);
    XGDMatrixFree(dm);
    free(x);
    free(y);
}

Test(rank, evaluator_matches_xgboost_ranking) {
    unsigned groups[60];
    for (int g = 0; g < 60; g++)
        groups[g] = 10;
    compare_with_xgboost("rank:ndcg", groups, 60, 6);
    compare_with_xgboost("rank:ndcg", groups, 60, 4);
    compare_with_xgboost("rank:ndcg", groups, 60, 3);
}

Test(rank, evaluator_matches_xgboost_logistic) {
    compare_with_xgboost("binary:logistic", NULL, 0, 4);
}

Test(rank, xgboost_json_errors_are_named) {
    mq_forest f;
    mq_err err = {0};
    const char *bad = "{\"learner\": {\"gradient_booster\": {\"model\": {\"trees\": 3}}}}";
    cr_assert_eq(mq_forest_from_xgboost_json(bad, strlen(bad), &f, &err), MQ_ECORRUPT);
    cr_assert(strstr(err.msg, "trees"), "%s", err.msg);
    const char *cyc = "{\"learner\": {\"gradient_booster\": {\"model\": {\"trees\": [{"
                      "\"left_children\": [0], \"right_children\": [0], \"split_indices\": [0],"
                      "\"split_conditions\": [1]}]}}}}";
    cr_assert_eq(mq_forest_from_xgboost_json(cyc, strlen(cyc), &f, &err), MQ_ECORRUPT);
    cr_assert(strstr(err.msg, "node 0"), "%s", err.msg);
}

Test(rank, ndcg_graded_and_ties) {
    float label[4] = {0, 3, 0, 1};
    float perfect[4] = {0.1f, 0.9f, 0.2f, 0.5f};
    cr_assert_float_eq(rk_group_ndcg(perfect, label, 4, 0, 1), 1.0, 1e-9);
    float worst[4] = {0.9f, 0.1f, 0.8f, 0.2f};
    double w = rk_group_ndcg(worst, label, 4, 0, 1);
    double ideal = 7 + 1 / log2(3), got = 1 / log2(4) + 7 / log2(5);
    cr_assert_float_eq(w, got / ideal, 1e-9);
    /* A relevant title outside the group lowers the ideal-normalized score. */
    cr_assert_lt(rk_group_ndcg(perfect, label, 4, 1, 1), 1.0);
    /* Ties are not broken by row order: all-equal scores give the same value for a
     * relevant first row and a relevant last row, averaged over salts. */
    float flat[8] = {0}, first[8] = {1}, last[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    double a = 0, b = 0;
    for (uint64_t s = 0; s < 400; s++) {
        a += rk_group_ndcg(flat, first, 8, 0, s);
        b += rk_group_ndcg(flat, last, 8, 0, s);
    }
    cr_assert_float_eq(a / 400, b / 400, 0.05);
}

/* A bundle of a few titles trained from entries (popular and content only). */
static mq_bundle *small_bundle(uint32_t n_titles) {
    mq_entry e[400];
    size_t k = 0;
    for (uint32_t r = 0; r < 40; r++)
        for (uint32_t j = 0; j < 5; j++)
            e[k++] = (mq_entry){r, (r * 7 + j * 3) % n_titles, 1 + (float)j, 0,
                                MQ_PAIR_POSITIVE, 1000 * (int64_t)(r + j)};
    mq_matrix *m = mq_matrix_from_entries(40, n_titles, e, k);
    mq_train_params p;
    mq_config *c = mq_config_create();
    mq_train_params_from_config(&p, c);
    mq_config_destroy(c);
    p.models = (1u << MQ_MODEL_POPULAR) | (1u << MQ_MODEL_TRENDING) | (1u << MQ_MODEL_KNN) |
               (1u << MQ_MODEL_IALS);
    p.ials.factors = 8;
    p.ials.iters = 3;
    p.threads = 1;
    mq_train_report rep;
    mq_bundle *b;
    mq_err err = {0};
    cr_assert_eq(mq_train(m, &p, NULL, NULL, &rep, &b, &err), 0, "%s", err.msg);
    mq_matrix_destroy(m);
    return b;
}

Test(rank, bundle_extra_sections_roundtrip_and_checksums) {
    mq_bundle *b = small_bundle(30);
    const char blob[] = "twelve bytes";
    float v[5] = {1, 2, 3, 4, 5};
    mq_bundle_add_section(b, "rk_test", blob, sizeof blob);
    mq_bundle_add_section(b, "rk_floats", v, sizeof v);
    mq_bundle_add_section(b, "rk_test", v, sizeof v); /* replaces */
    char *dir = th_tmpdir(), path[4096];
    snprintf(path, sizeof path, "%s/b.mqb", dir);
    mq_err err = {0};
    cr_assert_eq(mq_bundle_write(b, path, &err), 0, "%s", err.msg);
    mq_bundle *r;
    cr_assert_eq(mq_bundle_open(path, &r, &err), 0, "%s", err.msg);
    size_t len;
    const float *got = mq_bundle_section(r, "rk_test", &len);
    cr_assert_not_null(got);
    cr_assert_eq(len, sizeof v);
    cr_assert_eq(memcmp(got, v, sizeof v), 0);
    cr_assert_eq((uintptr_t)got % 64, 0, "sections are 64-byte aligned");
    cr_assert_null(mq_bundle_section(r, "absent", &len));
    cr_assert_eq(len, 0);
    mq_bundle_destroy(r);
    /* Flip one byte of the last section's data: refused, naming the section. */
    size_t flen;
    char *bytes = th_read(path, &flen);
    size_t at = flen - 1;
    while (at > 0 && bytes[at] == 0)
        at--;
    bytes[at] ^= 0x40;
    cr_assert_eq(mq_bundle_open_bytes(bytes, flen, "flipped", &r, &err), MQ_ECORRUPT);
    cr_assert(strstr(err.msg, "checksum"), "%s", err.msg);
    free(bytes);
    mq_bundle_destroy(b);
    th_rmrf(dir);
    free(dir);
}

/* In-memory training data: groups of 8 rows, outcomes with a known rate. */
static void make_data(mq_rank_data *d, size_t groups, uint64_t seed) {
    memset(d, 0, sizeof *d);
    size_t n = groups * 8;
    d->n_rows = n;
    d->n_groups = groups;
    d->x = malloc(n * MQ_RF_COUNT * sizeof(float));
    d->label = malloc(n * sizeof(float));
    d->col = calloc(n, sizeof(uint32_t));
    make_rows(n, seed, d->x, d->label);
    d->group_ptr = malloc((groups + 1) * sizeof(size_t));
    d->group_ms = malloc(groups * sizeof(int64_t));
    d->group_missing = calloc(groups, sizeof(uint32_t));
    d->group_device = calloc(groups, 1);
    d->group_profile = calloc(groups, sizeof(uint32_t));
    for (size_t g = 0; g <= groups; g++)
        d->group_ptr[g] = g * 8;
    for (size_t g = 0; g < groups; g++)
        d->group_ms[g] = (int64_t)g * 1000;
    /* Outcomes: enjoyed with probability sigmoid(score_ials). */
    d->n_out = 2000;
    d->out_x = malloc(d->n_out * MQ_RF_COUNT * sizeof(float));
    d->out_label = malloc(d->n_out * sizeof(float));
    d->out_ms = malloc(d->n_out * sizeof(int64_t));
    float *tmp = malloc(d->n_out * sizeof(float));
    make_rows(d->n_out, seed + 1, d->out_x, tmp);
    mq_rng r;
    mq_rng_seed(&r, seed, 9);
    for (size_t i = 0; i < d->n_out; i++) {
        double p = 1 / (1 + exp(-2 * d->out_x[i * MQ_RF_COUNT + MQ_RF_SCORE_IALS]));
        d->out_label[i] = mq_rng_unif(&r) < p ? 1 : 0;
        d->out_ms[i] = (int64_t)(i * groups * 1000 / d->n_out);
    }
    free(tmp);
    d->impressions = true;
}

Test(rank, train_store_reload_same_scores) {
    mq_rank_data d;
    make_data(&d, 300, 5);
    mq_bundle *b = small_bundle(30);
    mq_rank_params p;
    mq_config *c = mq_config_create();
    mq_rank_params_from_config(&p, c);
    mq_config_destroy(c);
    p.trees = 20;
    p.depth = 4;
    p.threads = 1;
    cr_assert_null(mq_rank_params_check(&p));
    mq_rank_train_report rep;
    mq_err err = {0};
    cr_assert_eq(mq_rank_train(&d, &p, b, &rep, &err), 0, "%s", err.msg);
    cr_assert(rep.trained, "%s", rep.skipped);
    double gsum = 0;
    for (int f = 0; f < MQ_RF_COUNT; f++)
        gsum += rep.gain[f];
    cr_assert_float_eq(gsum, 1.0, 1e-6);
    cr_assert_gt(rep.gain[MQ_RF_SCORE_IALS], 0.2, "the informative feature leads: %g",
                 rep.gain[MQ_RF_SCORE_IALS]);
    /* Validation on the held-out window: the ranker beats a random model. */
    cr_assert_gt(rep.valid_ndcg10, 0.6);
    const mq_ranker *rk = mq_ranker_get(b);
    cr_assert(mq_ranker_trained(rk), "%s", mq_ranker_status(rk));
    cr_assert(mq_ranker_calibrated(rk));
    /* Written and read back: the same ranker. */
    char *dir = th_tmpdir(), path[4096];
    snprintf(path, sizeof path, "%s/b.mqb", dir);
    cr_assert_eq(mq_bundle_write(b, path, &err), 0, "%s", err.msg);
    mq_bundle *r;
    cr_assert_eq(mq_bundle_open(path, &r, &err), 0, "%s", err.msg);
    const mq_ranker *rr = mq_ranker_get(r);
    cr_assert(mq_ranker_trained(rr), "%s", mq_ranker_status(rr));
    cr_assert(mq_ranker_calibrated(rr));
    cr_assert_eq(mq_ranker_get(r), rr, "the ranker is built once per bundle");
    /* Evaluated on fresh data from the same distribution (the test window). */
    mq_rank_data t;
    make_data(&t, 300, 77);
    mq_rank_eval e1, e2;
    cr_assert_eq(mq_rank_evaluate(rk, &t, NULL, 200, 1, &e1, &err), 0, "%s", err.msg);
    cr_assert_eq(mq_rank_evaluate(rr, &t, NULL, 200, 1, &e2, &err), 0, "%s", err.msg);
    cr_assert(isnan(e1.ndcg_oracle), "no oracle, no oracle figure");
    /* An oracle that knows the labels ranks every group perfectly (NDCG 1, or 0
     * for a group without any positive); the history buckets partition the
     * requests and average to the whole. */
    mq_rank_eval eo;
    cr_assert_eq(mq_rank_evaluate(rk, &t, t.label, 200, 1, &eo, &err), 0, "%s", err.msg);
    size_t with_pos = 0;
    for (size_t g = 0; g < t.n_groups; g++) {
        bool any = false;
        for (size_t i = t.group_ptr[g]; i < t.group_ptr[g + 1]; i++)
            any |= t.label[i] > 0;
        with_pos += any;
    }
    cr_assert_float_eq(eo.ndcg_oracle, (double)with_pos / (double)t.n_groups, 1e-9);
    cr_assert_gt(eo.ndcg_oracle, eo.ndcg_ranker);
    cr_assert_eq(eo.ndcg_ranker, e1.ndcg_ranker);
    size_t n = 0;
    double mean = 0;
    int buckets = 0;
    for (int h = 0; h < 4; h++) {
        n += eo.by_history[h].requests;
        if (eo.by_history[h].requests) {
            buckets++;
            mean += eo.by_history[h].ranker * (double)eo.by_history[h].requests;
            cr_assert_geq(eo.by_history[h].oracle, eo.by_history[h].ranker);
        }
    }
    cr_assert_eq(n, eo.requests);
    cr_assert_geq(buckets, 2, "the test rows' history sizes span buckets");
    cr_assert_float_eq(mean / (double)n, eo.ndcg_ranker, 1e-9);
    mq_rank_data_free(&t);
    cr_assert_eq(e1.ndcg_ranker, e2.ndcg_ranker);
    cr_assert_eq(e1.ece, e2.ece);
    /* The informative model is the best single one, and the ranker beats it with
     * an interval that excludes zero (the context effect it alone can learn). */
    cr_assert_eq(e1.best, MQ_MODEL_IALS);
    cr_assert_gt(e1.ci_lo, 0, "gain %g [%g, %g]", e1.rel_gain, e1.ci_lo, e1.ci_hi);
    cr_assert_leq(e1.ci_lo, e1.rel_gain);
    cr_assert_geq(e1.ci_hi, e1.rel_gain);
    /* Calibration: the reliability table's bins agree with what happened. */
    cr_assert_lt(e1.ece, 0.08, "ECE %g", e1.ece);
    for (int i = 0; i < 10; i++)
        if (e1.reliability_n[i] > 100)
            cr_assert_float_eq(e1.reliability_pred[i], e1.reliability_obs[i], 0.12);
    mq_bundle_destroy(r);
    mq_bundle_destroy(b);
    th_rmrf(dir);
    free(dir);
    mq_rank_data_free(&d);
}

Test(rank, too_little_data_is_skipped_not_failed) {
    mq_rank_data d;
    make_data(&d, 5, 3);
    mq_bundle *b = small_bundle(30);
    mq_rank_params p;
    mq_config *c = mq_config_create();
    mq_rank_params_from_config(&p, c);
    mq_config_destroy(c);
    mq_rank_train_report rep;
    mq_err err = {0};
    cr_assert_eq(mq_rank_train(&d, &p, b, &rep, &err), 0);
    cr_assert(!rep.trained);
    cr_assert(strstr(rep.skipped, "groups"), "%s", rep.skipped);
    const mq_ranker *rk = mq_ranker_get(b);
    cr_assert(!mq_ranker_trained(rk));
    cr_assert(strstr(mq_ranker_status(rk), "groups"), "%s", mq_ranker_status(rk));
    /* The match score does not need the ranker: it is still trained and calibrated. */
    cr_assert(mq_ranker_calibrated(rk));
    mq_bundle_destroy(b);
    mq_rank_data_free(&d);
}

Test(rank, fallback_blend_ranks_without_a_ranker) {
    mq_bundle *b = small_bundle(30);
    const mq_ranker *rk = mq_ranker_get(b);
    cr_assert(!mq_ranker_trained(rk));
    mq_rank_ws *ws = mq_rank_ws_create(b);
    mq_rank_context ctx;
    mq_rank_context_init(&ctx, MQ_DEVICE_TV, 1790000000000LL);
    mq_rank_settings s;
    mq_rank_settings_default(&s);
    mq_ranked out[10];
    mq_err err = {0};
    /* No history: popularity decides; scores descend; no match without calibration. */
    long got = mq_rank_profile(rk, NULL, &ctx, &s, ws, out, 10, &err);
    cr_assert_eq(got, 10, "%s", err.msg);
    for (long i = 1; i < got; i++)
        cr_assert_geq(out[i - 1].score, out[i].score);
    for (long i = 0; i < got; i++)
        cr_assert_eq(out[i].match_pct, -1);
    /* A history: the watched titles are left out, the others follow their kNN. */
    mq_state_title t[2];
    memset(t, 0, sizeof t);
    t[0].title_id = mq_bundle_title_id(b, out[0].col);
    t[0].weight = 5;
    t[0].plays = 1;
    t[0].completed_ever = true;
    t[0].last_ms = 1789000000000LL;
    t[1].title_id = mq_bundle_title_id(b, out[1].col);
    t[1].thumb = -1;
    t[1].negative = 4;
    mq_state_view v = {0};
    v.profile_id = 1;
    v.titles = t;
    v.n_titles = 2;
    mq_ranked out2[30];
    got = mq_rank_profile(rk, &v, &ctx, &s, ws, out2, 30, &err);
    cr_assert_gt(got, 0, "%s", err.msg);
    for (long i = 0; i < got; i++) {
        cr_assert_neq(out2[i].col, out[0].col, "a finished title is not recommended");
        cr_assert_neq(out2[i].col, out[1].col, "a thumbs-down title is not recommended");
    }
    /* Scoring given titles keeps their order and marks unknown ones. */
    uint32_t cols[3] = {out[2].col, 9999, out[3].col};
    mq_ranked o3[3];
    cr_assert_eq(mq_rank_titles(rk, &v, &ctx, &s, cols, 3, ws, o3, &err), 0);
    cr_assert_eq(o3[0].col, out[2].col);
    cr_assert_eq(o3[1].score, -INFINITY);
    cr_assert_eq(o3[2].col, out[3].col);
    mq_rank_ws_destroy(ws);
    mq_bundle_destroy(b);
}

Test(rank, feature_table_is_documented) {
    for (int f = 0; f < MQ_RF_COUNT; f++) {
        cr_assert_gt(strlen(mq_rank_feature_name((mq_rank_feature)f)), 0);
        cr_assert_gt(strlen(mq_rank_feature_doc((mq_rank_feature)f)), 10);
    }
    char *doc = th_read(MQ_SOURCE_DIR "/docs/ranking.md", NULL);
    cr_assert_not_null(doc, "docs/ranking.md is missing");
    for (int f = 0; f < MQ_RF_COUNT; f++) {
        char needle[64];
        snprintf(needle, sizeof needle, "`%s`", mq_rank_feature_name((mq_rank_feature)f));
        cr_assert(strstr(doc, needle), "docs/ranking.md does not document %s", needle);
    }
    free(doc);
}

Test(rank, counted_ranks_equal_selected_ranks) {
    /* Serving orders the catalogue (selection + radix sort); building training data
     * counts the rank of each of a page's few titles. Both must give the same
     * features, ties and excluded titles included. */
    mq_bundle *b = small_bundle(30);
    const mq_ranker *rk = mq_ranker_get(b);
    mq_rank_ws *ws = mq_rank_ws_create(b);
    mq_state_title t[3];
    memset(t, 0, sizeof t);
    for (int i = 0; i < 3; i++) {
        t[i].title_id = mq_bundle_title_id(b, (uint32_t)(i * 7));
        t[i].weight = 2 + i;
        t[i].plays = 1;
        t[i].last_ms = 1789000000000LL + i;
    }
    t[2].thumb = -1;
    mq_state_view v = {0};
    v.titles = t;
    v.n_titles = 3;
    mq_rank_context ctx;
    mq_rank_context_init(&ctx, MQ_DEVICE_TV, 1790000000000LL);
    mq_rank_settings s;
    mq_rank_settings_default(&s);
    mq_err err = {0};
    float a[MQ_RF_COUNT], c[MQ_RF_COUNT];
    for (uint32_t col = 0; col < 30; col++) {
        ws->lazy_ranks = false;
        cr_assert_eq(rk_prepare(rk, &v, &ctx, &s, ws, &err), 0, "%s", err.msg);
        rk_features(rk, ws, col, a);
        rk_finish(ws);
        ws->lazy_ranks = true;
        cr_assert_eq(rk_prepare(rk, &v, &ctx, &s, ws, &err), 0, "%s", err.msg);
        rk_features(rk, ws, col, c);
        rk_finish(ws);
        for (int f = MQ_RF_RANK_POPULAR; f <= MQ_RF_RANK_CONTENT; f++)
            cr_assert_eq(a[f], c[f], "column %u, %s: selected %g, counted %g", col,
                         mq_rank_feature_name((mq_rank_feature)f), a[f], c[f]);
    }
    ws->lazy_ranks = false;
    mq_rank_ws_destroy(ws);
    mq_bundle_destroy(b);
}
