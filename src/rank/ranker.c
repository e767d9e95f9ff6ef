/* ranker.c: the ranker of a bundle and the serving path. mq_ranker_get reads the
 * bundle's extra sections once (title attributes, country popularity, the two
 * tree ensembles, the isotonic table) and keeps the result attached to the bundle;
 * mq_rank_profile then does one request: prepare (features.c), choose candidates
 * (the union of every model's top rank.candidates, plus titles in progress and on
 * the list), build features, score with the trees or the fallback blend, select
 * the best k, and attach the match score and the reasons.
 *
 * The fallback blend (docs/ranking.md) is reciprocal rank fusion (Cormack, Clarke
 * & Buettcher 2009) of the candidate models, sum_k w_k / (60 + rank_k) with w = 2
 * for the bundle's default model, 0.5 for trending and 1 for the others, times
 * 0.85^(impressions without a play), times (1 - 0.5 x thumbs-down similarity),
 * times (1 + progress) for a title in progress. When a trained ranker did not beat
 * the best single model on its held-out validation groups, that model's own
 * score serves instead (the bundle says so), so the ranker never serves worse
 * than what validation measured. */
#include "rank_impl.h"

#include <stdlib.h>

static const char *const reason_codes[] = {
#define MQ_RR_CODE(e, code, text) code,
    MQ_RANK_REASONS(MQ_RR_CODE)
#undef MQ_RR_CODE
};
static const char *const reason_texts[] = {
#define MQ_RR_TEXT(e, code, text) text,
    MQ_RANK_REASONS(MQ_RR_TEXT)
#undef MQ_RR_TEXT
};

const char *mq_rank_reason_code(mq_rank_reason_kind k) {
    return (unsigned)k < MQ_REASON_COUNT ? reason_codes[k] : "unknown";
}

const char *mq_rank_reason_format(mq_rank_reason_kind k) {
    return (unsigned)k < MQ_REASON_COUNT ? reason_texts[k] : "";
}

/* -------------------------------------------------------------- settings ---- */

void mq_rank_settings_default(mq_rank_settings *s) {
    s->match_threshold = 50;
    s->candidates = 200;
    s->recent = 5;
    s->new_days = 30;
    s->reasons = true;
}

void mq_rank_settings_from_config(mq_rank_settings *s, const mq_config *c) {
    mq_rank_settings_default(s);
    s->match_threshold = (int)mq_config_num(c, "rank.match_threshold");
    s->candidates = (int)mq_config_num(c, "rank.candidates");
    s->recent = (int)mq_config_num(c, "rank.recent");
    s->new_days = mq_config_num(c, "rank.new_days");
}

/* ---------------------------------------------------------------- ranker ---- */

static void ranker_free(void *p) {
    mq_ranker *rk = p;
    if (!rk)
        return;
    for (int g = 0; g < rk->n_genres; g++)
        mq_free(rk->genres[g]);
    mq_free(rk->genres);
    mq_free(rk->countries);
    mq_free(rk->inv_norm);
    mq_free(rk->log_pop);
    mq_free(rk->log_imp);
    mq_free(rk->pop_order);
    mq_free(rk->trend_order);
    mq_free(rk);
}

static double jnum(json_t *o, const char *k, double d) {
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : d;
}

