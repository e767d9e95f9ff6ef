/* assets_online.c: the online proof of the asset bandits, against the synthetic
 * world's ground truth (`marquee eval --assets --simulate`).
 *
 * The log of a synthetic world says who looked at which title, where on the
 * page, when and on which device. The simulation shows each of those
 * impressions again, once per policy, with the policy's own choice of variant;
 * the behaviour model (src/sim) gives the probability that the member is
 * attracted by the title shown that way, a uniform draw shared by every policy
 * (common random numbers) decides whether it plays, and the policy learns from
 * that outcome as it would from a live play. The other events of the log (plays,
 * completions, thumbs) still move each profile's taste; the log's own plays are
 * not shown to the policies, since they followed the log's random artwork.
 *
 * Each impression is judged on its own: a play that would have ended the page
 * earlier does not remove the impressions after it (the log's cascade is kept),
 * so every policy faces the same impressions and only its choices differ.
 *
 * Compared with the roster (random, default, popular, title-egreedy, linucb,
 * thompson): best-static, the single best variant per title in hindsight (an
 * oracle for policies that ignore the profile), and the oracle, which knows each
 * member's response and picks its most attractive variant. Regret is the
 * oracle's expected plays minus the policy's. */
#include "assets_eval_impl.h"

#include <math.h>
#include <string.h>

#define DAY_MS 86400000LL

enum { BEST_STATIC = 0, ORACLE = 1 };

typedef struct {
    const mq_assets_eval_opts *o;
    const mq_catalog *cat;
    mq_assets_online_report *r;
    ae_truth *truth;
    size_t n_learn;
    mq_assets *bandit[MQ_ASSETS_EVAL_POLICIES];
    ae_ctx *ctx[MQ_ASSETS_EVAL_POLICIES];
    double *title_sum; /* per title id x MQ_ASSETS_MAX_VARIANTS: sum of attractions */
    uint32_t n_title;
    mq_rng crn, rng;
    bool pre;
    mq_progress bar;
    uint64_t seen;
} octx;

static int day_of(const octx *c, int64_t ts) {
    int64_t d = (ts - c->r->start_ms) / DAY_MS;
    return d < 0 ? 0 : d >= c->r->n_days ? c->r->n_days - 1 : (int)d;
}

static void account(octx *c, size_t i, int day, double p, double oracle, bool play) {
    mq_assets_online_row *row = &c->r->rows[i];
    row->impressions += 1;
    row->expected += p;
    row->regret += oracle - p;
    row->plays += play;
    row->day_expected[day] += p;
    row->day_regret[day] += oracle - p;
    row->day_plays[day] += play;
}

