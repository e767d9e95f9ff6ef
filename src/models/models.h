/*
 * models.h: the candidate models and the bundle that carries them.
 *
 *   - the training matrix: every (profile, title) pair the event log mentions, with
 *     the confidence and negative strength the semantics table (events.h) assigns
 *     to what the profile did, recency-decayed; CSR by profile (mq_matrix);
 *   - the models, each fitted by mq_train into one bundle:
 *       popular   time-decayed popularity;
 *       trending  a short window against a long baseline;
 *       knn       item-kNN, cosine with shrinkage, top-N neighbours per title;
 *       ials      implicit ALS (Hu, Koren & Volinsky 2008) with the conjugate-
 *                 gradient solver of Takács et al. 2011 and the frequency-scaled
 *                 regularization of Rendle et al. 2021;
 *       ease      EASE (Steck 2019), closed form by a float32 Cholesky inverse;
 *       content   genres and tags (TF-IDF), also used to give titles nobody has
 *                 watched yet a score in every other model (cold start);
 *   - the bundle: one versioned, checksummed binary file laid out to be mmap'ed
 *     (docs/models.md describes the format), written atomically and published as
 *     the store blob "bundle";
 *   - scoring: fold-in of a profile's live history into iALS factors (the iALS
 *     user step), scores over the whole catalogue for any model, top-k with
 *     exclusions. These are what the server calls per request; they allocate
 *     nothing beyond a per-thread workspace.
 *
 * Uses util, catalog, events and store. docs/models.md documents the methods and
 * the hyperparameters (settings models.* in the configuration table).
 */
#ifndef MQ_MODELS_H
#define MQ_MODELS_H

#include "store/store.h"

/* ------------------------------------------------------------ model kinds ---- */

/* X(ENUM, "name", summary). The order is the order of tables and of the bundle's
 * model mask; new kinds are only ever appended. */
#define MQ_MODEL_KINDS(X)                                                                          \
    X(POPULAR, "popular", "time-decayed popularity")                                               \
    X(TRENDING, "trending", "short window against a long baseline")                                \
    X(KNN, "knn", "item-kNN, cosine with shrinkage")                                               \
    X(IALS, "ials", "implicit ALS, conjugate gradient, frequency-scaled regularization")           \
    X(EASE, "ease", "EASE, closed form (float32 Cholesky inverse)")                                \
    X(CONTENT, "content", "genres and tags, TF-IDF")

typedef enum {
#define MQ_MODEL_ENUM(e, name, doc) MQ_MODEL_##e,
    MQ_MODEL_KINDS(MQ_MODEL_ENUM)
#undef MQ_MODEL_ENUM
        MQ_MODEL_COUNT
} mq_model_kind;

#define MQ_MODEL_ALL ((1u << MQ_MODEL_COUNT) - 1)

const char *mq_model_name(mq_model_kind k);
const char *mq_model_doc(mq_model_kind k);
/* -1 when unknown. */
int mq_model_parse(const char *name);
/* "ials,ease" or "all" -> a bit mask (1 << kind). Errors name the unknown entry. */
int mq_model_parse_list(const char *list, unsigned *mask, mq_err *err);

/* -------------------------------------------------------- training matrix ---- */

enum {
    MQ_PAIR_POSITIVE = 1 << 0, /* a positive for evaluation (rating >= 4, completion, thumbs up) */
    MQ_PAIR_NEGATIVE = 1 << 1, /* negative evidence outweighs positive: not a positive */
};

/* Recency decay of a pair's evidence: relative to the profile's newest event (a
 * long-inactive profile keeps its tastes; only the order of its history matters),
 * to the newest event in the data, or none. */
typedef enum { MQ_RECENCY_PROFILE = 0, MQ_RECENCY_GLOBAL, MQ_RECENCY_NONE } mq_recency;

/* The implicit-feedback matrix, CSR by profile. Rows are profiles with at least
 * one title event; columns are every title of the catalogue (titles nobody has
 * touched are columns with no entries, so content can still score them). A plain
 * data struct: the fields are the interface. */