static mq_ranker *ranker_build(const mq_bundle *b) {
    mq_ranker *rk = mq_calloc(1, sizeof *rk);
    rk->b = b;
    rk->n = mq_bundle_n_titles(b);
    rk->models = mq_bundle_models(b);
    rk->default_model = mq_bundle_default_model(b);
    rk->serve_model = -1;
    rk->popular = mq_bundle_popularity(b);
    rk->trending = mq_bundle_trending(b);
    rk->Y = mq_bundle_item_factors(b, &rk->factors);
    if (!mq_bundle_content(b, &rk->content_ptr, &rk->content_idx, &rk->content_w, &rk->n_feats))
        rk->content_ptr = NULL;
    if (!mq_bundle_knn(b, &rk->knn_ptr, &rk->knn_idx, &rk->knn_w))
        rk->knn_ptr = NULL;
    size_t bytes;
    const void *t = mq_bundle_section(b, RK_SEC_TITLES, &bytes);
    if (t && bytes == (size_t)rk->n * sizeof(rk_title))
        rk->titles = t;
    const char *names = mq_bundle_section(b, RK_SEC_NAMES, &bytes);
    size_t off_bytes;
    const uint32_t *off = mq_bundle_section(b, RK_SEC_NAME_OFF, &off_bytes);
    if (names && off && bytes && names[bytes - 1] == '\0' &&
        off_bytes == (size_t)rk->n * sizeof *off) {
        bool ok = true;
        for (uint32_t c = 0; c < rk->n && ok; c++)
            ok = off[c] < bytes;
        if (ok) {
            rk->names = names;
            rk->names_len = bytes;
            rk->name_off = off;
        }
    }
    json_t *meta = json_loads(mq_bundle_meta(b), 0, NULL);
    json_t *vocab = json_object_get(meta, RK_META_VOCAB);
    json_t *g = json_object_get(vocab, "genres"), *c = json_object_get(vocab, "countries");
    rk->n_genres = (int)json_array_size(g) + 1;
    rk->genres = mq_calloc((size_t)rk->n_genres, sizeof *rk->genres);
    rk->genres[0] = mq_strdup("");
    for (int i = 1; i < rk->n_genres; i++) {
        json_t *v = json_array_get(g, (size_t)i - 1);
        rk->genres[i] = mq_strdup(json_is_string(v) ? json_string_value(v) : "");
    }
    rk->n_countries = (int)json_array_size(c);
    rk->countries = mq_calloc((size_t)rk->n_countries + 1, sizeof *rk->countries);
    for (int i = 0; i < rk->n_countries; i++) {
        json_t *v = json_array_get(c, (size_t)i);
        snprintf(rk->countries[i], 4, "%s", json_is_string(v) ? json_string_value(v) : "");
    }
    const void *ct = mq_bundle_section(b, RK_SEC_COUNTRY, &bytes);
    if (ct && bytes == (size_t)rk->n_countries * RK_COUNTRY_TOP * sizeof(uint32_t))
        rk->country_top = ct;

    /* The trained models. */
    json_t *r = json_object_get(meta, RK_META);
    snprintf(rk->status, sizeof rk->status, "no ranker in the bundle (run `marquee train` on "
                                            "data with impressions or ratings)");
    if (json_is_object(r)) {
        json_t *names = json_object_get(r, "features");
        bool same = json_array_size(names) == MQ_RF_COUNT;
        for (int f = 0; same && f < MQ_RF_COUNT; f++) {
            json_t *v = json_array_get(names, (size_t)f);
            same = json_is_string(v) &&
                   strcmp(json_string_value(v), mq_rank_feature_name((mq_rank_feature)f)) == 0;
        }
        json_t *rm = json_object_get(r, "rank"), *em = json_object_get(r, "enjoy");
        json_t *used = json_object_get(r, "used");
        if (!same) {
            snprintf(rk->status, sizeof rk->status,
                     "the bundle's ranker was trained on other features than this build's; "
                     "retrain with `marquee train`");
        } else if (json_is_false(used)) {
            json_t *why = json_object_get(r, "why"), *sm = json_object_get(r, "serve_model");
            snprintf(rk->status, sizeof rk->status, "%s",
                     json_is_string(why) ? json_string_value(why) : "ranker not used");
            int k = json_is_string(sm) ? mq_model_parse(json_string_value(sm)) : -1;
            rk->serve_model = k >= 0 && (rk->models & (1u << k)) ? k : -1;
        } else if (rk_forest_from_sections(b, RK_SEC_RANK_FEAT, RK_SEC_RANK_THR, RK_SEC_RANK_LEAF,
                                           (uint32_t)jnum(rm, "trees", 0),
                                           (uint32_t)jnum(rm, "depth", 0),
                                           (float)jnum(rm, "base", 0), &rk->rank, rk->status,
                                           sizeof rk->status) == MQ_OK) {
            rk->trained = true;
            rk->status[0] = '\0';
        }
        if (same && json_is_object(em)) {
            char why[200];
            const float *iso = mq_bundle_section(b, RK_SEC_ISO, &bytes);
            if (iso && bytes >= 2 * sizeof(float) && bytes % (2 * sizeof(float)) == 0 &&
                rk_forest_from_sections(b, RK_SEC_ENJOY_FEAT, RK_SEC_ENJOY_THR, RK_SEC_ENJOY_LEAF,
                                        (uint32_t)jnum(em, "trees", 0),
                                        (uint32_t)jnum(em, "depth", 0),
                                        (float)jnum(em, "base", 0), &rk->enjoy, why,
                                        sizeof why) == MQ_OK) {
                rk->iso = iso;
                rk->n_iso = (uint32_t)(bytes / (2 * sizeof(float)));
                rk->calibrated = true;
            }
        }
    }
    json_decref(meta);
    /* What every request would otherwise recompute per candidate. */
    rk->log_pop = mq_calloc(rk->n + 1, sizeof(float));
    rk->log_imp = mq_calloc(rk->n + 1, sizeof(float));
    for (uint32_t c = 0; c < rk->n; c++) {
        rk->log_pop[c] = rk->popular ? log1pf(fmaxf(rk->popular[c], 0)) : 0;
        rk->log_imp[c] = rk->titles ? log1pf(rk->titles[c].impressions) : 0;
    }
    if (rk->n) {
        uint64_t *scratch = mq_malloc(mq_topk_scratch_len(rk->n) * sizeof *scratch);
        if (rk->popular) {
            rk->pop_order = mq_malloc((size_t)rk->n * sizeof *rk->pop_order);
            rk->n_pop_order =
                (uint32_t)mq_topk_radix(rk->popular, rk->n, rk->n, rk->pop_order, NULL, scratch);
        }
        if (rk->trending) {
            rk->trend_order = mq_malloc((size_t)rk->n * sizeof *rk->trend_order);
            rk->n_trend_order =
                (uint32_t)mq_topk_radix(rk->trending, rk->n, rk->n, rk->trend_order, NULL, scratch);
        }
        mq_free(scratch);
    }
    if (rk->Y && rk->factors > 0) {
        rk->inv_norm = mq_calloc(rk->n + 1, sizeof(float));
        for (uint32_t c = 0; c < rk->n; c++) {
            const float *y = rk->Y + (size_t)c * (size_t)rk->factors;
            double nn = 0;
            for (int i = 0; i < rk->factors; i++)
                nn += (double)y[i] * y[i];
            rk->inv_norm[c] = nn > 0 ? (float)(1 / sqrt(nn)) : 0;
        }
    }
    return rk;
}

