/* bench_rank.c: the ranker's serving costs on a trained data directory (issue 5):
 *
 *   - scoring cost per candidate: our flattened-tree evaluator against XGBoost
 *     1.7's own predict (XGBoosterPredictFromDense on the same rows, the model
 *     loaded from the JSON kept in the bundle), and that both give the same scores;
 *   - ranking 1,000 candidates: their features, the trees and the selection of
 *     the best 50, for a profile already prepared (the candidate models' scores are
 *     computed once per request, measured separately);
 *   - mq_rank_profile end to end (k = 50): prepare + candidates + features + trees
 *     + reasons, per request, over many profiles (p50, p99);
 *   - GET /v1/profiles/{id}/recommendations?k=50&device=phone on a real server
 *     started in this process, sequential requests (p50, p99).
 *
 *   bench_rank DATA_DIR [REQUESTS]
 * Prints one Markdown table (scripts/bench_rank.sh puts it in docs/benchmarks.md). */
#include "rank/rank_impl.h"
#include "server/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xgboost/c_api.h>

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double q) {
    qsort(v, n, sizeof *v, cmp_d);
    return v[(size_t)(q * (double)(n - 1))];
}

static int replay(void *ud, const mq_event *e) {
    mq_state_apply(ud, e);
    return 0;
}

typedef struct {
    MQ_VEC(uint32_t) ids;
    MQ_VEC(char *) ext;
} prof_list;

static int on_profile(void *ud, const mq_profile *p) {
    prof_list *l = ud;
    MQ_VEC_PUSH(&l->ids, p->id);
    MQ_VEC_PUSH(&l->ext, mq_strdup(p->ext_id));
    return 0;
}

