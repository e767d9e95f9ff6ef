/* test_assets.c: the artwork/synopsis/label bandits (src/assets).
 *
 *   - two groups of profiles that differ only in their history (one watched
 *     action, the other drama) prefer opposite artwork of the same titles: the
 *     contextual bandits (Thompson sampling, LinUCB) learn the right variant for
 *     each group, and the profile-blind per-title epsilon-greedy cannot;
 *   - propensities are distributions (they sum to 1) and choose draws from them;
 *   - the replay estimator is unbiased on a constructed uniform log, and its
 *     interval covers the truth about 95% of the time; SNIPS agrees;
 *   - rewards: a play inside the window is attributed to the latest impression,
 *     outside it is not; the minutes reward counts seconds watched;
 *   - a played title keeps its artwork; a cold title shows its editorial default;
 *   - the state after a checkpoint plus the rest of the log equals the state after
 *     the whole log, byte for byte, through the store as well; a corrupt
 *     checkpoint is refused and leaves the model unchanged. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "assets/assets.h"
#include "helpers.h"

/* ------------------------------------------------------- a small world ---- */

#define N_TARGET 10
#define N_HIST 6
#define PER_GROUP 150
#define DAY_MS 86400000LL
#define T0_MS 1780000000000LL

typedef struct {
    mq_catalog *cat;
    mq_arena ar;
    uint32_t first_target; /* title ids: history 1..N_HIST, targets after */
} world;

static mq_strlist list1(mq_arena *a, const char *s) {
    return mq_strlist_split(s, '|', a);
}

/* Targets have three artwork variants: "style-a" (the editorial default),
 * "style-b", "style-c"; two synopses; two labels. History titles: action or drama. */
static void world_init(world *w) {
    memset(w, 0, sizeof *w);
    mq_arena_init(&w->ar, 1 << 14, 0);
    w->cat = mq_catalog_create();
    char buf[64];
    for (uint32_t id = 1; id <= N_HIST + N_TARGET; id++) {
        mq_title t;
        memset(&t, 0, sizeof t);
        t.id = id;
        snprintf(buf, sizeof buf, "t%u", id);
        t.ext_id = mq_arena_strdup(&w->ar, buf);
        t.name = t.ext_id;
        if (id <= N_HIST) {
            bool action = id <= N_HIST / 2;
            t.genres = list1(&w->ar, action ? "Action|Thriller" : "Drama|Romance");
            t.tags = list1(&w->ar, action ? "chase|explosions" : "tearjerker|slow-burn");
        } else {
            t.genres = list1(&w->ar, "Comedy");
            t.tags = list1(&w->ar, "ensemble");
        }
        t.n_artwork = 3;
        t.artwork = mq_arena_alloc(&w->ar, 3 * sizeof(mq_asset));
        const char *styles[3] = {"style-a|warm", "style-b|cool", "style-c|muted"};
        for (int i = 0; i < 3; i++) {
            snprintf(buf, sizeof buf, "t%u-a%d", id, i);
            t.artwork[i] = (mq_asset){mq_arena_strdup(&w->ar, buf), NULL, list1(&w->ar, styles[i])};
        }
        t.n_synopses = 2;
        t.synopses = mq_arena_alloc(&w->ar, 2 * sizeof(mq_asset));
        for (int i = 0; i < 2; i++) {
            snprintf(buf, sizeof buf, "t%u-s%d", id, i);
            t.synopses[i] = (mq_asset){mq_arena_strdup(&w->ar, buf), "text",
                                       list1(&w->ar, i ? "cast" : "plot")};
        }
        t.labels = list1(&w->ar, "New|Award-winning");
        mq_catalog_put_title(w->cat, &t);
    }
    w->first_target = N_HIST + 1;
}

static void world_free(world *w) {
    mq_catalog_destroy(w->cat);
    mq_arena_free(&w->ar);
}

/* An event stream: events are kept with their strings in an arena. */
typedef struct {
    MQ_VEC(mq_event) evs;
    mq_arena ar;
    int64_t seq, ts;
} stream;

static mq_event *ev(stream *s, mq_event_type type, uint32_t profile, uint32_t title) {
    mq_event e;
    mq_event_init(&e);
    e.seq = ++s->seq;
    s->ts += 5000;
    e.ts_ms = s->ts;
    e.type = type;
    e.profile_id = profile;
    e.title_id = title;
    e.device = MQ_DEVICE_TV;
    char buf[64];
    snprintf(buf, sizeof buf, "e%lld", (long long)e.seq);
    e.event_id = mq_arena_strdup(&s->ar, buf);
    snprintf(buf, sizeof buf, "p%u", profile);
    e.profile = mq_arena_strdup(&s->ar, buf);
    if (title) {
        snprintf(buf, sizeof buf, "t%u", title);
        e.title = mq_arena_strdup(&s->ar, buf);
    }
    MQ_VEC_PUSH(&s->evs, e);
    return &s->evs.items[s->evs.len - 1];
}

static void stream_init(stream *s) {
    memset(s, 0, sizeof *s);
    mq_arena_init(&s->ar, 1 << 16, 0);
    s->ts = T0_MS;
}

static void stream_free(stream *s) {
    mq_free(s->evs.items);
    mq_arena_free(&s->ar);
}

/* Group 0 (profiles 1..PER_GROUP) watched the action titles, group 1 the drama. */
static int group_of(uint32_t p) {
    return p <= PER_GROUP ? 0 : 1;
}

