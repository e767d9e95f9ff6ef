/* score.c: the one place where titles get the score that orders them within a
 * row and the match shown beside them. Everything else in the page reads q->u
 * (an ordering utility in [0, 1], higher first), q->match (a probability, NaN
 * when there is no model), q->flags and q->ranked (titles best first).
 *
 *   full, template   the ranker (src/rank: mq_rank_profile folds in the live
 *                    history, scores every candidate model's top titles with the
 *                    trained trees or the fallback blend, and gives each a
 *                    calibrated match): the titles it ranks get
 *                    u = 0.5 + 0.5 exp(-rank / 20), the others u below 0.5 by
 *                    popularity. Should the ranker fail, the bundle's default
 *                    candidate model, scored live on the profile's state
 *                    (fold-in for iALS), mapped to (0, 1) by a logistic anchored
 *                    on the profile's own top 200; titles similar to a thumbs
 *                    down are then damped;
 *   popular,         popularity percentiles: no personal order of titles;
 *   no-ranker
 *   no bundle        the catalogue's newest first.
 *
 * Impression discounting (Lee et al., "Modeling impression discounting in
 * large-scale recommender systems", KDD 2014) is available (page.impression_damp)
 * but off by default: the ranker has its own impressions feature.
 *
 * The same pass sets what is known about the profile for row scoring: its share
 * of positive weight per theme. */
#include "page_impl.h"

#include <math.h>
#include <string.h>

static void base_flags(pg_req *q) {
    const pg_snap *s = q->snap;
    int limit = q->rq->maturity_limit > 0 ? q->rq->maturity_limit : 18;
    for (uint32_t t = 1; t < q->end; t++) {
        int m = s->maturity[t];
        q->flags[t] = m != PG_ABSENT && (m <= limit || limit >= 18) ? PG_OK : 0;
    }
    if (!q->have_view)
        return;
    for (size_t i = 0; i < q->view.n_titles; i++) {
        const mq_state_title *h = &q->view.titles[i];
        if (h->title_id >= q->end)
            continue;
        uint8_t *f = &q->flags[h->title_id];
        *f |= PG_HIST;
        if (h->plays)
            *f |= PG_PLAYED;
        if (h->thumb < 0)
            *f &= (uint8_t)~PG_OK;
        if (h->completed_ever && !h->playing && !mq_state_title_continue(h))
            *f |= PG_FINISHED;
    }
}

/* The profile's share of positive weight per theme and per genre. */
static void affinities(pg_req *q) {
    const pg_snap *s = q->snap;
    q->hist_weight = 0;
    q->played = 0;
    if (!q->have_view)
        return;
    for (size_t i = 0; i < q->view.n_titles; i++) {
        const mq_state_title *h = &q->view.titles[i];
        q->played += h->plays > 0;
        double w = h->weight - h->negative;
        if (h->title_id >= q->end || !s->title[h->title_id] || !(w > 0))
            continue;
        q->hist_weight += w;
        for (uint32_t k = s->tt_ptr[h->title_id]; k < s->tt_ptr[h->title_id + 1]; k++)
            q->theme_aff[s->tt_idx[k]] += w;
    }
    if (q->hist_weight > 0)
        for (uint32_t k = 0; k < s->n_themes; k++)
            q->theme_aff[k] /= q->hist_weight;
}

/* The genre (snapshot index + 1) of title t the profile likes best; 0 when none. */
uint16_t pg_best_genre(const pg_req *q, uint32_t t) {
    const pg_snap *s = q->snap;
    double best = 0;
    uint16_t g = 0;
    for (uint32_t k = s->tt_ptr[t]; k < s->tt_ptr[t + 1]; k++) {
        const pg_theme *T = &s->themes[s->tt_idx[k]];
        if (T->tag < 0 && q->theme_aff[s->tt_idx[k]] > best) {
            best = q->theme_aff[s->tt_idx[k]];
            g = (uint16_t)(T->genre + 1);
        }
    }
    return best >= 0.05 ? g : 0;
}

