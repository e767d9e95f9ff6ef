/*
 * eval.h: offline evaluation of the candidate models, by the protocols of
 * DESIGN.md ("Evaluation protocols"):
 *
 *   strong generalization  (Liang et al. 2018) profiles with >= 5 positives are
 *                          shuffled with the seed; 20% are test and 10% validation
 *                          profiles, the rest (and every profile with fewer
 *                          positives) train the models. Each held-out profile gives
 *                          a random 80% of its positives (and all its other
 *                          interactions) to the model and 20% are scored;
 *   leave-last-out         each profile's last positive is held out (validation:
 *                          the one before it, with the last dropped);
 *   global time split      train on events before T (default: the 90th percentile
 *                          of event times; validation: the 80th, tested up to the
 *                          90th) and test on the titles profiles first turn to after.
 *
 * Every metric ranks the whole catalogue (no sampled negatives), with the titles
 * in the profile's given history excluded unless asked otherwise: Recall@K (hits /
 * min(K, |held-out|)), NDCG@K (binary gains, ideal over min(K, |held-out|)), HR@K,
 * MRR (reciprocal rank of the first held-out title in the full ranking), catalogue
 * coverage@K, Effective Catalog Size@K (DESIGN.md's ECS over the recommendation
 * slots) and novelty@K (mean -log2 of a recommended title's share of training
 * profiles, add-one smoothed; Zhou et al. 2010).
 *
 * Uses models (and below).
 */
#ifndef MQ_EVAL_H
#define MQ_EVAL_H

#include "models/models.h"

typedef enum { MQ_PROTO_STRONG = 0, MQ_PROTO_LOO, MQ_PROTO_TIME } mq_protocol;
typedef enum { MQ_SPLIT_TEST = 0, MQ_SPLIT_VALIDATION } mq_split_kind;

const char *mq_protocol_name(mq_protocol p); /* "strong", "loo", "time" */
int mq_protocol_parse(const char *s);        /* -1 when unknown */

#define MQ_EVAL_MAX_K 8

typedef struct mq_eval_opts {
    mq_protocol protocol;
    mq_split_kind split;
    uint64_t seed;
    double test_frac, valid_frac; /* strong: shares of eligible profiles (0.2, 0.1) */
    double holdout_frac;          /* strong: share of a profile's positives scored (0.2) */
    int min_positives;            /* strong: eligibility (5) */
    int repeats;                  /* strong: hold-out draws per profile, averaged (1) */
    double time_quantile;         /* time: T as a quantile of event times (0.9) */
    int64_t time_ms;              /* time: T itself (set by the caller, for reports) */
    size_t ks[MQ_EVAL_MAX_K];
    int n_ks;
    bool include_seen; /* rank the titles of the given history too */
    int threads;       /* 0 = the thread budget */
} mq_eval_opts;

/* The defaults above, K = 10, 20, 50, 100. */
void mq_eval_opts_default(mq_eval_opts *o);

/* One profile to score: what the model is given, and what it should find. */
typedef struct mq_eval_user {
    uint32_t profile_id;
    mq_hist_item *hist;
    size_t n_hist;
    uint32_t *held; /* columns, ascending */
    size_t n_held;
} mq_eval_user;

typedef struct mq_split {
    mq_matrix *train; /* what the models are fitted on */
    mq_eval_user *users;
    size_t n_users;
    mq_protocol protocol;
    mq_split_kind split;
    uint64_t seed;
    size_t n_eligible, n_test, n_valid; /* profiles */
    int64_t time_ms;                    /* time split: T */
    char desc[160];                     /* one line for reports */
} mq_split;

/* Makes a split of `full` by protocol o->protocol. The time split also needs
 * `before`, the matrix of events before T (the caller builds it from the store
 * with to_ms = T); other protocols take NULL. The caller destroys the split. */
int mq_split_make(const mq_matrix *full, const mq_matrix *before, const mq_eval_opts *o,
                  mq_split **out, mq_err *err);
void mq_split_destroy(mq_split *s);


/* ---------------------------------------------------------------- metrics ---- */

/* On one ranking (columns, best first) against held-out columns (ascending). */
double mq_metric_recall(const uint32_t *ranked, size_t n_ranked, const uint32_t *held,
                        size_t n_held, size_t k);
