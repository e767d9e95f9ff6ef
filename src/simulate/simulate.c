/* simulate.c: the simulation of simulate.h. The world is regenerated from the
 * store's ground truth; one live state per page policy is rebuilt from the log
 * in a single scan; a schedule of sessions (member, time, device) is drawn once;
 * then each policy runs the schedule on its own thread, with its own page
 * service and state, drawing each session's randomness from a stream seeded by
 * (seed, session) so every policy meets the same draws in the same order. */
#include "simulate.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

void mq_simulate_opts_from_config(mq_simulate_opts *o, const mq_config *c) {
    memset(o, 0, sizeof *o);
    o->sessions = (size_t)mq_config_num(c, "simulate.sessions");
    o->seed = (uint64_t)mq_config_num(c, "simulate.seed");
    o->patience_s = mq_config_num(c, "simulate.patience_s");
    o->target_s = mq_config_num(c, "simulate.target_s");
    o->row_glance_s = mq_config_num(c, "simulate.row_glance_s");
    o->title_look_s = mq_config_num(c, "simulate.title_look_s");
    o->along = mq_config_num(c, "simulate.along");
    o->gap_minutes = mq_config_num(c, "simulate.gap_minutes");
    o->policies = (1u << MQ_PAGE_POLICY_COUNT) - 1;
    o->threads = (int)mq_config_num(c, "threads");
}

/* ------------------------------------------------------------------ setup ---- */

typedef struct session {
    uint32_t profile; /* store id */
    uint32_t wp;      /* world index */
    mq_device device;
    int64_t ts;
} session;

typedef struct sim {
    const mq_simulate_opts *o;
    const mq_page_params *pp;
    const mq_bundle *b;
    mq_world *w;
    mq_catalog *cat; /* store ids: titles and profiles */
    uint32_t *wt;    /* store title id -> world index + 1 (0: none) */
    uint32_t tend;
    uint32_t *wpi; /* store profile id -> world index + 1 */
    uint32_t pend;
    session *sched;
    size_t n_sched;
    mq_state *states[MQ_PAGE_POLICY_COUNT];
    mq_page_service *svc[MQ_PAGE_POLICY_COUNT];
    int64_t last_ms;
} sim;

static int replay(void *ud, const mq_event *e) {
    sim *g = ud;
    for (int k = 0; k < MQ_PAGE_POLICY_COUNT; k++)
        if (g->states[k])
            mq_state_apply(g->states[k], e);
    if (e->ts_ms > g->last_ms)
        g->last_ms = e->ts_ms;
    return 0;
}

/* Sessions: members drawn uniformly among those with any history (a member
 * the log never saw has no device habit), one every gap_minutes, on a device
 * drawn from the member's play starts by device (plus one of each). */
static void schedule(sim *g, mq_state *st) {
    MQ_VEC(uint32_t) active = {0};
    for (uint32_t id = 1; id < g->pend; id++) {
        mq_state_view v;
        if (g->wpi[id] && mq_state_get(st, id, g->last_ms, &v)) {
            MQ_VEC_PUSH(&active, id);
            mq_state_view_free(&v);
        }
    }
    g->n_sched = active.len ? g->o->sessions : 0;
    g->sched = mq_calloc(g->n_sched + 1, sizeof *g->sched);
    mq_rng r;
    mq_rng_seed(&r, g->o->seed, 0x5e55);
    int64_t t0 = MQ_MAX(g->last_ms, mq_world_end_ms(g->w)) + 3600 * 1000LL;
    for (size_t i = 0; i < g->n_sched; i++) {
        session *s = &g->sched[i];
        s->profile = active.items[mq_rng_below(&r, (uint32_t)active.len)];
        s->wp = g->wpi[s->profile] - 1;
        s->ts = t0 + (int64_t)((double)i * g->o->gap_minutes * 60000.0);
        mq_state_view v;
        double w[4] = {1, 1, 1, 1};
        if (mq_state_get(st, s->profile, s->ts, &v)) {
            for (int d = 0; d < 4; d++)
                w[d] += v.device[MQ_DEVICE_TV + d];
            mq_state_view_free(&v);
        }
        s->device = (mq_device)(MQ_DEVICE_TV + (int)mq_rng_categorical(&r, w, 4));
    }
    mq_free(active.items);
}

