/* bench_assets.c: the cost of choosing assets for a whole homepage, and what the
 * asset bandits cost to run (src/assets).
 *
 * Usage:
 *   bench_assets [TITLES] [PROFILES] [REQUESTS]   (default 5,000, 5,000, 2,000)
 *   bench_assets plot DATA_DIR SVG                the online simulation of
 *                                                 `marquee eval --assets --simulate` on
 *                                                 a synthetic store (the same report,
 *                                                 with the settings of the environment)
 *                                                 and its regret chart as SVG
 *
 * The first form builds a synthetic world in memory (src/sim: titles with 3-9
 * tagged artwork variants, 2-3 synopses, labels), has the bandit learn from its
 * whole log (so that profiles have tastes and the posterior is not the prior),
 * then times requests: prepare the context once, then choose artwork, synopsis
 * and label for 1,000 titles drawn from the catalogue, for a random profile.
 * Every policy is timed the same way, and so is a disjoint LinUCB (Li et al.
 * 2010, Algorithm 1: one d x d matrix per arm, here per (title, variant)) over
 * the same context features, to show why the shared model is the one served.
 * Also: events applied per second while learning, the posterior refresh time,
 * and the checkpoint size. One JSON object per line on stdout. */
#include "assets/assets.h"
#include "eval/eval.h"
#include "sim/sim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 1000

typedef struct {
    const mq_world *w;
    mq_assets **a;
    int n;
    uint64_t events;
} feed;

