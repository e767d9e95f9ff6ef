/* test_models.c: the candidate models on small matrices built in memory: a world
 * with planted structure (every model beats random and popularity by a wide
 * margin), EASE against the direct formula, iALS's loss decreasing monotonically,
 * fold-in equal to the training solve, the matrix builder's reading of events,
 * top-k (the heap and the radix selection agree), cold start, and the bundle (round trip,
 * truncation and corruption refused with a clear message, the previous bundle kept). */
#include "eval/eval.h"
#include "models/models_impl.h"
#include "helpers.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------- planted world ---- */

#define PW_USERS 400
#define PW_ITEMS 200
#define PW_CLUSTERS 5
#define PW_PER_USER 25

/* Each profile belongs to a cluster and takes 85% of its titles from the
 * cluster's (Zipf-popular) titles, the rest from anywhere. Titles carry their
 * cluster as a genre plus one of the cluster's eight tags. Title PW_ITEMS - 1 is left cold (nobody
 * touches it); its cluster is (PW_ITEMS - 1) % PW_CLUSTERS. */
static mq_matrix *planted(uint32_t *cluster_of_user) {
    mq_rng r;
    mq_rng_seed(&r, 42, 7);
    mq_entry *e = mq_malloc(PW_USERS * PW_PER_USER * sizeof *e);
    size_t n = 0;
    double w[PW_ITEMS];
    for (int i = 0; i < PW_ITEMS; i++)
        w[i] = 1.0 / (1 + i / PW_CLUSTERS);
    w[PW_ITEMS - 1] = 0;
    for (uint32_t u = 0; u < PW_USERS; u++) {
        uint32_t c = u % PW_CLUSTERS;
        if (cluster_of_user)
            cluster_of_user[u] = c;
        bool seen[PW_ITEMS] = {0};
        for (int k = 0; k < PW_PER_USER; k++) {
            double cw[PW_ITEMS];
            bool own = mq_rng_unif(&r) < 0.85;
            for (int i = 0; i < PW_ITEMS; i++)
                cw[i] = seen[i] || (own && (uint32_t)i % PW_CLUSTERS != c) ? 0 : w[i];
            size_t i = mq_rng_categorical(&r, cw, PW_ITEMS);
            seen[i] = true;
            e[n++] = (mq_entry){u, (uint32_t)i,      1.0f,
                                0, MQ_PAIR_POSITIVE, 1700000000000LL + (int64_t)k * 60000};
        }
    }
    mq_matrix *m = mq_matrix_from_entries(PW_USERS, PW_ITEMS, e, n);
    mq_free(e);
    char *feats[PW_ITEMS];
    for (int i = 0; i < PW_ITEMS; i++) {
        feats[i] = mq_malloc(32);
        snprintf(feats[i], 32, "g:c%d|t:x%u", i % PW_CLUSTERS,
                 (unsigned)(i % PW_CLUSTERS) * 8 + mq_rng_below(&r, 8));
    }
    mq_matrix_set_features(m, (const char *const *)feats);
    for (int i = 0; i < PW_ITEMS; i++)
        mq_free(feats[i]);
    return m;
}

static void small_params(mq_train_params *p) {
    mq_config *c = mq_config_create();
    mq_train_params_from_config(p, c);
    mq_config_destroy(c);
    p->ials.factors = 16;
    p->ials.iters = 10;
    p->ease.lambda = 20;
    p->knn.neighbours = 50;
    p->pop.half_life_days = 0;
    p->threads = 2;
}

Test(models, planted_structure_every_model_beats_random_and_popularity) {
    mq_matrix *m = planted(NULL);
    mq_eval_opts o;
    mq_eval_opts_default(&o);
    mq_split *sp;
    mq_err err = {0};
    cr_assert_eq(mq_split_make(m, NULL, &o, &sp, &err), MQ_OK, "%s", err.msg);
    cr_assert_gt(sp->n_users, 50);
    mq_train_params p;
    small_params(&p);
    mq_eval_result res[MQ_MODEL_COUNT];
    unsigned models = MQ_MODEL_ALL;
    cr_assert_eq(mq_eval_run(sp, &p, models, &o, NULL, NULL, res, NULL, &err), MQ_OK, "%s",
                 err.msg);
    double pop = mq_eval_metric(&res[MQ_MODEL_POPULAR], "recall@20");
    double random = 20.0 / (PW_ITEMS - PW_PER_USER * 0.8);
    const mq_model_kind personal[] = {MQ_MODEL_KNN, MQ_MODEL_IALS, MQ_MODEL_EASE, MQ_MODEL_CONTENT};
    for (size_t i = 0; i < MQ_ARRAY_LEN(personal); i++) {
        double r = mq_eval_metric(&res[personal[i]], "recall@20");
        cr_assert_gt(r, 2 * pop, "%s: recall@20 %.3f, popularity %.3f", mq_model_name(personal[i]),
                     r, pop);
        cr_assert_gt(r, 3 * random, "%s: recall@20 %.3f, random %.3f", mq_model_name(personal[i]),
                     r, random);
        cr_assert_gt(res[personal[i]].ndcg[3], res[MQ_MODEL_POPULAR].ndcg[3]);
    }
    cr_assert_gt(pop, 0.5 * random, "popularity %.3f should be no worse than random", pop);
    mq_split_destroy(sp);
    mq_matrix_destroy(m);
}

/* ------------------------------------------------------------------ EASE ---- */

