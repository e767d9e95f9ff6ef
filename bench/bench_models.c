/* bench_models.c: speed and memory of the candidate models, one JSON object per
 * line on stdout (scripts/bench_models.sh turns them into docs/benchmarks.md).
 *
 *   bench_models ials DIR F [ITERS]   iALS seconds per iteration at F factors on the
 *                                     matrix of the store in DIR, and per million
 *                                     interactions; the loss after each iteration
 *   bench_models ease DIR [REPS]      EASE fit time against a bare float32 Cholesky
 *                                     inverse (spotrf + spotri) of the same size,
 *                                     alternating in the same run, fastest of REPS (3)
 *   bench_models knn DIR              item-kNN fit time
 *   bench_models all DIR              every model as `marquee train` fits them
 *                                     (one bundle), total time and peak RSS
 *   bench_models scale N_USERS N_ITEMS PER_USER F   iALS on a synthetic random
 *                                     low-rank matrix of that size (no store)
 *
 * Hyperparameters are the configuration defaults (models.*), overridable through
 * the MARQUEE_MODELS_* environment variables as for the binary. */
#include "models/models.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static double peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

static mq_config *config(void) {
    mq_config *c = mq_config_create();
    mq_err err = {0};
    if (mq_config_load_env(c, &err)) {
        fprintf(stderr, "bench_models: %s\n", err.msg);
        exit(2);
    }
    mq_threads_set_budget((int)mq_config_num(c, "threads"));
    return c;
}

static mq_matrix *load(const char *dir, const mq_config *c, double *seconds) {
    mq_err err = {0};
    mq_store *s;
    if (mq_store_open(dir, MQ_STORE_READONLY, &s, &err)) {
        fprintf(stderr, "bench_models: %s\n", err.msg);
        exit(1);
    }
    mq_matrix_opts mo;
    mq_matrix_opts_from_config(&mo, c);
    mq_matrix *m;
    double t0 = mq_mono_s();
    if (mq_matrix_from_store(s, &mo, &m, &err)) {
        fprintf(stderr, "bench_models: %s\n", err.msg);
        exit(1);
    }
    *seconds = mq_mono_s() - t0;
    mq_store_close(s);
    return m;
}

/* Entries iALS actually uses (those with any weight). */
static size_t weighted_entries(const mq_matrix *m) {
    size_t n = 0;
    for (size_t e = 0; e < m->nnz; e++)
        n += m->conf[e] > 0 || m->neg[e] > 0;
    return n;
}

static void bench_ials(mq_matrix *m, const mq_config *c, int factors, int iters, const char *what) {
    mq_train_params p;
    mq_train_params_from_config(&p, c);
    p.ials.factors = factors;
    if (iters > 0)
        p.ials.iters = iters;
    mq_train_report rep;
    mq_bundle *b;
    mq_err err = {0};
    p.models = 1u << MQ_MODEL_IALS;
    if (mq_train(m, &p, NULL, NULL, &rep, &b, &err)) {
        fprintf(stderr, "bench_models: %s\n", err.msg);
        exit(1);
    }
    size_t nnz = weighted_entries(m);
    printf("{\"bench\":\"ials\",\"data\":\"%s\",\"factors\":%d,\"iters\":%d,\"threads\":%d,"
           "\"profiles\":%u,\"titles\":%u,\"interactions\":%zu,\"s_per_iter\":%.5f,"
           "\"s_per_iter_min\":%.5f,\"s_per_iter_per_million\":%.5f,"
           "\"s_per_iter_per_million_min\":%.5f,\"loss_first\":%.6g,\"loss_last\":%.6g,"
           "\"peak_rss_mb\":%.1f}\n",
           what, factors, rep.ials_iters, mq_parallel_threads(p.threads), m->n_rows, m->n_cols, nnz,
           rep.ials_iter_seconds, rep.ials_iter_seconds_min,
           rep.ials_iter_seconds / ((double)nnz / 1e6),
           rep.ials_iter_seconds_min / ((double)nnz / 1e6), rep.ials_loss[0],
           rep.ials_loss[rep.ials_iters - 1], peak_rss_mb());
    mq_bundle_destroy(b);
}

/* EASE and the bare inverse alternate `reps` times; the fastest of each is kept,
 * so that a burst of load on a shared machine does not decide the ratio. */