static void by_popularity(pg_req *q) {
    for (uint32_t t = 1; t < q->end; t++) {
        q->u[t] = q->bd->pop[t];
        q->match[t] = NAN;
        if (q->flags[t] & PG_OK)
            q->flags[t] |= PG_RANKED;
    }
    /* Already in order: the most popular first. */
    q->ranked = q->bd->pop_order;
    q->n_ranked = q->bd->n_pop;
}

static double sigmoid(double x) {
    return 1.0 / (1.0 + exp(-x));
}

/* Impression discounting: a title shown again and again without a play is less
 * likely to be played the next time (Lee et al. 2014); its utility keeps
 * page.impression_damp per unplayed impression, at most 8 counted. */
static void damp_shown(pg_req *q) {
    if (!q->have_view || q->p->impression_damp >= 1)
        return;
    for (size_t i = 0; i < q->view.n_titles; i++) {
        const mq_state_title *v = &q->view.titles[i];
        double shown = v->signal[MQ_SIG_IMPRESSION_NO_PLAY];
        if (v->title_id < q->end && shown > 0)
            q->u[v->title_id] *= (float)pow(q->p->impression_damp, MQ_MIN(shown, 8.0));
    }
}

/* Ranks over which a title's utility falls by a factor e (score.c). */
#define PG_RANK_SCALE 20.0f

/* The ranker's per-thread workspace, kept across requests (it serves any
 * bundle) and freed when its thread ends. */
static pthread_key_t rank_key;
static pthread_once_t rank_once = PTHREAD_ONCE_INIT;

static void rank_ws_free(void *p) {
    mq_rank_ws_destroy(p);
}

static void rank_init(void) {
    pthread_key_create(&rank_key, rank_ws_free);
}

static mq_rank_ws *rank_ws(const mq_bundle *b) {
    pthread_once(&rank_once, rank_init);
    mq_rank_ws *ws = pthread_getspecific(rank_key);
    if (!ws) {
        ws = mq_rank_ws_create(b);
        pthread_setspecific(rank_key, ws);
    }
    return ws;
}

static bool by_ranker(pg_req *q) {
    const mq_bundle *b = q->rq->bundle;
    const mq_ranker *rk = mq_ranker_get(b);
    if (!rk)
        return false;
    mq_rank_ws *ws = rank_ws(b);
    /* The ranker returns the union of each model's top rank.candidates, titles in
     * progress and on the list: far fewer than the catalogue. */
    uint32_t nc = MQ_MIN(q->bd->n_cols,
                         (uint32_t)MQ_MAX(q->p->rank.candidates, 1) * (MQ_MODEL_COUNT + 2) + 1024);
    mq_ranked *out = mq_arena_alloc(q->a, ((size_t)nc + 1) * sizeof *out);
    uint32_t *order = mq_arena_alloc(q->a, ((size_t)nc + 1) * sizeof *order);
    if (!out || !order)
        return false;
    mq_rank_context ctx;
    mq_rank_context_init(&ctx, q->rq->device, q->rq->now_ms);
    ctx.tz_offset_min = q->rq->tz_offset_min;
    ctx.country = q->rq->country;
    ctx.maturity_limit = q->rq->maturity_limit;
    /* The page shows its own evidence (assemble.c, render.c), not the ranker's
     * reasons: a thousand titles' worth not worked out. */
    mq_rank_settings rs = q->p->rank;
    rs.reasons = false;
    long n = mq_rank_profile(rk, q->have_view ? &q->view : NULL, &ctx, &rs, ws, out, nc, NULL);
    if (n <= 0)
        return false;
    for (uint32_t t = 1; t < q->end; t++) {
        q->u[t] = 0.5f * q->bd->pop[t];
        q->match[t] = NAN;
    }
    for (long i = 0; i < n; i++) {
        uint32_t t = out[i].title_id;
        if (t == 0 || t >= q->end)
            continue;
        /* Steep in rank: the difference between the 5th and the 50th title is
         * what row choice has to see. */
        q->u[t] = 0.5f + 0.5f * expf(-(float)i / PG_RANK_SCALE);
        q->match[t] = out[i].match_pct >= 0 ? out[i].match : NAN;
        if (q->flags[t] & PG_OK) {
            q->flags[t] |= PG_RANKED;
            order[q->n_ranked++] = t;
        }
    }
    q->ranked = order;
    q->ranked_all = true;
    damp_shown(q);
    return true;
}

