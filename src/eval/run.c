/* run.c: scores every evaluated profile of a split with each model (in parallel,
 * one scoring workspace per thread), accumulates the metrics, and reports them as
 * one table per model or as JSON. */
#include "eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct thread_acc {
    mq_model_ws *ws;
    float *scores;
    uint32_t *top;
    double recall[MQ_EVAL_MAX_K], ndcg[MQ_EVAL_MAX_K], hr[MQ_EVAL_MAX_K], nov[MQ_EVAL_MAX_K];
    double rr;
    uint32_t *rec; /* n_titles x n_ks: times recommended in the top K */
    int rc;
    mq_err err;
} thread_acc;

typedef struct eval_ctx {
    const mq_bundle *b;
    mq_model_kind kind;
    const mq_split *sp;
    const mq_eval_opts *o;
    const double *selfinfo; /* per column */
    size_t kmax;
    thread_acc *acc;
} eval_ctx;

static void eval_users(void *ud, size_t u0, size_t u1, int tid) {
    eval_ctx *c = ud;
    thread_acc *a = &c->acc[tid];
    uint32_t n = mq_bundle_n_titles(c->b);
    for (size_t u = u0; u < u1 && !a->rc; u++) {
        const mq_eval_user *eu = &c->sp->users[u];
        int rc = mq_model_score(c->b, c->kind, eu->hist, eu->n_hist, a->scores, a->ws, &a->err);
        if (rc) {
            a->rc = rc;
            return;
        }
        if (!c->o->include_seen)
            mq_model_exclude(c->b, a->scores, eu->hist, eu->n_hist);
        size_t got = mq_topk(a->scores, n, c->kmax, a->top, NULL);
        for (int k = 0; k < c->o->n_ks; k++) {
            size_t K = c->o->ks[k];
            a->recall[k] += mq_metric_recall(a->top, got, eu->held, eu->n_held, K);
            a->ndcg[k] += mq_metric_ndcg(a->top, got, eu->held, eu->n_held, K);
            a->hr[k] += mq_metric_hr(a->top, got, eu->held, eu->n_held, K);
            double nov = 0;
            size_t m = MQ_MIN(K, got);
            for (size_t i = 0; i < m; i++) {
                a->rec[(size_t)a->top[i] * c->o->n_ks + k]++;
                nov += c->selfinfo[a->top[i]];
            }
            a->nov[k] += m ? nov / (double)m : 0;
        }
        a->rr += mq_metric_rr(a->scores, n, eu->held, eu->n_held);
    }
}