typedef struct mq_matrix {
    uint32_t n_rows, n_cols;
    size_t nnz;
    size_t *row_ptr;  /* n_rows + 1 */
    uint32_t *col;    /* nnz; ascending within a row */
    float *conf;      /* decayed positive confidence (0 = none) */
    float *neg;       /* decayed negative strength (0 = none) */
    uint8_t *flags;   /* MQ_PAIR_* */
    int64_t *t_first; /* first and latest event on the pair (ms) */
    int64_t *t_last;
    uint32_t *row_profile; /* store profile id of each row */
    uint32_t *col_title;   /* store title id of each column */
    char **col_ext;        /* external title id of each column (may be NULL: tests) */
    /* Content features of each column (genres "g:Drama", tags "t:heist"): CSR. */
    size_t *feat_ptr; /* n_cols + 1, or NULL when no features */
    uint32_t *feat_idx;
    uint32_t n_feats;
    char **feat_names;
    int64_t newest_ms; /* newest event time seen (0 = none) */
    mq_arena strings;  /* owns col_ext and feat_names text */
} mq_matrix;

/* How events become the matrix. */
typedef struct mq_matrix_opts {
    mq_semantics sem;
    mq_recency recency;
    int64_t to_ms;       /* only events before this time (0 = every event) */
    uint32_t profile_id; /* only this profile (0 = every profile) */
    bool progress;       /* progress bar on a terminal */
} mq_matrix_opts;

/* semantics.* and models.recency from the configuration. */
void mq_matrix_opts_from_config(mq_matrix_opts *o, const mq_config *c);

/* Accumulates events into pairs. Titles define the columns and must all be added
 * before mq_matrix_builder_finish; events may come in any order of profiles but
 * in log order per profile (plays are assembled from play_start ... play_stop /
 * complete). Events of titles never added are ignored. */
typedef struct mq_matrix_builder mq_matrix_builder;

mq_matrix_builder *mq_matrix_builder_create(const mq_matrix_opts *o);
void mq_matrix_builder_destroy(mq_matrix_builder *mb);
void mq_matrix_builder_add_title(mq_matrix_builder *mb, const mq_title *t);
void mq_matrix_builder_add_event(mq_matrix_builder *mb, const mq_event *e);
/* The matrix; the builder can then only be destroyed. Caller destroys the result. */
mq_matrix *mq_matrix_builder_finish(mq_matrix_builder *mb);

/* Reads titles and events from the store (one scan each). */
int mq_matrix_from_store(mq_store *s, const mq_matrix_opts *o, mq_matrix **out, mq_err *err);

/* A matrix from explicit entries (tests, benchmarks, external data). Entries may
 * come in any order; duplicates of a (row, col) are summed. Rows and columns get
 * ids row+1 / col+1, timestamps are taken from `ts` (may be NULL). */
typedef struct mq_entry {
    uint32_t row, col;
    float conf, neg;
    uint8_t flags;
    int64_t ts;
} mq_entry;
mq_matrix *mq_matrix_from_entries(uint32_t n_rows, uint32_t n_cols, const mq_entry *e, size_t n);
/* Gives columns content features: feats[c] is a '|'-separated list ("g:Drama|t:heist"). */
void mq_matrix_set_features(mq_matrix *m, const char *const *feats);

/* A matrix with only the given rows (in the order given), same columns. */
mq_matrix *mq_matrix_select_rows(const mq_matrix *m, const uint32_t *rows, size_t n);
/* The same matrix without the entries for which drop[k] is true (k indexes nnz). */
mq_matrix *mq_matrix_drop_entries(const mq_matrix *m, const bool *drop);
void mq_matrix_destroy(mq_matrix *m);
/* Positives of a row (flags positive, not negative). */
size_t mq_matrix_row_positives(const mq_matrix *m, uint32_t row);

/* ------------------------------------------------------------- parameters ---- */

/* Every hyperparameter, as plain data (LIBLINEAR style). Defaults come from the
 * configuration table (models.*). */