static void histories(stream *s) {
    for (uint32_t p = 1; p <= 2 * PER_GROUP; p++)
        for (uint32_t h = 1; h <= N_HIST; h++) {
            bool action = h <= N_HIST / 2;
            if (action != (group_of(p) == 0))
                continue;
            mq_event *e = ev(s, MQ_EV_COMPLETE, p, h);
            e->duration_s = 5400;
        }
}

static const double take[2][3] = {{0.30, 0.10, 0.05}, {0.10, 0.30, 0.05}};

static void impression(stream *s, uint32_t p, uint32_t t, const mq_asset_choice *ch, int *n) {
    mq_event *e = ev(s, MQ_EV_IMPRESSION, p, t);
    char buf[32];
    snprintf(buf, sizeof buf, "pg%d", (*n)++);
    e->page_id = mq_arena_strdup(&s->ar, buf);
    e->row_id = "row";
    e->row_pos = 0;
    e->col_pos = 0;
    e->artwork_id = mq_arena_strdup(&s->ar, ch->slot[MQ_SLOT_ARTWORK].id);
    e->synopsis_id = mq_arena_strdup(&s->ar, ch->slot[MQ_SLOT_SYNOPSIS].id);
    if (ch->slot[MQ_SLOT_LABEL].variant >= 0)
        e->label = mq_arena_strdup(&s->ar, ch->slot[MQ_SLOT_LABEL].id);
    e->propensity = ch->slot[MQ_SLOT_ARTWORK].propensity;
}

static void prepare(const mq_assets *a, mq_asset_context *ctx, uint32_t p, int64_t ts) {
    memset(ctx, 0, sizeof *ctx);
    ctx->profile_id = p;
    ctx->device = MQ_DEVICE_TV;
    ctx->weekday = 2;
    ctx->hour = 20;
    ctx->ts_ms = ts;
    mq_assets_prepare(a, ctx);
}

/* Runs a policy online for `rounds` impressions per profile; returns, per group,
 * the mean probability the final policy gives the group's better variant. */
static void run_groups(mq_asset_policy pol, int rounds, double out[2], stream *keep) {
    world w;
    world_init(&w);
    mq_assets_params p;
    mq_assets_params_default(&p);
    p.policy = pol;
    p.epsilon = pol == MQ_APOL_TITLE ? 0.1 : 0.05;
    p.cold_impressions = 10;
    mq_assets *a;
    mq_err err = {0};
    cr_assert_eq(mq_assets_create(&p, w.cat, &a, &err), 0, "%s", err.msg);
    stream s;
    stream_init(&s);
    histories(&s);
    for (size_t i = 0; i < s.evs.len; i++)
        mq_assets_observe(a, &s.evs.items[i]);
    size_t done = s.evs.len;
    mq_rng rng;
    mq_rng_seed(&rng, 42, 1);
    static mq_asset_context ctx;
    int pages = 0;
    for (int r = 0; r < rounds; r++)
        for (uint32_t pr = 1; pr <= 2 * PER_GROUP; pr++) {
            uint32_t t = w.first_target + mq_rng_below(&rng, N_TARGET);
            prepare(a, &ctx, pr, s.ts);
            mq_asset_choice ch;
            cr_assert_eq(mq_assets_choose(a, &ctx, mq_catalog_title(w.cat, t), &rng, &ch), 0);
            impression(&s, pr, t, &ch, &pages);
            if (mq_rng_unif(&rng) < take[group_of(pr)][ch.slot[MQ_SLOT_ARTWORK].variant]) {
                mq_event *e = ev(&s, MQ_EV_PLAY_START, pr, t);
                e->position_s = 0;
            }
            for (; done < s.evs.len; done++)
                mq_assets_observe(a, &s.evs.items[done]);
        }
    mq_assets_advance(a, INT64_MAX);
    mq_assets_refresh(a);
    /* The learned policy, on titles nobody has played (no pins). */
    double sum[2] = {0, 0};
    int cnt[2] = {0, 0};
    for (uint32_t pr = 1; pr <= 2 * PER_GROUP; pr++) {
        prepare(a, &ctx, pr, s.ts);
        for (uint32_t t = w.first_target; t < w.first_target + N_TARGET; t++) {
            if (mq_assets_pinned(a, pr, t) >= 0)
                continue;
            double probs[MQ_ASSETS_MAX_VARIANTS];
            int n =
                mq_assets_distribution(a, &ctx, mq_catalog_title(w.cat, t), MQ_SLOT_ARTWORK, probs);
            cr_assert_eq(n, 3);
            int g = group_of(pr);
            sum[g] += probs[g == 0 ? 0 : 1];
            cnt[g]++;
        }
    }
    out[0] = sum[0] / cnt[0];
    out[1] = sum[1] / cnt[1];
    if (keep) {
        *keep = s;
    } else {
        stream_free(&s);
    }
    mq_assets_destroy(a);
    world_free(&w);
}