const mq_ranker *mq_ranker_get(const mq_bundle *b) {
    mq_ranker *rk = mq_bundle_attachment(b);
    if (rk && rk->b == b)
        return rk;
    return mq_bundle_attach(b, ranker_build(b), ranker_free);
}

const mq_bundle *mq_ranker_bundle(const mq_ranker *rk) {
    return rk->b;
}

bool mq_ranker_trained(const mq_ranker *rk) {
    return rk->trained;
}

const char *mq_ranker_status(const mq_ranker *rk) {
    return rk->status;
}

bool mq_ranker_calibrated(const mq_ranker *rk) {
    return rk->calibrated;
}

const char *mq_ranker_genre_name(const mq_ranker *rk, int genre) {
    return genre > 0 && genre < rk->n_genres ? rk->genres[genre] : "";
}

const char *mq_ranker_title_name(const mq_ranker *rk, uint32_t col) {
    if (col >= rk->n)
        return NULL;
    if (rk->names)
        return rk->names + rk->name_off[col];
    return mq_bundle_title_ext(rk->b, col);
}

/* --------------------------------------------------------------- scoring ---- */

float rk_blend(const mq_ranker *rk, const float *x) {
    if (rk->serve_model >= 0)
        return x[MQ_RF_SCORE_POPULAR + rk->serve_model];
    double s = 0;
    for (int k = 0; k < MQ_MODEL_COUNT; k++) {
        if (!(rk->models & (1u << k)))
            continue;
        double w = k == (int)rk->default_model ? 2 : k == MQ_MODEL_TRENDING ? 0.5 : 1;
        double r = exp2(x[MQ_RF_RANK_POPULAR + k]) - 1;
        s += w / (60 + r);
    }
    s *= pow(0.85, fmin(x[MQ_RF_IMPRESSIONS_NO_PLAY], 50));
    s *= 1 - 0.5 * fmin(x[MQ_RF_THUMBS_DOWN_SIM], 1);
    s *= 1 + x[MQ_RF_PROGRESS];
    return (float)s;
}

