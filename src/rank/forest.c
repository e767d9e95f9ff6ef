/* forest.c: our own evaluator of XGBoost's trees. XGBoost 1.7's predict costs
 * microseconds per row for a few hundred trees (a DMatrix, threads, a generic
 * tree walk); a page needs a thousand rows in a fraction of a millisecond.
 *
 * The trees are read from XGBoost's JSON model (the arrays left_children,
 * right_children, split_indices, split_conditions of each tree; a leaf's value is
 * its split_condition) and padded to complete trees of one depth: a leaf above the
 * last level becomes a node that always goes left (threshold +inf) with the leaf's
 * value copied into every leaf below it. Nodes are then in heap order (children of
 * i at 2i+1 and 2i+2), so a walk is `i = 2i + 1 + (x[feat[i]] >= thr[i])` with no
 * pointers and no branches, and the leaves of a tree are one small array. XGBoost
 * goes left when x < threshold, so right is x >= threshold, the same comparison.
 * Missing values (NaN) are never produced by our features, so default directions
 * are not needed.
 *
 * Scoring walks a block of rows through one tree at a time: the walks of the
 * block are independent, so they overlap in the pipeline (and vectorize as
 * gathers where the machine has them), and the tree stays in L1 for the block. */
#include "rank_impl.h"

#include <stdlib.h>

void mq_forest_free(mq_forest *f) {
    mq_free((void *)f->feat);
    mq_free((void *)f->thr);
    mq_free((void *)f->leaf);
    memset(f, 0, sizeof *f);
}

typedef struct {
    json_t *left, *right, *split, *cond;
} xtree;

static int tree_depth(const xtree *t, size_t i, int d, int guard) {
    if (guard > 64)
        return 1 << 20;
    json_int_t l = json_integer_value(json_array_get(t->left, i));
    json_int_t r = json_integer_value(json_array_get(t->right, i));
    if (l < 0 || r < 0)
        return d;
    int a = tree_depth(t, (size_t)l, d + 1, guard + 1);
    int b = tree_depth(t, (size_t)r, d + 1, guard + 1);
    return a > b ? a : b;
}

static void fill(const xtree *t, size_t node, uint32_t pos, uint32_t d, uint32_t D, uint32_t *feat,
                 float *thr, float *leaf) {
    json_int_t l = json_integer_value(json_array_get(t->left, node));
    json_int_t r = json_integer_value(json_array_get(t->right, node));
    bool is_leaf = l < 0 || r < 0;
    if (d == D) {
        leaf[pos - ((1u << D) - 1)] = (float)json_number_value(json_array_get(t->cond, node));
        return;
    }
    if (is_leaf) {
        feat[pos] = 0;
        thr[pos] = INFINITY;
        fill(t, node, 2 * pos + 1, d + 1, D, feat, thr, leaf);
        fill(t, node, 2 * pos + 2, d + 1, D, feat, thr, leaf);
        return;
    }
    feat[pos] = (uint32_t)json_integer_value(json_array_get(t->split, node));
    thr[pos] = (float)json_number_value(json_array_get(t->cond, node));
    fill(t, (size_t)l, 2 * pos + 1, d + 1, D, feat, thr, leaf);
    fill(t, (size_t)r, 2 * pos + 2, d + 1, D, feat, thr, leaf);
}

#define BAD(...) do { rc = mq_err_set(err, MQ_ECORRUPT, __VA_ARGS__); goto out; } while (0)

