/* cache.c: assembled page layouts kept for a few minutes (page.cache_pages,
 * page.cache_ttl_s), so a cursor can return the next rows of the same page and
 * a quick refresh can return the same rows. A layout is one contiguous block
 * (about 16 bytes per item); slot = page seq modulo the capacity, so a newer page
 * simply evicts the one that held its slot, and lookups need no hash table.
 * Slots are locked in stripes; the latest page of each profile is remembered in
 * a small direct-mapped table. */
#include "page_impl.h"

#include <stdlib.h>
#include <string.h>

#define STRIPES 32

typedef struct slot {
    uint64_t seq;
    int64_t created_ms;
    size_t bytes, room; /* the layout's size, and its block's */
    void *blob;
} slot;

typedef struct prof_slot {
    uint32_t profile;
    uint64_t seq;
} prof_slot;

struct pg_cache {
    size_t cap, n_prof;
    int64_t ttl_ms;
    slot *slots;
    prof_slot *prof;
    pthread_mutex_t mu[STRIPES];
};

pg_cache *pg_cache_create(int pages, int ttl_s) {
    pg_cache *c = mq_calloc(1, sizeof *c);
    c->cap = pages > 0 ? (size_t)pages : 0;
    c->n_prof = c->cap ? c->cap * 2 : 0;
    c->ttl_ms = (int64_t)ttl_s * 1000;
    c->slots = mq_calloc(c->cap + 1, sizeof *c->slots);
    c->prof = mq_calloc(c->n_prof + 1, sizeof *c->prof);
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&c->mu[i], NULL);
    return c;
}

void pg_cache_destroy(pg_cache *c) {
    if (!c)
        return;
    for (size_t i = 0; i < c->cap; i++)
        mq_free(c->slots[i].blob);
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&c->mu[i]);
    mq_free(c->slots);
    mq_free(c->prof);
    mq_free(c);
}

static size_t layout_bytes(const pg_layout *l) {
    return sizeof *l + l->n_rows * sizeof *l->rows + l->n_items * sizeof *l->items + l->str_len + 1;
}

static void pack(const pg_layout *l, char *p) {
    pg_layout h = *l;
    h.rows = NULL;
    h.items = NULL;
    h.strs = NULL;
    memcpy(p, &h, sizeof h);
    p += sizeof h;
    memcpy(p, l->rows, l->n_rows * sizeof *l->rows);
    p += l->n_rows * sizeof *l->rows;
    memcpy(p, l->items, l->n_items * sizeof *l->items);
    p += l->n_items * sizeof *l->items;
    memcpy(p, l->strs, l->str_len);
    p[l->str_len] = '\0';
}

static void unpack(char *p, pg_layout *out) {
    memcpy(out, p, sizeof *out);
    p += sizeof *out;
    out->rows = (pg_row *)p;
    p += out->n_rows * sizeof *out->rows;
    out->items = (pg_item *)p;
    p += out->n_items * sizeof *out->items;
    out->strs = p;
}

void pg_cache_put(pg_cache *c, const pg_layout *l, int64_t now_ms) {
    if (!c->cap)
        return;
    size_t bytes = layout_bytes(l);
    size_t i = (size_t)(l->seq % c->cap);
    pthread_mutex_t *mu = &c->mu[i % STRIPES];
    /* The page this one evicts gives up its block, which is reused when it is
     * large enough: once the cache is full every page evicts one, and a page's
     * layouts are all about the same size, so a block per page need not be
     * allocated and freed. (Taken out of its slot first: the copy is made
     * without the lock, and a lookup of the evicted page fails from now on.) */
    pthread_mutex_lock(mu);
    char *blob = c->slots[i].blob;
    size_t room = c->slots[i].room;
    c->slots[i] = (slot){0};
    pthread_mutex_unlock(mu);
    if (blob && room < bytes) {
        mq_free(blob);
        blob = NULL;
    }
    if (!blob) {
        blob = mq_malloc(bytes);
        room = bytes;
    }
    /* Layouts are packed with their pointer fields first, so the block stays
     * aligned for the rows and items that follow the header. */
    pack(l, blob);
    pthread_mutex_lock(mu);
    void *old = c->slots[i].blob; /* another page put in this slot meanwhile */
    c->slots[i] = (slot){l->seq, now_ms, bytes, room, blob};
    pthread_mutex_unlock(mu);
    mq_free(old);
    size_t k = (size_t)(pg_mix(l->profile) % c->n_prof);
    pthread_mutex_lock(&c->mu[k % STRIPES]);
    c->prof[k] = (prof_slot){l->profile, l->seq};
    pthread_mutex_unlock(&c->mu[k % STRIPES]);
}

bool pg_cache_get(pg_cache *c, uint64_t seq, int64_t now_ms, mq_arena *a, pg_layout *out) {
    if (!c->cap || seq == 0)
        return false;
    size_t i = (size_t)(seq % c->cap);
    pthread_mutex_t *mu = &c->mu[i % STRIPES];
    pthread_mutex_lock(mu);
    slot *s = &c->slots[i];
    bool ok = s->blob && s->seq == seq && now_ms - s->created_ms <= c->ttl_ms &&
              now_ms >= s->created_ms - c->ttl_ms;
    char *copy = NULL;
    if (ok && (copy = mq_arena_alloc(a, s->bytes)) != NULL)
        memcpy(copy, s->blob, s->bytes);
    pthread_mutex_unlock(mu);
    if (!ok || !copy)
        return false;
    unpack(copy, out);
    return true;
}

uint64_t pg_cache_latest(pg_cache *c, uint32_t profile) {
    if (!c->cap)
        return 0;
    size_t k = (size_t)(pg_mix(profile) % c->n_prof);
    uint64_t seq = 0;
    prof_slot ps;
    pthread_mutex_lock(&c->mu[k % STRIPES]);
    ps = c->prof[k];
    pthread_mutex_unlock(&c->mu[k % STRIPES]);
    if (ps.profile == profile)
        seq = ps.seq;
    return seq;
}
