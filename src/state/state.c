/* state.c: live per-profile state (state.h). Profiles live inline in per-shard
 * arrays indexed by internal id / MQ_STATE_SHARDS, so a profile costs one compact
 * struct plus its title and row arrays, and no hash lookup. Each title entry keeps
 * its decayed weights "as of" its latest event: a new event at t multiplies them
 * by 0.5^((t - last) / half-life) and adds its own weight, so the order in which
 * events arrive does not change the result (an older event is decayed to `last`
 * instead). This is the usual exponentially time-decayed sum, e.g. Koren,
 * "Collaborative filtering with temporal dynamics", KDD 2009, section 4. */
#include "state.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MQ_STATE_SHARDS 64

/* ----------------------------------------------------------- signal table ---- */

static const struct {
    const char *name;
    char scope;
    const char *doc;
} signals[] = {
#define MQ_SIG_ROW(e, name, scope, doc) {name, scope, doc},
    MQ_STATE_SIGNALS(MQ_SIG_ROW)
#undef MQ_SIG_ROW
};

const char *mq_state_signal_name(mq_state_signal s) {
    return (unsigned)s < MQ_SIG_COUNT ? signals[s].name : "unknown";
}

const char *mq_state_signal_doc(mq_state_signal s) {
    return (unsigned)s < MQ_SIG_COUNT ? signals[s].doc : "";
}

char mq_state_signal_scope(mq_state_signal s) {
    return (unsigned)s < MQ_SIG_COUNT ? signals[s].scope : '?';
}

/* ----------------------------------------------------------------- layout ---- */

enum {
    F_THUMB_UP = 1 << 0,
    F_THUMB_DOWN = 1 << 1,
    F_COMPLETED = 1 << 2, /* some play of the title completed */
    F_OPEN = 1 << 3,      /* a play is in progress (started, not yet stopped) */
    F_REWATCH = 1 << 4,   /* the current or latest play started after a completion */
    F_IN_LIST = 1 << 5,
    F_PLAYED = 1 << 6, /* at least one play was seen (plays saturates) */
};

/* One title in one profile's history: 32 bytes. */
typedef struct entry {
    uint32_t title;
    uint32_t last_s;  /* latest event on the title, seconds since the epoch */
    float weight;     /* decayed positive confidence as of last_s */
    float negative;   /* decayed negative strength as of last_s */
    float position_s; /* latest playback position */
    float duration_s; /* latest known duration; 0 = unknown */
    float furthest_s; /* furthest position of the current or latest play */
    uint16_t impressions; /* impressions since the last play (saturating) */
    uint8_t plays;        /* plays started (saturating) */
    uint8_t flags;
} entry;

/* A title only ever shown to the profile: 12 bytes. Most titles a profile meets
 * are only shown, so they do not get a full entry until it does something else
 * with them (then the count moves into the entry). */
typedef struct shown {
    uint32_t title;
    uint32_t last_s;
    uint16_t count; /* impressions (saturating) */
} shown;

/* One row in one profile's scroll history: 8 bytes. */
typedef struct rowc {
    uint32_t key; /* index into the row-id table; 0 = "other" */
    uint16_t past, along;
} rowc;

/* One remembered search: 64 bytes, allocated for profiles that search. */
typedef struct search_mem {
    char q[MQ_STATE_QUERY_MAX];
    uint32_t last_s;
    uint32_t clicked;
} search_mem;

typedef struct pstate {
    entry *e;
    shown *s;
    rowc *rows;
    search_mem *q; /* MQ_STATE_MAX_SEARCHES, or NULL */
    uint16_t n_e, cap_e, n_s, cap_s, n_rows, cap_rows;
    uint16_t n_q;
    uint32_t events; /* events applied (saturating); 0 = no state */
    uint32_t last_s;
    uint16_t device[MQ_DEVICE_COUNT];
    uint16_t hour[24];
} pstate;

typedef struct shard {
    pthread_mutex_t mu;
    pstate *p; /* index = profile id / MQ_STATE_SHARDS */
    size_t cap;
    size_t count;
    size_t bytes; /* title and row arrays */
    char pad[64]; /* keeps neighbouring shards' locks off one cache line */
} shard;

struct mq_state {
    mq_semantics sem;
    shard shards[MQ_STATE_SHARDS];
    /* Row ids, interned process-wide so a profile keeps 4 bytes per row. */
    pthread_rwlock_t rows_lock;
    mq_strmap *row_ids;
    MQ_VEC(const char *) row_names;
};