static int online_cb(void *ud, const mq_event *e) {
    octx *c = ud;
    if (c->o->progress && (++c->seen & 0xffff) == 0)
        mq_progress_update(&c->bar, c->seen);
    bool imp = e->type == MQ_EV_IMPRESSION && e->title_id;
    const mq_title *t = imp ? mq_catalog_title(c->cat, e->title_id) : NULL;
    double attr[MQ_ASSETS_MAX_VARIANTS], lp;
    int n = 0;
    if (t && ae_logged_variant(t, c->o->slot, e, &lp) >= 0)
        n = ae_truth_attraction(c->truth, e, t, c->o->slot, attr);
    if (c->pre) {
        if (n > 0 && e->title_id < c->n_title)
            for (int a = 0; a < n; a++)
                c->title_sum[(size_t)e->title_id * MQ_ASSETS_MAX_VARIANTS + a] += attr[a];
        return 0;
    }
    if (!imp) {
        /* The log's plays followed its own artwork: the policies' plays come from
         * the simulation instead. Everything else moves tastes as it did. */
        if (e->type != MQ_EV_PLAY_START)
            for (size_t i = 0; i < c->n_learn; i++)
                mq_assets_observe(c->bandit[i], e);
        return 0;
    }
    if (n <= 0)
        return 0;
    int day = day_of(c, e->ts_ms);
    double u = mq_rng_unif(&c->crn), oracle = 0;
    for (int a = 0; a < n; a++)
        oracle = MQ_MAX(oracle, attr[a]);
    c->r->impressions += 1;
    c->r->oracle += oracle;
    c->r->day_impressions[day] += 1;
    for (size_t i = 0; i < c->n_learn; i++) {
        mq_assets *a = c->bandit[i];
        const mq_asset_context *ctx = ae_prepare(a, c->ctx[i], e);
        mq_asset_choice ch;
        mq_assets_choose(a, ctx, t, &c->rng, &ch);
        int v = ch.slot[c->o->slot].variant;
        if (v < 0 || v >= n)
            v = 0;
        bool play = u < attr[v];
        account(c, i, day, attr[v], oracle, play);
        mq_event shown = *e;
        if (c->o->slot == MQ_SLOT_ARTWORK) {
            shown.artwork_id = ch.slot[MQ_SLOT_ARTWORK].id;
            shown.propensity = ch.slot[MQ_SLOT_ARTWORK].propensity;
        } else {
            shown.synopsis_id = ch.slot[MQ_SLOT_SYNOPSIS].id;
        }
        mq_assets_observe(a, &shown);
        if (play) {
            mq_event ps = *e;
            ps.type = MQ_EV_PLAY_START;
            ps.ts_ms = e->ts_ms + 2000;
            ps.position_s = 0;
            mq_assets_observe(a, &ps);
        }
    }
    /* best-static: hindsight's single best variant of the title, for everyone */
    const double *sum = &c->title_sum[(size_t)e->title_id * MQ_ASSETS_MAX_VARIANTS];
    int best = 0;
    for (int a = 1; a < n; a++)
        if (sum[a] > sum[best])
            best = a;
    account(c, c->n_learn + BEST_STATIC, day, attr[best], oracle, u < attr[best]);
    account(c, c->n_learn + ORACLE, day, oracle, oracle, u < oracle);
    return 0;
}

void mq_assets_online_free(mq_assets_online_report *r) {
    for (size_t i = 0; i < MQ_ASSETS_EVAL_POLICIES; i++) {
        mq_free(r->rows[i].day_plays);
        mq_free(r->rows[i].day_expected);
        mq_free(r->rows[i].day_regret);
        r->rows[i].day_plays = r->rows[i].day_expected = r->rows[i].day_regret = NULL;
    }
    mq_free(r->day_impressions);
    r->day_impressions = NULL;
}

