/* assets_replay.c: `marquee eval --assets`: the asset policies side by side on the
 * store's log, by replay (Li et al. 2011) and self-normalized IPS.
 *
 * The log's impressions are split in log order: the first train_frac warm every
 * policy (the logging policy chose uniformly, so each bandit may learn from
 * every logged impression and its reward); on the rest each policy chooses for
 * every impression, in the context of the moment (its taste from the events
 * before it). Two copies of each policy are evaluated in the same pass:
 *
 *   learning  Li et al.'s Algorithm 1: the policy learns from the impressions
 *             where its choice matched the log (those are the only rewards it
 *             would have seen), so it is evaluated as it would run online;
 *   frozen    a copy of the warm policy taken at the split, which learns
 *             nothing more.
 *
 * Replay uses only impressions logged uniformly at random (propensity 1/n); SNIPS
 * uses every impression with a propensity. With the synthetic world's ground
 * truth in the store, the report adds the truth: the expected take rate of the
 * same policy (the same sequence of states, hence of choice distributions) on
 * every test impression, sum_a pi(a | x) P(play | x, a) from the behaviour model,
 * which is what the simulator would measure running that policy online on
 * those impressions. A replay interval that covers it is the agreement the issue
 * asks for. */
#include "assets_eval_impl.h"

#include <math.h>
#include <string.h>

enum { LEARN = 0, FROZEN = 1 };

typedef struct {
    const mq_assets_eval_opts *o;
    const mq_assets_params *base;
    const mq_catalog *cat;
    mq_assets_replay_report *r;
    ae_truth *truth;
    /* pass 0 */
    mq_asset_rewards *rw;
    float *label; /* reward per seq, NaN for non-impressions */
    int64_t label_len;
    MQ_VEC(int64_t) imp_seq;
    /* pass 1 */
    int64_t split_seq;
    bool split_done;
    mq_assets *bandit[MQ_ASSETS_EVAL_POLICIES][2];
    ae_ctx *ctx[MQ_ASSETS_EVAL_POLICIES][2];
    mq_replay rp[MQ_ASSETS_EVAL_POLICIES][2];
    double truth_sum[MQ_ASSETS_EVAL_POLICIES][2];
    double truth_n, logged_sum, logged_n;
    mq_rng rng;
    mq_progress bar;
    uint64_t seen;
    mq_err *err;
    int rc;
} rctx;

static void tick(rctx *c) {
    if (c->o->progress && (++c->seen & 0xffff) == 0)
        mq_progress_update(&c->bar, c->seen);
}

static int label_cb(void *ud, const mq_event *e) {
    rctx *c = ud;
    tick(c);
    mq_asset_rewards_add(c->rw, e);
    if (e->type == MQ_EV_IMPRESSION && e->title_id)
        MQ_VEC_PUSH(&c->imp_seq, e->seq);
    int64_t seq;
    double reward;
    while (mq_asset_rewards_next(c->rw, &seq, &reward))
        if (seq >= 0 && seq < c->label_len)
            c->label[seq] = (float)reward;
    return 0;
}

/* At the split: the frozen copies are checkpoints of the warm bandits, which
 * never refresh their posterior again. */
static int split(rctx *c, const mq_event *e) {
    c->r->split_ms = e->ts_ms;
    mq_buf b;
    mq_buf_init(&b, 0);
    for (size_t i = 0; i < c->r->n; i++) {
        mq_assets *l = c->bandit[i][LEARN];
        mq_assets_refresh(l);
        mq_assets_serialize(l, &b);
        if ((c->rc = mq_assets_deserialize(c->bandit[i][FROZEN], b.data, b.len, c->err)))
            break;
        mq_assets_set_refresh_every(c->bandit[i][FROZEN], 0);
    }
    mq_buf_free(&b);
    c->split_done = true;
    return c->rc;
}

/* The frozen copies are made at the split, so before it only the learning ones
 * need the events. */
static void feed_all(rctx *c, const mq_event *e) {
    for (size_t i = 0; i < c->r->n; i++)
        for (int k = 0; k < (c->split_done ? 2 : 1); k++)
            mq_assets_observe(c->bandit[i][k], e);
}