/* Inverse of a small SPD matrix by Gauss-Jordan in double precision. */
static void invert(double *a, int n) {
    double *inv = calloc((size_t)n * n, sizeof *inv);
    for (int i = 0; i < n; i++)
        inv[i * n + i] = 1;
    for (int c = 0; c < n; c++) {
        double piv = a[c * n + c];
        for (int j = 0; j < n; j++) {
            a[c * n + j] /= piv;
            inv[c * n + j] /= piv;
        }
        for (int r = 0; r < n; r++) {
            if (r == c)
                continue;
            double f = a[r * n + c];
            for (int j = 0; j < n; j++) {
                a[r * n + j] -= f * a[c * n + j];
                inv[r * n + j] -= f * inv[c * n + j];
            }
        }
    }
    memcpy(a, inv, (size_t)n * n * sizeof *a);
    free(inv);
}

Test(models, ease_on_a_tiny_matrix_equals_the_direct_formula) {
    /* 6 profiles x 4 titles, binary. */
    static const int X[6][4] = {{1, 1, 0, 0}, {1, 0, 1, 0}, {0, 1, 1, 1},
                                {1, 1, 1, 0}, {0, 0, 1, 1}, {1, 0, 0, 1}};
    mq_entry e[24];
    size_t n = 0;
    for (uint32_t u = 0; u < 6; u++)
        for (uint32_t i = 0; i < 4; i++)
            if (X[u][i])
                e[n++] = (mq_entry){u, i, 1.0f, 0, MQ_PAIR_POSITIVE, 0};
    mq_matrix *m = mq_matrix_from_entries(6, 4, e, n);
    mq_train_params p;
    small_params(&p);
    p.ease.lambda = 0.5;
    float *B;
    double inv_s;
    mq_err err = {0};
    cr_assert_eq(mq_ease_fit_dense(m, &p, &B, &inv_s, &err), MQ_OK, "%s", err.msg);
    /* Steck 2019 eq. 8: P = (X'X + lambda I)^-1, B = I - P diagMat(1 / diag(P)). */
    double G[16] = {0};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            for (int u = 0; u < 6; u++)
                G[i * 4 + j] += X[u][i] * X[u][j];
            if (i == j)
                G[i * 4 + j] += 0.5;
        }
    invert(G, 4);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            double want = (i == j ? 1.0 : 0.0) - G[i * 4 + j] / G[j * 4 + j];
            cr_assert_float_eq(B[i * 4 + j], want, 1e-5, "B[%d][%d] = %g, expected %g", i, j,
                               B[i * 4 + j], want);
        }
    free(B);
    mq_matrix_destroy(m);
}

Test(models, ease_is_skipped_with_a_message_above_max_titles) {
    mq_matrix *m = planted(NULL);
    mq_train_params p;
    small_params(&p);
    p.ease.max_titles = 100;
    mq_train_report rep;
    mq_bundle *b;
    mq_err err = {0};
    cr_assert_eq(mq_train(m, &p, NULL, NULL, &rep, &b, &err), MQ_OK, "%s", err.msg);
    cr_assert(strstr(rep.skipped[MQ_MODEL_EASE], "200 titles") &&
                  strstr(rep.skipped[MQ_MODEL_EASE], "models.ease.max_titles (100)"),
              "%s", rep.skipped[MQ_MODEL_EASE]);
    cr_assert(!mq_bundle_has(b, MQ_MODEL_EASE));
    cr_assert(mq_bundle_has(b, MQ_MODEL_IALS));
    float scores[PW_ITEMS];
    mq_model_ws *ws = mq_model_ws_create(b);
    mq_hist_item h = {3, 1, 0};
    cr_assert_eq(mq_model_score(b, MQ_MODEL_EASE, &h, 1, scores, ws, &err), MQ_ENOTFOUND);
    cr_assert(strstr(err.msg, "no ease model"), "%s", err.msg);
    mq_model_ws_destroy(ws);
    mq_bundle_destroy(b);
    mq_matrix_destroy(m);
}

/* ------------------------------------------------------------------ iALS ---- */

static void check_monotone(int cg_steps) {
    mq_matrix *m = planted(NULL);
    mq_train_params p;
    small_params(&p);
    p.ials.iters = 12;
    p.ials.cg_steps = cg_steps;
    double loss[12];
    float *X, *Y;
    mq_err err = {0};
    cr_assert_eq(mq_ials_fit(m, &p, &X, &Y, loss, &err), MQ_OK, "%s", err.msg);
    for (int i = 1; i < 12; i++)
        cr_assert_leq(loss[i], loss[i - 1] * (1 + 1e-5),
                      "cg_steps %d: loss rose at iteration %d: %.6f -> %.6f", cg_steps, i + 1,
                      loss[i - 1], loss[i]);
    cr_assert_lt(loss[11], 0.9 * loss[0], "the loss barely moved: %g -> %g", loss[0], loss[11]);
    mq_free(X);
    mq_free(Y);
    mq_matrix_destroy(m);
}

Test(models, ials_loss_decreases_monotonically_cg) {
    check_monotone(3);
}

Test(models, ials_loss_decreases_monotonically_exact) {
    check_monotone(0);
}

/* The same data fits the same factors bit for bit on two threads: with more rows
 * than one Gramian block, whichever thread takes which block. */