int mq_forest_from_xgboost_json(const char *text, size_t len, mq_forest *out, mq_err *err) {
    memset(out, 0, sizeof *out);
    int rc = MQ_OK;
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    xtree *trees = NULL;
    if (!root)
        return mq_err_set(err, MQ_ECORRUPT, "XGBoost model: invalid JSON at line %d: %s", je.line,
                          je.text);
    json_t *learner = json_object_get(root, "learner");
    json_t *param = json_object_get(learner, "learner_model_param");
    json_t *obj = json_object_get(json_object_get(learner, "objective"), "name");
    json_t *jt = json_object_get(
        json_object_get(json_object_get(learner, "gradient_booster"), "model"), "trees");
    if (!json_is_array(jt))
        BAD("XGBoost model: learner.gradient_booster.model.trees: expected an array");
    double base = 0.5;
    json_t *bs = json_object_get(param, "base_score");
    if (json_is_string(bs))
        mq_parse_double(json_string_value(bs), &base);
    else if (json_is_number(bs))
        base = json_number_value(bs);
    const char *objective = json_is_string(obj) ? json_string_value(obj) : "";
    /* The margin XGBoost starts from: base_score itself, or its logit for the
     * logistic objectives (ProbToMargin). */
    if (strncmp(objective, "binary:logistic", 15) == 0 || strcmp(objective, "reg:logistic") == 0)
        base = base > 0 && base < 1 ? log(base / (1 - base)) : 0;
    json_t *nf = json_object_get(param, "num_feature");
    double n_features = 0;
    if (json_is_string(nf))
        mq_parse_double(json_string_value(nf), &n_features);
    size_t T = json_array_size(jt);
    trees = mq_calloc(T ? T : 1, sizeof *trees);
    int D = 0;
    for (size_t i = 0; i < T; i++) {
        json_t *tr = json_array_get(jt, i);
        xtree *x = &trees[i];
        x->left = json_object_get(tr, "left_children");
        x->right = json_object_get(tr, "right_children");
        x->split = json_object_get(tr, "split_indices");
        x->cond = json_object_get(tr, "split_conditions");
        size_t nn = json_array_size(x->left);
        if (!nn || json_array_size(x->right) != nn || json_array_size(x->split) != nn ||
            json_array_size(x->cond) != nn)
            BAD("XGBoost model: trees[%zu]: node arrays missing or of different lengths", i);
        for (size_t k = 0; k < nn; k++) {
            json_int_t l = json_integer_value(json_array_get(x->left, k));
            json_int_t r = json_integer_value(json_array_get(x->right, k));
            json_int_t f = json_integer_value(json_array_get(x->split, k));
            if (l >= (json_int_t)nn || r >= (json_int_t)nn || (l >= 0 && l <= (json_int_t)k) ||
                (r >= 0 && r <= (json_int_t)k) || f < 0 || (n_features > 0 && l >= 0 && f >= n_features))
                BAD("XGBoost model: trees[%zu] node %zu: bad children (%lld, %lld) or feature %lld",
                    i, k, (long long)l, (long long)r, (long long)f);
        }
        int d = tree_depth(x, 0, 0, 0);
        if (d > 16)
            BAD("XGBoost model: trees[%zu] is %d levels deep; at most 16 are supported", i, d);
        if (d > D)
            D = d;
    }
    uint32_t inner = (1u << D) - 1, leaves = 1u << D;
    uint32_t *feat = mq_calloc((size_t)T * inner + 1, sizeof *feat);
    float *thr = mq_calloc((size_t)T * inner + 1, sizeof *thr);
    float *leaf = mq_calloc((size_t)T * leaves, sizeof *leaf);
    for (size_t i = 0; i < T; i++)
        fill(&trees[i], 0, 0, 0, (uint32_t)D, feat + i * inner, thr + i * inner,
             leaf + i * leaves);
    out->n_trees = (uint32_t)T;
    out->depth = (uint32_t)D;
    out->n_features = (uint32_t)n_features;
    out->base = (float)base;
    out->feat = feat;
    out->thr = thr;
    out->leaf = leaf;
out:
    mq_free(trees);
    json_decref(root);
    return rc;
}

#define BLOCK 16

/* One block of rows through every tree. */
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) static void
predict_block(const mq_forest *f, const float *x, size_t nf, size_t m, float *out) {
    const uint32_t D = f->depth, inner = (1u << D) - 1, leaves = 1u << D;
    float acc[BLOCK];
    uint32_t idx[BLOCK];
    for (size_t r = 0; r < BLOCK; r++)
        acc[r] = f->base;
    for (uint32_t t = 0; t < f->n_trees; t++) {
        const uint32_t *feat = f->feat + (size_t)t * inner;
        const float *thr = f->thr + (size_t)t * inner;
        const float *leaf = f->leaf + (size_t)t * leaves;
        for (size_t r = 0; r < BLOCK; r++)
            idx[r] = 0;
        for (uint32_t d = 0; d < D; d++)
            for (size_t r = 0; r < BLOCK; r++) {
                uint32_t i = idx[r];
                size_t row = r < m ? r : 0;
                idx[r] = 2 * i + 1 + (x[row * nf + feat[i]] >= thr[i]);
            }
        for (size_t r = 0; r < BLOCK; r++)
            acc[r] += leaf[idx[r] - inner];
    }
    for (size_t r = 0; r < m; r++)
        out[r] = acc[r];
}