/* ---------------------------------------------------------------- browsing ---- */

typedef struct run {
    sim *g;
    mq_page_policy pol;
    mq_simulate_result *res;
    double *plays_by_title; /* world index */
    uint64_t evseq;
} run;

static uint64_t pg_sim_seed(uint64_t seed, size_t i) {
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL + (uint64_t)i;
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ULL;
    return x ^ (x >> 29);
}

static void emit(run *u, mq_state *st, mq_event *e) {
    u->evseq++;
    mq_state_apply(st, e);
}

static void base_event(const session *s, const sim *g, mq_event *e, mq_event_type type,
                       int64_t ts) {
    mq_event_init(e);
    e->type = type;
    e->profile_id = s->profile;
    e->ts_ms = ts;
    e->device = s->device;
    e->tz_offset_min = (int16_t)mq_world_tz_offset(g->w, s->wp);
}

/* What one session came to. */
typedef struct outcome {
    bool played;
    double t;        /* seconds to the play, or to giving up */
    size_t row, col; /* the item played */
} outcome;

static void scroll_event(const session *s, const sim *g, const mq_page *pg, size_t ri, int col,
                         mq_scroll_dir dir, double t, mq_event *e) {
    base_event(s, g, e, MQ_EV_ROW_SCROLL, s->ts + (int64_t)(t * 1000));
    e->page_id = pg->page_id;
    e->row_id = pg->rows[ri].row_id;
    e->row_pos = (int32_t)ri;
    e->col_pos = col;
    e->direction = dir;
}

/* What the member already played: 1 in progress, 2 completed (0: never). */
static uint8_t played_status(const mq_state_view *v, uint32_t title) {
    for (size_t i = 0; i < v->n_titles; i++) {
        const mq_state_title *h = &v->titles[i];
        if (h->title_id == title && h->plays)
            return h->completed_ever && !mq_state_title_continue(h) ? 2 : 1;
    }
    return 0;
}

/* The probability that a look at title t (world index wt) starts a play. The
 * ground truth's attraction is for titles the member has never played (its own
 * pages never show others); a title in progress is resumed at the world's
 * resume_rate, a finished one it liked rewatched at its rewatch_rate. */
static double p_play(const sim *g, const session *s, const mq_state_view *v, bool have,
                     const mq_page_item *it, uint32_t wt, int row, int col,
                     const mq_sim_context *ctx) {
    uint8_t done = have ? played_status(v, it->title_id) : 0;
    const mq_world_params *wp = mq_world_params_get(g->w);
    if (done == 1)
        return wp->resume_rate;
    if (done == 2)
        return mq_behaviour_affinity(g->w, s->wp, wt, s->ts) >= 0.5 ? wp->rewatch_rate : 0;
    return mq_behaviour_attraction(g->w, s->wp, wt, it->artwork, row, col, ctx);
}

