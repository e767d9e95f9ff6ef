/* cmd_train_rank.c: the ranker's part of `marquee train` (issue 5; src/rank,
 * docs/ranking.md). After the candidate models are fitted on every event, the
 * bundle gets the title attributes the features need, and the ranker and the
 * match score are trained on the last rank.window of the event times: on logged
 * impressions grouped per page when the data has them, else on sampled negatives
 * (MovieLens), and the output says which. */
#include "cli.h"
#include "rank/rank.h"

int mq_cmd_train_rank(mq_cli *cli, mq_store *s, const struct mq_matrix_opts *mo,
                      const struct mq_train_params *tp, struct mq_bundle *b, bool quiet,
                      json_t **report, mq_err *err) {
    *report = NULL;
    int rc = mq_rank_add_titles(s, b, 0, err);
    if (rc)
        return rc;
    mq_rank_params rp;
    mq_rank_params_from_config(&rp, cli->config);
    const char *bad = mq_rank_params_check(&rp);
    if (bad)
        return mq_err_set(err, MQ_EUSAGE, "%s", bad);
    mq_rank_settings st;
    mq_rank_settings_from_config(&st, cli->config);
    int64_t from;
    if ((rc = mq_store_time_quantile(s, 1 - rp.train_window, &from, err)))
        return rc;
    mq_rank_train_report rep;
    double t0 = mq_mono_s();
    if ((rc = mq_rank_fit(s, mo, tp, &rp, &st, from, 0, b, !quiet, &rep, err)))
        return rc;
    double secs = mq_mono_s() - t0;
    json_t *o = json_object();
    char t[32];
    mq_time_format_rfc3339(from, t, sizeof t);
    json_object_set_new(o, "window_from", json_string(t));
    json_object_set_new(o, "trained", json_boolean(rep.trained));
    json_object_set_new(o, "data", json_string(rep.impressions
                                                   ? "logged impressions grouped per page"
                                                   : "candidate sets per profile (no impressions)"));
    json_object_set_new(o, "match_calibrated", json_boolean(rep.enjoy_seconds > 0));
    if (!rep.trained) {
        json_object_set_new(o, "skipped", json_string(rep.skipped));
        json_object_set_new(o, "serving", json_string("fallback blend (docs/ranking.md)"));
    } else {
        json_object_set_new(o, "groups", json_integer((json_int_t)rep.groups));
        json_object_set_new(o, "rows", json_integer((json_int_t)rep.rows));
        json_object_set_new(o, "outcomes", json_integer((json_int_t)rep.outcomes));
        json_object_set_new(o, "train_seconds", json_real(rep.seconds));
        json_object_set_new(o, "enjoy_seconds", json_real(rep.enjoy_seconds));
        json_object_set_new(o, "valid_ndcg10", json_real(rep.valid_ndcg10));
        json_object_set_new(o, "valid_ndcg10_best_model", json_real(rep.valid_ndcg10_best));
        json_object_set_new(o, "valid_best_model", json_string(rep.valid_best_model));
        json_object_set_new(o, "calibration_ece", json_real(rep.calib_ece));
        json_object_set_new(o, "used", json_boolean(rep.used));
    }
    json_object_set_new(o, "seconds", json_real(secs));
    if (!quiet) {
        if (rep.trained) {
            printf("ranker    trained on %s: %zu groups, %zu rows, window from %s (%.1f s, "
                   "XGBoost %.1f s)\n",
                   rep.impressions ? "logged impressions grouped per page"
                                   : "each profile's candidate set, labelled with its next positives (the data has no impressions)",
                   rep.groups, rep.rows, t, secs, rep.seconds);
            printf("  validation NDCG@10: ranker %.4f, best single model %s %.4f%s\n",
                   rep.valid_ndcg10, rep.valid_best_model, rep.valid_ndcg10_best,
                   rep.used ? "" : ": the ranker is not used, the best model serves");
        } else {
            printf("ranker    not trained (%s): serving the fallback blend\n", rep.skipped);
        }
        if (rep.enjoy_seconds > 0)
            printf("  match score: %zu outcomes, isotonic calibration (ECE %.3f on the "
                   "held-out part)\n",
                   rep.outcomes, rep.calib_ece);
        else
            printf("  match score: not calibrated (too few outcomes in the window)\n");
    }
    *report = o;
    return MQ_OK;
}
