/* generate.c: months of sessions for every profile, from the behaviour model, into
 * an in-memory event log that is then put in time order.
 *
 * A profile's sessions start at times drawn from its active hours (weekends
 * weighted by its weekend factor), on a device drawn from its habits. A session
 * starts with one of: resuming something in progress (no impression: the "resume"
 * button), rewatching a completed title it liked, a search, or browsing a page;
 * after each play it may browse again (continue_rate).
 *
 * The logging policy (what a page shows) is deliberately simple and randomized, so
 * that the effects of the behaviour model are identifiable in the log:
 *   - rows: one "popular" (titles drawn in proportion to popularity), one "new"
 *     (drawn uniformly from titles added in the last 60 days), one "explore"
 *     (uniform over the catalogue), and the rest "theme-<name>" rows, each theme
 *     drawn from the profile's current taste with probability policy_taste_mix and
 *     uniformly otherwise (noisy personalization), titles within drawn in
 *     proportion to sqrt(popularity) x theme weight;
 *   - rows and titles within rows are placed in random order (result randomization,
 *     as used to estimate position bias: Joachims, Swaminathan and Schnabel 2017);
 *   - each impression's artwork variant is drawn uniformly, and its propensity
 *     (1 / number of variants) is logged, so artwork policies can be evaluated
 *     offline by replay (Li et al. 2011); the synopsis variant is drawn uniformly
 *     too, and has no effect (a null effect for bandit tests);
 *   - titles the profile has already played and titles above its maturity limit
 *     are never shown; a title appears at most once per page.
 *
 * The member examines rows top to bottom and titles left to right (a cascade);
 * an impression is logged for each title it looks at, and it clicks the first that
 * attracts it (mq_behaviour_attraction). So the click of a logged impression is
 * a Bernoulli draw with exactly the model's probability, which the tests use to
 * recover each effect's size from the log. */
#include "sim_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL
#define HOUR_MS 3600000LL
#define RNG_SESSIONS 0x73657373ULL
#define MAX_ROWS 16
#define MAX_ACTIVITIES 6
#define MAX_PROGRESS 16
#define RECENT_MS (60 * DAY_MS)
#define SEARCH_CANDIDATES 5

typedef struct {
    uint32_t title;
    uint16_t episode;
    int32_t pos_s;
} progress_item;

typedef struct {
    const mq_world *w;
    const mq_world_params *pr;
    MQ_VEC(sim_rec) recs;
    /* the current profile */
    uint32_t p;
    int pool;
    int maturity_limit;
    mq_rng r;
    mq_device device;
    int64_t ts, created_ms;
    bool over; /* reached the end of the window */
    uint32_t page;
    MQ_VEC(progress_item) progress;
    MQ_VEC(uint32_t) completed;
    uint8_t *played;   /* per title */
    uint32_t *on_page; /* per title: stamp of the last page showing it */
    uint32_t stamp;
    uint64_t sessions, pages;
} gen;

static double unif(gen *g) {
    return mq_rng_unif(&g->r);
}

/* Milliseconds in [lo, hi). */
static int64_t jitter(gen *g, int lo, int hi) {
    return lo + (int64_t)mq_rng_below(&g->r, (uint32_t)(hi - lo));
}

static sim_rec *emit(gen *g, int type) {
    if (g->over || g->ts >= g->w->end_ms) {
        g->over = true;
        return NULL;
    }
    MQ_VEC_RESERVE(&g->recs, g->recs.len + 1);
    sim_rec *e = &g->recs.items[g->recs.len++];
    memset(e, 0, sizeof *e);
    e->ts_ms = g->ts;
    e->profile = g->p;
    e->type = (uint8_t)type;
    e->device = (uint8_t)g->device;
    e->row_pos = e->col_pos = e->artwork = e->synopsis = SIM_NA;
    e->pos_s = e->dur_s = -1;
    return e;
}

static void context(gen *g, mq_sim_context *ctx) {
    mq_sim_context_at(g->w, g->p, g->ts, g->device, ctx);
}