Test(assets, contextual_bandits_learn_each_groups_artwork) {
    double ts[2], ucb[2], title[2];
    run_groups(MQ_APOL_THOMPSON, 25, ts, NULL);
    run_groups(MQ_APOL_LINUCB, 25, ucb, NULL);
    run_groups(MQ_APOL_TITLE, 25, title, NULL);
    cr_log_info("P(better variant) action/drama: thompson %.3f/%.3f linucb %.3f/%.3f "
                "title %.3f/%.3f",
                ts[0], ts[1], ucb[0], ucb[1], title[0], title[1]);
    cr_expect_gt(ts[0], 0.8, "thompson, action group: %.3f", ts[0]);
    cr_expect_gt(ts[1], 0.8, "thompson, drama group: %.3f", ts[1]);
    cr_expect_gt(ucb[0], 0.8, "linucb, action group: %.3f", ucb[0]);
    cr_expect_gt(ucb[1], 0.8, "linucb, drama group: %.3f", ucb[1]);
    /* The profile-blind policy shows both groups the same variant: one group gets
     * its worse one. */
    cr_expect_lt(MQ_MIN(title[0], title[1]), 0.5, "title: %.3f / %.3f", title[0], title[1]);
}

/* Labels learn from the impressions that carry the label shown: when "New" wins
 * plays three times as often as "Award-winning" for everyone, the label slot
 * comes to prefer it. */
Test(assets, labels_learn_from_the_label_logged_with_the_impression) {
    world w;
    world_init(&w);
    mq_assets_params p;
    mq_assets_params_default(&p);
    p.cold_impressions = 10;
    mq_assets *a;
    mq_err err = {0};
    cr_assert_eq(mq_assets_create(&p, w.cat, &a, &err), 0, "%s", err.msg);
    stream s;
    stream_init(&s);
    histories(&s);
    size_t done = 0;
    mq_rng rng;
    mq_rng_seed(&rng, 7, 1);
    static mq_asset_context ctx;
    int pages = 0, shown = 0;
    for (int r = 0; r < 25; r++)
        for (uint32_t pr = 1; pr <= 2 * PER_GROUP; pr++) {
            for (; done < s.evs.len; done++)
                mq_assets_observe(a, &s.evs.items[done]);
            uint32_t t = w.first_target + mq_rng_below(&rng, N_TARGET);
            prepare(a, &ctx, pr, s.ts);
            mq_asset_choice ch;
            cr_assert_eq(mq_assets_choose(a, &ctx, mq_catalog_title(w.cat, t), &rng, &ch), 0);
            cr_assert_geq(ch.slot[MQ_SLOT_LABEL].variant, 0, "the title has labels");
            impression(&s, pr, t, &ch, &pages);
            shown++;
            double pl = ch.slot[MQ_SLOT_LABEL].variant == 0 ? 0.30 : 0.10;
            if (mq_rng_unif(&rng) < pl)
                ev(&s, MQ_EV_PLAY_START, pr, t)->position_s = 0;
        }
    for (; done < s.evs.len; done++)
        mq_assets_observe(a, &s.evs.items[done]);
    mq_assets_advance(a, INT64_MAX);
    mq_assets_refresh(a);
    mq_assets_stats st;
    mq_assets_stats_get(a, &st);
    cr_assert_eq(st.updates[MQ_SLOT_LABEL], (uint64_t)shown, "every impression taught the slot");
    double sum = 0;
    int n = 0;
    for (uint32_t pr = 1; pr <= 2 * PER_GROUP; pr++) {
        prepare(a, &ctx, pr, s.ts);
        for (uint32_t t = w.first_target; t < w.first_target + N_TARGET; t++) {
            double probs[MQ_ASSETS_MAX_VARIANTS];
            cr_assert_eq(mq_assets_distribution(a, &ctx, mq_catalog_title(w.cat, t),
                                                MQ_SLOT_LABEL, probs),
                         2);
            sum += probs[0];
            n++;
        }
    }
    cr_log_info("P(\"New\") after learning: %.3f", sum / n);
    cr_expect_gt(sum / n, 0.8, "the better label wins: %.3f", sum / n);
    stream_free(&s);
    mq_assets_destroy(a);
    world_free(&w);
}

/* ------------------------------------------------------------ propensities ---- */

