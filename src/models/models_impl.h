/*
 * models_impl.h: what the files of src/models share and nobody else sees: the
 * bundle's in-memory layout (the arrays point either into training's allocations
 * or into the mmap'ed file), the bundle file's section table, and small numeric
 * helpers (SIMD dot/axpy kernels, CRC-32C, a k-row min-heap).
 */
#ifndef MQ_MODELS_IMPL_H
#define MQ_MODELS_IMPL_H

#include "models.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

/* Sections of the bundle file. X(ENUM, "name", element size). The id is stored in
 * the file, so new sections are only ever appended. */
#define MQ_SECTIONS(X)                                                                             \
    X(META, "meta", 1)                                                                             \
    X(TITLE_IDS, "title_ids", 4)                                                                   \
    X(TITLE_EXT, "title_ext", 1)                                                                   \
    X(TITLE_EXT_OFF, "title_ext_off", 8)                                                           \
    X(POPULAR, "popular", 4)                                                                       \
    X(TRENDING, "trending", 4)                                                                     \
    X(KNN_PTR, "knn_ptr", 8)                                                                       \
    X(KNN_IDX, "knn_idx", 4)                                                                       \
    X(KNN_W, "knn_w", 4)                                                                           \
    X(IALS_Y, "ials_item_factors", 4)                                                              \
    X(IALS_GRAM, "ials_gramian", 4)                                                                \
    X(EASE_DENSE, "ease_dense", 4)                                                                 \
    X(EASE_PTR, "ease_ptr", 8)                                                                     \
    X(EASE_IDX, "ease_idx", 4)                                                                     \
    X(EASE_W, "ease_w", 4)                                                                         \
    X(CONTENT_PTR, "content_ptr", 8)                                                               \
    X(CONTENT_IDX, "content_idx", 4)                                                               \
    X(CONTENT_W, "content_w", 4)                                                                   \
    X(COLD_PTR, "cold_ptr", 8)                                                                     \
    X(COLD_IDX, "cold_idx", 4)                                                                     \
    X(COLD_W, "cold_w", 4)

typedef enum {
#define MQ_SEC_ENUM(e, name, size) MQ_SEC_##e,
    MQ_SECTIONS(MQ_SEC_ENUM)
#undef MQ_SEC_ENUM
        MQ_SEC_COUNT
} mq_section;

/* A sparse item x item (or item x feature) matrix in CSR, 64-bit row pointers so
 * that it can be mmap'ed as is. */
typedef struct mq_csr {
    const uint64_t *ptr; /* rows + 1 */
    const uint32_t *idx;
    const float *w;
} mq_csr;

/* An extra section: stored with id MQ_EXTRA_ID + index and its name. */
#define MQ_EXTRA_ID 0x10000u
typedef struct mq_bundle_extra {
    char name[16];
    const void *data;
    size_t size;
    void *owned; /* when added in memory */
} mq_bundle_extra;

struct mq_bundle {
    /* Where the arrays live: a mapped (or copied) file, or training's allocations
     * (owned[], freed on destroy). */
    void *map;
    size_t map_len;
    bool mapped; /* munmap rather than free */
    void *owned[MQ_SEC_COUNT];
    json_t *meta;
    char *meta_text; /* cached dump of meta */

    unsigned models;
    int default_model; /* -1 = not chosen */
    uint32_t n;        /* titles (columns) */
    const uint32_t *title_ids;
    const char *ext; /* NUL-separated external ids */
    size_t ext_len;
    const uint64_t *ext_off; /* n offsets into ext */
    uint32_t *col_of;        /* store title id -> col + 1 (0 = absent); always owned */
    uint32_t col_of_len;

    const float *popular, *trending;
    mq_csr knn;                           /* row i: targets j with weight W[i][j] */
    uint32_t k;                           /* iALS factors */
    const float *Y, *G;                   /* item factors n x k; a0 Y'Y (k x k) */
    double a0, alpha, reg, reg_exp, negw; /* iALS weighting (for fold-in) */
    uint32_t n_train_cols;                /* |I| in the frequency-scaled regularization */
    const float *ease_dense;              /* n x n, or NULL */
    mq_csr ease;                          /* row i: targets j with weight B[i][j] */
    uint32_t n_feats;
    mq_csr content; /* row i: features with TF-IDF weight (L2-normalized) */
    mq_csr cold;    /* row i (a cold title): warm neighbours with similarity */
    double cold_weight;
    bool binary;
    /* Section sizes in bytes, for writing (elements x element size). */
    size_t sec_size[MQ_SEC_COUNT];
    /* Extra named sections of modules above this one (mq_bundle_add_section), and
     * the one object derived from the bundle (mq_bundle_attach: the ranker). */
    mq_bundle_extra *extra;
    size_t n_extra;
    _Atomic(void *) attach;
    void (*attach_free)(void *);
};

