/* truth.c: the ground truth of a world as one compact JSON document
 * (DATA_DIR/ground_truth.json and the store blob "ground_truth"): the parameters
 * and formulas of the behaviour model, the themes and artwork styles, every
 * title's theme mixture and popularity, and every profile's taste, drift, artwork
 * responses and habits. docs/synthetic-world.md documents the schema. Written by
 * hand rather than through jansson: at the default size it holds about two million
 * numbers, and a fixed "%.6g" keeps it compact and byte-for-byte reproducible. */
#include "sim_impl.h"

#include <stdlib.h>
#include <string.h>

static void num(mq_buf *b, double v) {
    mq_buf_printf(b, "%.6g", v);
}

/* Strings here are generated (ASCII words), but escape anyway. */
static void str(mq_buf *b, const char *s) {
    mq_buf_puts(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            mq_buf_printf(b, "\\%c", c);
        else if (c < 0x20)
            mq_buf_printf(b, "\\u%04x", c);
        else
            mq_buf_append(b, s, 1);
    }
    mq_buf_puts(b, "\"");
}

static void key(mq_buf *b, const char *k) {
    str(b, k);
    mq_buf_puts(b, ":");
}

static void strlist(mq_buf *b, const char *const *items, int n) {
    mq_buf_puts(b, "[");
    for (int i = 0, first = 1; i < n; i++) {
        if (!items[i])
            continue;
        if (!first)
            mq_buf_puts(b, ",");
        first = 0;
        str(b, items[i]);
    }
    mq_buf_puts(b, "]");
}

static const char *audience_name(mq_sim_audience a) {
    return a == MQ_AUD_KIDS ? "kids" : a == MQ_AUD_FAMILY ? "family" : "general";
}

static void write_model(mq_buf *b) {
    static const char *const formulas[][2] = {
        {"tau", "(ts - window.start) / (window.end - window.start), clamped to [0, 1]"},
        {"taste_at", "taste(ts)[k] = (1 - drift * tau) * taste[k] + (k == drift_theme ? drift * "
                     "tau : 0)"},
        {"affinity", "clamp(sum_k taste(ts)[k] * themes(t)[k] / max_k taste(ts)[k] * (1 - "
                     "flavour_weight + flavour_weight * flavour_match) + affinity_noise * z(p, "
                     "t), 0, 1)"},
        {"flavour_match", "sigmoid(2 * sum_f profile.flavour[f] * title.flavour[f] / sqrt(4))"},
        {"pair_noise",
         "z(p, t) = sqrt(-2 ln u1) cos(2 pi u2); h1 = splitmix64(seed ^ splitmix64(p << 32 | t)), "
         "h2 = splitmix64(h1), u1 = ((h1 >> 11) + 0.5) / 2^53, u2 = (h2 >> 11) / 2^53; p and t "
         "are 0-based indices (id number - 1)"},
        {"attraction", "sigmoid(bias + beta_affinity * affinity + beta_popularity * log_pop - "
                       "pos_row * ln(1 + row_pos) - pos_col * ln(1 + col_pos) + "
                       "artwork_response[style of the shown variant] + context effects); 0 "
                       "above the profile's maturity limit"},
        {"browsing", "rows top to bottom, titles left to right; after a title that did not "
                     "attract, look at the next with probability browse_along; after a row, "
                     "leave with probability browse_leave; click the first title that attracts"},
        {"abandon", "P(early abandon) = sigmoid(abandon_bias - abandon_affinity * affinity), "
                    "halved for a resumed play"},
        {"complete", "P(complete | not abandoned) = sigmoid(complete_bias + complete_affinity * "
                     "affinity - (phone and runtime_min > 90 ? phone_long_penalty : 0))"},
        {"thumbs", "P(rating) = thumbs_rate; P(up | rating) = sigmoid(thumbs_slope * (affinity "
                   "- 0.5))"},
        {"binge", "P(autoplay next episode | episode complete) = min(0.95, binge_rate + 0.4 * "
                  "affinity)"},
    };
    mq_buf_puts(b, "{");
    for (size_t i = 0; i < MQ_ARRAY_LEN(formulas); i++) {
        if (i)
            mq_buf_puts(b, ",");
        key(b, formulas[i][0]);
        str(b, formulas[i][1]);
    }
    mq_buf_puts(b, "}");
}