mq_state *mq_state_create(const mq_semantics *sem) {
    mq_state *st = mq_calloc(1, sizeof *st);
    st->sem = *sem;
    for (int i = 0; i < MQ_STATE_SHARDS; i++)
        pthread_mutex_init(&st->shards[i].mu, NULL);
    pthread_rwlock_init(&st->rows_lock, NULL);
    st->row_ids = mq_strmap_create();
    MQ_VEC_PUSH(&st->row_names, mq_strmap_put(st->row_ids, "other", 0));
    return st;
}

static void pstate_free(pstate *p) {
    mq_free(p->e);
    mq_free(p->s);
    mq_free(p->rows);
    mq_free(p->q);
    memset(p, 0, sizeof *p);
}

void mq_state_destroy(mq_state *st) {
    if (!st)
        return;
    for (int i = 0; i < MQ_STATE_SHARDS; i++) {
        shard *sh = &st->shards[i];
        for (size_t k = 0; k < sh->cap; k++)
            pstate_free(&sh->p[k]);
        mq_free(sh->p);
        pthread_mutex_destroy(&sh->mu);
    }
    pthread_rwlock_destroy(&st->rows_lock);
    mq_strmap_destroy(st->row_ids);
    mq_free(st->row_names.items);
    mq_free(st);
}

static shard *shard_of(mq_state *st, uint32_t profile_id) {
    return &st->shards[profile_id % MQ_STATE_SHARDS];
}

/* The profile's slot, growing the shard's array when needed. Shard locked. */
static pstate *slot(shard *sh, uint32_t profile_id) {
    size_t i = profile_id / MQ_STATE_SHARDS;
    if (i >= sh->cap) {
        size_t cap = sh->cap ? sh->cap : 64;
        while (cap <= i)
            cap *= 2;
        sh->p = mq_realloc(sh->p, cap * sizeof *sh->p);
        memset(sh->p + sh->cap, 0, (cap - sh->cap) * sizeof *sh->p);
        sh->cap = cap;
    }
    return &sh->p[i];
}

/* ------------------------------------------------------- derived signals ---- */

static double watch_fraction(const entry *e) {
    if (!(e->duration_s > 0))
        return 0;
    double f = e->furthest_s / e->duration_s;
    return f > 1 ? 1 : f < 0 ? 0 : f;
}

/* The one place derived signals are computed (MQ_STATE_SIGNALS). `e` is set for
 * title signals, `r` for row signals. */
static double derive(const mq_semantics *sem, mq_state_signal sig, const entry *e,
                     const rowc *r) {
    switch (sig) {
    case MQ_SIG_WATCH_FRACTION:
        return e ? watch_fraction(e) : 0;
    case MQ_SIG_COMPLETION:
        return e && (e->flags & F_PLAYED) && e->duration_s > 0 &&
                       watch_fraction(e) >= sem->complete_fraction
                   ? 1
                   : 0;
    case MQ_SIG_REWATCH:
        return e && (e->flags & F_REWATCH) ? 1 : 0;
    case MQ_SIG_EARLY_ABANDON:
        /* Only a finished play with a known duration can be abandoned. */
        return e && (e->flags & F_PLAYED) && !(e->flags & F_OPEN) && e->duration_s > 0 &&
                       watch_fraction(e) < sem->abandon_fraction
                   ? 1
                   : 0;
    case MQ_SIG_IMPRESSION_NO_PLAY:
        return e ? e->impressions : 0;
    case MQ_SIG_ROW_SKIPPED:
        return r ? r->past : 0;
    case MQ_SIG_COUNT:
        break;
    }
    return 0;
}

/* ----------------------------------------------------------------- update ---- */

static uint32_t secs(int64_t ms) {
    if (ms <= 0)
        return 0;
    int64_t s = ms / 1000;
    return s > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)s;
}

/* Adds evidence at time t to a title entry (see the file comment). */
static void add_evidence(const mq_semantics *sem, entry *e, uint32_t t, double conf,
                         double neg) {
    if (t >= e->last_s) {
        double d = mq_semantics_decay(sem, (int64_t)(t - e->last_s) * 1000);
        e->weight = (float)(e->weight * d + conf);
        e->negative = (float)(e->negative * d + neg);
        e->last_s = t;
    } else {
        double d = mq_semantics_decay(sem, (int64_t)(e->last_s - t) * 1000);
        e->weight = (float)(e->weight + conf * d);
        e->negative = (float)(e->negative + neg * d);
    }
}

static void touch(const mq_semantics *sem, entry *e, uint32_t t) {
    add_evidence(sem, e, t, 0, 0);
}

/* Ends the current play: its watch fraction and rewatch flag go through the
 * semantics table (mq_semantics_play) into the decayed weights. */