/* With AVX-512, a block of 16 rows goes through a tree without walking it: every
 * node's comparison is made for the 16 rows at once (one compare of a feature's
 * column against the node's threshold gives a 16-bit mask), then each level's
 * mask is selected from its nodes' masks by the path so far (bitwise multiplexers
 * on the masks), and the leaf index of the 16 rows picks their values from the
 * leaf array with one permute. A tree of depth 4 costs about 15 compares and 11
 * multiplexers per 16 rows instead of 64 dependent loads. Trees are added in the
 * same order as XGBoost adds them, so the scores are the same to the bit. */
#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512cd")))

AVX512 static void predict_avx512(const mq_forest *f, const float *x, size_t nf, size_t n,
                                  float *out) {
    const uint32_t D = f->depth, inner = (1u << D) - 1, leaves = 1u << D;
    /* The features of 16 rows, column by column (a gather per feature). */
    __m512 col[MQ_RF_COUNT];
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (size_t i0 = 0; i0 < n; i0 += 16) {
        size_t m = MQ_MIN((size_t)16, n - i0);
        __mmask16 live = (__mmask16)((1u << m) - 1);
        __m512i off = _mm512_mullo_epi32(lane, _mm512_set1_epi32((int)nf));
        for (size_t c = 0; c < nf && c < MQ_RF_COUNT; c++)
            col[c] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), live,
                                              _mm512_add_epi32(off, _mm512_set1_epi32((int)c)),
                                              x + i0 * nf, 4);
        __m512 acc = _mm512_set1_ps(f->base);
        for (uint32_t t = 0; t < f->n_trees; t++) {
            const uint32_t *feat = f->feat + (size_t)t * inner;
            const float *thr = f->thr + (size_t)t * inner;
            const float *leaf = f->leaf + (size_t)t * leaves;
            uint16_t mk[63];
            for (uint32_t i = 0; i < inner; i++)
                mk[i] = (uint16_t)_mm512_cmp_ps_mask(col[feat[i]], _mm512_set1_ps(thr[i]),
                                                     _CMP_GE_OQ);
            /* bit[l]: the direction taken at level l, per row. */
            uint16_t bit[6], v[32];
            bit[0] = mk[0];
            for (uint32_t l = 1; l < D; l++) {
                uint32_t base = (1u << l) - 1, width = 1u << l;
                for (uint32_t j = 0; j < width; j++)
                    v[j] = mk[base + j];
                /* Fold by the path's bits, the last level's first. */
                for (int k = (int)l - 1; k >= 0; k--) {
                    uint16_t s = bit[k];
                    width >>= 1;
                    for (uint32_t j = 0; j < width; j++)
                        v[j] = (uint16_t)(v[2 * j] ^ ((v[2 * j] ^ v[2 * j + 1]) & s));
                }
                bit[l] = v[0];
            }
            __m512i idx = _mm512_setzero_si512();
            for (uint32_t l = 0; l < D; l++)
                idx = _mm512_mask_or_epi32(idx, bit[l], idx, _mm512_set1_epi32(1 << (D - 1 - l)));
            __m512 val;
            if (D <= 4) {
                val = _mm512_permutexvar_ps(idx, _mm512_maskz_loadu_ps((__mmask16)((1u << leaves) - 1), leaf));
            } else if (D == 5) {
                val = _mm512_permutex2var_ps(_mm512_loadu_ps(leaf), idx, _mm512_loadu_ps(leaf + 16));
            } else {
                __m512 lo = _mm512_permutex2var_ps(_mm512_loadu_ps(leaf), idx,
                                                   _mm512_loadu_ps(leaf + 16));
                __m512 hi = _mm512_permutex2var_ps(_mm512_loadu_ps(leaf + 32), idx,
                                                   _mm512_loadu_ps(leaf + 48));
                val = _mm512_mask_blend_ps(bit[0], lo, hi);
            }
            acc = _mm512_add_ps(acc, val);
        }
        _mm512_mask_storeu_ps(out + i0, live, acc);
    }
}
#endif

