/* cmd_train.c: `marquee train`: builds the implicit-feedback matrix from the
 * store, holds out validation profiles to pick the model served by default, fits
 * every model on all the data, and publishes the bundle (DATA_DIR/bundles/,
 * DATA_DIR/bundle.mqb and the store blob "bundle"). A progress bar on a terminal
 * (model, iteration, loss, ETA); --json for machines. */
#include "cli.h"
#include "eval/eval.h"

#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The progress reporter shared by train and eval (cli.h): a bar for iterative
 * models on a terminal, one line per finished model otherwise (unless quiet). */
void mq_cli_train_progress(void *ud, const struct mq_train_event *ev) {
    mq_cli_progress *tp = ud;
    if (strcmp(ev->phase, "iter") == 0) {
        if (!tp->active) {
            mq_progress_start(&tp->bar, tp->label, "iter", (uint64_t)ev->iters);
            tp->active = true;
        }
        snprintf(tp->label, sizeof tp->label, "%s %s loss %.5g", tp->prefix, ev->model, ev->loss);
        mq_progress_update(&tp->bar, (uint64_t)ev->iter);
        return;
    }
    if (tp->active) {
        mq_progress_finish(&tp->bar);
        tp->active = false;
    }
    bool tty = isatty(STDERR_FILENO);
    if (strcmp(ev->phase, "fit") == 0) {
        snprintf(tp->label, sizeof tp->label, "%s %s", tp->prefix, ev->model);
        if (!tp->quiet && tty)
            fprintf(stderr, "%s: fitting %s...\r", tp->prefix, ev->model);
    } else if (strcmp(ev->phase, "done") == 0 && !tp->quiet) {
        fprintf(stderr, "%s: %-8s fitted in %.2f s%s\n", tp->prefix, ev->model, ev->seconds,
                tty ? "\033[K" : "");
    } else if (strcmp(ev->phase, "skipped") == 0) {
        fprintf(stderr, "%s: %s skipped: %s\n", tp->prefix, ev->model, ev->message);
    }
}

/* Validation: fit on the profiles not held out, evaluate the held-out ones,
 * return the best model by Recall@20 and the table as JSON. */
static int validate(const mq_cli *cli, const mq_matrix *m, const mq_train_params *p, double frac,
                    bool quiet, json_t **table, mq_model_kind *best, mq_err *err) {
    mq_eval_opts o;
    mq_eval_opts_default(&o);
    o.split = MQ_SPLIT_VALIDATION;
    o.test_frac = 0;
    o.valid_frac = frac;
    o.seed = p->seed;
    mq_split *sp;
    int rc = mq_split_make(m, NULL, &o, &sp, err);
    if (rc)
        return rc;
    mq_eval_result res[MQ_MODEL_COUNT];
    mq_cli_progress tp = {.prefix = "validation", .quiet = quiet};
    rc = mq_eval_run(sp, p, p->models, &o, mq_cli_train_progress, &tp, res, NULL, err);
    if (rc) {
        mq_split_destroy(sp);
        return rc;
    }
    *table = mq_eval_json(sp, res, p->models);
    double best_v = -1;
    *best = MQ_MODEL_POPULAR;
    for (int k = 0; k < MQ_MODEL_COUNT; k++) {
        double v = (p->models & (1u << k)) ? mq_eval_metric(&res[k], "recall@20") : NAN;
        if (v == v && v > best_v) {
            best_v = v;
            *best = (mq_model_kind)k;
        }
    }
    if (!quiet)
        fprintf(stderr, "validation: %zu profiles; best by recall@20: %s (%.4f)\n", sp->n_users,
                mq_model_name(*best), best_v);
    mq_split_destroy(sp);
    (void)cli;
    return MQ_OK;
}

