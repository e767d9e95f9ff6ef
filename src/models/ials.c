/* ials.c: implicit ALS.
 *
 * Objective (Hu, Koren & Volinsky 2008, eq. 3, with the unobserved weight a0 of
 * Rendle et al. 2021 and their frequency-scaled regularization, sec. 3.2):
 *
 *   L = sum over observed (u,i) of w_ui (t_ui - x_u.y_i)^2
 *     + a0 * sum over unobserved (u,i) of (x_u.y_i)^2
 *     + sum_u lambda (|I_u| + a0 |I|)^nu |x_u|^2 + sum_i lambda (|U_i| + a0 |U|)^nu |y_i|^2
 *
 * where an observed positive has weight w = a0 + alpha * confidence and target 1,
 * and a negative (thumbs down, early abandon, low rating) has weight
 * a0 + negative * strength and target 0. With the Gramian trick (Hu et al. sec. 4)
 * the user step solves, per user,
 *
 *   (a0 Y'Y + sum_{i in I_u} (w_ui - a0) y_i y_i' + lambda_u I) x_u = sum_{i in I_u} w_ui t_ui y_i
 *
 * and the item step is the same with the roles swapped. Instead of factoring each
 * k x k system we take a few conjugate-gradient steps warm-started from the
 * previous factors (Takács, Pilászy & Tikk 2011, "Applications of the conjugate
 * gradient method for implicit feedback collaborative filtering"). Two things
 * make a CG step cheap here:
 *   - before each half-iteration both sides are rotated into the eigenbasis of
 *     a0 Y'Y (a k x k eigendecomposition and two sgemms; a common rotation leaves
 *     every prediction unchanged), so the dense part of every system is diagonal
 *     and costs k per step instead of k^2; the same diagonal plus that of the
 *     sparse part gives a Jacobi preconditioner for free;
 *   - an entity's rows of the other side are gathered once into a contiguous,
 *     zero-padded block (the only random memory access), then each CG step is
 *     two passes over that block in SIMD kernels (four rows at a time) compiled
 *     for AVX-512, AVX2 and baseline x86-64 and chosen at run time.
 * Profiles and titles without entries are left out (their vectors are 0). The
 * work is split over mq_threads_budget() threads; BLAS runs single-threaded on
 * each. cg_steps = 0 solves exactly (Cholesky), which is what fold-in does for
 * one profile (mq_ials_foldin_raw), in the same order of operations.
 */
#include "models_impl.h"

#include <cblas.h>
#include <lapacke.h>
#include <stdlib.h>

/* Entities per parallel chunk. */
#define CHUNK 16
/* Rows are padded to a multiple of 16 floats inside the solver. */
#define PAD(k) (((k) + 15) & ~15)

/* Multiply-adds below contract to FMA (the project builds with -std=c11, which
 * turns contraction off): the order of operations is ours either way. */
#pragma GCC optimize("fp-contract=fast")

typedef float v16 __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4))); /* unaligned access */
typedef int i16v __attribute__((vector_size(64)));

#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define KERNEL __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define KERNEL
#endif

#define LD(p) (*(const v16u *)(p))
#define ST(p, v) (*(v16u *)(p) = (v))

static inline __attribute__((always_inline)) float hsum(v16 a) {
    float s = 0;
    for (int j = 0; j < 16; j++)
        s += a[j];
    return s;
}

/* The four sums of a0..a3 at once (a transposing fold, 3 shuffle rounds instead
 * of four separate horizontal reductions). */
static inline __attribute__((always_inline)) void hsum4(v16 a0, v16 a1, v16 a2, v16 a3, float *d) {
    const i16v lo = {0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23};
    const i16v hi = {8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31};
    v16 t01 = __builtin_shuffle(a0, a1, lo) + __builtin_shuffle(a0, a1, hi);
    v16 t23 = __builtin_shuffle(a2, a3, lo) + __builtin_shuffle(a2, a3, hi);
    const i16v q0 = {0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27};
    const i16v q1 = {4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31};
    v16 w = __builtin_shuffle(t01, t23, q0) + __builtin_shuffle(t01, t23, q1);
    const i16v e0 = {0, 1, 4, 5, 8, 9, 12, 13, 0, 1, 4, 5, 8, 9, 12, 13};
    const i16v e1 = {2, 3, 6, 7, 10, 11, 14, 15, 2, 3, 6, 7, 10, 11, 14, 15};
    v16 x = __builtin_shuffle(w, e0) + __builtin_shuffle(w, e1);
    d[0] = x[0] + x[1];
    d[1] = x[2] + x[3];
    d[2] = x[4] + x[5];
    d[3] = x[6] + x[7];
}

/* out += sum_j (beta_j + gamma * cw_j * (y_j . v)) y_j over the n gathered rows of
 * Yu (stride kp, a multiple of 16). beta may be NULL (0). Four rows at a time:
 * four dot products, one folded reduction, one pass over out. */