static int feed_cb(void *ud, const mq_event *e) {
    feed *f = ud;
    mq_event x = *e;
    x.seq = (int64_t)++f->events;
    uint32_t p = mq_world_profile_index(f->w, e->profile);
    x.profile_id = p == MQ_SIM_NONE ? 0 : p + 1;
    if (e->title) {
        uint32_t t = mq_world_title_index(f->w, e->title);
        x.title_id = t == MQ_SIM_NONE ? 0 : t + 1;
    }
    for (int i = 0; i < f->n; i++)
        mq_assets_observe(f->a[i], &x);
    return 0;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Times `requests` homepages of PAGE titles under policy a; returns mean, p50, p99 in ms. */
static void time_requests(const mq_assets *a, const mq_catalog *cat, uint32_t n_titles,
                          uint32_t n_profiles, int requests, double out[3]) {
    static mq_asset_context ctx;
    mq_rng rng;
    mq_rng_seed(&rng, 11, 3);
    double *ms = mq_malloc((size_t)requests * sizeof(double));
    uint32_t titles[PAGE];
    volatile double sink = 0;
    for (int r = 0; r < requests; r++) {
        for (int i = 0; i < PAGE; i++)
            titles[i] = 1 + mq_rng_below(&rng, n_titles);
        ctx.prep.ready = false;
        ctx.profile_id = 1 + mq_rng_below(&rng, n_profiles);
        ctx.device = (mq_device)(1 + mq_rng_below(&rng, 4));
        ctx.weekday = (int)mq_rng_below(&rng, 7);
        ctx.hour = (int)mq_rng_below(&rng, 24);
        double t0 = mq_mono_s();
        mq_assets_prepare(a, &ctx);
        for (int i = 0; i < PAGE; i++) {
            mq_asset_choice ch;
            mq_assets_choose(a, &ctx, mq_catalog_title(cat, titles[i]), &rng, &ch);
            sink += ch.slot[MQ_SLOT_ARTWORK].propensity;
        }
        ms[r] = 1000 * (mq_mono_s() - t0);
    }
    qsort(ms, (size_t)requests, sizeof(double), cmp_d);
    double sum = 0;
    for (int r = 0; r < requests; r++)
        sum += ms[r];
    out[0] = sum / requests;
    out[1] = ms[requests / 2];
    out[2] = ms[(int)(0.99 * (requests - 1))];
    mq_free(ms);
    (void)sink;
}

/* Disjoint LinUCB: per arm a C x C inverse matrix and a weight vector; a request
 * scores every variant of PAGE titles with theta.x + alpha sqrt(x' A^-1 x). */
static void time_disjoint(const mq_catalog *cat, uint32_t n_titles, int C, int requests,
                          double out[3], double *mb) {
    size_t arms = 0;
    uint32_t *first = mq_malloc((n_titles + 2) * sizeof(uint32_t));
    for (uint32_t t = 1; t <= n_titles; t++) {
        first[t] = (uint32_t)arms;
        arms += mq_catalog_title(cat, t)->n_artwork;
    }
    first[n_titles + 1] = (uint32_t)arms;
    size_t cc = (size_t)C * (size_t)C;
    float *Ainv = mq_malloc(arms * cc * sizeof(float));
    float *theta = mq_malloc(arms * (size_t)C * sizeof(float));
    mq_rng rng;
    mq_rng_seed(&rng, 5, 5);
    for (size_t i = 0; i < arms * cc; i++)
        Ainv[i] = (float)(0.01 * mq_rng_normal(&rng));
    for (size_t i = 0; i < arms * (size_t)C; i++)
        theta[i] = (float)(0.01 * mq_rng_normal(&rng));
    *mb = (double)(arms * (cc + (size_t)C) * sizeof(float)) / 1e6;
    double *ms = mq_malloc((size_t)requests * sizeof(double));
    float x[128], y[128];
    volatile double sink = 0;
    for (int r = 0; r < requests; r++) {
        for (int k = 0; k < C; k++)
            x[k] = (float)mq_rng_unif(&rng);
        double t0 = mq_mono_s();
        for (int i = 0; i < PAGE; i++) {
            uint32_t t = 1 + mq_rng_below(&rng, n_titles);
            double best = -INFINITY;
            for (uint32_t arm = first[t]; arm < first[t + 1]; arm++) {
                const float *A = Ainv + arm * cc, *th = theta + arm * (size_t)C;
                double mean = 0, var = 0;
                for (int k = 0; k < C; k++) {
                    float acc = 0;
                    for (int q = 0; q < C; q++)
                        acc += A[(size_t)k * C + q] * x[q];
                    y[k] = acc;
                    mean += th[k] * x[k];
                }
                for (int k = 0; k < C; k++)
                    var += x[k] * y[k];
                double s = mean + sqrt(fabs(var));
                best = s > best ? s : best;
            }
            sink += best;
        }
        ms[r] = 1000 * (mq_mono_s() - t0);
    }
    qsort(ms, (size_t)requests, sizeof(double), cmp_d);
    double sum = 0;
    for (int r = 0; r < requests; r++)
        sum += ms[r];
    out[0] = sum / requests;
    out[1] = ms[requests / 2];
    out[2] = ms[(int)(0.99 * (requests - 1))];
    mq_free(ms);
    mq_free(Ainv);
    mq_free(theta);
    mq_free(first);
    (void)sink;
}

static int plot(const char *dir, const char *svg) {
    mq_err err = {0};
    mq_config *c = mq_config_create();
    if (mq_config_load_env(c, &err)) {
        fprintf(stderr, "bench_assets: %s\n", err.msg);
        return 2;
    }
    mq_assets_params p;
    if (mq_assets_params_from_config(&p, c, &err)) {
        fprintf(stderr, "bench_assets: %s\n", err.msg);
        return 2;
    }
    mq_store *s;
    if (mq_store_open(dir, MQ_STORE_READONLY, &s, &err)) {
        fprintf(stderr, "bench_assets: %s\n", err.msg);
        return 1;
    }
    mq_assets_eval_opts o;
    mq_assets_eval_opts_default(&o);
    mq_assets_online_report r;
    int rc = mq_assets_eval_online(s, &p, &o, &r, &err);
    if (!rc)
        rc = mq_assets_online_svg(&r, svg, &err);
    if (rc) {
        fprintf(stderr, "bench_assets: %s\n", err.msg);
    } else {
        mq_assets_online_print(stdout, &r);
        mq_assets_online_free(&r);
    }
    mq_store_close(s);
    mq_config_destroy(c);
    return rc ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "plot") == 0)
        return plot(argv[2], argv[3]);
    uint32_t n_titles = argc > 1 ? (uint32_t)atoi(argv[1]) : 5000;
    uint32_t n_profiles = argc > 2 ? (uint32_t)atoi(argv[2]) : 5000;
    int requests = argc > 3 ? atoi(argv[3]) : 2000;
    if (n_titles < 10 || n_profiles < 1 || requests < 1) {
        fprintf(stderr, "usage: bench_assets [TITLES] [PROFILES] [REQUESTS] | bench_assets plot "
                        "DATA_DIR SVG\n");
        return 2;
    }
    mq_err err = {0};
    mq_world_params wp;
    mq_world_params_default(&wp);
    wp.n_titles = n_titles;
    wp.n_profiles = n_profiles;
    mq_world *w;
    mq_sim_log *log;
    if (mq_world_generate(&wp, &w, &err) || mq_sim_generate(w, false, &log, &err)) {
        fprintf(stderr, "bench_assets: %s\n", err.msg);
        return 1;
    }
    mq_catalog *cat = mq_catalog_create();
    for (uint32_t t = 0; t < n_titles; t++) {
        mq_title ti = *mq_world_title(w, t);
        ti.id = t + 1;
        mq_catalog_put_title(cat, &ti);
    }
    static const mq_asset_policy pols[] = {MQ_APOL_THOMPSON, MQ_APOL_LINUCB, MQ_APOL_GREEDY,
                                           MQ_APOL_TITLE, MQ_APOL_UNIFORM};
    enum { NP = sizeof pols / sizeof pols[0] };
    mq_assets *a[NP];
    for (int i = 0; i < NP; i++) {
        mq_assets_params p;
        mq_assets_params_default(&p);
        p.policy = pols[i];
        if (mq_assets_create(&p, cat, &a[i], &err)) {
            fprintf(stderr, "bench_assets: %s\n", err.msg);
            return 1;
        }
    }
    /* Learning: the whole log into the Thompson bandit alone (timed), then into the
     * others (untimed). */
    feed f = {w, a, 1, 0};
    size_t n_events = mq_sim_log_count(log);
    double t0 = mq_mono_s();
    mq_sim_log_each(w, log, 0, n_events, feed_cb, &f);
    mq_assets_advance(a[0], INT64_MAX);
    double learn_s = mq_mono_s() - t0;
    f = (feed){w, a + 1, NP - 1, 0};
    mq_sim_log_each(w, log, 0, n_events, feed_cb, &f);
    mq_assets_stats st;
    mq_assets_stats_get(a[0], &st);
    mq_buf b;
    mq_buf_init(&b, 0);
    t0 = mq_mono_s();
    mq_assets_serialize(a[0], &b);
    double ser_s = mq_mono_s() - t0;
    printf("{\"bench\":\"assets_learn\",\"titles\":%u,\"profiles\":%u,\"events\":%zu,"
           "\"impressions\":%llu,\"seconds\":%.3f,\"events_per_s\":%.0f,\"updates\":%llu,"
           "\"refreshes\":%llu,\"dims_artwork\":%d,\"checkpoint_mb\":%.2f,"
           "\"serialize_ms\":%.1f}\n",
           n_titles, n_profiles, n_events, (unsigned long long)st.impressions, learn_s,
           n_events / learn_s, (unsigned long long)st.updates[MQ_SLOT_ARTWORK],
           (unsigned long long)st.refreshes[MQ_SLOT_ARTWORK], st.dims[MQ_SLOT_ARTWORK], b.len / 1e6,
           1000 * ser_s);
    mq_buf_free(&b);
    /* one refresh of every slot, forced by a fresh update count */
    {
        mq_assets_params p;
        mq_assets_params_default(&p);
        p.refresh_every = 0;
        mq_assets *one;
        mq_assets_create(&p, cat, &one, &err);
        f = (feed){w, &one, 1, 0};
        mq_sim_log_each(w, log, 0, n_events / 20, feed_cb, &f);
        t0 = mq_mono_s();
        mq_assets_refresh(one);
        printf("{\"bench\":\"assets_refresh\",\"dims_artwork\":%d,\"ms_all_slots\":%.1f}\n",
               st.dims[MQ_SLOT_ARTWORK], 1000 * (mq_mono_s() - t0));
        mq_assets_destroy(one);
    }
    for (int i = 0; i < NP; i++) {
        double r[3];
        time_requests(a[i], cat, n_titles, n_profiles, requests, r);
        printf("{\"bench\":\"assets_page\",\"policy\":\"%s\",\"titles_per_page\":%d,"
               "\"slots\":3,\"mean_ms\":%.4f,\"p50_ms\":%.4f,\"p99_ms\":%.4f}\n",
               mq_asset_policy_name(pols[i]), PAGE, r[0], r[1], r[2]);
    }
    double r[3], mb;
    int C = 1 + mq_assets_params_get(a[0])->taste_dims + 8;
    time_disjoint(cat, n_titles, C, requests / 10 > 10 ? requests / 10 : 10, r, &mb);
    printf("{\"bench\":\"assets_page\",\"policy\":\"linucb-disjoint\",\"titles_per_page\":%d,"
           "\"slots\":1,\"context_dims\":%d,\"arm_matrices_mb\":%.1f,\"mean_ms\":%.4f,"
           "\"p50_ms\":%.4f,\"p99_ms\":%.4f}\n",
           PAGE, C, mb, r[0], r[1], r[2]);
    for (int i = 0; i < NP; i++)
        mq_assets_destroy(a[i]);
    mq_catalog_destroy(cat);
    mq_sim_log_destroy(log);
    mq_world_destroy(w);
    return 0;
}
