/* reward.c: the reward rule. An impression waits in a time-ordered queue for
 * reward_window_s. A play_start of the same title by the same profile within the
 * window is attributed to the latest pending impression of that pair (a title
 * shown twice gets one reward, for the showing the member acted on); with the
 * "play" reward the impression is done at once, with "minutes" it accumulates the
 * seconds watched (play_progress, pause, play_stop and complete positions past
 * the last one) until its window closes. An impression whose window closed
 * without a play is a zero reward.
 *
 * Time is the latest event time seen (events are applied in log order, which is
 * near time order), so replaying a log gives the same attributions as living
 * through it. A play dated up to a minute before its impression still counts
 * (clocks of different devices disagree that much).
 *
 * Also here: the small uint64 hash map the module uses for (profile, title) keys,
 * and mq_asset_rewards, the rule on its own for evaluators. */
#include "assets_impl.h"

#include <stdlib.h>
#include <string.h>

#define SKEW_MS 60000
#define MAX_SEGMENT_S (4.0 * 3600.0)

/* ---------------------------------------------------------------- u64 map ---- */

static uint64_t mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void u64map_free(u64map *m) {
    mq_free(m->keys);
    mq_free(m->vals);
    memset(m, 0, sizeof *m);
}

static size_t find_slot(const u64map *m, uint64_t key) {
    size_t mask = m->cap - 1, i = (size_t)mix64(key) & mask;
    while (m->keys[i] && m->keys[i] != key)
        i = (i + 1) & mask;
    return i;
}

bool u64map_get(const u64map *m, uint64_t key, uint64_t *val) {
    if (!m->cap)
        return false;
    size_t i = find_slot(m, key);
    if (!m->keys[i])
        return false;
    if (val)
        *val = m->vals[i];
    return true;
}

static void grow(u64map *m) {
    u64map old = *m;
    m->cap = old.cap ? old.cap * 2 : 64;
    m->keys = mq_calloc(m->cap, sizeof(uint64_t));
    m->vals = mq_calloc(m->cap, sizeof(uint64_t));
    m->n = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.keys[i])
            u64map_put(m, old.keys[i], old.vals[i]);
    mq_free(old.keys);
    mq_free(old.vals);
}

void u64map_put(u64map *m, uint64_t key, uint64_t val) {
    if ((m->n + 1) * 10 >= m->cap * 7)
        grow(m);
    size_t i = find_slot(m, key);
    if (!m->keys[i]) {
        m->keys[i] = key;
        m->n++;
    }
    m->vals[i] = val;
}

