/*
 * assets_impl.h: what the files of the assets module share and nobody else sees:
 * the title descriptors (taste tokens, variants and their in-vocabulary tags), the
 * per-slot linear model (sufficient statistics and posterior), profile records,
 * the pending-impression queue of the reward rule, and a small uint64 hash map.
 *
 *   params.c      settings, policy and slot names
 *   features.c    vocabularies, taste hashing, context vectors, the title table
 *   model.c       Bayesian linear regression: updates and posterior refresh
 *   reward.c      pending impressions and play attribution (also mq_asset_rewards)
 *   observe.c     events in: impressions, plays, taste, pins, finalized updates
 *   choose.c      requests out: prepare, distribution, choose, URLs
 *   checkpoint.c  serialization, the store blob, catching up from the log
 *   replay.c      the offline estimators
 */
#ifndef MQ_ASSETS_IMPL_H
#define MQ_ASSETS_IMPL_H

#include "assets.h"

#define NZ 5    /* variant-independent terms: 1, affinity, title logit, ln(1+row), ln(1+col) */
#define VTAGS 4 /* in-vocabulary tags kept per variant */
#define MAX_TOKENS 16 /* genre and tag tokens per title for the taste */
#define MAX_PENDING (1u << 20)
#define NO_VARIANT (-1)
#define DEFAULT_TAG "(default)" /* tag 0 of every vocabulary: the editorial default */

/* ---------------------------------------------------------------- u64 map ---- */

/* Open addressing, linear probing, backward-shift deletion. Key 0 is reserved. */
typedef struct u64map {
    uint64_t *keys;
    uint64_t *vals;
    size_t cap, n; /* cap is a power of two */
} u64map;

void u64map_free(u64map *m);
bool u64map_get(const u64map *m, uint64_t key, uint64_t *val);
void u64map_put(u64map *m, uint64_t key, uint64_t val);
bool u64map_del(u64map *m, uint64_t key);
/* Keys in increasing order (for deterministic serialization); caller frees. */
uint64_t *u64map_sorted_keys(const u64map *m);

static inline uint64_t pair_key(uint32_t profile, uint32_t title) {
    return (uint64_t)profile << 32 | title;
}

/* assets.c: the pins' per-profile filter (mq_assets.pin_bloom). */
#define PIN_BLOOM_WORDS 4
void assets_pin_note(mq_assets *a, uint32_t profile, uint32_t title);
/* False when title is surely not pinned for profile. */
bool assets_pin_maybe(const mq_assets *a, uint32_t profile, uint32_t title);
/* Rebuilds the filter from the pins (after they were replaced). */
void assets_pin_rebuild(mq_assets *a);

/* ----------------------------------------------------------------- titles ---- */

typedef struct variant_info {
    bool is_default; /* the title's first variant: the editorial default */
    uint8_t ntags;
    uint8_t tag[VTAGS]; /* vocabulary indices */
    const char *id;     /* asset id (label text), copied into the model's arena */
    const char **raw;   /* the variant's tags as given (for re-indexing), arena */
    uint8_t n_raw;
} variant_info;

typedef struct title_slot {
    uint8_t n;    /* variants */
    uint32_t off; /* first variant in the slot's variant arrays */
    uint32_t imp; /* finalized impressions of its variants (the cold rule) */
} title_slot;

typedef struct title_info {
    bool known;
    uint8_t n_tok;
    uint16_t tok[MAX_TOKENS]; /* taste buckets */
    float tok_v[MAX_TOKENS];  /* signed weights, unit norm over the title */
    title_slot s[MQ_SLOT_COUNT];
    const char *ext_id; /* arena */
} title_info;

/* A variant's vocabulary tags, as the Thompson choice reads them: in the order of
 * variant_info.tag, NO_TAG (a tag whose weights are zero) past its ntags. A
 * title's packs (every slot's, in slot order) sit together at PACK_STRIDE times
 * its id, so that choosing its assets touches a cache line or two whose address
 * is known before its descriptor is read, where the slots' variant_info arrays
 * cost a dependent miss each. */
#define NO_TAG MQ_ASSETS_MAX_TAGS
#define PACK_STRIDE (MQ_SLOT_COUNT * MQ_ASSETS_MAX_VARIANTS)
typedef struct vtags {
    uint8_t tag[VTAGS];
} vtags;

/* ------------------------------------------------------------------ model ---- */

