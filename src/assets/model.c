/* model.c: the model each slot learns, shared by every title and profile.
 *
 * Linear: prior w ~ N(0, S0) (S0 diagonal: prior_var on the profile-feature x tag
 * crosses, prior_var_terms elsewhere), reward r = w.x + N(0, noise_var), so the
 * posterior is N(mu, P^-1) with
 *
 *     P = X'X / noise_var + S0^-1,   mu = P^-1 X'r / noise_var
 *
 * (Agrawal & Goyal 2013, "Thompson Sampling for Contextual Bandits with Linear
 * Payoffs", Algorithm 1, with v = ts_scale; LinUCB of Li et al. 2010 uses the same
 * P as its A matrix).
 *
 * Logistic (the default): the Laplace approximation of Bayesian logistic
 * regression, P = X'WX + S0^-1 and P mu = X'Wz, where each impression adds one
 * Newton (IRLS) step taken at the posterior mean of the moment: weight w = p(1 - p)
 * and working response z = eta + (y - p) / w, with the overall log-odds as an
 * offset (Chapelle & Li 2011 use the Laplace approximation for Thompson sampling
 * on display ads; theirs is diagonal, this one is full).
 *
 * Either way every finalized impression adds its sparse x to the statistics at
 * once: that is the online update, O(nnz(x)^2). The posterior is refreshed from
 * them on a schedule, a Cholesky factorization P = U'U (LAPACK dpotrf) followed by
 * triangular solves for mu and for a bank of K draws mu + v U^-1 z, z ~ N(0, I).
 * Acting on a posterior a few hundred updates old is the batched Thompson
 * sampling that Chapelle & Li 2011 found to lose little.
 *
 * The draws come from a PCG stream seeded by (seed, slot, refresh number), so the
 * posterior, like the statistics, is a pure function of the events applied: two
 * nodes that applied the same log hold the same bank. */
#include "assets_impl.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

void model_init(slot_model *m, int d, int draws) {
    m->d = d;
    m->A = mq_calloc((size_t)d * (size_t)d, sizeof(double));
    m->b = mq_calloc((size_t)d, sizeof(double));
    m->mean = mq_calloc((size_t)d, sizeof(float));
    m->bank = mq_calloc((size_t)d * (size_t)draws, sizeof(float));
    m->cov = NULL;
    m->have_cov = false;
}

void model_free(slot_model *m) {
    mq_free(m->A);
    mq_free(m->b);
    mq_free(m->mean);
    mq_free(m->bank);
    mq_free(m->cov);
    m->A = m->b = m->cov = NULL;
    m->mean = m->bank = NULL;
    mq_free(m->vars.items);
    mq_free(m->var_imp.items);
    mq_free(m->var_rew.items);
}

double model_update(slot_model *m, const int *idx, const double *val, int nnz, double reward,
                    const mq_assets_params *pr, double *info) {
    const size_t d = (size_t)m->d;
    double w = 1, target = reward, resid;
    if (!pr->logistic) {
        double eta = 0;
        for (int i = 0; i < nnz; i++)
            eta += m->mean[idx[i]] * val[i];
        resid = reward - eta;
        *info = 1.0 / pr->noise_var;
    } else {
        /* One Newton (IRLS) step of logistic regression at the current mean,
         * accumulated: weight w = p(1 - p), working response eta + (y - p) / w,
         * eta measured from the offset o (the overall log-odds), so X'WX and X'Wz
         * are the sufficient statistics of the Laplace approximation. */
        double g = (m->reward_sum + 1.0) / ((double)m->updates + 2.0);
        double o = log(g / (1 - g)), eta = 0;
        for (int i = 0; i < nnz; i++)
            eta += m->mean[idx[i]] * val[i];
        double p = 1.0 / (1.0 + exp(-(o + eta)));
        w = p * (1 - p);
        if (w < 1e-6)
            w = 1e-6;
        target = eta + (reward - p) / w;
        resid = reward - p;
        *info = w;
    }
    for (int i = 0; i < nnz; i++) {
        m->b[idx[i]] += w * target * val[i];
        double *row = m->A + (size_t)idx[i] * d;
        double wv = w * val[i];
        for (int j = 0; j < nnz; j++)
            if (idx[j] >= idx[i])
                row[idx[j]] += wv * val[j];
    }
    m->updates++;
    m->since++;
    m->reward_sum += reward;
    return resid;
}

bool model_due(const slot_model *m, const mq_assets_params *p) {
    if (!m->since || p->refresh_every == 0)
        return false;
    /* Often while there is little data (a quarter of what it has seen), at most
     * refresh_every apart later. */
    uint64_t quarter = m->updates / 4;
    uint64_t every = MQ_MIN((uint64_t)p->refresh_every, MQ_MAX((uint64_t)32, quarter));
    return m->since >= every;
}