typedef struct mq_train_params {
    unsigned models; /* mask of kinds to fit */
    bool binary;     /* knn, ease and content see 0/1 instead of the confidences */
    struct {
        double half_life_days;         /* popularity decay (0 = none) */
        double trending_window_days;   /* short window */
        double trending_baseline_days; /* long baseline */
        double trending_prior;         /* pseudo-count in the trending z-score */
    } pop;
    struct {
        int neighbours;
        double shrink;
    } knn;
    struct {
        int factors, iters, cg_steps; /* cg_steps 0 = exact (Cholesky) solves */
        double reg, reg_exp;          /* lambda, nu: lambda * (|I_u| + a0 |I|)^nu */
        double alpha;                 /* weight per unit of confidence */
        double unobserved;            /* a0: weight of every unobserved pair */
        double negative;              /* weight per unit of negative strength (target 0) */
        double init_std;              /* factors start N(0, init_std / sqrt(factors)) */
    } ials;
    struct {
        double lambda;
        double dropout; /* EDLAE's p: adds p/(1-p) diag(X'X) to lambda (0 = EASE) */
        int max_titles; /* skipped above this many titles */
        int keep;       /* weights kept per title (0 = the dense matrix) */
    } ease;
    struct {
        int neighbours;     /* content neighbours of a cold title */
        double cold_weight; /* scale of a cold title's borrowed score */
    } content;
    uint64_t seed;
    int threads; /* 0 = the thread budget */
} mq_train_params;

void mq_train_params_from_config(mq_train_params *p, const mq_config *c);
/* NULL when the parameters are usable, else a message naming the bad one. */
const char *mq_train_params_check(const mq_train_params *p);

/* ----------------------------------------------------------------- bundle ---- */

#define MQ_BUNDLE_MAGIC "MQBUNDLE"
#define MQ_BUNDLE_VERSION 1

/* A trained, immutable set of models. Opaque; built by mq_train or loaded with
 * mq_bundle_open (mmap'ed), destroyed with mq_bundle_destroy. Every const
 * function on it is safe from any number of threads. */
typedef struct mq_bundle mq_bundle;

/* What training reports as it goes (the CLI draws a progress bar from it). */
typedef struct mq_train_event {
    const char *model;   /* model name */
    const char *phase;   /* "fit", "iter", "done", "skipped" */
    int iter, iters;     /* for iterative models */
    double loss;         /* NaN when not applicable */
    double seconds;      /* elapsed for this model */
    const char *message; /* for "skipped": why */
} mq_train_event;
typedef void (*mq_train_cb)(void *ud, const mq_train_event *ev);

typedef struct mq_train_report {
    double seconds[MQ_MODEL_COUNT]; /* fit time per model, 0 = not fitted */
    double ials_iter_seconds;       /* mean seconds per iALS iteration */
    double ials_iter_seconds_min;   /* fastest iteration (robust on a busy machine) */
    double ials_loss[64];           /* loss after each iteration (first 64) */
    int ials_iters;
    char skipped[MQ_MODEL_COUNT][160]; /* non-empty: why the model was skipped */
} mq_train_report;

/* Fits the models in p->models on m into a new bundle. A model that cannot be
 * fitted (EASE above models.ease.max_titles) is skipped with a message in the
 * report; failing only on bad parameters. cb may be NULL. */
int mq_train(const mq_matrix *m, const mq_train_params *p, mq_train_cb cb, void *ud,
             mq_train_report *rep, mq_bundle **out, mq_err *err);

/* Loads and verifies a bundle file: magic, version, sizes, every section's
 * checksum and the consistency of its arrays. A truncated or corrupt file fails
 * with MQ_ECORRUPT (MQ_EVERSION for another format version) and a message naming
 * the file and what is wrong; nothing is returned, so a caller that holds a
 * previous bundle keeps serving it. */
int mq_bundle_open(const char *path, mq_bundle **out, mq_err *err);
/* The same from bytes in memory (a store blob); the bytes are copied. */
int mq_bundle_open_bytes(const void *data, size_t len, const char *name, mq_bundle **out,
                         mq_err *err);
/* DATA_DIR/bundle.mqb. */
int mq_bundle_open_data(const char *data_dir, mq_bundle **out, mq_err *err);
/* The published bundle a command works with: DATA_DIR/bundle.mqb when the file
 * exists, else the store blob "bundle" (a shared store trained from another
 * machine). MQ_ENOTFOUND, saying to run `marquee train`, when there is neither. */