float rk_match(const mq_ranker *rk, float margin) {
    if (!rk->calibrated)
        return NAN;
    /* The isotonic fit is a step function on the margin; between two steps it is
     * interpolated linearly, outside them clamped. */
    const float *p = rk->iso;
    uint32_t n = rk->n_iso;
    if (margin <= p[0])
        return p[1];
    if (margin >= p[2 * (n - 1)])
        return p[2 * (n - 1) + 1];
    /* lo = the last step at or below the margin (x ascending, so there is one
     * such lo in [0, n - 1); a NaN margin stays at 0), found by halving without
     * a branch: the margins of a page are unrelated, so a branch would
     * mispredict every other step. */
    uint32_t lo = 0, len = n - 1;
    while (len > 1) {
        uint32_t half = len / 2;
        lo = p[2 * (lo + half)] <= margin ? lo + half : lo;
        len -= half;
    }
    uint32_t hi = lo + 1;
    float x0 = p[2 * lo], x1 = p[2 * hi], y0 = p[2 * lo + 1], y1 = p[2 * hi + 1];
    return x1 > x0 ? y0 + (y1 - y0) * (margin - x0) / (x1 - x0) : y0;
}

void rk_score_candidates(const mq_ranker *rk, mq_rank_ws *ws) {
    size_t m = ws->cand.len;
    MQ_VEC_RESERVE(&ws->out_score, m + 1);
    MQ_VEC_RESERVE(&ws->out_margin, m + 1);
    ws->out_score.len = ws->out_margin.len = m;
    if (rk->trained && rk->calibrated) {
        mq_forest_predict2(&rk->rank, &rk->enjoy, ws->x.items, m, ws->out_score.items,
                           ws->out_margin.items);
        return;
    }
    if (rk->trained)
        mq_forest_predict(&rk->rank, ws->x.items, m, ws->out_score.items);
    else
        for (size_t i = 0; i < m; i++)
            ws->out_score.items[i] = rk_blend(rk, ws->x.items + i * MQ_RF_COUNT);
    if (rk->calibrated)
        mq_forest_predict(&rk->enjoy, ws->x.items, m, ws->out_margin.items);
}

/* ---------------------------------------------------------------- reasons ---- */

static void add_reason(mq_ranked *o, mq_rank_reason_kind k, uint32_t col, int genre,
                       float strength) {
    mq_rank_reason r = {k, col, genre, strength};
    /* Keep the strongest MQ_RANK_MAX_REASONS, strongest first. */
    int n = o->n_reasons;
    if (n == MQ_RANK_MAX_REASONS && o->reasons[n - 1].strength >= strength)
        return;
    int i = n < MQ_RANK_MAX_REASONS ? n : n - 1;
    while (i > 0 && o->reasons[i - 1].strength < strength) {
        o->reasons[i] = o->reasons[i - 1];
        i--;
    }
    o->reasons[i] = r;
    if (n < MQ_RANK_MAX_REASONS)
        o->n_reasons++;
}