/* One session's browsing of page pg (simulate.h). */
static outcome browse(run *u, const session *s, const mq_page *pg, mq_rng *r, double *impressions) {
    sim *g = u->g;
    const mq_simulate_opts *o = g->o;
    mq_state *st = g->states[u->pol];
    int V = mq_page_device_format(s->device).visible;
    outcome out = {false, 0, 0, 0};
    double t = 0;
    mq_event e;
    mq_sim_context ctx;
    mq_sim_context_at(g->w, s->wp, s->ts, s->device, &ctx);
    mq_state_view v;
    bool have = mq_state_get(st, s->profile, s->ts, &v);
    for (size_t ri = 0; ri < pg->n_rows; ri++) {
        const mq_page_row *row = &pg->rows[ri];
        t += o->row_glance_s;
        if (t > o->patience_s)
            break;
        int limit = MQ_MIN(V, (int)row->n_items);
        bool along = false;
        for (int c = 0; c < (int)row->n_items; c++) {
            if (c == limit) {
                /* The visible titles did not attract: scroll along for more? */
                if (along || mq_rng_unif(r) >= o->along)
                    break;
                along = true;
                limit = MQ_MIN(limit + V, (int)row->n_items);
                scroll_event(s, g, pg, ri, c, MQ_DIR_ALONG, t, &e);
                emit(u, st, &e);
            }
            t += o->title_look_s;
            if (t > o->patience_s)
                goto gave_up;
            const mq_page_item *it = &row->items[c];
            uint32_t wt = it->title_id < g->tend ? g->wt[it->title_id] : 0;
            base_event(s, g, &e, MQ_EV_IMPRESSION, s->ts + (int64_t)(t * 1000));
            e.title_id = it->title_id;
            e.page_id = pg->page_id;
            e.row_id = row->row_id;
            e.row_pos = (int32_t)ri;
            e.col_pos = c;
            e.artwork_id = it->artwork >= 0 ? it->title->artwork[it->artwork].id : NULL;
            e.propensity = it->propensity;
            emit(u, st, &e);
            (*impressions)++;
            double draw = mq_rng_unif(r); /* drawn for every look: common random numbers */
            if (wt && draw < p_play(g, s, &v, have, it, wt - 1, (int)ri, c, &ctx)) {
                out.played = true;
                out.t = t;
                out.row = ri;
                out.col = (size_t)c;
                goto done;
            }
        }
        scroll_event(s, g, pg, ri, MQ_MIN(V, (int)row->n_items) - 1, MQ_DIR_PAST, t, &e);
        emit(u, st, &e);
    }
gave_up:
    out.t = MQ_MIN(t, o->patience_s);
done:
    if (have)
        mq_state_view_free(&v);
    return out;
}

/* The play: click, play_start, how far the member watches (the ground truth),
 * play_stop or complete, perhaps a thumbs. Returns the minutes watched. */
static double watch(run *u, const session *s, const mq_page *pg, const outcome *oc, mq_rng *r) {
    sim *g = u->g;
    mq_state *st = g->states[u->pol];
    const mq_page_row *row = &pg->rows[oc->row];
    const mq_page_item *it = &row->items[oc->col];
    uint32_t wt = g->wt[it->title_id] - 1;
    const mq_title *t = it->title;
    double dur = (t->runtime_min > 0 ? t->runtime_min : 60) * 60.0;
    double from = 0;
    mq_state_view v;
    if (mq_state_get(st, s->profile, s->ts, &v)) {
        for (size_t i = 0; i < v.n_titles; i++)
            if (v.titles[i].title_id == it->title_id && mq_state_title_continue(&v.titles[i]) &&
                v.titles[i].duration_s > 0)
                from = MQ_MIN(v.titles[i].position_s / v.titles[i].duration_s, 0.95);
        mq_state_view_free(&v);
    }
    int64_t ts = s->ts + (int64_t)(oc->t * 1000);
    mq_event e;
    base_event(s, g, &e, MQ_EV_CLICK, ts);
    e.title_id = it->title_id;
    e.page_id = pg->page_id;
    e.row_id = row->row_id;
    e.row_pos = (int32_t)oc->row;
    e.col_pos = (int32_t)oc->col;
    emit(u, st, &e);
    base_event(s, g, &e, MQ_EV_PLAY_START, ts + 1000);
    e.title_id = it->title_id;
    e.position_s = from * dur;
    emit(u, st, &e);
    mq_sim_context ctx;
    mq_sim_context_at(g->w, s->wp, s->ts, s->device, &ctx);
    mq_sim_watch w;
    mq_behaviour_watch(g->w, s->wp, wt, &ctx, from, r, &w);
    int64_t end = ts + 1000 + (int64_t)((w.to - from) * dur * 1000);
    if (w.complete) {
        base_event(s, g, &e, MQ_EV_COMPLETE, end);
        e.title_id = it->title_id;
        e.duration_s = dur;
    } else {
        base_event(s, g, &e, MQ_EV_PLAY_STOP, end);
        e.title_id = it->title_id;
        e.position_s = w.to * dur;
        e.duration_s = dur;
    }
    emit(u, st, &e);
    int th = mq_behaviour_thumbs(g->w, s->wp, wt, &ctx, &w, r);
    if (th) {
        base_event(s, g, &e, MQ_EV_THUMBS, end + 5000);
        e.title_id = it->title_id;
        e.value = th > 0 ? MQ_THUMB_UP : MQ_THUMB_DOWN;
        emit(u, st, &e);
    }
    u->plays_by_title[wt] += 1;
    return (w.to - from) * dur / 60.0;
}

