/* cmd_eval_page.c: `marquee eval --page`: the homepage's first-screen hit rate on
 * the global time split, for every page policy (src/eval/page_hit.c). The bundle
 * is fitted on the events before T with the models.* settings (--models). */
#include "cli.h"
#include "eval/eval.h"

int mq_cmd_eval_page(mq_cli *cli) {
    mq_err err = {0};
    mq_page_eval_opts o = {0};
    o.quantile = 0.9;
    o.device = MQ_DEVICE_TV;
    o.policies = (1u << MQ_PAGE_POLICY_COUNT) - 1;
    int64_t plays;
    if (!mq_cli_flag_i64(cli, "plays", 1, 100000000, 3000, &plays))
        return MQ_EXIT_USAGE;
    o.max_plays = (size_t)plays;
    const char *t = mq_cli_flag(cli, "time");
    if (t && mq_time_parse_rfc3339(t, &o.time_ms))
        return mq_cli_fail(cli, MQ_EXIT_USAGE, "--time: expected an RFC 3339 time, got \"%s\"", t);
    mq_train_params p;
    mq_train_params_from_config(&p, cli->config);
    const char *list = mq_cli_flag(cli, "models");
    if (list && mq_model_parse_list(list, &p.models, &err))
        return mq_cli_fail(cli, MQ_EXIT_USAGE, "--%s", err.msg);
    const char *bad = mq_train_params_check(&p);
    if (bad)
        return mq_cli_fail(cli, MQ_EXIT_USAGE, "%s", bad);
    mq_matrix_opts mo;
    mq_matrix_opts_from_config(&mo, cli->config);
    mq_page_params pp;
    if (mq_page_params_from_config(&pp, cli->config, &err))
        return mq_cli_fail(cli, MQ_EXIT_USAGE, "%s", err.msg);
    mq_store *s = NULL;
    if (mq_store_open(mq_cli_store(cli), MQ_STORE_READONLY, &s, &err))
        return mq_cli_fail(cli, MQ_EXIT_FAIL, "%s", err.msg);
    mq_page_eval_report r;
    int rc = mq_eval_first_screen(s, &p, &mo, &pp, &o, &r, &err);
    mq_store_close(s);
    if (rc)
        return mq_cli_fail(cli, MQ_EXIT_FAIL, "%s", err.msg);
    if (mq_cli_has(cli, "json")) {
        json_t *j = mq_page_eval_json(&r, &pp);
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
        fputc('\n', stdout);
        json_decref(j);
    } else {
        mq_page_eval_print(stdout, &r, &pp);
    }
    return MQ_EXIT_OK;
}