/* ------------------------------------------------------------ play state ---- */

static int progress_find(gen *g, uint32_t t) {
    for (size_t i = 0; i < g->progress.len; i++)
        if (g->progress.items[i].title == t)
            return (int)i;
    return -1;
}

static void progress_remove(gen *g, uint32_t t) {
    int i = progress_find(g, t);
    if (i < 0)
        return;
    memmove(&g->progress.items[i], &g->progress.items[i + 1],
            (g->progress.len - (size_t)i - 1) * sizeof(progress_item));
    g->progress.len--;
}

/* Most recent last; the oldest is forgotten past MAX_PROGRESS. */
static void progress_put(gen *g, uint32_t t, int episode, int32_t pos_s) {
    progress_remove(g, t);
    if (g->progress.len == MAX_PROGRESS) {
        memmove(&g->progress.items[0], &g->progress.items[1],
                (MAX_PROGRESS - 1) * sizeof(progress_item));
        g->progress.len--;
    }
    progress_item it = {t, (uint16_t)episode, pos_s};
    MQ_VEC_PUSH(&g->progress, it);
}

static void completed_add(gen *g, uint32_t t) {
    for (size_t i = 0; i < g->completed.len; i++)
        if (g->completed.items[i] == t)
            return;
    MQ_VEC_PUSH(&g->completed, t);
}

/* ------------------------------------------------------------------- play ---- */

typedef struct {
    int32_t pos;
    int type;
    int32_t value; /* seek: the position landed on */
} marker;

