/* builders.c: the row builders. Each proposes candidate rows for one request:
 * a kind, a subject (a theme, a title, a search), a caption, the evidence for it,
 * and its titles, filtered (maturity, thumbs down, finished titles outside
 * Continue Watching and Watch It Again) and ordered by the ranker (score.c).
 *
 * Which builders run depends on the page policy: the popularity page has
 * popular, trending, new and genre rows; the fixed template every row type in a
 * fixed order with genre rows by catalogue size; the personalized policies
 * everything, for assemble.c to score and choose from. */
#include "page_impl.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS (86400.0 * 1000.0)

/* -------------------------------------------------------------- ordering ---- */

/* Ordering key (q->key): titles the ranker scored first, by its utility; the
 * others after, by popularity. Computed once per request (pg_keys). */
void pg_keys(pg_req *q) {
    /* Both keys computed and one kept by a mask of the ranked flag: a branch on
     * the flag (a scattered tenth of the titles) was mispredicted, and the
     * arrays' pointers were reloaded per title (now locals). */
    const uint8_t *restrict flags = q->flags;
    const float *restrict u = q->u, *restrict pop = q->bd->pop;
    float *restrict key = q->key;
    for (uint32_t t = 0, end = q->end; t < end; t++) {
        float ranked = 1.0f + u[t], other = pop[t];
        uint32_t a, b, m = -(uint32_t)((flags[t] & PG_RANKED) != 0);
        memcpy(&a, &ranked, sizeof a);
        memcpy(&b, &other, sizeof b);
        a = (a & m) | (b & ~m);
        memcpy(&key[t], &a, sizeof a);
    }
}

/* The order of pg_order as one integer per title, smaller first: the key's bits
 * made to sort as the float does (descending), the title id after (ascending).
 * Ties of key are broken by id, so the order is total and any sort of the codes
 * gives the order qsort_r with a comparator gave, without a call per
 * comparison. (Keys are never NaN: utilities and popularity percentiles.) */
static inline uint64_t order_code(const float *key, uint32_t t) {
    float k = key[t] + 0.0f; /* -0 sorts as 0 */
    uint32_t b;
    memcpy(&b, &k, sizeof b);
    b = (b & 0x80000000u) ? ~b : b | 0x80000000u; /* ascending with k */
    return (uint64_t)~b << 32 | t;
}

static void sort_codes(uint64_t *c, uint32_t n) {
    while (n > 24) {
        /* quicksort, median of three, the smaller side first */
        uint64_t a = c[0], b = c[n / 2], d = c[n - 1];
        uint64_t piv = a < b ? (b < d ? b : a < d ? d : a) : (a < d ? a : b < d ? d : b);
        uint32_t i = 0, j = n - 1;
        for (;;) {
            while (c[i] < piv)
                i++;
            while (c[j] > piv)
                j--;
            if (i >= j)
                break;
            uint64_t x = c[i];
            c[i++] = c[j];
            c[j--] = x;
        }
        /* [0, j] <= piv <= [j + 1, n) */
        if (j + 1 < n - j - 1) {
            sort_codes(c, j + 1);
            c += j + 1;
            n -= j + 1;
        } else {
            sort_codes(c + j + 1, n - j - 1);
            n = j + 1;
        }
    }
    for (uint32_t i = 1; i < n; i++) {
        uint64_t x = c[i];
        uint32_t j = i;
        for (; j > 0 && c[j - 1] > x; j--)
            c[j] = c[j - 1];
        c[j] = x;
    }
}

static int by_key(const void *x, const void *y, void *ud) {
    const float *key = ud;
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    float ka = key[a], kb = key[b];
    if (ka != kb)
        return ka > kb ? -1 : 1;
    return a < b ? -1 : a > b;
}

void pg_order(pg_req *q, uint32_t *list, uint32_t n) {
    uint64_t *c = mq_arena_alloc(q->a, ((size_t)n + 1) * sizeof *c);
    if (!c) {
        qsort_r(list, n, sizeof *list, by_key, q->key);
        return;
    }
    for (uint32_t i = 0; i < n; i++)
        c[i] = order_code(q->key, list[i]);
    sort_codes(c, n);
    for (uint32_t i = 0; i < n; i++)
        list[i] = (uint32_t)c[i];
}

/* The best `keep` of n titles by key, best first, in a new arena array: a
 * bounded heap of order codes (its root the worst kept), so a long theme costs
 * n log keep. Returns how many. */