typedef struct slot_model {
    int V;                                /* tags in the vocabulary */
    const char *tags[MQ_ASSETS_MAX_TAGS]; /* arena */
    /* Feature layout: c (x) t (C * V), affinity x t (V), the personal term, the
     * editorial term, the NZ variant-independent terms, the context's own main
     * effects (C). */
    int d;
    int i_aff;  /* first affinity x tag cross: C * V */
    int i_phi;  /* the personal term: C * V + V */
    int i_ed;   /* the editorial term: i_phi + 1 */
    int i_main; /* first main effect of the context: i_ed + 1 + NZ */
    /* sufficient statistics (learned state) */
    double *A; /* d x d, row-major; the upper triangle is maintained */
    double *b; /* d */
    uint64_t updates, since, refreshes, version;
    double reward_sum;
    /* posterior, refreshed from A and b */
    float *mean; /* d */
    float *bank; /* draws x d */
    double *cov; /* d x d, LinUCB only (NULL otherwise) */
    bool have_cov;
    /* variants of every title (descriptors), and their counts (learned state) */
    MQ_VEC(variant_info) vars;
    int pack_tags; /* the most tags of a packed variant: the choice reads that many per variant */
    MQ_VEC(double) var_imp;
    MQ_VEC(double) var_rew;
} slot_model;

/* Learns from every finalized impression: x is sparse (idx, val). */
void model_init(slot_model *m, int d, int draws);
void model_free(slot_model *m);
/* logistic: the Laplace (IRLS) update at the current posterior mean, with the
 * log-odds of the slot's overall take rate as an offset; else the linear one.
 * Returns the residual of the reward against the model's prediction before the
 * update (log-odds scale: y - p; linear: y - mean.x) and sets *info to its
 * information (p (1 - p); linear: 1 / noise_var). */
double model_update(slot_model *m, const int *idx, const double *val, int nnz, double reward,
                    const mq_assets_params *p, double *info);
/* Recomputes mean, bank (and cov when want_cov) from A and b. Deterministic in
 * (A, b, seed, slot, refreshes). */
void model_refresh(slot_model *m, const mq_assets_params *p, int slot, bool want_cov);
/* model_refresh in two steps: the posterior computed into new buffers, reading
 * only A, b and the refresh count (so readers of the published posterior may run
 * meanwhile), then published (swapped in, counts bumped). */
typedef struct model_post {
    bool ok;
    float *mean, *bank;
    double *cov; /* NULL: keep the current one */
} model_post;
void model_posterior(const slot_model *m, const mq_assets_params *p, int slot, bool want_cov,
                     model_post *out);
void model_publish(slot_model *m, model_post *post);
/* assets.c: a due refresh of slot s, computed outside the caller's lock when one
 * was given (mq_assets_set_refresh_lock). */
void assets_refresh_slot(mq_assets *a, int s);
/* Refresh schedule: true when the posterior is due. */
bool model_due(const slot_model *m, const mq_assets_params *p);

/* --------------------------------------------------------------- profiles ---- */

typedef struct profile_rec {
    uint32_t id;
    int64_t taste_ts; /* the time the decayed taste sums refer to */
    double n_tot[MQ_SLOT_COUNT], r_tot[MQ_SLOT_COUNT]; /* finalized impressions, rewards */
    uint32_t block; /* floats: taste[T], then per slot and tag: info[V], residual[V]
                     * (the personal term), watched[V] (the editorial term) */
} profile_rec;

/* ------------------------------------------------------- pending rewards ---- */

typedef struct pending {
    int64_t seq, ts;
    uint32_t profile, title;
    int8_t var[MQ_SLOT_COUNT];
    bool played, consumed;
    double watched_s, last_pos;
    float phi[MQ_SLOT_COUNT];
    float ed[MQ_SLOT_COUNT];
    float z[NZ];
    uint32_t ctx; /* owner's context block; UINT32_MAX none */
} pending;

/* The reward rule: impressions wait in time order; a play attributes to the
 * latest pending impression of the pair. */
typedef struct attrib {
    mq_asset_reward kind;
    int64_t window_ms;
    double cap_s;
    MQ_VEC(pending) q;
    size_t head;   /* first live entry of q */
    uint64_t base; /* absolute index of q.items[0] */
    u64map open;   /* (profile, title) -> absolute index of the latest pending */
    int64_t clock; /* the latest event time seen */
} attrib;

void attrib_init(attrib *t, const mq_assets_params *p);
void attrib_free(attrib *t);
static inline pending *attrib_at(attrib *t, uint64_t abs) {
    return &t->q.items[abs - t->base];
}
/* Appends an impression; returns its absolute index. */
uint64_t attrib_push(attrib *t, const mq_event *e);
/* A play-family event: returns true and the absolute index of the impression it
 * completes now (the play reward), false otherwise. *pinned_abs receives the
 * impression a play_start was attributed to (for pins), UINT64_MAX if none. */
