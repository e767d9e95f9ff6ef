/*
 * rank_impl.h: what the files of src/rank share: the ranker's layout (pointers
 * into the bundle's extra sections), the per-request workspace, the title
 * attributes stored in the bundle, and the helpers that turn one request into
 * features.
 *
 *   ranker.c    the ranker of a bundle, settings, reasons, mq_rank_profile
 *   features.c  the feature table and the per-request preparation
 *   forest.c    XGBoost's JSON model -> complete trees; the evaluator
 *   titles.c    title attributes and per-country popularity into a bundle
 *   data.c      training and evaluation data, by replaying the event log
 *   train.c     XGBoost training (rank:ndcg, binary:logistic), isotonic calibration
 *   evaluate.c  NDCG@10 against the candidate models, bootstrap, reliability, ECE
 */
#ifndef MQ_RANK_IMPL_H
#define MQ_RANK_IMPL_H

#include "rank.h"

#include <math.h>
#include <string.h>

/* Bundle sections and metadata keys written by this module. */
#define RK_SEC_TITLES "rk_titles"
#define RK_SEC_COUNTRY "rk_country"
#define RK_SEC_NAMES "rk_names"         /* NUL-separated, one per column */
#define RK_SEC_NAME_OFF "rk_name_off"   /* uint32 offsets into rk_names */
#define RK_SEC_RANK_FEAT "rk_rank_feat"
#define RK_SEC_RANK_THR "rk_rank_thr"
#define RK_SEC_RANK_LEAF "rk_rank_leaf"
#define RK_SEC_ENJOY_FEAT "rk_enjoy_feat"
#define RK_SEC_ENJOY_THR "rk_enjoy_thr"
#define RK_SEC_ENJOY_LEAF "rk_enjoy_leaf"
#define RK_SEC_ISO "rk_iso"
#define RK_SEC_RANK_XGB "rk_rank_xgb" /* XGBoost's JSON model of the ranker */
#define RK_META_VOCAB "rank_vocab"
#define RK_META "ranker"

/* Genres a title keeps (the first ones), and countries with a popularity list. */
#define RK_TITLE_GENRES 6
#define RK_MAX_GENRES 255
#define RK_MAX_COUNTRIES 64
#define RK_COUNTRY_TOP 100
/* Ranks are counted up to this many; beyond, the feature is log2(1 + cap). */
#define RK_RANK_CAP 1000

/* One title's attributes, as stored (little-endian, 32 bytes). */
typedef struct rk_title {
    int64_t added_ms; /* 0 = unknown */
    float runtime;    /* minutes, 0 = unknown */
    uint16_t year;
    uint8_t maturity, kind;
    uint8_t genre[RK_TITLE_GENRES]; /* genre index + 1; 0 = none */
    uint8_t pad[2];
    float take_rate;   /* smoothed clicks / impressions, every profile */
    float impressions; /* impressions of the title */
} rk_title;
_Static_assert(sizeof(rk_title) == 32, "rk_title is a file format");

struct mq_ranker {
    const mq_bundle *b;
    uint32_t n;
    unsigned models;
    const rk_title *titles; /* n, or NULL (older bundle: attributes unknown) */
    const char *names;      /* display names (rk_names), or NULL */
    size_t names_len;
    const uint32_t *name_off;
    int n_genres;
    char **genres;          /* names */
    int n_countries;
    char (*countries)[4];
    const uint32_t *country_top; /* n_countries x RK_COUNTRY_TOP columns (UINT32_MAX = none) */
    /* Content and kNN views of the bundle (may be absent). */
    const uint64_t *content_ptr, *knn_ptr;
    const uint32_t *content_idx, *knn_idx;
    const float *content_w, *knn_w;
    uint32_t n_feats;
    const float *Y; /* iALS item factors */
    int factors;
    /* Derived per column once per bundle (owned): 1 / |y_c|, log(1 + popularity),
     * log(1 + impressions). */
    float *inv_norm, *log_pop, *log_imp;
    const float *popular, *trending;
    /* Every column in descending order of popular[] and of trending[] (ties by
     * lower column; -INFINITY and NaN left out): the scores of the popular and
     * trending models do not depend on the profile, so neither does their order
     * (owned; n_*_order entries). */
    uint32_t *pop_order, *trend_order;
    uint32_t n_pop_order, n_trend_order;
    mq_model_kind default_model;
    /* The trained models. */
    bool trained, calibrated;
    mq_forest rank, enjoy;
    const float *iso;  /* n_iso (x, y) pairs: margin -> P(enjoy), x ascending */
    uint32_t n_iso;
    char status[200];
    int serve_model; /* a trained ranker lost on validation: this model serves; -1 none */
};