static void finish_play(const mq_semantics *sem, entry *e, uint32_t t) {
    if (!(e->flags & F_OPEN))
        return;
    e->flags &= (uint8_t)~F_OPEN;
    if (!(e->duration_s > 0))
        return; /* no duration was ever reported: the fraction is unknown */
    mq_signal g = mq_semantics_play(sem, derive(sem, MQ_SIG_WATCH_FRACTION, e, NULL),
                                    derive(sem, MQ_SIG_REWATCH, e, NULL) > 0);
    add_evidence(sem, e, t, g.confidence, g.negative);
    if (derive(sem, MQ_SIG_COMPLETION, e, NULL) > 0)
        e->flags |= F_COMPLETED;
}

static void start_play(const mq_semantics *sem, entry *e, uint32_t t, double pos) {
    finish_play(sem, e, t);
    e->flags |= F_OPEN | F_PLAYED;
    if (e->flags & F_COMPLETED)
        e->flags |= F_REWATCH;
    else
        e->flags &= (uint8_t)~F_REWATCH;
    if (e->plays < UINT8_MAX)
        e->plays++;
    e->impressions = 0;
    e->furthest_s = (float)(pos >= 0 ? pos : 0);
}

/* Grows an array of `*cap` elements by half (at least to 4), never past max. */
static void *grow(void *arr, uint16_t *cap, size_t elem, size_t max, shard *sh) {
    size_t n = *cap ? *cap + *cap / 2 + 1 : 4;
    if (n > max)
        n = max;
    arr = mq_realloc(arr, n * elem);
    sh->bytes += (n - *cap) * elem;
    *cap = (uint16_t)n;
    return arr;
}

/* The entry to drop when a profile holds MQ_STATE_MAX_TITLES titles and all of
 * them have full entries: one the profile never played, thumbed or listed and
 * that carries no weight, touched longest ago; failing that, the one with the
 * smallest decayed weight and negative. */
static size_t victim(const mq_semantics *sem, const pstate *p) {
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < p->n_e; i++) {
        const entry *e = &p->e[i];
        if (e->flags & (F_PLAYED | F_THUMB_UP | F_THUMB_DOWN | F_IN_LIST) || e->weight > 0 ||
            e->negative > 0)
            continue;
        if (best == SIZE_MAX || e->last_s < p->e[best].last_s)
            best = i;
    }
    if (best != SIZE_MAX)
        return best;
    double lo = INFINITY;
    for (size_t i = 0; i < p->n_e; i++) {
        const entry *e = &p->e[i];
        double d = mq_semantics_decay(sem, (int64_t)(p->last_s - MQ_MIN(p->last_s, e->last_s)) *
                                               1000);
        double v = (e->weight + e->negative) * d;
        if (v < lo) {
            lo = v;
            best = i;
        }
    }
    return best;
}

/* Makes room for one more title at the cap: the shown-only title seen longest
 * ago goes first, then victim(). */
static void make_room(mq_state *st, pstate *p) {
    if (p->n_e + p->n_s < MQ_STATE_MAX_TITLES)
        return;
    if (p->n_s) {
        size_t old = 0;
        for (size_t i = 1; i < p->n_s; i++)
            if (p->s[i].last_s < p->s[old].last_s)
                old = i;
        p->s[old] = p->s[--p->n_s];
        return;
    }
    size_t v = victim(&st->sem, p);
    p->e[v] = p->e[--p->n_e];
}

/* The title's full entry, created (or promoted from the shown-only list) if
 * needed. */
static entry *find_entry(mq_state *st, shard *sh, pstate *p, uint32_t title, uint32_t t) {
    for (size_t i = 0; i < p->n_e; i++)
        if (p->e[i].title == title)
            return &p->e[i];
    shown was = {title, t, 0};
    bool promoted = false;
    for (size_t i = 0; i < p->n_s && !promoted; i++)
        if (p->s[i].title == title) {
            was = p->s[i];
            p->s[i] = p->s[--p->n_s];
            promoted = true;
        }
    if (!promoted)
        make_room(st, p);
    if (p->n_e == p->cap_e)
        p->e = grow(p->e, &p->cap_e, sizeof *p->e, MQ_STATE_MAX_TITLES, sh);
    entry *e = &p->e[p->n_e++];
    memset(e, 0, sizeof *e);
    e->title = title;
    e->last_s = was.last_s;
    e->impressions = was.count;
    return e;
}

/* An impression: counted on the title's entry if it has one, else on the
 * shown-only list. */