static uint32_t top_of(pg_req *q, const uint32_t *in, uint32_t n, uint32_t keep, uint32_t **out) {
    uint64_t *h = mq_arena_alloc(q->a, ((size_t)keep + 1) * sizeof *h);
    uint32_t *ids = mq_arena_alloc(q->a, ((size_t)keep + 1) * sizeof *ids);
    uint32_t m = 0;
    if (!h || !ids) {
        *out = NULL;
        return 0;
    }
    const float *key = q->key;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t x = order_code(key, in[i]);
        if (m < keep) {
            /* sift up */
            uint32_t j = m++;
            while (j > 0 && h[(j - 1) / 2] < x) {
                h[j] = h[(j - 1) / 2];
                j = (j - 1) / 2;
            }
            h[j] = x;
        } else if (m && x < h[0]) {
            /* replace the worst kept, sift down */
            uint32_t j = 0;
            for (;;) {
                uint32_t l = 2 * j + 1, r = l + 1, s = j;
                uint64_t xs = x;
                if (l < m && h[l] > xs)
                    s = l, xs = h[l];
                if (r < m && h[r] > xs)
                    s = r;
                if (s == j)
                    break;
                h[j] = h[s];
                j = s;
            }
            h[j] = x;
        }
    }
    sort_codes(h, m);
    for (uint32_t i = 0; i < m; i++)
        ids[i] = (uint32_t)h[i];
    *out = ids;
    return m;
}

/* ------------------------------------------------------------- candidates ---- */

static pg_cand *add(pg_req *q, mq_page_row_kind kind, uint32_t ref, const char *row_id,
                    const char *caption, const char *evidence) {
    pg_cand c = {0};
    c.kind = kind;
    c.ref = ref;
    c.row_id = row_id;
    c.caption = caption;
    c.evidence = evidence;
    MQ_VEC_PUSH(&q->cands, c);
    return &q->cands.items[q->cands.len - 1];
}

/* What a row may show: titles that may be shown at all, and for rows other than
 * Continue Watching and Watch It Again, not finished ones; `unplayed` also drops
 * titles the profile has started. */
static bool showable(const pg_req *q, uint32_t t, bool unplayed) {
    uint8_t f = q->flags[t];
    return (f & PG_OK) && !(f & PG_FINISHED) && !(unplayed && (f & PG_PLAYED));
}

/* Filters `in` into an arena array and keeps the best `keep`. */
static void fill(pg_req *q, pg_cand *c, const uint32_t *in, uint32_t n, bool unplayed) {
    uint32_t *tmp = mq_arena_alloc(q->a, ((size_t)n + 1) * sizeof *tmp);
    uint32_t m = 0;
    for (uint32_t i = 0; tmp && i < n; i++)
        if (in[i] < q->end && showable(q, in[i], unplayed))
            tmp[m++] = in[i];
    uint32_t keep = (uint32_t)(q->items * 3);
    c->n = top_of(q, tmp, m, keep, &c->list);
}

/* Facets of a row for the diversity term: genre ids as themselves, tags as -2 - id. */
static void facets_of_title(const pg_req *q, pg_cand *c, uint32_t t) {
    const pg_snap *s = q->snap;
    const mq_title *ti = s->title[t];
    for (uint32_t i = 0; ti && i < ti->genres.n && c->n_facets < 2; i++) {
        uint32_t g;
        if (mq_strmap_get(s->genre_ids, ti->genres.items[i], &g))
            c->facets[c->n_facets++] = (int)g;
    }
}

/* Scroll counts of the candidates, from the profile's rows: each candidate's own
 * (past and along), and its type's other rows (past), in one pass over both. */
static size_t type_len(const char *row_id) {
    const char *colon = strchr(row_id, ':');
    return colon ? (size_t)(colon - row_id) : strlen(row_id);
}

static void scroll_counts(pg_req *q) {
    size_t nr = q->have_view ? q->view.n_rows : 0;
    if (!nr)
        return;
    uint64_t *h = mq_arena_alloc(q->a, nr * sizeof *h), *th = mq_arena_alloc(q->a, nr * sizeof *th);
    if (!h || !th)
        return;
    for (size_t i = 0; i < nr; i++) {
        const char *id = q->view.rows[i].row_id;
        h[i] = mq_hash_bytes(id, strlen(id));
        th[i] = mq_hash_bytes(id, type_len(id));
    }
    for (size_t c = 0; c < q->cands.len; c++) {
        pg_cand *k = &q->cands.items[c];
        uint64_t hc = mq_hash_bytes(k->row_id, strlen(k->row_id));
        uint64_t tc = mq_hash_bytes(k->row_id, type_len(k->row_id));
        uint32_t own = 0, type = 0, along = 0;
        for (size_t i = 0; i < nr; i++) {
            if (h[i] == hc && strcmp(q->view.rows[i].row_id, k->row_id) == 0) {
                own += q->view.rows[i].past;
                along += q->view.rows[i].along;
            } else if (th[i] == tc) {
                type += q->view.rows[i].past;
            }
        }
        k->skipped = own + type / 2;
        if (along && k->n && !k->keep_order)
            k->rotate = (uint32_t)(((uint64_t)along * (uint64_t)q->fmt.visible) % k->n);
    }
}