bool attrib_play(attrib *t, const mq_event *e, uint64_t *done_abs, uint64_t *pinned_abs);
/* Pops the oldest impression whose window closed before now_ms (consumed ones are
 * skipped); false when none. */
bool attrib_pop(attrib *t, int64_t now_ms, pending *out);
double attrib_reward(const attrib *t, const pending *pd);
size_t attrib_pending(const attrib *t);
void attrib_compact(attrib *t);

/* --------------------------------------------------------------- the model ---- */

struct mq_assets {
    mq_assets_params p;
    void (*lock_release)(void *), (*lock_reacquire)(void *); /* mq_assets_set_refresh_lock */
    void *lock_ud;
    char *url_template;
    mq_arena arena;            /* ids, tags, vocabulary strings */
    int T, C;                  /* taste dimensions, context dimension */
    int i_dev, i_slot;         /* first index of the device and time-slot one-hots; -1 absent */
    MQ_VEC(title_info) titles; /* by title id */
    MQ_VEC(vtags) packs;       /* the titles' variant tags, PACK_STRIDE per title id */
    slot_model m[MQ_SLOT_COUNT];
    /* profiles */
    MQ_VEC(uint32_t) prof_index; /* profile id -> record index + 1 */
    MQ_VEC(profile_rec) profs;
    MQ_VEC(float) prof_pool;
    int prof_stride;
    int pers_off[MQ_SLOT_COUNT]; /* offset of the slot's counters in a profile block */
    u64map pins;                 /* (profile, title) -> artwork variant */
    /* By profile id, PIN_BLOOM_WORDS words: a Bloom filter (one bit per title) of
     * the titles pinned for the profile, never cleared but rebuilt with the
     * pins. A page asks about a thousand titles of one profile, most never
     * pinned; the map is a cache miss per question, the filter one per page. */
    MQ_VEC(uint64_t) pin_bloom;
    /* pending impressions and their context vectors */
    attrib at;
    MQ_VEC(float) ctx_pool;
    MQ_VEC(uint32_t) ctx_free;
    int64_t last_seq;
    uint64_t events, impressions, rewarded;
};

/* features.c */
void features_layout(mq_assets *a);
/* Builds the slot vocabularies from a catalog (most frequent tags, ties by name). */
void features_vocab(mq_assets *a, const mq_catalog *cat);
/* (Re)indexes every variant's tags against the vocabulary. */
void features_reindex(mq_assets *a);
void features_put_title(mq_assets *a, const mq_title *t);
const title_info *features_title(const mq_assets *a, uint32_t id);
/* The model dimension of a slot with V tags. */
static inline int slot_dims(int C, int V) {
    return C * V + V + 2 + NZ + C;
}
/* Fills c[C] for a profile (NULL: no history) and context. */
void features_context(const mq_assets *a, const profile_rec *pr, mq_device dev, int weekday,
                      int hour, float *c);
/* Cosine of the profile's taste and the title's tokens. */
double features_affinity(const mq_assets *a, const profile_rec *pr, const title_info *ti);
/* The same from an already normalized taste (T floats). */
double features_affinity_n(const float *taste, const title_info *ti);
/* Per tag of the slot's vocabulary, its share of the editorial defaults of what
 * the profile watched (the editorial term). */
void features_editorial(const mq_assets *a, const profile_rec *pr, int slot, float *out);
/* Per tag of the slot's vocabulary, the profile's smoothed response, as a logit
 * difference to its overall take rate (the personal term). */
void features_personal(const mq_assets *a, const profile_rec *pr, int slot, float *phi);
double features_global_rate(const mq_assets *a);
double features_title_logit(const mq_assets *a, const title_info *ti);
/* Variants of a title in a slot (NULL when none). */
static inline const variant_info *slot_variants(const mq_assets *a, const title_info *ti,
                                                int slot) {
    return ti->s[slot].n ? &a->m[slot].vars.items[ti->s[slot].off] : NULL;
}

/* The tags of a title's variants in a slot (as slot_variants, packed). */
static inline const vtags *slot_tags(const mq_assets *a, const title_info *ti, int slot) {
    size_t o = (size_t)(ti - a->titles.items) * PACK_STRIDE;
    for (int s = 0; s < slot; s++)
        o += ti->s[s].n;
    return &a->packs.items[o];
}

/* observe.c */
profile_rec *assets_profile(mq_assets *a, uint32_t id, bool create);
const profile_rec *assets_profile_c(const mq_assets *a, uint32_t id);
static inline float *profile_block(const mq_assets *a, const profile_rec *pr) {
    return a->prof_pool.items + (size_t)pr->block * (size_t)a->prof_stride;
}
bool assets_learns(const mq_assets *a, int slot);

#endif