static inline __attribute__((always_inline)) void gram_apply(const float *Yu, size_t n, int kp,
                                                             const float *cw, const float *beta,
                                                             float gamma, const float *v,
                                                             float *out) {
    size_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const float *y0 = Yu + j * kp, *y1 = y0 + kp, *y2 = y1 + kp, *y3 = y2 + kp;
        v16 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
        for (int i = 0; i < kp; i += 16) {
            v16 vv = LD(v + i);
            a0 += LD(y0 + i) * vv;
            a1 += LD(y1 + i) * vv;
            a2 += LD(y2 + i) * vv;
            a3 += LD(y3 + i) * vv;
        }
        float d[4];
        hsum4(a0, a1, a2, a3, d);
        float c0 = gamma * cw[j] * d[0], c1 = gamma * cw[j + 1] * d[1],
              c2 = gamma * cw[j + 2] * d[2], c3 = gamma * cw[j + 3] * d[3];
        if (beta) {
            c0 += beta[j];
            c1 += beta[j + 1];
            c2 += beta[j + 2];
            c3 += beta[j + 3];
        }
        for (int i = 0; i < kp; i += 16)
            ST(out + i,
               LD(out + i) + c0 * LD(y0 + i) + c1 * LD(y1 + i) + c2 * LD(y2 + i) + c3 * LD(y3 + i));
    }
    for (; j < n; j++) {
        const float *y = Yu + j * kp;
        v16 a = {0};
        for (int i = 0; i < kp; i += 16)
            a += LD(y + i) * LD(v + i);
        float c = gamma * cw[j] * hsum(a) + (beta ? beta[j] : 0);
        for (int i = 0; i < kp; i += 16)
            ST(out + i, LD(out + i) + c * LD(y + i));
    }
}

static inline __attribute__((always_inline)) float vdot(const float *a, const float *b, int k) {
    v16 acc = {0};
    int i = 0;
    for (; i + 16 <= k; i += 16)
        acc += LD(a + i) * LD(b + i);
    float s = hsum(acc);
    for (; i < k; i++)
        s += a[i] * b[i];
    return s;
}

KERNEL static float kdot(const float *a, const float *b, int k) {
    return vdot(a, b, k);
}

/* Copies the rows idx[0..n) of Y (stride k) to Yu (stride kp, zero padded),
 * prefetching a few rows ahead: the one random access of each entry per step. */
static inline __attribute__((always_inline)) void gather(const uint32_t *idx, size_t n,
                                                         const float *Y, int k, int kp, float *Yu) {
    const size_t ahead = 8;
    for (size_t j = 0; j < n; j++) {
        if (j + ahead < n) {
            const char *p = (const char *)(Y + (size_t)idx[j + ahead] * k);
            for (int b = 0; b < k * 4; b += 64)
                __builtin_prefetch(p + b);
        }
        float *dst = Yu + j * kp;
        const float *src = Y + (size_t)idx[j] * k;
        int i = 0;
        for (; i + 16 <= k; i += 16)
            ST(dst + i, LD(src + i));
        for (; i < k; i++)
            dst[i] = src[i];
        for (; i < kp; i++)
            dst[i] = 0;
    }
}

KERNEL void mq_dense_scores(const float *Y, uint32_t n, int k, const float *v, float *out) {
    for (uint32_t j = 0; j < n; j++) {
        const float *y = Y + (size_t)j * k;
        v16 acc = {0};
        int i = 0;
        for (; i + 16 <= k; i += 16)
            acc += LD(y + i) * LD(v + i);
        float s = hsum(acc);
        for (; i < k; i++)
            s += y[i] * v[i];
        out[j] = s;
    }
}

/* One side of the alternation: the entities being solved, their observed entries
 * (indices into the other side) with the extra weight cw = w - a0 and the
 * right-hand side w * t, and each entity's regularization. */
typedef struct ials_side {
    uint32_t n;
    size_t *ptr;
    uint32_t *idx;
    float *cw, *rhs;
    float *reg;
} ials_side;

/* Per-thread scratch: the gathered rows (grown on demand) and k-vectors. */
typedef struct ials_ws {
    float *Yu;
    size_t cap_rows;
    float *vec; /* 6 * kp: x, r, p, ap, tmp, spare */
    double loss;
} ials_ws;

typedef struct solve_ctx {
    const ials_side *s;
    const float *Y;   /* other side's factors (stride k) */
    float *X;         /* this side's factors (stride k), updated in place */
    const float *G;   /* a0 Y'Y (k x k) for exact solves */
    const float *lam; /* CG: eigenvalues of a0 Y'Y (kp, zero padded): in the rotated
                       * basis the dense part of every system is diagonal */
    int k, kp, steps;
    bool loss; /* accumulate the observed-entry loss terms (item step) */
    double a0_for_loss;
    ials_ws *ws;
} solve_ctx;

/* A += cw y y' (lower triangle), b += rhs y: one observed entry of the normal
 * equations. Training's exact step and fold-in both go through here, in the same
 * order, so they agree exactly. */
/* Sixteen lanes at a time, in clones for the CPU (fold-in spends most of its
 * time here), with contraction off: every element gets the same multiply, then
 * add, as the scalar loop gives it, so the result is the same bits as before
 * and on every CPU. */
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define ACC_CLONES                                                                                 \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"),                   \
                   optimize("fp-contract=off")))