static int cmp_marker(const void *a, const void *b) {
    const marker *x = a, *y = b;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

/* Plays title t from episode/position; with autoplay, continues to the next
 * episodes of a series. */
static void play(gen *g, uint32_t t, int episode, int32_t from_s) {
    const mq_world *w = g->w;
    const sim_title *st = &w->tt[t];
    const int32_t D = st->dur_s;
    bool series = w->titles[t].kind == MQ_KIND_SERIES;
    g->played[t] = 1;
    for (int binge = 0; binge < 4 && !g->over; binge++) {
        g->ts += jitter(g, 2000, 5000);
        sim_rec *e = emit(g, MQ_EV_PLAY_START);
        if (!e)
            return;
        e->title = t + 1;
        e->pos_s = from_s;
        mq_sim_context ctx;
        context(g, &ctx);
        mq_sim_watch wt;
        mq_behaviour_watch(w, g->p, t, &ctx, (double)from_s / D, &g->r, &wt);
        int32_t to_s = wt.complete ? D : (int32_t)lround(wt.to * D);
        if (to_s <= from_s)
            to_s = from_s + 1 < D ? from_s + 1 : D;

        marker m[6];
        int nm = 0;
        for (int q = 1; q <= 3; q++) {
            int32_t qp = D * q / 4;
            if (qp > from_s && qp <= to_s && qp < D)
                m[nm++] = (marker){qp, MQ_EV_PLAY_PROGRESS, 0};
        }
        int32_t pause_pos = -1, seek_pos = -1, jump = 0;
        int64_t gap_ms = 0;
        if (to_s - from_s > 120 && unif(g) < g->pr->pause_rate) {
            pause_pos = from_s + 60 + (int32_t)mq_rng_below(&g->r, (uint32_t)(to_s - from_s - 60));
            gap_ms = jitter(g, 60000, 900000);
            m[nm++] = (marker){pause_pos, MQ_EV_PAUSE, 0};
        }
        if (to_s - from_s > 900 && unif(g) < g->pr->seek_rate) {
            seek_pos = from_s + 60 + (int32_t)mq_rng_below(&g->r, (uint32_t)(to_s - from_s - 600));
            jump = 30 + (int32_t)mq_rng_below(&g->r, 210);
            m[nm++] = (marker){seek_pos, MQ_EV_SEEK, seek_pos + jump};
        }
        qsort(m, (size_t)nm, sizeof *m, cmp_marker);
        /* Wall time at a position: seconds watched (a seek skips some), plus the
         * pause. */
        int64_t base = g->ts;
#define TIME_AT(pos)                                                                               \
    (base +                                                                                        \
     1000LL *                                                                                      \
         ((pos)-from_s - (seek_pos >= 0 && (pos) > seek_pos ? MQ_MIN(jump, (pos)-seek_pos) : 0)) + \
     (pause_pos >= 0 && (pos) > pause_pos ? gap_ms : 0))
        for (int i = 0; i < nm; i++) {
            int64_t at = TIME_AT(m[i].pos);
            g->ts = at > g->ts ? at : g->ts + 1;
            if (!(e = emit(g, m[i].type)))
                return;
            e->title = t + 1;
            e->pos_s = m[i].type == MQ_EV_SEEK ? m[i].value : m[i].pos;
            if (m[i].type == MQ_EV_PLAY_PROGRESS)
                e->dur_s = D;
        }
        int64_t at = TIME_AT(to_s);
#undef TIME_AT
        g->ts = at > g->ts ? at : g->ts + 1;
        if (!(e = emit(g, wt.complete ? MQ_EV_COMPLETE : MQ_EV_PLAY_STOP)))
            return;
        e->title = t + 1;
        e->dur_s = D;
        if (!wt.complete)
            e->pos_s = to_s;

        context(g, &ctx);
        int thumb = mq_behaviour_thumbs(w, g->p, t, &ctx, &wt, &g->r);
        if (thumb) {
            g->ts += jitter(g, 3000, 20000);
            if (!(e = emit(g, MQ_EV_THUMBS)))
                return;
            e->title = t + 1;
            e->value = (int8_t)thumb;
        }

        /* What is left to resume or rewatch. */
        if (wt.abandoned) {
            progress_remove(g, t);
            return;
        }
        if (!wt.complete) {
            progress_put(g, t, episode, to_s);
            return;
        }
        if (!series || episode + 1 >= st->n_episodes) {
            progress_remove(g, t);
            completed_add(g, t);
            return;
        }
        completed_add(g, t);
        progress_put(g, t, episode + 1, 0);
        if (unif(g) >= mq_behaviour_binge(w, g->p, t, &ctx))
            return;
        /* Autoplay: the next episode starts on its own. */
        episode++;
        from_s = 0;
        progress_remove(g, t);
        g->ts += jitter(g, 5000, 20000);
    }
}

/* ------------------------------------------------------------------ pages ---- */

static bool eligible(gen *g, uint32_t t) {
    return !g->played[t] && g->on_page[t] != g->stamp &&
           g->w->titles[t].maturity <= g->maturity_limit;
}

static uint32_t draw_recent(gen *g) {
    const mq_world *w = g->w;
    /* Titles added in (ts - 60 days, ts]: a range of the list sorted by date. */
    uint32_t lo = 0, hi = w->n_recent;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (w->titles[w->recent[mid]].added_ms > g->ts - RECENT_MS)
            hi = mid;
        else
            lo = mid + 1;
    }
    uint32_t a = lo;
    hi = w->n_recent;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (w->titles[w->recent[mid]].added_ms > g->ts)
            hi = mid;
        else
            lo = mid + 1;
    }
    if (lo == a)
        return mq_sim_pool_draw(&w->popular[g->pool], &g->r);
    return w->recent[a + mq_rng_below(&g->r, lo - a)];
}

static uint32_t draw_for_row(gen *g, int kind) {
    const mq_world *w = g->w;
    switch (kind) {
    case ROW_POPULAR:
        return mq_sim_pool_draw(&w->popular[g->pool], &g->r);
    case ROW_NEW:
        return draw_recent(g);
    case ROW_EXPLORE:
        return mq_sim_pool_draw(&w->uniform[g->pool], &g->r);
    default:
        return mq_sim_pool_draw(&w->theme[g->pool][kind - ROW_THEME], &g->r);
    }
}