static void ago(char *out, size_t n, int64_t now, int64_t then) {
    double d = (double)(now - then) / DAY_MS;
    if (d < 1)
        snprintf(out, n, "today");
    else if (d < 2)
        snprintf(out, n, "yesterday");
    else if (d < 14)
        snprintf(out, n, "%d days ago", (int)d);
    else if (d < 60)
        snprintf(out, n, "%d weeks ago", (int)(d / 7));
    else
        snprintf(out, n, "%d months ago", (int)(d / 30));
}

/* -------------------------------------------------------------- builders ---- */

static double sigmoid(double x) {
    return 1.0 / (1.0 + exp(-x));
}

/* Continue Watching, ordered by how likely the profile is to resume each title:
 * a logistic of recency (page.cw_half_life_days), how far in it is (the middle
 * of a title is a stronger pull than its first minutes), how much the profile
 * likes it (the ranker's match), a thumbs up, and whether the last play was an
 * early abandon; a series whose episode was just completed stays, for its next
 * episode. Hand-set weights (docs/page.md), not learned. */
static void build_continue(pg_req *q) {
    if (!q->have_view)
        return;
    size_t nv = q->view.n_titles;
    uint32_t *list = mq_arena_alloc(q->a, (nv + 1) * sizeof *list);
    float *val = mq_arena_alloc(q->a, (nv + 1) * sizeof *val);
    uint16_t *aux = mq_arena_alloc(q->a, (nv + 1) * sizeof *aux);
    if (!list || !val || !aux)
        return;
    uint32_t n = 0;
    int64_t now = q->rq->now_ms;
    for (size_t i = 0; i < nv; i++) {
        const mq_state_title *h = &q->view.titles[i];
        uint32_t t = h->title_id;
        if (t >= q->end || !(q->flags[t] & PG_OK) || !q->snap->title[t])
            continue;
        bool series = q->snap->title[t]->kind == MQ_KIND_SERIES;
        double age = (double)(now - h->last_ms) / DAY_MS;
        bool resume = mq_state_title_continue(h);
        bool next_episode =
            !resume && series && h->plays > 0 && h->completed_ever && age < 14 && h->thumb >= 0;
        if (!resume && !next_episode)
            continue;
        double rec = pow(0.5, MQ_MAX(age, 0.0) / q->p->cw_half_life_days);
        double frac = h->duration_s > 0 ? h->position_s / h->duration_s : 0;
        double like = isnan(q->match[t]) ? 0.3 : q->match[t];
        double logit = -1.0 + 2.5 * rec + 1.5 * like + (frac >= 0.05 && frac <= 0.9 ? 0.8 : 0) +
                       0.4 * MQ_MIN(h->plays, 5) / 5.0 + (h->thumb > 0 ? 0.5 : 0) -
                       2.0 * h->signal[MQ_SIG_EARLY_ABANDON] + (next_episode ? 0.6 : 0);
        list[n] = t;
        val[n] = (float)sigmoid(logit);
        /* What the item is worth on the page: the resume probability, or the
         * ranker's utility of the title if higher (a title it is keen on pulls it
         * back whatever the heuristic says). */
        float worth = q->u[t] > (float)like ? q->u[t] : (float)like;
        double left = h->duration_s > h->position_s ? (h->duration_s - h->position_s) / 60 : 0;
        aux[n] = next_episode ? 0xFFFE : (uint16_t)MQ_MIN(ceil(left), 60000.0);
        val[n] = val[n] > worth ? val[n] : worth;
        n++;
    }
    if (!n)
        return;
    /* Insertion sort by resume probability (a handful of titles). */
    for (uint32_t i = 1; i < n; i++) {
        uint32_t t = list[i];
        float v = val[i];
        uint16_t x = aux[i];
        uint32_t j = i;
        while (j > 0 && val[j - 1] < v) {
            list[j] = list[j - 1];
            val[j] = val[j - 1];
            aux[j] = aux[j - 1];
            j--;
        }
        list[j] = t;
        val[j] = v;
        aux[j] = x;
    }
    char ev[160];
    snprintf(ev, sizeof ev, "%u title%s you started, the likeliest to be resumed first", n,
             n == 1 ? "" : "s");
    pg_cand *c = add(q, MQ_ROW_CONTINUE, 0, "continue-watching", "Continue Watching",
                     mq_arena_strdup(q->a, ev));
    c->list = list;
    c->n = n;
    c->aux = aux;
    c->keep_order = true;
    c->prior = 0.8; /* the quickest way back into something: near the top */
    c->val = val;
}

