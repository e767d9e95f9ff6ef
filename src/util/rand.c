/* rand.c: PCG32 random numbers and the few distributions the generators need. */
#include "util.h"

#include <math.h>

void mq_rng_seed(mq_rng *r, uint64_t seed, uint64_t stream) {
    r->state = 0;
    r->inc = (stream << 1u) | 1u;
    mq_rng_u32(r);
    r->state += seed;
    mq_rng_u32(r);
}

uint32_t mq_rng_u32(mq_rng *r) {
    uint64_t old = r->state;
    r->state = old * 6364136223846793005ULL + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
}

uint32_t mq_rng_below(mq_rng *r, uint32_t n) {
    /* Lemire's debiased multiply-shift is not needed at this rate; the classic
     * threshold rejection from the PCG reference is simple and exact. */
    uint32_t threshold = -n % n;
    for (;;) {
        uint32_t x = mq_rng_u32(r);
        if (x >= threshold)
            return x % n;
    }
}

double mq_rng_unif(mq_rng *r) {
    uint64_t hi = mq_rng_u32(r) >> 5, lo = mq_rng_u32(r) >> 6;
    return (double)(hi * 67108864.0 + lo) / 9007199254740992.0;
}

double mq_rng_normal(mq_rng *r) {
    /* Box-Muller; the second value is discarded to keep the state simple. */
    double u1 = mq_rng_unif(r), u2 = mq_rng_unif(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

double mq_rng_exp(mq_rng *r, double rate) {
    return -log(1.0 - mq_rng_unif(r)) / rate;
}

double mq_rng_gamma(mq_rng *r, double shape) {
    if (shape < 1.0) {
        /* Boost: Gamma(a) = Gamma(a + 1) * U^(1/a). */
        double u = mq_rng_unif(r);
        return mq_rng_gamma(r, shape + 1.0) * pow(u < 1e-300 ? 1e-300 : u, 1.0 / shape);
    }
    double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x, v;
        do {
            x = mq_rng_normal(r);
            v = 1.0 + c * x;
        } while (v <= 0.0);
        v = v * v * v;
        double u = mq_rng_unif(r);
        if (u < 1.0 - 0.0331 * x * x * x * x)
            return d * v;
        if (log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
            return d * v;
    }
}

size_t mq_rng_categorical(mq_rng *r, const double *w, size_t n) {
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += w[i];
    double x = mq_rng_unif(r) * total;
    for (size_t i = 0; i < n; i++) {
        x -= w[i];
        if (x < 0)
            return i;
    }
    return n ? n - 1 : 0;
}
