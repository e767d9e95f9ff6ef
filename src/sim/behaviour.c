/* behaviour.c: the ground-truth behaviour model, as pure functions of the world,
 * the context and (where a draw is needed) a caller's random stream. The offline
 * generator (generate.c) and a later online simulator showing marquee's own pages
 * call the same functions, so both worlds behave alike.
 *
 * Attraction is a logistic model of one impression, examined by the member (the
 * examination hypothesis of click models, Richardson et al. 2007; Craswell et al.
 * 2008): every term is one stated, configurable effect (docs/synthetic-world.md).
 *
 *   affinity = clamp(taste . themes / max(taste) x (1 - flavour_weight + flavour_weight
 *              x flavour_match) + affinity_noise x z(p, t), 0, 1)
 *   logit = bias + beta_affinity * affinity(p, t, ts) + beta_popularity * z_pop(t)
 *         - pos_row * ln(1 + row) - pos_col * ln(1 + col)
 *         + artwork(p, style of the shown variant) + context(t, device, weekday, hour)
 */
#include "sim_impl.h"

#include <math.h>

static double sigmoid(double x) {
    return 1.0 / (1.0 + exp(-x));
}

/* splitmix64 (Steele, Lea and Flood 2014): the per-pair affinity term must be a
 * pure function of (seed, profile, title), so it is a hash, not a stream draw. */
static uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* A standard normal from the pair's hash (Box-Muller). */
static double pair_normal(uint64_t seed, uint32_t p, uint32_t t) {
    uint64_t h1 = splitmix64(seed ^ splitmix64(((uint64_t)p << 32) | t));
    uint64_t h2 = splitmix64(h1);
    double u1 = ((double)(h1 >> 11) + 0.5) / 9007199254740992.0;
    double u2 = (double)(h2 >> 11) / 9007199254740992.0;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* Fraction of the window elapsed at ts, for taste drift. */
static double window_tau(const mq_world *w, int64_t ts_ms) {
    double tau = (double)(ts_ms - w->start_ms) / (double)(w->end_ms - w->start_ms);
    return tau < 0 ? 0 : tau > 1 ? 1 : tau;
}

void mq_world_taste(const mq_world *w, uint32_t p, int64_t ts_ms, double *out) {
    const sim_profile *sp = &w->pp[p];
    double d = w->p.drift * window_tau(w, ts_ms);
    for (int k = 0; k < mq_sim_n_themes_c; k++)
        out[k] = (1 - d) * sp->taste[k] + (k == sp->drift_theme ? d : 0);
}

double mq_world_style_pref(const mq_world *w, uint32_t p, int s) {
    const sim_profile *sp = &w->pp[p];
    if (s < 0 || s >= MQ_SIM_N_STYLES)
        return 0;
    return s == sp->pref_style ? w->p.art_match : w->p.art_sd * sp->style_pref[s];
}

double mq_world_flavour_match(const mq_world *w, uint32_t p, uint32_t t) {
    double m = 0;
    for (int f = 0; f < MQ_SIM_N_FLAVOURS; f++)
        m += w->pp[p].flavour[f] * w->tt[t].flavour[f];
    return sigmoid(2 * m / sqrt(MQ_SIM_N_FLAVOURS));
}

void mq_sim_context_at(const mq_world *w, uint32_t p, int64_t ts_ms, mq_device device,
                       mq_sim_context *out) {
    out->device = device;
    out->ts_ms = ts_ms;
    mq_time_local(ts_ms, w->pp[p].tz_offset_min, &out->weekday, &out->hour);
}

double mq_behaviour_affinity(const mq_world *w, uint32_t p, uint32_t t, int64_t ts_ms) {
    const sim_profile *sp = &w->pp[p];
    const sim_title *st = &w->tt[t];
    double d = w->p.drift * window_tau(w, ts_ms);
    double dot = 0;
    for (int i = 0; i < st->n_themes; i++) {
        int k = st->theme[i];
        dot += st->weight[i] * ((1 - d) * sp->taste[k] + (k == sp->drift_theme ? d : 0));
    }
    /* Normalized by the largest theme weight, so a pure title of the profile's
     * favourite theme has affinity 1 whatever the taste's concentration. */
    double mx = (1 - d) * sp->taste_max, md = (1 - d) * sp->taste[sp->drift_theme] + d;
    if (md > mx)
        mx = md;
    double a = dot / mx *
               (1 - w->p.flavour_weight + w->p.flavour_weight * mq_world_flavour_match(w, p, t));
    if (w->p.affinity_noise > 0)
        a += w->p.affinity_noise * pair_normal(w->p.seed, p, t);
    return a < 0 ? 0 : a > 1 ? 1 : a;
}

double mq_behaviour_position_term(const mq_world *w, int row_pos, int col_pos) {
    return -w->p.pos_row * log1p(row_pos > 0 ? row_pos : 0) -
           w->p.pos_col * log1p(col_pos > 0 ? col_pos : 0);
}

double mq_behaviour_artwork_term(const mq_world *w, uint32_t p, uint32_t t, int artwork_idx) {
    if (artwork_idx < 0 || artwork_idx >= w->tt[t].n_art)
        return 0;
    return mq_world_style_pref(w, p, w->tt[t].style[artwork_idx]);
}

double mq_behaviour_context_term(const mq_world *w, uint32_t t, const mq_sim_context *ctx) {
    const sim_title *st = &w->tt[t];
    double x = 0;
    if (st->family && ctx->device == MQ_DEVICE_TV && ctx->weekday >= 5 && ctx->hour >= 7 &&
        ctx->hour < 12)
        x += w->p.ctx_family_weekend_tv;
    if (st->is_short && ctx->device == MQ_DEVICE_PHONE)
        x += w->p.ctx_short_phone;
    return x;
}

double mq_behaviour_logit(const mq_world *w, uint32_t p, uint32_t t, int artwork_idx, int row_pos,
                          int col_pos, const mq_sim_context *ctx) {
    if (w->titles[t].maturity > w->profiles[p].maturity_limit)
        return -INFINITY;
    return w->p.bias + w->p.beta_affinity * mq_behaviour_affinity(w, p, t, ctx->ts_ms) +
           w->p.beta_popularity * w->tt[t].log_pop +
           mq_behaviour_position_term(w, row_pos, col_pos) +
           mq_behaviour_artwork_term(w, p, t, artwork_idx) + mq_behaviour_context_term(w, t, ctx);
}

double mq_behaviour_attraction(const mq_world *w, uint32_t p, uint32_t t, int artwork_idx,
                               int row_pos, int col_pos, const mq_sim_context *ctx) {
    double l = mq_behaviour_logit(w, p, t, artwork_idx, row_pos, col_pos, ctx);
    return isinf(l) ? 0 : sigmoid(l);
}

/* ---------------------------------------------------------------- browsing ---- */

double mq_behaviour_browse_along(const mq_world *w, const mq_sim_context *ctx) {
    (void)ctx;
    return w->p.browse_along;
}

double mq_behaviour_browse_leave(const mq_world *w, const mq_sim_context *ctx) {
    (void)ctx;
    return w->p.browse_leave;
}

int mq_behaviour_rows_per_page(mq_device d) {
    return d == MQ_DEVICE_PHONE ? 6 : d == MQ_DEVICE_TABLET ? 7 : 8;
}

int mq_behaviour_visible_cols(mq_device d) {
    return d == MQ_DEVICE_PHONE ? 2 : d == MQ_DEVICE_TABLET ? 4 : 6;
}

/* ---------------------------------------------------------------- watching ---- */

void mq_behaviour_watch(const mq_world *w, uint32_t p, uint32_t t, const mq_sim_context *ctx,
                        double from, mq_rng *rng, mq_sim_watch *out) {
    const mq_world_params *pr = &w->p;
    double a = mq_behaviour_affinity(w, p, t, ctx->ts_ms);
    double rest = 1 - from;
    double p_abandon = sigmoid(pr->abandon_bias - pr->abandon_affinity * a);
    if (from > 0)
        p_abandon *= 0.5; /* a resumed play was already worth coming back to */
    out->abandoned = out->complete = false;
    if (mq_rng_unif(rng) < p_abandon) {
        out->abandoned = true;
        out->to = from + rest * (0.01 + 0.09 * mq_rng_unif(rng));
        return;
    }
    double lc = pr->complete_bias + pr->complete_affinity * a;
    if (ctx->device == MQ_DEVICE_PHONE && w->titles[t].runtime_min > 90)
        lc -= pr->phone_long_penalty;
    if (mq_rng_unif(rng) < sigmoid(lc)) {
        out->complete = true;
        out->to = 1;
        return;
    }
    out->to = from + rest * (0.15 + 0.75 * mq_rng_unif(rng));
}

int mq_behaviour_thumbs(const mq_world *w, uint32_t p, uint32_t t, const mq_sim_context *ctx,
                        const mq_sim_watch *watch, mq_rng *rng) {
    (void)watch;
    if (mq_rng_unif(rng) >= w->p.thumbs_rate)
        return 0;
    double a = mq_behaviour_affinity(w, p, t, ctx->ts_ms);
    return mq_rng_unif(rng) < sigmoid(w->p.thumbs_slope * (a - 0.5)) ? 1 : -1;
}

double mq_behaviour_binge(const mq_world *w, uint32_t p, uint32_t t, const mq_sim_context *ctx) {
    double b = w->p.binge_rate + 0.4 * mq_behaviour_affinity(w, p, t, ctx->ts_ms);
    return b > 0.95 ? 0.95 : b;
}