Test(models, ials_fit_is_the_same_every_time_on_two_threads) {
    enum { USERS = 12000, ITEMS = 300, PER = 8 };
    mq_rng r;
    mq_rng_seed(&r, 5, 1);
    mq_entry *e = mq_malloc(USERS * PER * sizeof *e);
    size_t n = 0;
    for (uint32_t u = 0; u < USERS; u++)
        for (uint32_t j = 0; j < PER; j++)
            e[n++] = (mq_entry){u, (u * 7 + j * 31 + mq_rng_below(&r, 5)) % ITEMS,
                                1.0f + (float)mq_rng_below(&r, 3), 0, MQ_PAIR_POSITIVE,
                                1700000000000LL + (int64_t)j * 60000};
    mq_matrix *m = mq_matrix_from_entries(USERS, ITEMS, e, n);
    mq_free(e);
    mq_train_params p;
    small_params(&p);
    cr_assert_eq(p.threads, 2);
    float *X0 = NULL, *Y0 = NULL;
    mq_err err = {0};
    cr_assert_eq(mq_ials_fit(m, &p, &X0, &Y0, NULL, &err), MQ_OK, "%s", err.msg);
    for (int run = 1; run < 4; run++) {
        float *X, *Y;
        cr_assert_eq(mq_ials_fit(m, &p, &X, &Y, NULL, &err), MQ_OK, "%s", err.msg);
        cr_assert(memcmp(X, X0, (size_t)USERS * p.ials.factors * sizeof *X) == 0,
                  "run %d: user factors differ", run);
        cr_assert(memcmp(Y, Y0, (size_t)ITEMS * p.ials.factors * sizeof *Y) == 0,
                  "run %d: item factors differ", run);
        mq_free(X);
        mq_free(Y);
    }
    mq_free(X0);
    mq_free(Y0);
    mq_matrix_destroy(m);
}

/* Fold-in from a profile's history equals the training user step on the same
 * data: exactly the same equations (exact solves), and CG converging to them. */
Test(models, foldin_equals_the_training_solve) {
    mq_matrix *m = planted(NULL);
    /* Some negatives and graded confidences, so every weight path is exercised. */
    for (size_t e = 0; e < m->nnz; e += 7)
        m->conf[e] = 2.5f;
    for (size_t e = 3; e < m->nnz; e += 11) {
        m->neg[e] = 3;
        m->conf[e] = 0;
    }
    mq_train_params p;
    small_params(&p);
    p.ials.cg_steps = 0;
    p.models = 1u << MQ_MODEL_IALS;
    mq_bundle *b;
    mq_err err = {0};
    cr_assert_eq(mq_train(m, &p, NULL, NULL, NULL, &b, &err), MQ_OK, "%s", err.msg);
    int k;
    const float *Y = mq_bundle_item_factors(b, &k);
    cr_assert_eq(k, 16);
    float *X = mq_calloc((size_t)m->n_rows * k, sizeof *X);
    mq_ials_user_step(m, &p, Y, X);
    mq_train_params pcg = p;
    pcg.ials.cg_steps = 64;
    float *Xcg = mq_calloc((size_t)m->n_rows * k, sizeof *Xcg);
    mq_ials_user_step(m, &pcg, Y, Xcg);
    mq_model_ws *ws = mq_model_ws_create(b);
    float v[16];
    mq_hist_item h[PW_ITEMS];
    for (uint32_t r = 0; r < m->n_rows; r++) {
        size_t n = 0;
        for (size_t e = m->row_ptr[r]; e < m->row_ptr[r + 1]; e++)
            h[n++] = (mq_hist_item){m->col[e], m->conf[e], m->neg[e]};
        cr_assert_eq(mq_model_foldin(b, h, n, v, ws, &err), MQ_OK, "%s", err.msg);
        for (int a = 0; a < k; a++) {
            float x = X[(size_t)r * k + a];
            cr_assert_float_eq(v[a], x, 1e-4 * (1 + fabsf(x)),
                               "row %u dim %d: fold-in %g, exact step %g", r, a, v[a], x);
            float xc = Xcg[(size_t)r * k + a];
            cr_assert_float_eq(v[a], xc, 2e-3 * (1 + fabsf(xc)),
                               "row %u dim %d: fold-in %g, CG step %g", r, a, v[a], xc);
        }
    }
    mq_model_ws_destroy(ws);
    mq_free(X);
    mq_free(Xcg);
    mq_bundle_destroy(b);
    mq_matrix_destroy(m);
}

/* ------------------------------------------------------- matrix builder ---- */

static mq_event ev(mq_event_type t, uint32_t title, int64_t ts) {
    mq_event e;
    mq_event_init(&e);
    e.type = t;
    e.profile_id = 1;
    e.title_id = title;
    e.ts_ms = ts;
    return e;
}