#else
#define ACC_CLONES __attribute__((optimize("fp-contract=off")))
#endif
ACC_CLONES static void accumulate(float *A, float *b, const float *y, float cw, float rhs, int k) {
    for (int a = 0; a < k; a++) {
        float ca = cw * y[a];
        float *Aa = A + (size_t)a * k;
        int bb = 0;
        for (; bb + 16 <= a + 1; bb += 16) {
            v16 p = ca * (v16)LD(y + bb);
            ST(Aa + bb, (v16)LD(Aa + bb) + p);
        }
        for (; bb <= a; bb++)
            Aa[bb] += ca * y[bb];
    }
    mq_axpy(rhs, y, b, k);
}

static void solve_exact(const solve_ctx *c, uint32_t e, float *A, float *b) {
    const ials_side *s = c->s;
    int k = c->k;
    memcpy(A, c->G, (size_t)k * k * sizeof *A);
    memset(b, 0, (size_t)k * sizeof *b);
    for (size_t j = s->ptr[e]; j < s->ptr[e + 1]; j++)
        accumulate(A, b, c->Y + (size_t)s->idx[j] * k, s->cw[j], s->rhs[j], k);
    for (int a = 0; a < k; a++)
        A[(size_t)a * k + a] += s->reg[e];
    float *x = c->X + (size_t)e * k;
    if (mq_spd_solve(A, b, k) == 0)
        memcpy(x, b, (size_t)k * sizeof *x);
}

/* Conjugate gradient on (a0 Y'Y + reg I + sum_j cw_j y_j y_j') x = sum_j rhs_j y_j,
 * warm-started from x (Takács et al. 2011, alg. 2). The factors are expressed in
 * the eigenbasis of a0 Y'Y (solve_side rotates both sides, which leaves every
 * prediction unchanged), so its product with a vector is a diagonal scaling, and
 * the CG is preconditioned with the diagonal of the whole matrix (Jacobi).
 * Compiled per instruction set with every helper inlined. */
KERNEL static void solve_cg(const solve_ctx *c, uint32_t e, ials_ws *w) {
    const ials_side *s = c->s;
    int k = c->k, kp = c->kp;
    size_t b0 = s->ptr[e], n = s->ptr[e + 1] - b0;
    float *x = w->vec, *r = x + kp, *p = r + kp, *ap = p + kp, *z = ap + kp, *minv = z + kp;
    float *xe = c->X + (size_t)e * k;
    if (n == 0) { /* no observed entry: the right-hand side is 0, so is x */
        memset(xe, 0, (size_t)k * sizeof *xe);
        return;
    }
    if (n > w->cap_rows) {
        w->cap_rows = n + n / 2;
        w->Yu = mq_realloc(w->Yu, w->cap_rows * kp * sizeof *w->Yu);
    }
    gather(s->idx + b0, n, c->Y, k, kp, w->Yu);
    const float *cw = s->cw + b0, *rhs = s->rhs + b0;
    float reg = s->reg[e];
    memcpy(x, xe, (size_t)k * sizeof *x);
    for (int i = k; i < kp; i++)
        x[i] = 0;
    /* d = lam + reg + sum_j cw_j y_j^2: the diagonal, for the preconditioner */
    for (int i = 0; i < kp; i += 16)
        ST(ap + i, LD(c->lam + i) + reg);
    for (size_t j = 0; j < n; j++) {
        const float *y = w->Yu + j * kp;
        float cj = cw[j];
        for (int i = 0; i < kp; i += 16)
            ST(ap + i, LD(ap + i) + cj * LD(y + i) * LD(y + i));
    }
    for (int i = 0; i < kp; i += 16) { /* 1/d where d > 0, else 0 (padding with reg 0) */
        v16 d = LD(ap + i);
        i16v pos = d > (v16){0};
        ST(minv + i, (v16)((i16v)((v16){1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1} /
                                  (d + (v16)(~pos & (i16v)(v16){1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                                                1, 1, 1, 1}))) &
                           pos));
    }
    /* r = b - A x, z = M^-1 r, p = z */
    for (int i = 0; i < kp; i += 16)
        ST(r + i, -(LD(c->lam + i) + reg) * LD(x + i));
    gram_apply(w->Yu, n, kp, cw, rhs, -1.0f, x, r);
    for (int i = 0; i < kp; i += 16)
        ST(z + i, LD(minv + i) * LD(r + i));
    memcpy(p, z, (size_t)kp * sizeof *p);
    float rz = vdot(r, z, kp);
    for (int step = 0; step < c->steps && rz > 1e-30f; step++) {
        for (int i = 0; i < kp; i += 16)
            ST(ap + i, (LD(c->lam + i) + reg) * LD(p + i));
        gram_apply(w->Yu, n, kp, cw, NULL, 1.0f, p, ap);
        float pap = vdot(p, ap, kp);
        if (!(pap > 0))
            break;
        float alpha = rz / pap;
        for (int i = 0; i < kp; i += 16) {
            ST(x + i, LD(x + i) + alpha * LD(p + i));
            ST(r + i, LD(r + i) - alpha * LD(ap + i));
            ST(z + i, LD(minv + i) * LD(r + i));
        }
        float rzn = vdot(r, z, kp);
        float beta = rzn / rz;
        for (int i = 0; i < kp; i += 16)
            ST(p + i, LD(z + i) + beta * LD(p + i));
        rz = rzn;
    }
    memcpy(xe, x, (size_t)k * sizeof *xe);
    if (c->loss) {
        /* This entity's observed terms with its new vector: sum_j [w t^2 - 2 rhs yhat
         * + cw yhat^2], w t^2 = rhs^2 / w with w = a0 + cw (the a0 yhat^2 of every
         * pair is the Gramian term). */
        double l = 0;
        for (size_t j = 0; j < n; j++) {
            double yhat = vdot(w->Yu + j * kp, x, kp);
            double wsum = (double)cw[j] + c->a0_for_loss;
            double wt = wsum > 0 ? (double)rhs[j] * rhs[j] / wsum : 0;
            l += wt - 2 * rhs[j] * yhat + cw[j] * yhat * yhat;
        }
        w->loss += l;
    }
}