static int replay_cb(void *ud, const mq_event *e) {
    rctx *c = ud;
    tick(c);
    if (e->type != MQ_EV_IMPRESSION || !e->title_id) {
        feed_all(c, e);
        return 0;
    }
    if (e->seq <= c->split_seq) {
        c->r->train++;
        feed_all(c, e);
        return 0;
    }
    if (!c->split_done && split(c, e))
        return 1;
    const mq_title *t = mq_catalog_title(c->cat, e->title_id);
    double lp = NAN;
    int logged = t ? ae_logged_variant(t, c->o->slot, e, &lp) : -1;
    float reward = e->seq < c->label_len ? c->label[e->seq] : NAN;
    if (logged < 0 || isnan(reward)) {
        c->r->skipped++;
        return 0;
    }
    c->r->test++;
    int n = (int)MQ_MIN(c->o->slot == MQ_SLOT_ARTWORK ? t->n_artwork : t->n_synopses,
                        (uint32_t)MQ_ASSETS_MAX_VARIANTS);
    bool uniform = !isnan(lp) && fabs(lp - 1.0 / n) < 1e-9;
    bool have_prop = !isnan(lp) && lp > 0;
    c->r->uniform += uniform;
    c->logged_sum += reward;
    c->logged_n += 1;
    double attr[MQ_ASSETS_MAX_VARIANTS];
    bool truth = c->truth && ae_truth_attraction(c->truth, e, t, c->o->slot, attr) == n;
    if (truth)
        c->truth_n += 1;
    for (size_t i = 0; i < c->r->n; i++)
        for (int k = 0; k < 2; k++) {
            mq_assets *a = c->bandit[i][k];
            const mq_asset_context *ctx = ae_prepare(a, c->ctx[i][k], e);
            double probs[MQ_ASSETS_MAX_VARIANTS];
            if (mq_assets_distribution(a, ctx, t, c->o->slot, probs) != n)
                continue;
            mq_asset_choice ch;
            mq_assets_choose(a, ctx, t, &c->rng, &ch);
            int chosen = ch.slot[c->o->slot].variant;
            if (have_prop)
                mq_replay_add(&c->rp[i][k], logged, lp, uniform ? chosen : -1, probs[logged],
                              reward);
            if (truth) {
                double v = 0;
                for (int q = 0; q < n; q++)
                    v += probs[q] * attr[q];
                c->truth_sum[i][k] += v;
            }
            /* Li et al.: the policy sees the outcome only where it chose what was
             * shown. */
            if (k == LEARN && uniform && chosen == logged)
                mq_assets_observe(a, e);
        }
    return 0;
}