static void *run_policy(void *ud) {
    run *u = ud;
    sim *g = u->g;
    mq_simulate_result *res = u->res;
    memset(res, 0, sizeof *res);
    res->policy = u->pol;
    res->ttp = mq_malloc((g->n_sched + 1) * sizeof *res->ttp);
    res->within = mq_malloc(g->n_sched + 1);
    res->n_within = g->n_sched;
    memset(res->within, MQ_SIMULATE_NO_PAGE, g->n_sched);
    mq_arena a;
    mq_arena_init(&a, (size_t)4 << 20, 0);
    double page_s = 0;
    for (size_t i = 0; i < g->n_sched; i++) {
        const session *s = &g->sched[i];
        const mq_profile *pr = mq_catalog_profile(g->cat, s->profile);
        mq_page_request rq = {0};
        rq.profile_id = s->profile;
        rq.profile = pr ? pr->ext_id : "";
        rq.maturity_limit = pr ? pr->maturity_limit : 18;
        rq.device = s->device;
        rq.now_ms = s->ts;
        rq.tz_offset_min = mq_world_tz_offset(g->w, s->wp);
        rq.policy = (int)u->pol;
        rq.bundle = g->b;
        rq.bundle_version = 1;
        rq.state = g->states[u->pol];
        rq.seed = g->o->seed;
        mq_arena_reset(&a);
        mq_page pg;
        mq_err err = {0};
        double t0 = mq_mono_s();
        if (mq_page_build(g->svc[u->pol], &rq, &a, &pg, &err)) {
            mq_log(MQ_LOG_WARN, "simulate: page for %s: %s", rq.profile, err.msg);
            continue;
        }
        page_s += mq_mono_s() - t0;
        mq_rng r;
        mq_rng_seed(&r, pg_sim_seed(g->o->seed, i), 0x6272);
        outcome oc = browse(u, s, &pg, &r, &res->impressions);
        res->sessions++;
        res->within[i] = oc.played && oc.t <= g->o->target_s;
        if (oc.played) {
            res->played++;
            res->plays++;
            if (oc.t <= g->o->target_s)
                res->played_target++;
            res->ttp[res->n_ttp++] = oc.t;
            res->watch_minutes += watch(u, s, &pg, &oc, &r);
        }
        mq_page_done(g->svc[u->pol], &pg);
    }
    mq_arena_free(&a);
    res->page_ms = res->sessions ? page_s * 1000 / (double)res->sessions : 0;
    return NULL;
}

/* ---------------------------------------------------------------- metrics ---- */

static int by_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static int by_double_desc(const void *x, const void *y) {
    return by_double(y, x);
}

/* Effective Catalog Size (DESIGN.md): 2 sum_i p_i i - 1, shares sorted decreasing. */
static double ecs(double *counts, size_t n) {
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += counts[i];
    if (total <= 0)
        return 0;
    qsort(counts, n, sizeof *counts, by_double_desc);
    double s = 0;
    for (size_t i = 0; i < n && counts[i] > 0; i++)
        s += counts[i] / total * (double)(i + 1);
    return 2 * s - 1;
}

static void finish_result(mq_simulate_result *r, const mq_simulate_opts *o, double *plays,
                          size_t n_titles) {
    qsort(r->ttp, r->n_ttp, sizeof *r->ttp, by_double);
    r->share_target = r->sessions ? (double)r->played_target / (double)r->sessions : 0;
    if (r->n_ttp) {
        size_t m = r->n_ttp / 2;
        r->median_s = r->n_ttp % 2 ? r->ttp[m] : (r->ttp[m - 1] + r->ttp[m]) / 2;
        double sum = 0;
        for (size_t i = 0; i < r->n_ttp; i++)
            sum += r->ttp[i];
        r->mean_s = sum / (double)r->n_ttp;
    } else {
        r->median_s = r->mean_s = NAN;
    }
    r->take_rate = r->impressions > 0 ? r->plays / r->impressions : 0;
    r->watch_minutes = r->sessions ? r->watch_minutes / (double)r->sessions : 0;
    r->ecs = ecs(plays, n_titles);
    (void)o;
}