void model_posterior(const slot_model *m, const mq_assets_params *p, int slot, bool want_cov,
                     model_post *out) {
    const int d = m->d, K = p->draws;
    const size_t dd = (size_t)d * (size_t)d;
    memset(out, 0, sizeof *out);
    double *U = mq_malloc(dd * sizeof(double));
    double *mu = mq_malloc((size_t)d * sizeof(double));
    double *Z = mq_malloc((size_t)d * (size_t)K * sizeof(double));
    /* The linear model's likelihood precision; the logistic statistics carry their
     * own weights. */
    const double inv_noise = p->logistic ? 1.0 : 1.0 / p->noise_var;
    /* The many crosses of profile features with tags get the tighter prior: each
     * is learned from a thin slice of the data, and unshrunk noise there would
     * outvote the few terms that every impression informs (tags on their own, the
     * affinity, personal and editorial terms, the main effects). */
    const double inv_prior_cross = 1.0 / p->prior_var, inv_prior = 1.0 / p->prior_var_terms;
    /* P in the row-major upper triangle, which is LAPACK's column-major lower. */
    for (int i = 0; i < d; i++) {
        const double *a = m->A + (size_t)i * d;
        double *u = U + (size_t)i * d;
        for (int j = 0; j < i; j++)
            u[j] = 0;
        for (int j = i; j < d; j++)
            u[j] = a[j] * inv_noise;
        /* crosses: features k V + j with k >= 1 (k = 0 is the tag on its own) */
        bool cross = i >= m->V && i < m->i_aff;
        u[i] += cross ? inv_prior_cross : inv_prior;
        mu[i] = m->b[i] * inv_noise;
    }
    lapack_int info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', d, U, d);
    if (info != 0) {
        /* Cannot happen with a positive prior variance short of overflow; keep the
         * previous posterior rather than serve garbage. */
        mq_log(MQ_LOG_ERROR,
               "assets: %s posterior refresh failed (dpotrf info %d); keeping "
               "the previous posterior",
               mq_asset_slot_name((mq_asset_slot)slot), (int)info);
        goto out;
    }
    /* P = U'U: U' y = X'r / noise_var, then U mu = y. */
    cblas_dtrsv(CblasRowMajor, CblasUpper, CblasTrans, CblasNonUnit, d, U, d, mu, 1);
    cblas_dtrsv(CblasRowMajor, CblasUpper, CblasNoTrans, CblasNonUnit, d, U, d, mu, 1);
    /* Draws: mu + v U^-1 z has covariance v^2 P^-1. */
    mq_rng r;
    mq_rng_seed(&r, p->seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(slot + 1)), m->refreshes + 1);
    for (size_t i = 0; i < (size_t)d * (size_t)K; i++)
        Z[i] = mq_rng_normal(&r);
    cblas_dtrsm(CblasRowMajor, CblasLeft, CblasUpper, CblasNoTrans, CblasNonUnit, d, K, 1.0, U, d,
                Z, K);
    out->mean = mq_malloc((size_t)d * sizeof(float));
    out->bank = mq_malloc((size_t)d * (size_t)K * sizeof(float));
    for (int i = 0; i < d; i++)
        out->mean[i] = (float)mu[i];
    for (int k = 0; k < K; k++) {
        float *row = out->bank + (size_t)k * d;
        for (int i = 0; i < d; i++)
            row[i] = (float)(mu[i] + p->ts_scale * Z[(size_t)i * K + k]);
    }
    if (want_cov) {
        info = LAPACKE_dpotri(LAPACK_COL_MAJOR, 'L', d, U, d);
        if (info == 0) {
            out->cov = mq_malloc(dd * sizeof(double));
            for (int i = 0; i < d; i++)
                for (int j = i; j < d; j++)
                    out->cov[(size_t)i * d + j] = out->cov[(size_t)j * d + i] =
                        U[(size_t)i * d + j];
        }
    }
    out->ok = true;
out:
    mq_free(U);
    mq_free(mu);
    mq_free(Z);
}

void model_publish(slot_model *m, model_post *post) {
    m->since = 0;
    if (!post->ok)
        return;
    mq_free(m->mean);
    mq_free(m->bank);
    m->mean = post->mean;
    m->bank = post->bank;
    if (post->cov) {
        mq_free(m->cov);
        m->cov = post->cov;
        m->have_cov = true;
    }
    post->mean = post->bank = NULL;
    post->cov = NULL;
    m->refreshes++;
    m->version++;
}

void model_refresh(slot_model *m, const mq_assets_params *p, int slot, bool want_cov) {
    model_post post;
    model_posterior(m, p, slot, want_cov, &post);
    model_publish(m, &post);
}
