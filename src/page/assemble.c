/* assemble.c: row scoring and the greedy, stage-wise page assembly (Alvino &
 * Basilico, "Learning a Personalized Homepage", 2015: rows are chosen one
 * position at a time, each scored given the rows above it).
 *
 * The score of candidate row r at position p, given the rows chosen above:
 *
 *   prior(kind) + quality(r | above) + affinity_weight x affinity(r)
 *   - kind_penalty x (rows of r's kind above)
 *   - theme_penalty x (largest facet overlap with a row above)
 *   - skip_demotion x ln(1 + times the profile scrolled past r)
 *   + coverage_weight / (1 + titles played) x coverage(r | above)
 *   + explore x noise(session seed, r)
 *
 * quality is the position-discounted mean (weights 1 / ln(2 + i), as in DCG) of
 * the ranker's utility of the titles r would show in its first `visible` places
 * here: titles already used where they may not repeat are skipped, titles seen
 * lower on the page count half, and a row with fewer titles than places loses
 * the empty ones. So a row whose best titles are already above falls back.
 *
 * coverage is the share of r's visible titles' themes (genres, genre x tag
 * combinations) not yet in the visible places of the rows above. A member whose
 * taste is unknown finds something sooner on a page that spreads its first rows
 * over many themes than on one whose rows are all the same few popular ones (the
 * chance of a play is roughly the prior weight of the themes shown, not the sum
 * of the titles' popularity); as plays reveal the taste, the ranker's utilities
 * take over.
 *
 * Placement rules: within the first screen (page.screen_rows x page.screen_cols)
 * no title appears twice; below it a title appears at most page.max_repeats
 * times; a row left with fewer than page.min_items titles (one for Continue
 * Watching, My List, Watch It Again and searches) is dropped. The popularity page
 * and the fixed template take their candidates in order, under the same rules. */
#include "page_impl.h"

#include <math.h>
#include <string.h>

#define USE_SCREEN 0x80
#define USE_COUNT 0x7F

static int min_items(const pg_req *q, mq_page_row_kind k) {
    switch (k) {
    case MQ_ROW_CONTINUE:
    case MQ_ROW_MY_LIST:
    case MQ_ROW_WATCH_AGAIN:
    case MQ_ROW_BECAUSE_SEARCHED:
        return 1;
    default:
        return MQ_MIN(q->p->min_items, q->items);
    }
}

/* May title t go at (pos, col)? */
static bool allowed(const pg_req *q, uint32_t t, int pos, int col) {
    uint8_t u = q->use[t];
    if ((u & USE_COUNT) >= q->p->max_repeats)
        return false;
    if (pos < q->p->screen_rows) {
        if (col < q->p->screen_cols)
            return u == 0;
        return !(u & USE_SCREEN);
    }
    return true;
}

static float value_of(const pg_req *q, const pg_cand *c, uint32_t j) {
    if (c->val)
        return c->val[j];
    uint32_t t = c->list[j];
    return (q->flags[t] & PG_RANKED) ? q->u[t] : 0.5f * q->u[t];
}

/* Position weights 1 / ln(2 + i), and their sum over the first i places. */
#define MAX_VISIBLE 16
static const double disc[MAX_VISIBLE] = {1.4426950409, 0.9102392266, 0.7213475204, 0.6213349346,
                                         0.5581106266, 0.5138983424, 0.4808983470, 0.4551196133,
                                         0.4342944819, 0.4170323914, 0.4024296044, 0.3898712453,
                                         0.3789231817, 0.3692693731, 0.3606737602, 0.3529561239};

/* The share of title t's themes that no visible place above shows yet. */
static double fresh_share(const pg_req *q, uint32_t t) {
    if (q->fresh_gen && q->fresh_gen[t] == q->cover_gen)
        return q->fresh[t];
    const pg_snap *s = q->snap;
    uint32_t a = s->tt_ptr[t], z = s->tt_ptr[t + 1], n = 0;
    for (uint32_t e = a; e < z; e++)
        n += !q->covered[s->tt_idx[e]];
    double f = z > a ? (double)n / (double)(z - a) : 0;
    if (q->fresh_gen) {
        q->fresh_gen[t] = (uint16_t)q->cover_gen;
        q->fresh[t] = f;
    }
    return f;
}

