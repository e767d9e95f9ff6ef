/* cmd_eval_rank.c: the ranker's part of `marquee eval --protocol time` (issue 5;
 * src/rank, docs/ranking.md). On the global time split at T: the candidate models
 * fitted before T (the bundle the model evaluation just made) get a ranker trained
 * exactly as `marquee train` would train it at T (its features from models fitted
 * before the window [T - rank.window, T)), and the requests after T are ranked by
 * it and by each candidate model:
 *   - with impressions: every page after T with a play, its logged impressions
 *     re-ranked (graded labels: play 1, completion 2, thumbs up 3);
 *   - without (MovieLens): every profile with new positives after T, its
 *     candidate set at T ranked (held-out positives outside the set count as
 *     misses).
 * NDCG@10 of the ranker against the best single model with a paired bootstrap
 * 95% interval of the relative gain, the ranker's feature importance, and the
 * match score's reliability table and ECE on the first plays after T. */
#include "cli.h"
#include "rank/rank.h"
#include "sim/sim.h"

#include <math.h>
#include <stdlib.h>

typedef struct {
    int f;
    double g;
} imp;

static int by_gain(const void *a, const void *b) {
    const imp *x = a, *y = b;
    return x->g > y->g ? -1 : x->g < y->g;
}

/* On a synthetic world (the store holds its ground truth): a score per row of d,
 * the true attraction logit without the position and artwork terms: what a ranker
 * of titles could know at best (the profile's taste now, with its drift, the
 * flavour match, popularity, context). NULL when the store holds no ground truth
 * (or a row's profile or title is not the world's). */
static float *oracle_scores(mq_store *s, const mq_bundle *b, const mq_rank_data *d) {
    mq_err err = {0};
    mq_world *w = NULL;
    mq_catalog *cat = NULL;
    float *score = NULL;
    if (mq_world_from_store(s, "the oracle", &w, &err) || mq_store_load_catalog(s, &cat, &err))
        goto out;
    score = mq_malloc((d->n_rows + 1) * sizeof *score);
    double pos0 = mq_behaviour_position_term(w, 0, 0);
    for (size_t g = 0; g < d->n_groups; g++) {
        const mq_profile *pr = mq_catalog_profile(cat, d->group_profile[g]);
        uint32_t p = pr ? mq_world_profile_index(w, pr->ext_id) : MQ_SIM_NONE;
        mq_sim_context ctx;
        if (p != MQ_SIM_NONE)
            mq_sim_context_at(w, p, d->group_ms[g], (mq_device)d->group_device[g], &ctx);
        for (size_t i = d->group_ptr[g]; i < d->group_ptr[g + 1]; i++) {
            uint32_t t = mq_world_title_index(w, mq_bundle_title_ext(b, d->col[i]));
            if (p == MQ_SIM_NONE || t == MQ_SIM_NONE) {
                mq_free(score);
                score = NULL;
                goto out;
            }
            score[i] = (float)(mq_behaviour_logit(w, p, t, -1, 0, 0, &ctx) - pos0);
        }
    }
out:
    mq_catalog_destroy(cat);
    mq_world_destroy(w);
    return score;
}

