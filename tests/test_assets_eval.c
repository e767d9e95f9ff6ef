/* test_assets_eval.c: MQ_TEST_LABEL: integration. The evaluation of the asset
 * bandits on a small synthetic world (300 titles x 1,500 profiles x 60 days):
 * replay and SNIPS against the world's ground truth, the synopsis null case, the
 * online simulation's invariants, and `marquee eval --assets` end to end.
 * Everything is seeded, so the figures are the same on every run. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"
#include "helpers.h"
#include "sim/sim.h"

static char *dir;

static void world(void) {
    dir = th_tmpdir();
    mq_world_params p;
    mq_world_params_default(&p);
    p.seed = 7;
    p.n_titles = 300;
    p.n_profiles = 1500;
    p.days = 60;
    mq_synth_opts o = {.data_dir = dir};
    mq_synth_report r;
    mq_err err = {0};
    cr_assert_eq(mq_synth(&p, &o, &r, &err), 0, "mq_synth: %s", err.msg);
}

static void cleanup(void) {
    th_rmrf(dir);
    free(dir);
}

static const mq_assets_replay_row *row(const mq_assets_replay_report *r, const char *name) {
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->rows[i].name, name) == 0)
            return &r->rows[i];
    cr_assert_fail("no row %s", name);
    return NULL;
}

Test(assets_eval, replay_agrees_with_the_ground_truth, .init = world, .fini = cleanup,
     .timeout = 600) {
    mq_store *s;
    mq_err err = {0};
    cr_assert_eq(mq_store_open(dir, MQ_STORE_READONLY, &s, &err), 0, "%s", err.msg);
    mq_assets_params p;
    mq_assets_params_default(&p);
    mq_assets_eval_opts o;
    mq_assets_eval_opts_default(&o);
    mq_assets_replay_report r;
    cr_assert_eq(mq_assets_eval_replay(s, &p, &o, &r, &err), 0, "%s", err.msg);
    cr_assert(r.have_truth);
    cr_expect_eq(r.n, 6);
    cr_expect_gt(r.test, 10000);
    cr_expect_eq(r.uniform, r.test, "the synthetic log chooses artwork uniformly");
    int agree = 0;
    for (size_t i = 0; i < r.n; i++) {
        const mq_assets_replay_row *w = &r.rows[i];
        cr_expect(w->truth > 0 && w->truth < 1, "%s truth %f", w->name, w->truth);
        /* about 1/n of the impressions match */
        cr_expect(w->replay.n > 0.1 * r.test && w->replay.n < 0.3 * r.test, "%s matched %.0f",
                  w->name, w->replay.n);
        agree += w->replay.lo <= w->truth && w->truth <= w->replay.hi;
        agree += w->frozen_replay.lo <= w->frozen_truth && w->frozen_truth <= w->frozen_replay.hi;
    }
    /* 95% intervals: all but perhaps one of the twelve cover their truth */
    cr_expect_geq(agree, 11, "%d of 12 replay intervals cover the truth", agree);
    const mq_assets_replay_row *rnd = row(&r, "random");
    /* the logging policy's own SNIPS is the logged take rate */
    cr_expect_float_eq(rnd->snips.value, r.logged_rate, 1e-9);
    /* the editorial default and the contextual bandits beat random in truth */
    cr_expect_gt(row(&r, "default")->truth, rnd->truth);
    cr_expect_gt(row(&r, "linucb")->frozen_truth, rnd->frozen_truth);
    cr_expect_gt(row(&r, "thompson")->frozen_truth, rnd->frozen_truth);

    /* synopses have no effect in the world: every policy's truth is the same, and
     * no replayed lift is outside the noise */
    o.slot = MQ_SLOT_SYNOPSIS;
    cr_assert_eq(mq_assets_eval_replay(s, &p, &o, &r, &err), 0, "%s", err.msg);
    rnd = row(&r, "random");
    for (size_t i = 0; i < r.n; i++) {
        const mq_assets_replay_row *w = &r.rows[i];
        cr_expect_float_eq(w->truth, rnd->truth, 1e-6, "synopsis %s truth %f vs %f", w->name,
                           w->truth, rnd->truth);
        double se = sqrt(w->replay.se * w->replay.se + rnd->replay.se * rnd->replay.se);
        cr_expect_lt(fabs(w->replay.value - rnd->replay.value), 3 * se,
                     "synopsis %s: %.4f vs random %.4f (se %.4f)", w->name, w->replay.value,
                     rnd->replay.value, se);
    }
    mq_store_close(s);
}

