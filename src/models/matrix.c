/* matrix.c: the training matrix. Events become (profile, title) pairs whose
 * confidence and negative strength come from the semantics table (events.h), the
 * only place weights are decided:
 *   - plays are assembled from play_start / play_progress / play_stop / complete
 *     into a watch fraction (furthest position / duration); each finished play
 *     goes through mq_semantics_play (completion, rewatch, early abandon);
 *   - rating and thumbs count by their latest value (a new rating replaces the
 *     old one, thumbs "none" takes a thumb back);
 *   - list_add and search_click add their confidence (mq_semantics_event);
 *   - every piece of evidence decays with its age (mq_semantics_decay) relative to
 *     the profile's newest event (or the newest event overall, or not at all:
 *     models.recency).
 * Impressions, clicks and scrolls make no pair: being shown a title is not having
 * seen it. The result is CSR by profile, with every catalogue title a column. */
#include "models_impl.h"

#include <stdlib.h>

/* ------------------------------------------------------------ accumulator ---- */

typedef struct pair_acc {
    uint64_t key;     /* profile_id << 32 | title_id */
    double conf, neg; /* evidence decayed to t_ref */
    int64_t t_ref, t_first, t_last;
    float furthest, duration, rating;
    int64_t thumb_ts, rating_ts;
    int8_t thumb;
    uint8_t open, completed, last_completed, rewatch, positive, has_rating;
} pair_acc;

struct mq_matrix_builder {
    mq_matrix_opts o;
    pair_acc *pairs;
    size_t n_pairs, cap_pairs;
    uint32_t *slots; /* open addressing: index + 1 into pairs, 0 = empty */
    size_t mask;
    MQ_VEC(int64_t) profile_last; /* by profile id */
    MQ_VEC(uint32_t) col_of;      /* by title id: col + 1 */
    MQ_VEC(uint32_t) col_title;
    MQ_VEC(char *) col_ext;
    MQ_VEC(size_t) feat_ptr;
    MQ_VEC(uint32_t) feat_idx;
    MQ_VEC(char *) feat_names;
    mq_strmap *feats;
    mq_arena strings;
    int64_t newest;
};

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xFF51AFD7ED558CCDull;
    x ^= x >> 33;
    x *= 0xC4CEB9FE1A85EC53ull;
    x ^= x >> 33;
    return x;
}

mq_matrix_builder *mq_matrix_builder_create(const mq_matrix_opts *o) {
    mq_matrix_builder *mb = mq_calloc(1, sizeof *mb);
    mb->o = *o;
    mb->mask = 1023;
    mb->slots = mq_calloc(mb->mask + 1, sizeof *mb->slots);
    mb->feats = mq_strmap_create();
    mq_arena_init(&mb->strings, 1 << 16, 0);
    MQ_VEC_PUSH(&mb->feat_ptr, 0);
    return mb;
}

void mq_matrix_builder_destroy(mq_matrix_builder *mb) {
    if (!mb)
        return;
    mq_free(mb->pairs);
    mq_free(mb->slots);
    mq_free(mb->profile_last.items);
    mq_free(mb->col_of.items);
    mq_free(mb->col_title.items);
    mq_free(mb->col_ext.items);
    mq_free(mb->feat_ptr.items);
    mq_free(mb->feat_idx.items);
    mq_free(mb->feat_names.items);
    mq_strmap_destroy(mb->feats);
    mq_arena_free(&mb->strings);
    mq_free(mb);
}

static void add_feature(mq_matrix_builder *mb, const char *prefix, const char *name) {
    char buf[256];
    size_t n = (size_t)snprintf(buf, sizeof buf, "%s", prefix);
    for (const char *p = name; *p && n + 1 < sizeof buf; p++)
        buf[n++] = (*p >= 'A' && *p <= 'Z' && prefix[0] == 't') ? (char)(*p + 32) : *p;
    buf[n] = '\0';
    uint32_t id;
    if (!mq_strmap_get(mb->feats, buf, &id)) {
        id = (uint32_t)mb->feat_names.len;
        MQ_VEC_PUSH(&mb->feat_names, (char *)mq_strmap_put(mb->feats, buf, id));
    }
    /* A title lists a feature once. */
    for (size_t k = mb->feat_ptr.items[mb->feat_ptr.len - 1]; k < mb->feat_idx.len; k++)
        if (mb->feat_idx.items[k] == id)
            return;
    MQ_VEC_PUSH(&mb->feat_idx, id);
}