int mq_bundle_open_published(const char *data_dir, mq_store *s, mq_bundle **out, mq_err *err);
void mq_bundle_destroy(mq_bundle *b);

/* Writes the bundle to `path` atomically (a temporary file, fsync, rename). */
int mq_bundle_write(const mq_bundle *b, const char *path, mq_err *err);
/* Writes DATA_DIR/bundles/bundle-<UTC time>.mqb, verifies it by loading it back,
 * points DATA_DIR/bundle.mqb at a copy of it (atomic rename), and stores it as the
 * store blob "bundle" when s is not NULL. path_out (may be NULL) receives the
 * versioned file's path. */
int mq_bundle_publish(const mq_bundle *b, const char *data_dir, mq_store *s, char *path_out,
                      size_t path_len, mq_err *err);

/* Descriptive metadata (JSON object text: format, created, models, parameters,
 * matrix sizes, validation results, default model). Lives as long as b. */
const char *mq_bundle_meta(const mq_bundle *b);
/* Adds/replaces a key of the metadata (before writing). Takes ownership of v. */
void mq_bundle_meta_set(mq_bundle *b, const char *key, json_t *v);
unsigned mq_bundle_models(const mq_bundle *b);
bool mq_bundle_has(const mq_bundle *b, mq_model_kind k);
/* The model served when none is named: the best on validation, else ials, else
 * popular. */
mq_model_kind mq_bundle_default_model(const mq_bundle *b);
void mq_bundle_set_default_model(mq_bundle *b, mq_model_kind k);
uint32_t mq_bundle_n_titles(const mq_bundle *b);
/* Store title id of column c, its external id; column of a store title id, or
 * UINT32_MAX when the title is not in the bundle (added after training). */
uint32_t mq_bundle_title_id(const mq_bundle *b, uint32_t col);
const char *mq_bundle_title_ext(const mq_bundle *b, uint32_t col);
uint32_t mq_bundle_col(const mq_bundle *b, uint32_t title_id);
/* iALS item factors (n_titles x factors, row-major), or NULL. */
const float *mq_bundle_item_factors(const mq_bundle *b, int *factors);
/* Popularity of every column (for novelty and cold-start fallbacks). */
const float *mq_bundle_popularity(const mq_bundle *b);
/* Trending z-score of every column. */
const float *mq_bundle_trending(const mq_bundle *b);

/* Extra sections, for modules above this one (the ranker, src/rank): named byte
 * arrays (names of 1 to 15 bytes) written, checksummed and verified like every
 * other section, each 64-byte aligned in the file. add copies the bytes and
 * replaces a section of the same name; section returns NULL when absent. */
void mq_bundle_add_section(mq_bundle *b, const char *name, const void *data, size_t bytes);
const void *mq_bundle_section(const mq_bundle *b, const char *name, size_t *bytes);
/* One object derived from the bundle and living as long as it (the ranker built
 * from its sections): attach stores p unless another thread attached first, and
 * returns the one that stays (free_fn(p) is called on the loser); the winner is
 * freed by mq_bundle_destroy. attachment returns it, or NULL. Thread-safe. */
void *mq_bundle_attach(const mq_bundle *b, void *p, void (*free_fn)(void *));
void *mq_bundle_attachment(const mq_bundle *b);
/* The content features (genres "g:Drama", tags "t:heist") of every column as CSR
 * (n_titles + 1 pointers; L2-normalized TF-IDF weights), or false when the bundle
 * has no content model. */
bool mq_bundle_content(const mq_bundle *b, const uint64_t **ptr, const uint32_t **idx,
                       const float **w, uint32_t *n_feats);
/* Item-kNN neighbours of every column as CSR (row i: targets j with weight), or
 * false when the bundle has no kNN model. */
bool mq_bundle_knn(const mq_bundle *b, const uint64_t **ptr, const uint32_t **idx,
                   const float **w);

/* ---------------------------------------------------------------- scoring ---- */

/* One title of a profile's history: column, decayed confidence and negative
 * strength (as in the matrix, or as live state computes them). */
typedef struct mq_hist_item {
    uint32_t col;
    float conf, neg;
} mq_hist_item;

