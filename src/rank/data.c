/* data.c: training and evaluation data for the ranker, by replaying the event log.
 *
 * Every event is read once into a compact record and sorted by (profile, time,
 * log order); each profile's events are then applied in order to a live state
 * (src/state, exactly what the server keeps), so that features computed at a
 * moment see only what was known then. Nothing of the future leaks in: the
 * candidate models were trained on events before the window, and a group's
 * features come from the state just before its first event.
 *
 *   pages (the store has impressions): the impressions of one page_id make a
 *     group. An impression's label is 1 when the profile plays the title (a click
 *     on it in that page, or a play_start within rank.reward_window_s), 2 when
 *     that play completes, 3 with a thumbs up; the page's other impressions are
 *     the negatives. Pages without any play teach nothing to LambdaMART and are
 *     counted, not kept;
 *   per profile (no impressions, e.g. MovieLens, for training and evaluation; or
 *     when asked, for evaluation): one group per profile with history before the
 *     window and new positives in it (a rating at or above
 *     semantics.rating_positive, a completion, a thumbs up on a title it had not
 *     touched before): its candidate set at its first event in the window (the
 *     union of every candidate model's top rank.candidates), labelled 1 for those
 *     positives; the positives outside the set are counted in group_missing, for
 *     the ideal DCG. The negatives are thus the titles the candidate models
 *     proposed and the profile did not turn to: what the ranker will re-rank;
 *   outcomes (always): each first play of a title in the window (or rating, when
 *     there are no plays; the first RK_OUTCOMES_PER_PROFILE of each profile) with
 *     features from just before it, labelled enjoyed when
 *     it completes, gets a thumbs up, or is rated positive. These calibrate and
 *     evaluate the match score. */
#include "rank_impl.h"

#include <stdlib.h>

/* Outcome examples kept per profile and window (the first ones): a profile that
 * rates hundreds of titles at once would otherwise dominate the calibration and
 * the cost. */
#define RK_OUTCOMES_PER_PROFILE 32
/* Training without impressions: the window is cut in this many parts, each giving
 * a profile active in it one group (its candidate set at its first event there). */
#define RK_TRAIN_PARTS 4

typedef struct cev {
    int64_t ts, seq;
    uint64_t page; /* hash of page_id, 0 = none */
    uint32_t profile, title;
    float pos, dur, value;
    uint8_t type, device;
    int16_t tz;
} cev;

typedef struct {
    MQ_VEC(cev) ev;
    bool impressions;
} load_ctx;

static int on_event(void *ud, const mq_event *e) {
    load_ctx *c = ud;
    if (e->type == MQ_EV_ROW_SCROLL || e->type == MQ_EV_SEARCH || !e->profile_id)
        return 0;
    cev r = {e->ts_ms,
             e->seq,
             e->page_id ? mq_hash_bytes(e->page_id, strlen(e->page_id)) | 1 : 0,
             e->profile_id,
             e->title_id,
             (float)e->position_s,
             (float)e->duration_s,
             (float)e->value,
             (uint8_t)e->type,
             (uint8_t)e->device,
             e->tz_offset_min};
    if (e->type == MQ_EV_IMPRESSION)
        c->impressions = true;
    MQ_VEC_PUSH(&c->ev, r);
    return 0;
}