void mq_matrix_builder_add_title(mq_matrix_builder *mb, const mq_title *t) {
    if (!t->id)
        return;
    MQ_VEC_RESERVE(&mb->col_of, (size_t)t->id + 1);
    while (mb->col_of.len <= t->id)
        mb->col_of.items[mb->col_of.len++] = 0;
    if (mb->col_of.items[t->id])
        return;
    mb->col_of.items[t->id] = (uint32_t)mb->col_title.len + 1;
    MQ_VEC_PUSH(&mb->col_title, t->id);
    MQ_VEC_PUSH(&mb->col_ext, mq_arena_strdup(&mb->strings, t->ext_id ? t->ext_id : ""));
    for (uint32_t i = 0; i < t->genres.n; i++)
        add_feature(mb, "g:", t->genres.items[i]);
    for (uint32_t i = 0; i < t->tags.n; i++)
        add_feature(mb, "t:", t->tags.items[i]);
    MQ_VEC_PUSH(&mb->feat_ptr, mb->feat_idx.len);
}

static void grow_slots(mq_matrix_builder *mb) {
    size_t nm = mb->mask * 2 + 1;
    uint32_t *ns = mq_calloc(nm + 1, sizeof *ns);
    for (size_t i = 0; i < mb->n_pairs; i++) {
        size_t h = mix64(mb->pairs[i].key) & nm;
        while (ns[h])
            h = (h + 1) & nm;
        ns[h] = (uint32_t)i + 1;
    }
    mq_free(mb->slots);
    mb->slots = ns;
    mb->mask = nm;
}

static pair_acc *find_pair(mq_matrix_builder *mb, uint32_t profile, uint32_t title, int64_t ts) {
    uint64_t key = (uint64_t)profile << 32 | title;
    size_t h = mix64(key) & mb->mask;
    while (mb->slots[h]) {
        pair_acc *p = &mb->pairs[mb->slots[h] - 1];
        if (p->key == key)
            return p;
        h = (h + 1) & mb->mask;
    }
    if (mb->n_pairs == mb->cap_pairs) {
        mb->cap_pairs = mb->cap_pairs ? mb->cap_pairs * 2 : 1024;
        mb->pairs = mq_realloc(mb->pairs, mb->cap_pairs * sizeof *mb->pairs);
    }
    pair_acc *p = &mb->pairs[mb->n_pairs++];
    memset(p, 0, sizeof *p);
    p->key = key;
    p->t_ref = p->t_first = p->t_last = ts;
    mb->slots[h] = (uint32_t)mb->n_pairs;
    if (mb->n_pairs * 2 > mb->mask)
        grow_slots(mb);
    return p;
}

/* Adds evidence observed at time ts, keeping the sums decayed to the pair's
 * latest evidence time (so the final decay is one multiplication). */
static void add_evidence(const mq_semantics *sem, pair_acc *p, int64_t ts, double conf,
                         double neg) {
    if (ts >= p->t_ref) {
        double d = mq_semantics_decay(sem, ts - p->t_ref);
        p->conf = p->conf * d + conf;
        p->neg = p->neg * d + neg;
        p->t_ref = ts;
    } else {
        double d = mq_semantics_decay(sem, p->t_ref - ts);
        p->conf += conf * d;
        p->neg += neg * d;
    }
}

static void finish_play(const mq_semantics *sem, pair_acc *p, int64_t ts) {
    if (!p->open)
        return;
    p->open = 0;
    if (!(p->duration > 0))
        return; /* no duration ever reported: the fraction is unknown */
    double frac = p->furthest / p->duration;
    mq_signal g = mq_semantics_play(sem, frac, p->rewatch);
    add_evidence(sem, p, ts, g.confidence, g.negative);
    p->last_completed = g.positive;
    if (g.positive) {
        p->positive = 1;
        p->completed = 1;
    }
}

