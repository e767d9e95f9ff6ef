/* cmd_eval.c: `marquee eval`: offline evaluation of the candidate models by one of
 * DESIGN.md's protocols (strong generalization, leave-last-out, global time
 * split), on the test or the validation profiles, over the full catalogue. One
 * table per model, or --json. Hyperparameters are any models.* setting given as a
 * flag, so a search is a loop over `marquee eval --split validation`. */
#include "cli.h"
#include "eval/eval.h"
#include "rank/rank.h"

#include <string.h>

static bool parse_ks(const char *s, mq_eval_opts *o) {
    o->n_ks = 0;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        char buf[24];
        int64_t k;
        if (len == 0 || len >= sizeof buf || o->n_ks == MQ_EVAL_MAX_K)
            return false;
        memcpy(buf, s, len);
        buf[len] = '\0';
        if (!mq_parse_i64(buf, &k) || k < 1 || k > 100000)
            return false;
        o->ks[o->n_ks++] = (size_t)k;
        s += len + (e ? 1 : 0);
    }
    return o->n_ks > 0;
}

int mq_cmd_eval(mq_cli *cli) {
    /* --- asset bandits (issue 7): replay / simulation, in cmd_eval_assets.c --- */
    if (mq_cli_has(cli, "assets"))
        return mq_cmd_eval_assets(cli);
    /* --- end asset bandits --- */
    /* --- the homepage (issue 6): first-screen hit rate, in cmd_eval_page.c --- */
    if (mq_cli_has(cli, "page"))
        return mq_cmd_eval_page(cli);
    bool json = mq_cli_has(cli, "json");
    mq_err err = {0};
    mq_eval_opts o;
    mq_eval_opts_default(&o);
    const char *proto = mq_cli_flag(cli, "protocol");
    if (proto) {
        int pr = mq_protocol_parse(proto);
        if (pr < 0)
            return mq_cli_fail(cli, MQ_EXIT_USAGE,
                               "--protocol: expected strong, loo or time, got \"%s\"", proto);
        o.protocol = (mq_protocol)pr;
    }
    const char *split = mq_cli_flag(cli, "split");
    if (split) {
        if (strcmp(split, "test") == 0)
            o.split = MQ_SPLIT_TEST;
        else if (strcmp(split, "validation") == 0)
            o.split = MQ_SPLIT_VALIDATION;
        else
            return mq_cli_fail(cli, MQ_EXIT_USAGE,
                               "--split: expected test or validation, got \"%s\"", split);
    }
    int64_t seed;
    if (!mq_cli_flag_i64(cli, "seed", 0, INT64_MAX, 1, &seed))
        return MQ_EXIT_USAGE;
    o.seed = (uint64_t)seed;
    int64_t repeats;
    if (!mq_cli_flag_i64(cli, "repeats", 1, 1000, 1, &repeats))
        return MQ_EXIT_USAGE;
    o.repeats = (int)repeats;
    const char *ks = mq_cli_flag(cli, "k");
    if (ks && !parse_ks(ks, &o))
        return mq_cli_fail(cli, MQ_EXIT_USAGE,
                           "--k: expected up to %d comma-separated cut-offs from 1 to 100000, got "
                           "\"%s\"",
                           MQ_EVAL_MAX_K, ks);
    o.include_seen = mq_cli_has(cli, "include-seen");
    mq_train_params p;
    mq_train_params_from_config(&p, cli->config);
    o.threads = p.threads;
    unsigned models = MQ_MODEL_ALL;
    const char *list = mq_cli_flag(cli, "models");
    if (list && mq_model_parse_list(list, &models, &err))
        return mq_cli_fail(cli, MQ_EXIT_USAGE, "--%s", err.msg);
    p.models = models;
    const char *bad = mq_train_params_check(&p);
    if (bad)
        return mq_cli_fail(cli, MQ_EXIT_USAGE, "%s", bad);

    mq_store *s = NULL;
    mq_matrix *full = NULL, *before = NULL;
    mq_split *sp = NULL;
    int rc = MQ_EXIT_FAIL;
    if (mq_store_open(mq_cli_store(cli), MQ_STORE_READONLY, &s, &err)) {
        mq_cli_fail(cli, MQ_EXIT_FAIL, "%s", err.msg);
        goto out;
    }
    mq_matrix_opts mo;
    mq_matrix_opts_from_config(&mo, cli->config);
    mo.progress = !json;
    if (o.protocol == MQ_PROTO_TIME) {
        /* Test: train before T (the time_quantile of event times, or --time), score
         * what comes after. Validation: the same one step earlier (0.8 -> 0.9). */
        int64_t t_test, t_valid;
        const char *at = mq_cli_flag(cli, "time");
        if (at) {
            if (mq_time_parse_rfc3339(at, &t_test) != MQ_OK) {
                mq_cli_fail(cli, MQ_EXIT_USAGE, "--time: expected an RFC 3339 time, got \"%s\"",
                            at);
                rc = MQ_EXIT_USAGE;
                goto out;
            }
        } else if (mq_store_time_quantile(s, o.time_quantile, &t_test, &err)) {
            mq_cli_fail(cli, MQ_EXIT_FAIL, "%s", err.msg);
            goto out;
        }
        if (o.split == MQ_SPLIT_VALIDATION) {
            if (mq_store_time_quantile(s, o.time_quantile - 0.1, &t_valid, &err)) {
                mq_cli_fail(cli, MQ_EXIT_FAIL, "%s", err.msg);
                goto out;
            }
            mo.to_ms = t_test;
            o.time_ms = t_valid;
        } else {
            o.time_ms = t_test;
        }
        if (mq_matrix_from_store(s, &mo, &full, &err)) {
            mq_cli_fail(cli, MQ_EXIT_FAIL, "%s", err.msg);
            goto out;
        }
        mo.to_ms = o.time_ms;
        if (mq_matrix_from_store(s, &mo, &before, &err)) {
            mq_cli_fail(cli, MQ_EXIT_FAIL, "%s", err.msg);
            goto out;
        }
    } else if (mq_matrix_from_store(s, &mo, &full, &err)) {
        mq_cli_fail(cli, MQ_EXIT_FAIL, "%s", err.msg);
        goto out;
    }
    if (mq_split_make(full, before, &o, &sp, &err)) {
        mq_cli_fail(cli, MQ_EXIT_FAIL, "%s", err.msg);
        goto out;
    }
    mq_eval_result res[MQ_MODEL_COUNT];
    mq_cli_progress tp = {.prefix = "eval", .quiet = json};
    /* --- the ranker (issue 5): on the time split's test part, it ranks against the
     * best single model with the bundle fitted before T (cmd_eval_rank.c) --- */
    bool with_ranker = o.protocol == MQ_PROTO_TIME && o.split == MQ_SPLIT_TEST;
    mq_bundle *before_t = NULL;
    json_t *rank_json = NULL;
    /* --- end ranker --- */
    if (mq_eval_run(sp, &p, models, &o, mq_cli_train_progress, &tp, res,
                    with_ranker ? &before_t : NULL, &err)) {
        mq_cli_fail(cli, MQ_EXIT_FAIL, "%s", err.msg);
        goto out;
    }
    if (!json)
        mq_eval_print(stdout, sp, res, models);
    if (with_ranker && before_t) {
        int rr = mq_cmd_eval_rank(cli, s, before_t, o.time_ms, o.time_quantile, json, &rank_json);
        mq_bundle_destroy(before_t);
        if (rr != MQ_EXIT_OK) {
            rc = rr;
            goto out;
        }
    }
    if (json) {
        json_t *j = mq_eval_json(sp, res, models);
        if (rank_json)
            json_object_set_new(j, "ranker", rank_json);
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
        fputc('\n', stdout);
        json_decref(j);
    } else {
        json_decref(rank_json);
    }
    rc = MQ_EXIT_OK;
out:
    mq_split_destroy(sp);
    mq_matrix_destroy(full);
    mq_matrix_destroy(before);
    mq_store_close(s);
    return rc;
}
