/* titles.c: what the features need to know about titles that the candidate
 * models do not keep: when a title joined the catalogue, its year, runtime,
 * maturity, kind and genres (one 32-byte record per bundle column, section
 * "rk_titles", genre names in the metadata "rank_vocab"), and which titles are
 * popular in each country (the top RK_COUNTRY_TOP titles of each of the most
 * active countries by recency-weighted plays, section "rk_country"). */
#include "rank_impl.h"

#include <stdlib.h>

typedef struct {
    mq_bundle *b;
    rk_title *t;
    mq_strmap *genres;
    json_t *gnames;
    char **names; /* per column */
} title_ctx;

static int on_title(void *ud, const mq_title *t) {
    title_ctx *c = ud;
    uint32_t col = mq_bundle_col(c->b, t->id);
    if (col == UINT32_MAX)
        return 0;
    rk_title *r = &c->t[col];
    mq_free(c->names[col]);
    c->names[col] = mq_strdup(t->name && *t->name ? t->name : t->ext_id);
    r->added_ms = t->added_ms;
    r->runtime = (float)t->runtime_min;
    r->year = (uint16_t)(t->year > 0 && t->year < 65535 ? t->year : 0);
    r->maturity = (uint8_t)(t->maturity >= 0 && t->maturity <= 18 ? t->maturity : 0);
    r->kind = (uint8_t)t->kind;
    int k = 0;
    for (uint32_t g = 0; g < t->genres.n && k < RK_TITLE_GENRES; g++) {
        uint32_t id;
        if (!mq_strmap_get(c->genres, t->genres.items[g], &id)) {
            if (json_array_size(c->gnames) >= RK_MAX_GENRES)
                continue;
            id = (uint32_t)json_array_size(c->gnames) + 1;
            mq_strmap_put(c->genres, t->genres.items[g], id);
            json_array_append_new(c->gnames, json_string(t->genres.items[g]));
        }
        r->genre[k++] = (uint8_t)id;
    }
    return 0;
}

typedef struct {
    mq_bundle *b;
    const uint8_t *pcountry; /* profile id -> country index + 1 */
    uint32_t pcountry_len;
    float *counts;           /* countries x n */
    float *shown, *clicks;   /* impressions and clicks per column */
    uint32_t n;
    int64_t to_ms, newest;
    double half_life_ms;
} pop_ctx;

static int on_play(void *ud, const mq_event *e) {
    pop_ctx *c = ud;
    if (c->to_ms && e->ts_ms >= c->to_ms)
        return 0;
    if (e->type == MQ_EV_IMPRESSION || e->type == MQ_EV_CLICK) {
        uint32_t col = mq_bundle_col(c->b, e->title_id);
        if (col != UINT32_MAX)
            (e->type == MQ_EV_CLICK ? c->clicks : c->shown)[col] += 1;
        return 0;
    }
    if (e->type != MQ_EV_PLAY_START && e->type != MQ_EV_RATING)
        return 0;
    if (e->profile_id >= c->pcountry_len || !c->pcountry[e->profile_id])
        return 0;
    uint32_t col = mq_bundle_col(c->b, e->title_id);
    if (col == UINT32_MAX)
        return 0;
    /* Weighted by recency against a fixed reference, renormalized at the end. */
    double w = exp2((double)(e->ts_ms - c->newest) / c->half_life_ms);
    c->counts[(size_t)(c->pcountry[e->profile_id] - 1) * c->n + col] += (float)w;
    return 0;
}

typedef struct {
    mq_strmap *map;
    json_t *names;
    MQ_VEC(uint8_t) pc;
    MQ_VEC(uint32_t) per;
} prof_ctx;

static int on_profile(void *ud, const mq_profile *p) {
    prof_ctx *c = ud;
    while (c->pc.len <= p->id)
        MQ_VEC_PUSH(&c->pc, 0);
    if (!p->country[0])
        return 0;
    uint32_t id;
    if (!mq_strmap_get(c->map, p->country, &id)) {
        if (json_array_size(c->names) >= RK_MAX_COUNTRIES)
            return 0;
        id = (uint32_t)json_array_size(c->names) + 1;
        mq_strmap_put(c->map, p->country, id);
        json_array_append_new(c->names, json_string(p->country));
    }
    c->pc.items[p->id] = (uint8_t)id;
    return 0;
}

