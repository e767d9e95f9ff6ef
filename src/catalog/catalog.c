/* catalog.c: the in-memory catalog: titles and profiles by internal id, and the
 * external id maps. Deep copies live in the catalog's arena; a replaced title's old
 * strings stay there until the catalog is destroyed (titles change rarely). */
#include "catalog.h"

#include <string.h>

struct mq_catalog {
    mq_arena arena;
    MQ_VEC(mq_title *) titles;     /* index = internal id; NULL = free */
    MQ_VEC(mq_profile *) profiles; /* index = internal id; NULL = free */
    mq_strmap *title_ids, *profile_ids;
    size_t n_titles, n_profiles;
};

mq_catalog *mq_catalog_create(void) {
    mq_catalog *c = mq_calloc(1, sizeof *c);
    mq_arena_init(&c->arena, 1 << 20, 0);
    c->title_ids = mq_strmap_create();
    c->profile_ids = mq_strmap_create();
    return c;
}

void mq_catalog_destroy(mq_catalog *c) {
    if (!c)
        return;
    mq_arena_free(&c->arena);
    mq_free(c->titles.items);
    mq_free(c->profiles.items);
    mq_strmap_destroy(c->title_ids);
    mq_strmap_destroy(c->profile_ids);
    mq_free(c);
}

static char *dup_or_null(mq_arena *a, const char *s) {
    return s ? mq_arena_strdup(a, s) : NULL;
}

static mq_strlist copy_list(mq_arena *a, const mq_strlist *l) {
    mq_strlist r = {0};
    if (!l->n)
        return r;
    r.items = mq_arena_alloc(a, l->n * sizeof(char *));
    for (uint32_t i = 0; i < l->n; i++)
        r.items[i] = mq_arena_strdup(a, l->items[i]);
    r.n = l->n;
    return r;
}

static mq_asset *copy_assets(mq_arena *a, const mq_asset *as, uint32_t n) {
    if (!n)
        return NULL;
    mq_asset *r = mq_arena_alloc(a, n * sizeof *r);
    for (uint32_t i = 0; i < n; i++) {
        r[i].id = mq_arena_strdup(a, as[i].id);
        r[i].text = dup_or_null(a, as[i].text);
        r[i].tags = copy_list(a, &as[i].tags);
    }
    return r;
}

void mq_catalog_put_title(mq_catalog *c, const mq_title *t) {
    mq_title *n = mq_arena_alloc(&c->arena, sizeof *n);
    *n = *t;
    n->ext_id = mq_arena_strdup(&c->arena, t->ext_id);
    n->name = mq_arena_strdup(&c->arena, t->name ? t->name : "");
    n->genres = copy_list(&c->arena, &t->genres);
    n->tags = copy_list(&c->arena, &t->tags);
    n->labels = copy_list(&c->arena, &t->labels);
    n->artwork = copy_assets(&c->arena, t->artwork, t->n_artwork);
    n->synopses = copy_assets(&c->arena, t->synopses, t->n_synopses);
    while (c->titles.len <= t->id)
        MQ_VEC_PUSH(&c->titles, NULL);
    if (!c->titles.items[t->id])
        c->n_titles++;
    else if (strcmp(c->titles.items[t->id]->ext_id, t->ext_id) != 0)
        mq_strmap_remove(c->title_ids, c->titles.items[t->id]->ext_id);
    c->titles.items[t->id] = n;
    mq_strmap_put(c->title_ids, n->ext_id, t->id);
}

void mq_catalog_put_profile(mq_catalog *c, const mq_profile *p) {
    mq_profile *n = mq_arena_alloc(&c->arena, sizeof *n);
    *n = *p;
    n->ext_id = mq_arena_strdup(&c->arena, p->ext_id);
    while (c->profiles.len <= p->id)
        MQ_VEC_PUSH(&c->profiles, NULL);
    if (!c->profiles.items[p->id])
        c->n_profiles++;
    else if (strcmp(c->profiles.items[p->id]->ext_id, p->ext_id) != 0)
        mq_strmap_remove(c->profile_ids, c->profiles.items[p->id]->ext_id);
    c->profiles.items[p->id] = n;
    mq_strmap_put(c->profile_ids, n->ext_id, p->id);
}

const mq_title *mq_catalog_title(const mq_catalog *c, uint32_t id) {
    return id < c->titles.len ? c->titles.items[id] : NULL;
}

const mq_profile *mq_catalog_profile(const mq_catalog *c, uint32_t id) {
    return id < c->profiles.len ? c->profiles.items[id] : NULL;
}

uint32_t mq_catalog_title_id(const mq_catalog *c, const char *ext_id) {
    uint32_t id = 0;
    mq_strmap_get(c->title_ids, ext_id, &id);
    return id;
}

uint32_t mq_catalog_profile_id(const mq_catalog *c, const char *ext_id) {
    uint32_t id = 0;
    mq_strmap_get(c->profile_ids, ext_id, &id);
    return id;
}

uint32_t mq_catalog_title_end(const mq_catalog *c) {
    return (uint32_t)c->titles.len;
}

uint32_t mq_catalog_profile_end(const mq_catalog *c) {
    return (uint32_t)c->profiles.len;
}

size_t mq_catalog_title_count(const mq_catalog *c) {
    return c->n_titles;
}

size_t mq_catalog_profile_count(const mq_catalog *c) {
    return c->n_profiles;
}