/* Depth 4 (the default), as QuickScorer does it (Lucchese et al. 2015, "QuickScorer:
 * a fast algorithm to rank documents with additive ensembles of regression trees",
 * Algorithm 1), 16 rows at a time: each row keeps a bitvector of the tree's 16
 * leaves, all set; every node whose comparison sends the row right clears the
 * leaves of that node's left subtree. The leaf a walk would reach is then the
 * leftmost one still set (Theorem 1 there), whatever the order of the nodes. Leaf
 * j is bit 15 - j, so the count of leading zeros of the 32-bit lane, 16 + j,
 * indexes the leaf array by its low four bits (all a permute reads). A node costs
 * a compare and one masked AND, with no trip of the masks through general
 * registers; the trees are added in XGBoost's order, so the sums are the same
 * bits as a walk's. */

/* Bits kept when node i (heap order) sends a row right: all but the leaves of
 * its left subtree. */
#define LEFT_OFF(l, p) ((uint32_t) ~(((1u << (8 >> (l))) - 1) << (16 - (2 * (p) + 1) * (8 >> (l)))))
static const uint32_t keep_d4[15] = {
    LEFT_OFF(0, 0), LEFT_OFF(1, 0), LEFT_OFF(1, 1), LEFT_OFF(2, 0), LEFT_OFF(2, 1),
    LEFT_OFF(2, 2), LEFT_OFF(2, 3), LEFT_OFF(3, 0), LEFT_OFF(3, 1), LEFT_OFF(3, 2),
    LEFT_OFF(3, 3), LEFT_OFF(3, 4), LEFT_OFF(3, 5), LEFT_OFF(3, 6), LEFT_OFF(3, 7)};
#undef LEFT_OFF

#define CMP(i) _mm512_cmp_ps_mask(col[feat[i]], _mm512_set1_ps(thr[i]), _CMP_GE_OQ)
#define CUT(v, i) v = _mm512_mask_and_epi32(v, CMP(i), v, keep[i])

/* The forest's sum over one block of 16 rows (col: their features by column). */
AVX512 static inline __attribute__((always_inline)) __m512 sum_d4(const mq_forest *f,
                                                                  const __m512 *col) {
    __m512i keep[15];
    for (int i = 0; i < 15; i++)
        keep[i] = _mm512_set1_epi32((int)keep_d4[i]);
    const __m512i all = _mm512_set1_epi32(0xffff);
    __m512 acc = _mm512_set1_ps(f->base);
    for (uint32_t t = 0; t < f->n_trees; t++) {
        const uint32_t *feat = f->feat + (size_t)t * 15;
        const float *thr = f->thr + (size_t)t * 15;
        /* Three partial bitvectors: shorter chains of dependent ANDs. */
        __m512i a = all, b = all, c = all;
        CUT(a, 0), CUT(b, 1), CUT(c, 2), CUT(a, 3), CUT(b, 4), CUT(c, 5), CUT(a, 6);
        CUT(b, 7), CUT(c, 8), CUT(a, 9), CUT(b, 10), CUT(c, 11), CUT(a, 12), CUT(b, 13);
        CUT(c, 14);
        __m512i idx = _mm512_lzcnt_epi32(_mm512_and_si512(_mm512_and_si512(a, b), c));
        acc = _mm512_add_ps(acc,
                            _mm512_permutexvar_ps(idx, _mm512_loadu_ps(f->leaf + (size_t)t * 16)));
    }
    return acc;
}

/* r[j] = column j of the 16 x 16 block whose row i is r[i] (unpack, then shuffle
 * pairs, then 128-bit lanes twice: 64 shuffles). */
AVX512 static inline __attribute__((always_inline)) void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
        t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
    }
    for (int i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
    }
}

/* One or two forests (f2 may be NULL) over the same rows: the rows' columns are
 * taken once for both, 16 features of 16 rows at a time by a transpose in
 * registers (a gather per feature costs a load per row and more). Rows past the
 * end are zeros, as are the columns past nf. */
AVX512 static void predict_avx512_d4(const mq_forest *f, const mq_forest *f2, const float *x,
                                     size_t nf, size_t n, float *out, float *out2) {
    __m512 col[(MQ_RF_COUNT + 15) / 16 * 16];
    for (size_t i0 = 0; i0 < n; i0 += 16) {
        size_t m = MQ_MIN((size_t)16, n - i0);
        __mmask16 live = (__mmask16)((1u << m) - 1);
        for (size_t c0 = 0; c0 < nf; c0 += 16) {
            __mmask16 cols = (__mmask16)(nf - c0 >= 16 ? 0xffff : (1u << (nf - c0)) - 1);
            __m512 r[16];
            for (size_t i = 0; i < 16; i++)
                r[i] = _mm512_maskz_loadu_ps(i < m ? cols : 0, x + (i0 + i) * nf + c0);
            transpose16(r);
            for (size_t j = 0; j < 16; j++)
                col[c0 + j] = r[j];
        }
        _mm512_mask_storeu_ps(out + i0, live, sum_d4(f, col));
        if (f2)
            _mm512_mask_storeu_ps(out2 + i0, live, sum_d4(f2, col));
    }
}
#undef CUT
#undef CMP