Test(assets_eval, online_simulation_invariants, .init = world, .fini = cleanup, .timeout = 600) {
    mq_store *s;
    mq_err err = {0};
    cr_assert_eq(mq_store_open(dir, MQ_STORE_READONLY, &s, &err), 0, "%s", err.msg);
    mq_assets_params p;
    mq_assets_params_default(&p);
    mq_assets_eval_opts o;
    mq_assets_eval_opts_default(&o);
    mq_assets_online_report r;
    cr_assert_eq(mq_assets_eval_online(s, &p, &o, &r, &err), 0, "%s", err.msg);
    cr_expect_eq(r.n, 8);
    cr_expect_eq(r.n_days, 60);
    cr_expect_gt(r.impressions, 10000);
    const mq_assets_online_row *rnd = NULL, *best = NULL, *orc = NULL, *dflt = NULL;
    for (size_t i = 0; i < r.n; i++) {
        const mq_assets_online_row *w = &r.rows[i];
        cr_expect_eq(w->impressions, r.impressions, "%s", w->name);
        cr_expect_geq(w->regret, -1e-9, "%s regret %f", w->name, w->regret);
        cr_expect_leq(w->expected, r.oracle + 1e-9);
        double sum = 0;
        for (int d = 0; d < r.n_days; d++)
            sum += w->day_expected[d];
        cr_expect_float_eq(sum, w->expected, 1e-6 * w->expected);
        if (!strcmp(w->name, "random"))
            rnd = w;
        if (!strcmp(w->name, "best-static"))
            best = w;
        if (!strcmp(w->name, "oracle"))
            orc = w;
        if (!strcmp(w->name, "default"))
            dflt = w;
    }
    cr_assert(rnd && best && orc && dflt);
    cr_expect_float_eq(orc->regret, 0, 1e-9);
    /* hindsight's best variant per title is at least as good as any one variant */
    cr_expect_geq(best->expected, dflt->expected - 1e-9);
    for (size_t i = 0; i < r.n; i++)
        if (!strcmp(r.rows[i].name, "linucb") || !strcmp(r.rows[i].name, "thompson"))
            cr_expect_gt(r.rows[i].expected, rnd->expected, "%s vs random", r.rows[i].name);
    char svg[4096];
    snprintf(svg, sizeof svg, "%s/regret.svg", dir);
    cr_expect_eq(mq_assets_online_svg(&r, svg, &err), 0, "%s", err.msg);
    size_t len;
    char *text = th_read(svg, &len);
    cr_assert(text && strstr(text, "<svg") && strstr(text, "thompson"));
    free(text);
    mq_assets_online_free(&r);
    mq_store_close(s);
}

Test(assets_eval, cli, .init = world, .fini = cleanup, .timeout = 600) {
    char *out, *errout;
    int rc = th_run(&out, &errout, "--data", dir, "eval", "--assets", "--json", NULL);
    cr_assert_eq(rc, 0, "%s", errout);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    cr_assert(j, "not JSON: %s", je.text);
    cr_expect_str_eq(json_string_value(json_object_get(j, "slot")), "artwork");
    cr_expect_eq(json_array_size(json_object_get(j, "policies")), 6);
    json_decref(j);
    free(out);
    free(errout);
    rc = th_run(&out, &errout, "--data", dir, "eval", "--assets", "--slot", "label", NULL);
    cr_expect_eq(rc, 2);
    cr_expect(strstr(errout, "--slot") != NULL, "%s", errout);
    free(out);
    free(errout);
    rc = th_run(&out, &errout, "--data", dir, "eval", "--assets", "--assets.policy", "nope", NULL);
    cr_expect_eq(rc, 2);
    cr_expect(strstr(errout, "assets.policy") != NULL, "%s", errout);
    free(out);
    free(errout);
}