static void start_play(const mq_semantics *sem, pair_acc *p, int64_t ts, double pos) {
    finish_play(sem, p, ts);
    p->open = 1;
    p->rewatch = p->completed;
    p->furthest = (float)(pos > 0 ? pos : 0);
}

void mq_matrix_builder_add_event(mq_matrix_builder *mb, const mq_event *e) {
    const mq_semantics *sem = &mb->o.sem;
    if (!e->profile_id || !e->title_id)
        return;
    if (mb->o.to_ms && e->ts_ms >= mb->o.to_ms)
        return;
    if (mb->o.profile_id && e->profile_id != mb->o.profile_id)
        return;
    switch (e->type) {
    case MQ_EV_PLAY_START:
    case MQ_EV_PAUSE:
    case MQ_EV_SEEK:
    case MQ_EV_PLAY_PROGRESS:
    case MQ_EV_PLAY_STOP:
    case MQ_EV_COMPLETE:
    case MQ_EV_RATING:
    case MQ_EV_THUMBS:
    case MQ_EV_LIST_ADD:
    case MQ_EV_SEARCH_CLICK:
        break;
    default:
        return; /* no pair: impressions, clicks, list removals, scrolls */
    }
    if (e->title_id >= mb->col_of.len || !mb->col_of.items[e->title_id])
        return;
    int64_t ts = e->ts_ms;
    if (ts > mb->newest)
        mb->newest = ts;
    MQ_VEC_RESERVE(&mb->profile_last, (size_t)e->profile_id + 1);
    while (mb->profile_last.len <= e->profile_id)
        mb->profile_last.items[mb->profile_last.len++] = INT64_MIN;
    if (ts > mb->profile_last.items[e->profile_id])
        mb->profile_last.items[e->profile_id] = ts;

    pair_acc *p = find_pair(mb, e->profile_id, e->title_id, ts);
    if (ts < p->t_first)
        p->t_first = ts;
    if (ts > p->t_last)
        p->t_last = ts;
    double pos = e->position_s, dur = e->duration_s;
    if (dur > 0)
        p->duration = (float)dur;
    switch (e->type) {
    case MQ_EV_PLAY_START:
        start_play(sem, p, ts, pos);
        break;
    case MQ_EV_PAUSE:
    case MQ_EV_SEEK:
    case MQ_EV_PLAY_PROGRESS:
        /* Playback seen without its start (a lost play_start) is still a play. */
        if (!p->open)
            start_play(sem, p, ts, e->type == MQ_EV_SEEK ? 0 : pos);
        if (e->type != MQ_EV_SEEK && pos > p->furthest)
            p->furthest = (float)pos; /* a seek forward is not watching */
        break;
    case MQ_EV_PLAY_STOP:
        /* A stop with no play open (after a `complete`) must not count the play
         * twice: the same rules as the live state (docs/semantics.md). */
        if (p->open) {
            if (pos > p->furthest)
                p->furthest = (float)pos;
            finish_play(sem, p, ts);
        }
        break;
    case MQ_EV_COMPLETE:
        if (!p->open) {
            if (p->last_completed)
                break;                 /* the play already closed as completed */
            start_play(sem, p, ts, 0); /* a completion is a play even alone */
        }
        p->furthest = p->duration > 0 ? p->duration : 1;
        if (!(p->duration > 0))
            p->duration = 1;
        finish_play(sem, p, ts);
        break;
    case MQ_EV_RATING:
        if (ts >= p->rating_ts || !p->has_rating) {
            p->rating = (float)e->value;
            p->rating_ts = ts;
            p->has_rating = 1;
        }
        break;
    case MQ_EV_THUMBS:
        if (ts >= p->thumb_ts || !p->thumb_ts) {
            p->thumb = e->value > 0 ? 1 : e->value < 0 ? -1 : 0;
            p->thumb_ts = ts;
        }
        break;
    default: { /* list_add, search_click */
        mq_signal g = mq_semantics_event(sem, e);
        add_evidence(sem, p, ts, g.confidence, g.negative);
        if (g.positive)
            p->positive = 1;
        break;
    }
    }
}

