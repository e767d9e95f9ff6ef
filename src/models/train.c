/* train.c: fits every requested model on a matrix into one bundle. Popularity,
 * trending and content are always fitted (they cost little, and the others fall
 * back on them: popularity for profiles with no history, content neighbours for
 * cold titles). Reports each model's progress through a callback, which the CLI
 * turns into a progress bar or JSON. */
#include "models_impl.h"

#include <stdlib.h>

static void emit(mq_fit_ctx *c, const char *model, const char *phase, double seconds,
                 const char *msg) {
    if (!c->cb)
        return;
    mq_train_event ev = {model, phase, 0, 0, NAN, seconds, msg};
    c->cb(c->ud, &ev);
}

static json_t *params_json(const mq_train_params *p) {
    return json_pack(
        "{s:b, s:{s:f, s:f, s:f, s:f}, s:{s:i, s:f}, s:{s:i, s:i, s:i, s:f, s:f, s:f, s:f, s:f, "
        "s:f}, s:{s:f, s:f, s:i, s:i}, s:{s:i, s:f}, s:I}",
        "binary", p->binary, "popular", "half_life_days", p->pop.half_life_days,
        "trending_window_days", p->pop.trending_window_days, "trending_baseline_days",
        p->pop.trending_baseline_days, "trending_prior", p->pop.trending_prior, "knn", "neighbours",
        p->knn.neighbours, "shrink", p->knn.shrink, "ials", "factors", p->ials.factors, "iters",
        p->ials.iters, "cg_steps", p->ials.cg_steps, "reg", p->ials.reg, "reg_exp", p->ials.reg_exp,
        "alpha", p->ials.alpha, "unobserved", p->ials.unobserved, "negative", p->ials.negative,
        "init_std", p->ials.init_std, "ease", "lambda", p->ease.lambda, "dropout", p->ease.dropout,
        "max_titles", p->ease.max_titles, "keep", p->ease.keep, "content", "neighbours",
        p->content.neighbours, "cold_weight", p->content.cold_weight, "seed", (json_int_t)p->seed);
}

