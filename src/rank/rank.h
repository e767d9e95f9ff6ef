/*
 * rank.h: the ranker and the match score. Candidate models (src/models) say what
 * a profile might like; this module decides what to show now, on this device, at
 * this hour, given what the profile has already been shown and ignored, and says
 * in one calibrated number how likely the profile is to enjoy each title.
 *
 *   - features: one table (MQ_RANK_FEATURES below) of what is known about a
 *     (profile, title, context): every candidate model's score and rank, genre
 *     and theme affinity from the recency-decayed history, similarity to the most
 *     recent plays, popularity and trending, title age and "new", impressions
 *     without a play, thumbs on similar titles, continue-watching progress, and
 *     the context (device, weekend, time of day) crossed with title attributes.
 *     The same table feeds the code and docs/ranking.md;
 *   - the ranker: LambdaMART (XGBoost's rank:ndcg, through its C API) trained on
 *     logged impressions grouped per page request, labels graded play 1,
 *     completion 2, thumbs up 3 (a page's impressions without a play are the
 *     negatives); on data without impressions, on each profile's candidate set
 *     (the titles the candidate models proposed, labelled with the ones it turned
 *     to next);
 *   - scoring with our own evaluator of the trained trees (read from XGBoost's
 *     JSON dump, padded to complete trees and flattened into arrays), tested to
 *     give XGBoost's own predictions;
 *   - the match score: P(enjoy | play) (completion or thumbs up) from a second
 *     tree model, calibrated by isotonic regression on held-out outcomes, shown
 *     as an integer percentage and hidden below rank.match_threshold;
 *   - without a trained ranker in the bundle, a documented blend of the candidate
 *     models (docs/ranking.md, "Fallback blend").
 *
 * Everything trained here lives in the bundle (extra sections and the "ranker"
 * key of its metadata). The serving entry point is mq_rank_profile, which folds in
 * the live history, scores candidates with every model, builds features, ranks,
 * and gives each title a score, a match probability and its reasons. It allocates
 * nothing per request beyond the per-thread workspace (mq_rank_ws).
 *
 * Uses models, state, store and below.
 */
#ifndef MQ_RANK_H
#define MQ_RANK_H

#include "models/models.h"
#include "state/state.h"
#include "store/store.h"

/* The ranker of a bundle (below, "ranking"). */
typedef struct mq_ranker mq_ranker;

/* ---------------------------------------------------------------- features ---- */

/* X(ENUM, "name", meaning). The order is the order of the feature vector the
 * ranker is trained on; the bundle records the names, and a bundle whose names
 * differ from this build's is served with the fallback blend (and says so). */