/* Closes open plays and folds the latest rating and thumb into the sums. */
static void finalize_pair(const mq_semantics *sem, pair_acc *p) {
    if (p->open)
        finish_play(sem, p, p->t_last);
    if (p->has_rating) {
        mq_event ev;
        mq_event_init(&ev);
        ev.type = MQ_EV_RATING;
        ev.value = p->rating;
        mq_signal g = mq_semantics_event(sem, &ev);
        add_evidence(sem, p, p->rating_ts, g.confidence, g.negative);
        if (g.positive)
            p->positive = 1;
    }
    if (p->thumb) {
        mq_event ev;
        mq_event_init(&ev);
        ev.type = MQ_EV_THUMBS;
        ev.value = p->thumb > 0 ? MQ_THUMB_UP : MQ_THUMB_DOWN;
        mq_signal g = mq_semantics_event(sem, &ev);
        add_evidence(sem, p, p->thumb_ts, g.confidence, g.negative);
        if (g.positive)
            p->positive = 1;
    }
}

typedef struct {
    uint64_t key; /* profile << 32 | col */
    uint32_t idx;
} sort_key;

static int cmp_key(const void *a, const void *b) {
    uint64_t x = ((const sort_key *)a)->key, y = ((const sort_key *)b)->key;
    return x < y ? -1 : x > y;
}

static mq_matrix *matrix_alloc(uint32_t n_rows, uint32_t n_cols, size_t nnz) {
    mq_matrix *m = mq_calloc(1, sizeof *m);
    m->n_rows = n_rows;
    m->n_cols = n_cols;
    m->nnz = nnz;
    m->row_ptr = mq_calloc((size_t)n_rows + 1, sizeof *m->row_ptr);
    m->col = mq_malloc((nnz ? nnz : 1) * sizeof *m->col);
    m->conf = mq_malloc((nnz ? nnz : 1) * sizeof *m->conf);
    m->neg = mq_malloc((nnz ? nnz : 1) * sizeof *m->neg);
    m->flags = mq_malloc(nnz ? nnz : 1);
    m->t_first = mq_malloc((nnz ? nnz : 1) * sizeof *m->t_first);
    m->t_last = mq_malloc((nnz ? nnz : 1) * sizeof *m->t_last);
    m->row_profile = mq_calloc(n_rows ? n_rows : 1, sizeof *m->row_profile);
    m->col_title = mq_calloc(n_cols ? n_cols : 1, sizeof *m->col_title);
    mq_arena_init(&m->strings, 1 << 16, 0);
    return m;
}