int mq_assets_eval_online(mq_store *s, const mq_assets_params *base, const mq_assets_eval_opts *o,
                          mq_assets_online_report *r, mq_err *err) {
    memset(r, 0, sizeof *r);
    r->slot = o->slot;
    double t0 = mq_mono_s();
    octx c;
    memset(&c, 0, sizeof c);
    c.o = o;
    c.r = r;
    mq_catalog *cat = NULL;
    ae_truth truth = {0};
    int rc;
    if (o->slot != MQ_SLOT_ARTWORK && o->slot != MQ_SLOT_SYNOPSIS) {
        rc = mq_err_set(err, MQ_EINVAL,
                        "assets simulation: expected the artwork or synopsis slot, got %s",
                        mq_asset_slot_name(o->slot));
        goto out;
    }
    mq_store_stats st;
    if ((rc = mq_store_stats_get(s, &st, err)) || (rc = mq_store_load_catalog(s, &cat, err)) ||
        (rc = ae_truth_open(s, cat, &truth, err)))
        goto out;
    c.cat = cat;
    c.truth = &truth;
    r->start_ms = mq_world_start_ms(truth.w);
    r->n_days = (int)((mq_world_end_ms(truth.w) - r->start_ms + DAY_MS - 1) / DAY_MS);
    if (r->n_days < 1)
        r->n_days = 1;
    r->day_impressions = mq_calloc((size_t)r->n_days, sizeof(double));
    /* The simulation rewards plays. */
    mq_assets_params p = *base;
    p.reward = MQ_REWARD_PLAY;
    c.n_learn = MQ_MIN(ae_roster_len, (size_t)MQ_ASSETS_EVAL_POLICIES - 2);
    r->n = c.n_learn + 2;
    for (size_t i = 0; i < r->n; i++) {
        const char *name = i < c.n_learn                  ? ae_roster[i].name
                           : i == c.n_learn + BEST_STATIC ? "best-static"
                                                          : "oracle";
        snprintf(r->rows[i].name, sizeof r->rows[i].name, "%s", name);
        r->rows[i].day_plays = mq_calloc((size_t)r->n_days, sizeof(double));
        r->rows[i].day_expected = mq_calloc((size_t)r->n_days, sizeof(double));
        r->rows[i].day_regret = mq_calloc((size_t)r->n_days, sizeof(double));
        if (i < c.n_learn) {
            if ((rc = ae_create(&p, o->slot, cat, &ae_roster[i], &c.bandit[i], err)))
                goto out;
            c.ctx[i] = mq_calloc(1, sizeof(ae_ctx));
        }
    }
    /* pass 0: each title's variants summed over its impressions, for best-static */
    c.n_title = mq_catalog_title_end(cat);
    c.title_sum = mq_calloc((size_t)c.n_title * MQ_ASSETS_MAX_VARIANTS, sizeof(double));
    c.pre = true;
    mq_event_filter f = MQ_EVENT_FILTER_ALL;
    if (o->progress)
        mq_progress_start(&c.bar, "assets: truth", "events", st.events);
    if ((rc = mq_store_each_event(s, &f, online_cb, &c, err)))
        goto out;
    if (o->progress)
        mq_progress_finish(&c.bar);
    /* pass 1: the policies, online */
    c.pre = false;
    c.seen = 0;
    mq_rng_seed(&c.crn, o->seed, 0x63726e);
    mq_rng_seed(&c.rng, o->seed, 0x706f6c);
    if (o->progress)
        mq_progress_start(&c.bar, "assets: simulate", "events", st.events);
    if ((rc = mq_store_each_event(s, &f, online_cb, &c, err)))
        goto out;
    if (o->progress)
        mq_progress_finish(&c.bar);
    rc = MQ_OK;
out:
    r->seconds = mq_mono_s() - t0;
    for (size_t i = 0; i < MQ_ASSETS_EVAL_POLICIES; i++) {
        mq_assets_destroy(c.bandit[i]);
        mq_free(c.ctx[i]);
    }
    mq_free(c.title_sum);
    ae_truth_close(&truth);
    mq_catalog_destroy(cat);
    if (rc)
        mq_assets_online_free(r);
    return rc;
}

/* ----------------------------------------------------------------- report ---- */

static const mq_assets_online_row *row_named(const mq_assets_online_report *r, const char *n) {
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->rows[i].name, n) == 0)
            return &r->rows[i];
    return NULL;
}

/* Expected plays of a row over days [from, to). */
static double span(const mq_assets_online_report *r, const double *v, int from, int to) {
    double s = 0;
    for (int d = from; d < to && d < r->n_days; d++)
        s += v[d];
    return s;
}

static void lift(char *out, size_t n, double v, double base) {
    if (!(base > 0))
        snprintf(out, n, "-");
    else
        snprintf(out, n, "%+.1f%%", 100 * (v / base - 1));
}