static void build_top_picks(pg_req *q) {
    uint32_t keep = (uint32_t)(q->items * 3);
    if (q->ranked) {
        /* The ranker's order is the row's order: its first showable titles. */
        uint32_t *list = mq_arena_alloc(q->a, ((size_t)keep + 1) * sizeof *list);
        uint32_t n = 0;
        for (uint32_t i = 0; list && i < q->n_ranked && n < keep; i++)
            if (showable(q, q->ranked[i], true))
                list[n++] = q->ranked[i];
        pg_cand *c = add(q, MQ_ROW_TOP_PICKS, 0, "top-picks", "Top Picks for you",
                         q->have_model && q->hist_weight > 0
                             ? "The titles the ranker scores highest for you"
                             : "The titles most watched lately, until we know your taste");
        c->list = list;
        c->n = n;
        c->prior = 0.1; /* the ranker's best, whatever their theme */
        return;
    }
    uint32_t *all = mq_arena_alloc(q->a, (size_t)q->end * sizeof *all);
    uint32_t n = 0;
    for (uint32_t t = 1; all && t < q->end; t++)
        if (showable(q, t, true) && (q->flags[t] & PG_RANKED))
            all[n++] = t;
    const char *ev = q->have_model && q->hist_weight > 0
                         ? "The titles the ranker scores highest for you"
                         : "The titles most watched lately, until we know your taste";
    pg_cand *c = add(q, MQ_ROW_TOP_PICKS, 0, "top-picks", "Top Picks for you", ev);
    c->n = top_of(q, all, n, (uint32_t)(q->items * 3), &c->list);
    c->prior = 0.1; /* the ranker's best, whatever their theme */
}

typedef struct {
    uint32_t t;
    double s;
    int64_t last;
    bool done;
} seed;

static int by_seed(const void *x, const void *y) {
    const seed *a = x, *b = y;
    if (a->s != b->s)
        return a->s > b->s ? -1 : 1;
    return a->t < b->t ? -1 : a->t > b->t;
}

/* Because you watched X: X among the profile's recent strong plays (positive
 * weight, no thumbs down, favouring recent ones: a 14-day half-life), the row
 * its similar titles. */
static void build_because_watched(pg_req *q, int max_rows) {
    if (!q->have_view || max_rows <= 0)
        return;
    size_t nv = q->view.n_titles;
    seed *sd = mq_arena_alloc(q->a, (nv + 1) * sizeof *sd);
    size_t ns = 0;
    for (size_t i = 0; sd && i < nv; i++) {
        const mq_state_title *h = &q->view.titles[i];
        double w = h->weight - h->negative;
        if (h->title_id >= q->end || !q->snap->title[h->title_id] || !h->plays || h->thumb < 0 ||
            !(w > 0) || h->signal[MQ_SIG_EARLY_ABANDON] > 0)
            continue;
        double age = (double)(q->rq->now_ms - h->last_ms) / DAY_MS;
        sd[ns++] = (seed){h->title_id, w * pow(0.5, MQ_MAX(age, 0.0) / 14.0), h->last_ms,
                          h->completed_ever};
    }
    if (!ns)
        return;
    qsort(sd, ns, sizeof *sd, by_seed);
    for (size_t i = 0; i < ns && (int)i < max_rows; i++) {
        uint32_t t = sd[i].t;
        const mq_title *ti = q->snap->title[t];
        uint32_t n;
        const uint32_t *sim = pg_similar(q->snap, q->bd, t, q->a, &n);
        char when[32];
        ago(when, sizeof when, q->rq->now_ms, sd[i].last);
        const char *name = ti->name && *ti->name ? ti->name : ti->ext_id;
        pg_cand *c = add(
            q, MQ_ROW_BECAUSE_WATCHED, t, pg_strdupf(q->a, "because-you-watched:%s", ti->ext_id),
            pg_strdupf(q->a, "Because you watched %s", name),
            pg_strdupf(q->a, "You %s %s %s", sd[i].done ? "finished" : "watched", name, when));
        fill(q, c, sim, n, true);
        facets_of_title(q, c, t);
        c->affinity = sd[i].s / (q->hist_weight > 0 ? q->hist_weight : 1);
        c->prior = 0.02;
    }
}