static int fill_row(gen *g, int kind, uint32_t *row, int len) {
    int n = 0;
    for (int attempt = 0; n < len && attempt < 4 * len; attempt++) {
        uint32_t t = draw_for_row(g, kind);
        if (t == MQ_SIM_NONE)
            break;
        if (!eligible(g, t))
            continue;
        g->on_page[t] = g->stamp;
        row[n++] = t;
    }
    /* Random placement within the row. */
    for (int i = n - 1; i > 0; i--) {
        int j = (int)mq_rng_below(&g->r, (uint32_t)(i + 1));
        uint32_t tmp = row[i];
        row[i] = row[j];
        row[j] = tmp;
    }
    return n;
}

/* Draws a theme from the mixture of current taste and uniform over the themes the
 * profile can be shown; -1 when none is left. */
static int draw_theme_row(gen *g, double *weights) {
    double total = 0;
    for (int k = 0; k < mq_sim_n_themes_c; k++)
        total += weights[k];
    if (total <= 0)
        return -1;
    int k = (int)mq_rng_categorical(&g->r, weights, (size_t)mq_sim_n_themes_c);
    weights[k] = 0;
    return k;
}

static void theme_weights(gen *g, double mix, double *weights) {
    const mq_world *w = g->w;
    double taste[MQ_SIM_MAX_THEMES];
    mq_world_taste(w, g->p, g->ts, taste);
    int n = 0;
    double tsum = 0;
    for (int k = 0; k < mq_sim_n_themes_c; k++)
        if (w->theme[g->pool][k].n) {
            n++;
            tsum += taste[k];
        }
    for (int k = 0; k < mq_sim_n_themes_c; k++)
        weights[k] = w->theme[g->pool][k].n && n
                         ? mix * taste[k] / (tsum > 0 ? tsum : 1) + (1 - mix) / n
                         : 0;
}