double mq_metric_ndcg(const uint32_t *ranked, size_t n_ranked, const uint32_t *held, size_t n_held,
                      size_t k);
double mq_metric_hr(const uint32_t *ranked, size_t n_ranked, const uint32_t *held, size_t n_held,
                    size_t k);
/* Reciprocal rank of the first held-out column when the full ranking is `scores`
 * (higher first, ties by lower column, -INFINITY excluded). 0 when none is ranked. */
double mq_metric_rr(const float *scores, uint32_t n, const uint32_t *held, size_t n_held);
/* Effective Catalog Size of counts (any order): 2 sum_i p_i i - 1 with shares p
 * sorted decreasing, i from 1. 0 for no counts. */
double mq_metric_ecs(const double *counts, size_t n);

typedef struct mq_eval_result {
    mq_model_kind model;
    bool done;
    char skipped[160]; /* non-empty: the model was not fitted, and why */
    size_t n_users;
    size_t ks[MQ_EVAL_MAX_K];
    int n_ks;
    double recall[MQ_EVAL_MAX_K], ndcg[MQ_EVAL_MAX_K], hr[MQ_EVAL_MAX_K];
    double coverage[MQ_EVAL_MAX_K], ecs[MQ_EVAL_MAX_K], novelty[MQ_EVAL_MAX_K];
    double mrr;
    double fit_seconds, score_seconds;
} mq_eval_result;

/* Scores every user of the split with model k of bundle b (fitted on sp->train). */
int mq_eval_bundle(const mq_bundle *b, mq_model_kind k, const mq_split *sp, const mq_eval_opts *o,
                   mq_eval_result *res, mq_err *err);
/* Fits the models in `models` on sp->train (one bundle) and evaluates each;
 * res[kind] is filled for every requested kind. *bundle_out (may be NULL) receives
 * the bundle. */
int mq_eval_run(const mq_split *sp, const mq_train_params *p, unsigned models,
                const mq_eval_opts *o, mq_train_cb cb, void *ud, mq_eval_result *res,
                mq_bundle **bundle_out, mq_err *err);

/* A table per model (text), and the machine form. */
void mq_eval_print(FILE *f, const mq_split *sp, const mq_eval_result *res, unsigned models);
json_t *mq_eval_json(const mq_split *sp, const mq_eval_result *res, unsigned models);
/* Value of a metric by name for picking models: "recall@20", "ndcg@100", "mrr"...
 * NaN when the result has no such metric. */
double mq_eval_metric(const mq_eval_result *r, const char *name);

/* ====================================================== asset bandits ====
 * Evaluation of the artwork and synopsis bandits (src/assets; docs/assets.md).
 * Files: assets_common.c, assets_replay.c, assets_online.c (and their internal
 * header assets_eval_impl.h).
 *
 *   replay   the policies side by side on the store's log: the first train_frac
 *            of the impressions warm them, the rest are replayed (Li et al. 2011)
 *            and weighted (SNIPS), with the policies learning from matched
 *            impressions and, separately, frozen at the split. With a synthetic
 *            world's ground truth in the store, each row also has the truth: the
 *            world's expected take rate of the same policy on the same impressions;
 *   online   the simulation (needs the ground truth): every logged impression is
 *            shown again with each policy's own choice, the behaviour model
 *            decides whether the member plays (common random numbers across
 *            policies), and the policy learns from that. Take rate, lift and
 *            regret against the oracle that knows each member's response, by day.
 */
#include "assets/assets.h"

#define MQ_ASSETS_EVAL_POLICIES 8

typedef struct mq_assets_eval_opts {
    mq_asset_slot slot; /* artwork (default) or synopsis */
    double train_frac;  /* replay: share of the impressions that warm the policies (0.5) */
    uint64_t seed;      /* the policies' and the simulation's random streams */
    double z;           /* interval width in standard errors (1.96) */
    bool progress;      /* progress bars on a terminal */
} mq_assets_eval_opts;

void mq_assets_eval_opts_default(mq_assets_eval_opts *o);

typedef struct mq_assets_replay_row {
    char name[24];
    mq_asset_policy policy;
    double epsilon;
    mq_estimate replay, snips;               /* learning from matched impressions */
    mq_estimate frozen_replay, frozen_snips; /* frozen at the split */
    double truth, frozen_truth;              /* ground truth (NaN without it) */
} mq_assets_replay_row;