typedef struct {
    uint32_t k;
    double s;
} scored;

static int by_scored(const void *x, const void *y) {
    const scored *a = x, *b = y;
    if (a->s != b->s)
        return a->s > b->s ? -1 : 1;
    return a->k < b->k ? -1 : a->k > b->k;
}

static void theme_row(pg_req *q, uint32_t k, double prior) {
    const pg_theme *T = &q->snap->themes[k];
    char ev[160];
    double share = q->theme_aff[k];
    if (share >= 0.01 && share <= 1) {
        /* "%.0f%% of what you watch is %s" without the format machinery (a
         * float's conversion was most of a theme row's cost): the share in
         * percent is at most 100, and printf rounds it to an integer as
         * nearbyint does (exactly, in the current rounding mode). */
        char pct[32];
        pg_cat_u(pct, sizeof pct, "", "", (unsigned)nearbyint(100 * share),
                 "% of what you watch is ");
        pg_cat2(ev, sizeof ev, pct, q->snap->genres.items[T->genre]);
    } else if (share >= 0.01) {
        snprintf(ev, sizeof ev, "%.0f%% of what you watch is %s", 100 * share,
                 q->snap->genres.items[T->genre]);
    } else
        snprintf(ev, sizeof ev, "%u titles; popular with members right now", T->n);
    pg_cand *c = add(q, MQ_ROW_THEME, k, T->row_id, T->caption, mq_arena_strdup(q->a, ev));
    c->deferred = true; /* filled by fill_themes, all at once */
    c->facets[c->n_facets++] = T->genre;
    if (T->tag >= 0)
        c->facets[c->n_facets++] = -2 - T->tag;
    /* Without history, the theme's share of everyone's plays stands in for the
     * profile's own. */
    c->affinity = q->hist_weight > 0 ? share : q->bd->theme_share[k];
    c->prior = prior;
}

/* Personalized theme rows: the themes with the largest share of the profile's
 * positive weight, and (so a new profile gets some) the most popular themes. */
static void build_themes(pg_req *q) {
    const pg_snap *s = q->snap;
    if (!s->n_themes || q->p->theme_rows <= 0)
        return;
    scored *sc = mq_arena_alloc(q->a, (size_t)s->n_themes * sizeof *sc);
    if (!sc)
        return;
    /* Only themes the profile has watched: a profile without history gets the
     * broad genre rows instead (build_genres_by_size), which cover more tastes
     * than narrow popular themes do. */
    uint32_t n = 0;
    for (uint32_t k = 0; k < s->n_themes; k++)
        if (q->theme_aff[k] >= 0.02)
            sc[n++] = (scored){k, q->theme_aff[k] + 0.05 * q->bd->theme_pop[k] +
                                      (s->themes[k].tag >= 0 ? 0.002 : 0)};
    qsort(sc, n, sizeof *sc, by_scored);
    for (uint32_t i = 0; i < n && (int)i < q->p->theme_rows; i++)
        theme_row(q, sc[i].k, 0);
}

static void build_trending(pg_req *q) {
    if (!q->bd->n_trend)
        return;
    pg_cand *c = add(q, MQ_ROW_TRENDING, 0, "trending", "Trending Now",
                     "Watched more this week than over the last months");
    fill(q, c, q->bd->trend_order, q->bd->n_trend, true);
    c->prior = 0;
}

static void build_popular(pg_req *q) {
    pg_cand *c = add(q, MQ_ROW_POPULAR, 0, "popular", "Popular on marquee",
                     "The most watched titles lately");
    fill(q, c, q->bd->pop_order, MQ_MIN(q->bd->n_pop, 400u), true);
    c->prior = 0;
}

/* New Releases: titles added within page.new_days of now (of the newest title's
 * arrival, when the catalogue has had none that recent). */