static void reasons(const mq_ranker *rk, const mq_rank_ws *ws, uint32_t col, const float *x,
                    mq_ranked *o) {
    o->n_reasons = 0;
    if (x[MQ_RF_PROGRESS] > 0)
        add_reason(o, MQ_REASON_CONTINUE, UINT32_MAX, -1, 10);
    if (x[MQ_RF_IN_LIST] > 0)
        add_reason(o, MQ_REASON_IN_LIST, UINT32_MAX, -1, 5);
    if (ws->sim_up[col] > 0.02f && ws->src_up[col] != col)
        add_reason(o, MQ_REASON_BECAUSE_LIKED, ws->src_up[col], -1, 3 + ws->sim_up[col]);
    if (ws->sim_recent[col] > 0.02f && ws->src_recent[col] != col)
        add_reason(o, MQ_REASON_BECAUSE_WATCHED, ws->src_recent[col], -1,
                   2 + ws->sim_recent[col]);
    if (rk->titles) {
        int best = -1;
        float bs = 0;
        for (int g = 0; g < RK_TITLE_GENRES && rk->titles[col].genre[g]; g++) {
            float share = ws->genre_pos[rk->titles[col].genre[g]];
            if (share > bs) {
                bs = share;
                best = rk->titles[col].genre[g];
            }
        }
        if (best > 0 && bs >= 0.25f)
            add_reason(o, MQ_REASON_GENRE, UINT32_MAX, best, 1 + bs);
    }
    if (x[MQ_RF_IS_NEW] > 0)
        add_reason(o, MQ_REASON_NEW, UINT32_MAX, -1, 1.5f);
    float top20 = log2f(21.0f);
    if (rk->models & (1u << MQ_MODEL_TRENDING) && x[MQ_RF_RANK_TRENDING] < top20 &&
        x[MQ_RF_TRENDING] > 1)
        add_reason(o, MQ_REASON_TRENDING, UINT32_MAX, -1, 1.3f);
    if (x[MQ_RF_COUNTRY_POPULARITY] < top20)
        add_reason(o, MQ_REASON_POPULAR_COUNTRY, UINT32_MAX, -1, 1.2f);
    else if (rk->models & 1u && x[MQ_RF_RANK_POPULAR] < top20)
        add_reason(o, MQ_REASON_POPULAR, UINT32_MAX, -1, 1.1f);
}

void mq_rank_reason_text(const mq_ranker *rk, const mq_rank_reason *r, mq_rank_name_fn title_name,
                         void *ud, char *out, size_t n) {
    const char *fmt = mq_rank_reason_format(r->kind);
    const char *arg = "";
    if (r->kind == MQ_REASON_GENRE)
        arg = mq_ranker_genre_name(rk, r->genre);
    else if (r->col != UINT32_MAX) {
        arg = title_name ? title_name(ud, r->col) : NULL;
        if (!arg)
            arg = mq_ranker_title_name(rk, r->col);
        if (!arg)
            arg = "";
    }
    const char *pct = strstr(fmt, "%s");
    if (pct)
        snprintf(out, n, "%.*s%s%s", (int)(pct - fmt), fmt, arg, pct + 2);
    else
        snprintf(out, n, "%s", fmt);
}

/* ---------------------------------------------------------------- serving ---- */

static void add_cand(mq_rank_ws *ws, uint32_t col) {
    if (ws->in_cand[col])
        return;
    MQ_VEC_PUSH(&ws->cand, col);
    ws->in_cand[col] = (uint32_t)ws->cand.len;
}

/* Features of every candidate into ws->x, row i for candidate i, computed in
 * column order: the bundle's per-title rows (attributes, content, iALS factors)
 * and the workspace's per-column arrays are then read in ascending addresses,
 * neighbouring candidates often sharing a line or a page, where the union of the
 * models' candidates jumps all over them. The candidates are sorted by a pass
 * over the bitmap of columns (cleared again as it is read). */