int mq_assets_eval_replay(mq_store *s, const mq_assets_params *base, const mq_assets_eval_opts *o,
                          mq_assets_replay_report *r, mq_err *err) {
    memset(r, 0, sizeof *r);
    r->slot = o->slot;
    double t0 = mq_mono_s();
    rctx c;
    memset(&c, 0, sizeof c);
    c.o = o;
    c.base = base;
    c.r = r;
    c.err = err;
    mq_catalog *cat = NULL;
    ae_truth truth = {0};
    int rc;
    if (o->slot != MQ_SLOT_ARTWORK && o->slot != MQ_SLOT_SYNOPSIS) {
        rc = mq_err_set(err, MQ_EINVAL,
                        "assets evaluation: expected the artwork or synopsis slot, got %s (the "
                        "impression event does not carry labels)",
                        mq_asset_slot_name(o->slot));
        goto out;
    }
    mq_store_stats st;
    if ((rc = mq_store_stats_get(s, &st, err)) || (rc = mq_store_load_catalog(s, &cat, err)))
        goto out;
    c.cat = cat;
    mq_err terr = {0};
    if (ae_truth_open(s, cat, &truth, &terr) == MQ_OK) {
        c.truth = &truth;
        r->have_truth = true;
    }
    /* pass 0: the reward of every impression, and the split */
    c.label_len = st.last_seq + 1;
    c.label = mq_malloc((size_t)c.label_len * sizeof(float));
    for (int64_t i = 0; i < c.label_len; i++)
        c.label[i] = NAN;
    c.rw = mq_asset_rewards_create(base);
    if (o->progress)
        mq_progress_start(&c.bar, "assets: rewards", "events", st.events);
    mq_event_filter f = MQ_EVENT_FILTER_ALL;
    if ((rc = mq_store_each_event(s, &f, label_cb, &c, err)))
        goto out;
    mq_asset_rewards_flush(c.rw);
    int64_t seq;
    double reward;
    while (mq_asset_rewards_next(c.rw, &seq, &reward))
        if (seq >= 0 && seq < c.label_len)
            c.label[seq] = (float)reward;
    if (o->progress)
        mq_progress_finish(&c.bar);
    r->impressions = c.imp_seq.len;
    if (r->impressions < 10) {
        rc = mq_err_set(err, MQ_EINVAL,
                        "assets evaluation: expected logged impressions with artwork, found %llu "
                        "impressions in the store",
                        (unsigned long long)r->impressions);
        goto out;
    }
    size_t k = (size_t)(o->train_frac * (double)r->impressions);
    c.split_seq = k ? c.imp_seq.items[k - 1] : 0;
    /* pass 1: the policies */
    r->n = MQ_MIN(ae_roster_len, (size_t)MQ_ASSETS_EVAL_POLICIES);
    for (size_t i = 0; i < r->n; i++) {
        snprintf(r->rows[i].name, sizeof r->rows[i].name, "%s", ae_roster[i].name);
        r->rows[i].policy = ae_roster[i].policy;
        r->rows[i].epsilon = ae_roster[i].epsilon >= 0 ? ae_roster[i].epsilon : base->epsilon;
        for (int q = 0; q < 2; q++) {
            if ((rc = ae_create(base, o->slot, cat, &ae_roster[i], &c.bandit[i][q], err)))
                goto out;
            c.ctx[i][q] = mq_calloc(1, sizeof(ae_ctx));
            mq_replay_init(&c.rp[i][q]);
        }
    }
    mq_rng_seed(&c.rng, o->seed, 0x61737365);
    c.seen = 0;
    if (o->progress)
        mq_progress_start(&c.bar, "assets: replay", "events", st.events);
    if ((rc = mq_store_each_event(s, &f, replay_cb, &c, err)))
        goto out;
    if ((rc = c.rc))
        goto out;
    if (o->progress)
        mq_progress_finish(&c.bar);
    r->logged_rate = c.logged_n ? c.logged_sum / c.logged_n : NAN;
    for (size_t i = 0; i < r->n; i++) {
        mq_assets_replay_row *row = &r->rows[i];
        row->replay = mq_replay_estimate(&c.rp[i][LEARN], o->z);
        row->snips = mq_snips_estimate(&c.rp[i][LEARN], o->z);
        row->frozen_replay = mq_replay_estimate(&c.rp[i][FROZEN], o->z);
        row->frozen_snips = mq_snips_estimate(&c.rp[i][FROZEN], o->z);
        row->truth = c.truth_n ? c.truth_sum[i][LEARN] / c.truth_n : NAN;
        row->frozen_truth = c.truth_n ? c.truth_sum[i][FROZEN] / c.truth_n : NAN;
    }
    rc = MQ_OK;
out:
    r->seconds = mq_mono_s() - t0;
    for (size_t i = 0; i < MQ_ASSETS_EVAL_POLICIES; i++)
        for (int q = 0; q < 2; q++) {
            mq_assets_destroy(c.bandit[i][q]);
            mq_free(c.ctx[i][q]);
        }
    mq_asset_rewards_destroy(c.rw);
    mq_free(c.label);
    mq_free(c.imp_seq.items);
    ae_truth_close(&truth);
    mq_catalog_destroy(cat);
    return rc;
}

/* ----------------------------------------------------------------- report ---- */

static void pct_ci(char *out, size_t n, mq_estimate e) {
    if (isnan(e.value))
        snprintf(out, n, "-");
    else
        snprintf(out, n, "%.3f%% [%.3f, %.3f]", 100 * e.value, 100 * e.lo, 100 * e.hi);
}

static const mq_assets_replay_row *find_row(const mq_assets_replay_report *r, const char *name) {
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->rows[i].name, name) == 0)
            return &r->rows[i];
    return NULL;
}

static void lift(char *out, size_t n, double v, double base) {
    if (isnan(v) || isnan(base) || base <= 0)
        snprintf(out, n, "-");
    else
        snprintf(out, n, "%+.1f%%", 100 * (v / base - 1));
}