static void build_new(pg_req *q) {
    const pg_snap *s = q->snap;
    if (!s->n_newest || s->newest_ms <= 0)
        return;
    int64_t ref = MQ_MIN(q->rq->now_ms, s->newest_ms);
    int64_t from = ref - (int64_t)q->p->new_days * 86400000LL;
    uint32_t n = 0;
    while (n < s->n_newest && n < 1000 && s->title[s->newest[n]]->added_ms >= from)
        n++;
    if (!n)
        return;
    /* Say which window it is: days before now, or (nothing that recent) the
     * catalogue's latest arrivals, whose items say how long ago they came. */
    bool recent = q->rq->now_ms - s->newest_ms <= 86400000LL;
    pg_cand *c = add(q, MQ_ROW_NEW, 0, "new-releases", "New Releases",
                     recent ? pg_strdupf(q->a, "Added in the last %d days", q->p->new_days)
                            : "The latest additions to the catalogue");
    fill(q, c, s->newest, n, true);
    c->prior = 0;
}

static void build_watch_again(pg_req *q) {
    if (!q->have_view)
        return;
    size_t nv = q->view.n_titles;
    uint32_t *list = mq_arena_alloc(q->a, (nv + 1) * sizeof *list);
    uint32_t n = 0;
    for (size_t i = 0; list && i < nv; i++) {
        const mq_state_title *h = &q->view.titles[i];
        if (h->title_id < q->end && (q->flags[h->title_id] & PG_OK) && h->completed_ever &&
            h->thumb >= 0 && h->weight > h->negative && !mq_state_title_continue(h))
            list[n++] = h->title_id;
    }
    if (!n)
        return;
    pg_order(q, list, n);
    pg_cand *c = add(q, MQ_ROW_WATCH_AGAIN, 0, "watch-again", "Watch It Again",
                     "Titles you finished and liked");
    c->list = list;
    c->n = n;
    c->prior = -0.2; /* a second viewing is rarely what a session is for */
}

static void build_my_list(pg_req *q) {
    if (!q->have_view)
        return;
    size_t nv = q->view.n_titles;
    uint32_t *list = mq_arena_alloc(q->a, (nv + 1) * sizeof *list);
    uint32_t n = 0;
    for (size_t i = 0; list && i < nv; i++) {
        const mq_state_title *h = &q->view.titles[i];
        if (h->in_list && h->title_id < q->end && showable(q, h->title_id, false))
            list[n++] = h->title_id;
    }
    if (!n)
        return;
    pg_order(q, list, n);
    pg_cand *c = add(q, MQ_ROW_MY_LIST, 0, "my-list", "My List",
                     pg_strdupf(q->a, "%u title%s you saved", n, n == 1 ? "" : "s"));
    c->list = list;
    c->n = n;
    c->prior = 0.0;
}

/* Because you searched Y: titles whose name, genres or tags contain every word of
 * the query (failing that, any word), and the title clicked from it with its
 * similar titles. */
static void build_because_searched(pg_req *q, int max_rows) {
    const pg_snap *s = q->snap;
    if (!q->have_view)
        return;
    for (size_t i = 0; i < q->view.n_searches && (int)i < max_rows; i++) {
        const mq_state_search *sr = &q->view.searches[i];
        double age = (double)(q->rq->now_ms - sr->last_ms) / DAY_MS;
        if (age > 30)
            continue; /* an old search says little about tonight */
        uint32_t *acc = mq_arena_alloc(q->a, (size_t)q->end * sizeof *acc);
        uint8_t *hits = mq_arena_alloc(q->a, (size_t)q->end);
        if (!acc || !hits)
            return;
        memset(hits, 0, q->end);
        uint32_t n = 0;
        int words = 0;
        char w[64];
        size_t k = 0;
        for (const char *p = sr->query;; p++) {
            unsigned char ch = (unsigned char)*p;
            if (ch && (isalnum(ch) || ch >= 0x80)) {
                if (k + 1 < sizeof w)
                    w[k++] = (char)tolower(ch);
                continue;
            }
            if (k >= 3) {
                w[k] = '\0';
                uint32_t id;
                if (mq_strmap_get(s->words, w, &id)) {
                    words++;
                    for (uint32_t j = s->w_ptr[id]; j < s->w_ptr[id + 1]; j++) {
                        uint32_t t = s->w_idx[j];
                        if (hits[t]++ == 0)
                            acc[n++] = t;
                    }
                } else {
                    words++;
                }
            }
            k = 0;
            if (!ch)
                break;
        }
        /* Titles matching every word; if none, any. */
        uint32_t m = 0;
        for (uint32_t j = 0; j < n; j++)
            if (hits[acc[j]] >= words)
                acc[m++] = acc[j];
        if (m == 0)
            m = n;
        if (sr->clicked && sr->clicked < q->end) {
            uint32_t ns;
            const uint32_t *sim = pg_similar(s, q->bd, sr->clicked, q->a, &ns);
            if (!hits[sr->clicked])
                acc[m++] = sr->clicked;
            for (uint32_t j = 0; j < ns && m < q->end; j++)
                if (!hits[sim[j]] && sim[j] != sr->clicked) {
                    hits[sim[j]] = 1;
                    acc[m++] = sim[j];
                }
        }
        if (!m)
            continue;
        char sl[MQ_STATE_QUERY_MAX];
        size_t o = 0;
        for (const char *p = sr->query; *p && o + 1 < sizeof sl; p++)
            sl[o++] = isalnum((unsigned char)*p) ? (char)tolower((unsigned char)*p)
                                                 : ((unsigned char)*p >= 0x80 ? *p : '-');
        sl[o] = '\0';
        char when[32];
        ago(when, sizeof when, q->rq->now_ms, sr->last_ms);
        pg_cand *c = add(q, MQ_ROW_BECAUSE_SEARCHED, (uint32_t)i,
                         pg_strdupf(q->a, "because-you-searched:%s", sl),
                         pg_strdupf(q->a, "Because you searched \"%s\"", sr->query),
                         pg_strdupf(q->a, "You searched \"%s\" %s", sr->query, when));
        fill(q, c, acc, m, false);
        c->prior = -0.05 + 0.1 * pow(0.5, MQ_MAX(age, 0.0) / 7);
    }
}

