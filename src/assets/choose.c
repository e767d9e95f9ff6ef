/* choose.c: requests out. Every slot's score of variant a is linear in its tags,
 * score(a) = sum over tags j of a of (w_j + aff u_j), with w_j = sum_k c_k
 * theta[k, j] + theta_phi phi_j for the request's context c and personal terms
 * phi, u_j = theta[aff, j] the weight of the tag's cross with the profile-title
 * affinity aff. So a request first folds the context into w and u once per slot
 * (mq_assets_prepare: for the posterior mean, and for each of the K draws of the
 * Thompson bank), and a title then costs its affinity (a few products) and a
 * few additions per variant and draw.
 *
 * Thompson sampling here draws one of the K posterior draws made at the last
 * refresh and shows the variant that draw scores highest. So the probability of
 * each variant is exactly the share of the K draws under which it wins, which is
 * what is logged as its propensity (mixed with epsilon-uniform exploration), and
 * the propensities of a title's variants sum to 1 by construction. */
#include "assets_impl.h"

#include <math.h>
#include <string.h>

#define LANES 8

/* The entries of column j of the map from model features to the tag weight w_j:
 * (k V + j, c_k) for every non-zero context feature, and (phi, phi_j). */
static int column(const slot_model *m, const float *c, const int *nz, int nnz, const float *phi,
                  const float *ea, int j, int *idx, double *val) {
    int n = 0;
    for (int q = 0; q < nnz; q++) {
        idx[n] = nz[q] * m->V + j;
        val[n++] = c[nz[q]];
    }
    idx[n] = m->i_phi;
    val[n++] = phi[j];
    idx[n] = m->i_ed;
    val[n++] = ea[j];
    return n;
}

