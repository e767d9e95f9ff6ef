/* replay.c: offline estimators of a policy's reward from logged impressions.
 *
 * Replay (Li, Chu, Langford & Wang 2011, "Unbiased Offline Evaluation of
 * Contextual-bandit-based News Article Recommendation Algorithms", Algorithm 1):
 * walk the log; where the evaluated policy picks the variant the log shows, the
 * impression counts (and a learning policy may learn from it); elsewhere it is
 * skipped. When the log chose uniformly at random, the matched impressions are
 * distributed exactly as the policy's own would be, so their mean reward is an
 * unbiased estimate of the policy's (Theorem 1 there). Interval: mean +- z
 * s / sqrt(n), s the sample standard deviation of the matched rewards.
 *
 * Self-normalized IPS (Swaminathan & Joachims 2015, "The Self-Normalized
 * Estimator for Counterfactual Learning"): sum w r / sum w with w = pi(shown) /
 * logged propensity; uses every impression the policy could have shown, and any
 * logging policy with known propensities. Interval by the delta method for a
 * ratio: var = sum w^2 (r - V)^2 / (sum w)^2. Both intervals are normal
 * approximations that treat impressions as independent; impressions of one
 * profile are correlated, so they are somewhat optimistic. */
#include "assets_impl.h"

#include <math.h>
#include <string.h>

void mq_replay_init(mq_replay *r) {
    memset(r, 0, sizeof *r);
}

void mq_replay_add(mq_replay *r, int logged, double logged_prob, int chosen, double pi_logged,
                   double reward) {
    r->logged += 1;
    if (chosen == logged) {
        r->matched += 1;
        r->sum_r += reward;
        r->sum_r2 += reward * reward;
    }
    if (logged_prob > 0) {
        double w = pi_logged / logged_prob;
        r->sw += w;
        r->swr += w * reward;
        r->sw2 += w * w;
        r->sw2r += w * w * reward;
        r->sw2r2 += w * w * reward * reward;
    }
}

mq_estimate mq_replay_estimate(const mq_replay *r, double z) {
    mq_estimate e = {NAN, NAN, NAN, NAN, r->matched};
    if (r->matched <= 0)
        return e;
    double n = r->matched, mean = r->sum_r / n;
    double var = n > 1 ? (r->sum_r2 - n * mean * mean) / (n - 1) : 0;
    if (var < 0)
        var = 0;
    e.value = mean;
    e.se = sqrt(var / n);
    e.lo = mean - z * e.se;
    e.hi = mean + z * e.se;
    return e;
}

mq_estimate mq_snips_estimate(const mq_replay *r, double z) {
    mq_estimate e = {NAN, NAN, NAN, NAN, 0};
    if (r->sw <= 0)
        return e;
    double v = r->swr / r->sw;
    /* sum w^2 (r - v)^2 = sum w^2 r^2 - 2 v sum w^2 r + v^2 sum w^2 */
    double num = r->sw2r2 - 2 * v * r->sw2r + v * v * r->sw2;
    if (num < 0)
        num = 0;
    e.value = v;
    e.se = sqrt(num) / r->sw;
    e.lo = v - z * e.se;
    e.hi = v + z * e.se;
    e.n = r->sw2 > 0 ? r->sw * r->sw / r->sw2 : 0; /* Kish's effective sample size */
    return e;
}