/* The content centroids of a profile (mq_rank_ws.cen): of what it liked, of its
 * negatives, of the titles shown and not played, of its most recent plays. */
enum { RK_CEN_POS, RK_CEN_NEG, RK_CEN_SHOWN, RK_CEN_RECENT, RK_CEN_COUNT };

/* One kNN row (its targets) scattered into one of the similarity arrays. */
typedef struct {
    float *sim;
    const uint32_t *idx;
    size_t len;
} rk_scatter;

/* Per-thread scratch. Arrays indexed by column are sized for `cap` columns. */
struct mq_rank_ws {
    uint32_t cap;
    const mq_bundle *sized_for; /* the bundle the model workspace was made for */
    mq_model_ws *mws;
    uint32_t mws_n, mws_k, mws_feats;
    float *scores[MQ_MODEL_COUNT]; /* full-catalogue scores per model */
    uint16_t *rank[MQ_MODEL_COUNT]; /* rank per column, RK_RANK_CAP unranked */
    /* Per model, the columns it ranks in rank order (best[k][r] has rank r):
     * n_best[k] of them, RK_RANK_CAP allocated; n_best is 0 with lazy_ranks.
     * Kept after the request: the next one puts back RK_RANK_CAP at these
     * columns instead of over the whole of rank[k]. */
    uint32_t *best[MQ_MODEL_COUNT];
    uint32_t n_best[MQ_MODEL_COUNT];
    uint64_t *cand_bits; /* cap bits, all clear between requests */
    /* Per-column scratch, reset after each request (only touched entries). */
    float *sim_recent, *sim_up, *sim_down, *sim_ign;
    uint32_t *src_recent, *src_up; /* evidence column of the similarity */
    int32_t *hist_at;          /* column -> index into hist/titles, -1 none */
    uint16_t *country_rank;    /* column -> rank + 1 in the country list, 0 none */
    uint32_t *in_cand;         /* column -> its index in cand + 1, 0 none */
    MQ_VEC(uint32_t) touched;  /* columns whose scratch entries must be reset */
    /* The kNN rows scattered into the sim arrays, walked again to reset them. */
    MQ_VEC(rk_scatter) scattered;
    /* The profile. */
    MQ_VEC(mq_hist_item) hist;
    MQ_VEC(uint32_t) hist_title; /* index into v->titles of each hist item */
    const mq_state_view *v;
    float genre_pos[RK_MAX_GENRES + 1], genre_neg[RK_MAX_GENRES + 1];
    /* The profile's content centroids (unit length), interleaved: feature f's
     * four at cen[RK_CEN_COUNT * f + which], so that a candidate's content row
     * costs one load per feature. */
    float *cen;
    float genre_take[RK_MAX_GENRES + 1];
    float mean_year;  /* 0 = unknown */
    uint32_t centroid_cap;
    float recent_vec[1024];
    float ign_vec[1024];   /* iALS fold-in with ignored impressions as negatives */
    bool have_ign_vec;
    MQ_VEC(mq_hist_item) hist_ign;
    bool have_recent_vec;
    double device_share, hour_share;
    float hist_size;
    /* The context. */
    mq_rank_context ctx;
    int weekday, hour, slot;
    bool weekend;
    int country; /* index, -1 unknown */
    /* Candidates and their features. */
    MQ_VEC(uint32_t) cand;
    MQ_VEC(uint32_t) cand_cols; /* the candidates in column order (build_x) */
    MQ_VEC(float) x;  /* cand.len x MQ_RF_COUNT */
    MQ_VEC(float) out_score;
    MQ_VEC(float) out_margin;
    MQ_VEC(uint32_t) order;
    MQ_VEC(float) saved; /* scores masked while ranking */
    MQ_VEC(uint64_t) keys; /* top-k scratch (mq_topk_scratch_len) */
    MQ_VEC(uint32_t) excl; /* history titles that are never ranked */
    bool lazy_ranks;       /* rank[] not filled: rk_features counts (few titles) */
    double new_days;
};