int mq_cmd_train(mq_cli *cli) {
    bool json = mq_cli_has(cli, "json");
    mq_err err = {0};
    mq_train_params p;
    mq_train_params_from_config(&p, cli->config);
    const char *list = mq_cli_flag(cli, "models");
    if (list && mq_model_parse_list(list, &p.models, &err))
        return mq_cli_fail(cli, MQ_EXIT_USAGE, "--%s", err.msg);
    const char *bad = mq_train_params_check(&p);
    if (bad)
        return mq_cli_fail(cli, MQ_EXIT_USAGE, "%s", bad);
    double vfrac =
        mq_cli_has(cli, "no-validation") ? 0 : mq_config_num(cli->config, "models.validation");

    mq_store *s = NULL;
    mq_matrix *m = NULL;
    mq_bundle *b = NULL;
    json_t *vtable = NULL, *rank_json = NULL;
    int rc = MQ_EXIT_FAIL;
    if (mq_store_open(mq_cli_store(cli), MQ_STORE_DEFAULT, &s, &err)) {
        mq_cli_fail(cli, MQ_EXIT_FAIL, "%s", err.msg);
        goto out;
    }
    mq_matrix_opts mo;
    mq_matrix_opts_from_config(&mo, cli->config);
    mo.progress = true;
    double t0 = mq_mono_s();
    if (mq_matrix_from_store(s, &mo, &m, &err)) {
        mq_cli_fail(cli, MQ_EXIT_FAIL, "%s", err.msg);
        goto out;
    }
    double t_matrix = mq_mono_s() - t0;
    if (m->nnz == 0) {
        mq_cli_fail(cli, MQ_EXIT_FAIL,
                    "%s: no interactions to train on (%u titles; import events first)",
                    cli->data_dir, m->n_cols);
        goto out;
    }
    if (!json)
        fprintf(stderr, "matrix: %u profiles x %u titles, %zu pairs (%.2f s)\n", m->n_rows,
                m->n_cols, m->nnz, t_matrix);

    mq_model_kind best = (p.models & (1u << MQ_MODEL_IALS)) ? MQ_MODEL_IALS : MQ_MODEL_POPULAR;
    if (vfrac > 0) {
        int vr = validate(cli, m, &p, vfrac, json, &vtable, &best, &err);
        if (vr == MQ_EINVAL && !vtable) {
            /* Too few profiles to hold any out: train anyway, say so. */
            fprintf(stderr, "validation skipped: %s\n", err.msg);
            mq_err_clear(&err);
        } else if (vr) {
            mq_cli_fail(cli, MQ_EXIT_FAIL, "%s", err.msg);
            goto out;
        }
    }
    mq_cli_progress tp = {.prefix = "train", .quiet = json};
    mq_train_report rep;
    if (mq_train(m, &p, mq_cli_train_progress, &tp, &rep, &b, &err)) {
        mq_cli_fail(cli, MQ_EXIT_FAIL, "%s", err.msg);
        goto out;
    }
    if (!mq_bundle_has(b, best))
        best = mq_bundle_has(b, MQ_MODEL_IALS) ? MQ_MODEL_IALS : MQ_MODEL_POPULAR;
    mq_bundle_set_default_model(b, best);
    if (vtable)
        mq_bundle_meta_set(b, "validation", json_incref(vtable));
    /* --- the ranker and the match score (issue 5; cmd_train_rank.c) --- */
    if (mq_cmd_train_rank(cli, s, &mo, &p, b, json, &rank_json, &err)) {
        mq_cli_fail(cli, MQ_EXIT_FAIL, "ranker: %s", err.msg);
        goto out;
    }
    /* --- end ranker --- */
    char path[4200];
    if (mq_bundle_publish(b, cli->data_dir, s, path, sizeof path, &err)) {
        mq_cli_fail(cli, MQ_EXIT_FAIL, "%s (the previous bundle, if any, is unchanged)", err.msg);
        goto out;
    }
    struct stat st;
    long long bytes = stat(path, &st) == 0 ? (long long)st.st_size : -1;
    if (json) {
        json_t *o = json_object(), *models = json_object();
        json_object_set_new(o, "bundle", json_string(path));
        json_object_set_new(o, "bytes", json_integer(bytes));
        json_object_set_new(o, "default_model", json_string(mq_model_name(best)));
        json_object_set_new(o, "matrix",
                            json_pack("{s:i, s:i, s:I, s:f}", "profiles", (int)m->n_rows, "titles",
                                      (int)m->n_cols, "pairs", (json_int_t)m->nnz, "seconds",
                                      t_matrix));
        for (int k = 0; k < MQ_MODEL_COUNT; k++) {
            if (rep.skipped[k][0])
                json_object_set_new(models, mq_model_name((mq_model_kind)k),
                                    json_pack("{s:s}", "skipped", rep.skipped[k]));
            else if (mq_bundle_has(b, (mq_model_kind)k))
                json_object_set_new(models, mq_model_name((mq_model_kind)k),
                                    json_pack("{s:f}", "seconds", rep.seconds[k]));
        }
        json_object_set_new(o, "models", models);
        if (rank_json)
            json_object_set_new(o, "ranker", json_incref(rank_json));
        if (mq_bundle_has(b, MQ_MODEL_IALS)) {
            json_t *loss = json_array();
            for (int i = 0; i < rep.ials_iters; i++)
                json_array_append_new(loss, json_real(rep.ials_loss[i]));
            json_object_set_new(
                o, "ials",
                json_pack("{s:f, s:o}", "iter_seconds", rep.ials_iter_seconds, "loss", loss));
        }
        if (vtable)
            json_object_set_new(o, "validation", json_incref(vtable));
        json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
        fputc('\n', stdout);
        json_decref(o);
    } else {
        printf("bundle    %s (%.1f MB)\n", path, bytes / 1e6);
        printf("serving   %s/bundle.mqb -> default model %s%s\n", cli->data_dir,
               mq_model_name(best), vtable ? " (best recall@20 on validation)" : "");
        for (int k = 0; k < MQ_MODEL_COUNT; k++) {
            if (rep.skipped[k][0])
                printf("  %-8s skipped: %s\n", mq_model_name((mq_model_kind)k), rep.skipped[k]);
            else if (mq_bundle_has(b, (mq_model_kind)k))
                printf("  %-8s %.2f s\n", mq_model_name((mq_model_kind)k), rep.seconds[k]);
        }
        if (mq_bundle_has(b, MQ_MODEL_IALS))
            printf("  ials: %d iterations, %.3f s each, final loss %.6g\n", rep.ials_iters,
                   rep.ials_iter_seconds, rep.ials_iters ? rep.ials_loss[rep.ials_iters - 1] : 0);
    }
    rc = MQ_EXIT_OK;
out:
    json_decref(vtable);
    json_decref(rank_json);
    mq_bundle_destroy(b);
    mq_matrix_destroy(m);
    mq_store_close(s);
    return rc;
}