static void count_shown(mq_state *st, shard *sh, pstate *p, uint32_t title, uint32_t t) {
    for (size_t i = 0; i < p->n_e; i++)
        if (p->e[i].title == title) {
            entry *e = &p->e[i];
            if (e->impressions < UINT16_MAX)
                e->impressions++;
            touch(&st->sem, e, t);
            return;
        }
    for (size_t i = 0; i < p->n_s; i++)
        if (p->s[i].title == title) {
            if (p->s[i].count < UINT16_MAX)
                p->s[i].count++;
            if (t > p->s[i].last_s)
                p->s[i].last_s = t;
            return;
        }
    make_room(st, p);
    if (p->n_s == p->cap_s)
        p->s = grow(p->s, &p->cap_s, sizeof *p->s, MQ_STATE_MAX_TITLES, sh);
    p->s[p->n_s++] = (shown){title, t, 1};
}

static uint32_t row_key(mq_state *st, const char *row_id) {
    uint32_t k = 0;
    pthread_rwlock_rdlock(&st->rows_lock);
    bool found = mq_strmap_get(st->row_ids, row_id, &k);
    pthread_rwlock_unlock(&st->rows_lock);
    if (found)
        return k;
    pthread_rwlock_wrlock(&st->rows_lock);
    if (!mq_strmap_get(st->row_ids, row_id, &k) && st->row_names.len < MQ_STATE_MAX_ROW_IDS) {
        k = (uint32_t)st->row_names.len;
        MQ_VEC_PUSH(&st->row_names, mq_strmap_put(st->row_ids, row_id, k));
    }
    pthread_rwlock_unlock(&st->rows_lock);
    return k;
}

static void count_row(mq_state *st, shard *sh, pstate *p, uint32_t key, mq_scroll_dir dir) {
    rowc *r = NULL;
    for (size_t i = 0; i < p->n_rows && !r; i++)
        if (p->rows[i].key == key)
            r = &p->rows[i];
    if (!r) {
        if (p->n_rows == MQ_STATE_MAX_ROWS) {
            size_t lo = 0;
            for (size_t i = 1; i < p->n_rows; i++)
                if (p->rows[i].past + p->rows[i].along < p->rows[lo].past + p->rows[lo].along)
                    lo = i;
            p->rows[lo] = p->rows[--p->n_rows];
        }
        if (p->n_rows == p->cap_rows)
            p->rows = grow(p->rows, &p->cap_rows, sizeof *p->rows, MQ_STATE_MAX_ROWS, sh);
        r = &p->rows[p->n_rows++];
        *r = (rowc){key, 0, 0};
    }
    uint16_t *c = dir == MQ_DIR_PAST ? &r->past : &r->along;
    if (*c < UINT16_MAX)
        (*c)++;
}

/* Counts with a fixed width: when one saturates, every bucket is halved, which
 * keeps the proportions (a habit histogram only needs those). */
static void bump(uint16_t *a, size_t n, size_t i) {
    if (a[i] == UINT16_MAX)
        for (size_t k = 0; k < n; k++)
            a[k] /= 2;
    a[i]++;
}

static void apply_title(mq_state *st, shard *sh, pstate *p, const mq_event *ev, uint32_t t) {
    const mq_semantics *sem = &st->sem;
    if (ev->type == MQ_EV_IMPRESSION) {
        count_shown(st, sh, p, ev->title_id, t);
        return;
    }
    entry *e = find_entry(st, sh, p, ev->title_id, t);
    double pos = ev->position_s, dur = ev->duration_s;
    if (dur > 0)
        e->duration_s = (float)dur;
    switch (ev->type) {
    case MQ_EV_PLAY_START: {
        start_play(sem, e, t, pos);
        e->position_s = (float)(pos >= 0 ? pos : 0);
        touch(sem, e, t);
        int hour;
        mq_event_local_time(ev, NULL, &hour);
        bump(p->device, MQ_DEVICE_COUNT, ev->device);
        bump(p->hour, 24, (size_t)hour);
        break;
    }
    case MQ_EV_PAUSE:
    case MQ_EV_SEEK:
    case MQ_EV_PLAY_PROGRESS:
        /* Playback seen without its start (a lost play_start) is still a play. */
        if (!(e->flags & F_OPEN))
            start_play(sem, e, t, ev->type == MQ_EV_SEEK ? 0 : pos);
        if (pos >= 0) {
            e->position_s = (float)pos;
            if (ev->type != MQ_EV_SEEK && pos > e->furthest_s)
                e->furthest_s = (float)pos; /* a seek forward is not watching */
        }
        touch(sem, e, t);
        break;
    case MQ_EV_PLAY_STOP:
        /* A stop with no play open (after a `complete`, say) only moves the
         * position: it must not count the play twice. */
        if (pos >= 0)
            e->position_s = (float)pos;
        if (e->flags & F_OPEN) {
            if (pos > e->furthest_s)
                e->furthest_s = (float)pos;
            finish_play(sem, e, t);
        } else {
            touch(sem, e, t);
        }
        break;
    case MQ_EV_COMPLETE:
        if (!(e->flags & F_OPEN)) {
            if (derive(sem, MQ_SIG_COMPLETION, e, NULL) > 0) {
                touch(sem, e, t); /* the play already closed as completed */
                break;
            }
            start_play(sem, e, t, 0); /* a completion is a play even if nothing else came */
        }
        e->furthest_s = e->position_s = e->duration_s;
        finish_play(sem, e, t);
        break;
    case MQ_EV_THUMBS:
        e->flags &= (uint8_t)~(F_THUMB_UP | F_THUMB_DOWN);
        if (ev->value > 0)
            e->flags |= F_THUMB_UP;
        else if (ev->value < 0)
            e->flags |= F_THUMB_DOWN;
        touch(sem, e, t);
        break;
    case MQ_EV_LIST_ADD:
        e->flags |= F_IN_LIST;
        goto event_signal;
    case MQ_EV_LIST_REMOVE:
        e->flags &= (uint8_t)~F_IN_LIST;
        touch(sem, e, t);
        break;
    case MQ_EV_RATING:
    case MQ_EV_SEARCH_CLICK:
    event_signal: {
        /* Signals an event carries on its own come from the semantics table.
         * Thumbs are kept as the latest value (a flag), not accumulated, so that
         * "none" can take a thumb back. */
        mq_signal g = mq_semantics_event(sem, ev);
        add_evidence(sem, e, t, g.confidence, g.negative);
        break;
    }
    default:
        touch(sem, e, t);
        break;
    }
}