#define MQ_RANK_FEATURES(X)                                                              \
    X(SCORE_POPULAR, "score_popular", "candidate model popular: score")                  \
    X(SCORE_TRENDING, "score_trending", "candidate model trending: score")               \
    X(SCORE_KNN, "score_knn", "candidate model knn: score (0 when not in the bundle)")   \
    X(SCORE_IALS, "score_ials", "candidate model ials: score")                           \
    X(SCORE_EASE, "score_ease", "candidate model ease: score")                           \
    X(SCORE_CONTENT, "score_content", "candidate model content: score")                  \
    X(RANK_POPULAR, "rank_popular", "log2(1 + rank) of the title under popular (capped)") \
    X(RANK_TRENDING, "rank_trending", "log2(1 + rank) under trending")                   \
    X(RANK_KNN, "rank_knn", "log2(1 + rank) under knn")                                  \
    X(RANK_IALS, "rank_ials", "log2(1 + rank) under ials")                               \
    X(RANK_EASE, "rank_ease", "log2(1 + rank) under ease")                               \
    X(RANK_CONTENT, "rank_content", "log2(1 + rank) under content")                      \
    X(GENRE_AFFINITY, "genre_affinity",                                                  \
      "mean over the title's genres of the profile's decayed share of positive "         \
      "weight in that genre")                                                            \
    X(GENRE_NEGATIVE, "genre_negative",                                                  \
      "the same for decayed negative strength (thumbs down, early abandons)")            \
    X(THEME_AFFINITY, "theme_affinity",                                                  \
      "cosine of the title's genre/tag TF-IDF vector and the profile's decayed "         \
      "content centroid")                                                                \
    X(THEME_NEGATIVE, "theme_negative",                                                  \
      "cosine of the title's genre/tag vector and the centroid of what the profile "     \
      "disliked (thumbs down, early abandons)")                                          \
    X(THEME_IGNORED, "theme_ignored",                                                    \
      "cosine of the title's genre/tag vector and the centroid of the titles the "       \
      "profile was shown and did not play (weighted by times shown)")                    \
    X(GENRE_TAKE_RATE, "genre_take_rate",                                                \
      "the profile's own take rate in the title's genres: plays / (plays + impressions " \
      "without a play), smoothed toward its overall rate")                               \
    X(YEAR_DIFF, "year_diff",                                                            \
      "the title's release year minus the profile's positive-weighted mean year (0 "     \
      "when unknown)")                                                                   \
    X(SIM_RECENT, "sim_recent",                                                          \
      "largest item-kNN similarity to the profile's most recent plays (rank.recent)")    \
    X(THEME_RECENT, "theme_recent",                                                      \
      "cosine of the title's genre/tag vector and the centroid of the most recent plays " \
      "(tastes drift)")                                                                  \
    X(SIM_IGNORED, "sim_ignored",                                                        \
      "largest item-kNN similarity to a title shown to the profile without a play "      \
      "(scaled by times shown, up to 3)")                                                \
    X(SCORE_IALS_IGNORED, "score_ials_ignored",                                          \
      "iALS score with the profile folded in again, its impressions without a play "     \
      "counted as weak negatives (0.25 each, at most 1)")                                \
    X(SIM_RECENT_FACTORS, "sim_recent_factors",                                          \
      "cosine of the title's iALS factors and the mean of the most recent plays'")       \
    X(POPULARITY, "popularity", "log(1 + decayed popularity)")                           \
    X(TRENDING, "trending", "trending z-score")                                          \
    X(TAKE_RATE, "take_rate",                                                            \
      "the title's take rate: clicks / impressions over every profile, smoothed toward "  \
      "the catalogue's (20 pseudo-impressions)")                                         \
    X(IMPRESSIONS, "impressions", "log(1 + impressions of the title, every profile)")     \
    X(COUNTRY_POPULARITY, "country_popularity",                                          \
      "log2(1 + rank) of the title in the profile's country (capped; unknown: the cap)") \
    X(AGE_DAYS, "age_days", "days since the title joined the catalogue (-1 unknown)")    \
    X(IS_NEW, "is_new", "1 when it joined within rank.new_days")                         \
    X(YEAR, "year", "release year (0 unknown)")                                          \
    X(RUNTIME, "runtime", "runtime or typical episode length, minutes (0 unknown)")      \
    X(MATURITY, "maturity", "minimum age (0, 7, 13, 16, 18)")                            \
    X(IS_SERIES, "is_series", "1 for a series")                                          \
    X(IMPRESSIONS_NO_PLAY, "impressions_no_play",                                        \
      "times the title was shown to the profile since its last play without a play "     \
      "(impression discounting)")                                                        \
    X(THUMBS_UP_SIM, "thumbs_up_sim",                                                    \
      "largest item-kNN similarity to a title the profile gave a thumbs up")             \
    X(THUMBS_DOWN_SIM, "thumbs_down_sim",                                                \
      "largest item-kNN similarity to a title the profile gave a thumbs down")           \
    X(OWN_WEIGHT, "own_weight", "the profile's own decayed positive weight on the title") \
    X(OWN_NEGATIVE, "own_negative", "its own decayed negative strength on the title")    \
    X(PROGRESS, "progress",                                                              \
      "continue-watching progress (position / duration) when in progress, else 0")       \
    X(IN_LIST, "in_list", "1 when on My List")                                           \
    X(HISTORY_SIZE, "history_size", "log(1 + titles in the profile's history)")          \
    X(DEVICE, "device", "0 unknown, 1 tv, 2 phone, 3 tablet, 4 web")                     \
    X(WEEKEND, "weekend", "1 on Saturday and Sunday (local)")                            \
    X(SLOT, "slot", "time of day: 0 night (0-5), 1 morning (6-11), 2 afternoon (12-17), " \
                    "3 evening (18-23)")                                                 \
    X(DEVICE_SHARE, "device_share", "share of the profile's plays on this device")       \
    X(HOUR_SHARE, "hour_share", "share of the profile's plays within 2 hours of this hour") \
    X(MOBILE_X_RUNTIME, "mobile_x_runtime",                                              \
      "runtime on a phone or tablet, else -1 (short titles suit phones)")                \
    X(TV_X_MATURITY, "tv_x_maturity", "maturity on a TV, else -1")                       \
    X(WEEKEND_MORNING_X_MATURITY, "weekend_morning_x_maturity",                          \
      "maturity on weekend mornings (Sat/Sun 6-11 local), else -1 (family viewing)")     \
    X(TV_WEEKEND_MORNING_X_MATURITY, "tv_weekend_morning_x_maturity",                    \
      "maturity on a TV on weekend mornings, else -1")                                   \
    X(EVENING_X_SERIES, "evening_x_series", "1 for a series in the evening, 0 for a movie, " \
                                            "-1 at other times")                         \
    X(SLOT_X_RUNTIME, "slot_x_runtime", "slot * 1000 + runtime (time of day by length)")