/* Per-thread scratch for scoring: sized once from the bundle, reused per request. */
typedef struct mq_model_ws mq_model_ws;
mq_model_ws *mq_model_ws_create(const mq_bundle *b);
void mq_model_ws_destroy(mq_model_ws *ws);

/* Fold-in: the profile's iALS vector from its history given the item factors,
 * i.e. exactly the iALS user step (an exact solve of the same normal equations,
 * Hu et al. 2008 eq. 4 with Rendle et al. 2021's regularization). out_vec holds
 * `factors` floats. MQ_ENOTFOUND when the bundle has no iALS model. */
int mq_model_foldin(const mq_bundle *b, const mq_hist_item *h, size_t n, float *out_vec,
                    mq_model_ws *ws, mq_err *err);
/* scores[c] = y_c . user_vec for every column. */
void mq_model_score_all(const mq_bundle *b, const float *user_vec, float *scores);

/* Scores every column for a profile with history h under model k (fold-in
 * included for iALS). Titles nobody had watched at training time borrow a score
 * from their content neighbours; a profile with no usable history gets
 * popularity. scores holds mq_bundle_n_titles floats. Excluding seen titles is
 * the caller's choice: mq_model_exclude. */
int mq_model_score(const mq_bundle *b, mq_model_kind k, const mq_hist_item *h, size_t n,
                   float *scores, mq_model_ws *ws, mq_err *err);
/* The bundle's own array that mq_model_score would copy for (k, h): trending for
 * the trending model, popularity for the popular one and for a history with
 * nothing usable; NULL when the scores depend on the history. Callers that order
 * titles by these scores can order them once per bundle. */
const float *mq_model_fixed_scores(const mq_bundle *b, mq_model_kind k, const mq_hist_item *h,
                                   size_t n);
/* Sets the score of every title in h to -INFINITY (columns outside the bundle are
 * ignored). */
void mq_model_exclude(const mq_bundle *b, float *scores, const mq_hist_item *h, size_t n);
/* The k best columns by score, best first (ties: lower column first), skipping
 * -INFINITY. Returns how many were written (<= k). */
size_t mq_topk(const float *scores, uint32_t n, size_t k, uint32_t *cols, float *out_scores);
/* The same result as mq_topk (NaN is skipped too), by a radix selection of the
 * k-th key and a radix sort of the few at or above it: linear in n, where the
 * heap costs n log k in mispredicted comparisons, so faster when k is more than
 * a few dozen. scratch holds mq_topk_scratch_len(n) uint64 (not kept). */
size_t mq_topk_radix(const float *scores, uint32_t n, size_t k, uint32_t *cols, float *out_scores,
                     uint64_t *scratch);
size_t mq_topk_scratch_len(uint32_t n);

/* ----------------------------------------------------------- iALS details ---- */

/* For tests and benchmarks: fits iALS alone on m and returns its factors
 * (user: n_rows x f, item: n_cols x f; caller frees both) and the loss after each
 * iteration (loss must hold p->ials.iters doubles; may be NULL). */
int mq_ials_fit(const mq_matrix *m, const mq_train_params *p, float **user_factors,
                float **item_factors, double *loss, mq_err *err);
/* One user step with the item factors fixed, as training does it (CG steps from
 * the given user factors, or exact solves when cg_steps is 0). */
void mq_ials_user_step(const mq_matrix *m, const mq_train_params *p, const float *item_factors,
                       float *user_factors);
/* EASE's item-item matrix for m, dense n_cols x n_cols (caller frees), and the
 * time of the float32 Cholesky inverse inside it. */
int mq_ease_fit_dense(const mq_matrix *m, const mq_train_params *p, float **B,
                      double *inverse_seconds, mq_err *err);

/* ----------------------------------------------------------- parallel for ---- */

/* Runs fn over [0, n) in chunks on up to `threads` threads (0 = the thread budget),
 * dynamically scheduled. OpenBLAS is limited to one thread inside, so the pools
 * share the budget instead of multiplying it. tid is 0..threads-1. */
typedef void (*mq_par_fn)(void *ud, size_t begin, size_t end, int tid);
int mq_parallel_threads(int threads);
void mq_parallel_for(size_t n, size_t chunk, int threads, mq_par_fn fn, void *ud);

#endif