/* One page view; returns the title clicked, or MQ_SIM_NONE when the member left. */
static uint32_t browse(gen *g) {
    const mq_world *w = g->w;
    const mq_world_params *pr = g->pr;
    g->page++;
    g->pages++;
    g->stamp++;
    int R = mq_behaviour_rows_per_page(g->device);
    int L = (int)pr->row_length, vis = mq_behaviour_visible_cols(g->device);
    uint8_t kinds[MAX_ROWS];
    int nk = 0;
    kinds[nk++] = ROW_POPULAR;
    kinds[nk++] = ROW_NEW;
    kinds[nk++] = ROW_EXPLORE;
    double tw[MQ_SIM_MAX_THEMES];
    theme_weights(g, pr->policy_taste_mix, tw);
    while (nk < R) {
        int k = draw_theme_row(g, tw);
        if (k < 0)
            break;
        kinds[nk++] = (uint8_t)(ROW_THEME + k);
    }
    for (int i = nk - 1; i > 0; i--) {
        int j = (int)mq_rng_below(&g->r, (uint32_t)(i + 1));
        uint8_t tmp = kinds[i];
        kinds[i] = kinds[j];
        kinds[j] = tmp;
    }
    uint32_t row[64];
    int shown = 0;
    g->ts += jitter(g, 1000, 4000); /* the page loads */
    for (int r = 0; r < nk; r++) {
        int n = fill_row(g, kinds[r], row, L);
        if (!n)
            continue;
        int rp = shown++;
        size_t along = SIZE_MAX;
        int maxc = 0;
        for (int c = 0; c < n; c++) {
            g->ts += jitter(g, 800, 3000);
            if (c == vis) {
                sim_rec *e = emit(g, MQ_EV_ROW_SCROLL);
                if (!e)
                    return MQ_SIM_NONE;
                e->page = g->page;
                e->row_kind = kinds[r];
                e->row_pos = (uint8_t)rp;
                e->direction = MQ_DIR_ALONG;
                along = g->recs.len - 1;
                g->ts += jitter(g, 200, 800);
            }
            uint32_t t = row[c];
            sim_rec *e = emit(g, MQ_EV_IMPRESSION);
            if (!e)
                return MQ_SIM_NONE;
            e->title = t + 1;
            e->page = g->page;
            e->row_kind = kinds[r];
            e->row_pos = (uint8_t)rp;
            e->col_pos = (uint8_t)c;
            e->artwork = (uint8_t)mq_rng_below(&g->r, w->tt[t].n_art);
            e->synopsis = (uint8_t)mq_rng_below(&g->r, w->tt[t].n_syn);
            maxc = c;
            mq_sim_context ctx;
            context(g, &ctx);
            double pa = mq_behaviour_attraction(w, g->p, t, e->artwork, rp, c, &ctx);
            if (unif(g) < pa) {
                if (along != SIZE_MAX)
                    g->recs.items[along].col_pos = (uint8_t)c;
                g->ts += jitter(g, 400, 1500);
                if (!(e = emit(g, MQ_EV_CLICK)))
                    return MQ_SIM_NONE;
                e->title = t + 1;
                e->page = g->page;
                e->row_kind = kinds[r];
                e->row_pos = (uint8_t)rp;
                e->col_pos = (uint8_t)c;
                return t;
            }
            if (c + 1 >= n || unif(g) >= mq_behaviour_browse_along(w, &ctx))
                break;
        }
        if (along != SIZE_MAX)
            g->recs.items[along].col_pos = (uint8_t)maxc;
        mq_sim_context ctx;
        context(g, &ctx);
        if (r == nk - 1 || unif(g) < mq_behaviour_browse_leave(w, &ctx))
            return MQ_SIM_NONE;
        g->ts += jitter(g, 300, 1200);
        sim_rec *e = emit(g, MQ_EV_ROW_SCROLL);
        if (!e)
            return MQ_SIM_NONE;
        e->page = g->page;
        e->row_kind = kinds[r];
        e->row_pos = (uint8_t)rp;
        e->col_pos = (uint8_t)maxc;
        e->direction = MQ_DIR_PAST;
    }
    return MQ_SIM_NONE;
}

/* A search for something in one of the profile's themes (drawn by current taste):
 * by the theme's word or by a word of the title's name. Returns the title clicked,
 * or MQ_SIM_NONE. */
static uint32_t search(gen *g) {
    const mq_world *w = g->w;
    double tw[MQ_SIM_MAX_THEMES];
    theme_weights(g, 1.0, tw);
    int k = draw_theme_row(g, tw);
    if (k < 0)
        return MQ_SIM_NONE;
    g->stamp++;
    /* The member has something in mind: the one it likes best of a few titles of
     * the theme that it has heard of (drawn like a theme row). */
    uint32_t t = MQ_SIM_NONE;
    double best = -1;
    for (int attempt = 0, found = 0; attempt < 20 && found < SEARCH_CANDIDATES; attempt++) {
        uint32_t c = mq_sim_pool_draw(&w->theme[g->pool][k], &g->r);
        if (c == MQ_SIM_NONE || !eligible(g, c))
            continue;
        found++;
        double a = mq_behaviour_affinity(w, g->p, c, g->ts);
        if (a > best) {
            best = a;
            t = c;
        }
    }
    bool by_theme = unif(g) < 0.5 || t == MQ_SIM_NONE;
    g->ts += jitter(g, 3000, 10000);
    sim_rec *e = emit(g, MQ_EV_SEARCH);
    if (!e)
        return MQ_SIM_NONE;
    e->query_kind = by_theme ? Q_THEME : Q_TITLE;
    e->query = by_theme ? (uint32_t)k : t;
    if (t == MQ_SIM_NONE || unif(g) < g->pr->search_abandon)
        return MQ_SIM_NONE;
    g->ts += jitter(g, 3000, 15000);
    sim_rec *c = emit(g, MQ_EV_SEARCH_CLICK);
    if (!c)
        return MQ_SIM_NONE;
    c->query_kind = by_theme ? Q_THEME : Q_TITLE;
    c->query = by_theme ? (uint32_t)k : t;
    c->title = t + 1;
    return t;
}