Test(models, matrix_builder_reads_events_through_the_semantics_table) {
    mq_matrix_opts o = {0};
    mq_semantics_defaults(&o.sem);
    o.recency = MQ_RECENCY_NONE;
    mq_matrix_builder *mb = mq_matrix_builder_create(&o);
    for (uint32_t t = 1; t <= 5; t++) {
        mq_title title = {0};
        title.id = t;
        char ext[8];
        snprintf(ext, sizeof ext, "t%u", t);
        title.ext_id = ext;
        mq_matrix_builder_add_title(mb, &title);
    }
    int64_t ts = 1700000000000LL;
    mq_event e;
    /* Title 1: watched to 95% (a completion), then rewatched to the end. */
    e = ev(MQ_EV_PLAY_START, 1, ts++), e.position_s = 0;
    mq_matrix_builder_add_event(mb, &e);
    e = ev(MQ_EV_PLAY_PROGRESS, 1, ts++), e.position_s = 3000, e.duration_s = 6000;
    mq_matrix_builder_add_event(mb, &e);
    e = ev(MQ_EV_PLAY_STOP, 1, ts++), e.position_s = 5700, e.duration_s = 6000;
    mq_matrix_builder_add_event(mb, &e);
    e = ev(MQ_EV_PLAY_START, 1, ts++), e.position_s = 0;
    mq_matrix_builder_add_event(mb, &e);
    e = ev(MQ_EV_COMPLETE, 1, ts++), e.duration_s = 6000;
    mq_matrix_builder_add_event(mb, &e);
    /* A stop after the completion, and a repeated complete: not another play. */
    e = ev(MQ_EV_PLAY_STOP, 1, ts++), e.position_s = 6000, e.duration_s = 6000;
    mq_matrix_builder_add_event(mb, &e);
    e = ev(MQ_EV_COMPLETE, 1, ts++), e.duration_s = 6000;
    mq_matrix_builder_add_event(mb, &e);
    /* Title 2: abandoned after 1%. */
    e = ev(MQ_EV_PLAY_START, 2, ts++), e.position_s = 0;
    mq_matrix_builder_add_event(mb, &e);
    e = ev(MQ_EV_PLAY_STOP, 2, ts++), e.position_s = 60, e.duration_s = 6000;
    mq_matrix_builder_add_event(mb, &e);
    /* Title 3: thumbs up, then down: the latest counts. */
    e = ev(MQ_EV_THUMBS, 3, ts++), e.value = MQ_THUMB_UP;
    mq_matrix_builder_add_event(mb, &e);
    e = ev(MQ_EV_THUMBS, 3, ts++), e.value = MQ_THUMB_DOWN;
    mq_matrix_builder_add_event(mb, &e);
    /* Title 4: five stars. Title 5: only shown. */
    e = ev(MQ_EV_RATING, 4, ts++), e.value = 5;
    mq_matrix_builder_add_event(mb, &e);
    e = ev(MQ_EV_IMPRESSION, 5, ts++);
    mq_matrix_builder_add_event(mb, &e);
    mq_matrix *m = mq_matrix_builder_finish(mb);
    mq_matrix_builder_destroy(mb);

    const mq_semantics *s = &o.sem;
    cr_assert_eq(m->n_rows, 1);
    cr_assert_eq(m->n_cols, 5);
    cr_assert_eq(m->nnz, 4, "an impression makes no pair");
    cr_assert_eq(m->col[0], 0);
    double want1 = s->w_play * 0.95 + s->w_complete + s->w_play * 1 + s->w_complete + s->w_rewatch;
    cr_assert_float_eq(m->conf[0], want1, 1e-4);
    cr_assert_eq(m->flags[0], MQ_PAIR_POSITIVE);
    cr_assert_float_eq(m->neg[1], s->w_abandon, 1e-6);
    cr_assert_eq(m->flags[1], MQ_PAIR_NEGATIVE);
    cr_assert_float_eq(m->neg[2], s->w_thumbs_down, 1e-6);
    cr_assert_float_eq(m->conf[2], 0, 1e-6);
    cr_assert_eq(m->flags[2], MQ_PAIR_NEGATIVE);
    cr_assert_float_eq(m->conf[3], s->w_rating * (1 + 5 - s->rating_positive), 1e-6);
    cr_assert_eq(m->flags[3], MQ_PAIR_POSITIVE);
    cr_assert_str_eq(m->col_ext[3], "t4");
    mq_matrix_destroy(m);
}

Test(models, recency_decays_relative_to_the_profiles_newest_event) {
    mq_matrix_opts o = {0};
    mq_semantics_defaults(&o.sem);
    o.recency = MQ_RECENCY_PROFILE;
    mq_matrix_builder *mb = mq_matrix_builder_create(&o);
    for (uint32_t t = 1; t <= 2; t++) {
        mq_title title = {0};
        title.id = t;
        title.ext_id = t == 1 ? "a" : "b";
        mq_matrix_builder_add_title(mb, &title);
    }
    int64_t day = 86400000LL, t0 = 1700000000000LL;
    mq_event e = ev(MQ_EV_RATING, 1, t0);
    e.value = 4;
    mq_matrix_builder_add_event(mb, &e);
    e = ev(MQ_EV_RATING, 2, t0 + (int64_t)(o.sem.half_life_days * day));
    e.value = 4;
    mq_matrix_builder_add_event(mb, &e);
    mq_matrix *m = mq_matrix_builder_finish(mb);
    mq_matrix_builder_destroy(mb);
    cr_assert_float_eq(m->conf[1], o.sem.w_rating, 1e-5);
    cr_assert_float_eq(m->conf[0], 0.5 * o.sem.w_rating, 1e-5, "one half-life older counts half");
    mq_matrix_destroy(m);
}

/* ---------------------------------------------------------- top-k, cold ---- */

Test(models, topk_orders_by_score_then_column_and_skips_excluded) {
    float s[] = {0.5f, 2.0f, -INFINITY, 2.0f, 1.0f, -1.0f};
    uint32_t cols[10];
    float sc[10];
    size_t n = mq_topk(s, 6, 4, cols, sc);
    cr_assert_eq(n, 4);
    cr_assert_eq(cols[0], 1);
    cr_assert_eq(cols[1], 3);
    cr_assert_eq(cols[2], 4);
    cr_assert_eq(cols[3], 0);
    cr_assert_float_eq(sc[2], 1.0f, 1e-9);
    cr_assert_eq(mq_topk(s, 6, 10, cols, NULL), 5, "every title but the excluded one");
    cr_assert_eq(cols[4], 5);
    cr_assert_eq(mq_topk(s, 6, 0, cols, sc), 0);
    float all_out[] = {-INFINITY, -INFINITY};
    cr_assert_eq(mq_topk(all_out, 2, 3, cols, sc), 0);
}