static void bench_ease(mq_matrix *m, const mq_config *c, const char *what, int reps) {
    mq_train_params p;
    mq_train_params_from_config(&p, c);
    uint32_t n = m->n_cols;
    mq_err err = {0};
    double bare = INFINITY, fit = INFINITY, inv_best = INFINITY;
    openblas_set_num_threads(mq_parallel_threads(p.threads));
    for (int r = 0; r < reps; r++) {
        /* The bare inverse: a random SPD matrix of the same size (X'X-like). */
        float *A = mq_malloc((size_t)n * n * sizeof *A);
        mq_rng rng;
        mq_rng_seed(&rng, 7, 1);
        for (size_t i = 0; i < (size_t)n * n; i++)
            A[i] = (float)(mq_rng_unif(&rng) * 0.01);
        for (uint32_t i = 0; i < n; i++)
            A[(size_t)i * n + i] += (float)n * 0.01f;
        openblas_set_num_threads(mq_parallel_threads(p.threads));
        double t0 = mq_mono_s();
        int info = LAPACKE_spotrf(LAPACK_COL_MAJOR, 'U', (lapack_int)n, A, (lapack_int)n);
        if (info == 0)
            info = LAPACKE_spotri(LAPACK_COL_MAJOR, 'U', (lapack_int)n, A, (lapack_int)n);
        double t = mq_mono_s() - t0;
        mq_free(A);
        if (info) {
            fprintf(stderr, "bench_models: bare spotrf/spotri failed: %d\n", info);
            exit(1);
        }
        if (t < bare)
            bare = t;
        float *B;
        double inv;
        t0 = mq_mono_s();
        if (mq_ease_fit_dense(m, &p, &B, &inv, &err)) {
            fprintf(stderr, "bench_models: %s\n", err.msg);
            exit(1);
        }
        t = mq_mono_s() - t0;
        free(B);
        if (t < fit) {
            fit = t;
            inv_best = inv;
        }
    }
    printf("{\"bench\":\"ease\",\"data\":\"%s\",\"titles\":%u,\"threads\":%d,\"reps\":%d,"
           "\"fit_s\":%.3f,\"inverse_inside_fit_s\":%.3f,\"bare_cholesky_inverse_s\":%.3f,"
           "\"ratio\":%.3f,\"peak_rss_mb\":%.1f}\n",
           what, n, mq_parallel_threads(p.threads), reps, fit, inv_best, bare, fit / bare,
           peak_rss_mb());
}

static void bench_all(mq_matrix *m, const mq_config *c, const char *what, unsigned models,
                      double load_s) {
    mq_train_params p;
    mq_train_params_from_config(&p, c);
    p.models = models;
    mq_train_report rep;
    mq_bundle *b;
    mq_err err = {0};
    double t0 = mq_mono_s();
    if (mq_train(m, &p, NULL, NULL, &rep, &b, &err)) {
        fprintf(stderr, "bench_models: %s\n", err.msg);
        exit(1);
    }
    double total = mq_mono_s() - t0;
    printf("{\"bench\":\"%s\",\"data\":\"%s\",\"threads\":%d,\"profiles\":%u,\"titles\":%u,"
           "\"pairs\":%zu,\"matrix_s\":%.3f,\"fit_s\":%.3f",
           models == MQ_MODEL_ALL ? "all" : "knn", what, mq_parallel_threads(p.threads), m->n_rows,
           m->n_cols, m->nnz, load_s, total);
    for (int k = 0; k < MQ_MODEL_COUNT; k++)
        if (mq_bundle_has(b, (mq_model_kind)k) && (models & (1u << k)))
            printf(",\"%s_s\":%.3f", mq_model_name((mq_model_kind)k), rep.seconds[k]);
    printf(",\"peak_rss_mb\":%.1f}\n", peak_rss_mb());
    mq_bundle_destroy(b);
}

/* A random matrix with planted low-rank structure, for scaling runs. */
static mq_matrix *synthetic(uint32_t users, uint32_t items, uint32_t per_user) {
    mq_rng r;
    mq_rng_seed(&r, 11, 3);
    size_t n = (size_t)users * per_user;
    mq_entry *e = mq_malloc(n * sizeof *e);
    for (uint32_t u = 0; u < users; u++) {
        uint32_t cluster = mq_rng_below(&r, 16);
        for (uint32_t k = 0; k < per_user; k++) {
            /* Zipf-ish popularity within the user's cluster of items. */
            double x = mq_rng_unif(&r);
            uint32_t i = (uint32_t)(x * x * (items / 16)) * 16 + cluster;
            if (i >= items)
                i = items - 1;
            e[(size_t)u * per_user + k] = (mq_entry){u, i, 1.0f, 0, MQ_PAIR_POSITIVE, 0};
        }
    }
    mq_matrix *m = mq_matrix_from_entries(users, items, e, n);
    mq_free(e);
    return m;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr,
                "usage: bench_models ials DIR F [ITERS] | ease DIR [REPS] | knn DIR | all DIR | "
                "scale USERS ITEMS PER_USER F\n");
        return 2;
    }
    mq_config *c = config();
    const char *mode = argv[1];
    double load_s = 0;
    if (strcmp(mode, "scale") == 0 && argc >= 6) {
        mq_matrix *m =
            synthetic((uint32_t)atoi(argv[2]), (uint32_t)atoi(argv[3]), (uint32_t)atoi(argv[4]));
        char what[96];
        snprintf(what, sizeof what, "random %sx%s, %s per profile", argv[2], argv[3], argv[4]);
        bench_ials(m, c, atoi(argv[5]), argc > 6 ? atoi(argv[6]) : 0, what);
        mq_matrix_destroy(m);
        mq_config_destroy(c);
        return 0;
    }
    mq_matrix *m = load(argv[2], c, &load_s);
    if (strcmp(mode, "ials") == 0 && argc >= 4)
        bench_ials(m, c, atoi(argv[3]), argc > 4 ? atoi(argv[4]) : 0, argv[2]);
    else if (strcmp(mode, "ease") == 0)
        bench_ease(m, c, argv[2], argc > 3 ? atoi(argv[3]) : 3);
    else if (strcmp(mode, "knn") == 0)
        bench_all(m, c, argv[2], 1u << MQ_MODEL_KNN, load_s);
    else if (strcmp(mode, "all") == 0)
        bench_all(m, c, argv[2], MQ_MODEL_ALL, load_s);
    else {
        fprintf(stderr, "bench_models: unknown mode \"%s\"\n", mode);
        return 2;
    }
    mq_matrix_destroy(m);
    mq_config_destroy(c);
    return 0;
}