/* features.c: the request's profile and context into ws (model scores, ranks,
 * aggregates); then one candidate's feature vector. rk_finish resets the
 * per-column scratch. */
int rk_prepare(const mq_ranker *rk, const mq_state_view *v, const mq_rank_context *ctx,
               const mq_rank_settings *s, mq_rank_ws *ws, mq_err *err);
void rk_features(const mq_ranker *rk, const mq_rank_ws *ws, uint32_t col, float *x);
/* Asks for the bundle's rows of column col that rk_features reads, to have them
 * in cache when it gets there, in two steps a few candidates apart: _far the
 * title's attributes and its content row's offsets, then rk_features_prefetch its
 * iALS factors and its content row (found through those offsets). */
void rk_features_prefetch_far(const mq_ranker *rk, uint32_t col);
void rk_features_prefetch(const mq_ranker *rk, uint32_t col);
void rk_finish(mq_rank_ws *ws);
/* Grows the workspace for rk's bundle. */
void rk_ws_fit(mq_rank_ws *ws, const mq_ranker *rk);
/* Titles the profile must not be shown: finished or abandoned, thumbs down (the
 * in-progress ones and those on the list stay). */
bool rk_excluded(const mq_ranker *rk, const mq_rank_ws *ws, uint32_t col);
/* Whether a title is above the context's maturity limit. */
bool rk_too_mature(const mq_ranker *rk, const mq_rank_context *ctx, uint32_t col);

/* ranker.c: scores of the candidates in ws->cand (ws->x filled) into
 * ws->out_score (and the enjoy margin into ws->out_margin). */
void rk_score_candidates(const mq_ranker *rk, mq_rank_ws *ws);
/* P(enjoy) from the enjoy model's margin (isotonic table); NaN when uncalibrated. */
float rk_match(const mq_ranker *rk, float margin);
/* The fallback blend of one candidate's features (docs/ranking.md). */
float rk_blend(const mq_ranker *rk, const float *x);

/* forest.c: builds a forest into owned arrays / points a forest at bundle sections. */
int rk_forest_from_sections(const mq_bundle *b, const char *feat, const char *thr,
                            const char *leaf, uint32_t n_trees, uint32_t depth, float base,
                            mq_forest *out, char *why, size_t why_len);

/* evaluate.c: NDCG@10 of one group's rows ordered by score, graded gains
 * 2^label - 1; ties are broken by a fixed hash of (salt, row), never by the rows'
 * order (a page's impressions come in the order the member scanned them, and the
 * played one is the last). `missing` relevant titles (label 1) outside the group
 * count in the ideal. */
double rk_group_ndcg(const float *score, const float *label, size_t n, uint32_t missing,
                     uint64_t salt);

/* titles.c */
int rk_country_index(const mq_ranker *rk, const char *country);

/* Slot of an hour: 0 night (0-5), 1 morning (6-11), 2 afternoon (12-17), 3 evening. */
static inline int rk_slot(int hour) {
    return hour < 6 ? 0 : hour < 12 ? 1 : hour < 18 ? 2 : 3;
}

#endif