int mq_eval_bundle(const mq_bundle *b, mq_model_kind kind, const mq_split *sp,
                   const mq_eval_opts *o, mq_eval_result *res, mq_err *err) {
    memset(res, 0, sizeof *res);
    res->model = kind;
    res->n_ks = o->n_ks;
    memcpy(res->ks, o->ks, sizeof res->ks);
    uint32_t n = mq_bundle_n_titles(b);
    size_t kmax = 1;
    for (int k = 0; k < o->n_ks; k++)
        kmax = MQ_MAX(kmax, o->ks[k]);
    /* Novelty reference: share of training profiles with a usable positive. */
    const mq_matrix *t = sp->train;
    double *selfinfo = mq_calloc(n ? n : 1, sizeof *selfinfo);
    for (size_t e = 0; e < t->nnz; e++)
        if (t->col[e] < n && t->conf[e] > 0 && t->neg[e] < t->conf[e])
            selfinfo[t->col[e]] += 1;
    for (uint32_t c = 0; c < n; c++)
        selfinfo[c] = -log2((selfinfo[c] + 1) / ((double)t->n_rows + 1));

    int threads = mq_parallel_threads(o->threads);
    thread_acc *acc = mq_calloc((size_t)threads, sizeof *acc);
    for (int i = 0; i < threads; i++) {
        acc[i].ws = mq_model_ws_create(b);
        acc[i].scores = mq_malloc((n ? n : 1) * sizeof(float));
        acc[i].top = mq_malloc(kmax * sizeof(uint32_t));
        acc[i].rec = mq_calloc((size_t)n * o->n_ks + 1, sizeof(uint32_t));
    }
    eval_ctx c = {b, kind, sp, o, selfinfo, kmax, acc};
    double t0 = mq_mono_s();
    mq_parallel_for(sp->n_users, 8, threads, eval_users, &c);
    res->score_seconds = mq_mono_s() - t0;
    int rc = MQ_OK;
    double *counts = mq_calloc(n ? n : 1, sizeof *counts);
    for (int i = 0; i < threads && !rc; i++)
        if (acc[i].rc) {
            rc = acc[i].rc;
            if (err)
                *err = acc[i].err;
        }
    if (!rc) {
        double nu = sp->n_users ? (double)sp->n_users : 1;
        for (int i = 0; i < threads; i++) {
            for (int k = 0; k < o->n_ks; k++) {
                res->recall[k] += acc[i].recall[k] / nu;
                res->ndcg[k] += acc[i].ndcg[k] / nu;
                res->hr[k] += acc[i].hr[k] / nu;
                res->novelty[k] += acc[i].nov[k] / nu;
            }
            res->mrr += acc[i].rr / nu;
        }
        for (int k = 0; k < o->n_ks; k++) {
            size_t covered = 0;
            for (uint32_t col = 0; col < n; col++) {
                counts[col] = 0;
                for (int i = 0; i < threads; i++)
                    counts[col] += acc[i].rec[(size_t)col * o->n_ks + k];
                covered += counts[col] > 0;
            }
            res->coverage[k] = n ? (double)covered / n : 0;
            res->ecs[k] = mq_metric_ecs(counts, n);
        }
        res->n_users = sp->n_users;
        res->done = true;
    }
    mq_free(counts);
    for (int i = 0; i < threads; i++) {
        mq_model_ws_destroy(acc[i].ws);
        mq_free(acc[i].scores);
        mq_free(acc[i].top);
        mq_free(acc[i].rec);
    }
    mq_free(acc);
    mq_free(selfinfo);
    return rc;
}

int mq_eval_run(const mq_split *sp, const mq_train_params *p, unsigned models,
                const mq_eval_opts *o, mq_train_cb cb, void *ud, mq_eval_result *res,
                mq_bundle **bundle_out, mq_err *err) {
    if (bundle_out)
        *bundle_out = NULL;
    mq_train_params tp = *p;
    tp.models = models;
    mq_train_report rep;
    mq_bundle *b;
    int rc = mq_train(sp->train, &tp, cb, ud, &rep, &b, err);
    if (rc)
        return rc;
    for (int k = 0; k < MQ_MODEL_COUNT; k++) {
        if (!(models & (1u << k)))
            continue;
        if (rep.skipped[k][0] || !mq_bundle_has(b, (mq_model_kind)k)) {
            memset(&res[k], 0, sizeof res[k]);
            res[k].model = (mq_model_kind)k;
            snprintf(res[k].skipped, sizeof res[k].skipped, "%s",
                     rep.skipped[k][0] ? rep.skipped[k] : "not fitted");
            continue;
        }
        if ((rc = mq_eval_bundle(b, (mq_model_kind)k, sp, o, &res[k], err)))
            break;
        res[k].fit_seconds = rep.seconds[k];
    }
    if (rc || !bundle_out)
        mq_bundle_destroy(b);
    else
        *bundle_out = b;
    return rc;
}

/* --------------------------------------------------------------- reports ---- */