/* --------------------------------------------------------------- sessions ---- */

static bool resume(gen *g) {
    progress_item it = g->progress.items[g->progress.len - 1];
    play(g, it.title, it.episode, it.pos_s);
    return true;
}

static bool rewatch(gen *g) {
    uint32_t t = g->completed.items[mq_rng_below(&g->r, (uint32_t)g->completed.len)];
    if (mq_behaviour_affinity(g->w, g->p, t, g->ts) < 0.5)
        return false;
    play(g, t, 0, 0);
    return true;
}

static bool browse_or_search(gen *g) {
    uint32_t t = unif(g) < g->pr->search_rate ? search(g) : browse(g);
    if (t == MQ_SIM_NONE)
        return false;
    play(g, t, 0, 0);
    return true;
}

static mq_device draw_device(gen *g) {
    const sim_profile *sp = &g->w->pp[g->p];
    double d[4];
    for (int i = 0; i < 4; i++)
        d[i] = sp->device_p[i];
    return (mq_device)(MQ_DEVICE_TV + (int)mq_rng_categorical(&g->r, d, 4));
}

static void session(gen *g, int64_t start) {
    if (start > g->ts)
        g->ts = start;
    if (g->ts >= g->w->end_ms)
        return;
    g->device = draw_device(g);
    g->sessions++;
    bool played;
    if (g->progress.len && unif(g) < g->pr->resume_rate)
        played = resume(g);
    else if (g->completed.len && unif(g) < g->pr->rewatch_rate && rewatch(g))
        played = true;
    else
        played = browse_or_search(g);
    for (int i = 1; played && !g->over && i < MAX_ACTIVITIES; i++) {
        if (unif(g) >= g->pr->continue_rate)
            break;
        g->ts += jitter(g, 2000, 30000);
        played = browse_or_search(g);
    }
    g->ts += 20 * 60000; /* the next session starts at least 20 minutes later */
}

static uint32_t poisson(mq_rng *r, double lambda) {
    if (lambda <= 0)
        return 0;
    if (lambda > 30) {
        double x = lambda + sqrt(lambda) * mq_rng_normal(r);
        return x < 0 ? 0 : (uint32_t)lround(x);
    }
    double limit = exp(-lambda), prod = 1;
    uint32_t k = 0;
    do {
        k++;
        prod *= mq_rng_unif(r);
    } while (prod > limit);
    return k - 1;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Session start times: a day (weekends weighted), an hour from the active hours,
 * a uniform minute; never before the profile was created. */
static uint32_t session_times(gen *g, int64_t *out, uint32_t cap) {
    const mq_world *w = g->w;
    const sim_profile *sp = &w->pp[g->p];
    int64_t first = g->created_ms > w->start_ms ? g->created_ms : w->start_ms;
    double active = (double)(w->end_ms - first) / (double)(w->end_ms - w->start_ms);
    uint32_t n = poisson(&g->r, sp->activity * g->pr->sessions * active);
    if (n > cap)
        n = cap;
    int d0 = (int)((first - w->start_ms) / DAY_MS), days = (int)g->pr->days;
    double hw[24];
    for (int h = 0; h < 24; h++)
        hw[h] = sp->hour_w[h];
    double *dw = mq_malloc((size_t)days * sizeof *dw);
    for (int d = 0; d < days; d++) {
        int wd;
        mq_time_local(w->start_ms + d * DAY_MS, 0, &wd, NULL);
        dw[d] = d < d0 ? 0 : wd >= 5 ? sp->weekend : 1;
    }
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
        for (int attempt = 0; attempt < 8; attempt++) {
            int d = (int)mq_rng_categorical(&g->r, dw, (size_t)days);
            int h = (int)mq_rng_categorical(&g->r, hw, 24);
            int64_t ts = w->start_ms + d * DAY_MS + h * HOUR_MS +
                         (int64_t)mq_rng_below(&g->r, 3600000) - (int64_t)sp->tz_offset_min * 60000;
            if (ts >= first && ts < w->end_ms) {
                out[m++] = ts;
                break;
            }
        }
    }
    mq_free(dw);
    qsort(out, m, sizeof *out, cmp_i64);
    return m;
}