Test(assets, propensities_are_distributions_and_choose_draws_from_them) {
    world w;
    world_init(&w);
    for (int pol = 0; pol < MQ_APOL_COUNT; pol++) {
        mq_assets_params p;
        mq_assets_params_default(&p);
        p.policy = (mq_asset_policy)pol;
        p.cold_impressions = 0;
        p.epsilon = 0.1;
        mq_assets *a;
        mq_err err = {0};
        cr_assert_eq(mq_assets_create(&p, w.cat, &a, &err), 0, "%s", err.msg);
        stream s;
        stream_init(&s);
        histories(&s);
        mq_rng rng;
        mq_rng_seed(&rng, 7, (uint64_t)pol);
        /* some learning so that the policies are not at their prior */
        static mq_asset_context ctx;
        int pages = 0;
        for (int i = 0; i < 600; i++) {
            uint32_t pr = 1 + mq_rng_below(&rng, 2 * PER_GROUP);
            uint32_t t = w.first_target + mq_rng_below(&rng, N_TARGET);
            prepare(a, &ctx, pr, s.ts);
            mq_asset_choice ch;
            mq_assets_choose(a, &ctx, mq_catalog_title(w.cat, t), &rng, &ch);
            impression(&s, pr, t, &ch, &pages);
            if (mq_rng_unif(&rng) < 0.2)
                ev(&s, MQ_EV_PLAY_START, pr, t)->position_s = 0;
        }
        for (size_t i = 0; i < s.evs.len; i++)
            mq_assets_observe(a, &s.evs.items[i]);
        mq_assets_advance(a, INT64_MAX);
        mq_assets_refresh(a);
        for (uint32_t pr = 1; pr <= 2 * PER_GROUP; pr += 37) {
            prepare(a, &ctx, pr, s.ts);
            for (uint32_t t = 1; t <= N_HIST + N_TARGET; t++) {
                const mq_title *ti = mq_catalog_title(w.cat, t);
                for (int sl = 0; sl < MQ_SLOT_COUNT; sl++) {
                    double probs[MQ_ASSETS_MAX_VARIANTS];
                    int n = mq_assets_distribution(a, &ctx, ti, (mq_asset_slot)sl, probs);
                    cr_assert_gt(n, 0);
                    double sum = 0;
                    for (int i = 0; i < n; i++) {
                        cr_assert_geq(probs[i], 0);
                        sum += probs[i];
                    }
                    cr_assert_float_eq(sum, 1.0, 1e-9, "policy %s slot %d: sum %.12f",
                                       mq_asset_policy_name((mq_asset_policy)pol), sl, sum);
                }
                /* choose logs the propensity of what it picked */
                mq_asset_choice ch, vo;
                mq_rng again = rng;
                cr_assert_eq(mq_assets_choose(a, &ctx, ti, &rng, &ch), 0);
                /* the page's draw without ids: the same picks from the same stream */
                mq_asset_dists d;
                cr_assert_eq(mq_assets_dists(a, &ctx, t, &d), 0);
                mq_assets_draw_variants(a, &d, ti, &again, &vo);
                for (int sl = 0; sl < MQ_SLOT_COUNT; sl++) {
                    cr_assert_eq(vo.slot[sl].variant, ch.slot[sl].variant);
                    cr_assert_eq(vo.slot[sl].propensity, ch.slot[sl].propensity);
                    cr_assert_eq(vo.slot[sl].reason, ch.slot[sl].reason);
                    cr_assert_null(vo.slot[sl].id);
                    cr_assert_not_null(ch.slot[sl].id);
                }
                double probs[MQ_ASSETS_MAX_VARIANTS];
                mq_assets_distribution(a, &ctx, ti, MQ_SLOT_ARTWORK, probs);
                cr_assert_float_eq(ch.slot[MQ_SLOT_ARTWORK].propensity,
                                   probs[ch.slot[MQ_SLOT_ARTWORK].variant], 1e-12);
            }
        }
        /* Empirical frequencies of choose match the distribution. */
        prepare(a, &ctx, 3, s.ts);
        const mq_title *ti = mq_catalog_title(w.cat, w.first_target + 1);
        double probs[MQ_ASSETS_MAX_VARIANTS];
        int n = mq_assets_distribution(a, &ctx, ti, MQ_SLOT_ARTWORK, probs);
        int counts[MQ_ASSETS_MAX_VARIANTS] = {0};
        const int draws = 20000;
        for (int i = 0; i < draws; i++) {
            mq_asset_choice ch;
            mq_assets_choose(a, &ctx, ti, &rng, &ch);
            counts[ch.slot[MQ_SLOT_ARTWORK].variant]++;
        }
        for (int i = 0; i < n; i++) {
            double se = sqrt(probs[i] * (1 - probs[i]) / draws) + 1e-9;
            cr_expect_leq(fabs(counts[i] / (double)draws - probs[i]), 5 * se + 1e-9,
                          "policy %s variant %d: %d/%d vs %.4f",
                          mq_asset_policy_name((mq_asset_policy)pol), i, counts[i], draws,
                          probs[i]);
        }
        stream_free(&s);
        mq_assets_destroy(a);
    }
    world_free(&w);
}

/* A title put again with its artwork in another order is chosen from its new
 * variants' tags (the choice reads them from a per-title pack, which must follow
 * the catalogue): its distribution equals that of a model built from the changed
 * catalogue from the start. */
static void rotate_artwork(world *w, uint32_t id) {
    mq_title t = *mq_catalog_title(w->cat, id);
    mq_asset *art = mq_arena_alloc(&w->ar, t.n_artwork * sizeof *art);
    for (uint32_t i = 0; i < t.n_artwork; i++)
        art[i] = t.artwork[(i + 1) % t.n_artwork];
    t.artwork = art;
    mq_catalog_put_title(w->cat, &t);
}

Test(assets, a_title_put_again_is_chosen_from_its_new_variants) {
    mq_assets_params p;
    mq_assets_params_default(&p);
    p.policy = MQ_APOL_THOMPSON;
    p.cold_impressions = 0;
    world w, w2;
    world_init(&w);
    world_init(&w2);
    mq_assets *a, *b;
    mq_err err = {0};
    cr_assert_eq(mq_assets_create(&p, w.cat, &a, &err), 0, "%s", err.msg);
    uint32_t id = w.first_target + 2;
    static mq_asset_context ca, cb;
    prepare(a, &ca, 1, T0_MS);
    double before[MQ_ASSETS_MAX_VARIANTS], pa[MQ_ASSETS_MAX_VARIANTS], pb[MQ_ASSETS_MAX_VARIANTS];
    int n = mq_assets_distribution(a, &ca, mq_catalog_title(w.cat, id), MQ_SLOT_ARTWORK, before);
    cr_assert_eq(n, 3);
    rotate_artwork(&w, id);
    mq_assets_put_title(a, mq_catalog_title(w.cat, id));
    rotate_artwork(&w2, id);
    cr_assert_eq(mq_assets_create(&p, w2.cat, &b, &err), 0, "%s", err.msg);
    prepare(a, &ca, 1, T0_MS);
    prepare(b, &cb, 1, T0_MS);
    cr_assert_eq(mq_assets_distribution(a, &ca, mq_catalog_title(w.cat, id), MQ_SLOT_ARTWORK, pa), 3);
    cr_assert_eq(mq_assets_distribution(b, &cb, mq_catalog_title(w2.cat, id), MQ_SLOT_ARTWORK, pb),
                 3);
    bool moved = false;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(pa[i], pb[i], "variant %d: %g put again, %g built so", i, pa[i], pb[i]);
        moved |= pa[i] != before[i];
    }
    cr_assert(moved, "the distribution did not follow the new order");
    mq_assets_destroy(a);
    mq_assets_destroy(b);
    world_free(&w);
    world_free(&w2);
}