#define PREFETCH_AHEAD 8
static void build_x(const mq_ranker *rk, mq_rank_ws *ws) {
    size_t m = ws->cand.len;
    MQ_VEC_RESERVE(&ws->x, m * MQ_RF_COUNT + 1);
    ws->x.len = m * MQ_RF_COUNT;
    MQ_VEC_RESERVE(&ws->cand_cols, m + 1);
    uint32_t *cols = ws->cand_cols.items;
    for (size_t i = 0; i < m; i++)
        ws->cand_bits[ws->cand.items[i] / 64] |= 1ULL << (ws->cand.items[i] % 64);
    size_t got = 0;
    for (uint32_t w = 0; m && w <= (rk->n - 1) / 64; w++) {
        uint64_t bits = ws->cand_bits[w];
        ws->cand_bits[w] = 0;
        while (bits) {
            cols[got++] = w * 64 + (uint32_t)__builtin_ctzll(bits);
            bits &= bits - 1;
        }
    }
    /* Still asked for a few candidates ahead, the misses overlapping with the
     * work on the candidates before. A content row is found through its offsets,
     * asked for twice as far ahead. */
    for (size_t i = 0; i < m && i < 2 * PREFETCH_AHEAD; i++)
        rk_features_prefetch_far(rk, cols[i]);
    for (size_t i = 0; i < m && i < PREFETCH_AHEAD; i++)
        rk_features_prefetch(rk, cols[i]);
    for (size_t i = 0; i < m; i++) {
        if (i + 2 * PREFETCH_AHEAD < m)
            rk_features_prefetch_far(rk, cols[i + 2 * PREFETCH_AHEAD]);
        if (i + PREFETCH_AHEAD < m)
            rk_features_prefetch(rk, cols[i + PREFETCH_AHEAD]);
        uint32_t c = cols[i];
        rk_features(rk, ws, c, ws->x.items + (size_t)(ws->in_cand[c] - 1) * MQ_RF_COUNT);
    }
}

static void fill_out(const mq_ranker *rk, mq_rank_ws *ws, const mq_rank_settings *s, size_t i,
                     mq_ranked *o) {
    uint32_t col = ws->cand.items[i];
    o->col = col;
    o->title_id = mq_bundle_title_id(rk->b, col);
    o->score = ws->out_score.items[i];
    o->match = rk->calibrated ? rk_match(rk, ws->out_margin.items[i]) : NAN;
    int pct = o->match == o->match ? (int)lrintf(100 * o->match) : -1;
    o->match_pct = pct >= 0 && pct >= s->match_threshold ? pct : -1;
    o->n_reasons = 0;
    if (s->reasons)
        reasons(rk, ws, col, ws->x.items + i * MQ_RF_COUNT, o);
}

/* The best k of the m scored candidates into ws->order, best first (ties: the
 * earlier candidate). The homepage asks for all of them: a radix sort then costs
 * a few passes where a heap costs m log m mispredicted comparisons. */
static size_t order_best(mq_rank_ws *ws, size_t m, size_t k) {
    if (k < 64)
        return mq_topk(ws->out_score.items, (uint32_t)m, k, ws->order.items, NULL);
    MQ_VEC_RESERVE(&ws->keys, mq_topk_scratch_len((uint32_t)m));
    return mq_topk_radix(ws->out_score.items, (uint32_t)m, k, ws->order.items, NULL,
                         ws->keys.items);
}