static void simulate_profile(gen *g, uint32_t p) {
    const mq_world *w = g->w;
    g->p = p;
    g->pool = w->pp[p].kids ? POOL_KIDS : POOL_ALL;
    g->maturity_limit = w->profiles[p].maturity_limit;
    g->created_ms = w->profiles[p].created_ms;
    mq_rng_seed(&g->r, g->pr->seed, (RNG_SESSIONS << 32) | p);
    g->over = false;
    g->page = 0;
    g->ts = 0;
    g->progress.len = g->completed.len = 0;
    size_t first_rec = g->recs.len;
    int64_t starts[4096];
    uint32_t n = session_times(g, starts, MQ_ARRAY_LEN(starts));
    for (uint32_t i = 0; i < n && !g->over; i++)
        session(g, starts[i]);
    /* Forget what this profile played. */
    for (size_t i = first_rec; i < g->recs.len; i++)
        if (g->recs.items[i].title)
            g->played[g->recs.items[i].title - 1] = 0;
}

/* ------------------------------------------------------------------- log ---- */

typedef struct {
    int64_t ts;
    uint32_t idx;
} sort_key;

static int cmp_key(const void *a, const void *b) {
    const sort_key *x = a, *y = b;
    if (x->ts != y->ts)
        return (x->ts > y->ts) - (x->ts < y->ts);
    return (x->idx > y->idx) - (x->idx < y->idx);
}

int mq_sim_generate(const mq_world *w, bool show_progress, mq_sim_log **out, mq_err *err) {
    *out = NULL;
    gen g = {0};
    g.w = w;
    g.pr = &w->p;
    g.played = mq_calloc(w->n_titles, 1);
    g.on_page = mq_calloc(w->n_titles, sizeof *g.on_page);
    /* About 15 events per session; the vector grows past the estimate if needed. */
    double estimate = (double)w->n_profiles * w->p.sessions * 16 + 1024;
    MQ_VEC_RESERVE(&g.recs, (size_t)MQ_MIN(estimate, 64.0 * 1024 * 1024));
    mq_progress pb;
    if (show_progress)
        mq_progress_start(&pb, "simulating", "profiles", w->n_profiles);
    for (uint32_t p = 0; p < w->n_profiles; p++) {
        simulate_profile(&g, p);
        if (show_progress && (p & 255) == 0)
            mq_progress_update(&pb, p);
    }
    if (show_progress) {
        mq_progress_update(&pb, w->n_profiles);
        mq_progress_finish(&pb);
    }
    mq_free(g.played);
    mq_free(g.on_page);
    mq_free(g.progress.items);
    mq_free(g.completed.items);
    if (g.recs.len >= UINT32_MAX) {
        mq_free(g.recs.items);
        return mq_err_set(err, MQ_ETOOBIG,
                          "synth: %zu events is more than one log holds (4 billion); use fewer "
                          "profiles or sessions",
                          g.recs.len);
    }

    /* Time order; ties keep profile order, then order within the profile. */
    size_t n = g.recs.len;
    sort_key *keys = mq_malloc((n ? n : 1) * sizeof *keys);
    for (size_t i = 0; i < n; i++)
        keys[i] = (sort_key){g.recs.items[i].ts_ms, (uint32_t)i};
    qsort(keys, n, sizeof *keys, cmp_key);
    mq_sim_log *l = mq_calloc(1, sizeof *l);
    l->recs = mq_malloc((n ? n : 1) * sizeof *l->recs);
    for (size_t i = 0; i < n; i++)
        l->recs[i] = g.recs.items[keys[i].idx];
    l->n = n;
    l->seed = w->p.seed;
    l->sessions = g.sessions;
    l->pages = g.pages;
    mq_free(keys);
    mq_free(g.recs.items);
    *out = l;
    return MQ_OK;
}

