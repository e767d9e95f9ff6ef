/* cmd_recommend.c: `marquee recommend`: batch recommendations from the current
 * bundle (DATA_DIR/bundle.mqb), for comparing marquee with other tools on the same
 * split. Each profile's history is read from the store and scored live (fold-in
 * for iALS), exactly as the server would; titles already seen are excluded unless
 * --include-seen.
 *
 *   --profiles FILE  one profile id per line; CSV "profile,rank,title,score" (ranks
 *                    from 1) or JSON lines
 *   --profile ID     a readable list with title names */
#include "cli.h"
#include "models/models.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* RFC 4180: quote a field that holds a comma, quote or line break. */
static void csv_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

typedef enum { FMT_CSV, FMT_TEXT, FMT_JSON } out_format;

typedef struct rec_ctx {
    const mq_bundle *b;
    mq_model_kind model;
    size_t k;
    bool include_seen;
    out_format fmt;
    mq_model_ws *ws;
    float *scores;
    uint32_t *top;
    float *top_s;
    MQ_VEC(mq_hist_item) hist;
    mq_store *s;
    mq_arena names;
} rec_ctx;

/* The profile's history in bundle columns, from a matrix row (titles added
 * after training are not in the bundle and are left out). */
static void history_from_row(rec_ctx *c, const mq_matrix *m, uint32_t r) {
    c->hist.len = 0;
    if (r == UINT32_MAX)
        return;
    for (size_t e = m->row_ptr[r]; e < m->row_ptr[r + 1]; e++) {
        uint32_t col = mq_bundle_col(c->b, m->col_title[m->col[e]]);
        if (col != UINT32_MAX)
            MQ_VEC_PUSH(&c->hist, ((mq_hist_item){col, m->conf[e], m->neg[e]}));
    }
}

static int recommend_one(rec_ctx *c, const char *profile, mq_err *err) {
    int rc = mq_model_score(c->b, c->model, c->hist.items, c->hist.len, c->scores, c->ws, err);
    if (rc)
        return rc;
    if (!c->include_seen)
        mq_model_exclude(c->b, c->scores, c->hist.items, c->hist.len);
    size_t got = mq_topk(c->scores, mq_bundle_n_titles(c->b), c->k, c->top, c->top_s);
    for (size_t i = 0; i < got; i++) {
        const char *title = mq_bundle_title_ext(c->b, c->top[i]);
        if (c->fmt == FMT_CSV) {
            csv_field(stdout, profile);
            printf(",%zu,", i + 1);
            csv_field(stdout, title);
            printf(",%.6g\n", c->top_s[i]);
        } else if (c->fmt == FMT_JSON) {
            json_t *o =
                json_pack("{s:s, s:I, s:s, s:f}", "profile", profile, "rank", (json_int_t)(i + 1),
                          "title", title, "score", (double)c->top_s[i]);
            json_dumpf(o, stdout, JSON_COMPACT | JSON_REAL_PRECISION(6));
            fputc('\n', stdout);
            json_decref(o);
        } else {
            mq_title t;
            mq_arena_reset(&c->names);
            const char *name =
                mq_store_get_title(c->s, title, &t, &c->names, NULL) == MQ_OK && t.name ? t.name
                                                                                        : "";
            printf("%3zu  %-10s %10.4f  %s\n", i + 1, title, c->top_s[i], name);
        }
    }
    return MQ_OK;
}

static uint32_t *row_index(const mq_matrix *m, uint32_t *len) {
    uint32_t end = 0;
    for (uint32_t r = 0; r < m->n_rows; r++)
        if (m->row_profile[r] >= end)
            end = m->row_profile[r] + 1;
    uint32_t *idx = mq_malloc((end ? end : 1) * sizeof *idx);
    for (uint32_t p = 0; p < end; p++)
        idx[p] = UINT32_MAX;
    for (uint32_t r = 0; r < m->n_rows; r++)
        idx[m->row_profile[r]] = r;
    *len = end;
    return idx;
}

