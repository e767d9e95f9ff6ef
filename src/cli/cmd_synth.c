/* cmd_synth.c: `marquee synth`: generates the synthetic world (src/sim) into the
 * store of the data directory, with its ground truth, and prints what it wrote and
 * how long each phase took. */
#include "cli.h"
#include "sim/sim.h"

#include <string.h>

/* Reads world parameters from a JSON file: either an object of parameters, or a
 * ground_truth.json, whose "params" object is used. */
static int load_params(const char *path, mq_world_params *p, mq_err *err) {
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root)
        return mq_err_set(err, MQ_EINVAL, "%s:%d:%d: %s", path, je.line, je.column, je.text);
    json_t *o = json_object_get(root, "params");
    char where[4200];
    snprintf(where, sizeof where, "%s%s", path, o ? ": params" : "");
    int rc = mq_world_params_from_json(p, o ? o : root, where, err);
    json_decref(root);
    return rc;
}

static void print_count(const char *label, uint64_t n) {
    char digits[32], out[48];
    int len = snprintf(digits, sizeof digits, "%llu", (unsigned long long)n), j = 0;
    for (int i = 0; i < len; i++) {
        if (i && (len - i) % 3 == 0)
            out[j++] = ',';
        out[j++] = digits[i];
    }
    out[j] = '\0';
    printf("  %-15s %12s\n", label, out);
}

int mq_cmd_synth(mq_cli *cli) {
    mq_world_params p;
    mq_world_params_default(&p);
    mq_err err = {0};
    const char *pf = mq_cli_flag(cli, "params");
    if (pf && load_params(pf, &p, &err))
        return mq_cli_fail(cli, MQ_EXIT_USAGE, "--params: %s", err.msg);
    int64_t seed, titles, profiles, days, sessions;
    if (!mq_cli_flag_i64(cli, "seed", 0, 9007199254740991LL, (int64_t)p.seed, &seed) ||
        !mq_cli_flag_i64(cli, "titles", 10, 1000000, p.n_titles, &titles) ||
        !mq_cli_flag_i64(cli, "profiles", 1, 10000000, p.n_profiles, &profiles) ||
        !mq_cli_flag_i64(cli, "days", 1, 3650, p.days, &days) ||
        !mq_cli_flag_i64(cli, "sessions", 1, 10000, 0, &sessions))
        return MQ_EXIT_USAGE;
    p.seed = (uint64_t)seed;
    p.n_titles = (uint32_t)titles;
    p.n_profiles = (uint32_t)profiles;
    p.days = (uint32_t)days;
    if (sessions)
        p.sessions = (double)sessions;

    mq_synth_opts o = {.data_dir = cli->data_dir,
                       .store = mq_cli_store(cli),
                       .export_dir = mq_cli_flag(cli, "export"),
                       .force = mq_cli_has(cli, "force"),
                       .progress = true,
                       .batch = (size_t)mq_config_num(cli->config, "import.batch")};
    mq_synth_report r;
    if (mq_synth(&p, &o, &r, &err))
        return mq_cli_fail(cli, err.code == MQ_EINVAL ? MQ_EXIT_USAGE : MQ_EXIT_FAIL, "%s",
                           err.msg);

    char end[32];
    mq_time_format_rfc3339(MQ_SIM_WINDOW_END_MS, end, sizeof end);
    printf("synth: seed %llu, %u days ending %s, into %s\n", (unsigned long long)p.seed, p.days,
           end, cli->data_dir);
    print_count("titles", r.titles);
    print_count("profiles", r.profiles);
    print_count("sessions", r.sessions);
    print_count("page views", r.pages);
    print_count("events", r.events);
    for (int t = 0; t < MQ_EV_COUNT; t++)
        if (r.by_type[t]) {
            char label[32];
            snprintf(label, sizeof label, "  %s", mq_event_type_name((mq_event_type)t));
            print_count(label, r.by_type[t]);
        }
    if (r.duplicates)
        print_count("already stored", r.duplicates);
    printf("ground truth  %s/ground_truth.json (%.1f MB)\n", cli->data_dir,
           (double)r.truth_bytes / 1e6);
    if (o.export_dir)
        printf("exported      %s/{titles,profiles,events}.jsonl\n", o.export_dir);
    printf("took %.1f s, %.0f events/s: world %.2f s, simulation %.2f s, store %.2f s "
           "(catalogue %.2f s, appends %.2f s, commits %.2f s), ground truth %.2f s",
           r.total_s, r.total_s > 0 ? (double)r.events / r.total_s : 0, r.world_s, r.generate_s,
           r.store_s, r.catalog_s, r.append_s, r.commit_s, r.truth_s);
    if (o.export_dir)
        printf(", export %.2f s", r.export_s);
    printf("\n");
    return MQ_EXIT_OK;
}