#if defined(__x86_64__)
/* What the AVX-512 evaluators need of the CPU. */
static bool have_avx512(void) {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512cd");
}
#endif

void mq_forest_predict(const mq_forest *f, const float *x, size_t n, float *out) {
    size_t nf = f->n_features ? f->n_features : MQ_RF_COUNT;
#if defined(__x86_64__)
    bool avx512 = have_avx512();
    if (avx512 && f->depth == 4 && nf <= MQ_RF_COUNT) {
        predict_avx512_d4(f, NULL, x, nf, n, out, NULL);
        return;
    }
    if (avx512 && f->depth >= 1 && f->depth <= 6 && nf <= MQ_RF_COUNT) {
        predict_avx512(f, x, nf, n, out);
        return;
    }
#endif
    for (size_t i = 0; i < n; i += BLOCK) {
        size_t m = MQ_MIN((size_t)BLOCK, n - i);
        predict_block(f, x + i * nf, nf, m, out + i);
    }
}

void mq_forest_predict2(const mq_forest *f, const mq_forest *f2, const float *x, size_t n,
                        float *out, float *out2) {
#if defined(__x86_64__)
    size_t nf = f->n_features ? f->n_features : MQ_RF_COUNT;
    size_t nf2 = f2->n_features ? f2->n_features : MQ_RF_COUNT;
    bool avx512 = have_avx512();
    if (avx512 && f->depth == 4 && f2->depth == 4 && nf == nf2 && nf <= MQ_RF_COUNT) {
        predict_avx512_d4(f, f2, x, nf, n, out, out2);
        return;
    }
#endif
    mq_forest_predict(f, x, n, out);
    mq_forest_predict(f2, x, n, out2);
}

void mq_forest_predict_portable(const mq_forest *f, const float *x, size_t n, float *out) {
    size_t nf = f->n_features ? f->n_features : MQ_RF_COUNT;
    for (size_t i = 0; i < n; i += BLOCK) {
        size_t m = MQ_MIN((size_t)BLOCK, n - i);
        predict_block(f, x + i * nf, nf, m, out + i);
    }
}

/* ------------------------------------------------------------- in bundles ---- */

int rk_forest_from_sections(const mq_bundle *b, const char *feat, const char *thr,
                            const char *leaf, uint32_t n_trees, uint32_t depth, float base,
                            mq_forest *out, char *why, size_t why_len) {
    memset(out, 0, sizeof *out);
    size_t nfe, nth, nle;
    const uint32_t *fe = mq_bundle_section(b, feat, &nfe);
    const float *th = mq_bundle_section(b, thr, &nth);
    const float *le = mq_bundle_section(b, leaf, &nle);
    if (!fe || !th || !le) {
        snprintf(why, why_len, "the bundle has no %s sections", feat);
        return MQ_ENOTFOUND;
    }
    if (depth > 16) {
        snprintf(why, why_len, "%s: depth %u, at most 16", feat, depth);
        return MQ_ECORRUPT;
    }
    size_t inner = ((size_t)1 << depth) - 1, leaves = (size_t)1 << depth;
    if (nfe != n_trees * inner * 4 + 4 || nth != n_trees * inner * 4 + 4 ||
        nle != n_trees * leaves * 4) {
        snprintf(why, why_len, "%s: sizes do not match %u trees of depth %u", feat, n_trees,
                 depth);
        return MQ_ECORRUPT;
    }
    for (size_t i = 0; i < n_trees * inner; i++)
        if (fe[i] >= MQ_RF_COUNT) {
            snprintf(why, why_len, "%s: node %zu uses feature %u of %d", feat, i, fe[i],
                     MQ_RF_COUNT);
            return MQ_ECORRUPT;
        }
    out->n_trees = n_trees;
    out->depth = depth;
    out->n_features = MQ_RF_COUNT;
    out->base = base;
    out->feat = fe;
    out->thr = th;
    out->leaf = le;
    return MQ_OK;
}