/* The radix selection against the heap on what makes selection hard: ties
 * straddling the k-th place, clustered scores (one digit bucket holding most of
 * them), both zeros, negatives, NaN and -INFINITY, and every k. */
Test(models, topk_radix_equals_the_heap) {
    enum { N = 3000 };
    float *s = mq_malloc(N * sizeof *s);
    uint32_t *a = mq_malloc(N * sizeof *a), *b = mq_malloc(N * sizeof *b);
    float *sa = mq_malloc(N * sizeof *sa), *sb = mq_malloc(N * sizeof *sb);
    uint64_t *scratch = mq_malloc(mq_topk_scratch_len(N) * sizeof *scratch);
    mq_rng r;
    mq_rng_seed(&r, 3, 9);
    for (int shape = 0; shape < 4; shape++) {
        for (int i = 0; i < N; i++) {
            double u = mq_rng_unif(&r);
            switch (shape) {
            case 0: /* spread */
                s[i] = (float)(mq_rng_unif(&r) * 200 - 100);
                break;
            case 1: /* few distinct values: ties everywhere */
                s[i] = (float)mq_rng_below(&r, 7) - 3.0f;
                break;
            case 2: /* one narrow cluster, a few far above */
                s[i] = u < 0.01 ? (float)(10 + u) : (float)(0.5 + 1e-6 * mq_rng_unif(&r));
                break;
            default: /* the excluded and the odd */
                s[i] = u < 0.1    ? -INFINITY
                       : u < 0.15 ? NAN
                       : u < 0.3  ? 0.0f
                       : u < 0.45 ? -0.0f
                                  : (float)(mq_rng_unif(&r) - 0.5);
            }
        }
        size_t ks[] = {0, 1, 2, 17, 200, 999, 1000, 2500, N, N + 5};
        for (size_t q = 0; q < sizeof ks / sizeof *ks; q++) {
            size_t na = mq_topk(s, N, ks[q], a, sa);
            size_t nb = mq_topk_radix(s, N, ks[q], b, sb, scratch);
            cr_assert_eq(na, nb, "shape %d, k %zu: %zu vs %zu titles", shape, ks[q], na, nb);
            for (size_t i = 0; i < na; i++)
                cr_assert_eq(a[i], b[i], "shape %d, k %zu, place %zu: column %u vs %u", shape,
                             ks[q], i, a[i], b[i]);
        }
    }
    mq_free(s);
    mq_free(a);
    mq_free(b);
    mq_free(sa);
    mq_free(sb);
    mq_free(scratch);
}

/* Every model fitted on m with small_params. */
static mq_bundle *train_small(const mq_matrix *m) {
    mq_train_params p;
    small_params(&p);
    mq_bundle *b;
    mq_err err = {0};
    cr_assert_eq(mq_train(m, &p, NULL, NULL, NULL, &b, &err), MQ_OK, "%s", err.msg);
    return b;
}

/* The content model scores 16 titles at a time in its own layout (score.c): each
 * score must be the row-by-row sparse dot product to the bit (a zero sum becomes
 * the popularity tie-break, a tiny positive). */
Test(models, content_scores_are_the_row_by_row_sums_to_the_bit) {
    uint32_t cl[PW_USERS];
    mq_matrix *m = planted(cl);
    mq_bundle *b = train_small(m);
    mq_err err = {0};
    const uint64_t *ptr;
    const uint32_t *idx;
    const float *w;
    uint32_t nf;
    cr_assert(mq_bundle_content(b, &ptr, &idx, &w, &nf));
    mq_model_ws *ws = mq_model_ws_create(b);
    float *scores = mq_malloc(PW_ITEMS * sizeof *scores), *feat = mq_malloc(nf * sizeof *feat);
    mq_hist_item h[PW_ITEMS];
    size_t checked = 0;
    for (uint32_t r = 0; r < m->n_rows; r += 7) {
        size_t n = 0;
        for (size_t e = m->row_ptr[r]; e < m->row_ptr[r + 1]; e++)
            h[n++] = (mq_hist_item){m->col[e], m->conf[e], m->neg[e]};
        cr_assert_eq(mq_model_score(b, MQ_MODEL_CONTENT, h, n, scores, ws, &err), MQ_OK);
        memset(feat, 0, nf * sizeof *feat);
        for (size_t t = 0; t < n; t++) {
            float x = mq_entry_value(b->binary, h[t].conf, h[t].neg);
            for (uint64_t q = ptr[h[t].col]; x != 0 && q < ptr[h[t].col + 1]; q++)
                feat[idx[q]] += x * w[q];
        }
        for (uint32_t j = 0; j < PW_ITEMS; j++) {
            float want = 0;
            for (uint64_t q = ptr[j]; q < ptr[j + 1]; q++) {
                float term = w[q] * feat[idx[q]]; /* rounded as a product, not fused */
                want += term;
            }
            if (want == 0)
                cr_assert(scores[j] >= 0 && scores[j] < 1e-11f, "title %u: %g", j, scores[j]);
            else
                cr_assert_eq(memcmp(&scores[j], &want, sizeof want), 0,
                             "title %u: %.9g, row by row %.9g", j, scores[j], want);
            checked += want != 0;
        }
    }
    cr_assert_gt(checked, 1000);
    mq_free(scores);
    mq_free(feat);
    mq_model_ws_destroy(ws);
    mq_bundle_destroy(b);
    mq_matrix_destroy(m);
}