typedef enum {
#define MQ_RF_ENUM(e, name, doc) MQ_RF_##e,
    MQ_RANK_FEATURES(MQ_RF_ENUM)
#undef MQ_RF_ENUM
        MQ_RF_COUNT
} mq_rank_feature;

const char *mq_rank_feature_name(mq_rank_feature f);
const char *mq_rank_feature_doc(mq_rank_feature f);

/* ----------------------------------------------------------------- reasons ---- */

/* Why a title is shown: X(ENUM, "code", English text). "%s" is the evidence
 * title's name (or the genre). A title gets up to MQ_RANK_MAX_REASONS, strongest
 * first. */
#define MQ_RANK_REASONS(X)                                                               \
    X(CONTINUE, "continue_watching", "Continue watching")                                \
    X(BECAUSE_WATCHED, "because_watched", "Because you watched %s")                      \
    X(BECAUSE_LIKED, "because_liked", "Because you liked %s")                            \
    X(GENRE, "genre", "Because you like %s")                                             \
    X(POPULAR_COUNTRY, "popular_country", "Popular in your country")                     \
    X(TRENDING, "trending", "Trending now")                                              \
    X(POPULAR, "popular", "Popular on marquee")                                          \
    X(NEW, "new", "New")                                                                 \
    X(IN_LIST, "in_list", "On your list")

typedef enum {
#define MQ_RR_ENUM(e, code, text) MQ_REASON_##e,
    MQ_RANK_REASONS(MQ_RR_ENUM)
#undef MQ_RR_ENUM
        MQ_REASON_COUNT
} mq_rank_reason_kind;

const char *mq_rank_reason_code(mq_rank_reason_kind k);
const char *mq_rank_reason_format(mq_rank_reason_kind k);

#define MQ_RANK_MAX_REASONS 3

typedef struct mq_rank_reason {
    mq_rank_reason_kind kind;
    uint32_t col;    /* the evidence title (bundle column), UINT32_MAX when none */
    int genre;       /* MQ_REASON_GENRE: index into mq_ranker_genre_name, else -1 */
    float strength;  /* for ordering */
} mq_rank_reason;

/* Writes the reason's English text ("Because you watched Heat"). title_name maps
 * a column to its display name (NULL: the external id). */
typedef const char *(*mq_rank_name_fn)(void *ud, uint32_t col);
void mq_rank_reason_text(const mq_ranker *rk, const mq_rank_reason *r,
                         mq_rank_name_fn title_name, void *ud, char *out, size_t n);

/* ----------------------------------------------------------------- ranking ---- */

/* The ranker of a bundle: the trained trees, the calibration, title attributes
 * and genre names, all pointing into the bundle. Opaque, immutable, safe from any
 * number of threads; it lives as long as the bundle. */

/* The ranker of b, built on first use and kept with the bundle (freed by
 * mq_bundle_destroy). Never NULL: a bundle without a trained ranker (or with one
 * this build cannot read) gets the fallback blend, and mq_ranker_trained says
 * which. Thread-safe. */
const mq_ranker *mq_ranker_get(const mq_bundle *b);
const mq_bundle *mq_ranker_bundle(const mq_ranker *rk);
/* True when scores come from the trained trees (false: the fallback blend). */
bool mq_ranker_trained(const mq_ranker *rk);
/* Why there is no trained ranker ("" when there is one). */
const char *mq_ranker_status(const mq_ranker *rk);
/* True when the match score is calibrated (a trained enjoy model and isotonic
 * table); otherwise the match is a documented monotone map of the blend. */