typedef struct mq_assets_replay_report {
    mq_asset_slot slot;
    uint64_t impressions, train, test, uniform, skipped;
    int64_t split_ms;
    double logged_rate; /* mean reward of the replayed impressions as logged */
    bool have_truth;
    double seconds;
    size_t n;
    mq_assets_replay_row rows[MQ_ASSETS_EVAL_POLICIES];
} mq_assets_replay_report;

/* `p` gives every setting but the policy and epsilon, which each row sets. */
int mq_assets_eval_replay(mq_store *s, const mq_assets_params *p, const mq_assets_eval_opts *o,
                          mq_assets_replay_report *r, mq_err *err);
void mq_assets_replay_print(FILE *f, const mq_assets_replay_report *r);
json_t *mq_assets_replay_json(const mq_assets_replay_report *r);

typedef struct mq_assets_online_row {
    char name[24];
    double impressions, plays, expected, regret;   /* totals; expected = sum of P(play) */
    double *day_plays, *day_expected, *day_regret; /* per day */
} mq_assets_online_row;

typedef struct mq_assets_online_report {
    mq_asset_slot slot;
    int n_days;
    int64_t start_ms;
    double impressions, oracle; /* impressions, and the oracle's expected plays */
    double *day_impressions;
    double seconds;
    size_t n;
    mq_assets_online_row rows[MQ_ASSETS_EVAL_POLICIES];
} mq_assets_online_report;

/* The caller frees the report's arrays with mq_assets_online_free. */
int mq_assets_eval_online(mq_store *s, const mq_assets_params *p, const mq_assets_eval_opts *o,
                          mq_assets_online_report *r, mq_err *err);
void mq_assets_online_free(mq_assets_online_report *r);
void mq_assets_online_print(FILE *f, const mq_assets_online_report *r);
json_t *mq_assets_online_json(const mq_assets_online_report *r);
/* An SVG chart of each policy's regret as a share of random's, by day. */
int mq_assets_online_svg(const mq_assets_online_report *r, const char *path, mq_err *err);
/* ================================================== end asset bandits ==== */

/* ========================================================= the homepage ====
 * The first-screen hit rate of DESIGN.md's page metrics (page_hit.c): on the
 * global time split (train before T, the 90th percentile of event times), the
 * share of held-out plays (play_start events after T) whose title is within the
 * first page.screen_rows x page.screen_cols of the page assembled for the
 * profile just before the play, on a TV, with the live state of everything
 * before it; for each page policy. Plays are sampled evenly when there are more
 * than max_plays. Also reported for "new" plays (titles the profile had never
 * played), where Continue Watching cannot help. */
#include "page/page.h"

typedef struct mq_page_eval_opts {
    double quantile;   /* T as a quantile of event times (0.9) */
    int64_t time_ms;   /* T itself; 0 = from the quantile */
    size_t max_plays;  /* held-out plays scored, at most */
    unsigned policies; /* mask of 1 << mq_page_policy */
    mq_device device;
} mq_page_eval_opts;

typedef struct mq_page_eval_row {
    mq_page_policy policy;
    size_t plays, hits, new_plays, new_hits;
    double hit_rate, new_hit_rate;
} mq_page_eval_row;

typedef struct mq_page_eval_report {
    int64_t time_ms;
    size_t held_out;   /* play_start events after T */
    size_t n;
    mq_page_eval_row rows[MQ_PAGE_POLICY_COUNT];
    double train_seconds, seconds;
} mq_page_eval_report;

/* Fits a bundle on the events before T (models p, matrix options mo), then
 * replays the events after T. */
int mq_eval_first_screen(mq_store *s, const mq_train_params *p, const mq_matrix_opts *mo,
                         const mq_page_params *pp, const mq_page_eval_opts *o,
                         mq_page_eval_report *r, mq_err *err);
void mq_page_eval_print(FILE *f, const mq_page_eval_report *r, const mq_page_params *pp);
json_t *mq_page_eval_json(const mq_page_eval_report *r, const mq_page_params *pp);
/* ===================================================== end the homepage ==== */

#endif