int mq_rank_add_titles(mq_store *s, mq_bundle *b, int64_t to_ms, mq_err *err) {
    uint32_t n = mq_bundle_n_titles(b);
    title_ctx tc = {b, mq_calloc(n ? n : 1, sizeof(rk_title)), mq_strmap_create(), json_array(),
                    mq_calloc(n ? n : 1, sizeof(char *))};
    prof_ctx pc = {mq_strmap_create(), json_array(), {0}, {0}};
    float *counts = NULL, *shown = NULL, *clicks = NULL;
    uint32_t *top = NULL;
    int rc = mq_store_each_title(s, on_title, &tc, err);
    if (rc)
        goto out;
    {
        mq_buf nb;
        mq_buf_init(&nb, 0);
        uint32_t *off = mq_malloc((n ? n : 1) * sizeof *off);
        for (uint32_t c = 0; c < n; c++) {
            off[c] = (uint32_t)nb.len;
            const char *nm = tc.names[c] ? tc.names[c] : mq_bundle_title_ext(b, c);
            mq_buf_append(&nb, nm ? nm : "", strlen(nm ? nm : "") + 1);
        }
        mq_bundle_add_section(b, RK_SEC_NAMES, nb.data ? nb.data : "", nb.len ? nb.len : 1);
        mq_bundle_add_section(b, RK_SEC_NAME_OFF, off, (size_t)n * sizeof *off);
        mq_free(off);
        mq_buf_free(&nb);
    }
    if ((rc = mq_store_each_profile(s, on_profile, &pc, err)))
        goto out;
    size_t nc = json_array_size(pc.names);
    mq_store_stats st;
    if ((rc = mq_store_stats_get(s, &st, err)))
        goto out;
    counts = mq_calloc(nc * n + 1, sizeof *counts);
    shown = mq_calloc(n + 1, sizeof *shown);
    clicks = mq_calloc(n + 1, sizeof *clicks);
    pop_ctx p = {b, pc.pc.items, (uint32_t)pc.pc.len, counts, shown, clicks, n, to_ms,
                 to_ms ? to_ms : st.last_ts_ms, 30 * 86400000.0};
    mq_event_filter f = MQ_EVENT_FILTER_ALL;
    if (to_ms)
        f.to_ms = to_ms;
    if ((rc = mq_store_each_event(s, &f, on_play, &p, err)))
        goto out;
    /* Take rates, shrunk toward the catalogue's by 20 pseudo-impressions. */
    double ts = 0, tcl = 0;
    for (uint32_t j = 0; j < n; j++) {
        ts += shown[j];
        tcl += clicks[j];
    }
    double prior = ts > 0 ? tcl / ts : 0;
    for (uint32_t j = 0; j < n; j++) {
        tc.t[j].take_rate = (float)((clicks[j] + 20 * prior) / (shown[j] + 20));
        tc.t[j].impressions = shown[j];
    }
    mq_bundle_add_section(b, RK_SEC_TITLES, tc.t, (size_t)n * sizeof(rk_title));
    if (nc && n) {
        top = mq_malloc(nc * RK_COUNTRY_TOP * sizeof *top);
        uint32_t *cols = mq_malloc(RK_COUNTRY_TOP * sizeof *cols);
        for (size_t c = 0; c < nc; c++) {
            float *row = counts + c * n;
            for (uint32_t j = 0; j < n; j++)
                if (!(row[j] > 0))
                    row[j] = -INFINITY;
            size_t got = mq_topk(row, n, RK_COUNTRY_TOP, cols, NULL);
            for (size_t i = 0; i < RK_COUNTRY_TOP; i++)
                top[c * RK_COUNTRY_TOP + i] = i < got ? cols[i] : UINT32_MAX;
        }
        mq_free(cols);
        mq_bundle_add_section(b, RK_SEC_COUNTRY, top, nc * RK_COUNTRY_TOP * sizeof *top);
    }
    mq_bundle_meta_set(b, RK_META_VOCAB,
                       json_pack("{s:O, s:O}", "genres", tc.gnames, "countries", pc.names));
out:
    mq_free(top);
    mq_free(counts);
    mq_free(shown);
    mq_free(clicks);
    mq_free(tc.t);
    for (uint32_t c = 0; c < n; c++)
        mq_free(tc.names[c]);
    mq_free(tc.names);
    mq_strmap_destroy(tc.genres);
    json_decref(tc.gnames);
    mq_strmap_destroy(pc.map);
    json_decref(pc.names);
    mq_free(pc.pc.items);
    mq_free(pc.per.items);
    return rc;
}

int rk_country_index(const mq_ranker *rk, const char *country) {
    if (!country || !*country)
        return -1;
    for (int i = 0; i < rk->n_countries; i++)
        if (strcmp(rk->countries[i], country) == 0)
            return i;
    return -1;
}