bool mq_ranker_calibrated(const mq_ranker *rk);
const char *mq_ranker_genre_name(const mq_ranker *rk, int genre);
/* A title's display name as of training (its external id when unknown). */
const char *mq_ranker_title_name(const mq_ranker *rk, uint32_t col);

/* Request-time settings (rank.* in the configuration table). */
typedef struct mq_rank_settings {
    int match_threshold;  /* percent; below it the match is hidden (-1) */
    int candidates;       /* per candidate model: its top N join the candidate set */
    int recent;           /* most recent plays that define "similar to recent" */
    double new_days;      /* "new" = joined within this many days */
    bool reasons;         /* fill reasons (costs a little) */
} mq_rank_settings;

void mq_rank_settings_default(mq_rank_settings *s);
void mq_rank_settings_from_config(mq_rank_settings *s, const mq_config *c);

/* When and where: the context of one request. */
typedef struct mq_rank_context {
    mq_device device;
    int weekday;         /* local, 0 = Monday; -1 = from now_ms and tz_offset_min */
    int hour;            /* local 0-23; -1 = from now_ms and tz_offset_min */
    int tz_offset_min;
    int64_t now_ms;      /* 0 = the clock */
    const char *country; /* ISO 3166 alpha-2, NULL or "" = unknown */
    int maturity_limit;  /* titles above it are never ranked; 0 or >= 18 = no limit */
} mq_rank_context;

void mq_rank_context_init(mq_rank_context *c, mq_device device, int64_t now_ms);

/* One ranked title. */
typedef struct mq_ranked {
    uint32_t col;      /* bundle column (mq_bundle_title_ext for the external id) */
    uint32_t title_id; /* store id */
    float score;       /* ranker score (or the fallback blend) */
    float match;       /* P(enjoy), 0..1 */
    int match_pct;     /* rounded percentage; -1 below the threshold (hidden) */
    uint8_t n_reasons;
    mq_rank_reason reasons[MQ_RANK_MAX_REASONS];
} mq_ranked;

/* Per-thread scratch for ranking. Created for a bundle; reusable with any later
 * bundle (it grows on the first request that needs more, the only allocation). */
typedef struct mq_rank_ws mq_rank_ws;
mq_rank_ws *mq_rank_ws_create(const mq_bundle *b);
void mq_rank_ws_destroy(mq_rank_ws *ws);

/* Ranks the catalogue for one profile: folds in its live state (v may be NULL:
 * a profile with no history), scores every title with every candidate model,
 * takes the union of each model's top rank.candidates (plus titles in progress
 * and on the list), builds their features, scores them with the ranker, and
 * writes the best k to out (best first) with match scores and reasons. Titles
 * the profile finished, abandoned, gave a thumbs down or that exceed its maturity
 * limit are left out. Returns how many were written, or -1 with err set. */
long mq_rank_profile(const mq_ranker *rk, const mq_state_view *v, const mq_rank_context *ctx,
                     const mq_rank_settings *s, mq_rank_ws *ws, mq_ranked *out, size_t k,
                     mq_err *err);

/* Scores given titles for one profile (the title page, "more like this", a row
 * builder's own candidates): same features, score, match and reasons, in the
 * order given (cols outside the bundle get score -INFINITY and match -1). */
int mq_rank_titles(const mq_ranker *rk, const mq_state_view *v, const mq_rank_context *ctx,
                   const mq_rank_settings *s, const uint32_t *cols, size_t n, mq_rank_ws *ws,
                   mq_ranked *out, mq_err *err);

/* Titles like `col`, personalized: its item-kNN (else content, else iALS)
 * neighbours, ranked for the profile. Returns how many were written. */
long mq_rank_similar(const mq_ranker *rk, uint32_t col, const mq_state_view *v,
                     const mq_rank_context *ctx, const mq_rank_settings *s, mq_rank_ws *ws,
                     mq_ranked *out, size_t k, mq_err *err);

/* The feature vector of the last mq_rank_profile / mq_rank_titles call for its
 * i-th candidate in scoring order (for tests and explanations); NULL past the end. */
const float *mq_rank_ws_features(const mq_rank_ws *ws, size_t i, uint32_t *col);

/* -------------------------------------------------------------- training ---- */