Test(models, cold_titles_borrow_from_content_and_empty_histories_get_popularity) {
    uint32_t cl[PW_USERS];
    mq_matrix *m = planted(cl);
    mq_bundle *b = train_small(m);
    mq_err err = {0};
    mq_model_ws *ws = mq_model_ws_create(b);
    float *scores = mq_malloc(PW_ITEMS * sizeof *scores);
    uint32_t cold = PW_ITEMS - 1, cold_cluster = cold % PW_CLUSTERS; /* never touched */
    mq_hist_item h[PW_ITEMS];
    const mq_model_kind kinds[] = {MQ_MODEL_IALS, MQ_MODEL_EASE, MQ_MODEL_KNN, MQ_MODEL_CONTENT};
    for (size_t k = 0; k < MQ_ARRAY_LEN(kinds); k++) {
        double rank_own = 0, rank_other = 0;
        int n_own = 0, n_other = 0;
        for (uint32_t r = 0; r < m->n_rows; r++) {
            size_t n = 0;
            for (size_t e = m->row_ptr[r]; e < m->row_ptr[r + 1]; e++)
                h[n++] = (mq_hist_item){m->col[e], m->conf[e], m->neg[e]};
            cr_assert_eq(mq_model_score(b, kinds[k], h, n, scores, ws, &err), MQ_OK, "%s", err.msg);
            mq_model_exclude(b, scores, h, n);
            int rank = 1;
            for (uint32_t c = 0; c < PW_ITEMS; c++)
                rank += scores[c] > scores[cold];
            if (cl[r] == cold_cluster) {
                rank_own += rank;
                n_own++;
            } else {
                rank_other += rank;
                n_other++;
            }
        }
        rank_own /= n_own;
        rank_other /= n_other;
        cr_assert_lt(rank_own, 50, "%s: the cold title ranks %.1f on average for its cluster",
                     mq_model_name(kinds[k]), rank_own);
        /* Its genre's fans see it among their own cluster's titles (about 35 of the
         * 175 unseen), everyone else after theirs. */
        cr_assert_lt(rank_own + 15, rank_other, "%s: cold title rank %.1f (own cluster) vs %.1f",
                     mq_model_name(kinds[k]), rank_own, rank_other);
    }
    /* No history: popularity, whatever the model. */
    cr_assert_eq(mq_model_score(b, MQ_MODEL_IALS, NULL, 0, scores, ws, &err), MQ_OK);
    const float *pop = mq_bundle_popularity(b);
    for (uint32_t c = 0; c < PW_ITEMS; c++)
        cr_assert_float_eq(scores[c], pop[c], 1e-9);
    mq_free(scores);
    mq_model_ws_destroy(ws);
    mq_bundle_destroy(b);
    mq_matrix_destroy(m);
}

/* ---------------------------------------------------------------- bundle ---- */

static mq_bundle *small_bundle(mq_matrix **mo) {
    mq_matrix *m = planted(NULL);
    mq_train_params p;
    small_params(&p);
    p.ease.keep = 30; /* exercise the sparse EASE sections too */
    mq_bundle *b;
    mq_err err = {0};
    cr_assert_eq(mq_train(m, &p, NULL, NULL, NULL, &b, &err), MQ_OK, "%s", err.msg);
    *mo = m;
    return b;
}

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

/* Scores of every model for row r agree between two bundles. */
static void same_scores(const mq_bundle *a, const mq_bundle *b, const mq_matrix *m, uint32_t r) {
    mq_hist_item h[PW_ITEMS];
    size_t n = 0;
    for (size_t e = m->row_ptr[r]; e < m->row_ptr[r + 1]; e++)
        h[n++] = (mq_hist_item){m->col[e], m->conf[e], m->neg[e]};
    mq_model_ws *wa = mq_model_ws_create(a), *wb = mq_model_ws_create(b);
    float sa[PW_ITEMS], sb[PW_ITEMS];
    for (int k = 0; k < MQ_MODEL_COUNT; k++) {
        cr_assert(mq_bundle_has(b, (mq_model_kind)k), "%s missing",
                  mq_model_name((mq_model_kind)k));
        cr_assert_eq(mq_model_score(a, (mq_model_kind)k, h, n, sa, wa, NULL), MQ_OK);
        cr_assert_eq(mq_model_score(b, (mq_model_kind)k, h, n, sb, wb, NULL), MQ_OK);
        cr_assert_eq(memcmp(sa, sb, sizeof sa), 0, "%s scores differ after a round trip",
                     mq_model_name((mq_model_kind)k));
    }
    mq_model_ws_destroy(wa);
    mq_model_ws_destroy(wb);
}

