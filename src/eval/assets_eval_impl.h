/*
 * assets_eval_impl.h: what the two evaluations of the asset bandits share
 * (assets_replay.c: replay and SNIPS over the log; assets_online.c: the online
 * simulation): the roster of policies compared, the logged variant of an
 * impression, a page-scoped cache of prepared request contexts, and access to
 * the synthetic world's ground truth (which variant a simulated member would
 * have been attracted by).
 */
#ifndef MQ_ASSETS_EVAL_IMPL_H
#define MQ_ASSETS_EVAL_IMPL_H

#include "eval.h"
#include "sim/sim.h"

/* The policies compared, in report order. epsilon < 0: assets.epsilon. */
typedef struct {
    const char *name;
    mq_asset_policy policy;
    double epsilon;
} ae_policy;

extern const ae_policy ae_roster[];
extern const size_t ae_roster_len;

/* Creates one bandit per roster entry from base parameters (policy and epsilon
 * replaced, only `slot` learning). */
int ae_create(const mq_assets_params *base, mq_asset_slot slot, const mq_catalog *cat,
              const ae_policy *pol, mq_assets **out, mq_err *err);

/* The variant the impression showed in the slot and the probability it was shown
 * with: the logged propensity for artwork; for synopses, which the impression
 * event carries no propensity for, 1 / number of synopses (the synthetic world
 * draws them uniformly). -1 when the impression does not name a known variant. */
int ae_logged_variant(const mq_title *t, mq_asset_slot slot, const mq_event *e, double *prob);

/* A prepared request context, re-prepared when the page, the profile or the
 * posterior changes. */
typedef struct {
    mq_asset_context ctx;
    char page[MQ_ID_MAX_LEN + 1];
    uint32_t profile;
    uint64_t version;
    bool valid;
} ae_ctx;

const mq_asset_context *ae_prepare(const mq_assets *a, ae_ctx *c, const mq_event *e);

/* The ground truth of a synthetic world, regenerated from the store's
 * "ground_truth" blob. */
typedef struct {
    mq_world *w;
    MQ_VEC(uint32_t) title; /* store title id -> world index + 1 (0: unknown) */
    MQ_VEC(uint32_t) prof;  /* store profile id -> world index + 1 (0: not looked up) */
} ae_truth;

/* MQ_ENOTFOUND (with a message) when the store holds no ground truth. */
int ae_truth_open(mq_store *s, const mq_catalog *cat, ae_truth *g, mq_err *err);
void ae_truth_close(ae_truth *g);
/* The probability that the member of impression e is attracted by title t shown
 * with each variant of the slot (the other slot as logged); returns the number of
 * variants, 0 when the impression is not one of this world's. */
int ae_truth_attraction(ae_truth *g, const mq_event *e, const mq_title *t, mq_asset_slot slot,
                        double *out);

#endif
