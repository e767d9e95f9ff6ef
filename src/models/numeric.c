/* numeric.c: small numeric pieces the models share: dot/axpy, a k x k Cholesky
 * solve (used identically by the iALS exact user step and by fold-in, so the two
 * agree to the last bit), CRC-32C for the bundle's checksums, top-k by a heap or by a
 * radix selection, and the parallel-for that shares the thread budget with OpenBLAS. */
#include "models_impl.h"

#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>

float mq_dot(const float *a, const float *b, int k) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int i = 0;
    for (; i + 4 <= k; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < k; i++)
        s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

void mq_axpy(float a, const float *x, float *y, int k) {
    for (int i = 0; i < k; i++)
        y[i] += a * x[i];
}

/* Cholesky A = L L' on the lower triangle of a row-major k x k matrix (rows are
 * contiguous, so every inner product runs over contiguous memory), then the two
 * triangular solves. The upper triangle is not read. */
int mq_spd_solve(float *A, float *b, int k) {
    for (int j = 0; j < k; j++) {
        float *Lj = A + (size_t)j * k;
        double s = (double)Lj[j] - mq_dot(Lj, Lj, j);
        if (!(s > 0))
            return j + 1;
        float d = (float)sqrt(s);
        Lj[j] = d;
        for (int i = j + 1; i < k; i++) {
            float *Li = A + (size_t)i * k;
            Li[j] = (Li[j] - mq_dot(Li, Lj, j)) / d;
        }
    }
    for (int i = 0; i < k; i++) { /* L z = b */
        const float *Li = A + (size_t)i * k;
        b[i] = (b[i] - mq_dot(Li, b, i)) / Li[i];
    }
    for (int i = k - 1; i >= 0; i--) { /* L' x = z */
        float s = b[i];
        for (int r = i + 1; r < k; r++)
            s -= A[(size_t)r * k + i] * b[r];
        b[i] = s / A[(size_t)i * k + i];
    }
    return 0;
}

/* --------------------------------------------------------------- CRC-32C ---- */

/* Castagnoli polynomial, reflected (as iSCSI and ext4 use it). Table-driven,
 * slicing by 8; the SSE4.2 instruction when the CPU has it. */
static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xFF];
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const unsigned char *p,
                                                         size_t n) {
    uint64_t c = crc;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--)
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    return c32;
}
#endif

uint32_t mq_crc32c(uint32_t crc, const void *data, size_t n) {
    const unsigned char *p = data;
    crc = ~crc;
#if defined(__x86_64__)
    if (__builtin_cpu_supports("sse4.2"))
        return ~crc_hw(crc, p, n);
#endif
    pthread_once(&crc_once, crc_init);
    while (n >= 8) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4);
        memcpy(&hi, p + 4, 4);
        lo ^= crc;
        crc = crc_table[7][lo & 0xFF] ^ crc_table[6][(lo >> 8) & 0xFF] ^
              crc_table[5][(lo >> 16) & 0xFF] ^ crc_table[4][lo >> 24] ^ crc_table[3][hi & 0xFF] ^
              crc_table[2][(hi >> 8) & 0xFF] ^ crc_table[1][(hi >> 16) & 0xFF] ^
              crc_table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xFF];
    return ~crc;
}

/* ------------------------------------------------------------------ heap ---- */

/* a is worse than b: lower score, or equal score and higher index. */
static bool worse(float sa, uint32_t ia, float sb, uint32_t ib) {
    return sa < sb || (sa == sb && ia > ib);
}

static void sift_down(mq_heap *h, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && worse(h->s[l], h->i[l], h->s[m], h->i[m]))
            m = l;
        if (r < h->n && worse(h->s[r], h->i[r], h->s[m], h->i[m]))
            m = r;
        if (m == i)
            return;
        float ts = h->s[i];
        uint32_t ti = h->i[i];
        h->s[i] = h->s[m];
        h->i[i] = h->i[m];
        h->s[m] = ts;
        h->i[m] = ti;
        i = m;
    }
}

void mq_heap_push(mq_heap *h, float s, uint32_t i) {
    if (h->k == 0)
        return;
    if (h->n < h->k) { /* sift up */
        size_t c = h->n++;
        while (c > 0) {
            size_t p = (c - 1) / 2;
            if (!worse(s, i, h->s[p], h->i[p]))
                break;
            h->s[c] = h->s[p];
            h->i[c] = h->i[p];
            c = p;
        }
        h->s[c] = s;
        h->i[c] = i;
        return;
    }
    if (!worse(h->s[0], h->i[0], s, i))
        return;
    h->s[0] = s;
    h->i[0] = i;
    sift_down(h, 0);
}