void mq_assets_prepare(const mq_assets *a, mq_asset_context *ctx) {
    const profile_rec *pr = assets_profile_c(a, ctx->profile_id);
    float c[1 + MQ_ASSETS_MAX_TASTE + 8];
    features_context(a, pr, ctx->device, ctx->weekday, ctx->hour, c);
    memcpy(ctx->prep.taste, c + 1, (size_t)a->T * sizeof(float));
    int nz[1 + MQ_ASSETS_MAX_TASTE + 8], nnz = 0;
    for (int k = 0; k < a->C; k++)
        if (c[k] != 0)
            nz[nnz++] = k;
    const int K = a->p.draws;
    for (int s = 0; s < MQ_SLOT_COUNT; s++) {
        const slot_model *m = &a->m[s];
        const int V = m->V, d = m->d;
        float phi[MQ_ASSETS_MAX_TAGS], ea[MQ_ASSETS_MAX_TAGS];
        features_personal(a, pr, s, phi);
        features_editorial(a, pr, s, ea);
        float acc[MQ_ASSETS_MAX_TAGS];
        /* the posterior mean */
        for (int j = 0; j < V; j++)
            acc[j] = m->mean[m->i_phi] * phi[j] + m->mean[m->i_ed] * ea[j];
        for (int q = 0; q < nnz; q++) {
            const float *row = m->mean + (size_t)nz[q] * V, ck = c[nz[q]];
            for (int j = 0; j < V; j++)
                acc[j] += ck * row[j];
        }
        memcpy(ctx->prep.w_mean[s], acc, (size_t)V * sizeof(float));
        memcpy(ctx->prep.u_mean[s], m->mean + m->i_aff, (size_t)V * sizeof(float));
        /* each draw of the bank */
        for (int k = 0; k < K; k++) {
            const float *theta = m->bank + (size_t)k * d;
            for (int j = 0; j < V; j++)
                acc[j] = theta[m->i_phi] * phi[j] + theta[m->i_ed] * ea[j];
            for (int q = 0; q < nnz; q++) {
                const float *row = theta + (size_t)nz[q] * V, ck = c[nz[q]];
                for (int j = 0; j < V; j++)
                    acc[j] += ck * row[j];
            }
            for (int j = 0; j < V; j++) {
                ctx->prep.w[s][j][k] = acc[j];
                ctx->prep.u[s][j][k] = theta[m->i_aff + j];
            }
        }
        for (int k = K; k < (K + LANES - 1) / LANES * LANES; k++)
            for (int j = 0; j < V; j++)
                ctx->prep.w[s][j][k] = ctx->prep.u[s][j][k] = 0;
        memset(ctx->prep.w[s][NO_TAG], 0, sizeof ctx->prep.w[s][NO_TAG]);
        memset(ctx->prep.u[s][NO_TAG], 0, sizeof ctx->prep.u[s][NO_TAG]);
        /* LinUCB: (w, u) = (M, E) theta for the request's map M and the selector E
         * of the affinity crosses, so their covariances are M S M', M S E' and
         * E S E' (S the posterior covariance), and a variant's width is
         * t' (Cww + aff (Cwu + Cwu') + aff^2 Cuu) t. */
        if (a->p.policy == MQ_APOL_LINUCB && m->have_cov) {
            int ia[1 + MQ_ASSETS_MAX_TASTE + 10], ib[1 + MQ_ASSETS_MAX_TASTE + 10];
            double va[1 + MQ_ASSETS_MAX_TASTE + 10], vb[1 + MQ_ASSETS_MAX_TASTE + 10];
            for (int j = 0; j < V; j++) {
                int na = column(m, c, nz, nnz, phi, ea, j, ia, va);
                for (int j2 = 0; j2 < V; j2++) {
                    double wu = 0;
                    for (int e = 0; e < na; e++)
                        wu += va[e] * m->cov[(size_t)ia[e] * d + m->i_aff + j2];
                    ctx->prep.cov_wu[s][j][j2] = (float)wu;
                    ctx->prep.cov_uu[s][j][j2] =
                        (float)m->cov[(size_t)(m->i_aff + j) * d + m->i_aff + j2];
                    if (j2 < j)
                        continue;
                    int nb = column(m, c, nz, nnz, phi, ea, j2, ib, vb);
                    double ww = 0;
                    for (int e = 0; e < na; e++) {
                        const double *row = m->cov + (size_t)ia[e] * d;
                        double inner = 0;
                        for (int f = 0; f < nb; f++)
                            inner += vb[f] * row[ib[f]];
                        ww += va[e] * inner;
                    }
                    ctx->prep.cov_ww[s][j][j2] = ctx->prep.cov_ww[s][j2][j] = (float)ww;
                }
            }
        }
    }
    ctx->prep.version = mq_assets_version(a);
    ctx->prep.n_draws = K;
    ctx->prep.share[0] = 0;
    for (int c = 1; c <= K && c <= MQ_ASSETS_MAX_DRAWS; c++)
        ctx->prep.share[c] = ctx->prep.share[c - 1] + 1.0 / K;
    ctx->prep.ready = true;
}

/* ---------------------------------------------------------- distribution ---- */

/* Thompson sampling's per-title work: under each of the KB draws (a compile-time
 * width, the lanes past the bank's size being zero and ignored), the variant
 * with the highest score sum over its tags of (w + aff u), first wins ties.
 * Branch-free loops of constant length, so that the compiler vectorizes them:
 * this is the per-title cost of a page. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
/* AVX-512 and AVX2 clones, picked at load time by what the CPU has (lanes are
 * independent and nothing is contracted, so every clone gives the same bits) */
#define TS_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define TS_CLONES
#endif
/* Sixteen lanes as one value, which the compiler keeps in registers (one AVX-512
 * register, two AVX2 ones, four SSE ones), where arrays of lanes went through
 * the stack between the steps. */
typedef float ts_v16 __attribute__((vector_size(64)));
typedef int32_t ts_i16 __attribute__((vector_size(64)));