bool u64map_del(u64map *m, uint64_t key) {
    if (!m->cap)
        return false;
    size_t mask = m->cap - 1, i = find_slot(m, key);
    if (!m->keys[i])
        return false;
    /* Backward-shift deletion keeps every probe chain unbroken without tombstones. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!m->keys[j])
            break;
        size_t home = (size_t)mix64(m->keys[j]) & mask;
        bool movable = j > i ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            i = j;
        }
    }
    m->keys[i] = 0;
    m->n--;
    return true;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

uint64_t *u64map_sorted_keys(const u64map *m) {
    uint64_t *k = mq_malloc((m->n ? m->n : 1) * sizeof(uint64_t));
    size_t n = 0;
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i])
            k[n++] = m->keys[i];
    qsort(k, n, sizeof(uint64_t), cmp_u64);
    return k;
}

/* ------------------------------------------------------------------ queue ---- */

void attrib_init(attrib *t, const mq_assets_params *p) {
    memset(t, 0, sizeof *t);
    t->kind = p->reward;
    t->window_ms = p->reward_window_ms;
    t->cap_s = p->minutes_cap * 60.0;
    t->clock = INT64_MIN;
}

void attrib_free(attrib *t) {
    mq_free(t->q.items);
    u64map_free(&t->open);
    memset(t, 0, sizeof *t);
}

size_t attrib_pending(const attrib *t) {
    return t->q.len - t->head;
}

static void tick(attrib *t, int64_t ts) {
    if (ts > t->clock)
        t->clock = ts;
}

uint64_t attrib_push(attrib *t, const mq_event *e) {
    tick(t, e->ts_ms);
    pending pd;
    memset(&pd, 0, sizeof pd);
    pd.seq = e->seq;
    pd.ts = e->ts_ms;
    pd.profile = e->profile_id;
    pd.title = e->title_id;
    for (int s = 0; s < MQ_SLOT_COUNT; s++)
        pd.var[s] = NO_VARIANT;
    pd.ctx = UINT32_MAX;
    MQ_VEC_PUSH(&t->q, pd);
    uint64_t abs = t->base + t->q.len - 1;
    u64map_put(&t->open, pair_key(e->profile_id, e->title_id), abs);
    return abs;
}

/* The latest pending impression of the event's pair whose window covers it. */
static pending *open_for(attrib *t, const mq_event *e, uint64_t *abs) {
    uint64_t key = pair_key(e->profile_id, e->title_id);
    if (!u64map_get(&t->open, key, abs))
        return NULL;
    pending *pd = attrib_at(t, *abs);
    if (pd->consumed || e->ts_ms > pd->ts + t->window_ms || e->ts_ms < pd->ts - SKEW_MS)
        return NULL;
    return pd;
}

static void watch_to(attrib *t, pending *pd, double pos) {
    if (!(pos >= 0))
        return;
    if (pos > pd->last_pos)
        pd->watched_s += MQ_MIN(pos - pd->last_pos, MAX_SEGMENT_S);
    pd->last_pos = pos;
    (void)t;
}

bool attrib_play(attrib *t, const mq_event *e, uint64_t *done_abs, uint64_t *pinned_abs) {
    tick(t, e->ts_ms);
    *pinned_abs = UINT64_MAX;
    if (!e->profile_id || !e->title_id)
        return false;
    uint64_t abs;
    pending *pd = open_for(t, e, &abs);
    if (!pd)
        return false;
    double pos = e->position_s >= 0 ? e->position_s : 0;
    switch (e->type) {
    case MQ_EV_PLAY_START:
        if (!pd->played)
            *pinned_abs = abs;
        pd->played = true;
        pd->last_pos = pos;
        if (t->kind == MQ_REWARD_PLAY) {
            u64map_del(&t->open, pair_key(e->profile_id, e->title_id));
            *done_abs = abs;
            return true;
        }
        return false;
    case MQ_EV_SEEK:
        if (pd->played)
            pd->last_pos = pos; /* a jump is not watching */
        return false;
    case MQ_EV_PLAY_PROGRESS:
    case MQ_EV_PAUSE:
    case MQ_EV_PLAY_STOP:
        if (pd->played)
            watch_to(t, pd, e->position_s);
        return false;
    case MQ_EV_COMPLETE:
        if (pd->played)
            watch_to(t, pd, e->duration_s);
        return false;
    default:
        return false;
    }
}

void attrib_compact(attrib *t) {
    if (t->head < 1024 || t->head * 2 < t->q.len)
        return;
    size_t live = t->q.len - t->head;
    memmove(t->q.items, t->q.items + t->head, live * sizeof(pending));
    t->base += t->head;
    t->q.len = live;
    t->head = 0;
}

bool attrib_pop(attrib *t, int64_t now_ms, pending *out) {
    while (t->head < t->q.len) {
        pending *pd = &t->q.items[t->head];
        bool full = t->q.len - t->head > MAX_PENDING;
        if (!pd->consumed && !full && !(now_ms > pd->ts + t->window_ms))
            return false;
        uint64_t abs = t->base + t->head, cur;
        t->head++;
        if (pd->consumed)
            continue;
        uint64_t key = pair_key(pd->profile, pd->title);
        if (u64map_get(&t->open, key, &cur) && cur == abs)
            u64map_del(&t->open, key);
        *out = *pd;
        pd->consumed = true;
        attrib_compact(t);
        return true;
    }
    attrib_compact(t);
    return false;
}

double attrib_reward(const attrib *t, const pending *pd) {
    if (!pd->played)
        return 0;
    if (t->kind == MQ_REWARD_PLAY)
        return 1;
    double r = pd->watched_s / t->cap_s;
    return r > 1 ? 1 : r;
}

/* ------------------------------------------------------ mq_asset_rewards ---- */

typedef struct {
    int64_t seq;
    double reward;
} labelled;

struct mq_asset_rewards {
    attrib at;
    MQ_VEC(labelled) out;
    size_t next;
};

mq_asset_rewards *mq_asset_rewards_create(const mq_assets_params *p) {
    mq_asset_rewards *r = mq_calloc(1, sizeof *r);
    attrib_init(&r->at, p);
    return r;
}

void mq_asset_rewards_destroy(mq_asset_rewards *r) {
    if (!r)
        return;
    attrib_free(&r->at);
    mq_free(r->out.items);
    mq_free(r);
}

static void emit(mq_asset_rewards *r, const pending *pd) {
    if (r->next && r->next == r->out.len)
        r->next = r->out.len = 0;
    labelled l = {pd->seq, attrib_reward(&r->at, pd)};
    MQ_VEC_PUSH(&r->out, l);
}

void mq_asset_rewards_add(mq_asset_rewards *r, const mq_event *e) {
    if (!e->profile_id || !e->title_id)
        return;
    if (e->type == MQ_EV_IMPRESSION) {
        attrib_push(&r->at, e);
    } else {
        uint64_t done, pin;
        if (attrib_play(&r->at, e, &done, &pin)) {
            pending *pd = attrib_at(&r->at, done);
            emit(r, pd);
            pd->consumed = true;
        }
    }
    pending pd;
    while (attrib_pop(&r->at, r->at.clock, &pd))
        emit(r, &pd);
}

void mq_asset_rewards_flush(mq_asset_rewards *r) {
    pending pd;
    while (attrib_pop(&r->at, INT64_MAX, &pd))
        emit(r, &pd);
}

bool mq_asset_rewards_next(mq_asset_rewards *r, int64_t *seq, double *reward) {
    if (r->next >= r->out.len)
        return false;
    *seq = r->out.items[r->next].seq;
    *reward = r->out.items[r->next].reward;
    r->next++;
    return true;
}