mq_matrix *mq_matrix_builder_finish(mq_matrix_builder *mb) {
    const mq_semantics *sem = &mb->o.sem;
    size_t n = mb->n_pairs;
    sort_key *keys = mq_malloc((n ? n : 1) * sizeof *keys);
    for (size_t i = 0; i < n; i++) {
        pair_acc *p = &mb->pairs[i];
        finalize_pair(sem, p);
        uint32_t title = (uint32_t)p->key;
        keys[i].key = (p->key & 0xFFFFFFFF00000000ull) | (mb->col_of.items[title] - 1);
        keys[i].idx = (uint32_t)i;
    }
    qsort(keys, n, sizeof *keys, cmp_key);
    uint32_t n_rows = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || keys[i].key >> 32 != keys[i - 1].key >> 32)
            n_rows++;
    uint32_t n_cols = (uint32_t)mb->col_title.len;
    mq_matrix *m = matrix_alloc(n_rows, n_cols, n);
    uint32_t r = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t profile = (uint32_t)(keys[i].key >> 32);
        if (i > 0 && profile != keys[i - 1].key >> 32)
            m->row_ptr[++r] = i;
        m->row_profile[r] = profile;
        const pair_acc *p = &mb->pairs[keys[i].idx];
        int64_t ref =
            mb->o.recency == MQ_RECENCY_GLOBAL ? mb->newest : mb->profile_last.items[profile];
        double d = mb->o.recency == MQ_RECENCY_NONE ? 1.0 : mq_semantics_decay(sem, ref - p->t_ref);
        m->col[i] = (uint32_t)keys[i].key;
        m->conf[i] = (float)(p->conf * d);
        m->neg[i] = (float)(p->neg * d);
        uint8_t f = 0;
        if (m->neg[i] > 0 && m->neg[i] >= m->conf[i])
            f |= MQ_PAIR_NEGATIVE;
        else if (p->positive)
            f |= MQ_PAIR_POSITIVE;
        m->flags[i] = f;
        m->t_first[i] = p->t_first;
        m->t_last[i] = p->t_last;
    }
    if (n_rows)
        m->row_ptr[n_rows] = n;
    mq_free(keys);
    memcpy(m->col_title, mb->col_title.items, n_cols * sizeof *m->col_title);
    m->col_ext = mq_calloc(n_cols ? n_cols : 1, sizeof *m->col_ext);
    for (uint32_t c = 0; c < n_cols; c++)
        m->col_ext[c] = mq_arena_strdup(&m->strings, mb->col_ext.items[c]);
    if (mb->feat_names.len) {
        m->n_feats = (uint32_t)mb->feat_names.len;
        m->feat_ptr = mq_malloc(((size_t)n_cols + 1) * sizeof *m->feat_ptr);
        memcpy(m->feat_ptr, mb->feat_ptr.items, ((size_t)n_cols + 1) * sizeof *m->feat_ptr);
        m->feat_idx = mq_malloc((mb->feat_idx.len ? mb->feat_idx.len : 1) * sizeof *m->feat_idx);
        memcpy(m->feat_idx, mb->feat_idx.items, mb->feat_idx.len * sizeof *m->feat_idx);
        m->feat_names = mq_malloc(m->n_feats * sizeof *m->feat_names);
        for (uint32_t f = 0; f < m->n_feats; f++)
            m->feat_names[f] = mq_arena_strdup(&m->strings, mb->feat_names.items[f]);
    }
    m->newest_ms = mb->newest;
    return m;
}

/* ------------------------------------------------------------- from store ---- */

typedef struct {
    mq_matrix_builder *mb;
    mq_progress prog;
    uint64_t n;
} scan_ctx;

static int title_cb(void *ud, const mq_title *t) {
    mq_matrix_builder_add_title(((scan_ctx *)ud)->mb, t);
    return 0;
}

static int event_cb(void *ud, const mq_event *e) {
    scan_ctx *c = ud;
    mq_matrix_builder_add_event(c->mb, e);
    if ((++c->n & 0xFFFF) == 0)
        mq_progress_update(&c->prog, c->n);
    return 0;
}

int mq_matrix_from_store(mq_store *s, const mq_matrix_opts *o, mq_matrix **out, mq_err *err) {
    *out = NULL;
    scan_ctx c = {mq_matrix_builder_create(o), {0}, 0};
    int rc = mq_store_each_title(s, title_cb, &c, err);
    if (rc)
        goto out;
    uint64_t total = 0;
    if (o->progress) {
        mq_store_stats st;
        if (mq_store_stats_get(s, &st, NULL) == MQ_OK)
            total = st.events;
    }
    mq_progress_start(&c.prog, "reading events", "events", o->profile_id ? 0 : total);
    c.prog.tty = c.prog.tty && o->progress;
    mq_event_filter f = MQ_EVENT_FILTER_ALL;
    f.profile_id = o->profile_id;
    f.to_ms = o->to_ms;
    rc = mq_store_each_event(s, &f, event_cb, &c, err);
    mq_progress_update(&c.prog, c.n);
    mq_progress_finish(&c.prog);
    if (rc)
        goto out;
    *out = mq_matrix_builder_finish(c.mb);
out:
    mq_matrix_builder_destroy(c.mb);
    return rc;
}