/* ------------------------------------------------------------------ replay ---- */

/* Three contexts, four arms, a uniform logging policy and a fixed policy: the
 * replay estimate averages to the policy's true value. */
Test(assets, replay_is_unbiased_on_a_uniform_log) {
    const double px[3] = {0.5, 0.3, 0.2};
    const double r[3][4] = {{0.1, 0.5, 0.2, 0.05}, {0.6, 0.1, 0.3, 0.2}, {0.2, 0.2, 0.9, 0.4}};
    const int pi[3] = {1, 0, 3}; /* not the best arm everywhere, on purpose */
    double truth = 0;
    for (int x = 0; x < 3; x++)
        truth += px[x] * r[x][pi[x]];
    mq_rng rng;
    mq_rng_seed(&rng, 2024, 5);
    const int runs = 3000, events = 400;
    double sum = 0, sum2 = 0, snips = 0;
    int covered = 0;
    for (int run = 0; run < runs; run++) {
        mq_replay rp;
        mq_replay_init(&rp);
        for (int i = 0; i < events; i++) {
            int x = (int)mq_rng_categorical(&rng, px, 3);
            int logged = (int)mq_rng_below(&rng, 4);
            double rew = mq_rng_unif(&rng) < r[x][logged] ? 1 : 0;
            mq_replay_add(&rp, logged, 0.25, pi[x], pi[x] == logged ? 1.0 : 0.0, rew);
        }
        mq_estimate e = mq_replay_estimate(&rp, 1.96);
        mq_estimate s = mq_snips_estimate(&rp, 1.96);
        cr_assert(!isnan(e.value));
        cr_assert_float_eq(e.value, s.value, 1e-12, "a deterministic policy: SNIPS = replay");
        sum += e.value;
        sum2 += e.value * e.value;
        snips += s.value;
        covered += e.lo <= truth && truth <= e.hi;
    }
    double mean = sum / runs, sd = sqrt((sum2 / runs - mean * mean) / (runs - 1));
    cr_log_info("replay: truth %.4f, mean estimate %.4f (se %.4f), coverage %.3f", truth, mean, sd,
                (double)covered / runs);
    cr_expect_leq(fabs(mean - truth), 4 * sd, "mean %.5f vs truth %.5f (se %.5f)", mean, truth, sd);
    cr_expect(covered > 0.92 * runs && covered < 0.98 * runs, "coverage %d/%d", covered, runs);
    cr_expect_leq(fabs(snips / runs - truth), 4 * sd + 1e-3);
    /* An estimate from no matched impression is not a number, not zero. */
    mq_replay none;
    mq_replay_init(&none);
    mq_replay_add(&none, 0, 0.25, 1, 0.0, 1.0);
    cr_expect(isnan(mq_replay_estimate(&none, 1.96).value));
}

/* A stochastic policy through SNIPS: weights pi(logged) / propensity, non-uniform log. */
Test(assets, snips_is_consistent_for_a_stochastic_policy) {
    const double r[3] = {0.2, 0.5, 0.1};
    const double logp[3] = {0.6, 0.3, 0.1}; /* a non-uniform logging policy */
    const double pi[3] = {0.1, 0.8, 0.1};
    double truth = 0;
    for (int a = 0; a < 3; a++)
        truth += pi[a] * r[a];
    mq_rng rng;
    mq_rng_seed(&rng, 99, 1);
    mq_replay rp;
    mq_replay_init(&rp);
    for (int i = 0; i < 200000; i++) {
        int logged = (int)mq_rng_categorical(&rng, logp, 3);
        double rew = mq_rng_unif(&rng) < r[logged] ? 1 : 0;
        mq_replay_add(&rp, logged, logp[logged], -1, pi[logged], rew);
    }
    mq_estimate s = mq_snips_estimate(&rp, 1.96);
    cr_expect(s.lo <= truth && truth <= s.hi, "SNIPS %.4f [%.4f, %.4f] vs %.4f", s.value, s.lo,
              s.hi, truth);
    cr_expect_lt(s.hi - s.lo, 0.02);
}

/* ----------------------------------------------------------------- rewards ---- */