/* quality(r | above), and, when `coverage` is not NULL, coverage(r | above): both
 * over the titles r would show in its visible places at pos. */
static double quality(const pg_req *q, const pg_cand *c, int pos, double *coverage) {
    int V = MQ_MIN(q->fmt.visible, MAX_VISIBLE);
    double num = 0, den = q->disc_sum, fresh = 0;
    int col = 0;
    /* the list from c->rotate on, wrapping (a step, not a division, per title) */
    uint32_t j = c->rotate % c->n;
    for (uint32_t k = 0; k < c->n && col < V; k++, j = j + 1 == c->n ? 0 : j + 1) {
        uint32_t t = c->list[j];
        if (!allowed(q, t, pos, col))
            continue;
        double v = value_of(q, c, j);
        if (q->use[t])
            v *= 0.5;
        num += v * disc[col];
        if (coverage)
            fresh += fresh_share(q, t);
        col++;
    }
    if (coverage)
        *coverage = V > 0 ? fresh / (double)V : 0;
    if (c->keep_order && col > 0) {
        /* Continue Watching is short by nature: its worth is what it has. */
        den = 0;
        for (int i = 0; i < col; i++)
            den += disc[i];
    }
    return den > 0 ? num / den : 0;
}

static double overlap(const pg_cand *a, const pg_cand *b) {
    if (!a->n_facets || !b->n_facets)
        return 0;
    int same = 0;
    for (int i = 0; i < a->n_facets; i++)
        for (int j = 0; j < b->n_facets; j++)
            same += a->facets[i] == b->facets[j];
    return (double)same / (double)MQ_MAX(a->n_facets, b->n_facets);
}

static double noise(const pg_req *q, const pg_cand *c) {
    uint64_t h = pg_mix(q->seed ^ mq_hash_bytes(c->row_id, strlen(c->row_id)));
    return (double)(h >> 11) / 9007199254740992.0 - 0.5;
}

static double row_score(const pg_req *q, const pg_cand *c, int pos, const int *kind_count) {
    double cw = q->p->coverage_weight / (1.0 + q->played), cov = 0;
    double s = c->prior + quality(q, c, pos, cw > 0 ? &cov : NULL) +
               q->p->affinity_weight * c->affinity + cw * cov;
    s -= q->p->kind_penalty * kind_count[c->kind];
    s -= q->p->theme_penalty * c->overlap_above;
    s -= c->skip_cost;
    s += q->p->explore * c->noise;
    return s;
}

/* aux of an item: minutes left, days, rank (0xFFFF: none). */
static uint16_t item_aux(const pg_req *q, const pg_cand *c, uint32_t j, uint32_t t) {
    if (c->aux)
        return c->aux[j];
    int64_t now = q->rq->now_ms;
    switch (c->kind) {
    case MQ_ROW_TRENDING:
        for (uint32_t i = 0; i < q->bd->n_trend; i++)
            if (q->bd->trend_order[i] == t)
                return (uint16_t)MQ_MIN(i + 1, 60000u);
        return 0xFFFF;
    case MQ_ROW_POPULAR:
        return (uint16_t)MQ_MIN((1.0 - q->bd->pop[t]) * q->bd->n_pop + 1.5, 60000.0);
    case MQ_ROW_NEW: {
        int64_t added = q->snap->title[t]->added_ms;
        return added > 0 ? (uint16_t)MQ_MIN(MQ_MAX(now - added, 0) / 86400000LL, 60000) : 0xFFFF;
    }
    case MQ_ROW_WATCH_AGAIN:
        for (size_t i = 0; i < q->view.n_titles; i++)
            if (q->view.titles[i].title_id == t)
                return (uint16_t)MQ_MIN(MQ_MAX(now - q->view.titles[i].last_ms, 0) / 86400000LL,
                                        60000);
        return 0xFFFF;
    default:
        return 0xFFFF;
    }
}