long mq_rank_profile(const mq_ranker *rk, const mq_state_view *v, const mq_rank_context *ctx,
                     const mq_rank_settings *s, mq_rank_ws *ws, mq_ranked *out, size_t k,
                     mq_err *err) {
    mq_rank_settings dflt;
    if (!s) {
        mq_rank_settings_default(&dflt);
        s = &dflt;
    }
    ws->cand.len = 0;
    int rc = rk_prepare(rk, v, ctx, s, ws, err);
    if (rc) {
        rk_finish(ws);
        return -1;
    }
    uint32_t n = rk->n;
    uint16_t C = (uint16_t)MQ_MIN(MQ_MAX(s->candidates, 1), RK_RANK_CAP);
    for (int m = 0; m < MQ_MODEL_COUNT; m++) {
        if (!(rk->models & (1u << m)))
            continue;
        if (ws->lazy_ranks) {
            const uint16_t *rank = ws->rank[m];
            for (uint32_t c = 0; c < n; c++)
                if (rank[c] < C && !rk_too_mature(rk, &ws->ctx, c))
                    add_cand(ws, c);
            continue;
        }
        /* The model's best C, in column order (as a scan of the ranks would add
         * them): set in a bitmap, read back a word at a time, which leaves it
         * clear. */
        uint32_t nb = MQ_MIN(ws->n_best[m], (uint32_t)C);
        for (uint32_t i = 0; i < nb; i++)
            ws->cand_bits[ws->best[m][i] / 64] |= 1ULL << (ws->best[m][i] % 64);
        for (uint32_t w = 0; w <= (n - 1) / 64 && nb; w++) {
            uint64_t bits = ws->cand_bits[w];
            ws->cand_bits[w] = 0;
            while (bits) {
                uint32_t c = w * 64 + (uint32_t)__builtin_ctzll(bits);
                bits &= bits - 1;
                if (!rk_too_mature(rk, &ws->ctx, c))
                    add_cand(ws, c);
            }
        }
    }
    /* In progress and on the list: kept whatever the models say. */
    for (size_t i = 0; i < ws->hist.len; i++) {
        uint32_t col = ws->hist.items[i].col;
        const mq_state_title *t = &v->titles[ws->hist_title.items[i]];
        if ((mq_state_title_continue(t) || t->in_list) && !rk_excluded(rk, ws, col) &&
            !rk_too_mature(rk, &ws->ctx, col))
            add_cand(ws, col);
    }
    build_x(rk, ws);
    rk_score_candidates(rk, ws);
    size_t m = ws->cand.len;
    MQ_VEC_RESERVE(&ws->order, m + 1);
    size_t got = order_best(ws, m, MQ_MIN(k, m));
    for (size_t i = 0; i < got; i++)
        fill_out(rk, ws, s, ws->order.items[i], &out[i]);
    rk_finish(ws);
    return (long)got;
}

int mq_rank_titles(const mq_ranker *rk, const mq_state_view *v, const mq_rank_context *ctx,
                   const mq_rank_settings *s, const uint32_t *cols, size_t n, mq_rank_ws *ws,
                   mq_ranked *out, mq_err *err) {
    mq_rank_settings dflt;
    if (!s) {
        mq_rank_settings_default(&dflt);
        s = &dflt;
    }
    ws->cand.len = 0;
    int rc = rk_prepare(rk, v, ctx, s, ws, err);
    if (rc) {
        rk_finish(ws);
        return rc;
    }
    /* Duplicates and columns outside the bundle are scored once / not at all; the
     * candidates keep the given order otherwise. */
    for (size_t i = 0; i < n; i++)
        if (cols[i] < rk->n && !ws->in_cand[cols[i]]) {
            MQ_VEC_PUSH(&ws->cand, cols[i]);
            ws->in_cand[cols[i]] = (uint32_t)ws->cand.len;
        }
    build_x(rk, ws);
    rk_score_candidates(rk, ws);
    for (size_t i = 0; i < n; i++) {
        /* in_cand: the candidate's index + 1, until rk_finish */
        if (cols[i] >= rk->n || !ws->in_cand[cols[i]]) {
            memset(&out[i], 0, sizeof out[i]);
            out[i].col = cols[i];
            out[i].score = -INFINITY;
            out[i].match = -1;
            out[i].match_pct = -1;
            continue;
        }
        fill_out(rk, ws, s, ws->in_cand[cols[i]] - 1, &out[i]);
    }
    rk_finish(ws);
    return MQ_OK;
}