static void solve_chunk(void *ud, size_t e0, size_t e1, int tid) {
    const solve_ctx *c = ud;
    ials_ws *w = &c->ws[tid];
    for (size_t e = e0; e < e1; e++) {
        if (c->steps == 0)
            solve_exact(c, (uint32_t)e, w->vec, w->vec + (size_t)c->k * c->k);
        else
            solve_cg(c, (uint32_t)e, w);
    }
}

/* G = a0 Y'Y, full symmetric, with row stride ld (>= k, zero padding): one
 * single-threaded ssyrk per block of rows on our threads, each into its own
 * partial, and the partials summed in block order: the same Y gives the same G
 * bit for bit whichever thread took which block (per-thread partials would sum
 * the blocks in the order the threads happened to take them, and so make every
 * fit of the same data a little different). */
#define GRAM_BLOCK 4096

typedef struct gram_ctx {
    const float *Y;
    int k;
    float *part; /* per block k x k */
} gram_ctx;

static void gram_rows(void *ud, size_t r0, size_t r1, int tid) {
    (void)tid;
    gram_ctx *c = ud;
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, c->k, (int)(r1 - r0), 1.0f, c->Y + r0 * c->k,
                c->k, 0.0f, c->part + r0 / GRAM_BLOCK * c->k * c->k, c->k);
}

static void gramian_t(const float *Y, uint32_t n, int k, double a0, float *G, int ld, int threads) {
    size_t blocks = (n + GRAM_BLOCK - 1) / GRAM_BLOCK;
    gram_ctx c = {Y, k, mq_calloc(MQ_MAX(blocks, (size_t)1) * k * k, sizeof(float))};
    mq_parallel_for(n, GRAM_BLOCK, threads, gram_rows, &c);
    memset(G, 0, (size_t)ld * ld * sizeof *G);
    for (int a = 0; a < k; a++)
        for (int b = a; b < k; b++) {
            double v = 0;
            for (size_t i = 0; i < blocks; i++)
                v += c.part[i * k * k + (size_t)a * k + b];
            G[(size_t)a * ld + b] = G[(size_t)b * ld + a] = (float)(a0 * v);
        }
    mq_free(c.part);
}

/* The same on the calling thread (training's end, fold-in's Gramian). */
static void gramian(const float *Y, uint32_t n, int k, double a0, float *G, int ld) {
    gramian_t(Y, n, k, a0, G, ld, 1);
}

/* *X = *X Q for n rows of k: the product goes to *spare and the two buffers swap
 * (no copy back). A block of rows per thread of ours, each with single-threaded
 * BLAS: OpenBLAS's own pool would spin against ours. */
typedef struct rot_ctx {
    const float *X;
    float *out;
    const float *Q;
    int k;
} rot_ctx;

static void rotate_rows(void *ud, size_t r0, size_t r1, int tid) {
    rot_ctx *c = ud;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(r1 - r0), c->k, c->k, 1.0f,
                c->X + r0 * c->k, c->k, c->Q, c->k, 0.0f, c->out + r0 * c->k, c->k);
}

static void rotate(float **X, size_t n, int k, const float *Q, float **spare, int threads) {
    rot_ctx c = {*X, *spare, Q, k};
    mq_parallel_for(n, 2048, threads, rotate_rows, &c);
    float *t = *X;
    *X = *spare;
    *spare = t;
}

/* One half-iteration: every entity of s given the other side's factors *Y.
 *
 * For CG, both sides are first rotated into the eigenbasis Q of G = a0 Y'Y (x.y is
 * unchanged by a common rotation; one k x k ssyevd and two sgemms), so the dense
 * part of every entity's system is diag(lambda): no k x k product per CG step.
 * `G` holds a0 Y'Y on entry when g_ready (the previous half-iteration computed
 * it), else it is computed here; it is overwritten. lam_out (may be NULL) gets
 * lambda. With rotate_back, X and Y are returned in Y's original basis. Returns
 * the observed-entry loss terms when `loss` (CG only). Buffers may be swapped. */