Test(models, bundle_round_trip_and_corruption_is_detected) {
    mq_matrix *m;
    mq_bundle *b = small_bundle(&m);
    mq_bundle_set_default_model(b, MQ_MODEL_EASE);
    char *dir = th_tmpdir();
    char path[512], bad[512];
    snprintf(path, sizeof path, "%s/b.mqb", dir);
    snprintf(bad, sizeof bad, "%s/bad.mqb", dir);
    mq_err err = {0};
    cr_assert_eq(mq_bundle_write(b, path, &err), MQ_OK, "%s", err.msg);
    mq_bundle *l;
    cr_assert_eq(mq_bundle_open(path, &l, &err), MQ_OK, "%s", err.msg);
    cr_assert_eq(mq_bundle_default_model(l), MQ_MODEL_EASE);
    cr_assert_eq(mq_bundle_n_titles(l), PW_ITEMS);
    cr_assert_str_eq(mq_bundle_title_ext(l, 7), "8");
    cr_assert_eq(mq_bundle_col(l, 8), 7);
    cr_assert_eq(mq_bundle_col(l, 100000), UINT32_MAX);
    same_scores(b, l, m, 3);

    size_t len;
    char *bytes = th_read(path, &len);
    cr_assert_not_null(bytes);
    mq_bundle *x = NULL;
    /* Truncated: a torn copy. */
    write_bytes(bad, bytes, len - 100);
    cr_assert_eq(mq_bundle_open(bad, &x, &err), MQ_ECORRUPT);
    cr_assert_null(x);
    cr_assert(strstr(err.msg, "bad.mqb") && strstr(err.msg, "truncated"), "%s", err.msg);
    write_bytes(bad, bytes, 10);
    cr_assert_eq(mq_bundle_open(bad, &x, &err), MQ_ECORRUPT);
    cr_assert(strstr(err.msg, "truncated"), "%s", err.msg);
    /* One flipped byte in the payload (the last section's data). */
    bytes[len - 200] ^= 0x40;
    write_bytes(bad, bytes, len);
    cr_assert_eq(mq_bundle_open(bad, &x, &err), MQ_ECORRUPT);
    cr_assert(strstr(err.msg, "checksum mismatch") && strstr(err.msg, "section"), "%s", err.msg);
    bytes[len - 200] ^= 0x40;
    /* One flipped byte in the section table. */
    bytes[70] ^= 0x01;
    write_bytes(bad, bytes, len);
    cr_assert_eq(mq_bundle_open(bad, &x, &err), MQ_ECORRUPT);
    cr_assert(strstr(err.msg, "header checksum"), "%s", err.msg);
    bytes[70] ^= 0x01;
    /* Not a bundle; another format version. */
    memcpy(bytes, "NOTABUND", 8);
    write_bytes(bad, bytes, len);
    cr_assert_eq(mq_bundle_open(bad, &x, &err), MQ_ECORRUPT);
    cr_assert(strstr(err.msg, "not a marquee bundle"), "%s", err.msg);
    memcpy(bytes, MQ_BUNDLE_MAGIC, 8);
    bytes[8] = 99;
    write_bytes(bad, bytes, len);
    cr_assert_eq(mq_bundle_open(bad, &x, &err), MQ_EVERSION);
    cr_assert(strstr(err.msg, "version 99"), "%s", err.msg);
    bytes[8] = MQ_BUNDLE_VERSION;
    /* The same bytes from memory (a store blob) load. */
    cr_assert_eq(mq_bundle_open_bytes(bytes, len, "blob bundle", &x, &err), MQ_OK, "%s", err.msg);
    same_scores(l, x, m, 5);
    mq_bundle_destroy(x);
    /* The loaded bundle was never touched by the failures: still serves. */
    same_scores(b, l, m, 9);

    free(bytes);
    mq_bundle_destroy(l);
    mq_bundle_destroy(b);
    mq_matrix_destroy(m);
    th_rmrf(dir);
    free(dir);
}

Test(models, publish_repoints_bundle_mqb_and_a_corrupt_one_is_refused) {
    mq_matrix *m;
    mq_bundle *b = small_bundle(&m);
    char *dir = th_tmpdir();
    char path[1024], cur[1024];
    mq_err err = {0};
    cr_assert_eq(mq_bundle_publish(b, dir, NULL, path, sizeof path, &err), MQ_OK, "%s", err.msg);
    cr_assert(strstr(path, "/bundles/bundle-") != NULL, "%s", path);
    mq_bundle *live;
    cr_assert_eq(mq_bundle_open_data(dir, &live, &err), MQ_OK, "%s", err.msg);
    /* A torn bundle.mqb (a new file swapped in, as a bad copy would be). */
    size_t len;
    char *bytes = th_read(path, &len);
    snprintf(cur, sizeof cur, "%s/bundle.mqb.new", dir);
    write_bytes(cur, bytes, len / 2);
    char target[1024];
    snprintf(target, sizeof target, "%s/bundle.mqb", dir);
    cr_assert_eq(rename(cur, target), 0);
    mq_bundle *next = NULL;
    cr_assert_eq(mq_bundle_open_data(dir, &next, &err), MQ_ECORRUPT);
    cr_assert_null(next);
    cr_assert(strstr(err.msg, "bundle.mqb") && strstr(err.msg, "truncated"), "%s", err.msg);
    same_scores(b, live, m, 1); /* the previous one stays in use */
    free(bytes);
    mq_bundle_destroy(live);
    mq_bundle_destroy(b);
    mq_matrix_destroy(m);
    th_rmrf(dir);
    free(dir);
}

/* --------------------------------------------------------------- metrics ---- */