int pg_score(pg_req *q, mq_err *err) {
    (void)err;
    base_flags(q);
    affinities(q);
    const mq_bundle *b = q->rq->bundle;
    q->have_model = false;
    if (!b || q->policy == MQ_PAGE_POLICY_POPULAR || q->policy == MQ_PAGE_POLICY_NO_RANKER) {
        by_popularity(q);
        return MQ_OK;
    }
    if (by_ranker(q)) {
        q->have_model = true;
        return MQ_OK;
    }
    const pg_bdata *bd = q->bd;
    uint32_t nc = bd->n_cols;
    mq_hist_item *h = mq_arena_alloc(q->a, (q->view.n_titles + 1) * sizeof *h);
    float *sc = mq_arena_alloc(q->a, ((size_t)nc + 1) * sizeof *sc);
    if (!h || !sc) {
        by_popularity(q);
        return MQ_OK;
    }
    size_t n = 0;
    for (size_t i = 0; q->have_view && i < q->view.n_titles; i++) {
        const mq_state_title *v = &q->view.titles[i];
        uint32_t col = v->title_id < q->end ? bd->col[v->title_id] : UINT32_MAX;
        if (col != UINT32_MAX && (v->weight > 0 || v->negative > 0))
            h[n++] = (mq_hist_item){col, (float)v->weight, (float)v->negative};
    }
    mq_model_ws *ws = pg_model_ws(b, q->rq->bundle_version);
    if (mq_model_score(b, mq_bundle_default_model(b), h, n, sc, ws, NULL) != MQ_OK) {
        by_popularity(q);
        return MQ_OK;
    }
    /* A monotone map of the model's score to (0, 1), anchored on this profile's
     * own top: the best title reads about 0.9, the 200th about 0.3, the rest
     * fall away. Scores of different models are not comparable, ranks within one
     * profile are; this is not a calibrated probability (the ranker's is). */
    uint32_t K = MQ_MIN(200u, nc);
    float *top = mq_arena_alloc(q->a, ((size_t)K + 1) * sizeof *top);
    uint32_t *tcol = mq_arena_alloc(q->a, ((size_t)K + 1) * sizeof *tcol);
    size_t got = top && tcol ? mq_topk(sc, nc, K, tcol, top) : 0;
    double s1 = got ? top[0] : 1, sk = got ? top[got - 1] : 0;
    double scale = s1 - sk > 1e-12 ? s1 - sk : 1;
    for (uint32_t t = 1; t < q->end; t++) {
        uint32_t col = bd->col[t];
        if (col == UINT32_MAX || !isfinite(sc[col])) {
            /* Not in the bundle (joined after training): after every scored title. */
            q->u[t] = 0.05f * q->bd->pop[t];
            q->match[t] = NAN;
            continue;
        }
        q->match[t] = (float)sigmoid(3.0 * (sc[col] - sk) / scale - 1.0);
        q->u[t] = q->match[t];
        if (q->flags[t] & PG_OK)
            q->flags[t] |= PG_RANKED;
    }
    /* Damping: titles like a thumbs down (most similar first), and titles shown
     * without a play. */
    for (size_t i = 0; q->have_view && i < q->view.n_titles; i++) {
        const mq_state_title *v = &q->view.titles[i];
        if (v->title_id >= q->end)
            continue;
        if (v->thumb < 0 && q->p->thumbs_down_damp > 0) {
            uint32_t ns;
            const uint32_t *sim = pg_similar(q->snap, q->bd, v->title_id, q->a, &ns);
            for (uint32_t k = 0; k < ns; k++) {
                double keep = 1 - q->p->thumbs_down_damp * (1 - (double)k / (double)(ns + 1));
                q->u[sim[k]] *= (float)keep;
                if (!isnan(q->match[sim[k]]))
                    q->match[sim[k]] *= (float)keep;
            }
        }
    }
    damp_shown(q);
    q->have_model = true;
    return MQ_OK;
}

void pg_score_placed(pg_req *q, pg_item *items, size_t n) {
    /* Every title the models know was scored above; the rest keep no match. */
    (void)q;
    (void)items;
    (void)n;
}