#define TS_ARGMAX(KB)                                                                              \
    TS_CLONES static void ts_argmax##KB(const float(*w)[MQ_ASSETS_MAX_DRAWS],                      \
                                        const float(*u)[MQ_ASSETS_MAX_DRAWS],                      \
                                        const vtags *v, int n, int nt, float aff, float *argf) {   \
        enum { NV = KB / 16 };                                                                     \
        const ts_i16 one = (ts_i16)((ts_v16){0} + 1.0f);                                           \
        ts_v16 best[NV] = {{0}}, arg[NV] = {{0}}, acc[NV];                                         \
        for (int i = 0; i < n; i++) {                                                              \
            for (int b = 0; b < NV; b++)                                                           \
                acc[b] = (ts_v16){0};                                                              \
            for (int q = 0; q < nt; q++) {                                                         \
                const float *wj = w[v[i].tag[q]], *uj = u[v[i].tag[q]];                            \
                for (int b = 0; b < NV; b++) {                                                     \
                    ts_v16 wv, uv;                                                                 \
                    memcpy(&wv, wj + 16 * b, sizeof wv);                                           \
                    memcpy(&uv, uj + 16 * b, sizeof uv);                                           \
                    acc[b] += wv + aff * uv;                                                       \
                }                                                                                  \
            }                                                                                      \
            if (i == 0) {                                                                          \
                for (int b = 0; b < NV; b++) {                                                     \
                    best[b] = acc[b];                                                              \
                    arg[b] = (ts_v16){0};                                                          \
                }                                                                                  \
                continue;                                                                          \
            }                                                                                      \
            const float fi = (float)i;                                                             \
            for (int b = 0; b < NV; b++) {                                                         \
                /* 1.0 where the variant beats the best so far, else +0.0 */                       \
                ts_v16 gt = (ts_v16)((acc[b] > best[b]) & one);                                    \
                arg[b] += gt * (fi - arg[b]);                                                      \
                best[b] += gt * (acc[b] - best[b]);                                                \
            }                                                                                      \
        }                                                                                          \
        memcpy(argf, arg, sizeof arg);                                                             \
    }
TS_ARGMAX(16)
TS_ARGMAX(32)
TS_ARGMAX(64)

/* How many of the K draws each of the n variants wins (argf from ts_argmax, KB
 * lanes, those past K zero): a compare per lane, of constant length to
 * vectorize. */
#define TS_COUNT(KB)                                                                               \
    TS_CLONES static void ts_count##KB(const float *argf, int K, int n, int *cnt) {                \
        for (int i = 0; i < n; i++) {                                                              \
            int c = 0;                                                                             \
            const float fi = (float)i;                                                             \
            for (int k = 0; k < KB; k++)                                                           \
                c += (argf[k] == fi) & (k < K);                                                    \
            cnt[i] = c;                                                                            \
        }                                                                                          \
    }
TS_COUNT(16)
TS_COUNT(32)
TS_COUNT(64)