static int by_profile_time(const void *a, const void *b) {
    const cev *x = a, *y = b;
    if (x->profile != y->profile)
        return x->profile < y->profile ? -1 : 1;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void mq_rank_data_free(mq_rank_data *d) {
    mq_free(d->x);
    mq_free(d->label);
    mq_free(d->col);
    mq_free(d->group_ptr);
    mq_free(d->group_ms);
    mq_free(d->group_missing);
    mq_free(d->group_device);
    mq_free(d->group_profile);
    mq_free(d->out_x);
    mq_free(d->out_label);
    mq_free(d->out_ms);
    memset(d, 0, sizeof *d);
}

/* Growable outputs. */
typedef struct {
    MQ_VEC(float) x, label;
    MQ_VEC(uint32_t) col;
    MQ_VEC(size_t) gptr;
    MQ_VEC(int64_t) gms;
    MQ_VEC(uint32_t) gmissing, gprofile;
    MQ_VEC(uint8_t) gdevice;
    MQ_VEC(float) ox, olabel;
    MQ_VEC(int64_t) oms;
} sink;

typedef struct page_item {
    uint32_t col;
    float label;
} page_item;

typedef struct builder {
    const mq_ranker *rk;
    const mq_bundle *b;
    const mq_semantics *sem;
    const mq_rank_params *p;
    const mq_rank_settings *st;
    mq_rank_data_kind kind;
    int64_t from, to;
    mq_state *state;
    mq_rank_ws *ws;
    sink out;
    bool impressions;
    bool per_profile; /* evaluation groups are profiles, not pages */
    /* Per profile. */
    uint32_t profile;
    char country[4];
    int maturity;
    uint64_t page;        /* open page */
    int64_t page_ms;
    mq_device page_dev;
    int page_tz;
    mq_state_view page_view;
    bool page_open;
    MQ_VEC(page_item) items;
    int32_t *outcome_of;   /* column -> outcome index + 1 for this profile, 0 none */
    uint8_t *played;       /* column -> played before (this profile) */
    MQ_VEC(uint32_t) touched;
    /* Per-profile evaluation group (no impressions). */
    bool eval_taken;
    MQ_VEC(uint32_t) eval_cand;
    MQ_VEC(float) eval_x;
    int64_t eval_ms;
    uint8_t *held;         /* column -> new positive in the window */
    uint8_t *prior;        /* column -> in the history at the group's start */
    MQ_VEC(uint32_t) held_list;
    int64_t part_ms, part;  /* per-profile groups: length and index of the window's part */
    size_t pages_seen, pages_no_play;
    size_t outcomes_here; /* of this profile */
    mq_err err;
    int rc;
} builder;

static void ctx_at(builder *bd, int64_t ts, mq_device dev, int tz, mq_rank_context *c) {
    mq_rank_context_init(c, dev, ts);
    c->tz_offset_min = tz;
    c->country = bd->country;
}

/* Features of cols under the state v at ts into dst (n x MQ_RF_COUNT). */
static int features_at(builder *bd, const mq_state_view *v, int64_t ts, mq_device dev, int tz,
                       const uint32_t *cols, size_t n, float *dst) {
    mq_rank_context c;
    ctx_at(bd, ts, dev, tz, &c);
    mq_rank_ws *ws = bd->ws;
    ws->cand.len = 0;
    ws->lazy_ranks = n <= 64;
    int rc = rk_prepare(bd->rk, v, &c, bd->st, ws, &bd->err);
    if (!rc)
        for (size_t i = 0; i < n; i++)
            rk_features(bd->rk, ws, cols[i], dst + i * MQ_RF_COUNT);
    rk_finish(ws);
    ws->lazy_ranks = false;
    return rc;
}

static void close_page(builder *bd) {
    if (!bd->page_open)
        return;
    bd->page_open = false;
    bool any = false;
    for (size_t i = 0; i < bd->items.len; i++)
        any |= bd->items.items[i].label > 0;
    bool in = bd->page_ms >= bd->from && bd->page_ms < bd->to;
    if (in) {
        bd->pages_seen++;
        bd->pages_no_play += !any;
    }
    if (in && any && !bd->rc && !bd->per_profile) {
        size_t n = bd->items.len, base = bd->out.label.len;
        MQ_VEC_RESERVE(&bd->out.x, (base + n) * MQ_RF_COUNT);
        uint32_t cols[512];
        size_t m = MQ_MIN(n, MQ_ARRAY_LEN(cols));
        for (size_t i = 0; i < m; i++)
            cols[i] = bd->items.items[i].col;
        bd->rc = features_at(bd, &bd->page_view, bd->page_ms, bd->page_dev, bd->page_tz, cols, m,
                             bd->out.x.items + base * MQ_RF_COUNT);
        if (!bd->rc) {
            bd->out.x.len = (base + m) * MQ_RF_COUNT;
            for (size_t i = 0; i < m; i++) {
                MQ_VEC_PUSH(&bd->out.label, bd->items.items[i].label);
                MQ_VEC_PUSH(&bd->out.col, cols[i]);
            }
            MQ_VEC_PUSH(&bd->out.gptr, bd->out.label.len);
            MQ_VEC_PUSH(&bd->out.gms, bd->page_ms);
            MQ_VEC_PUSH(&bd->out.gmissing, 0);
            MQ_VEC_PUSH(&bd->out.gprofile, bd->profile);
            MQ_VEC_PUSH(&bd->out.gdevice, (uint8_t)bd->page_dev);
        }
    }
    mq_state_view_free(&bd->page_view);
    bd->items.len = 0;
}

static page_item *page_find(builder *bd, uint32_t col) {
    for (size_t i = 0; i < bd->items.len; i++)
        if (bd->items.items[i].col == col)
            return &bd->items.items[i];
    return NULL;
}

static void touch(builder *bd, uint32_t col) {
    MQ_VEC_PUSH(&bd->touched, col);
}

/* A new outcome example (first play of col in the window). */
static void add_outcome(builder *bd, const mq_state_view *v, const cev *e, uint32_t col,
                        float label) {
    size_t base = bd->out.olabel.len;
    MQ_VEC_RESERVE(&bd->out.ox, (base + 1) * MQ_RF_COUNT);
    int rc = features_at(bd, v, e->ts, (mq_device)e->device, e->tz, &col, 1,
                         bd->out.ox.items + base * MQ_RF_COUNT);
    if (rc) {
        bd->rc = rc;
        return;
    }
    bd->out.ox.len = (base + 1) * MQ_RF_COUNT;
    MQ_VEC_PUSH(&bd->out.olabel, label);
    MQ_VEC_PUSH(&bd->out.oms, e->ts);
    bd->outcome_of[col] = (int32_t)(base + 1);
}

static void mark_enjoyed(builder *bd, uint32_t col) {
    if (bd->outcome_of[col])
        bd->out.olabel.items[bd->outcome_of[col] - 1] = 1;
}

/* A per-profile group at the profile's first event in the window: its candidate
 * set then, labelled later with its new positives in the window. */
static void take_profile_group(builder *bd, const cev *e) {
    mq_state_view v;
    mq_state_get(bd->state, bd->profile, e->ts, &v);
    if (v.n_titles == 0) {
        mq_state_view_free(&v);
        return;
    }
    const mq_ranker *rk = bd->rk;
    mq_rank_context c;
    ctx_at(bd, e->ts, (mq_device)e->device, e->tz, &c);
    mq_rank_ws *ws = bd->ws;
    ws->cand.len = 0;
    if ((bd->rc = rk_prepare(rk, &v, &c, bd->st, ws, &bd->err))) {
        rk_finish(ws);
        mq_state_view_free(&v);
        return;
    }
    uint16_t C = (uint16_t)MQ_MIN(MQ_MAX(bd->st->candidates, 1), RK_RANK_CAP);
    bd->eval_cand.len = 0;
    for (uint32_t j = 0; j < rk->n; j++) {
        if (ws->hist_at[j] >= 0 && rk_excluded(rk, ws, j))
            continue;
        bool in = false;
        for (int k = 0; k < MQ_MODEL_COUNT && !in; k++)
            in = (rk->models & (1u << k)) && ws->rank[k][j] < C;
        if (in)
            MQ_VEC_PUSH(&bd->eval_cand, j);
    }
    /* Titles of the history are not new positives. */
    for (size_t i = 0; i < ws->hist.len; i++) {
        uint32_t col = ws->hist.items[i].col;
        const mq_state_title *st = &v.titles[ws->hist_title.items[i]];
        if (st->plays > 0 || st->weight > 0 || st->negative > 0 || st->thumb) {
            bd->prior[col] = 1;
            touch(bd, col);
        }
    }
    size_t m = bd->eval_cand.len;
    MQ_VEC_RESERVE(&bd->eval_x, m * MQ_RF_COUNT + 1);
    bd->eval_x.len = m * MQ_RF_COUNT;
    for (size_t i = 0; i < m; i++)
        rk_features(rk, ws, bd->eval_cand.items[i], bd->eval_x.items + i * MQ_RF_COUNT);
    rk_finish(ws);
    mq_state_view_free(&v);
    bd->eval_taken = true;
    bd->eval_ms = e->ts; /* the profile's first event in the window */
}

static void close_profile_group(builder *bd) {
    if (!bd->eval_taken)
        return;
    bd->eval_taken = false;
    size_t m = bd->eval_cand.len, pos = bd->held_list.len, inside = 0;
    if (pos == 0 || m == 0)
        goto out;
    size_t base = bd->out.label.len;
    MQ_VEC_RESERVE(&bd->out.x, (base + m) * MQ_RF_COUNT);
    memcpy(bd->out.x.items + base * MQ_RF_COUNT, bd->eval_x.items,
           m * MQ_RF_COUNT * sizeof(float));
    bd->out.x.len = (base + m) * MQ_RF_COUNT;
    for (size_t i = 0; i < m; i++) {
        uint32_t col = bd->eval_cand.items[i];
        float l = bd->held[col] == 1 ? 1.0f : 0.0f;
        inside += l > 0;
        MQ_VEC_PUSH(&bd->out.label, l);
        MQ_VEC_PUSH(&bd->out.col, col);
    }
    MQ_VEC_PUSH(&bd->out.gptr, bd->out.label.len);
    MQ_VEC_PUSH(&bd->out.gms, bd->eval_ms);
    MQ_VEC_PUSH(&bd->out.gmissing, (uint32_t)(pos - inside));
    MQ_VEC_PUSH(&bd->out.gprofile, bd->profile);
    MQ_VEC_PUSH(&bd->out.gdevice, 0);
out:
    /* The next part starts afresh: its history is whatever the state then holds. */
    for (size_t i = 0; i < bd->held_list.len; i++)
        bd->held[bd->held_list.items[i]] = 0;
    bd->held_list.len = 0;
    for (size_t i = 0; i < bd->touched.len; i++)
        bd->prior[bd->touched.items[i]] = 0;
}

static bool is_completion(const builder *bd, const cev *e) {
    if (e->type == MQ_EV_COMPLETE)
        return true;
    if ((e->type == MQ_EV_PLAY_STOP || e->type == MQ_EV_PLAY_PROGRESS) && e->dur > 0 &&
        e->pos >= 0)
        return e->pos >= bd->sem->complete_fraction * e->dur;
    return false;
}

static void to_event(const cev *r, mq_event *e) {
    mq_event_init(e);
    e->seq = r->seq;
    e->type = (mq_event_type)r->type;
    e->ts_ms = r->ts;
    e->profile_id = r->profile;
    e->title_id = r->title;
    e->device = (mq_device)r->device;
    e->tz_offset_min = r->tz;
    e->position_s = r->pos;
    e->duration_s = r->dur;
    e->value = r->value;
}

/* One event of the current profile. */
static void step(builder *bd, const cev *r) {
    uint32_t col = r->title ? mq_bundle_col(bd->b, r->title) : UINT32_MAX;
    bool in = r->ts >= bd->from && r->ts < bd->to;
    bool in_cols = col != UINT32_MAX;
    /* Per-profile groups: one per part of the window (training without impressions
     * cuts it in RK_TRAIN_PARTS, for more groups; evaluation keeps it whole). */
    if (bd->per_profile && r->ts >= bd->from && r->ts < bd->to && !bd->rc) {
        int64_t part = (r->ts - bd->from) / bd->part_ms;
        if (!bd->eval_taken || part != bd->part) {
            close_profile_group(bd);
            bd->part = part;
            take_profile_group(bd, r);
        }
    }

    /* Pages. */
    if (r->type == MQ_EV_IMPRESSION && in_cols) {
        if (!bd->page_open || r->page != bd->page) {
            close_page(bd);
            bd->page_open = true;
            bd->page = r->page;
            bd->page_ms = r->ts;
            bd->page_dev = (mq_device)r->device;
            bd->page_tz = r->tz;
            if (r->ts >= bd->from && r->ts < bd->to)
                mq_state_get(bd->state, bd->profile, r->ts, &bd->page_view);
            else
                memset(&bd->page_view, 0, sizeof bd->page_view);
        }
        if (!page_find(bd, col) && bd->items.len < 512)
            MQ_VEC_PUSH(&bd->items, ((page_item){col, 0}));
    } else if (bd->page_open && in_cols) {
        page_item *it = page_find(bd, col);
        bool within = r->ts - bd->page_ms <= bd->p->reward_window_ms;
        if (it) {
            if ((r->type == MQ_EV_CLICK && r->page == bd->page) ||
                (r->type == MQ_EV_PLAY_START && within))
                it->label = fmaxf(it->label, 1);
            if (it->label >= 1 && is_completion(bd, r))
                it->label = fmaxf(it->label, 2);
            if (it->label >= 1 && r->type == MQ_EV_THUMBS && r->value > 0)
                it->label = 3;
        }
    }

    /* Outcomes and positives. */
    if (in_cols && in && !bd->rc) {
        bool first_play = (r->type == MQ_EV_PLAY_START || r->type == MQ_EV_RATING) &&
                          !bd->played[col] && bd->outcomes_here < RK_OUTCOMES_PER_PROFILE;
        if (first_play) {
            mq_state_view v;
            mq_state_get(bd->state, bd->profile, r->ts, &v);
            float label = 0;
            if (r->type == MQ_EV_RATING)
                label = r->value >= bd->sem->rating_positive ? 1.0f : 0.0f;
            add_outcome(bd, &v, r, col, label);
            bd->outcomes_here++;
            mq_state_view_free(&v);
        } else if (is_completion(bd, r) || (r->type == MQ_EV_THUMBS && r->value > 0)) {
            mark_enjoyed(bd, col);
        }
        /* Held-out positives of the per-profile evaluation group. */
        if (bd->eval_taken && !bd->held[col] && !bd->prior[col]) {
            bool positive = is_completion(bd, r) || (r->type == MQ_EV_THUMBS && r->value > 0) ||
                            (r->type == MQ_EV_RATING && r->value >= bd->sem->rating_positive);
            if (positive) {
                bd->held[col] = 1;
                MQ_VEC_PUSH(&bd->held_list, col);
                touch(bd, col);
            }
        }
    }
    if (in_cols && (r->type == MQ_EV_PLAY_START || r->type == MQ_EV_RATING) && !bd->played[col]) {
        bd->played[col] = 1;
        touch(bd, col);
    }
    mq_event e;
    to_event(r, &e);
    mq_state_apply(bd->state, &e);
}

typedef struct {
    MQ_VEC(char) country; /* 4 per profile id */
    MQ_VEC(int) maturity;
} prof_info;

static int on_profile(void *ud, const mq_profile *p) {
    prof_info *pi = ud;
    while (pi->maturity.len <= p->id) {
        MQ_VEC_PUSH(&pi->maturity, 18);
        for (int i = 0; i < 4; i++)
            MQ_VEC_PUSH(&pi->country, '\0');
    }
    pi->maturity.items[p->id] = p->maturity_limit;
    memcpy(pi->country.items + 4 * (size_t)p->id, p->country, 3); /* alpha-2 */
    return 0;
}

int mq_rank_data_build(mq_store *s, const mq_bundle *b, const mq_semantics *sem,
                       const mq_rank_params *p, const mq_rank_settings *st,
                       mq_rank_data_kind kind, int64_t from_ms, int64_t to_ms, bool progress,
                       mq_rank_data *out, mq_err *err) {
    memset(out, 0, sizeof *out);
    load_ctx lc = {{0}, false};
    prof_info pi = {{0}, {0}};
    mq_event_filter f = MQ_EVENT_FILTER_ALL;
    if (to_ms)
        f.to_ms = to_ms;
    int rc = mq_store_each_event(s, &f, on_event, &lc, err);
    if (!rc)
        rc = mq_store_each_profile(s, on_profile, &pi, err);
    if (rc) {
        mq_free(lc.ev.items);
        mq_free(pi.country.items);
        mq_free(pi.maturity.items);
        return rc;
    }
    qsort(lc.ev.items, lc.ev.len, sizeof *lc.ev.items, by_profile_time);
    builder bd;
    memset(&bd, 0, sizeof bd);
    bd.rk = mq_ranker_get(b);
    bd.b = b;
    bd.sem = sem;
    bd.p = p;
    bd.st = st;
    bd.kind = kind;
    bd.from = from_ms;
    bd.to = to_ms ? to_ms : INT64_MAX;
    int64_t last = from_ms;
    for (size_t i = 0; i < lc.ev.len; i++)
        last = MQ_MAX(last, lc.ev.items[i].ts + 1);
    int64_t span = MQ_MAX(MQ_MIN(bd.to, last) - from_ms, (int64_t)1);
    bd.part_ms = kind == MQ_RANK_DATA_TRAIN ? MQ_MAX(span / RK_TRAIN_PARTS, (int64_t)1) : span;
    bd.state = mq_state_create(sem);
    bd.ws = mq_rank_ws_create(b);
    bd.impressions = lc.impressions;
    /* Without impressions, training groups are only made when the ranker will be
     * trained on them (rank.without_impressions = profiles); outcomes always are. */
    bd.per_profile = kind == MQ_RANK_DATA_EVAL ? !lc.impressions || p->eval_profiles
                                               : !lc.impressions && !p->skip_without_impressions;
    uint32_t n = mq_bundle_n_titles(b);
    bd.outcome_of = mq_calloc(n + 1, sizeof *bd.outcome_of);
    bd.played = mq_calloc(n + 1, 1);
    bd.held = mq_calloc(n + 1, 1);
    bd.prior = mq_calloc(n + 1, 1);
    MQ_VEC_PUSH(&bd.out.gptr, 0);
    mq_progress bar;
    if (progress)
        mq_progress_start(&bar, "rank data", "events", lc.ev.len);
    for (size_t i = 0; i < lc.ev.len && !bd.rc;) {
        size_t j = i;
        uint32_t pid = lc.ev.items[i].profile;
        bd.profile = pid;
        bd.outcomes_here = 0;
        bd.maturity = pid < pi.maturity.len ? pi.maturity.items[pid] : 18;
        memset(bd.country, 0, sizeof bd.country);
        if (pid < pi.maturity.len)
            memcpy(bd.country, pi.country.items + 4 * (size_t)pid, 3);
        for (; j < lc.ev.len && lc.ev.items[j].profile == pid && !bd.rc; j++)
            step(&bd, &lc.ev.items[j]);
        close_page(&bd);
        close_profile_group(&bd);
        mq_state_forget(bd.state, pid);
        for (size_t t = 0; t < bd.touched.len; t++) {
            uint32_t c = bd.touched.items[t];
            bd.outcome_of[c] = 0;
            bd.played[c] = 0;
            bd.held[c] = 0;
            bd.prior[c] = 0;
        }
        bd.held_list.len = 0;
        bd.touched.len = 0;
        i = j;
        if (progress)
            mq_progress_update(&bar, i);
    }
    if (progress)
        mq_progress_finish(&bar);
    if (bd.rc) {
        rc = bd.rc;
        if (err)
            *err = bd.err;
    }
    out->impressions = bd.impressions && !bd.per_profile;
    out->pages_seen = bd.pages_seen;
    out->pages_without_play = bd.pages_no_play;
    out->n_rows = bd.out.label.len;
    out->n_groups = bd.out.gptr.len - 1;
    out->x = bd.out.x.items;
    out->label = bd.out.label.items;
    out->col = bd.out.col.items;
    out->group_ptr = bd.out.gptr.items;
    out->group_ms = bd.out.gms.items;
    out->group_missing = bd.out.gmissing.items;
    out->group_device = bd.out.gdevice.items;
    out->group_profile = bd.out.gprofile.items;
    out->n_out = bd.out.olabel.len;
    out->out_x = bd.out.ox.items;
    out->out_label = bd.out.olabel.items;
    out->out_ms = bd.out.oms.items;
    mq_free(bd.items.items);
    mq_free(bd.touched.items);
    mq_free(bd.eval_cand.items);
    mq_free(bd.held_list.items);
    mq_free(bd.eval_x.items);
    mq_free(bd.outcome_of);
    mq_free(bd.played);
    mq_free(bd.held);
    mq_free(bd.prior);
    mq_rank_ws_destroy(bd.ws);
    mq_state_destroy(bd.state);
    mq_free(lc.ev.items);
    mq_free(pi.country.items);
    mq_free(pi.maturity.items);
    if (rc)
        mq_rank_data_free(out);
    return rc;
}