size_t mq_heap_sort(mq_heap *h) {
    size_t n = h->n;
    /* Pop the worst to the back repeatedly: the array ends best first. */
    while (h->n > 1) {
        size_t last = --h->n;
        float ts = h->s[0];
        uint32_t ti = h->i[0];
        h->s[0] = h->s[last];
        h->i[0] = h->i[last];
        h->s[last] = ts;
        h->i[last] = ti;
        sift_down(h, 0);
    }
    h->n = n;
    return n;
}

size_t mq_topk(const float *scores, uint32_t n, size_t k, uint32_t *cols, float *out_scores) {
    if (k == 0)
        return 0;
    float *s = out_scores ? out_scores : mq_malloc((k ? k : 1) * sizeof *s);
    mq_heap h = {s, cols, 0, k};
    for (uint32_t c = 0; c < n; c++) {
        float v = scores[c];
        if (v == -INFINITY || v != v)
            continue;
        if (h.n == h.k && !(v > h.s[0] || (v == h.s[0] && c < h.i[0])))
            continue; /* fast path: not better than the current k-th */
        mq_heap_push(&h, v, c);
    }
    size_t got = mq_heap_sort(&h);
    if (!out_scores)
        mq_free(s);
    return got;
}

/* ------------------------------------------------------------ radix top-k ---- */

/* Order-preserving map of a score to an unsigned key (larger score, larger key);
 * -0 is +0 (they compare equal, so their ties go by index as in mq_topk), and
 * -INFINITY and NaN, which are never returned, map to 0 below every other key
 * (a rankable key is between those of -FLT_MAX and +INFINITY). */
#define KEY_LEAST 0x00800000u
#define KEY_MOST 0xff800000u
static uint32_t score_key(float v) {
    float z = v + 0.0f; /* -0 + 0 = +0; every other value unchanged */
    uint32_t u;
    memcpy(&u, &z, sizeof u);
    u ^= (uint32_t)((int32_t)u >> 31) | 0x80000000u; /* negative: all bits; else the sign */
    /* -INFINITY maps to 0x007fffff, a NaN below it or above +INFINITY's 0xff800000. */
    return u - KEY_LEAST <= KEY_MOST - KEY_LEAST ? u : 0;
}

typedef float v8f __attribute__((vector_size(32)));
typedef uint32_t v8u __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define TOPK_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TOPK_CLONES
#endif

/* key[c] = score_key(scores[c]), 8 lanes at a time: the keys are a pass of their
 * own (counting them, which cannot be vectorized, is then a load, a shift and an
 * increment per key). The same integer steps as score_key, lane by lane. */
TOPK_CLONES static void score_keys(const float *scores, uint32_t n, uint32_t *key) {
    uint32_t c = 0;
    for (; c + 8 <= n; c += 8) {
        v8f v;
        memcpy(&v, scores + c, sizeof v);
        v += 0.0f;
        v8u u;
        memcpy(&u, &v, sizeof u);
        u ^= (v8u)((v8i)u >> 31) | 0x80000000u;
        u &= (v8u)(u - KEY_LEAST <= KEY_MOST - KEY_LEAST);
        memcpy(key + c, &u, sizeof u);
    }
    for (; c < n; c++)
        key[c] = score_key(scores[c]);
}

size_t mq_topk_scratch_len(uint32_t n) {
    return (size_t)n / 2 + 2 * (size_t)n + 3;
}

/* Three levels of digits, most significant first, for the selection. */
static const int sel_shift[3] = {21, 10, 0};
static const int sel_bits[3] = {11, 11, 10};
/* A selection stops refining once the keys it keeps exceed k by at most this
 * many: sorting a few more is cheaper than another pass over n. */
#define TOPK_SLACK 256