static int argmax(const double *v, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

/* How a slot's distribution is kept (mq_asset_dists): pol[i] is 1 for variant
 * `sure` and 0 for the others, 1 / n, or the context's share of wins[i] draws. */
enum { FORM_SURE, FORM_UNIFORM, FORM_WINS };

static mq_asset_reason sure(mq_asset_slot_dist *o, int variant, mq_asset_reason why) {
    o->form = FORM_SURE;
    o->sure = (uint8_t)variant;
    return why;
}

/* The distribution o as probabilities: pol[i] for i < n. */
static void expand(const mq_asset_slot_dist *o, const double *share, int n, double *pol) {
    for (int i = 0; i < n; i++)
        pol[i] = o->form == FORM_SURE      ? (i == o->sure ? 1 : 0)
                 : o->form == FORM_UNIFORM ? 1.0 / n
                                           : share[o->wins[i]];
}

/* The policy's distribution over the n variants (before exploration is mixed in)
 * into o; returns the reason of a deterministic rule (pinned, cold), else
 * MQ_ASSET_POLICY. */
static mq_asset_reason policy_dist(const mq_assets *a, const mq_asset_context *ctx,
                                   const title_info *ti, int s, float aff, mq_asset_slot_dist *o) {
    const slot_model *m = &a->m[s];
    const int n = ti->s[s].n;
    const variant_info *v = slot_variants(a, ti, s);
    if (s == MQ_SLOT_ARTWORK && a->p.stable && ctx->profile_id && a->pins.n &&
        assets_pin_maybe(a, ctx->profile_id, (uint32_t)(ti - a->titles.items))) {
        int pv = mq_assets_pinned(a, ctx->profile_id, ti - a->titles.items);
        if (pv >= 0 && pv < n)
            return sure(o, pv, MQ_ASSET_PINNED);
    }
    if (a->p.policy == MQ_APOL_UNIFORM) {
        o->form = FORM_UNIFORM;
        return MQ_ASSET_POLICY;
    }
    if (a->p.policy == MQ_APOL_DEFAULT)
        return sure(o, 0, MQ_ASSET_POLICY);
    if (ti->s[s].imp < (uint32_t)a->p.cold_impressions)
        return sure(o, 0, MQ_ASSET_COLD);
    double sc[MQ_ASSETS_MAX_VARIANTS];
    switch (a->p.policy) {
    case MQ_APOL_THOMPSON: {
        const int K = ctx->prep.n_draws;
        const vtags *tg = slot_tags(a, ti, s);
        float argf[MQ_ASSETS_MAX_DRAWS]; /* the first KB lanes written, and read */
        int cnt[MQ_ASSETS_MAX_VARIANTS];
        if (K <= 16) {
            ts_argmax16(ctx->prep.w[s], ctx->prep.u[s], tg, n, m->pack_tags, aff, argf);
            ts_count16(argf, K, n, cnt);
        } else if (K <= 32) {
            ts_argmax32(ctx->prep.w[s], ctx->prep.u[s], tg, n, m->pack_tags, aff, argf);
            ts_count32(argf, K, n, cnt);
        } else {
            ts_argmax64(ctx->prep.w[s], ctx->prep.u[s], tg, n, m->pack_tags, aff, argf);
            ts_count64(argf, K, n, cnt);
        }
        /* Each variant's share of the draws it wins, counted per variant: adding
         * 1/K into pol[argf[k]] draw by draw made each addition wait for the
         * previous one, at every title and slot of a page. The share of c draws
         * is 1/K added c times, as those additions summed it (expand). */
        o->form = FORM_WINS;
        for (int i = 0; i < n; i++)
            o->wins[i] = (uint8_t)cnt[i];
        return MQ_ASSET_POLICY;
    }
    case MQ_APOL_LINUCB:
    case MQ_APOL_GREEDY:
        for (int i = 0; i < n; i++) {
            double mean = 0, var = 0;
            for (int q = 0; q < v[i].ntags; q++) {
                int t1 = v[i].tag[q];
                mean += ctx->prep.w_mean[s][t1] + aff * ctx->prep.u_mean[s][t1];
                if (a->p.policy == MQ_APOL_LINUCB)
                    for (int q2 = 0; q2 < v[i].ntags; q2++) {
                        int t2 = v[i].tag[q2];
                        var += ctx->prep.cov_ww[s][t1][t2] +
                               aff * (ctx->prep.cov_wu[s][t1][t2] + ctx->prep.cov_wu[s][t2][t1]) +
                               aff * aff * ctx->prep.cov_uu[s][t1][t2];
                    }
            }
            sc[i] =
                mean + (a->p.policy == MQ_APOL_LINUCB && var > 0 ? a->p.ucb_alpha * sqrt(var) : 0);
        }
        return sure(o, argmax(sc, n), MQ_ASSET_POLICY);
    case MQ_APOL_TITLE: {
        /* The variant's own take rate, shrunk toward the overall one; ignores who
         * is asking. */
        double k = a->p.personal_prior, g = (m->reward_sum + 1.0) / ((double)m->updates + 2.0);
        for (int i = 0; i < n; i++) {
            size_t o = ti->s[s].off + (size_t)i;
            sc[i] = (m->var_rew.items[o] + k * g) / (m->var_imp.items[o] + k);
        }
        return sure(o, argmax(sc, n), MQ_ASSET_POLICY);
    }
    default:
        return sure(o, 0, MQ_ASSET_POLICY);
    }
}

/* The mixture with epsilon-uniform exploration (pinned choices are not mixed). */
static mq_asset_reason full_dist(const mq_assets *a, const mq_asset_context *ctx,
                                 const title_info *ti, int s, float aff, double *probs,
                                 double *pol) {
    const int n = ti->s[s].n;
    mq_asset_slot_dist o;
    mq_asset_reason why = policy_dist(a, ctx, ti, s, aff, &o);
    expand(&o, ctx->prep.share, n, pol);
    double eps = why == MQ_ASSET_PINNED ? 0 : a->p.epsilon;
    for (int i = 0; i < n; i++)
        probs[i] = (1 - eps) * pol[i] + eps / n;
    return why;
}

int mq_assets_distribution(const mq_assets *a, const mq_asset_context *ctx, const mq_title *t,
                           mq_asset_slot slot, double *probs) {
    const title_info *ti = features_title(a, t->id);
    if ((unsigned)slot >= MQ_SLOT_COUNT || !ti || !ti->s[slot].n || !ctx->prep.ready)
        return 0;
    double pol[MQ_ASSETS_MAX_VARIANTS];
    full_dist(a, ctx, ti, slot, (float)features_affinity_n(ctx->prep.taste, ti), probs, pol);
    return ti->s[slot].n;
}

/* One title's distributions, its descriptors hopefully in cache already. */
static void dists_one(const mq_assets *a, const mq_asset_context *ctx, const title_info *ti,
                      mq_asset_dists *out) {
    out->ti = ti;
    out->share = ctx->prep.share;
    if (!ti)
        return;
    /* how well the title suits the profile: crossed with every tag */
    const float aff = (float)features_affinity_n(ctx->prep.taste, ti);
    for (int s = 0; s < MQ_SLOT_COUNT; s++) {
        out->s[s].n = ti->s[s].n;
        if (out->s[s].n)
            out->s[s].why = (uint8_t)policy_dist(a, ctx, ti, s, aff, &out->s[s]);
    }
}

int mq_assets_dists_n(const mq_assets *a, const mq_asset_context *ctx, const uint32_t *ids,
                      size_t n, mq_asset_dists *const *out) {
    for (size_t i = 0; i < n; i++)
        out[i]->ti = NULL;
    if (!ctx->prep.ready)
        return MQ_EINVAL;
    /* A page's titles are scattered over a table of 144-byte descriptors and
     * their packed variant tags: taken one at a time, each title waited for
     * both. Asked for together, the misses overlap. (The first 64 bytes of the
     * tags are 16 variants, a title's usual count; asking for the rest would need
     * the descriptor.) */
    for (size_t i = 0; i < n; i++)
        if (ids[i] < a->titles.len) {
            mq_prefetch(&a->titles.items[ids[i]], sizeof(title_info));
            mq_prefetch(&a->packs.items[(size_t)ids[i] * PACK_STRIDE], 64);
        }
    for (size_t i = 0; i < n; i++)
        dists_one(a, ctx, features_title(a, ids[i]), out[i]);
    return MQ_OK;
}

int mq_assets_dists(const mq_assets *a, const mq_asset_context *ctx, uint32_t title_id,
                    mq_asset_dists *out) {
    return mq_assets_dists_n(a, ctx, &title_id, 1, &out);
}

static void draw(const mq_assets *a, const mq_asset_dists *d, const mq_title *t, mq_rng *rng,
                 bool ids, mq_asset_choice *out) {
    memset(out, 0, sizeof *out);
    for (int s = 0; s < MQ_SLOT_COUNT; s++)
        out->slot[s].variant = NO_VARIANT;
    const title_info *ti = d->ti;
    for (int s = 0; s < MQ_SLOT_COUNT; s++) {
        mq_asset_pick *pk = &out->slot[s];
        if (!ti) {
            /* A title the model has not been given yet: its editorial default. */
            uint32_t n = s == MQ_SLOT_ARTWORK    ? t->n_artwork
                         : s == MQ_SLOT_SYNOPSIS ? t->n_synopses
                                                 : t->labels.n;
            if (n) {
                pk->variant = 0;
                if (ids)
                    pk->id = s == MQ_SLOT_ARTWORK    ? t->artwork[0].id
                             : s == MQ_SLOT_SYNOPSIS ? t->synopses[0].id
                                                     : t->labels.items[0];
                pk->propensity = 1;
                pk->reason = MQ_ASSET_COLD;
            }
            continue;
        }
        const int n = d->s[s].n;
        if (!n)
            continue;
        double pol[MQ_ASSETS_MAX_VARIANTS];
        expand(&d->s[s], d->share, n, pol);
        mq_asset_reason why = (mq_asset_reason)d->s[s].why;
        /* the mixture with epsilon-uniform exploration, as full_dist */
        double eps = why == MQ_ASSET_PINNED ? 0 : a->p.epsilon;
        int pick;
        if (why != MQ_ASSET_PINNED && mq_rng_unif(rng) < a->p.epsilon) {
            pick = (int)mq_rng_below(rng, (uint32_t)n);
            /* Exploration that lands on the policy's own sure choice is still the
             * policy's choice; the propensity is the same either way. */
            pk->reason = pol[pick] >= 1 ? why : MQ_ASSET_EXPLORE;
        } else {
            /* The first variant whose cumulative probability passes u: the
             * sums never decrease, so it is the count of those that do not
             * (counted without a branch to mispredict, as the walk did). */
            double u = mq_rng_unif(rng), acc = 0;
            pick = 0;
            for (int i = 0; i < n; i++) {
                acc += pol[i];
                pick += acc <= u;
            }
            pick = MQ_MIN(pick, n - 1);
            while (pol[pick] <= 0 && pick > 0) /* rounding at the end of the CDF */
                pick--;
            pk->reason = why;
        }
        pk->variant = pick;
        if (ids)
            pk->id = slot_variants(a, ti, s)[pick].id;
        pk->propensity = (1 - eps) * pol[pick] + eps / n;
    }
}

void mq_assets_draw(const mq_assets *a, const mq_asset_dists *d, const mq_title *t, mq_rng *rng,
                    mq_asset_choice *out) {
    draw(a, d, t, rng, true, out);
}

void mq_assets_draw_variants(const mq_assets *a, const mq_asset_dists *d, const mq_title *t,
                             mq_rng *rng, mq_asset_choice *out) {
    draw(a, d, t, rng, false, out);
}

int mq_assets_choose(const mq_assets *a, const mq_asset_context *ctx, const mq_title *t,
                     mq_rng *rng, mq_asset_choice *out) {
    mq_asset_dists d;
    if (mq_assets_dists(a, ctx, t->id, &d) != MQ_OK) {
        memset(out, 0, sizeof *out);
        for (int s = 0; s < MQ_SLOT_COUNT; s++)
            out->slot[s].variant = NO_VARIANT;
        return MQ_EINVAL;
    }
    mq_assets_draw(a, &d, t, rng, out);
    return MQ_OK;
}

/* ------------------------------------------------------------------- URLs ---- */

size_t mq_assets_url(const mq_assets *a, const mq_title *t, const char *asset_id, char *out,
                     size_t n) {
    return mq_asset_url_format(a->url_template, t ? t->ext_id : NULL, asset_id, out, n);
}

size_t mq_asset_url_format(const char *tmpl, const char *title, const char *asset_id, char *out,
                           size_t n) {
    size_t len = 0;
    for (const char *p = tmpl; *p; p++) {
        const char *rep = NULL;
        if (strncmp(p, "{id}", 4) == 0) {
            rep = asset_id ? asset_id : "";
            p += 3;
        } else if (strncmp(p, "{title}", 7) == 0) {
            rep = title ? title : "";
            p += 6;
        }
        if (rep) {
            for (; *rep; rep++, len++)
                if (len + 1 < n)
                    out[len] = *rep;
        } else {
            if (len + 1 < n)
                out[len] = *p;
            len++;
        }
    }
    if (n)
        out[len < n ? len : n - 1] = '\0';
    return len;
}