void mq_matrix_opts_from_config(mq_matrix_opts *o, const mq_config *c) {
    memset(o, 0, sizeof *o);
    mq_semantics_from_config(&o->sem, c);
    const char *r = mq_config_str(c, "models.recency");
    o->recency = strcmp(r, "global") == 0 ? MQ_RECENCY_GLOBAL
                 : strcmp(r, "none") == 0 ? MQ_RECENCY_NONE
                                          : MQ_RECENCY_PROFILE;
}

/* ------------------------------------------------------------ utilities ---- */

static int cmp_entry(const void *a, const void *b) {
    const mq_entry *x = a, *y = b;
    if (x->row != y->row)
        return x->row < y->row ? -1 : 1;
    return x->col < y->col ? -1 : x->col > y->col;
}

mq_matrix *mq_matrix_from_entries(uint32_t n_rows, uint32_t n_cols, const mq_entry *e, size_t n) {
    mq_entry *s = mq_malloc((n ? n : 1) * sizeof *s);
    memcpy(s, e, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_entry);
    size_t u = 0; /* merge duplicates */
    for (size_t i = 0; i < n; i++) {
        if (u && s[u - 1].row == s[i].row && s[u - 1].col == s[i].col) {
            s[u - 1].conf += s[i].conf;
            s[u - 1].neg += s[i].neg;
            s[u - 1].flags |= s[i].flags;
            if (s[i].ts > s[u - 1].ts)
                s[u - 1].ts = s[i].ts;
        } else {
            s[u++] = s[i];
        }
    }
    mq_matrix *m = matrix_alloc(n_rows, n_cols, u);
    size_t k = 0;
    for (uint32_t r = 0; r < n_rows; r++) {
        m->row_ptr[r] = k;
        m->row_profile[r] = r + 1;
        while (k < u && s[k].row == r) {
            m->col[k] = s[k].col;
            m->conf[k] = s[k].conf;
            m->neg[k] = s[k].neg;
            m->flags[k] = s[k].flags;
            m->t_first[k] = m->t_last[k] = s[k].ts;
            if (s[k].ts > m->newest_ms)
                m->newest_ms = s[k].ts;
            k++;
        }
    }
    m->row_ptr[n_rows] = k;
    for (uint32_t c = 0; c < n_cols; c++)
        m->col_title[c] = c + 1;
    mq_free(s);
    return m;
}

void mq_matrix_set_features(mq_matrix *m, const char *const *feats) {
    mq_strmap *map = mq_strmap_create();
    MQ_VEC(uint32_t) idx = {0};
    MQ_VEC(char *) names = {0};
    mq_free(m->feat_ptr);
    mq_free(m->feat_idx);
    mq_free(m->feat_names);
    m->feat_ptr = mq_malloc(((size_t)m->n_cols + 1) * sizeof *m->feat_ptr);
    for (uint32_t c = 0; c < m->n_cols; c++) {
        m->feat_ptr[c] = idx.len;
        const char *s = feats[c] ? feats[c] : "";
        while (*s) {
            const char *e = strchr(s, '|');
            size_t len = e ? (size_t)(e - s) : strlen(s);
            if (len) {
                uint32_t id;
                if (!mq_strmap_getn(map, s, len, &id)) {
                    char *name = mq_arena_strndup(&m->strings, s, len);
                    id = (uint32_t)names.len;
                    mq_strmap_put(map, name, id);
                    MQ_VEC_PUSH(&names, name);
                }
                MQ_VEC_PUSH(&idx, id);
            }
            s += len + (e ? 1 : 0);
        }
    }
    m->feat_ptr[m->n_cols] = idx.len;
    m->feat_idx = idx.items ? idx.items : mq_malloc(sizeof *m->feat_idx);
    m->feat_names = names.items ? names.items : mq_malloc(sizeof *m->feat_names);
    m->n_feats = (uint32_t)names.len;
    mq_strmap_destroy(map);
}