/* -------------------------------------------------------------------- run ---- */

/* Each policy against the fixed template on the sessions both ran: the
 * difference of the share played within the target, and a paired bootstrap
 * (Efron & Tibshirani 1993, percentile method) over those sessions. The sessions
 * of one policy are not independent (its pages learn from the earlier ones), so
 * the interval is an approximation; common random numbers make it narrow. */
static void compare_with_template(mq_simulate_report *r, uint64_t seed) {
    const mq_simulate_result *t = NULL;
    for (size_t i = 0; i < r->n; i++)
        if (r->res[i].policy == MQ_PAGE_POLICY_TEMPLATE)
            t = &r->res[i];
    for (size_t i = 0; i < r->n; i++) {
        mq_simulate_result *x = &r->res[i];
        x->vs_template = x->vs_template_lo = x->vs_template_hi = NAN;
        if (!t || x == t)
            continue;
        /* The paired differences, -1, 0 or 1 per session both ran. */
        size_t n = 0, m = MQ_MIN(x->n_within, t->n_within);
        int8_t *d = mq_malloc(m + 1);
        long sum = 0;
        for (size_t k = 0; k < m; k++)
            if (x->within[k] != MQ_SIMULATE_NO_PAGE && t->within[k] != MQ_SIMULATE_NO_PAGE) {
                d[n] = (int8_t)(x->within[k] - t->within[k]);
                sum += d[n++];
            }
        if (n) {
            enum { B = 1000 };
            double *bs = mq_malloc(B * sizeof *bs);
            mq_rng rng;
            mq_rng_seed(&rng, seed, 0xC1 + (uint64_t)x->policy);
            for (int b = 0; b < B; b++) {
                long s = 0;
                for (size_t k = 0; k < n; k++)
                    s += d[mq_rng_below(&rng, (uint32_t)n)];
                bs[b] = 100.0 * (double)s / (double)n;
            }
            qsort(bs, B, sizeof *bs, by_double);
            x->vs_template = 100.0 * (double)sum / (double)n;
            x->vs_template_lo = bs[(size_t)(0.025 * (B - 1))];
            x->vs_template_hi = bs[(size_t)(0.975 * (B - 1))];
            mq_free(bs);
        }
        mq_free(d);
    }
}

static void sim_free(sim *g) {
    for (int k = 0; k < MQ_PAGE_POLICY_COUNT; k++) {
        mq_state_destroy(g->states[k]);
        mq_page_service_destroy(g->svc[k]);
    }
    mq_world_destroy(g->w);
    mq_catalog_destroy(g->cat);
    mq_free(g->wt);
    mq_free(g->wpi);
    mq_free(g->sched);
}

