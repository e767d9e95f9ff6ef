/* cmd_simulate.c: `marquee simulate`: simulated members of the store's synthetic
 * world browse the homepages marquee assembles for them, under each page policy
 * (src/simulate); a table (or --json) of time to play, take rate, watch minutes
 * and Effective Catalog Size per policy, and with --svg the time-to-play chart. */
#include "cli.h"
#include "simulate/simulate.h"

#include <stdlib.h>
#include <string.h>

static bool parse_policies(const char *s, unsigned *mask) {
    *mask = 0;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        char buf[32];
        if (len == 0 || len >= sizeof buf)
            return false;
        memcpy(buf, s, len);
        buf[len] = '\0';
        int p = mq_page_policy_parse(buf);
        if (p < 0)
            return false;
        *mask |= 1u << p;
        s += len + (e ? 1 : 0);
    }
    return *mask != 0;
}

int mq_cmd_simulate(mq_cli *cli) {
    mq_simulate_opts o;
    mq_simulate_opts_from_config(&o, cli->config);
    int64_t v;
    if (!mq_cli_flag_i64(cli, "sessions", 1, 100000000, (int64_t)o.sessions, &v))
        return MQ_EXIT_USAGE;
    o.sessions = (size_t)v;
    if (!mq_cli_flag_i64(cli, "seed", 0, INT64_MAX, (int64_t)o.seed, &v))
        return MQ_EXIT_USAGE;
    o.seed = (uint64_t)v;
    const char *pol = mq_cli_flag(cli, "policies");
    if (pol && !parse_policies(pol, &o.policies))
        return mq_cli_fail(cli, MQ_EXIT_USAGE,
                           "--policies: expected a comma-separated list of popular, template, "
                           "no-ranker, full; got \"%s\"",
                           pol);
    mq_err err = {0};
    mq_page_params pp;
    if (mq_page_params_from_config(&pp, cli->config, &err))
        return mq_cli_fail(cli, MQ_EXIT_USAGE, "%s", err.msg);
    mq_semantics sem;
    mq_semantics_from_config(&sem, cli->config);
    mq_store *s = NULL;
    mq_bundle *b = NULL;
    mq_simulate_report r;
    memset(&r, 0, sizeof r);
    int rc = MQ_EXIT_FAIL;
    if (mq_store_open(mq_cli_store(cli), MQ_STORE_DEFAULT, &s, &err))
        goto out;
    if (mq_bundle_open_published(cli->data_dir, s, &b, &err)) {
        mq_err_prefix(&err, "the simulator pages with the trained bundle (run `marquee train`)");
        goto out;
    }
    if (mq_simulate_run(s, b, &pp, &sem, &o, &r, &err))
        goto out;
    json_t *j = mq_simulate_json(&r);
    if (mq_cli_has(cli, "json")) {
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
        fputc('\n', stdout);
    } else {
        mq_simulate_print(stdout, &r);
    }
    /* The latest results, for the dashboard of `marquee serve` (GET /v1/dashboard). */
    char *dump = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(j);
    int prc = dump ? mq_store_put_blob(s, MQ_SIMULATION_BLOB, dump, strlen(dump), &err) : MQ_OK;
    free(dump);
    if (prc)
        goto out;
    const char *svg = mq_cli_flag(cli, "svg");
    if (svg && mq_simulate_svg(&r, svg, &err))
        goto out;
    rc = MQ_EXIT_OK;
out:
    if (rc)
        mq_cli_fail(cli, MQ_EXIT_FAIL, "%s", err.msg);
    mq_simulate_free(&r);
    mq_bundle_destroy(b);
    mq_store_close(s);
    return rc;
}