static double solve_side(const ials_side *s, float **Y, uint32_t n_other, float **X, int k,
                         int steps, double a0, int threads, float *G, bool g_ready, ials_ws *ws,
                         bool loss, float **spare, bool rotate_back, float *lam_out) {
    int kp = steps ? PAD(k) : k;
    if (!g_ready)
        gramian_t(*Y, n_other, k, a0, G, k, threads);
    float lam[1024 + 16] = {0};
    bool rotated = false;
    if (steps) {
        float ev[1024];
        if (LAPACKE_ssyevd(LAPACK_ROW_MAJOR, 'V', 'U', k, G, k, ev) == 0) {
            for (int i = 0; i < k; i++)
                lam[i] = ev[i] > 0 ? ev[i] : 0;
            rotate(Y, n_other, k, G, spare, threads); /* columns of G: eigenvectors */
            rotate(X, s->n, k, G, spare, threads);
            rotated = true;
        } else {
            /* No eigenbasis (it does not happen for a symmetric matrix in
             * practice): exact solves instead. */
            gramian_t(*Y, n_other, k, a0, G, k, threads);
            steps = 0;
            kp = k;
        }
    }
    if (lam_out)
        memcpy(lam_out, lam, (size_t)k * sizeof *lam_out);
    for (int t = 0; t < threads; t++)
        ws[t].loss = 0;
    solve_ctx c = {s, *Y, *X, G, lam, k, kp, steps, loss && steps, a0, ws};
    mq_parallel_for(s->n, CHUNK, threads, solve_chunk, &c);
    if (rotated && rotate_back) { /* X Q' and Y Q' */
        float *Qt = mq_malloc((size_t)k * k * sizeof *Qt);
        for (int a = 0; a < k; a++)
            for (int b = 0; b < k; b++)
                Qt[(size_t)a * k + b] = G[(size_t)b * k + a];
        rotate(X, s->n, k, Qt, spare, threads);
        rotate(Y, n_other, k, Qt, spare, threads);
        mq_free(Qt);
    }
    double l = 0;
    for (int t = 0; t < threads; t++)
        l += ws[t].loss;
    return l;
}

/* ------------------------------------------------------------------ loss ---- */

/* The full objective after an iteration: the observed-entry terms (accumulated in
 * the item step, or computed here for exact solves), the regularization of both
 * sides, and a0 * sum over all pairs of yhat^2 = a0 <X'X, Y'Y>. */
typedef struct loss_ctx {
    const ials_side *s;
    const float *X, *Y;
    int k;
    double a0;
    double part[256];
} loss_ctx;

static void loss_block(void *ud, size_t e0, size_t e1, int tid) {
    loss_ctx *c = ud;
    const ials_side *s = c->s;
    double acc = 0;
    for (size_t e = e0; e < e1; e++) {
        const float *x = c->X + e * c->k;
        for (size_t j = s->ptr[e]; j < s->ptr[e + 1]; j++) {
            double yhat = kdot(x, c->Y + (size_t)s->idx[j] * c->k, c->k);
            double w = c->a0 + s->cw[j];
            double wt = w > 0 ? (double)s->rhs[j] * s->rhs[j] / w : 0;
            acc += wt - 2 * s->rhs[j] * yhat + s->cw[j] * yhat * yhat;
        }
    }
    c->part[tid] += acc;
}

static double reg_sum(const ials_side *s, const float *X, int k) {
    double acc = 0;
    for (uint32_t e = 0; e < s->n; e++)
        acc += s->reg[e] * kdot(X + (size_t)e * k, X + (size_t)e * k, k);
    return acc;
}

static double total_loss(const ials_side *users, const ials_side *items, const float *X,
                         const float *Y, int k, double a0, int threads, double observed,
                         bool have_observed, float *GX, float *GY) {
    if (!have_observed) {
        loss_ctx c = {items, Y, X, k, a0, {0}};
        mq_parallel_for(items->n, 64, threads, loss_block, &c);
        observed = 0;
        for (int t = 0; t < 256; t++)
            observed += c.part[t];
    }
    double l = observed + reg_sum(users, X, k) + reg_sum(items, Y, k);
    gramian_t(X, users->n, k, 1.0, GX, k, threads);
    gramian_t(Y, items->n, k, a0, GY, k, threads);
    double g = 0;
    for (size_t a = 0; a < (size_t)k * k; a++)
        g += (double)GX[a] * GY[a];
    return l + g;
}

/* ----------------------------------------------------------------- setup ---- */

/* The training data of iALS: only profiles and titles with at least one weighted
 * entry take part (the others' vectors are 0 after one step, since their
 * right-hand side is 0), renumbered densely; row_of / col_of map back. */
typedef struct ials_data {
    ials_side users, items;
    uint32_t *row_of, *col_of;
} ials_data;

static void ials_data_free(ials_data *d) {
    ials_side *ss[2] = {&d->users, &d->items};
    for (int i = 0; i < 2; i++) {
        mq_free(ss[i]->ptr);
        mq_free(ss[i]->idx);
        mq_free(ss[i]->cw);
        mq_free(ss[i]->rhs);
        mq_free(ss[i]->reg);
    }
    mq_free(d->row_of);
    mq_free(d->col_of);
}