static void write_params(mq_buf *b, const mq_world_params *p) {
    json_t *o = mq_world_params_to_json(p);
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
    mq_buf_puts(b, s);
    free(s);
    json_decref(o);
}

static void write_titles(mq_buf *b, const mq_world *w) {
    mq_buf_puts(b, "[");
    for (uint32_t t = 0; t < w->n_titles; t++) {
        const sim_title *st = &w->tt[t];
        const mq_title *ct = &w->titles[t];
        mq_buf_puts(b, t ? ",\n{" : "\n{");
        key(b, "id");
        str(b, ct->ext_id);
        mq_buf_puts(b, ",");
        key(b, "themes");
        mq_buf_puts(b, "{");
        for (int i = 0; i < st->n_themes; i++) {
            if (i)
                mq_buf_puts(b, ",");
            key(b, mq_sim_theme_name(st->theme[i]));
            num(b, st->weight[i]);
        }
        mq_buf_puts(b, "},");
        key(b, "popularity");
        num(b, st->pop);
        mq_buf_puts(b, ",");
        key(b, "log_pop");
        num(b, st->log_pop);
        mq_buf_puts(b, ",\"flavour\":[");
        for (int f = 0; f < MQ_SIM_N_FLAVOURS; f++) {
            if (f)
                mq_buf_puts(b, ",");
            num(b, st->flavour[f]);
        }
        mq_buf_puts(b, "]");
        mq_buf_printf(b, ",\"family\":%s,\"short\":%s,\"episodes\":%u,\"artwork_styles\":[",
                      st->family ? "true" : "false", st->is_short ? "true" : "false",
                      st->n_episodes);
        for (int a = 0; a < st->n_art; a++) {
            if (a)
                mq_buf_puts(b, ",");
            str(b, mq_sim_style_name(st->style[a]));
        }
        mq_buf_puts(b, "]}");
    }
    mq_buf_puts(b, "]");
}

static void write_profiles(mq_buf *b, const mq_world *w) {
    static const char *const dev[4] = {"tv", "phone", "tablet", "web"};
    mq_buf_puts(b, "[");
    for (uint32_t p = 0; p < w->n_profiles; p++) {
        const sim_profile *sp = &w->pp[p];
        const mq_profile *cp = &w->profiles[p];
        mq_buf_puts(b, p ? ",\n{" : "\n{");
        key(b, "id");
        str(b, cp->ext_id);
        mq_buf_printf(b, ",\"kids\":%s,\"country\":", sp->kids ? "true" : "false");
        str(b, cp->country);
        mq_buf_printf(b, ",\"tz_offset_min\":%d,\"taste\":[", sp->tz_offset_min);
        for (int k = 0; k < mq_sim_n_themes_c; k++) {
            if (k)
                mq_buf_puts(b, ",");
            num(b, sp->taste[k]);
        }
        mq_buf_puts(b, "],\"flavour\":[");
        for (int f = 0; f < MQ_SIM_N_FLAVOURS; f++) {
            if (f)
                mq_buf_puts(b, ",");
            num(b, sp->flavour[f]);
        }
        mq_buf_puts(b, "],");
        key(b, "top_theme");
        str(b, mq_sim_theme_name(sp->top_theme));
        mq_buf_puts(b, ",");
        key(b, "drift_theme");
        str(b, mq_sim_theme_name(sp->drift_theme));
        mq_buf_puts(b, ",");
        key(b, "preferred_style");
        str(b, mq_sim_style_name(sp->pref_style));
        mq_buf_puts(b, ",\"artwork_response\":[");
        for (int s = 0; s < MQ_SIM_N_STYLES; s++) {
            if (s)
                mq_buf_puts(b, ",");
            num(b, mq_world_style_pref(w, p, s));
        }
        mq_buf_puts(b, "],\"devices\":{");
        for (int d = 0; d < 4; d++) {
            if (d)
                mq_buf_puts(b, ",");
            key(b, dev[d]);
            num(b, sp->device_p[d]);
        }
        mq_buf_puts(b, "},\"weekend\":");
        num(b, sp->weekend);
        mq_buf_puts(b, ",\"activity\":");
        num(b, sp->activity);
        mq_buf_puts(b, ",\"active_hours\":[");
        double hs = 0;
        for (int h = 0; h < 24; h++)
            hs += sp->hour_w[h];
        for (int h = 0; h < 24; h++) {
            if (h)
                mq_buf_puts(b, ",");
            num(b, sp->hour_w[h] / hs);
        }
        mq_buf_puts(b, "]}");
    }
    mq_buf_puts(b, "]");
}

