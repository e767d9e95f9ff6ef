/* cmd_eval_assets.c: `marquee eval --assets`: the artwork (or synopsis) policies
 * side by side on the store's log, by replay and SNIPS with confidence intervals
 * (and, in a synthetic world's store, the ground truth of each); with
 * --simulate, the online simulation against the synthetic world's behaviour
 * model: take rate, lift and regret by day. Settings: assets.* (docs/assets.md). */
#include "cli.h"
#include "eval/eval.h"

#include <string.h>

int mq_cmd_eval_assets(mq_cli *cli) {
    bool json = mq_cli_has(cli, "json");
    mq_err err = {0};
    mq_assets_params p;
    if (mq_assets_params_from_config(&p, cli->config, &err))
        return mq_cli_fail(cli, MQ_EXIT_USAGE, "%s", err.msg);
    const char *bad = mq_assets_params_check(&p);
    if (bad)
        return mq_cli_fail(cli, MQ_EXIT_USAGE, "%s", bad);
    mq_assets_eval_opts o;
    mq_assets_eval_opts_default(&o);
    const char *slot = mq_cli_flag(cli, "slot");
    if (slot) {
        int s = mq_asset_slot_parse(slot);
        if (s != MQ_SLOT_ARTWORK && s != MQ_SLOT_SYNOPSIS)
            return mq_cli_fail(cli, MQ_EXIT_USAGE,
                               "--slot: expected artwork or synopsis, got \"%s\"", slot);
        o.slot = (mq_asset_slot)s;
    }
    int64_t seed;
    if (!mq_cli_flag_i64(cli, "seed", 0, INT64_MAX, 1, &seed))
        return MQ_EXIT_USAGE;
    o.seed = (uint64_t)seed;
    o.progress = !json;
    mq_store *s = NULL;
    if (mq_store_open(mq_cli_store(cli), MQ_STORE_READONLY, &s, &err))
        return mq_cli_fail(cli, MQ_EXIT_FAIL, "%s", err.msg);
    int rc = MQ_EXIT_FAIL;
    json_t *j = NULL;
    if (mq_cli_has(cli, "simulate")) {
        mq_assets_online_report r;
        if (mq_assets_eval_online(s, &p, &o, &r, &err)) {
            mq_cli_fail(cli, MQ_EXIT_FAIL, "%s", err.msg);
            goto out;
        }
        if (json)
            j = mq_assets_online_json(&r);
        else
            mq_assets_online_print(stdout, &r);
        mq_assets_online_free(&r);
    } else {
        mq_assets_replay_report r;
        if (mq_assets_eval_replay(s, &p, &o, &r, &err)) {
            mq_cli_fail(cli, MQ_EXIT_FAIL, "%s", err.msg);
            goto out;
        }
        if (json)
            j = mq_assets_replay_json(&r);
        else
            mq_assets_replay_print(stdout, &r);
    }
    if (j) {
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
        fputc('\n', stdout);
        json_decref(j);
    }
    rc = MQ_EXIT_OK;
out:
    mq_store_close(s);
    return rc;
}