static void copy_columns(mq_matrix *dst, const mq_matrix *src) {
    memcpy(dst->col_title, src->col_title, src->n_cols * sizeof *dst->col_title);
    if (src->col_ext) {
        dst->col_ext = mq_calloc(src->n_cols ? src->n_cols : 1, sizeof *dst->col_ext);
        for (uint32_t c = 0; c < src->n_cols; c++)
            dst->col_ext[c] =
                src->col_ext[c] ? mq_arena_strdup(&dst->strings, src->col_ext[c]) : NULL;
    }
    if (src->feat_ptr) {
        size_t nf = src->feat_ptr[src->n_cols];
        dst->feat_ptr = mq_malloc(((size_t)src->n_cols + 1) * sizeof *dst->feat_ptr);
        memcpy(dst->feat_ptr, src->feat_ptr, ((size_t)src->n_cols + 1) * sizeof *dst->feat_ptr);
        dst->feat_idx = mq_malloc((nf ? nf : 1) * sizeof *dst->feat_idx);
        memcpy(dst->feat_idx, src->feat_idx, nf * sizeof *dst->feat_idx);
        dst->n_feats = src->n_feats;
        dst->feat_names = mq_malloc((src->n_feats ? src->n_feats : 1) * sizeof *dst->feat_names);
        for (uint32_t f = 0; f < src->n_feats; f++)
            dst->feat_names[f] = mq_arena_strdup(&dst->strings, src->feat_names[f]);
    }
    dst->newest_ms = src->newest_ms;
}

static void copy_entry(mq_matrix *dst, size_t to, const mq_matrix *src, size_t from) {
    dst->col[to] = src->col[from];
    dst->conf[to] = src->conf[from];
    dst->neg[to] = src->neg[from];
    dst->flags[to] = src->flags[from];
    dst->t_first[to] = src->t_first[from];
    dst->t_last[to] = src->t_last[from];
}

mq_matrix *mq_matrix_select_rows(const mq_matrix *m, const uint32_t *rows, size_t n) {
    size_t nnz = 0;
    for (size_t i = 0; i < n; i++)
        nnz += m->row_ptr[rows[i] + 1] - m->row_ptr[rows[i]];
    mq_matrix *o = matrix_alloc((uint32_t)n, m->n_cols, nnz);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        o->row_ptr[i] = k;
        o->row_profile[i] = m->row_profile[rows[i]];
        for (size_t e = m->row_ptr[rows[i]]; e < m->row_ptr[rows[i] + 1]; e++)
            copy_entry(o, k++, m, e);
    }
    o->row_ptr[n] = k;
    copy_columns(o, m);
    return o;
}

mq_matrix *mq_matrix_drop_entries(const mq_matrix *m, const bool *drop) {
    size_t nnz = 0;
    for (size_t e = 0; e < m->nnz; e++)
        nnz += !drop[e];
    mq_matrix *o = matrix_alloc(m->n_rows, m->n_cols, nnz);
    size_t k = 0;
    for (uint32_t r = 0; r < m->n_rows; r++) {
        o->row_ptr[r] = k;
        o->row_profile[r] = m->row_profile[r];
        for (size_t e = m->row_ptr[r]; e < m->row_ptr[r + 1]; e++)
            if (!drop[e])
                copy_entry(o, k++, m, e);
    }
    o->row_ptr[m->n_rows] = k;
    copy_columns(o, m);
    return o;
}

size_t mq_matrix_row_positives(const mq_matrix *m, uint32_t row) {
    size_t n = 0;
    for (size_t e = m->row_ptr[row]; e < m->row_ptr[row + 1]; e++)
        n += (m->flags[e] & (MQ_PAIR_POSITIVE | MQ_PAIR_NEGATIVE)) == MQ_PAIR_POSITIVE;
    return n;
}

void mq_matrix_destroy(mq_matrix *m) {
    if (!m)
        return;
    mq_free(m->row_ptr);
    mq_free(m->col);
    mq_free(m->conf);
    mq_free(m->neg);
    mq_free(m->flags);
    mq_free(m->t_first);
    mq_free(m->t_last);
    mq_free(m->row_profile);
    mq_free(m->col_title);
    mq_free(m->col_ext);
    mq_free(m->feat_ptr);
    mq_free(m->feat_idx);
    mq_free(m->feat_names);
    mq_arena_free(&m->strings);
    mq_free(m);
}