void mq_eval_print(FILE *f, const mq_split *sp, const mq_eval_result *res, unsigned models) {
    fprintf(f, "%s\n", sp->desc);
    for (int m = 0; m < MQ_MODEL_COUNT; m++) {
        if (!(models & (1u << m)))
            continue;
        const mq_eval_result *r = &res[m];
        fprintf(f, "\nmodel %s (%s)\n", mq_model_name((mq_model_kind)m),
                mq_model_doc((mq_model_kind)m));
        if (!r->done) {
            fprintf(f, "  skipped: %s\n", r->skipped[0] ? r->skipped : "not evaluated");
            continue;
        }
        fprintf(f, "  %-10s", "metric");
        for (int k = 0; k < r->n_ks; k++) {
            char h[16];
            snprintf(h, sizeof h, "@%zu", r->ks[k]);
            fprintf(f, " %9s", h);
        }
        fputc('\n', f);
        const struct {
            const char *name;
            const double *v;
            const char *fmt;
        } rows[] = {{"recall", r->recall, " %9.4f"}, {"ndcg", r->ndcg, " %9.4f"},
                    {"hr", r->hr, " %9.4f"},         {"coverage", r->coverage, " %9.4f"},
                    {"ecs", r->ecs, " %9.1f"},       {"novelty", r->novelty, " %9.2f"}};
        for (size_t i = 0; i < MQ_ARRAY_LEN(rows); i++) {
            fprintf(f, "  %-10s", rows[i].name);
            for (int k = 0; k < r->n_ks; k++)
                fprintf(f, rows[i].fmt, rows[i].v[k]);
            fputc('\n', f);
        }
        fprintf(f, "  %-10s %9.4f\n", "mrr", r->mrr);
        fprintf(f, "  profiles %zu, fit %.2f s, scoring %.2f s (%.2f ms per profile)\n", r->n_users,
                r->fit_seconds, r->score_seconds,
                r->n_users ? 1000 * r->score_seconds / (double)r->n_users : 0);
    }
}

json_t *mq_eval_json(const mq_split *sp, const mq_eval_result *res, unsigned models) {
    json_t *o = json_object(), *ms = json_object();
    json_object_set_new(o, "protocol", json_string(mq_protocol_name(sp->protocol)));
    json_object_set_new(o, "split",
                        json_string(sp->split == MQ_SPLIT_TEST ? "test" : "validation"));
    json_object_set_new(o, "seed", json_integer((json_int_t)sp->seed));
    json_object_set_new(o, "profiles", json_integer((json_int_t)sp->n_users));
    json_object_set_new(o, "description", json_string(sp->desc));
    json_object_set_new(o, "train_profiles", json_integer(sp->train->n_rows));
    json_object_set_new(o, "titles", json_integer(sp->train->n_cols));
    for (int m = 0; m < MQ_MODEL_COUNT; m++) {
        if (!(models & (1u << m)))
            continue;
        const mq_eval_result *r = &res[m];
        json_t *j = json_object();
        if (!r->done) {
            json_object_set_new(j, "skipped",
                                json_string(r->skipped[0] ? r->skipped : "not evaluated"));
        } else {
            for (int k = 0; k < r->n_ks; k++) {
                char key[32];
#define PUT(name, arr)                                                                             \
    snprintf(key, sizeof key, name "@%zu", r->ks[k]);                                              \
    json_object_set_new(j, key, json_real(r->arr[k]));
                PUT("recall", recall);
                PUT("ndcg", ndcg);
                PUT("hr", hr);
                PUT("coverage", coverage);
                PUT("ecs", ecs);
                PUT("novelty", novelty);
#undef PUT
            }
            json_object_set_new(j, "mrr", json_real(r->mrr));
            json_object_set_new(j, "fit_seconds", json_real(r->fit_seconds));
            json_object_set_new(j, "score_seconds", json_real(r->score_seconds));
        }
        json_object_set_new(ms, mq_model_name((mq_model_kind)m), j);
    }
    json_object_set_new(o, "models", ms);
    return o;
}

double mq_eval_metric(const mq_eval_result *r, const char *name) {
    if (!r->done)
        return NAN;
    if (strcmp(name, "mrr") == 0)
        return r->mrr;
    const char *at = strchr(name, '@');
    if (!at)
        return NAN;
    int64_t K;
    if (!mq_parse_i64(at + 1, &K))
        return NAN;
    size_t len = (size_t)(at - name);
    for (int k = 0; k < r->n_ks; k++) {
        if (r->ks[k] != (size_t)K)
            continue;
        if (len == 6 && strncmp(name, "recall", 6) == 0)
            return r->recall[k];
        if (len == 4 && strncmp(name, "ndcg", 4) == 0)
            return r->ndcg[k];
        if (len == 2 && strncmp(name, "hr", 2) == 0)
            return r->hr[k];
        if (len == 8 && strncmp(name, "coverage", 8) == 0)
            return r->coverage[k];
    }
    return NAN;
}