int mq_train(const mq_matrix *m, const mq_train_params *p, mq_train_cb cb, void *ud,
             mq_train_report *rep, mq_bundle **out, mq_err *err) {
    *out = NULL;
    mq_train_report local;
    if (!rep)
        rep = &local;
    memset(rep, 0, sizeof *rep);
    const char *bad = mq_train_params_check(p);
    if (bad)
        return mq_err_set(err, MQ_EINVAL, "%s", bad);
    uint32_t n = m->n_cols;
    mq_bundle *b = mq_bundle_new(n);
    b->binary = p->binary;

    /* Titles: store ids and external ids. */
    uint32_t *ids = mq_malloc((n ? n : 1) * sizeof *ids);
    memcpy(ids, m->col_title, n * sizeof *ids);
    b->title_ids = mq_bundle_own(b, MQ_SEC_TITLE_IDS, ids, n * sizeof *ids);
    mq_buf ext;
    mq_buf_init(&ext, 0);
    uint64_t *off = mq_malloc((n ? n : 1) * sizeof *off);
    for (uint32_t c = 0; c < n; c++) {
        off[c] = ext.len;
        const char *e = m->col_ext && m->col_ext[c] ? m->col_ext[c] : "";
        char num[16];
        if (!*e) { /* tests build matrices without external ids */
            snprintf(num, sizeof num, "%u", m->col_title[c]);
            e = num;
        }
        mq_buf_append(&ext, e, strlen(e) + 1);
    }
    if (ext.len == 0)
        mq_buf_append(&ext, "", 1);
    b->ext_len = ext.len;
    b->ext = mq_bundle_own(b, MQ_SEC_TITLE_EXT, ext.data, ext.len);
    b->ext_off = mq_bundle_own(b, MQ_SEC_TITLE_EXT_OFF, off, n * sizeof *off);
    mq_bundle_index_titles(b);

    /* Shared views: each entry's value for the item-based models, and the CSC. */
    mq_fit_ctx c = {m, p, cb, ud, rep, NULL, NULL, NULL, NULL};
    c.x = mq_malloc((m->nnz ? m->nnz : 1) * sizeof *c.x);
    for (size_t e = 0; e < m->nnz; e++)
        c.x[e] = mq_entry_value(p->binary, m->conf[e], m->neg[e]);
    c.col_ptr = mq_calloc((size_t)n + 1, sizeof *c.col_ptr);
    for (size_t e = 0; e < m->nnz; e++)
        c.col_ptr[m->col[e] + 1]++;
    for (uint32_t j = 0; j < n; j++)
        c.col_ptr[j + 1] += c.col_ptr[j];
    c.col_row = mq_malloc((m->nnz ? m->nnz : 1) * sizeof *c.col_row);
    c.col_entry = mq_malloc((m->nnz ? m->nnz : 1) * sizeof *c.col_entry);
    size_t *fill = mq_malloc(((size_t)n + 1) * sizeof *fill);
    memcpy(fill, c.col_ptr, ((size_t)n + 1) * sizeof *fill);
    for (uint32_t r = 0; r < m->n_rows; r++)
        for (size_t e = m->row_ptr[r]; e < m->row_ptr[r + 1]; e++) {
            size_t q = fill[m->col[e]]++;
            c.col_row[q] = r;
            c.col_entry[q] = (uint32_t)e;
        }
    mq_free(fill);

    int rc = MQ_OK;
    json_t *secs = json_object();
    for (int k = 0; k < MQ_MODEL_COUNT; k++) {
        bool always = k == MQ_MODEL_POPULAR || k == MQ_MODEL_CONTENT;
        if (k == MQ_MODEL_TRENDING || (!always && !(p->models & (1u << k))))
            continue;
        const char *name = mq_model_name((mq_model_kind)k);
        double t0 = mq_mono_s();
        emit(&c, name, "fit", 0, NULL);
        switch (k) {
        case MQ_MODEL_POPULAR:
            rc = mq_fit_popular(&c, b, err);
            break;
        case MQ_MODEL_KNN:
            rc = mq_fit_knn(&c, b, err);
            break;
        case MQ_MODEL_IALS:
            rc = mq_fit_ials(&c, b, err);
            break;
        case MQ_MODEL_EASE:
            rc = mq_fit_ease(&c, b, rep->skipped[k], sizeof rep->skipped[k], err);
            break;
        case MQ_MODEL_CONTENT:
            rc = mq_fit_content(&c, b, err);
            break;
        }
        if (rc)
            break;
        double s = mq_mono_s() - t0;
        if (rep->skipped[k][0]) {
            emit(&c, name, "skipped", s, rep->skipped[k]);
            continue;
        }
        rep->seconds[k] = s;
        if (k == MQ_MODEL_POPULAR)
            rep->seconds[MQ_MODEL_TRENDING] = s;
        json_object_set_new(secs, name, json_real(s));
        emit(&c, name, "done", s, NULL);
    }
    mq_free(c.x);
    mq_free(c.col_ptr);
    mq_free(c.col_row);
    mq_free(c.col_entry);
    if (rc) {
        json_decref(secs);
        mq_bundle_destroy(b);
        return rc;
    }
    char created[32];
    mq_time_format_rfc3339(mq_now_ms(), created, sizeof created);
    mq_bundle_meta_set(b, "created", json_string(created));
    mq_bundle_meta_set(b, "params", params_json(p));
    mq_bundle_meta_set(b, "fit_seconds", secs);
    json_t *mx = json_pack("{s:i, s:i, s:I}", "profiles", (int)m->n_rows, "titles", (int)m->n_cols,
                           "pairs", (json_int_t)m->nnz);
    if (m->newest_ms) {
        char newest[32];
        mq_time_format_rfc3339(m->newest_ms, newest, sizeof newest);
        json_object_set_new(mx, "newest_event", json_string(newest));
    }
    mq_bundle_meta_set(b, "matrix", mx);
    *out = b;
    return MQ_OK;
}