char *mq_sim_truth_json(const mq_world *w, size_t *len) {
    mq_buf b;
    mq_buf_init(&b, 0);
    char start[32], end[32];
    mq_time_format_rfc3339(w->start_ms, start, sizeof start);
    mq_time_format_rfc3339(w->end_ms, end, sizeof end);
    mq_buf_printf(&b, "{\"format\":\"marquee-ground-truth\",\"version\":1,\"seed\":%llu,",
                  (unsigned long long)w->p.seed);
    mq_buf_printf(&b, "\"window\":{\"start\":\"%s\",\"end\":\"%s\",\"days\":%u},\n", start, end,
                  w->p.days);
    key(&b, "params");
    write_params(&b, &w->p);
    mq_buf_puts(&b, ",\n");
    key(&b, "model");
    write_model(&b);
    mq_buf_puts(&b, ",\n\"context_effects\":[{\"name\":\"family_weekend_morning_tv\","
                    "\"param\":\"ctx_family_weekend_tv\",\"size\":");
    num(&b, w->p.ctx_family_weekend_tv);
    mq_buf_puts(&b, ",\"titles\":\"family (maturity <= 7)\",\"device\":\"tv\",\"weekdays\":"
                    "[5,6],\"hours\":[7,8,9,10,11]},{\"name\":\"short_on_phone\","
                    "\"param\":\"ctx_short_phone\",\"size\":");
    num(&b, w->p.ctx_short_phone);
    mq_buf_puts(&b, ",\"titles\":\"short (runtime_min <= 60)\",\"device\":\"phone\","
                    "\"weekdays\":[0,1,2,3,4,5,6],\"hours\":[0,1,2,3,4,5,6,7,8,9,10,11,12,13,"
                    "14,15,16,17,18,19,20,21,22,23]}],\n");
    key(&b, "artwork_styles");
    const char *styles[MQ_SIM_N_STYLES];
    for (int s = 0; s < MQ_SIM_N_STYLES; s++)
        styles[s] = mq_sim_style_name(s);
    strlist(&b, styles, MQ_SIM_N_STYLES);
    mq_buf_puts(&b, ",\n");
    key(&b, "flavours");
    const char *fl[MQ_SIM_N_FLAVOURS];
    for (int f = 0; f < MQ_SIM_N_FLAVOURS; f++)
        fl[f] = mq_sim_flavour_name(f);
    strlist(&b, fl, MQ_SIM_N_FLAVOURS);
    mq_buf_puts(&b, ",\n\"themes\":[");
    for (int k = 0; k < mq_sim_n_themes_c; k++) {
        const sim_theme *th = &mq_sim_themes[k];
        mq_buf_puts(&b, k ? ",\n{" : "\n{");
        key(&b, "name");
        str(&b, th->name);
        mq_buf_puts(&b, ",");
        key(&b, "audience");
        str(&b, audience_name(th->audience));
        mq_buf_puts(&b, ",");
        key(&b, "query");
        str(&b, th->query);
        mq_buf_puts(&b, ",");
        key(&b, "artwork_style");
        str(&b, mq_sim_style_name(th->style));
        mq_buf_puts(&b, ",");
        key(&b, "genres");
        strlist(&b, th->genres, 3);
        mq_buf_puts(&b, ",");
        key(&b, "tags");
        strlist(&b, th->tags, 3);
        mq_buf_puts(&b, "}");
    }
    mq_buf_puts(&b, "],\n\"titles\":");
    write_titles(&b, w);
    mq_buf_puts(&b, ",\n\"profiles\":");
    write_profiles(&b, w);
    mq_buf_puts(&b, "}\n");
    *len = b.len;
    return b.data;
}