void mq_assets_online_print(FILE *f, const mq_assets_online_report *r) {
    const mq_assets_online_row *rnd = row_named(r, "random"), *pop = row_named(r, "popular"),
                               *best = row_named(r, "best-static");
    int last = r->n_days - r->n_days / 3;
    double imps_last = span(r, r->day_impressions, last, r->n_days);
    fprintf(f,
            "assets simulation (%s): %.0f impressions over %d days; the world's behaviour model "
            "decides each play\n",
            mq_asset_slot_name(r->slot), r->impressions, r->n_days);
    fprintf(f,
            "take rate = expected plays / impressions (plays: realized with common random "
            "numbers); last third = days %d-%d\n\n",
            last + 1, r->n_days);
    fprintf(f, "%-14s %9s %9s %10s %10s %11s %11s %11s %12s\n", "policy", "take rate", "plays",
            "vs random", "vs popular", "vs best-st.", "last third", "vs rnd (lt)", "regret/1k");
    for (size_t i = 0; i < r->n; i++) {
        const mq_assets_online_row *row = &r->rows[i];
        char l1[16], l2[16], l3[16], l4[16];
        lift(l1, sizeof l1, row->expected, rnd ? rnd->expected : NAN);
        lift(l2, sizeof l2, row->expected, pop ? pop->expected : NAN);
        lift(l3, sizeof l3, row->expected, best ? best->expected : NAN);
        double lt = span(r, row->day_expected, last, r->n_days);
        lift(l4, sizeof l4, lt, rnd ? span(r, rnd->day_expected, last, r->n_days) : NAN);
        fprintf(f, "%-14s %8.3f%% %9.0f %10s %10s %11s %10.3f%% %11s %12.2f\n", row->name,
                100 * row->expected / MQ_MAX(row->impressions, 1), row->plays, l1, l2, l3,
                100 * lt / MQ_MAX(imps_last, 1), l4,
                1000 * row->regret / MQ_MAX(row->impressions, 1));
    }
    fprintf(f, "\nregret per 1,000 impressions, by day:\n%6s %9s", "day", "imps");
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->rows[i].name, "oracle") != 0)
            fprintf(f, " %13.13s", r->rows[i].name);
    fputc('\n', f);
    int step = r->n_days > 30 ? (r->n_days + 14) / 15 : 1;
    for (int d0 = 0; d0 < r->n_days; d0 += step) {
        int d1 = MQ_MIN(d0 + step, r->n_days);
        double im = span(r, r->day_impressions, d0, d1);
        fprintf(f, "%3d-%-3d %8.0f", d0 + 1, d1, im);
        for (size_t i = 0; i < r->n; i++)
            if (strcmp(r->rows[i].name, "oracle") != 0)
                fprintf(f, " %13.2f",
                        1000 * span(r, r->rows[i].day_regret, d0, d1) / MQ_MAX(im, 1));
        fputc('\n', f);
    }
    fprintf(f, "\n%.1f s\n", r->seconds);
}

json_t *mq_assets_online_json(const mq_assets_online_report *r) {
    json_t *o = json_object();
    json_object_set_new(o, "slot", json_string(mq_asset_slot_name(r->slot)));
    json_object_set_new(o, "impressions", json_real(r->impressions));
    json_object_set_new(o, "days", json_integer(r->n_days));
    json_object_set_new(o, "seconds", json_real(r->seconds));
    json_t *di = json_array();
    for (int d = 0; d < r->n_days; d++)
        json_array_append_new(di, json_real(r->day_impressions[d]));
    json_object_set_new(o, "day_impressions", di);
    json_t *pols = json_array();
    for (size_t i = 0; i < r->n; i++) {
        const mq_assets_online_row *row = &r->rows[i];
        json_t *p = json_object();
        json_object_set_new(p, "name", json_string(row->name));
        json_object_set_new(p, "impressions", json_real(row->impressions));
        json_object_set_new(p, "plays", json_real(row->plays));
        json_object_set_new(p, "expected_plays", json_real(row->expected));
        json_object_set_new(p, "take_rate", json_real(row->expected / MQ_MAX(row->impressions, 1)));
        json_object_set_new(p, "regret", json_real(row->regret));
        json_t *de = json_array(), *dr = json_array();
        for (int d = 0; d < r->n_days; d++) {
            json_array_append_new(de, json_real(row->day_expected[d]));
            json_array_append_new(dr, json_real(row->day_regret[d]));
        }
        json_object_set_new(p, "day_expected_plays", de);
        json_object_set_new(p, "day_regret", dr);
        json_array_append_new(pols, p);
    }
    json_object_set_new(o, "policies", pols);
    return o;
}

/* -------------------------------------------------------------------- SVG ---- */

