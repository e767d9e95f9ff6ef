/* assets.c: the bandit's life cycle: creating it over a catalogue (vocabularies,
 * feature layout, one model per slot, the prior's posterior draws), adding titles,
 * statistics for reports, and destroying it. */
#include "assets_impl.h"

#include <string.h>

int mq_assets_create(const mq_assets_params *p, const mq_catalog *cat, mq_assets **out,
                     mq_err *err) {
    *out = NULL;
    const char *bad = mq_assets_params_check(p);
    if (bad)
        return mq_err_set(err, MQ_EINVAL, "%s", bad);
    mq_assets *a = mq_calloc(1, sizeof *a);
    a->p = *p;
    a->url_template = mq_strdup(p->url_template);
    a->p.url_template = a->url_template;
    mq_arena_init(&a->arena, 1 << 16, 0);
    features_vocab(a, cat);
    features_layout(a);
    for (int s = 0; s < MQ_SLOT_COUNT; s++)
        model_init(&a->m[s], slot_dims(a->C, a->m[s].V), p->draws);
    uint32_t end = cat ? mq_catalog_title_end(cat) : 0;
    for (uint32_t id = 1; id < end; id++) {
        const mq_title *t = mq_catalog_title(cat, id);
        if (t)
            features_put_title(a, t);
    }
    attrib_init(&a->at, p);
    /* The prior's draws, so that Thompson sampling explores from the first request. */
    for (int s = 0; s < MQ_SLOT_COUNT; s++)
        model_refresh(&a->m[s], &a->p, s, a->p.policy == MQ_APOL_LINUCB);
    *out = a;
    return MQ_OK;
}

void mq_assets_destroy(mq_assets *a) {
    if (!a)
        return;
    for (int s = 0; s < MQ_SLOT_COUNT; s++)
        model_free(&a->m[s]);
    mq_free(a->titles.items);
    mq_free(a->packs.items);
    mq_free(a->prof_index.items);
    mq_free(a->profs.items);
    mq_free(a->prof_pool.items);
    u64map_free(&a->pins);
    mq_free(a->pin_bloom.items);
    attrib_free(&a->at);
    mq_free(a->ctx_pool.items);
    mq_free(a->ctx_free.items);
    mq_arena_free(&a->arena);
    mq_free(a->url_template);
    mq_free(a);
}

const mq_assets_params *mq_assets_params_get(const mq_assets *a) {
    return &a->p;
}

void mq_assets_put_title(mq_assets *a, const mq_title *t) {
    features_put_title(a, t);
}

void mq_assets_set_refresh_lock(mq_assets *a, void (*release)(void *), void (*reacquire)(void *),
                                void *ud) {
    a->lock_release = release;
    a->lock_reacquire = reacquire;
    a->lock_ud = ud;
}

void assets_refresh_slot(mq_assets *a, int s) {
    model_post post;
    if (a->lock_release)
        a->lock_release(a->lock_ud);
    model_posterior(&a->m[s], &a->p, s, a->p.policy == MQ_APOL_LINUCB, &post);
    if (a->lock_reacquire)
        a->lock_reacquire(a->lock_ud);
    model_publish(&a->m[s], &post);
}

void mq_assets_refresh(mq_assets *a) {
    for (int s = 0; s < MQ_SLOT_COUNT; s++)
        if (a->m[s].since)
            model_refresh(&a->m[s], &a->p, s, a->p.policy == MQ_APOL_LINUCB);
}

uint64_t mq_assets_version(const mq_assets *a) {
    uint64_t v = 0;
    for (int s = 0; s < MQ_SLOT_COUNT; s++)
        v += a->m[s].version;
    return v;
}

void mq_assets_set_refresh_every(mq_assets *a, int every) {
    a->p.refresh_every = every < 0 ? 0 : every;
}

void mq_assets_stats_get(const mq_assets *a, mq_assets_stats *st) {
    memset(st, 0, sizeof *st);
    st->last_seq = a->last_seq;
    st->events = a->events;
    st->impressions = a->impressions;
    st->rewarded = a->rewarded;
    st->pending = attrib_pending(&a->at);
    st->profiles = a->profs.len;
    st->pins = a->pins.n;
    for (int s = 0; s < MQ_SLOT_COUNT; s++) {
        st->updates[s] = a->m[s].updates;
        st->refreshes[s] = a->m[s].refreshes;
        st->reward_sum[s] = a->m[s].reward_sum;
        st->dims[s] = a->m[s].d;
        st->vocab[s] = a->m[s].V;
    }
}

int mq_assets_arms(const mq_assets *a, mq_asset_slot slot, mq_asset_arm *out, int max) {
    const slot_model *m = &a->m[slot];
    int n = MQ_MIN(m->V, max);
    for (int j = 0; j < n; j++) {
        out[j].tag = m->tags[j];
        out[j].impressions = out[j].rewards = 0;
        /* c[0] is the bias, so the bias x tag cross of tag j sits at j. */
        out[j].weight = m->mean ? m->mean[j] : 0;
    }
    for (size_t v = 0; v < m->vars.len; v++)
        for (int k = 0; k < m->vars.items[v].ntags; k++) {
            int j = m->vars.items[v].tag[k];
            if (j < n) {
                out[j].impressions += m->var_imp.items[v];
                out[j].rewards += m->var_rew.items[v];
            }
        }
    return n;
}

static uint32_t pin_bit(uint32_t title) {
    uint64_t x = (uint64_t)title * 0x9E3779B97F4A7C15ULL;
    return (uint32_t)(x >> 56) % (PIN_BLOOM_WORDS * 64);
}

void assets_pin_note(mq_assets *a, uint32_t profile, uint32_t title) {
    size_t need = ((size_t)profile + 1) * PIN_BLOOM_WORDS;
    while (a->pin_bloom.len < need)
        MQ_VEC_PUSH(&a->pin_bloom, 0);
    uint32_t bit = pin_bit(title);
    a->pin_bloom.items[(size_t)profile * PIN_BLOOM_WORDS + bit / 64] |= 1ULL << (bit % 64);
}

bool assets_pin_maybe(const mq_assets *a, uint32_t profile, uint32_t title) {
    size_t w = (size_t)profile * PIN_BLOOM_WORDS;
    if (w >= a->pin_bloom.len)
        return false;
    uint32_t bit = pin_bit(title);
    return a->pin_bloom.items[w + bit / 64] >> (bit % 64) & 1;
}

void assets_pin_rebuild(mq_assets *a) {
    a->pin_bloom.len = 0;
    uint64_t *keys = u64map_sorted_keys(&a->pins);
    for (size_t i = 0; i < a->pins.n; i++)
        assets_pin_note(a, (uint32_t)(keys[i] >> 32), (uint32_t)keys[i]);
    mq_free(keys);
}

int mq_assets_pinned(const mq_assets *a, uint32_t profile_id, uint32_t title_id) {
    uint64_t v;
    if (u64map_get(&a->pins, pair_key(profile_id, title_id), &v))
        return (int)v;
    return -1;
}

const char *mq_assets_tag(const mq_assets *a, mq_asset_slot slot, int j) {
    if ((unsigned)slot >= MQ_SLOT_COUNT || j < 0 || j >= a->m[slot].V)
        return NULL;
    return a->m[slot].tags[j];
}