/* A search or a click from one: the query is remembered (the same query again
 * moves to the front), replacing the oldest past MQ_STATE_MAX_SEARCHES. Queries
 * are compared case-insensitively after trimming. */
static void note_search(shard *sh, pstate *p, const mq_event *ev, uint32_t t) {
    const char *q = ev->query;
    while (*q == ' ' || *q == '\t')
        q++;
    size_t n = strlen(q);
    while (n && (q[n - 1] == ' ' || q[n - 1] == '\t'))
        n--;
    if (n == 0)
        return;
    if (n >= MQ_STATE_QUERY_MAX) {
        n = MQ_STATE_QUERY_MAX - 1;
        while (n && ((unsigned char)q[n] & 0xC0) == 0x80) /* a continuation byte */
            n--;
    }
    if (!p->q) {
        p->q = mq_calloc(MQ_STATE_MAX_SEARCHES, sizeof *p->q);
        sh->bytes += MQ_STATE_MAX_SEARCHES * sizeof *p->q;
    }
    search_mem *m = NULL;
    for (uint16_t i = 0; i < p->n_q && !m; i++)
        if (strncasecmp(p->q[i].q, q, n) == 0 && p->q[i].q[n] == '\0')
            m = &p->q[i];
    if (!m) {
        if (p->n_q < MQ_STATE_MAX_SEARCHES) {
            m = &p->q[p->n_q++];
        } else {
            m = &p->q[0];
            for (uint16_t i = 1; i < p->n_q; i++)
                if (p->q[i].last_s < m->last_s)
                    m = &p->q[i];
        }
        memcpy(m->q, q, n);
        m->q[n] = '\0';
        m->clicked = 0;
        m->last_s = 0;
    }
    if (t >= m->last_s)
        m->last_s = t;
    if (ev->type == MQ_EV_SEARCH_CLICK && ev->title_id)
        m->clicked = ev->title_id;
}

void mq_state_apply(mq_state *st, const mq_event *ev) {
    if (!ev->profile_id || (unsigned)ev->type >= MQ_EV_COUNT)
        return;
    if ((mq_event_type_fields(ev->type) & MQ_F_TITLE) && !ev->title_id)
        return;
    uint32_t t = secs(ev->ts_ms);
    uint32_t key = 0;
    if (ev->type == MQ_EV_ROW_SCROLL && ev->row_id)
        key = row_key(st, ev->row_id); /* before the shard lock: lock order rows < shard */
    shard *sh = shard_of(st, ev->profile_id);
    pthread_mutex_lock(&sh->mu);
    pstate *p = slot(sh, ev->profile_id);
    if (!p->events)
        sh->count++;
    if (p->events < UINT32_MAX)
        p->events++;
    if (t > p->last_s)
        p->last_s = t;
    if (ev->title_id)
        apply_title(st, sh, p, ev, t);
    else if (ev->type == MQ_EV_ROW_SCROLL && ev->direction != MQ_DIR_NONE)
        count_row(st, sh, p, key, ev->direction);
    if ((ev->type == MQ_EV_SEARCH || ev->type == MQ_EV_SEARCH_CLICK) && ev->query)
        note_search(sh, p, ev, t);
    pthread_mutex_unlock(&sh->mu);
}

