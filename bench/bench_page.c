/* bench_page.c: the cost of one homepage in process, as the server builds it:
 * assembly (ranking included) and the JSON, for profiles drawn at random from a
 * data directory (after `marquee synth` and `marquee train`), one thread. Prints
 * p50, p99 and mean latency of the whole page and of the ranker's share, pages/s
 * on one core, the request arena's bytes and the JSON's size. With `bandits`, the
 * asset bandits choose every item's assets, as in `marquee serve` (restored from
 * the store's checkpoint and caught up with the log first: start a server on the
 * directory once to write it); else the editorial defaults.
 *
 *   bench_page DATA_DIR [pages] [rows] [items] [policy|full] [bandits] */
#include "assets/assets.h"
#include "page/page.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* CPU time of this thread: robust to a machine shared with other jobs. */
static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int apply(void *ud, const mq_event *e) {
    mq_state_apply(ud, e);
    return 0;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr,
                "usage: bench_page DATA_DIR [pages] [rows] [items] [policy|full] [bandits]\n");
        return 2;
    }
    const char *dir = argv[1];
    int pages = argc > 2 ? atoi(argv[2]) : 2000;
    int rows = argc > 3 ? atoi(argv[3]) : 40;
    int items = argc > 4 ? atoi(argv[4]) : 25;
    int policy = argc > 5 ? mq_page_policy_parse(argv[5]) : -1;
    bool bandits = argc > 6 && strcmp(argv[6], "bandits") == 0;
    mq_err err = {0};
    mq_store *s;
    mq_catalog *cat;
    if (mq_store_open(dir, MQ_STORE_READONLY, &s, &err) || mq_store_load_catalog(s, &cat, &err)) {
        fprintf(stderr, "bench_page: %s\n", err.msg);
        return 1;
    }
    mq_semantics sem;
    mq_semantics_defaults(&sem);
    mq_state *st = mq_state_create(&sem);
    double t0 = mq_mono_s();
    mq_store_each_event(s, &MQ_EVENT_FILTER_ALL, apply, st, &err);
    fprintf(stderr, "state: %zu profiles in %.1f s\n", mq_state_profile_count(st),
            mq_mono_s() - t0);
    mq_bundle *b = NULL;
    if (mq_bundle_open_data(dir, &b, &err))
        fprintf(stderr, "bench_page: no bundle (%s)\n", err.msg);
    mq_page_params pp;
    mq_page_params_default(&pp);
    pp.cache_pages = 4096;
    pp.max_rows = rows > pp.max_rows ? rows : pp.max_rows;
    pp.max_items = items > pp.max_items ? items : pp.max_items;
    mq_page_service *svc;
    if (mq_page_service_create(&pp, &svc, &err)) {
        fprintf(stderr, "bench_page: %s\n", err.msg);
        return 1;
    }
    uint32_t pend = mq_catalog_profile_end(cat);
    uint32_t tcount = (uint32_t)mq_catalog_title_count(cat);
    /* Profiles to ask for, before the catalogue moves into the service. */
    uint32_t *ids = malloc(sizeof *ids * (size_t)pages);
    int *mat = malloc(sizeof *mat * (size_t)pages);
    mq_rng r;
    mq_rng_seed(&r, 7, 1);
    for (int i = 0; i < pages; i++) {
        const mq_profile *p = NULL;
        while (!p)
            p = mq_catalog_profile(cat, 1 + mq_rng_below(&r, pend > 1 ? pend - 1 : 1));
        ids[i] = p->id;
        mat[i] = p->maturity_limit;
    }
    mq_assets *assets = NULL;
    if (bandits) {
        mq_assets_params ap;
        mq_assets_params_default(&ap);
        t0 = mq_mono_s();
        if (mq_assets_create(&ap, cat, &assets, &err) || mq_assets_load(assets, s, &err) ||
            mq_assets_catch_up(assets, s, &err)) {
            fprintf(stderr, "bench_page: asset bandits: %s\n", err.msg);
            return 1;
        }
        mq_assets_advance(assets, mq_now_ms());
        fprintf(stderr, "asset bandits: ready in %.1f s\n", mq_mono_s() - t0);
    }
    mq_page_service_set_catalog(svc, cat, &err);
    double *lat = malloc(sizeof *lat * (size_t)pages),
           *score = malloc(sizeof *score * (size_t)pages);
    mq_arena a;
    mq_arena_init(&a, (size_t)4 << 20, 0);
    mq_buf out;
    mq_buf_init(&out, 0);
    size_t arena_max = 0, json_sum = 0, arena_sum = 0;
    int64_t now = mq_now_ms();
    double cpu0 = 0;
    for (int i = -50; i < pages; i++) { /* 50 warm-up pages */
        int k = i < 0 ? -i - 1 : i;
        mq_page_request rq = {0};
        rq.profile_id = ids[k];
        rq.profile = "p";
        rq.maturity_limit = mat[k];
        rq.device = MQ_DEVICE_TV;
        rq.now_ms = now;
        rq.rows = rows;
        rq.items = items;
        rq.policy = policy;
        rq.bundle = b;
        rq.bundle_version = 1;
        rq.state = st;
        rq.fresh = true;
        rq.assets = assets;
        mq_arena_reset(&a);
        mq_buf_reset(&out);
        mq_page pg;
        double t = mq_mono_s();
        if (mq_page_build(svc, &rq, &a, &pg, &err)) {
            fprintf(stderr, "bench_page: %s\n", err.msg);
            return 1;
        }
        mq_page_json(&pg, &pp, &out);
        double dt = mq_mono_s() - t;
        mq_page_done(svc, &pg);
        if (i == -1)
            cpu0 = cpu_s();
        if (i < 0)
            continue;
        lat[i] = dt * 1e3;
        score[i] = pg.stats.score_us / 1e3;
        json_sum += out.len;
        arena_sum += pg.stats.arena_bytes;
        if (pg.stats.arena_bytes > arena_max)
            arena_max = pg.stats.arena_bytes;
    }
    double cpu = (cpu_s() - cpu0) * 1e3 / pages;
    double total = 0, stotal = 0;
    for (int i = 0; i < pages; i++) {
        total += lat[i];
        stotal += score[i];
    }
    qsort(lat, (size_t)pages, sizeof *lat, cmp);
    qsort(score, (size_t)pages, sizeof *score, cmp);
    printf("{\"titles\": %u, \"pages\": %d, \"rows\": %d, \"items\": %d, \"policy\": \"%s\", "
           "\"p50_ms\": %.3f, \"p99_ms\": %.3f, \"mean_ms\": %.3f, \"pages_per_s_one_core\": %.0f, "
           "\"rank_p50_ms\": %.3f, \"rank_mean_ms\": %.3f, \"arena_mean_kb\": %.0f, "
           "\"arena_max_kb\": %.0f, \"json_mean_kb\": %.0f, \"cpu_ms_per_page\": %.3f, "
           "\"assets\": \"%s\"}\n",
           tcount, pages, rows, items, policy < 0 ? "full" : argv[5], lat[pages / 2],
           lat[(int)(pages * 0.99)], total / pages, 1000.0 * pages / total, score[pages / 2],
           stotal / pages, arena_sum / 1024.0 / pages, arena_max / 1024.0,
           json_sum / 1024.0 / pages, cpu, bandits ? "bandits" : "editorial");
    mq_buf_free(&out);
    mq_arena_free(&a);
    free(lat);
    free(score);
    free(ids);
    free(mat);
    mq_page_service_destroy(svc);
    mq_assets_destroy(assets);
    mq_bundle_destroy(b);
    mq_state_destroy(st);
    mq_store_close(s);
    return 0;
}