void mq_sim_log_destroy(mq_sim_log *l) {
    if (!l)
        return;
    mq_free(l->recs);
    mq_free(l);
}

size_t mq_sim_log_count(const mq_sim_log *l) {
    return l->n;
}

void mq_sim_log_counts(const mq_sim_log *l, uint64_t by_type[MQ_EV_COUNT], uint64_t *sessions,
                       uint64_t *pages) {
    memset(by_type, 0, MQ_EV_COUNT * sizeof by_type[0]);
    for (size_t i = 0; i < l->n; i++)
        by_type[l->recs[i].type]++;
    if (sessions)
        *sessions = l->sessions;
    if (pages)
        *pages = l->pages;
}

static void row_id(int kind, char *out, size_t n) {
    switch (kind) {
    case ROW_POPULAR:
        snprintf(out, n, "popular");
        break;
    case ROW_NEW:
        snprintf(out, n, "new");
        break;
    case ROW_EXPLORE:
        snprintf(out, n, "explore");
        break;
    default:
        snprintf(out, n, "theme-%s", mq_sim_theme_name(kind - ROW_THEME));
        break;
    }
}

int mq_sim_log_each(const mq_world *w, const mq_sim_log *l, size_t from, size_t n, mq_event_cb cb,
                    void *ud) {
    char event_id[64], page_id[64], row[64];
    for (size_t i = from; i < l->n && i < from + n; i++) {
        const sim_rec *r = &l->recs[i];
        const sim_profile *sp = &w->pp[r->profile];
        mq_event e;
        mq_event_init(&e);
        snprintf(event_id, sizeof event_id, "s%llu-e%09zu", (unsigned long long)l->seed, i + 1);
        e.event_id = event_id;
        e.profile = w->profiles[r->profile].ext_id;
        e.type = (mq_event_type)r->type;
        e.ts_ms = r->ts_ms;
        e.device = (mq_device)r->device;
        e.tz_offset_min = sp->tz_offset_min;
        snprintf(e.country, sizeof e.country, "%s", mq_sim_countries[sp->country].code);
        uint32_t t = r->title ? r->title - 1 : MQ_SIM_NONE;
        if (r->title)
            e.title = w->titles[t].ext_id;
        if (r->page) {
            snprintf(page_id, sizeof page_id, "s%llu-%s-%u", (unsigned long long)l->seed, e.profile,
                     r->page);
            row_id(r->row_kind, row, sizeof row);
            e.page_id = page_id;
            e.row_id = row;
        }
        if (r->row_pos != SIM_NA)
            e.row_pos = r->row_pos;
        if (r->col_pos != SIM_NA)
            e.col_pos = r->col_pos;
        if (r->artwork != SIM_NA) {
            e.artwork_id = w->titles[t].artwork[r->artwork].id;
            e.propensity = 1.0 / w->tt[t].n_art;
        }
        if (r->synopsis != SIM_NA)
            e.synopsis_id = w->titles[t].synopses[r->synopsis].id;
        if (r->pos_s >= 0)
            e.position_s = r->pos_s;
        if (r->dur_s >= 0)
            e.duration_s = r->dur_s;
        if (r->query_kind == Q_THEME)
            e.query = mq_sim_theme_query((int)r->query);
        else if (r->query_kind == Q_TITLE)
            e.query = w->tt[r->query].query_word;
        if (r->type == MQ_EV_THUMBS)
            e.value = r->value > 0 ? MQ_THUMB_UP : MQ_THUMB_DOWN;
        e.direction = (mq_scroll_dir)r->direction;
        int rc = cb(ud, &e);
        if (rc)
            return rc;
    }
    return MQ_OK;
}