/* Places c's titles at position pos into items[]; returns how many. */
static uint32_t place(pg_req *q, pg_cand *c, int pos, pg_item *items, pg_choice_ctx *cc,
                      uint16_t *genre_memo) {
    uint32_t n = 0;
    uint32_t j = c->keep_order || !c->n ? 0 : c->rotate % c->n;
    for (uint32_t k = 0; k < c->n && n < (uint32_t)q->items; k++, j = j + 1 == c->n ? 0 : j + 1) {
        uint32_t t = c->list[j];
        if (!allowed(q, t, pos, (int)n))
            continue;
        pg_item *it = &items[n];
        memset(it, 0, sizeof *it);
        it->title = t;
        float m = q->match[t];
        it->match = isnan(m) ? 0xFFFF : (uint16_t)lrintf(MQ_MIN(MQ_MAX(m, 0.0f), 1.0f) * 10000);
        it->aux = item_aux(q, c, j, t);
        if (c->kind == MQ_ROW_TOP_PICKS || c->kind == MQ_ROW_THEME || c->kind == MQ_ROW_POPULAR ||
            c->kind == MQ_ROW_TRENDING || c->kind == MQ_ROW_NEW) {
            uint16_t g = 0;
            if (q->hist_weight > 0 && genre_memo) {
                if (genre_memo[t] == 0xFFFF)
                    genre_memo[t] = pg_best_genre(q, t);
                g = genre_memo[t];
            } else if (q->hist_weight > 0) {
                g = pg_best_genre(q, t);
            }
            if (g) {
                it->why = PG_WHY_GENRE;
                it->why_genre = g;
            }
        }
        n++;
    }
    pg_choose_row(q, cc, items, n);
    /* Commit the uses only once the row is kept. */
    return n;
}

static void commit(pg_req *q, const pg_item *items, uint32_t n, int pos) {
    /* In locals: a byte store may alias anything, so q->cover_gen would be read
     * and written back, and the arrays' pointers reloaded, for every theme. */
    const uint32_t *tt_ptr = q->snap->tt_ptr, *tt_idx = q->snap->tt_idx;
    uint8_t *covered = q->covered;
    uint8_t grew = 0;
    for (uint32_t i = 0; i < n && (int)i < q->fmt.visible; i++) {
        uint32_t a = tt_ptr[items[i].title], z = tt_ptr[items[i].title + 1];
        for (uint32_t j = a; j < z; j++) {
            grew |= !covered[tt_idx[j]];
            covered[tt_idx[j]] = 1;
        }
    }
    q->cover_gen += grew; /* one generation per commit at most: fits fresh_gen */
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *u = &q->use[items[i].title];
        if ((*u & USE_COUNT) < USE_COUNT)
            (*u)++;
        if (pos < q->p->screen_rows && (int)i < q->p->screen_cols)
            *u |= USE_SCREEN;
    }
}

