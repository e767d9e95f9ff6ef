/* assets_common.c: the pieces both evaluations of the asset bandits use: the
 * roster of policies, creating their bandits, the logged variant of an
 * impression, the page cache of prepared contexts, and the synthetic world's
 * ground truth. */
#include "assets_eval_impl.h"

#include <math.h>
#include <string.h>

/* random: the logging policy itself; default: the editorial choice; popular: the
 * variant with the best take rate so far, for everyone (most-popular-variant);
 * title-egreedy: the same with 10% exploration (the profile-blind bandit);
 * linucb and thompson: the contextual bandits on the shared model. */
const ae_policy ae_roster[] = {
    {"random", MQ_APOL_UNIFORM, 0}, {"default", MQ_APOL_DEFAULT, 0},
    {"popular", MQ_APOL_TITLE, 0},  {"title-egreedy", MQ_APOL_TITLE, 0.1},
    {"linucb", MQ_APOL_LINUCB, -1}, {"thompson", MQ_APOL_THOMPSON, -1},
};
const size_t ae_roster_len = MQ_ARRAY_LEN(ae_roster);

void mq_assets_eval_opts_default(mq_assets_eval_opts *o) {
    memset(o, 0, sizeof *o);
    o->slot = MQ_SLOT_ARTWORK;
    o->train_frac = 0.5;
    o->seed = 1;
    o->z = 1.96;
}

int ae_create(const mq_assets_params *base, mq_asset_slot slot, const mq_catalog *cat,
              const ae_policy *pol, mq_assets **out, mq_err *err) {
    mq_assets_params p = *base;
    p.policy = pol->policy;
    if (pol->epsilon >= 0)
        p.epsilon = pol->epsilon;
    p.slots = 1u << slot;
    /* Policies that never read the shared model need not fit it. */
    if (p.policy != MQ_APOL_THOMPSON && p.policy != MQ_APOL_LINUCB && p.policy != MQ_APOL_GREEDY) {
        p.refresh_every = 0;
        p.counts_only = true;
    }
    return mq_assets_create(&p, cat, out, err);
}

int ae_logged_variant(const mq_title *t, mq_asset_slot slot, const mq_event *e, double *prob) {
    if (slot == MQ_SLOT_ARTWORK) {
        if (!e->artwork_id)
            return -1;
        uint32_t n = MQ_MIN(t->n_artwork, (uint32_t)MQ_ASSETS_MAX_VARIANTS);
        for (uint32_t i = 0; i < n; i++)
            if (strcmp(t->artwork[i].id, e->artwork_id) == 0) {
                *prob = isnan(e->propensity) ? NAN : e->propensity;
                return (int)i;
            }
        return -1;
    }
    if (slot == MQ_SLOT_SYNOPSIS && e->synopsis_id) {
        uint32_t n = MQ_MIN(t->n_synopses, (uint32_t)MQ_ASSETS_MAX_VARIANTS);
        for (uint32_t i = 0; i < n; i++)
            if (strcmp(t->synopses[i].id, e->synopsis_id) == 0) {
                *prob = 1.0 / n;
                return (int)i;
            }
    }
    return -1;
}

const mq_asset_context *ae_prepare(const mq_assets *a, ae_ctx *c, const mq_event *e) {
    uint64_t v = mq_assets_version(a);
    const char *page = e->page_id ? e->page_id : "";
    if (c->valid && c->profile == e->profile_id && c->version == v &&
        strncmp(c->page, page, sizeof c->page) == 0)
        return &c->ctx;
    c->ctx.profile_id = e->profile_id;
    c->ctx.device = e->device;
    c->ctx.ts_ms = e->ts_ms;
    mq_event_local_time(e, &c->ctx.weekday, &c->ctx.hour);
    mq_assets_prepare(a, &c->ctx);
    snprintf(c->page, sizeof c->page, "%s", page);
    c->profile = e->profile_id;
    c->version = v;
    c->valid = true;
    return &c->ctx;
}

/* ----------------------------------------------------------- ground truth ---- */

int ae_truth_open(mq_store *s, const mq_catalog *cat, ae_truth *g, mq_err *err) {
    memset(g, 0, sizeof *g);
    int rc = mq_world_from_store(s, "the online simulation", &g->w, err);
    if (rc)
        return rc;
    /* Store ids to world indices, through the external ids. */
    uint32_t end = mq_catalog_title_end(cat), known = 0;
    for (uint32_t id = 0; id < end; id++) {
        const mq_title *t = mq_catalog_title(cat, id);
        uint32_t wi = t ? mq_world_title_index(g->w, t->ext_id) : MQ_SIM_NONE;
        if (wi != MQ_SIM_NONE && mq_world_title(g->w, wi)->n_artwork == t->n_artwork)
            known++;
        MQ_VEC_PUSH(&g->title, wi == MQ_SIM_NONE ? 0 : wi + 1);
    }
    if (known != mq_world_n_titles(g->w)) {
        rc = mq_err_set(err, MQ_EINVAL,
                        "ground truth: its world has %u titles, of which %u are in the store "
                        "with the same artwork; expected the store of that world",
                        mq_world_n_titles(g->w), known);
        ae_truth_close(g);
        return rc;
    }
    return MQ_OK;
}

void ae_truth_close(ae_truth *g) {
    mq_world_destroy(g->w);
    mq_free(g->title.items);
    mq_free(g->prof.items);
    memset(g, 0, sizeof *g);
}

static double sigmoid(double x) {
    return 1.0 / (1.0 + exp(-x));
}

int ae_truth_attraction(ae_truth *g, const mq_event *e, const mq_title *t, mq_asset_slot slot,
                        double *out) {
    if (e->title_id >= g->title.len || !g->title.items[e->title_id] || !e->profile)
        return 0;
    uint32_t wt = g->title.items[e->title_id] - 1;
    while (g->prof.len <= e->profile_id)
        MQ_VEC_PUSH(&g->prof, 0);
    if (!g->prof.items[e->profile_id]) {
        uint32_t wp = mq_world_profile_index(g->w, e->profile);
        if (wp == MQ_SIM_NONE)
            return 0;
        g->prof.items[e->profile_id] = wp + 1;
    }
    uint32_t wp = g->prof.items[e->profile_id] - 1;
    mq_sim_context ctx;
    mq_sim_context_at(g->w, wp, e->ts_ms, e->device, &ctx);
    double base = mq_behaviour_logit(g->w, wp, wt, -1, e->row_pos, e->col_pos, &ctx);
    int n = (int)MQ_MIN(slot == MQ_SLOT_ARTWORK ? t->n_artwork : t->n_synopses,
                        (uint32_t)MQ_ASSETS_MAX_VARIANTS);
    if (slot == MQ_SLOT_ARTWORK) {
        for (int a = 0; a < n; a++)
            out[a] = isinf(base) ? 0 : sigmoid(base + mq_behaviour_artwork_term(g->w, wp, wt, a));
    } else {
        /* Synopses have no effect in the world: every variant attracts alike, with
         * the artwork that was shown. */
        double p = 0;
        if (!isinf(base)) {
            int art = e->artwork_id ? mq_world_artwork_index(g->w, wt, e->artwork_id) : -1;
            p = sigmoid(base + mq_behaviour_artwork_term(g->w, wp, wt, art));
        }
        for (int a = 0; a < n; a++)
            out[a] = p;
    }
    return n;
}