Test(assets, rewards_follow_the_window_and_the_latest_impression) {
    mq_assets_params p;
    mq_assets_params_default(&p);
    p.reward_window_ms = 600000; /* 10 minutes */
    mq_asset_rewards *rw = mq_asset_rewards_create(&p);
    stream s;
    stream_init(&s);
    ev(&s, MQ_EV_IMPRESSION, 1, 7);                 /* seq 1: shown, then again */
    ev(&s, MQ_EV_IMPRESSION, 1, 7);                 /* seq 2: the one acted on */
    ev(&s, MQ_EV_PLAY_START, 1, 7)->position_s = 0; /* seq 3 */
    ev(&s, MQ_EV_IMPRESSION, 2, 7);                 /* seq 4: played too late */
    s.ts += 700000;
    ev(&s, MQ_EV_PLAY_START, 2, 7)->position_s = 0; /* seq 5 */
    ev(&s, MQ_EV_IMPRESSION, 3, 8);                 /* seq 6: played by someone else */
    ev(&s, MQ_EV_PLAY_START, 4, 8)->position_s = 0; /* seq 7 */
    for (size_t i = 0; i < s.evs.len; i++)
        mq_asset_rewards_add(rw, &s.evs.items[i]);
    mq_asset_rewards_flush(rw);
    double got[8];
    for (int i = 0; i < 8; i++)
        got[i] = -1;
    int64_t seq;
    double r;
    int n = 0;
    while (mq_asset_rewards_next(rw, &seq, &r)) {
        cr_assert(seq >= 1 && seq <= 7);
        cr_assert_eq(got[seq], -1, "impression %lld reported twice", (long long)seq);
        got[seq] = r;
        n++;
    }
    cr_expect_eq(n, 4);
    cr_expect_eq(got[1], 0);
    cr_expect_eq(got[2], 1);
    cr_expect_eq(got[4], 0);
    cr_expect_eq(got[6], 0);
    mq_asset_rewards_destroy(rw);
    stream_free(&s);

    /* minutes: 20 minutes watched of a 60-minute cap */
    p.reward = MQ_REWARD_MINUTES;
    p.reward_window_ms = 3 * 3600 * 1000LL;
    rw = mq_asset_rewards_create(&p);
    stream_init(&s);
    ev(&s, MQ_EV_IMPRESSION, 1, 7);
    ev(&s, MQ_EV_PLAY_START, 1, 7)->position_s = 0;
    ev(&s, MQ_EV_PLAY_PROGRESS, 1, 7)->position_s = 600;
    ev(&s, MQ_EV_SEEK, 1, 7)->position_s = 3000; /* a jump is not watching */
    mq_event *e = ev(&s, MQ_EV_PLAY_STOP, 1, 7);
    e->position_s = 3600;
    e->duration_s = 5400;
    for (size_t i = 0; i < s.evs.len; i++)
        mq_asset_rewards_add(rw, &s.evs.items[i]);
    cr_expect(!mq_asset_rewards_next(rw, &seq, &r), "the window is still open");
    mq_asset_rewards_flush(rw);
    cr_assert(mq_asset_rewards_next(rw, &seq, &r));
    cr_expect_float_eq(r, 20.0 / 60.0, 1e-9, "minutes reward %.4f", r);
    mq_asset_rewards_destroy(rw);
    stream_free(&s);
}

/* ------------------------------------------------------------ stable, cold ---- */

Test(assets, played_artwork_is_kept_and_cold_titles_show_the_default) {
    world w;
    world_init(&w);
    mq_assets_params p;
    mq_assets_params_default(&p);
    p.epsilon = 0.2;
    p.cold_impressions = 5;
    mq_assets *a;
    mq_err err = {0};
    cr_assert_eq(mq_assets_create(&p, w.cat, &a, &err), 0, "%s", err.msg);
    static mq_asset_context ctx;
    prepare(a, &ctx, 1, T0_MS);
    const mq_title *t = mq_catalog_title(w.cat, w.first_target);
    mq_asset_choice ch;
    mq_rng rng;
    mq_rng_seed(&rng, 1, 1);
    /* cold: variant 0 with 1 - eps + eps / 3 */
    double probs[MQ_ASSETS_MAX_VARIANTS];
    cr_assert_eq(mq_assets_distribution(a, &ctx, t, MQ_SLOT_ARTWORK, probs), 3);
    cr_expect_float_eq(probs[0], 0.8 + 0.2 / 3, 1e-12);
    cr_expect_float_eq(probs[2], 0.2 / 3, 1e-12);
    int cold = 0;
    for (int i = 0; i < 200; i++) {
        mq_assets_choose(a, &ctx, t, &rng, &ch);
        cold += ch.slot[MQ_SLOT_ARTWORK].reason == MQ_ASSET_COLD;
        cr_assert(ch.slot[MQ_SLOT_ARTWORK].reason == MQ_ASSET_COLD ||
                  ch.slot[MQ_SLOT_ARTWORK].reason == MQ_ASSET_EXPLORE);
    }
    cr_expect_gt(cold, 140);
    /* profile 1 is shown variant 2 and plays it: pinned */
    stream s;
    stream_init(&s);
    mq_event *e = ev(&s, MQ_EV_IMPRESSION, 1, t->id);
    e->artwork_id = t->artwork[2].id;
    e->page_id = "pg";
    e->row_id = "r";
    e->row_pos = e->col_pos = 0;
    ev(&s, MQ_EV_PLAY_START, 1, t->id)->position_s = 0;
    for (size_t i = 0; i < s.evs.len; i++)
        mq_assets_observe(a, &s.evs.items[i]);
    cr_expect_eq(mq_assets_pinned(a, 1, t->id), 2);
    cr_expect_eq(mq_assets_pinned(a, 2, t->id), -1);
    prepare(a, &ctx, 1, s.ts);
    for (int i = 0; i < 50; i++) {
        mq_assets_choose(a, &ctx, t, &rng, &ch);
        cr_assert_eq(ch.slot[MQ_SLOT_ARTWORK].variant, 2);
        cr_assert_eq(ch.slot[MQ_SLOT_ARTWORK].propensity, 1.0);
        cr_assert_eq(ch.slot[MQ_SLOT_ARTWORK].reason, MQ_ASSET_PINNED);
        cr_assert_str_eq(ch.slot[MQ_SLOT_ARTWORK].id, t->artwork[2].id);
    }
    /* synopsis and label are not pinned; they come from the title */
    cr_expect_neq(ch.slot[MQ_SLOT_SYNOPSIS].variant, -1);
    cr_expect_neq(ch.slot[MQ_SLOT_LABEL].variant, -1);
    char url[128];
    mq_assets_url(a, t, ch.slot[MQ_SLOT_ARTWORK].id, url, sizeof url);
    cr_expect_str_eq(url, "/v1/titles/t7/artwork/t7-a2");
    /* a title the model was never given: its default, propensity 1 */
    mq_title fresh = *t;
    fresh.id = 999;
    mq_assets_choose(a, &ctx, &fresh, &rng, &ch);
    cr_expect_eq(ch.slot[MQ_SLOT_ARTWORK].variant, 0);
    cr_expect_eq(ch.slot[MQ_SLOT_ARTWORK].reason, MQ_ASSET_COLD);
    /* unprepared contexts are refused */
    static mq_asset_context raw;
    memset(&raw, 0, sizeof raw);
    cr_expect_eq(mq_assets_choose(a, &raw, t, &rng, &ch), MQ_EINVAL);
    stream_free(&s);
    mq_assets_destroy(a);
    world_free(&w);
}