void mq_state_forget(mq_state *st, uint32_t profile_id) {
    shard *sh = shard_of(st, profile_id);
    pthread_mutex_lock(&sh->mu);
    size_t i = profile_id / MQ_STATE_SHARDS;
    if (i < sh->cap && sh->p[i].events) {
        pstate *p = &sh->p[i];
        sh->bytes -= p->cap_e * sizeof(entry) + p->cap_s * sizeof(shown) +
                     p->cap_rows * sizeof(rowc) + (p->q ? MQ_STATE_MAX_SEARCHES * sizeof(search_mem) : 0);
        sh->count--;
        pstate_free(p);
    }
    pthread_mutex_unlock(&sh->mu);
}

size_t mq_state_profile_count(mq_state *st) {
    size_t n = 0;
    for (int i = 0; i < MQ_STATE_SHARDS; i++) {
        pthread_mutex_lock(&st->shards[i].mu);
        n += st->shards[i].count;
        pthread_mutex_unlock(&st->shards[i].mu);
    }
    return n;
}

size_t mq_state_memory(mq_state *st) {
    size_t n = sizeof *st;
    for (int i = 0; i < MQ_STATE_SHARDS; i++) {
        pthread_mutex_lock(&st->shards[i].mu);
        n += st->shards[i].cap * sizeof(pstate) + st->shards[i].bytes;
        pthread_mutex_unlock(&st->shards[i].mu);
    }
    pthread_rwlock_rdlock(&st->rows_lock);
    n += st->row_names.alloc * sizeof(char *);
    pthread_rwlock_unlock(&st->rows_lock);
    return n;
}

/* ------------------------------------------------------------------ views ---- */

bool mq_state_get(mq_state *st, uint32_t profile_id, int64_t now_ms, mq_state_view *out) {
    memset(out, 0, sizeof *out);
    out->profile_id = profile_id;
    shard *sh = shard_of(st, profile_id);
    pthread_mutex_lock(&sh->mu);
    size_t i = profile_id / MQ_STATE_SHARDS;
    const pstate *p = i < sh->cap && sh->p[i].events ? &sh->p[i] : NULL;
    if (!p) {
        pthread_mutex_unlock(&sh->mu);
        return false;
    }
    const mq_semantics *sem = &st->sem;
    out->events = p->events;
    out->last_ms = (int64_t)p->last_s * 1000;
    for (int d = 0; d < MQ_DEVICE_COUNT; d++)
        out->device[d] = p->device[d];
    for (int h = 0; h < 24; h++)
        out->hour[h] = p->hour[h];
    out->titles = mq_calloc(p->n_e + p->n_s ? p->n_e + p->n_s : 1, sizeof *out->titles);
    out->n_titles = p->n_e + p->n_s;
    for (size_t k = 0; k < p->n_s; k++) {
        mq_state_title *t = &out->titles[p->n_e + k];
        t->title_id = p->s[k].title;
        t->last_ms = (int64_t)p->s[k].last_s * 1000;
        t->signal[MQ_SIG_IMPRESSION_NO_PLAY] = p->s[k].count;
    }
    for (size_t k = 0; k < p->n_e; k++) {
        const entry *e = &p->e[k];
        mq_state_title *t = &out->titles[k];
        int64_t age = now_ms - (int64_t)e->last_s * 1000;
        double d = mq_semantics_decay(sem, age);
        t->title_id = e->title;
        t->weight = e->weight * d;
        t->negative = e->negative * d;
        t->last_ms = (int64_t)e->last_s * 1000;
        t->position_s = e->position_s;
        t->duration_s = e->duration_s;
        t->thumb = (e->flags & F_THUMB_UP) ? 1 : (e->flags & F_THUMB_DOWN) ? -1 : 0;
        t->in_list = e->flags & F_IN_LIST;
        t->playing = e->flags & F_OPEN;
        t->completed_ever = e->flags & F_COMPLETED;
        t->plays = e->plays;
        for (int s = 0; s < MQ_SIG_COUNT; s++)
            if (signals[s].scope == 'T')
                t->signal[s] = derive(sem, (mq_state_signal)s, e, NULL);
    }
    /* Searches, newest first (at most MQ_STATE_MAX_SEARCHES: insertion sort). */
    for (uint16_t k = 0; k < p->n_q; k++) {
        mq_state_search s = {{0}, (int64_t)p->q[k].last_s * 1000, p->q[k].clicked};
        memcpy(s.query, p->q[k].q, sizeof s.query);
        size_t j = out->n_searches++;
        while (j > 0 && out->searches[j - 1].last_ms < s.last_ms) {
            out->searches[j] = out->searches[j - 1];
            j--;
        }
        out->searches[j] = s;
    }
    size_t n_rows = p->n_rows;
    rowc rows[MQ_STATE_MAX_ROWS];
    if (n_rows)
        memcpy(rows, p->rows, n_rows * sizeof *rows);
    pthread_mutex_unlock(&sh->mu);

    /* Row names after the shard lock: lock order is rows before shard. */
    out->rows = mq_calloc(n_rows ? n_rows : 1, sizeof *out->rows);
    out->n_rows = n_rows;
    pthread_rwlock_rdlock(&st->rows_lock);
    for (size_t k = 0; k < n_rows; k++) {
        out->rows[k].row_id = st->row_names.items[rows[k].key];
        out->rows[k].past = (uint32_t)derive(sem, MQ_SIG_ROW_SKIPPED, NULL, &rows[k]);
        out->rows[k].along = rows[k].along;
    }
    pthread_rwlock_unlock(&st->rows_lock);
    return true;
}