/* Genre rows, largest genre first: the same themes for everyone. */
static void build_genres_by_size(pg_req *q, int max) {
    int added = 0;
    for (uint32_t i = 0; i < q->snap->n_by_size && added < max; i++) {
        uint32_t k = q->snap->by_size[i];
        bool dup = false;
        for (size_t c = 0; c < q->cands.len && !dup; c++)
            dup = q->cands.items[c].kind == MQ_ROW_THEME && q->cands.items[c].ref == k;
        if (!dup) {
            theme_row(q, k, 0);
            added++;
        }
    }
}

/* Completes theme row c, whose list holds every showable title of the theme the
 * ranker scored (in its order), with the theme's other titles: the same titles
 * in the same order as fill() over all its members, since the others' key is
 * their popularity, in whose order bd->theme_by_pop already holds them. A merge
 * of the two, best first, where fill() sorts the whole theme. */
static void complete_theme(pg_req *q, pg_cand *c, uint32_t keep) {
    const pg_bdata *bd = q->bd;
    const float *key = q->key;
    uint32_t *a = c->list, na = c->n;
    pg_order(q, a, na);
    uint32_t *out = mq_arena_alloc(q->a, ((size_t)keep + 1) * sizeof *out);
    if (!out)
        return;
    const uint32_t *m = bd->theme_by_pop + bd->theme_ptr[c->ref],
                   *mz = bd->theme_by_pop + bd->theme_ptr[c->ref + 1];
    uint32_t n = 0, i = 0;
    uint32_t next = UINT32_MAX; /* the next unscored showable title, or none */
    for (;;) {
        while (next == UINT32_MAX && m < mz) {
            uint32_t t = *m++;
            if (t < q->end && !(q->flags[t] & PG_RANKED) && showable(q, t, true))
                next = t;
        }
        if (n == keep || (i == na && next == UINT32_MAX))
            break;
        bool take_a = i < na && (next == UINT32_MAX || key[a[i]] > key[next] ||
                                 (key[a[i]] == key[next] && a[i] < next));
        if (take_a) {
            out[n++] = a[i++];
        } else {
            out[n++] = next;
            next = UINT32_MAX;
        }
    }
    c->list = out;
    c->n = n;
}

/* Fills every theme row at once: one pass down the ranked titles (best first)
 * appends each to the lists of the candidate themes it belongs to, so a large
 * genre costs what the ranker returned, not its size; a theme left short is then
 * filled from all its titles. */
#define THEMES_AHEAD 8