/* -------------------------------------------------------------- checkpoint ---- */

static void serialize(const mq_assets *a, mq_buf *b) {
    mq_buf_init(b, 0);
    mq_assets_serialize(a, b);
}

Test(assets, checkpoint_plus_the_rest_of_the_log_equals_the_whole_log) {
    stream s;
    run_groups(MQ_APOL_THOMPSON, 4, (double[2]){0}, &s);
    world w;
    world_init(&w);
    mq_assets_params p;
    mq_assets_params_default(&p);
    p.cold_impressions = 10;
    p.refresh_every = 50;
    mq_err err = {0};
    mq_assets *whole, *first, *resumed;
    cr_assert_eq(mq_assets_create(&p, w.cat, &whole, &err), 0, "%s", err.msg);
    cr_assert_eq(mq_assets_create(&p, w.cat, &first, &err), 0);
    cr_assert_eq(mq_assets_create(&p, w.cat, &resumed, &err), 0);
    size_t half = s.evs.len / 2 + 1; /* mid-window: impressions are pending */
    for (size_t i = 0; i < s.evs.len; i++)
        mq_assets_observe(whole, &s.evs.items[i]);
    for (size_t i = 0; i < half; i++)
        mq_assets_observe(first, &s.evs.items[i]);
    mq_assets_stats st;
    mq_assets_stats_get(first, &st);
    cr_assert_gt(st.pending, 0, "the checkpoint should hold pending impressions");
    cr_assert_gt(st.pins, 0);
    mq_buf b1, b2, b3;
    serialize(first, &b1);
    cr_assert_eq(mq_assets_deserialize(resumed, b1.data, b1.len, &err), 0, "%s", err.msg);
    /* a round trip is the same bytes */
    serialize(resumed, &b2);
    cr_assert_eq(b1.len, b2.len);
    cr_assert(memcmp(b1.data, b2.data, b1.len) == 0);
    for (size_t i = half; i < s.evs.len; i++)
        mq_assets_observe(resumed, &s.evs.items[i]);
    mq_buf_free(&b2);
    serialize(whole, &b2);
    serialize(resumed, &b3);
    cr_assert_eq(b2.len, b3.len);
    cr_assert(memcmp(b2.data, b3.data, b2.len) == 0,
              "checkpoint + rest differs from the whole log");
    mq_assets_stats_get(whole, &st);
    cr_assert_gt(st.refreshes[MQ_SLOT_ARTWORK], 5);

    /* corruption: a flipped byte, a torn tail, other settings */
    mq_buf_free(&b3);
    serialize(resumed, &b3);
    b2.data[b2.len / 2] ^= 0x40;
    cr_expect_eq(mq_assets_deserialize(resumed, b2.data, b2.len, &err), MQ_ECORRUPT);
    cr_expect(strstr(err.msg, "checksum") != NULL, "%s", err.msg);
    cr_expect_eq(mq_assets_deserialize(resumed, b2.data, b2.len / 3, &err), MQ_ECORRUPT);
    cr_expect_eq(mq_assets_deserialize(resumed, "nonsense", 8, &err), MQ_ECORRUPT);
    mq_buf b4;
    serialize(resumed, &b4);
    cr_expect(b3.len == b4.len && memcmp(b3.data, b4.data, b3.len) == 0,
              "a refused checkpoint changed the model");
    mq_assets_params q = p;
    q.taste_dims = 16;
    mq_assets *other;
    cr_assert_eq(mq_assets_create(&q, w.cat, &other, &err), 0);
    cr_expect_eq(mq_assets_deserialize(other, b3.data, b3.len, &err), MQ_EVERSION);
    cr_expect(strstr(err.msg, "taste dims") != NULL, "%s", err.msg);
    mq_assets_destroy(other);

    mq_buf_free(&b1);
    mq_buf_free(&b2);
    mq_buf_free(&b3);
    mq_buf_free(&b4);
    mq_assets_destroy(whole);
    mq_assets_destroy(first);
    mq_assets_destroy(resumed);
    stream_free(&s);
    world_free(&w);
}