/* Neighbours of col by kNN, else content cosine, else iALS dot: up to `want`
 * columns into ws->cand (excluding col itself). */
static void neighbours(const mq_ranker *rk, mq_rank_ws *ws, uint32_t col, size_t want) {
    /* out_margin is free until the candidates are scored: the similarities. */
    MQ_VEC_RESERVE(&ws->out_margin, rk->n + 1);
    float *s = ws->out_margin.items;
    for (uint32_t j = 0; j < rk->n; j++)
        s[j] = -INFINITY;
    bool any = false;
    if (rk->knn_ptr && rk->knn_ptr[col + 1] > rk->knn_ptr[col]) {
        for (uint64_t q = rk->knn_ptr[col]; q < rk->knn_ptr[col + 1]; q++)
            s[rk->knn_idx[q]] = rk->knn_w[q];
        any = true;
    } else if (rk->content_ptr && rk->content_ptr[col + 1] > rk->content_ptr[col]) {
        for (uint32_t j = 0; j < rk->n; j++) {
            float d = 0;
            uint64_t a = rk->content_ptr[col], az = rk->content_ptr[col + 1];
            uint64_t b = rk->content_ptr[j], bz = rk->content_ptr[j + 1];
            while (a < az && b < bz) {
                if (rk->content_idx[a] == rk->content_idx[b])
                    d += rk->content_w[a++] * rk->content_w[b++];
                else if (rk->content_idx[a] < rk->content_idx[b])
                    a++;
                else
                    b++;
            }
            if (d > 0)
                s[j] = d;
        }
        any = true;
    } else if (rk->Y) {
        const float *y = rk->Y + (size_t)col * (size_t)rk->factors;
        for (uint32_t j = 0; j < rk->n; j++) {
            const float *z = rk->Y + (size_t)j * (size_t)rk->factors;
            float d = 0;
            for (int f = 0; f < rk->factors; f++)
                d += y[f] * z[f];
            s[j] = d;
        }
        any = true;
    }
    if (!any)
        return;
    s[col] = -INFINITY;
    MQ_VEC_RESERVE(&ws->order, want + 1);
    size_t got = mq_topk(s, rk->n, want, ws->order.items, NULL);
    for (size_t i = 0; i < got; i++)
        if (!rk_excluded(rk, ws, ws->order.items[i]) &&
            !rk_too_mature(rk, &ws->ctx, ws->order.items[i]))
            add_cand(ws, ws->order.items[i]);
}

long mq_rank_similar(const mq_ranker *rk, uint32_t col, const mq_state_view *v,
                     const mq_rank_context *ctx, const mq_rank_settings *s, mq_rank_ws *ws,
                     mq_ranked *out, size_t k, mq_err *err) {
    mq_rank_settings dflt;
    if (!s) {
        mq_rank_settings_default(&dflt);
        s = &dflt;
    }
    if (col >= rk->n)
        return 0;
    ws->cand.len = 0;
    if (rk_prepare(rk, v, ctx, s, ws, err)) {
        rk_finish(ws);
        return -1;
    }
    /* The most similar titles first; the profile's ranking orders them. */
    neighbours(rk, ws, col, MQ_MAX(k * 3, (size_t)30));
    build_x(rk, ws);
    rk_score_candidates(rk, ws);
    size_t m = ws->cand.len;
    MQ_VEC_RESERVE(&ws->order, m + 1);
    size_t got = mq_topk(ws->out_score.items, (uint32_t)m, MQ_MIN(k, m), ws->order.items, NULL);
    for (size_t i = 0; i < got; i++)
        fill_out(rk, ws, s, ws->order.items[i], &out[i]);
    rk_finish(ws);
    return (long)got;
}

const float *mq_rank_ws_features(const mq_rank_ws *ws, size_t i, uint32_t *col) {
    if (i >= ws->cand.len)
        return NULL;
    if (col)
        *col = ws->cand.items[i];
    return ws->x.items + i * MQ_RF_COUNT;
}