void mq_state_view_free(mq_state_view *v) {
    mq_free(v->titles);
    mq_free(v->rows);
    memset(v, 0, sizeof *v);
}

bool mq_state_title_continue(const mq_state_title *t) {
    return t->plays > 0 && t->position_s > 0 && t->signal[MQ_SIG_COMPLETION] == 0;
}

/* ------------------------------------------------------------------- JSON ---- */

static json_t *ts_json(int64_t ms) {
    char buf[32];
    if (!ms)
        return json_null();
    mq_time_format_rfc3339(ms, buf, sizeof buf);
    return json_string(buf);
}

static int by_weight(const void *a, const void *b) {
    const mq_state_title *x = a, *y = b;
    double vx = x->weight - x->negative, vy = y->weight - y->negative;
    if (vx != vy)
        return vx > vy ? -1 : 1;
    return x->last_ms > y->last_ms ? -1 : x->last_ms < y->last_ms ? 1 : 0;
}

static int by_recency(const void *a, const void *b) {
    const mq_state_title *x = *(const mq_state_title *const *)a;
    const mq_state_title *y = *(const mq_state_title *const *)b;
    return x->last_ms > y->last_ms ? -1 : x->last_ms < y->last_ms ? 1 : 0;
}

/* Rounds for display: the state is float, more digits would be noise. */
static json_t *num(double v) {
    return json_real(round(v * 1e4) / 1e4);
}