size_t mq_topk_radix(const float *scores, uint32_t n, size_t k, uint32_t *cols, float *out_scores,
                     uint64_t *scratch) {
    if (k == 0 || n == 0)
        return 0;
    uint32_t *key = (uint32_t *)scratch;
    uint64_t *a = scratch + n / 2 + 1, *b = a + n + 1;
    uint32_t hist[2048];
    /* The selection: which digit prefix holds the k-th best key, refined one
     * digit at a time while that bucket is large. Keys >= lo are then the best k
     * and a few more. */
    score_keys(scores, n, key);
    memset(hist, 0, sizeof hist);
    for (uint32_t c = 0; c < n; c++)
        hist[key[c] >> 21]++;
    size_t m = n - hist[0]; /* rankable keys are >= 0x00800000: bucket 0 is the excluded */
    size_t want = k < m ? k : m;
    if (want == 0)
        return 0;
    uint32_t prefix = 0, mask = 0;
    size_t above = 0;
    for (int level = 0; level < 3; level++) {
        uint32_t width = 1u << sel_bits[level];
        if (level > 0) {
            memset(hist, 0, width * sizeof *hist);
            for (uint32_t c = 0; c < n; c++)
                if ((key[c] & mask) == prefix)
                    hist[(key[c] >> sel_shift[level]) & (width - 1)]++;
        }
        uint32_t d = width - 1;
        while (d > 0 && above + hist[d] < want)
            above += hist[d--];
        prefix |= d << sel_shift[level];
        mask |= (width - 1) << sel_shift[level];
        if (above + hist[d] - want <= TOPK_SLACK)
            break;
    }
    uint32_t lo = prefix; /* > 0: a rankable key's bucket */
    size_t g = 0;
    for (uint32_t c = 0; c < n; c++) {
        a[g] = ((uint64_t)~key[c] << 32) | c;
        g += key[c] >= lo;
    }
    /* LSD radix sort on the inverted keys (stable: equal keys keep the index
     * order they were gathered in), a byte at a time, skipping bytes every key
     * shares. The four bytes' counts are taken in one pass. */
    uint32_t cnt[4][257];
    memset(cnt, 0, sizeof cnt);
    for (size_t i = 0; i < g; i++) {
        uint32_t hi = (uint32_t)(a[i] >> 32);
        cnt[0][(hi & 0xff) + 1]++;
        cnt[1][((hi >> 8) & 0xff) + 1]++;
        cnt[2][((hi >> 16) & 0xff) + 1]++;
        cnt[3][(hi >> 24) + 1]++;
    }
    for (int d = 0; d < 4; d++) {
        int shift = 32 + 8 * d;
        uint32_t *c = cnt[d];
        if (c[((a[0] >> shift) & 0xff) + 1] == g)
            continue;
        for (int v = 0; v < 256; v++)
            c[v + 1] += c[v];
        for (size_t i = 0; i < g; i++)
            b[c[(a[i] >> shift) & 0xff]++] = a[i];
        uint64_t *t = a;
        a = b;
        b = t;
    }
    /* The columns in a loop of their own: it vectorizes. */
    for (size_t i = 0; i < want; i++)
        cols[i] = (uint32_t)a[i];
    if (out_scores)
        for (size_t i = 0; i < want; i++)
            out_scores[i] = scores[cols[i]];
    return want;
}

/* ---------------------------------------------------------- parallel for ---- */

typedef struct {
    mq_par_fn fn;
    void *ud;
    size_t n, chunk;
    atomic_size_t next;
} par_job;

typedef struct {
    par_job *job;
    int tid;
} par_arg;

static void *par_worker(void *arg) {
    par_arg *a = arg;
    par_job *j = a->job;
    for (;;) {
        size_t b = atomic_fetch_add(&j->next, j->chunk);
        if (b >= j->n)
            break;
        size_t e = b + j->chunk < j->n ? b + j->chunk : j->n;
        j->fn(j->ud, b, e, a->tid);
    }
    return NULL;
}

int mq_parallel_threads(int threads) {
    int t = threads > 0 ? threads : mq_threads_budget();
    return t < 1 ? 1 : t > 256 ? 256 : t;
}

void mq_parallel_for(size_t n, size_t chunk, int threads, mq_par_fn fn, void *ud) {
    if (n == 0)
        return;
    int t = mq_parallel_threads(threads);
    if (chunk == 0)
        chunk = 1;
    size_t chunks = (n + chunk - 1) / chunk;
    if ((size_t)t > chunks)
        t = (int)chunks;
    par_job job = {fn, ud, n, chunk, 0};
    if (t == 1) {
        par_arg a = {&job, 0};
        par_worker(&a);
        return;
    }
    /* Our threads each call BLAS on small blocks: one OpenBLAS thread per caller
     * keeps the total at the budget. */
    int blas_threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    pthread_t tids[256];
    par_arg args[256];
    int started = 0;
    for (int i = 1; i < t; i++) {
        args[i] = (par_arg){&job, i};
        if (pthread_create(&tids[i], NULL, par_worker, &args[i]) != 0)
            break; /* the calling thread does the rest */
        started = i;
    }
    args[0] = (par_arg){&job, 0};
    par_worker(&args[0]);
    for (int i = 1; i <= started; i++)
        pthread_join(tids[i], NULL);
    openblas_set_num_threads(blas_threads);
}