/* Creates an empty bundle for training to fill (models = 0, meta = {}). */
mq_bundle *mq_bundle_new(uint32_t n_titles);
/* Hands an allocation to the bundle as section s with `bytes` bytes; returns p. */
void *mq_bundle_own(mq_bundle *b, mq_section s, void *p, size_t bytes);
/* Rebuilds col_of from title_ids. */
void mq_bundle_index_titles(mq_bundle *b);

/* Model fitting, one per file. Each fills its sections of b and returns 0, or
 * returns an error (bad parameters); `skip` receives a reason when the model is
 * not fitted for a legitimate cause (too large). */
typedef struct mq_fit_ctx {
    const mq_matrix *m;
    const mq_train_params *p;
    mq_train_cb cb;
    void *ud;
    mq_train_report *rep;
    /* Column views shared by the models: CSC of the matrix (entries of each
     * column), and each entry's value as the item-based models see it. */
    size_t *col_ptr; /* n_cols + 1 */
    uint32_t *col_row;
    uint32_t *col_entry; /* index into the CSR arrays */
    float *x;            /* per CSR entry: 1 / confidence / 0 (binary or not) */
} mq_fit_ctx;

int mq_fit_popular(mq_fit_ctx *c, mq_bundle *b, mq_err *err);
int mq_fit_knn(mq_fit_ctx *c, mq_bundle *b, mq_err *err);
int mq_fit_ials(mq_fit_ctx *c, mq_bundle *b, mq_err *err);
int mq_fit_ease(mq_fit_ctx *c, mq_bundle *b, char *skip, size_t skip_len, mq_err *err);
int mq_fit_content(mq_fit_ctx *c, mq_bundle *b, mq_err *err);

/* Fold-in for one profile (ials.c): out gets b->k floats; ws holds k*k + k
 * floats. Returns 0 or the failing pivot of the Cholesky factorization. */
int mq_ials_foldin_raw(const mq_bundle *b, const mq_hist_item *h, size_t n, float *out, float *ws);

/* Value of a matrix entry for the item-based models: 0 unless a usable positive
 * (confidence above the negative strength). */
static inline float mq_entry_value(bool binary, float conf, float neg) {
    if (!(conf > 0) || neg >= conf)
        return 0;
    return binary ? 1.0f : conf;
}

/* iALS weighting of one pair (Hu et al. 2008 eq. 2 generalized): the extra weight
 * over the unobserved a0, and the right-hand side weight*target. */
static inline void mq_ials_weight(double a0, double alpha, double negw, float conf, float neg,
                                  float *cw, float *rhs) {
    if (neg > conf) {
        *cw = (float)(negw * neg); /* target 0 */
        *rhs = 0;
    } else if (conf > 0) {
        *cw = (float)(alpha * conf);
        *rhs = (float)(a0 + alpha * conf); /* target 1 */
    } else {
        *cw = 0;
        *rhs = 0;
    }
}

/* Frequency-scaled regularization (Rendle et al. 2021, sec. 3.2): lambda times
 * (|I_u| + a0 |I|)^nu. nu = 0 is the plain lambda. */
static inline double mq_ials_reg(double reg, double nu, double a0, double n_obs, double n_all) {
    return nu == 0 ? reg : reg * pow(n_obs + a0 * n_all, nu);
}

/* Solves the k x k system A x = b in place (A symmetric positive definite, upper
 * triangle used, overwritten by its Cholesky factor). Returns 0 or the LAPACK
 * info. */
int mq_spd_solve(float *A, float *b, int k);

/* out[j] = Y_j . v for the n rows of Y (n x k), SIMD (ials.c). */
void mq_dense_scores(const float *Y, uint32_t n, int k, const float *v, float *out);

/* Dot product and y += a x of length k. */
float mq_dot(const float *a, const float *b, int k);
void mq_axpy(float a, const float *x, float *y, int k);

/* CRC-32C (Castagnoli) of a buffer, continuing from crc (start with 0). */
uint32_t mq_crc32c(uint32_t crc, const void *p, size_t n);

/* Top-k selection over (score, index) pairs, best first. */
typedef struct mq_heap {
    float *s;
    uint32_t *i;
    size_t n, k;
} mq_heap;
void mq_heap_push(mq_heap *h, float s, uint32_t i);
/* Sorts the heap's content best first (ties: lower index first); returns n. */
size_t mq_heap_sort(mq_heap *h);

#endif