/* The observed entries (those with any weight) by user, and transposed by item. */
static void ials_data_build(const mq_matrix *m, const mq_train_params *p, ials_data *d) {
    double a0 = p->ials.unobserved, alpha = p->ials.alpha, negw = p->ials.negative;
    ials_side *US = &d->users, *IS = &d->items;
    uint32_t *ucompact = mq_malloc(((size_t)m->n_rows + 1) * sizeof *ucompact);
    uint32_t *icompact = mq_malloc(((size_t)m->n_cols + 1) * sizeof *icompact);
    for (uint32_t c = 0; c < m->n_cols; c++)
        icompact[c] = UINT32_MAX;
    d->row_of = mq_malloc(((size_t)m->n_rows + 1) * sizeof *d->row_of);
    d->col_of = mq_malloc(((size_t)m->n_cols + 1) * sizeof *d->col_of);
    size_t nnz = 0;
    uint32_t nu = 0, ni = 0;
    for (uint32_t r = 0; r < m->n_rows; r++) {
        ucompact[r] = UINT32_MAX;
        for (size_t e = m->row_ptr[r]; e < m->row_ptr[r + 1]; e++) {
            float cw, rhs;
            mq_ials_weight(a0, alpha, negw, m->conf[e], m->neg[e], &cw, &rhs);
            if (!(cw > 0 || rhs > 0))
                continue;
            nnz++;
            if (ucompact[r] == UINT32_MAX) {
                ucompact[r] = nu;
                d->row_of[nu++] = r;
            }
            if (icompact[m->col[e]] == UINT32_MAX) {
                icompact[m->col[e]] = 0; /* numbered below, in column order */
            }
        }
    }
    for (uint32_t c = 0; c < m->n_cols; c++)
        if (icompact[c] != UINT32_MAX) {
            icompact[c] = ni;
            d->col_of[ni++] = c;
        }
    US->n = nu;
    IS->n = ni;
    US->ptr = mq_calloc((size_t)nu + 1, sizeof *US->ptr);
    IS->ptr = mq_calloc((size_t)ni + 1, sizeof *IS->ptr);
    size_t cap = nnz ? nnz : 1;
    US->idx = mq_malloc(cap * sizeof *US->idx);
    US->cw = mq_malloc(cap * sizeof *US->cw);
    US->rhs = mq_malloc(cap * sizeof *US->rhs);
    IS->idx = mq_malloc(cap * sizeof *IS->idx);
    IS->cw = mq_malloc(cap * sizeof *IS->cw);
    IS->rhs = mq_malloc(cap * sizeof *IS->rhs);
    size_t k = 0;
    for (uint32_t u = 0; u < nu; u++) {
        uint32_t r = d->row_of[u];
        US->ptr[u] = k;
        for (size_t e = m->row_ptr[r]; e < m->row_ptr[r + 1]; e++) {
            float cw, rhs;
            mq_ials_weight(a0, alpha, negw, m->conf[e], m->neg[e], &cw, &rhs);
            if (!(cw > 0 || rhs > 0))
                continue;
            uint32_t i = icompact[m->col[e]];
            US->idx[k] = i;
            US->cw[k] = cw;
            US->rhs[k] = rhs;
            IS->ptr[i + 1]++;
            k++;
        }
    }
    US->ptr[nu] = k;
    for (uint32_t i = 0; i < ni; i++)
        IS->ptr[i + 1] += IS->ptr[i];
    size_t *fill = mq_malloc(((size_t)ni + 1) * sizeof *fill);
    memcpy(fill, IS->ptr, ((size_t)ni + 1) * sizeof *fill);
    for (uint32_t u = 0; u < nu; u++)
        for (size_t j = US->ptr[u]; j < US->ptr[u + 1]; j++) {
            size_t t = fill[US->idx[j]]++;
            IS->idx[t] = u;
            IS->cw[t] = US->cw[j];
            IS->rhs[t] = US->rhs[j];
        }
    mq_free(fill);
    mq_free(ucompact);
    mq_free(icompact);
    /* Frequency-scaled regularization over the whole catalogue and every profile. */
    US->reg = mq_malloc((nu ? nu : 1) * sizeof *US->reg);
    IS->reg = mq_malloc((ni ? ni : 1) * sizeof *IS->reg);
    for (uint32_t u = 0; u < nu; u++)
        US->reg[u] = (float)mq_ials_reg(p->ials.reg, p->ials.reg_exp, a0,
                                        (double)(US->ptr[u + 1] - US->ptr[u]), m->n_cols);
    for (uint32_t i = 0; i < ni; i++)
        IS->reg[i] = (float)mq_ials_reg(p->ials.reg, p->ials.reg_exp, a0,
                                        (double)(IS->ptr[i + 1] - IS->ptr[i]), m->n_rows);
}

/* Full-size factors (n x k, zero rows for those not taking part) from compact. */
static float *expand(const float *C, uint32_t nc, const uint32_t *of, uint32_t n, int k) {
    float *F = mq_calloc(((size_t)n + 1) * k, sizeof *F);
    for (uint32_t i = 0; i < nc; i++)
        memcpy(F + (size_t)of[i] * k, C + (size_t)i * k, (size_t)k * sizeof *F);
    return F;
}