int mq_simulate_run(mq_store *s, const mq_bundle *b, const mq_page_params *pp,
                    const mq_semantics *sem, const mq_simulate_opts *o, mq_simulate_report *r,
                    mq_err *err) {
    memset(r, 0, sizeof *r);
    r->opts = *o;
    double t0 = mq_mono_s();
    sim g = {0};
    g.o = o;
    g.pp = pp;
    g.b = b;
    int rc;
    if ((rc = mq_world_from_store(s, "the simulator", &g.w, err)) ||
        (rc = mq_store_load_catalog(s, &g.cat, err)))
        goto out;
    /* Store ids to world indices, through the external ids. */
    g.tend = mq_catalog_title_end(g.cat);
    g.wt = mq_calloc(g.tend + 1, sizeof *g.wt);
    uint32_t known = 0;
    for (uint32_t id = 1; id < g.tend; id++) {
        const mq_title *t = mq_catalog_title(g.cat, id);
        uint32_t wi = t ? mq_world_title_index(g.w, t->ext_id) : MQ_SIM_NONE;
        if (wi != MQ_SIM_NONE) {
            g.wt[id] = wi + 1;
            known++;
        }
    }
    if (known < mq_world_n_titles(g.w)) {
        rc = mq_err_set(err, MQ_EINVAL,
                        "ground truth: its world has %u titles, of which %u are in the store; "
                        "expected the store of that world",
                        mq_world_n_titles(g.w), known);
        goto out;
    }
    g.pend = mq_catalog_profile_end(g.cat);
    g.wpi = mq_calloc(g.pend + 1, sizeof *g.wpi);
    for (uint32_t id = 1; id < g.pend; id++) {
        const mq_profile *p = mq_catalog_profile(g.cat, id);
        uint32_t wi = p ? mq_world_profile_index(g.w, p->ext_id) : MQ_SIM_NONE;
        g.wpi[id] = wi == MQ_SIM_NONE ? 0 : wi + 1;
    }
    r->titles = mq_world_n_titles(g.w);
    r->profiles = mq_world_n_profiles(g.w);
    int first = -1;
    for (int k = 0; k < MQ_PAGE_POLICY_COUNT; k++)
        if (o->policies & (1u << k)) {
            g.states[k] = mq_state_create(sem);
            if (first < 0)
                first = k;
        }
    if (first < 0) {
        rc = mq_err_set(err, MQ_EINVAL, "simulate: no page policy to simulate");
        goto out;
    }
    if ((rc = mq_store_each_event(s, &MQ_EVENT_FILTER_ALL, replay, &g, err)))
        goto out;
    schedule(&g, g.states[first]);
    if (!g.n_sched) {
        rc = mq_err_set(err, MQ_EINVAL, "simulate: the store has no member with any event");
        goto out;
    }
    for (int k = 0; k < MQ_PAGE_POLICY_COUNT; k++) {
        if (!g.states[k])
            continue;
        mq_catalog *cat = NULL;
        if ((rc = mq_page_service_create(pp, &g.svc[k], err)) ||
            (rc = mq_store_load_catalog(s, &cat, err)) ||
            (rc = mq_page_service_set_catalog(g.svc[k], cat, err)))
            goto out;
    }
    /* One thread per policy, at most `threads` at once. */
    int threads = o->threads > 0 ? o->threads : mq_threads_budget();
    run runs[MQ_PAGE_POLICY_COUNT];
    int ids[MQ_PAGE_POLICY_COUNT], n = 0;
    for (int k = 0; k < MQ_PAGE_POLICY_COUNT; k++)
        if (g.states[k]) {
            runs[n] = (run){&g, (mq_page_policy)k, &r->res[n],
                            mq_calloc(mq_world_n_titles(g.w) + 1, sizeof(double)), 0};
            ids[n] = k;
            n++;
        }
    (void)ids;
    for (int i = 0; i < n; i += threads) {
        pthread_t th[MQ_PAGE_POLICY_COUNT];
        int m = MQ_MIN(threads, n - i);
        for (int j = 1; j < m; j++)
            pthread_create(&th[j], NULL, run_policy, &runs[i + j]);
        run_policy(&runs[i]);
        for (int j = 1; j < m; j++)
            pthread_join(th[j], NULL);
    }
    for (int i = 0; i < n; i++) {
        finish_result(&r->res[i], o, runs[i].plays_by_title, mq_world_n_titles(g.w));
        mq_free(runs[i].plays_by_title);
    }
    r->n = (size_t)n;
    compare_with_template(r, o->seed);
    rc = MQ_OK;
out:
    sim_free(&g);
    r->seconds = mq_mono_s() - t0;
    if (rc)
        mq_simulate_free(r);
    return rc;
}

void mq_simulate_free(mq_simulate_report *r) {
    for (size_t i = 0; i < MQ_PAGE_POLICY_COUNT; i++) {
        mq_free(r->res[i].ttp);
        mq_free(r->res[i].within);
        r->res[i].ttp = NULL;
        r->res[i].within = NULL;
    }
    r->n = 0;
}

/* ---------------------------------------------------------------- reports ---- */