static double http_get_ms(int port, const char *path, int *status) {
    double t0 = mq_mono_s();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *status = 0;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
        char req[512];
        int n = snprintf(req, sizeof req,
                         "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
        if (send(fd, req, (size_t)n, 0) == n) {
            char buf[65536];
            ssize_t k, got = 0;
            while ((k = recv(fd, buf + (got < 12 ? got : 0), sizeof buf - 16, 0)) > 0)
                got += k;
            if (got >= 12)
                *status = atoi(buf + 9);
        }
    }
    close(fd);
    return 1000 * (mq_mono_s() - t0);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_rank DATA_DIR [REQUESTS]\n");
        return 2;
    }
    const char *dir = argv[1];
    int requests = argc > 2 ? atoi(argv[2]) : 2000;
    mq_log_set_level(MQ_LOG_WARN);
    mq_err err = {0};
    mq_bundle *b;
    if (mq_bundle_open_data(dir, &b, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    const mq_ranker *rk = mq_ranker_get(b);
    if (!mq_ranker_trained(rk)) {
        fprintf(stderr, "%s: %s\n", dir, mq_ranker_status(rk));
        return 1;
    }
    mq_store *s;
    if (mq_store_open(dir, MQ_STORE_READONLY, &s, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    mq_config *cfg = mq_config_create();
    mq_semantics sem;
    mq_semantics_from_config(&sem, cfg);
    mq_state *st = mq_state_create(&sem);
    mq_store_each_event(s, &MQ_EVENT_FILTER_ALL, replay, st, &err);
    prof_list pl = {{0}, {0}};
    mq_store_each_profile(s, on_profile, &pl, &err);
    mq_store_stats stats;
    mq_store_stats_get(s, &stats, &err);
    int64_t now = stats.last_ts_ms;
    mq_rank_settings set;
    mq_rank_settings_default(&set);
    mq_rank_ws *ws = mq_rank_ws_create(b);
    mq_rank_context ctx;
    mq_rank_context_init(&ctx, MQ_DEVICE_PHONE, now);

    /* --- 1,000 candidates of one active profile: features, trees, selection --- */
    uint32_t busiest = pl.ids.items[0];
    size_t most = 0;
    for (size_t i = 0; i < pl.ids.len && i < 5000; i++) {
        mq_state_view v;
        mq_state_get(st, pl.ids.items[i], now, &v);
        if (v.n_titles > most) {
            most = v.n_titles;
            busiest = pl.ids.items[i];
        }
        mq_state_view_free(&v);
    }
    mq_state_view v;
    mq_state_get(st, busiest, now, &v);
    const size_t C = MQ_MIN((size_t)1000, (size_t)rk->n);
    uint32_t *cols = mq_malloc(C * sizeof *cols);
    ws->cand.len = 0;
    if (rk_prepare(rk, &v, &ctx, &set, ws, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    /* The 1,000 best titles by the default model: a realistic candidate set. */
    mq_topk(ws->scores[rk->default_model], rk->n, C, cols, NULL);
    float *x = mq_malloc(C * MQ_RF_COUNT * sizeof *x), *sc = mq_malloc(C * sizeof *sc);
    uint32_t top[50];
    int reps = 300;
    double best_rank = 1e9, best_feat = 1e9;
    for (int r = 0; r < reps; r++) {
        double t0 = mq_mono_s();
        for (size_t i = 0; i < C; i++)
            rk_features(rk, ws, cols[i], x + i * MQ_RF_COUNT);
        double t1 = mq_mono_s();
        mq_forest_predict(&rk->rank, x, C, sc);
        mq_topk(sc, (uint32_t)C, 50, top, NULL);
        double t2 = mq_mono_s();
        best_feat = MQ_MIN(best_feat, t1 - t0);
        best_rank = MQ_MIN(best_rank, t2 - t0);
    }
    rk_finish(ws);

    /* --- our evaluator against XGBoost's predict on the same rows --- */
    double ours = 1e9, theirs = 1e9, maxdiff = 0;
    size_t jl;
    const char *js = mq_bundle_section(b, RK_SEC_RANK_XGB, &jl);
    bool have_xgb = js != NULL;
    if (have_xgb) {
        BoosterHandle bst;
        XGBoosterCreate(NULL, 0, &bst);
        if (XGBoosterLoadModelFromBuffer(bst, js, jl) != 0) {
            fprintf(stderr, "XGBoost: %s\n", XGBGetLastError());
            return 1;
        }
        XGBoosterSetParam(bst, "nthread", "1");
        char arr[256];
        snprintf(arr, sizeof arr,
                 "{\"data\": [%llu, true], \"shape\": [%zu, %d], \"typestr\": \"<f4\", "
                 "\"version\": 3}",
                 (unsigned long long)(uintptr_t)x, C, MQ_RF_COUNT);
        const char *conf = "{\"type\": 1, \"training\": false, \"iteration_begin\": 0, "
                           "\"iteration_end\": 0, \"strict_shape\": false, \"missing\": NaN, "
                           "\"cache_id\": 0}";
        const bst_ulong *shape;
        bst_ulong dim;
        const float *res;
        for (int r = 0; r < 30; r++) {
            double t0 = mq_mono_s();
            if (XGBoosterPredictFromDense(bst, arr, conf, NULL, &shape, &dim, &res) != 0) {
                fprintf(stderr, "XGBoost: %s\n", XGBGetLastError());
                return 1;
            }
            theirs = MQ_MIN(theirs, mq_mono_s() - t0);
            t0 = mq_mono_s();
            mq_forest_predict(&rk->rank, x, C, sc);
            ours = MQ_MIN(ours, mq_mono_s() - t0);
        }
        for (size_t i = 0; i < C; i++)
            maxdiff = fmax(maxdiff, fabs((double)sc[i] - res[i]));
        XGBoosterFree(bst);
    }

    /* --- mq_rank_profile end to end --- */
    size_t np = MQ_MIN((size_t)requests, pl.ids.len);
    double *lat = mq_malloc((np + 1) * sizeof *lat);
    mq_ranked out[50];
    size_t cand_total = 0;
    for (size_t i = 0; i < np; i++) {
        mq_state_view pv;
        mq_state_get(st, pl.ids.items[i * (pl.ids.len / np)], now, &pv);
        double t0 = mq_mono_s();
        long got = mq_rank_profile(rk, &pv, &ctx, &set, ws, out, 50, &err);
        lat[i] = 1000 * (mq_mono_s() - t0);
        cand_total += ws->cand.len;
        if (got < 0) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        mq_state_view_free(&pv);
    }
    double p50 = pct(lat, np, 0.5), p99 = pct(lat, np, 0.99);
    double cands = (double)cand_total / (double)np;

    /* --- the endpoint on a real server --- */
    mq_server_options so;
    mq_server_options_from_config(&so, cfg, dir);
    so.port = 0;
    so.threads = 2;
    mq_server *srv;
    double hp50 = NAN, hp99 = NAN;
    size_t hn = MQ_MIN(np, (size_t)1000), ok = 0;
    if (mq_server_start(&so, &srv, &err) == 0) {
        int port = mq_server_port(srv);
        double *hl = mq_malloc((hn + 1) * sizeof *hl);
        for (size_t i = 0; i < hn; i++) {
            char path[256];
            snprintf(path, sizeof path, "/v1/profiles/%s/recommendations?k=50&device=phone",
                     pl.ext.items[i * (pl.ids.len / hn)]);
            int status;
            hl[i] = http_get_ms(port, path, &status);
            ok += status == 200;
        }
        hp50 = pct(hl, hn, 0.5);
        hp99 = pct(hl, hn, 0.99);
        mq_free(hl);
        mq_server_stop(srv);
    } else {
        fprintf(stderr, "server: %s\n", err.msg);
    }

    printf("| measure | value |\n|---|---|\n");
    printf("| ranker | %u trees of depth %u, %d features |\n", rk->rank.n_trees, rk->rank.depth,
           MQ_RF_COUNT);
    printf("| ranking 1,000 candidates (features + trees + best 50), best of %d | %.3f ms "
           "(features %.3f ms) |\n",
           reps, 1000 * best_rank, 1000 * best_feat);
    if (have_xgb) {
        printf("| trees per candidate: our evaluator | %.0f ns |\n", 1e9 * ours / (double)C);
        printf("| trees per candidate: XGBoost 1.7 PredictFromDense (1 thread) | %.0f ns |\n",
               1e9 * theirs / (double)C);
        printf("| largest difference between the two on 1,000 rows | %.2g |\n", maxdiff);
    }
    printf("| mq_rank_profile, k = 50, %zu profiles (mean %.0f candidates) | p50 %.2f ms, p99 "
           "%.2f ms |\n",
           np, cands, p50, p99);
    printf("| GET .../recommendations?k=50&device=phone, %zu sequential requests (%zu × 200) | "
           "p50 %.2f ms, p99 %.2f ms |\n",
           hn, ok, hp50, hp99);
    mq_state_view_free(&v);
    mq_rank_ws_destroy(ws);
    mq_free(lat);
    mq_free(cols);
    mq_free(x);
    mq_free(sc);
    for (size_t i = 0; i < pl.ext.len; i++)
        mq_free(pl.ext.items[i]);
    mq_free(pl.ext.items);
    mq_free(pl.ids.items);
    mq_state_destroy(st);
    mq_store_close(s);
    mq_config_destroy(cfg);
    mq_bundle_destroy(b);
    return 0;
}