/* Through the store: events appended to the log, a node rebuilds from it, another
 * loads the checkpoint of a third and catches up; all three agree. */
typedef struct {
    mq_assets *a;
    int64_t stop;
} partial;

static int partial_cb(void *ud, const mq_event *e) {
    partial *p = ud;
    if (e->seq > p->stop)
        return 1;
    mq_assets_observe(p->a, e);
    return 0;
}

Test(assets, nodes_converge_through_the_store) {
    stream s;
    run_groups(MQ_APOL_THOMPSON, 3, (double[2]){0}, &s);
    world w;
    world_init(&w);
    char *dir = th_tmpdir();
    mq_store *st;
    mq_err err = {0};
    cr_assert_eq(mq_store_open(dir, 0, &st, &err), 0, "%s", err.msg);
    for (uint32_t id = 1; id <= N_HIST + N_TARGET; id++) {
        mq_title t = *mq_catalog_title(w.cat, id);
        cr_assert_eq(mq_store_put_title(st, &t, &err), 0, "%s", err.msg);
    }
    /* The store assigns its own ids and sequence numbers; give it external ids. */
    mq_append_status *status = mq_calloc(s.evs.len, sizeof *status);
    for (size_t i = 0; i < s.evs.len; i++) {
        mq_event *e = &s.evs.items[i];
        if (e->type == MQ_EV_COMPLETE)
            e->duration_s = 5400;
    }
    cr_assert_eq(mq_store_append_events(st, s.evs.items, s.evs.len, status, &err), 0, "%s",
                 err.msg);
    for (size_t i = 0; i < s.evs.len; i++)
        cr_assert_eq(status[i], MQ_APPEND_OK, "event %zu: status %d", i, status[i]);
    mq_catalog *cat;
    cr_assert_eq(mq_store_load_catalog(st, &cat, &err), 0, "%s", err.msg);
    mq_assets_params p;
    mq_assets_params_default(&p);
    mq_assets *rebuilt, *writer, *reader;
    cr_assert_eq(mq_assets_create(&p, cat, &rebuilt, &err), 0);
    cr_assert_eq(mq_assets_create(&p, cat, &writer, &err), 0);
    cr_assert_eq(mq_assets_create(&p, cat, &reader, &err), 0);
    cr_assert_eq(mq_assets_load(reader, st, &err), MQ_ENOTFOUND);
    cr_assert_eq(mq_assets_catch_up(rebuilt, st, &err), 0, "%s", err.msg);
    partial pa = {writer, (int64_t)s.evs.len / 3};
    mq_event_filter f = MQ_EVENT_FILTER_ALL;
    mq_store_each_event(st, &f, partial_cb, &pa, &err);
    cr_assert_eq(mq_assets_save(writer, st, &err), 0, "%s", err.msg);
    cr_assert_eq(mq_assets_load(reader, st, &err), 0, "%s", err.msg);
    cr_assert_eq(mq_assets_catch_up(reader, st, &err), 0, "%s", err.msg);
    mq_assets_stats a1, a2;
    mq_assets_stats_get(rebuilt, &a1);
    mq_assets_stats_get(reader, &a2);
    cr_expect_eq(a1.last_seq, (int64_t)s.evs.len);
    cr_expect_gt(a1.updates[MQ_SLOT_ARTWORK], 500);
    mq_buf b1, b2;
    serialize(rebuilt, &b1);
    serialize(reader, &b2);
    cr_assert(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0,
              "catching up from a checkpoint differs from rebuilding from the log");
    mq_buf_free(&b1);
    mq_buf_free(&b2);
    mq_free(status);
    mq_assets_destroy(rebuilt);
    mq_assets_destroy(writer);
    mq_assets_destroy(reader);
    mq_catalog_destroy(cat);
    mq_store_close(st);
    th_rmrf(dir);
    free(dir);
    stream_free(&s);
    world_free(&w);
}

Test(assets, params_come_from_the_configuration_table) {
    mq_config *c = mq_config_create();
    mq_err err = {0};
    mq_assets_params p;
    cr_assert_eq(mq_assets_params_from_config(&p, c, &err), 0, "%s", err.msg);
    cr_expect_eq(p.policy, MQ_APOL_THOMPSON);
    cr_expect_eq(p.slots, 7u);
    cr_expect_null(mq_assets_params_check(&p));
    cr_assert_eq(mq_config_set(c, "assets.policy", "bogus", "--assets.policy", &err), 0);
    cr_expect_eq(mq_assets_params_from_config(&p, c, &err), MQ_EINVAL);
    cr_expect(strstr(err.msg, "assets.policy") && strstr(err.msg, "bogus"), "%s", err.msg);
    cr_assert_eq(mq_config_set(c, "assets.policy", "linucb", "x", &err), 0);
    cr_assert_eq(mq_config_set(c, "assets.slots", "artwork,poster", "x", &err), 0);
    cr_expect_eq(mq_assets_params_from_config(&p, c, &err), MQ_EINVAL);
    cr_expect(strstr(err.msg, "poster") != NULL, "%s", err.msg);
    cr_assert_eq(mq_config_set(c, "assets.slots", "artwork", "x", &err), 0);
    cr_assert_eq(mq_config_set(c, "assets.reward", "minutes", "x", &err), 0);
    cr_assert_eq(mq_assets_params_from_config(&p, c, &err), 0, "%s", err.msg);
    cr_expect_eq(p.slots, 1u);
    cr_expect_eq(p.reward, MQ_REWARD_MINUTES);
    mq_config_destroy(c);
}