/* Adds to b what the features need about titles: dates, runtime, maturity, kind
 * and genres from the store's catalogue, and per-country popularity from the
 * events before to_ms (0 = every event). `marquee train` does it for every
 * bundle; a bundle without them ranks with those features unknown. */
int mq_rank_add_titles(mq_store *s, mq_bundle *b, int64_t to_ms, mq_err *err);

/* Hyperparameters (rank.* in the configuration table). */
typedef struct mq_rank_params {
    int trees;            /* boosting rounds */
    int depth;            /* max_depth (the evaluator pads to complete trees) */
    double eta, min_child_weight, subsample, colsample, lambda;
    int max_pages;        /* training groups kept (the most recent) */
    double train_window;  /* the ranker trains on the last this fraction of event time */
    double calib_frac;    /* of the ranker's window, the latest share held out to calibrate */
    int64_t reward_window_ms; /* a play within this long after an impression is its play */
    bool eval_profiles;   /* evaluate per profile over the catalogue even with impressions */
    bool guard;           /* not used unless it beats the best model on validation */
    bool skip_without_impressions; /* no ranker on data without impressions (the blend) */
    uint64_t seed;
    int threads;          /* XGBoost threads (rank.threads); 0 = the threads budget */
} mq_rank_params;

void mq_rank_params_from_config(mq_rank_params *p, const mq_config *c);
/* NULL when usable, else a message naming the bad parameter. */
const char *mq_rank_params_check(const mq_rank_params *p);

/* One training set: rows of features, grouped (a page, or a profile), with
 * graded labels; and the outcome examples of the match score (a play, labelled
 * enjoyed or not). Built by replaying the event log. */
typedef struct mq_rank_data {
    size_t n_rows, n_groups;
    float *x;          /* n_rows x MQ_RF_COUNT */
    float *label;      /* 0 none, 1 play, 2 completion, 3 thumbs up */
    uint32_t *col;     /* bundle column of each row */
    size_t *group_ptr; /* n_groups + 1 */
    int64_t *group_ms; /* time of each group */
    uint32_t *group_missing; /* relevant titles outside the group (label 1 each; for
                              * the ideal DCG of a per-profile group) */
    uint8_t *group_device;
    uint32_t *group_profile;
    /* Outcome examples (calibration of P(enjoy)): */
    size_t n_out;
    float *out_x;      /* n_out x MQ_RF_COUNT */
    float *out_label;  /* 1 enjoyed (completion or thumbs up / positive rating), else 0 */
    int64_t *out_ms;
    bool impressions;  /* groups are logged pages (else per-profile candidate sets) */
    size_t pages_seen, pages_without_play;
} mq_rank_data;

void mq_rank_data_free(mq_rank_data *d);

/* Builds the training data: replays the store's events in time order into a live
 * state, and for events in [from_ms, to_ms) makes groups (pages of impressions,
 * or, when the store has no impressions, each profile's candidate set labelled
 * with its new positives) with features computed from bundle b (trained on events
 * before from_ms) and the state as it was just before the group. */
typedef enum {
    MQ_RANK_DATA_TRAIN = 0, /* pages; without impressions: per profile */
    MQ_RANK_DATA_EVAL,      /* pages (or per profile with p->eval_profiles); without
                             * impressions: per profile */
} mq_rank_data_kind;

int mq_rank_data_build(mq_store *s, const mq_bundle *b, const mq_semantics *sem,
                       const mq_rank_params *p, const mq_rank_settings *st,
                       mq_rank_data_kind kind, int64_t from_ms, int64_t to_ms, bool progress,
                       mq_rank_data *out, mq_err *err);

typedef struct mq_rank_train_report {
    bool trained;
    char skipped[200];      /* why not, when not */
    bool impressions;       /* trained on logged pages (else per-profile candidate sets) */
    size_t groups, rows, outcomes;
    double seconds, enjoy_seconds;
    double gain[MQ_RF_COUNT]; /* XGBoost's total gain per feature, normalized to 1 */
    double valid_ndcg10, valid_ndcg10_best; /* on the calibration window: ranker, best model */
    bool used;              /* false: it lost to the best model there, which serves instead */
    char valid_best_model[16];
    double calib_ece;       /* on the calibration window, after calibration */
} mq_rank_train_report;

/* Trains the ranker and the enjoy model on d (groups before the calibration
 * window), calibrates on the rest, and stores everything into bundle `into`
 * (sections and metadata). `into` may differ from the bundle the features were
 * computed with (the final bundle trained on all events). */