int pg_assemble(pg_req *q, pg_layout *L, mq_err *err) {
    int R = q->rows, I = q->items;
    size_t nc = q->cands.len;
    L->rows = mq_arena_alloc(q->a, (size_t)R * sizeof *L->rows);
    L->items = mq_arena_alloc(q->a, (size_t)R * (size_t)I * sizeof *L->items);
    uint32_t *chosen = mq_arena_alloc(q->a, (size_t)(R + 1) * sizeof *chosen);
    bool *dropped = mq_arena_alloc(q->a, nc + 1);
    if (!L->rows || !L->items || !chosen || !dropped)
        return mq_err_set(err, MQ_ENOMEM, "page: the request arena is full");
    memset(dropped, 0, nc + 1);
    int kind_count[MQ_ROW_KIND_COUNT] = {0};
    bool fixed = q->policy == MQ_PAGE_POLICY_POPULAR || q->policy == MQ_PAGE_POLICY_TEMPLATE;
    pg_choice_ctx *cc = pg_choice_prepare(q);
    /* Each title's best genre for the evidence, once per title (0xFFFF: not yet):
     * a title recurs on the page, and this scans its themes. */
    uint16_t *genre_memo = mq_arena_alloc(q->a, ((size_t)q->end + 1) * sizeof *genre_memo);
    if (genre_memo)
        memset(genre_memo, 0xFF, ((size_t)q->end + 1) * sizeof *genre_memo);
    q->cover_gen = 1;
    q->fresh_gen = mq_arena_alloc(q->a, ((size_t)q->end + 1) * sizeof *q->fresh_gen);
    q->fresh = mq_arena_alloc(q->a, ((size_t)q->end + 1) * sizeof *q->fresh);
    if (q->fresh_gen && q->fresh && R < UINT16_MAX)
        memset(q->fresh_gen, 0, ((size_t)q->end + 1) * sizeof *q->fresh_gen);
    else
        q->fresh_gen = NULL;
    /* What row_score would otherwise recompute for every candidate at every
     * position: the noise (a hash of the row id), the demotion for scrolls past
     * it, the overlap with the rows above (kept up to date as rows are chosen,
     * below), and the sum of the visible places' weights. */
    for (size_t i = 0; i < nc; i++) {
        pg_cand *c = &q->cands.items[i];
        c->noise = fixed ? 0 : noise(q, c);
        c->skip_cost = q->p->skip_demotion * log1p((double)c->skipped);
        c->overlap_above = 0;
    }
    q->disc_sum = 0;
    for (int i = 0; i < MQ_MIN(q->fmt.visible, MAX_VISIBLE); i++)
        q->disc_sum += disc[i];
    int pos = 0;
    uint32_t n_items = 0;
    size_t str_len = 0;
    while (pos < R) {
        long best = -1;
        double best_s = -INFINITY;
        for (size_t i = 0; i < nc; i++) {
            pg_cand *c = &q->cands.items[i];
            if (c->chosen || dropped[i] || c->n == 0)
                continue;
            if (fixed) {
                best = (long)i;
                best_s = 0;
                break;
            }
            double s = row_score(q, c, pos, kind_count);
            if (s > best_s) {
                best_s = s;
                best = (long)i;
            }
        }
        if (best < 0)
            break;
        pg_cand *c = &q->cands.items[best];
        pg_item *items = &L->items[n_items];
        uint32_t n = place(q, c, pos, items, cc, genre_memo);
        if ((int)n < min_items(q, c->kind)) {
            dropped[best] = true;
            continue;
        }
        commit(q, items, n, pos);
        c->chosen = true;
        for (size_t i = 0; i < nc && !fixed; i++) {
            pg_cand *o = &q->cands.items[i];
            double ov = o->chosen ? 0 : overlap(o, c);
            if (ov > o->overlap_above)
                o->overlap_above = ov;
        }
        chosen[pos] = (uint32_t)best;
        kind_count[c->kind]++;
        pg_row *r = &L->rows[pos];
        memset(r, 0, sizeof *r);
        r->kind = (uint8_t)c->kind;
        r->n = (uint16_t)n;
        r->first = n_items;
        r->ref = c->ref;
        r->score = isfinite(best_s) ? (float)best_s : 0;
        r->str = (uint32_t)str_len;
        str_len += strlen(c->row_id) + strlen(c->caption) + strlen(c->evidence) + 3;
        n_items += n;
        pos++;
    }
    L->n_rows = (uint16_t)pos;
    L->n_items = n_items;
    L->strs = mq_arena_alloc(q->a, str_len + 1);
    if (!L->strs)
        return mq_err_set(err, MQ_ENOMEM, "page: the request arena is full");
    for (int i = 0; i < pos; i++) {
        const pg_cand *c = &q->cands.items[chosen[i]];
        char *d = L->strs + L->rows[i].str;
        size_t a = strlen(c->row_id) + 1, b = strlen(c->caption) + 1, e = strlen(c->evidence) + 1;
        memcpy(d, c->row_id, a);
        memcpy(d + a, c->caption, b);
        memcpy(d + a + b, c->evidence, e);
    }
    L->str_len = (uint32_t)str_len;
    pg_score_placed(q, L->items, n_items);
    return MQ_OK;
}