json_t *mq_state_view_json(const mq_state_view *v, const char *profile_ext,
                           mq_state_title_name_fn title_name, void *ud) {
    json_t *o = json_object();
    json_object_set_new(o, "profile", json_string(profile_ext));
    json_object_set_new(o, "events", json_integer((json_int_t)v->events));
    json_object_set_new(o, "last_event", ts_json(v->last_ms));

    mq_state_title *ts = mq_malloc((v->n_titles ? v->n_titles : 1) * sizeof *ts);
    if (v->n_titles) /* a profile with no titles yet has no array */
        memcpy(ts, v->titles, v->n_titles * sizeof *ts);
    qsort(ts, v->n_titles, sizeof *ts, by_weight);
    json_t *hist = json_array(), *shown = json_array(), *up = json_array(), *down = json_array(),
           *list = json_array(), *cw = json_array();
    const mq_state_title **cws = mq_malloc((v->n_titles ? v->n_titles : 1) * sizeof *cws);
    size_t n_cw = 0;
    for (size_t i = 0; i < v->n_titles; i++) {
        const mq_state_title *t = &ts[i];
        const char *name = title_name ? title_name(ud, t->title_id) : NULL;
        if (!name)
            continue;
        if (t->thumb > 0)
            json_array_append_new(up, json_string(name));
        else if (t->thumb < 0)
            json_array_append_new(down, json_string(name));
        if (t->in_list)
            json_array_append_new(list, json_string(name));
        if (t->signal[MQ_SIG_IMPRESSION_NO_PLAY] > 0) {
            json_t *s = json_object();
            json_object_set_new(s, "title", json_string(name));
            json_object_set_new(s, "count",
                                json_integer((json_int_t)t->signal[MQ_SIG_IMPRESSION_NO_PLAY]));
            json_array_append_new(shown, s);
        }
        if (mq_state_title_continue(t))
            cws[n_cw++] = t;
        if (!t->plays && !(t->weight > 0) && !(t->negative > 0) && !t->thumb && !t->in_list)
            continue; /* only shown: not history */
        json_t *h = json_object(), *sig = json_object();
        json_object_set_new(h, "title", json_string(name));
        json_object_set_new(h, "weight", num(t->weight));
        json_object_set_new(h, "negative", num(t->negative));
        json_object_set_new(h, "last", ts_json(t->last_ms));
        json_object_set_new(h, "plays", json_integer(t->plays));
        json_object_set_new(h, "playing", json_boolean(t->playing));
        json_object_set_new(h, "completed", json_boolean(t->completed_ever));
        for (int s = 0; s < MQ_SIG_COUNT; s++)
            if (mq_state_signal_scope((mq_state_signal)s) == 'T')
                json_object_set_new(sig, mq_state_signal_name((mq_state_signal)s),
                                    num(t->signal[s]));
        json_object_set_new(h, "signals", sig);
        json_array_append_new(hist, h);
    }
    qsort(cws, n_cw, sizeof *cws, by_recency);
    for (size_t i = 0; i < n_cw; i++) {
        json_t *c = json_object();
        json_object_set_new(c, "title", json_string(title_name(ud, cws[i]->title_id)));
        json_object_set_new(c, "position_s", num(cws[i]->position_s));
        if (cws[i]->duration_s > 0)
            json_object_set_new(c, "duration_s", num(cws[i]->duration_s));
        json_object_set_new(c, "last", ts_json(cws[i]->last_ms));
        json_array_append_new(cw, c);
    }
    mq_free(cws);
    mq_free(ts);
    json_object_set_new(o, "history", hist);
    json_object_set_new(o, "continue_watching", cw);
    json_t *th = json_object();
    json_object_set_new(th, "up", up);
    json_object_set_new(th, "down", down);
    json_object_set_new(o, "thumbs", th);
    json_object_set_new(o, "my_list", list);
    json_object_set_new(o, "impressions_without_play", shown);

    /* Rows: per row id, and summed per row type (the id up to its first ':'). */
    json_t *rows = json_array(), *types = json_object();
    for (size_t i = 0; i < v->n_rows; i++) {
        const mq_state_row *r = &v->rows[i];
        json_t *ro = json_object();
        json_object_set_new(ro, "row", json_string(r->row_id));
        json_object_set_new(ro, "skipped", json_integer(r->past));
        json_object_set_new(ro, "scrolled_along", json_integer(r->along));
        json_array_append_new(rows, ro);
        const char *colon = strchr(r->row_id, ':');
        char type[MQ_ID_MAX_LEN + 1];
        snprintf(type, sizeof type, "%.*s",
                 colon ? (int)(colon - r->row_id) : (int)strlen(r->row_id), r->row_id);
        json_t *to = json_object_get(types, type);
        if (!to) {
            to = json_object();
            json_object_set_new(to, "skipped", json_integer(0));
            json_object_set_new(to, "scrolled_along", json_integer(0));
            json_object_set_new(types, type, to);
        }
        json_integer_set(json_object_get(to, "skipped"),
                         json_integer_value(json_object_get(to, "skipped")) + r->past);
        json_integer_set(json_object_get(to, "scrolled_along"),
                         json_integer_value(json_object_get(to, "scrolled_along")) + r->along);
    }
    json_t *ro = json_object();
    json_object_set_new(ro, "by_row", rows);
    json_object_set_new(ro, "by_type", types);
    json_object_set_new(o, "rows", ro);

    json_t *dev = json_object(), *hours = json_array();
    for (int d = 0; d < MQ_DEVICE_COUNT; d++)
        if (v->device[d])
            json_object_set_new(dev, mq_device_name((mq_device)d), json_integer(v->device[d]));
    for (int h = 0; h < 24; h++)
        json_array_append_new(hours, json_integer(v->hour[h]));
    json_t *hab = json_object();
    json_object_set_new(hab, "devices", dev);
    json_object_set_new(hab, "hours", hours);
    json_object_set_new(o, "habits", hab);

    json_t *srch = json_array();
    for (size_t i = 0; i < v->n_searches; i++) {
        const mq_state_search *q = &v->searches[i];
        json_t *so = json_object(), *qs = json_string(q->query);
        json_object_set_new(so, "query", qs ? qs : json_string(""));
        json_object_set_new(so, "at", ts_json(q->last_ms));
        const char *clicked = q->clicked && title_name ? title_name(ud, q->clicked) : NULL;
        json_object_set_new(so, "clicked", clicked ? json_string(clicked) : json_null());
        json_array_append_new(srch, so);
    }
    json_object_set_new(o, "searches", srch);
    return o;
}