Test(metrics, hand_computed_examples) {
    const uint32_t ranked[] = {7, 3, 9, 1, 4};
    const uint32_t held[] = {1, 3, 8}; /* ascending */
    /* hits in the top 2: {3}; top 5: {3, 1} */
    cr_assert_float_eq(mq_metric_recall(ranked, 5, held, 3, 2), 1.0 / 2, 1e-12);
    cr_assert_float_eq(mq_metric_recall(ranked, 5, held, 3, 5), 2.0 / 3, 1e-12);
    cr_assert_float_eq(mq_metric_hr(ranked, 5, held, 3, 1), 0, 1e-12);
    cr_assert_float_eq(mq_metric_hr(ranked, 5, held, 3, 2), 1, 1e-12);
    /* NDCG@5: DCG = 1/log2(3) + 1/log2(5); IDCG = 1 + 1/log2(3) + 1/log2(4) */
    double dcg = 1 / log2(3.0) + 1 / log2(5.0), idcg = 1 + 1 / log2(3.0) + 0.5;
    cr_assert_float_eq(mq_metric_ndcg(ranked, 5, held, 3, 5), dcg / idcg, 1e-12);
    /* NDCG@2: DCG = 1/log2(3); IDCG over min(2, 3) = 1 + 1/log2(3) */
    cr_assert_float_eq(mq_metric_ndcg(ranked, 5, held, 3, 2), (1 / log2(3.0)) / (1 + 1 / log2(3.0)),
                       1e-12);
    cr_assert_float_eq(mq_metric_ndcg(ranked, 5, held, 0, 5), 0, 1e-12);
    /* Reciprocal rank over the full ranking: held-out {2} is 3rd. */
    float s[] = {0.9f, 0.1f, 0.5f, 0.7f, -INFINITY};
    const uint32_t h2[] = {2};
    cr_assert_float_eq(mq_metric_rr(s, 5, h2, 1), 1.0 / 3, 1e-12);
    const uint32_t h3[] = {4}; /* excluded: never ranked */
    cr_assert_float_eq(mq_metric_rr(s, 5, h3, 1), 0, 1e-12);
    /* ECS: one title takes everything -> 1; uniform over N -> N. */
    double one[] = {0, 10, 0, 0}, uni[] = {3, 3, 3, 3}, skew[] = {1, 3};
    cr_assert_float_eq(mq_metric_ecs(one, 4), 1, 1e-12);
    cr_assert_float_eq(mq_metric_ecs(uni, 4), 4, 1e-12);
    /* shares 0.75, 0.25: 2 (0.75 * 1 + 0.25 * 2) - 1 = 1.5 */
    cr_assert_float_eq(mq_metric_ecs(skew, 2), 1.5, 1e-12);
}

Test(metrics, strong_generalization_split_follows_the_protocol) {
    mq_matrix *m = planted(NULL);
    mq_eval_opts o;
    mq_eval_opts_default(&o);
    mq_split *t, *v;
    mq_err err = {0};
    cr_assert_eq(mq_split_make(m, NULL, &o, &t, &err), MQ_OK, "%s", err.msg);
    o.split = MQ_SPLIT_VALIDATION;
    cr_assert_eq(mq_split_make(m, NULL, &o, &v, &err), MQ_OK, "%s", err.msg);
    /* 20% test, 10% validation of the 400 eligible profiles; the rest train. */
    cr_assert_eq(t->n_users, 80);
    cr_assert_eq(v->n_users, 40);
    cr_assert_eq(t->train->n_rows, 280);
    for (size_t i = 0; i < t->n_users; i++) {
        const mq_eval_user *u = &t->users[i];
        cr_assert_eq(u->n_held, 5, "20%% of 25 positives");
        cr_assert_eq(u->n_hist, 20);
        for (size_t j = 0; j < v->n_users; j++)
            cr_assert_neq(u->profile_id, v->users[j].profile_id, "test and validation overlap");
        for (uint32_t r = 0; r < t->train->n_rows; r++)
            cr_assert_neq(u->profile_id, t->train->row_profile[r], "a test profile trains");
    }
    /* Same seed, same split. */
    mq_split *t2;
    o.split = MQ_SPLIT_TEST;
    cr_assert_eq(mq_split_make(m, NULL, &o, &t2, &err), MQ_OK);
    for (size_t i = 0; i < t->n_users; i++) {
        cr_assert_eq(t->users[i].profile_id, t2->users[i].profile_id);
        cr_assert_eq(memcmp(t->users[i].held, t2->users[i].held, 5 * sizeof(uint32_t)), 0);
    }
    mq_split_destroy(t);
    mq_split_destroy(t2);
    mq_split_destroy(v);
    mq_matrix_destroy(m);
}

Test(metrics, leave_last_out_holds_out_the_latest_positive) {
    mq_matrix *m = planted(NULL);
    mq_eval_opts o;
    mq_eval_opts_default(&o);
    o.protocol = MQ_PROTO_LOO;
    mq_split *sp;
    mq_err err = {0};
    cr_assert_eq(mq_split_make(m, NULL, &o, &sp, &err), MQ_OK, "%s", err.msg);
    cr_assert_eq(sp->n_users, PW_USERS);
    cr_assert_eq(sp->train->nnz, m->nnz - PW_USERS);
    for (size_t i = 0; i < sp->n_users; i++) {
        const mq_eval_user *u = &sp->users[i];
        uint32_t r = u->profile_id - 1;
        int64_t latest = 0;
        uint32_t col = 0;
        for (size_t e = m->row_ptr[r]; e < m->row_ptr[r + 1]; e++)
            if (m->t_last[e] > latest) {
                latest = m->t_last[e];
                col = m->col[e];
            }
        cr_assert_eq(u->n_held, 1);
        cr_assert_eq(u->held[0], col);
    }
    mq_split_destroy(sp);
    mq_matrix_destroy(m);
}