static ials_ws *ws_create(int threads, int k) {
    ials_ws *ws = mq_calloc((size_t)threads, sizeof *ws);
    size_t kp = (size_t)PAD(k);
    for (int t = 0; t < threads; t++)
        ws[t].vec = mq_calloc(kp * kp + 6 * kp, sizeof(float)); /* exact: k*k + k */
    return ws;
}

static void ws_destroy(ials_ws *ws, int threads) {
    for (int t = 0; t < threads; t++) {
        mq_free(ws[t].vec);
        mq_free(ws[t].Yu);
    }
    mq_free(ws);
}

static void init_items(float *Y, uint32_t n, int k, const mq_train_params *p) {
    mq_rng rng;
    mq_rng_seed(&rng, p->seed, 0x1A15);
    double sd = p->ials.init_std / sqrt((double)k);
    for (size_t i = 0; i < (size_t)n * k; i++)
        Y[i] = (float)(mq_rng_normal(&rng) * sd);
}

/* The whole fit; factors and per-iteration losses out. */
static int ials_run(const mq_matrix *m, const mq_train_params *p, mq_train_cb cb, void *ud,
                    float **Xo, float **Yo, double *loss, double *iter_seconds, double *iter_min,
                    mq_err *err) {
    const char *bad = mq_train_params_check(p);
    if (bad)
        return mq_err_set(err, MQ_EINVAL, "%s", bad);
    int k = p->ials.factors, kp = PAD(k), threads = mq_parallel_threads(p->threads);
    int steps = p->ials.cg_steps;
    double a0 = p->ials.unobserved;
    ials_data d = {0};
    ials_data_build(m, p, &d);
    /* Three buffers of the larger side's size: rotations swap them around. */
    uint32_t nu = d.users.n, ni = d.items.n;
    size_t rows = (size_t)MQ_MAX(nu, ni) + 1;
    float *X = mq_calloc(rows * k, sizeof *X), *Y = mq_calloc(rows * k, sizeof *Y);
    float *spare = mq_malloc(rows * k * sizeof *spare);
    init_items(Y, ni, k, p);
    ials_ws *ws = ws_create(threads, k);
    float *G = mq_malloc((size_t)kp * kp * sizeof *G),
          *G2 = mq_malloc((size_t)kp * kp * sizeof *G2);
    float lam_x[1024];
    bool g_ready = false;
    /* BLAS runs only on our threads (one block each) or on k x k matrices: its own
     * pool would spin (sched_yield) against ours. */
    int blas_threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    double t0 = mq_mono_s(), t_iters = 0, t_min = INFINITY;
    size_t nnz = d.users.ptr[d.users.n];
    for (int it = 0; it < p->ials.iters; it++) {
        double ti = mq_mono_s();
        solve_side(&d.users, &Y, ni, &X, k, steps, a0, threads, G, g_ready, ws, false, &spare,
                   false, NULL);
        double observed = solve_side(&d.items, &X, nu, &Y, k, steps, a0, threads, G, false, ws,
                                     true, &spare, false, lam_x);
        if (steps) { /* a0 Y'Y: the next user step's Gramian, and the loss's */
            gramian_t(Y, ni, k, a0, G, k, threads);
            g_ready = true;
        }
        ti = mq_mono_s() - ti;
        t_iters += ti;
        if (ti < t_min)
            t_min = ti;
        double l;
        if (steps) {
            /* In the item step's basis X'X = diag(lam_x) / a0, so the all-pairs term
             * a0 <X'X, Y'Y> is sum_i lam_x[i] G[i][i] / a0. */
            double g = 0;
            for (int i = 0; a0 > 0 && i < k; i++)
                g += (double)lam_x[i] * G[(size_t)i * k + i] / a0;
            l = observed + reg_sum(&d.users, X, k) + reg_sum(&d.items, Y, k) + g;
        } else {
            l = total_loss(&d.users, &d.items, X, Y, k, a0, threads, 0, false, G, G2);
        }
        if (loss)
            loss[it] = l;
        if (cb) {
            mq_train_event ev = {
                "ials",           "iter", it + 1, p->ials.iters, l / (double)(nnz ? nnz : 1),
                mq_mono_s() - t0, NULL};
            cb(ud, &ev);
        }
    }
    openblas_set_num_threads(blas_threads);
    if (iter_seconds)
        *iter_seconds = t_iters / p->ials.iters;
    if (iter_min)
        *iter_min = t_min;
    ws_destroy(ws, threads);
    mq_free(G);
    mq_free(G2);
    mq_free(spare);
    *Xo = expand(X, nu, d.row_of, m->n_rows, k);
    *Yo = expand(Y, ni, d.col_of, m->n_cols, k);
    mq_free(X);
    mq_free(Y);
    ials_data_free(&d);
    return MQ_OK;
}

int mq_ials_fit(const mq_matrix *m, const mq_train_params *p, float **user_factors,
                float **item_factors, double *loss, mq_err *err) {
    return ials_run(m, p, NULL, NULL, user_factors, item_factors, loss, NULL, NULL, err);
}