int mq_assets_online_svg(const mq_assets_online_report *r, const char *path, mq_err *err) {
    /* Each policy's regret as a share of random's (the part of the oracle's gain
     * over random artwork that the policy misses), over windows of a few days:
     * the mix of impressions changes from day to day (tastes drift), which moves
     * every policy's absolute regret alike. */
    static const char *const colours[] = {"#b07aa1", "#59a14f", "#edc948", "#f28e2b",
                                          "#4e79a7", "#76b7b2", "#e15759", "#888888"};
    const double W = 760, H = 420, L = 70, R = 170, T = 40, B = 50;
    const mq_assets_online_row *rnd = row_named(r, "random");
    if (!rnd)
        return mq_err_set(err, MQ_EINVAL, "%s: the report has no random policy", path);
    const int win = r->n_days >= 30 ? 5 : r->n_days >= 10 ? 2 : 1;
    const int nw = (r->n_days + win - 1) / win;
    /* the y range: the values plotted, rounded out to 0.1, and 1 (random) */
    double ymin = 1, ymax = 1;
    for (size_t i = 0; i < r->n; i++) {
        if (&r->rows[i] == rnd || strcmp(r->rows[i].name, "oracle") == 0)
            continue;
        for (int w = 0; w < nw; w++) {
            int d0 = w * win, d1 = MQ_MIN(d0 + win, r->n_days);
            double base = span(r, rnd->day_regret, d0, d1);
            if (base <= 0)
                continue;
            double v = span(r, r->rows[i].day_regret, d0, d1) / base;
            ymin = MQ_MIN(ymin, v);
            ymax = MQ_MAX(ymax, v);
        }
    }
    ymin = floor(ymin * 10 - 1e-9) / 10;
    ymax = ceil(ymax * 10 + 1e-9) / 10;
    const double ystep = ymax - ymin > 0.6 ? 0.1 : 0.05;
    FILE *f = fopen(path, "w");
    if (!f)
        return mq_err_set(err, MQ_EIO, "%s: cannot write the chart", path);
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"%.0f\" y=\"22\" font-size=\"14\">%s: regret as a share of random's, "
            "%d-day windows (1 = random, 0 = the oracle)</text>\n",
            W, H, W, H, L, mq_asset_slot_name(r->slot), win);
    double pw = W - L - R, ph = H - T - B;
    for (double y = ymin; y <= ymax + 1e-9; y += ystep) {
        double py = T + ph * (1 - (y - ymin) / (ymax - ymin));
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>\n",
                L, py, L + pw, py, fabs(y - 1) < 1e-9 ? "#888" : "#ddd", L - 6, py + 4, y);
    }
    int xstep = r->n_days > 20 ? 10 : r->n_days > 10 ? 5 : 1;
    for (int d = 0; d <= r->n_days; d += xstep)
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%d</text>\n",
                L + pw * d / MQ_MAX(r->n_days, 1), T + ph + 18, d);
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">simulated day</text>\n"
            "<text transform=\"translate(18,%.1f) rotate(-90)\" text-anchor=\"middle\">regret / "
            "random's regret</text>\n"
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
            "stroke=\"#444\"/>\n",
            L + pw / 2, H - 10, T + ph / 2, L, T, pw, ph);
    int k = 0;
    for (size_t i = 0; i < r->n; i++) {
        const mq_assets_online_row *row = &r->rows[i];
        if (row == rnd || strcmp(row->name, "oracle") == 0)
            continue;
        const char *col = colours[k % MQ_ARRAY_LEN(colours)];
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%s\" points=\"", col,
                strcmp(row->name, "thompson") == 0 || strcmp(row->name, "linucb") == 0 ? "2.5"
                                                                                       : "1.5");
        for (int w = 0; w < nw; w++) {
            int d0 = w * win, d1 = MQ_MIN(d0 + win, r->n_days);
            double base = span(r, rnd->day_regret, d0, d1);
            if (base <= 0)
                continue;
            double v = span(r, row->day_regret, d0, d1) / base;
            fprintf(f, "%.1f,%.1f ", L + pw * (d0 + d1) / 2.0 / r->n_days,
                    T + ph * (1 - (v - ymin) / (ymax - ymin)));
        }
        double ly = T + 14 + 18 * k;
        fprintf(f,
                "\"/>\n<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "stroke-width=\"3\"/>\n<text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
                L + pw + 12, ly - 4, L + pw + 32, ly - 4, col, L + pw + 38, ly, row->name);
        k++;
    }
    fprintf(f, "</svg>\n");
    if (fclose(f) != 0)
        return mq_err_set(err, MQ_EIO, "%s: cannot write the chart", path);
    return MQ_OK;
}