int mq_rank_train(const mq_rank_data *d, const mq_rank_params *p, mq_bundle *into,
                  mq_rank_train_report *rep, mq_err *err);

/* The whole ranker fit, as `marquee train` and `marquee eval` run it: candidate
 * models fitted (parameters tp, matrix options mo) on the events before from_ms,
 * training data built from [from_ms, to_ms) (to_ms 0 = the end), the ranker and
 * the match score trained and stored into `into`. A window with too little data
 * is not an error: rep->trained is false and rep->skipped says why. */
int mq_rank_fit(mq_store *s, const mq_matrix_opts *mo, const mq_train_params *tp,
                const mq_rank_params *rp, const mq_rank_settings *st, int64_t from_ms,
                int64_t to_ms, mq_bundle *into, bool progress, mq_rank_train_report *rep,
                mq_err *err);

/* -------------------------------------------------------------- evaluation ---- */

typedef struct mq_rank_eval {
    size_t requests;
    bool impressions;         /* per page (re-ranking the logged impressions) or per profile */
    double ndcg_ranker;       /* mean NDCG@10 */
    double ndcg_models[MQ_MODEL_COUNT]; /* NaN when absent */
    mq_model_kind best;       /* the best single model on the same requests */
    double rel_gain, ci_lo, ci_hi; /* relative gain over best, bootstrap 95% CI */
    double ece;               /* expected calibration error of the match score */
    size_t reliability_n[10];
    double reliability_pred[10], reliability_obs[10];
    size_t outcomes;
    double ndcg_oracle;       /* ranked by the caller's oracle scores; NaN without */
    /* The same by the profile's history when the request came (titles it had
     * touched: MQ_RANK_HISTORY_BUCKETS); NaN where empty. */
    struct {
        size_t requests;
        double ranker, best, oracle;
    } by_history[4];
} mq_rank_eval;

/* Lower bounds of the history buckets of mq_rank_eval.by_history: no history,
 * 1-3 titles, 4-15, 16 or more. */
#define MQ_RANK_HISTORY_BUCKETS {0, 1, 4, 16}

/* Evaluates ranker rk (its bundle trained before the requests) on data d built
 * from the test window: each group's rows re-ranked by the ranker and by each
 * candidate model (its score feature); NDCG@10 with the graded labels; a paired
 * bootstrap (B resamples of the groups, seed) of the relative gain; the match
 * score's reliability table and ECE on d's outcomes. `oracle` (one score per row
 * of d, or NULL) is ranked too: on a synthetic world, the truth's own
 * preferences, the ceiling of any ranker on these requests. */
int mq_rank_evaluate(const mq_ranker *rk, const mq_rank_data *d, const float *oracle,
                     int bootstrap, uint64_t seed, mq_rank_eval *out, mq_err *err);

/* ------------------------------------------------------------ tree scoring ---- */

/* A tree ensemble flattened for fast scoring: every tree padded to a complete
 * tree of `depth` levels, nodes in heap order. Exposed for the tests and the
 * benchmark that compare it with XGBoost's own predict. */
typedef struct mq_forest {
    uint32_t n_trees, depth, n_features;
    float base;             /* added to every score (XGBoost's base_score margin) */
    const uint32_t *feat;   /* n_trees x (2^depth - 1) */
    const float *thr;       /* go right when x >= thr; +inf for padding */
    const float *leaf;      /* n_trees x 2^depth */
} mq_forest;

/* Parses XGBoost's JSON model (XGBoosterSaveModelToBuffer "json") into a forest;
 * the arrays are allocated (freed with mq_forest_free). */
int mq_forest_from_xgboost_json(const char *json, size_t len, mq_forest *out, mq_err *err);
void mq_forest_free(mq_forest *f);
/* Scores n rows (row-major, f->n_features floats each) into out. */
void mq_forest_predict(const mq_forest *f, const float *x, size_t n, float *out);
/* Two forests over the same rows (the ranker and the match score), the same
 * results as two mq_forest_predict calls; the rows are read once. */
void mq_forest_predict2(const mq_forest *f, const mq_forest *f2, const float *x, size_t n,
                        float *out, float *out2);
/* The same without the AVX-512 path (tests compare the two). */
void mq_forest_predict_portable(const mq_forest *f, const float *x, size_t n, float *out);

#endif