void mq_ials_user_step(const mq_matrix *m, const mq_train_params *p, const float *item_factors,
                       float *user_factors) {
    int k = p->ials.factors, kp = PAD(k), threads = mq_parallel_threads(p->threads);
    ials_data d = {0};
    ials_data_build(m, p, &d);
    ials_ws *ws = ws_create(threads, k);
    int blas_threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    uint32_t nu = d.users.n, ni = d.items.n;
    size_t rows = (size_t)MQ_MAX(nu, ni) + 1;
    float *G = mq_malloc((size_t)kp * kp * sizeof *G);
    float *X = mq_calloc(rows * k, sizeof *X), *Y = mq_calloc(rows * k, sizeof *Y);
    float *spare = mq_malloc(rows * k * sizeof *spare);
    /* The Gramian is over every title given; the systems only involve the titles
     * with entries, which are all the rotation needs to carry. */
    gramian_t(item_factors, m->n_cols, k, p->ials.unobserved, G, k, threads);
    for (uint32_t i = 0; i < ni; i++)
        memcpy(Y + (size_t)i * k, item_factors + (size_t)d.col_of[i] * k, (size_t)k * sizeof *Y);
    for (uint32_t u = 0; u < nu; u++)
        memcpy(X + (size_t)u * k, user_factors + (size_t)d.row_of[u] * k, (size_t)k * sizeof *X);
    solve_side(&d.users, &Y, ni, &X, k, p->ials.cg_steps, p->ials.unobserved, threads, G, true, ws,
               false, &spare, true, NULL);
    memset(user_factors, 0, (size_t)m->n_rows * k * sizeof *user_factors);
    for (uint32_t u = 0; u < nu; u++)
        memcpy(user_factors + (size_t)d.row_of[u] * k, X + (size_t)u * k, (size_t)k * sizeof *X);
    openblas_set_num_threads(blas_threads);
    ws_destroy(ws, threads);
    mq_free(X);
    mq_free(Y);
    mq_free(spare);
    mq_free(G);
    ials_data_free(&d);
}

int mq_fit_ials(mq_fit_ctx *c, mq_bundle *b, mq_err *err) {
    float *X = NULL, *Y = NULL;
    double loss[64], iter_s = 0, iter_min = 0;
    double *all = mq_malloc((size_t)c->p->ials.iters * sizeof *all);
    int rc = ials_run(c->m, c->p, c->cb, c->ud, &X, &Y, all, &iter_s, &iter_min, err);
    if (rc) {
        mq_free(all);
        return rc;
    }
    int n = c->p->ials.iters < 64 ? c->p->ials.iters : 64;
    memcpy(loss, all, (size_t)n * sizeof *loss);
    mq_free(all);
    mq_free(X);
    if (c->rep) {
        c->rep->ials_iter_seconds = iter_s;
        c->rep->ials_iter_seconds_min = iter_min;
        c->rep->ials_iters = n;
        memcpy(c->rep->ials_loss, loss, (size_t)n * sizeof *loss);
    }
    int k = c->p->ials.factors;
    b->k = (uint32_t)k;
    b->Y = mq_bundle_own(b, MQ_SEC_IALS_Y, Y, (size_t)b->n * k * sizeof *Y);
    float *G = mq_malloc((size_t)k * k * sizeof *G);
    gramian(Y, b->n, k, c->p->ials.unobserved, G, k);
    b->G = mq_bundle_own(b, MQ_SEC_IALS_GRAM, G, (size_t)k * k * sizeof *G);
    b->a0 = c->p->ials.unobserved;
    b->alpha = c->p->ials.alpha;
    b->reg = c->p->ials.reg;
    b->reg_exp = c->p->ials.reg_exp;
    b->negw = c->p->ials.negative;
    b->n_train_cols = c->m->n_cols;
    b->models |= 1u << MQ_MODEL_IALS;
    return MQ_OK;
}

/* ---------------------------------------------------------------- fold-in ---- */

/* The user step for one profile, exactly (see solve_exact): the same equations,
 * accumulated in the same order, and the same solver as training with
 * cg_steps = 0. b->G holds a0 Y'Y. ws holds k*k + k floats. */
int mq_ials_foldin_raw(const mq_bundle *b, const mq_hist_item *h, size_t n, float *out, float *ws) {
    int k = (int)b->k;
    float *A = ws, *rhs = ws + (size_t)k * k;
    memcpy(A, b->G, (size_t)k * k * sizeof *A);
    memset(rhs, 0, (size_t)k * sizeof *rhs);
    size_t n_obs = 0;
    for (size_t j = 0; j < n; j++) {
        if (h[j].col >= b->n)
            continue;
        float cw, r;
        mq_ials_weight(b->a0, b->alpha, b->negw, h[j].conf, h[j].neg, &cw, &r);
        if (!(cw > 0 || r > 0))
            continue;
        n_obs++;
        accumulate(A, rhs, b->Y + (size_t)h[j].col * k, cw, r, k);
    }
    if (n_obs == 0) {
        memset(out, 0, (size_t)k * sizeof *out);
        return 0;
    }
    float reg = (float)mq_ials_reg(b->reg, b->reg_exp, b->a0, (double)n_obs, b->n_train_cols);
    for (int a = 0; a < k; a++)
        A[(size_t)a * k + a] += reg;
    int rc = mq_spd_solve(A, rhs, k);
    if (rc)
        return rc;
    memcpy(out, rhs, (size_t)k * sizeof *out);
    return 0;
}