void mq_simulate_print(FILE *f, const mq_simulate_report *r) {
    const mq_simulate_opts *o = &r->opts;
    fprintf(f,
            "simulated %zu sessions per policy on a world of %u titles and %u members (seed "
            "%llu, patience %.0f s; %.1f s)\n\n",
            r->n ? r->res[0].sessions : 0, r->titles, r->profiles, (unsigned long long)o->seed,
            o->patience_s, r->seconds);
    fprintf(f, "%-10s %10s %10s %10s %10s %10s %8s %9s\n", "policy", "play<=", "median", "take",
            "watch min", "ECS", "plays", "page ms");
    char tgt[16];
    snprintf(tgt, sizeof tgt, "%.0fs", o->target_s);
    fprintf(f, "%-10s %10s %10s %10s %10s %10s %8s %9s\n", "", tgt, "to play", "rate", "/session",
            "", "", "");
    for (size_t i = 0; i < r->n; i++) {
        const mq_simulate_result *x = &r->res[i];
        char med[16];
        if (isnan(x->median_s))
            snprintf(med, sizeof med, "-");
        else
            snprintf(med, sizeof med, "%.1f s", x->median_s);
        fprintf(f, "%-10s %9.1f%% %10s %9.2f%% %10.1f %10.1f %8.0f %9.2f\n",
                mq_page_policy_name(x->policy), 100 * x->share_target, med, 100 * x->take_rate,
                x->watch_minutes, x->ecs, x->plays, x->page_ms);
    }
    bool head = false;
    for (size_t i = 0; i < r->n; i++) {
        const mq_simulate_result *x = &r->res[i];
        if (isnan(x->vs_template))
            continue;
        if (!head)
            fprintf(f, "\nagainst the fixed template, the same sessions (paired bootstrap 95%% "
                       "CI):\n");
        head = true;
        fprintf(f, "%-10s %+6.2f points of sessions playing within %s [%+.2f, %+.2f]\n",
                mq_page_policy_name(x->policy), x->vs_template, tgt, x->vs_template_lo,
                x->vs_template_hi);
    }
}

json_t *mq_simulate_json(const mq_simulate_report *r) {
    const mq_simulate_opts *o = &r->opts;
    json_t *root = json_object(), *opts = json_object(), *pols = json_array();
    json_object_set_new(opts, "sessions", json_integer((json_int_t)o->sessions));
    json_object_set_new(opts, "seed", json_integer((json_int_t)o->seed));
    json_object_set_new(opts, "patience_s", json_real(o->patience_s));
    json_object_set_new(opts, "target_s", json_real(o->target_s));
    json_object_set_new(opts, "row_glance_s", json_real(o->row_glance_s));
    json_object_set_new(opts, "title_look_s", json_real(o->title_look_s));
    json_object_set_new(opts, "along", json_real(o->along));
    json_object_set_new(root, "options", opts);
    json_object_set_new(root, "titles", json_integer(r->titles));
    json_object_set_new(root, "profiles", json_integer(r->profiles));
    json_object_set_new(root, "seconds", json_real(r->seconds));
    for (size_t i = 0; i < r->n; i++) {
        const mq_simulate_result *x = &r->res[i];
        json_t *p = json_object();
        json_object_set_new(p, "policy", json_string(mq_page_policy_name(x->policy)));
        json_object_set_new(p, "sessions", json_integer((json_int_t)x->sessions));
        json_object_set_new(p, "played", json_integer((json_int_t)x->played));
        json_object_set_new(p, "share_played_within_target", json_real(x->share_target));
        json_object_set_new(p, "median_time_to_play_s",
                            isnan(x->median_s) ? json_null() : json_real(x->median_s));
        json_object_set_new(p, "mean_time_to_play_s",
                            isnan(x->mean_s) ? json_null() : json_real(x->mean_s));
        json_object_set_new(p, "impressions", json_real(x->impressions));
        json_object_set_new(p, "plays", json_real(x->plays));
        json_object_set_new(p, "take_rate", json_real(x->take_rate));
        json_object_set_new(p, "watch_minutes_per_session", json_real(x->watch_minutes));
        json_object_set_new(p, "ecs", json_real(x->ecs));
        json_object_set_new(p, "page_ms", json_real(x->page_ms));
        if (!isnan(x->vs_template))
            json_object_set_new(p, "vs_template",
                                json_pack("{s:f, s:[f, f]}", "points_within_target",
                                          x->vs_template, "ci95", x->vs_template_lo,
                                          x->vs_template_hi));
        json_array_append_new(pols, p);
    }
    json_object_set_new(root, "policies", pols);
    return root;
}