int mq_cmd_eval_rank(mq_cli *cli, mq_store *s, mq_bundle *b, int64_t t_ms, double t_quantile,
                     bool json, json_t **report) {
    *report = NULL;
    mq_err err = {0};
    mq_rank_params rp;
    mq_rank_params_from_config(&rp, cli->config);
    const char *bad = mq_rank_params_check(&rp);
    if (bad)
        return mq_cli_fail(cli, MQ_EXIT_USAGE, "%s", bad);
    mq_rank_settings st;
    mq_rank_settings_from_config(&st, cli->config);
    mq_train_params tp;
    mq_train_params_from_config(&tp, cli->config);
    const char *list = mq_cli_flag(cli, "models");
    if (list)
        mq_model_parse_list(list, &tp.models, NULL);
    mq_matrix_opts mo;
    mq_matrix_opts_from_config(&mo, cli->config);
    mq_rank_data test = {0};
    int rc = MQ_EXIT_FAIL;
    int64_t from;
    if (mq_rank_add_titles(s, b, t_ms, &err) ||
        mq_store_time_quantile(s, MQ_MAX(t_quantile - rp.train_window, 0.01), &from, &err)) {
        mq_cli_fail(cli, MQ_EXIT_FAIL, "ranker: %s", err.msg);
        goto out;
    }
    mq_rank_train_report tr;
    double t0 = mq_mono_s();
    if (mq_rank_fit(s, &mo, &tp, &rp, &st, from, t_ms, b, !json, &tr, &err)) {
        mq_cli_fail(cli, MQ_EXIT_FAIL, "ranker: %s", err.msg);
        goto out;
    }
    double fit_s = mq_mono_s() - t0;
    const mq_ranker *rk = mq_ranker_get(b);
    if (mq_rank_data_build(s, b, &mo.sem, &rp, &st, MQ_RANK_DATA_EVAL, t_ms, 0, !json, &test,
                           &err)) {
        mq_cli_fail(cli, MQ_EXIT_FAIL, "ranker: %s", err.msg);
        goto out;
    }
    mq_rank_eval ev;
    float *oracle = test.impressions ? oracle_scores(s, b, &test) : NULL;
    int erc = mq_rank_evaluate(rk, &test, oracle, 1000, rp.seed, &ev, &err);
    mq_free(oracle);
    if (erc) {
        mq_cli_fail(cli, MQ_EXIT_FAIL, "ranker: %s", err.msg);
        goto out;
    }
    imp order[MQ_RF_COUNT];
    for (int f = 0; f < MQ_RF_COUNT; f++)
        order[f] = (imp){f, tr.trained ? tr.gain[f] : 0};
    qsort(order, MQ_RF_COUNT, sizeof *order, by_gain);
    const char *data = tr.impressions ? "logged impressions grouped per page"
                                      : "each profile's candidate set, labelled with its next positives (the data has no impressions)";
    const char *reqs = test.impressions ? "pages after T with a play, logged impressions re-ranked"
                                        : "profiles with new positives after T, candidate set "
                                          "ranked";
    json_t *o = json_object();
    json_object_set_new(o, "ranker", json_string(!tr.trained ? "fallback blend"
                                                 : tr.used  ? "trained"
                                                            : "trained, not used (lost on "
                                                              "validation): best model serves"));
    if (!tr.trained)
        json_object_set_new(o, "skipped", json_string(tr.skipped));
    json_object_set_new(o, "training_data", json_string(data));
    json_object_set_new(o, "training_groups", json_integer((json_int_t)tr.groups));
    json_object_set_new(o, "fit_seconds", json_real(fit_s));
    json_object_set_new(o, "xgboost_seconds", json_real(tr.seconds));
    json_object_set_new(o, "requests", json_string(reqs));
    json_object_set_new(o, "n_requests", json_integer((json_int_t)ev.requests));
    json_object_set_new(o, "ndcg@10", json_real(ev.ndcg_ranker));
    json_t *mods = json_object();
    for (int k = 0; k < MQ_MODEL_COUNT; k++)
        if (ev.ndcg_models[k] == ev.ndcg_models[k])
            json_object_set_new(mods, mq_model_name((mq_model_kind)k),
                                json_real(ev.ndcg_models[k]));
    json_object_set_new(o, "models_ndcg@10", mods);
    static const int hist_lo[4] = MQ_RANK_HISTORY_BUCKETS;
    static const char *const hist_name[4] = {"no history", "1-3 titles", "4-15 titles",
                                             "16+ titles"};
    if (ev.ndcg_oracle == ev.ndcg_oracle)
        json_object_set_new(o, "oracle_ndcg@10", json_real(ev.ndcg_oracle));
    json_t *byh = json_array();
    for (int h = 0; h < 4; h++)
        if (ev.by_history[h].requests) {
            json_t *r = json_pack("{s:i, s:I, s:f, s:f}", "history_from", hist_lo[h], "requests",
                                  (json_int_t)ev.by_history[h].requests, "ranker",
                                  ev.by_history[h].ranker, "best_model", ev.by_history[h].best);
            if (ev.by_history[h].oracle == ev.by_history[h].oracle)
                json_object_set_new(r, "oracle", json_real(ev.by_history[h].oracle));
            json_array_append_new(byh, r);
        }
    json_object_set_new(o, "by_history", byh);
    json_object_set_new(o, "best_model", json_string(mq_model_name(ev.best)));
    json_object_set_new(o, "relative_gain", json_real(ev.rel_gain));
    json_object_set_new(o, "ci95", json_pack("[f, f]", ev.ci_lo, ev.ci_hi));
    json_t *fi = json_object();
    for (int i = 0; i < MQ_RF_COUNT; i++)
        json_object_set_new(fi, mq_rank_feature_name((mq_rank_feature)order[i].f),
                            json_real(order[i].g));
    json_object_set_new(o, "feature_importance_total_gain", fi);
    if (ev.ece == ev.ece) {
        json_t *rel = json_array();
        for (int bi = 0; bi < 10; bi++)
            if (ev.reliability_n[bi])
                json_array_append_new(
                    rel, json_pack("{s:f, s:f, s:I, s:f, s:f}", "from", bi / 10.0, "to",
                                   (bi + 1) / 10.0, "n", (json_int_t)ev.reliability_n[bi],
                                   "predicted", ev.reliability_pred[bi], "observed",
                                   ev.reliability_obs[bi]));
        json_object_set_new(o, "reliability", rel);
        json_object_set_new(o, "ece", json_real(ev.ece));
        json_object_set_new(o, "outcomes", json_integer((json_int_t)ev.outcomes));
    } else {
        json_object_set_new(o, "ece", json_null());
    }
    if (!json) {
        if (!tr.trained)
            printf("\nranker (not trained: %s; fit %.1f s)\n", tr.skipped, fit_s);
        else
            printf("\nranker (%s; trained on %s, %zu groups; fit %.1f s)\n",
                   tr.used ? "LambdaMART, XGBoost rank:ndcg"
                           : "LambdaMART trained but not used: it lost to the best single "
                             "model on validation, which serves",
                   data, tr.groups, fit_s);
        if (tr.trained)
            printf("  validation: ranker %.4f, best single model %s %.4f\n", tr.valid_ndcg10,
                   tr.valid_best_model, tr.valid_ndcg10_best);
        printf("  requests: %zu %s\n", ev.requests, reqs);
        printf("  NDCG@10   ranker %.4f", ev.ndcg_ranker);
        for (int k = 0; k < MQ_MODEL_COUNT; k++)
            if (ev.ndcg_models[k] == ev.ndcg_models[k])
                printf(", %s %.4f", mq_model_name((mq_model_kind)k), ev.ndcg_models[k]);
        if (ev.ndcg_oracle == ev.ndcg_oracle)
            printf("\n  oracle %.4f (the synthetic world's true attraction, without position "
                   "and artwork: what knowing the truth scores)",
                   ev.ndcg_oracle);
        printf("\n  ranker vs best single model (%s): %+.1f%% relative, bootstrap 95%% CI "
               "[%+.1f%%, %+.1f%%]\n",
               mq_model_name(ev.best), 100 * ev.rel_gain, 100 * ev.ci_lo, 100 * ev.ci_hi);
        printf("  by the profile's history at the request (titles touched):\n"
               "    history        requests   ranker   %-8s%s\n",
               mq_model_name(ev.best), ev.ndcg_oracle == ev.ndcg_oracle ? "  oracle" : "");
        for (int h = 0; h < 4; h++)
            if (ev.by_history[h].requests) {
                printf("    %-12s %10zu   %.4f   %.4f", hist_name[h], ev.by_history[h].requests,
                       ev.by_history[h].ranker, ev.by_history[h].best);
                if (ev.by_history[h].oracle == ev.by_history[h].oracle)
                    printf("    %.4f", ev.by_history[h].oracle);
                printf("\n");
            }
        if (tr.trained) {
            printf("  feature importance (share of total gain):\n");
            for (int i = 0; i < MQ_RF_COUNT && order[i].g > 0.005; i++)
                printf("    %-32s %.3f\n", mq_rank_feature_name((mq_rank_feature)order[i].f),
                       order[i].g);
        }
        if (ev.ece == ev.ece) {
            printf("  match score calibration on %zu first plays after T (enjoyed = completion "
                   "or thumbs up):\n    bin         n  predicted  observed\n",
                   ev.outcomes);
            for (int bi = 0; bi < 10; bi++)
                if (ev.reliability_n[bi])
                    printf("    %.1f-%.1f %7zu  %9.3f %9.3f\n", bi / 10.0, (bi + 1) / 10.0,
                           ev.reliability_n[bi], ev.reliability_pred[bi], ev.reliability_obs[bi]);
            printf("  ECE %.4f\n", ev.ece);
        } else {
            printf("  match score: not calibrated (too few outcomes)\n");
        }
    }
    *report = o;
    rc = MQ_EXIT_OK;
out:
    mq_rank_data_free(&test);
    return rc;
}