int mq_cmd_recommend(mq_cli *cli) {
    const char *file = mq_cli_flag(cli, "profiles"), *one = mq_cli_flag(cli, "profile");
    if (!file == !one)
        return mq_cli_fail(cli, MQ_EXIT_USAGE,
                           "expected exactly one of --profiles FILE or --profile ID");
    int64_t k;
    if (!mq_cli_flag_i64(cli, "k", 1, 100000, 20, &k))
        return MQ_EXIT_USAGE;
    const char *fmt = mq_cli_flag(cli, "format");
    out_format f = one ? FMT_TEXT : FMT_CSV;
    if (fmt) {
        if (strcmp(fmt, "csv") == 0)
            f = FMT_CSV;
        else if (strcmp(fmt, "text") == 0)
            f = FMT_TEXT;
        else if (strcmp(fmt, "json") == 0)
            f = FMT_JSON;
        else
            return mq_cli_fail(cli, MQ_EXIT_USAGE,
                               "--format: expected csv, text or json, got \"%s\"", fmt);
    }
    mq_err err = {0};
    rec_ctx c = {0};
    c.k = (size_t)k;
    c.fmt = f;
    c.include_seen = mq_cli_has(cli, "include-seen");
    mq_arena_init(&c.names, 4096, 0);
    mq_bundle *b = NULL;
    mq_matrix *m = NULL;
    FILE *in = NULL;
    uint32_t *rows = NULL, n_idx = 0;
    int rc = MQ_EXIT_FAIL;
    char *line = NULL;
    size_t cap = 0;
    if (mq_store_open(mq_cli_store(cli), MQ_STORE_READONLY, &c.s, &err)) {
        mq_cli_fail(cli, MQ_EXIT_FAIL, "%s", err.msg);
        goto out;
    }
    if (mq_bundle_open_published(cli->data_dir, c.s, &b, &err)) {
        mq_cli_fail(cli, MQ_EXIT_FAIL, "%s", err.msg);
        goto out;
    }
    c.b = b;
    c.model = mq_bundle_default_model(b);
    const char *mname = mq_cli_flag(cli, "model");
    if (mname) {
        int mk = mq_model_parse(mname);
        if (mk < 0 || !mq_bundle_has(b, (mq_model_kind)mk)) {
            mq_cli_fail(cli, MQ_EXIT_USAGE, "--model: the bundle has no model \"%s\"", mname);
            rc = MQ_EXIT_USAGE;
            goto out;
        }
        c.model = (mq_model_kind)mk;
    }
    if (file && !(in = fopen(file, "r"))) {
        mq_cli_fail(cli, MQ_EXIT_USAGE, "--profiles %s: cannot open: %s", file, strerror(errno));
        rc = MQ_EXIT_USAGE;
        goto out;
    }
    /* Histories: one scan of the log for a batch, the profile's own events for one. */
    mq_matrix_opts mo;
    mq_matrix_opts_from_config(&mo, cli->config);
    if (one) {
        mo.profile_id = mq_store_profile_id(c.s, one);
        if (!mo.profile_id)
            fprintf(stderr,
                    "marquee recommend: profile \"%s\" is unknown: recommending as for a "
                    "new profile\n",
                    one);
    }
    if ((!one || mo.profile_id) && mq_matrix_from_store(c.s, &mo, &m, &err)) {
        mq_cli_fail(cli, MQ_EXIT_FAIL, "%s", err.msg);
        goto out;
    }
    if (m)
        rows = row_index(m, &n_idx);
    c.ws = mq_model_ws_create(b);
    c.scores = mq_malloc((mq_bundle_n_titles(b) + 1) * sizeof *c.scores);
    c.top = mq_malloc(c.k * sizeof *c.top);
    c.top_s = mq_malloc(c.k * sizeof *c.top_s);
    if (one) {
        uint32_t pid = mo.profile_id;
        history_from_row(&c, m, m && pid < n_idx ? rows[pid] : UINT32_MAX);
        if (f == FMT_TEXT)
            printf("profile %s: %zu titles in history; model %s; top %zu%s\n", one, c.hist.len,
                   mq_model_name(c.model), c.k, c.include_seen ? "" : " (seen titles excluded)");
        if (recommend_one(&c, one, &err)) {
            mq_cli_fail(cli, MQ_EXIT_FAIL, "%s", err.msg);
            goto out;
        }
    } else {
        if (f == FMT_CSV)
            printf("profile,rank,title,score\n");
        long lineno = 0;
        ssize_t len;
        while ((len = getline(&line, &cap, in)) >= 0) {
            lineno++;
            while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
                               line[len - 1] == ' ' || line[len - 1] == '\t'))
                line[--len] = '\0';
            char *id = line;
            while (*id == ' ' || *id == '\t')
                id++;
            if (!*id || (lineno == 1 && strcmp(id, "profile") == 0))
                continue; /* blank lines and a header line */
            uint32_t pid = mq_store_profile_id(c.s, id);
            if (!pid)
                fprintf(stderr,
                        "marquee recommend: %s:%ld: profile \"%s\" is unknown: "
                        "recommending as for a new profile\n",
                        file, lineno, id);
            history_from_row(&c, m, pid && pid < n_idx ? rows[pid] : UINT32_MAX);
            if (recommend_one(&c, id, &err)) {
                mq_cli_fail(cli, MQ_EXIT_FAIL, "%s:%ld: %s", file, lineno, err.msg);
                goto out;
            }
        }
    }
    if (fflush(stdout) != 0) {
        mq_cli_fail(cli, MQ_EXIT_FAIL, "writing the output failed: %s", strerror(errno));
        goto out;
    }
    rc = MQ_EXIT_OK;
out:
    free(line);
    if (in)
        fclose(in);
    mq_free(rows);
    mq_free(c.hist.items);
    mq_free(c.scores);
    mq_free(c.top);
    mq_free(c.top_s);
    mq_model_ws_destroy(c.ws);
    mq_arena_free(&c.names);
    mq_matrix_destroy(m);
    mq_bundle_destroy(b);
    mq_store_close(c.s);
    return rc;
}