static void table(FILE *f, const mq_assets_replay_report *r, bool frozen) {
    const mq_assets_replay_row *rnd = find_row(r, "random"), *pop = find_row(r, "popular");
    fprintf(f, "%-14s %-26s %9s %-26s %9s %9s", "policy", "replay take rate [95% CI]", "matched",
            "SNIPS [95% CI]", "vs random", "vs popular");
    if (r->have_truth)
        fprintf(f, " %9s %6s", "truth", "agrees");
    fputc('\n', f);
    for (size_t i = 0; i < r->n; i++) {
        const mq_assets_replay_row *row = &r->rows[i];
        mq_estimate rep = frozen ? row->frozen_replay : row->replay;
        mq_estimate sn = frozen ? row->frozen_snips : row->snips;
        double tr = frozen ? row->frozen_truth : row->truth;
        char a[64], b[64], l1[16], l2[16];
        pct_ci(a, sizeof a, rep);
        pct_ci(b, sizeof b, sn);
        lift(l1, sizeof l1, rep.value,
             rnd ? (frozen ? rnd->frozen_replay.value : rnd->replay.value) : NAN);
        lift(l2, sizeof l2, rep.value,
             pop ? (frozen ? pop->frozen_replay.value : pop->replay.value) : NAN);
        fprintf(f, "%-14s %-26s %9.0f %-26s %9s %9s", row->name, a, rep.n, b, l1, l2);
        if (r->have_truth)
            fprintf(f, " %8.3f%% %6s", 100 * tr, rep.lo <= tr && tr <= rep.hi ? "yes" : "NO");
        fputc('\n', f);
    }
}

void mq_assets_replay_print(FILE *f, const mq_assets_replay_report *r) {
    fprintf(f,
            "assets (%s): %llu impressions; the first %llu warm the policies, %llu are "
            "replayed (%llu logged uniformly at random, %llu skipped)\n",
            mq_asset_slot_name(r->slot), (unsigned long long)r->impressions,
            (unsigned long long)r->train, (unsigned long long)r->test,
            (unsigned long long)r->uniform, (unsigned long long)r->skipped);
    char when[32];
    mq_time_format_rfc3339(r->split_ms, when, sizeof when);
    fprintf(f, "split at %s; take rate of the replayed impressions as logged: %.3f%%\n", when,
            100 * r->logged_rate);
    fprintf(f, "intervals: normal approximation (replay: mean of matched rewards; SNIPS: delta "
               "method)\n");
    if (r->have_truth)
        fprintf(f, "truth: the world's expected take rate of the same policy on every replayed "
                   "impression (ground truth)\n");
    fprintf(f, "\nlearning on matched impressions (Li et al. 2011):\n");
    table(f, r, false);
    fprintf(f, "\nfrozen at the split:\n");
    table(f, r, true);
    fprintf(f, "\n%.1f s\n", r->seconds);
}

static json_t *est_json(mq_estimate e) {
    json_t *o = json_object();
    json_object_set_new(o, "value", json_real(isnan(e.value) ? 0 : e.value));
    json_object_set_new(o, "lo", json_real(isnan(e.lo) ? 0 : e.lo));
    json_object_set_new(o, "hi", json_real(isnan(e.hi) ? 0 : e.hi));
    json_object_set_new(o, "se", json_real(isnan(e.se) ? 0 : e.se));
    json_object_set_new(o, "n", json_real(e.n));
    return o;
}

json_t *mq_assets_replay_json(const mq_assets_replay_report *r) {
    json_t *o = json_object();
    json_object_set_new(o, "slot", json_string(mq_asset_slot_name(r->slot)));
    json_object_set_new(o, "impressions", json_integer((json_int_t)r->impressions));
    json_object_set_new(o, "train", json_integer((json_int_t)r->train));
    json_object_set_new(o, "test", json_integer((json_int_t)r->test));
    json_object_set_new(o, "uniform", json_integer((json_int_t)r->uniform));
    json_object_set_new(o, "skipped", json_integer((json_int_t)r->skipped));
    json_object_set_new(o, "logged_rate", json_real(r->logged_rate));
    json_object_set_new(o, "seconds", json_real(r->seconds));
    json_t *pols = json_array();
    for (size_t i = 0; i < r->n; i++) {
        const mq_assets_replay_row *row = &r->rows[i];
        json_t *p = json_object();
        json_object_set_new(p, "name", json_string(row->name));
        json_object_set_new(p, "policy", json_string(mq_asset_policy_name(row->policy)));
        json_object_set_new(p, "epsilon", json_real(row->epsilon));
        json_object_set_new(p, "replay", est_json(row->replay));
        json_object_set_new(p, "snips", est_json(row->snips));
        json_object_set_new(p, "frozen_replay", est_json(row->frozen_replay));
        json_object_set_new(p, "frozen_snips", est_json(row->frozen_snips));
        if (r->have_truth) {
            json_object_set_new(p, "truth", json_real(row->truth));
            json_object_set_new(p, "frozen_truth", json_real(row->frozen_truth));
        }
        json_array_append_new(pols, p);
    }
    json_object_set_new(o, "policies", pols);
    return o;
}