static void fill_themes(pg_req *q) {
    const pg_snap *s = q->snap;
    uint32_t keep = (uint32_t)(q->items * 3);
    int32_t *slot = NULL;
    size_t pending = 0;
    for (size_t i = 0; i < q->cands.len; i++)
        pending += q->cands.items[i].deferred;
    if (!pending)
        return;
    if (q->ranked && s->n_themes) {
        slot = mq_arena_alloc(q->a, (size_t)s->n_themes * sizeof *slot);
        if (slot) {
            for (uint32_t k = 0; k < s->n_themes; k++)
                slot[k] = -1;
            for (size_t i = 0; i < q->cands.len; i++) {
                pg_cand *c = &q->cands.items[i];
                if (c->deferred) {
                    slot[c->ref] = (int32_t)i;
                    c->list = mq_arena_alloc(q->a, ((size_t)keep + 1) * sizeof *c->list);
                    c->n = 0;
                }
            }
            size_t full = 0;
            for (uint32_t r = 0; r < q->n_ranked && full < pending; r++) {
                /* The titles' themes are scattered (ranked order is nobody's
                 * memory order): ask for them some titles ahead, their index
                 * ahead of that, so the misses overlap. */
                if (r + 2 * THEMES_AHEAD < q->n_ranked)
                    __builtin_prefetch(&s->tt_ptr[q->ranked[r + 2 * THEMES_AHEAD]]);
                if (r + THEMES_AHEAD < q->n_ranked)
                    __builtin_prefetch(&s->tt_idx[s->tt_ptr[q->ranked[r + THEMES_AHEAD]]]);
                uint32_t t = q->ranked[r];
                if (!showable(q, t, true))
                    continue;
                for (uint32_t j = s->tt_ptr[t]; j < s->tt_ptr[t + 1]; j++) {
                    int32_t ci = slot[s->tt_idx[j]];
                    if (ci < 0)
                        continue;
                    pg_cand *c = &q->cands.items[ci];
                    if (c->list && c->n < keep) {
                        c->list[c->n++] = t;
                        full += c->n == keep;
                    }
                }
            }
        }
    }
    for (size_t i = 0; i < q->cands.len; i++) {
        pg_cand *c = &q->cands.items[i];
        if (!c->deferred)
            continue;
        c->deferred = false;
        if (slot && c->list && c->n == keep)
            continue;
        if (slot && c->list && q->ranked_all && q->bd->theme_ptr) {
            complete_theme(q, c, keep);
            continue;
        }
        const pg_theme *T = &s->themes[c->ref];
        fill(q, c, T->members, T->n, true);
    }
}

void pg_build_candidates(pg_req *q) {
    q->cands.len = 0;
    pg_keys(q);
    switch (q->policy) {
    case MQ_PAGE_POLICY_POPULAR:
        build_popular(q);
        build_trending(q);
        build_new(q);
        build_genres_by_size(q, q->rows);
        break;
    case MQ_PAGE_POLICY_TEMPLATE: {
        /* The fixed template: every row type, in one order for everyone. Missing
         * rows (no history yet) are skipped. */
        build_continue(q);
        build_top_picks(q);
        build_trending(q);
        build_new(q);
        size_t before = q->cands.len;
        build_because_watched(q, q->p->because_rows);
        /* interleave: the first Because you watched, My List, the second, ... */
        size_t n_byw = q->cands.len - before;
        build_my_list(q);
        build_watch_again(q);
        build_because_searched(q, 1);
        if (n_byw > 1) {
            /* move Because-you-watched rows 2.. after My List / Watch It Again /
             * Because you searched, keeping their order */
            size_t tail = q->cands.len - (before + n_byw);
            pg_cand *tmp = mq_arena_alloc(q->a, (n_byw - 1) * sizeof *tmp);
            if (tmp) {
                memcpy(tmp, &q->cands.items[before + 1], (n_byw - 1) * sizeof *tmp);
                memmove(&q->cands.items[before + 1], &q->cands.items[before + n_byw],
                        tail * sizeof *tmp);
                memcpy(&q->cands.items[before + 1 + tail], tmp, (n_byw - 1) * sizeof *tmp);
            }
        }
        build_popular(q);
        build_genres_by_size(q, q->rows);
        break;
    }
    case MQ_PAGE_POLICY_NO_RANKER:
    case MQ_PAGE_POLICY_FULL:
    default:
        build_continue(q);
        build_top_picks(q);
        build_because_watched(q, q->p->because_rows);
        build_themes(q);
        /* Broad genre rows too: for a profile with little history they are the
         * quickest way to meet its taste, one genre per row. */
        build_genres_by_size(q, q->hist_weight > 0 ? q->p->theme_rows / 2 : q->rows);
        build_trending(q);
        build_new(q);
        build_watch_again(q);
        build_my_list(q);
        build_because_searched(q, 2);
        build_popular(q);
        break;
    }
    fill_themes(q);
    /* Demotion and rotation from the profile's scrolls. */
    scroll_counts(q);
}
