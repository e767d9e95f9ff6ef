/* features.c: what the bandit sees. The context vector c of a request (a bias, the
 * profile's taste, its device and a weekday/evening slot), the tag vocabulary of
 * each slot and every variant's tags in it, the personal term, and the
 * variant-independent terms used only when learning.
 *
 * Taste: the genres and tags of what a profile watched, weighted by the semantics
 * table and recency-decayed (observe.c), as a signed hashed vector of T
 * dimensions (feature hashing, Weinberger et al. 2009: the sign hash keeps
 * collisions unbiased), L2-normalized. Hashing keeps every token of an
 * open-ended vocabulary; asset tags instead get a vocabulary of the slot's most
 * frequent tags, because a collision between two artwork styles would merge
 * exactly the distinction the bandit is there to learn. */
#include "assets_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void features_layout(mq_assets *a) {
    a->T = a->p.taste_dims;
    int C = 1 + a->T;
    a->i_dev = a->i_slot = -1;
    if (a->p.use_device) {
        a->i_dev = C;
        C += 4;
    }
    if (a->p.use_timeslot) {
        a->i_slot = C;
        C += 4;
    }
    a->C = C;
    int off = a->T;
    for (int s = 0; s < MQ_SLOT_COUNT; s++) {
        slot_model *m = &a->m[s];
        m->i_aff = C * m->V;
        m->i_phi = C * m->V + m->V;
        m->i_ed = m->i_phi + 1;
        m->i_main = m->i_ed + 1 + NZ;
        a->pers_off[s] = off;
        off += 3 * m->V;
    }
    a->prof_stride = off;
}

/* ------------------------------------------------------------- vocabulary ---- */

typedef struct {
    const char *tag;
    uint64_t count;
} tag_count;

static int cmp_tag_count(const void *x, const void *y) {
    const tag_count *a = x, *b = y;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return strcmp(a->tag, b->tag);
}

/* The tags of variant i of title t in a slot. */
static mq_strlist variant_tags(const mq_title *t, int slot, uint32_t i, const char **one) {
    switch (slot) {
    case MQ_SLOT_ARTWORK:
        return t->artwork[i].tags;
    case MQ_SLOT_SYNOPSIS:
        return t->synopses[i].tags;
    default:
        /* A label is its own tag. */
        *one = t->labels.items[i];
        return (mq_strlist){(char **)one, 1};
    }
}

static uint32_t variant_count(const mq_title *t, int slot) {
    uint32_t n = slot == MQ_SLOT_ARTWORK    ? t->n_artwork
                 : slot == MQ_SLOT_SYNOPSIS ? t->n_synopses
                                            : t->labels.n;
    return n > MQ_ASSETS_MAX_VARIANTS ? MQ_ASSETS_MAX_VARIANTS : n;
}

static const char *variant_id(const mq_title *t, int slot, uint32_t i) {
    return slot == MQ_SLOT_ARTWORK    ? t->artwork[i].id
           : slot == MQ_SLOT_SYNOPSIS ? t->synopses[i].id
                                      : t->labels.items[i];
}

void features_vocab(mq_assets *a, const mq_catalog *cat) {
    for (int s = 0; s < MQ_SLOT_COUNT; s++) {
        mq_strmap *idx = mq_strmap_create();
        MQ_VEC(tag_count) counts = {0};
        uint32_t end = cat ? mq_catalog_title_end(cat) : 0;
        for (uint32_t id = 1; id < end; id++) {
            const mq_title *t = mq_catalog_title(cat, id);
            if (!t)
                continue;
            uint32_t n = variant_count(t, s);
            for (uint32_t i = 0; i < n; i++) {
                const char *one = NULL;
                mq_strlist tags = variant_tags(t, s, i, &one);
                for (uint32_t j = 0; j < tags.n; j++) {
                    uint32_t k;
                    if (!mq_strmap_get(idx, tags.items[j], &k)) {
                        k = (uint32_t)counts.len;
                        const char *key = mq_strmap_put(idx, tags.items[j], k);
                        tag_count tc = {key, 0};
                        MQ_VEC_PUSH(&counts, tc);
                    }
                    counts.items[k].count++;
                }
            }
        }
        if (counts.len)
            qsort(counts.items, counts.len, sizeof(tag_count), cmp_tag_count);
        slot_model *m = &a->m[s];
        /* Tag 0 marks the editorial default, so the model can learn how far to
         * trust the editors, and for whom. */
        m->V = 1 + (int)MQ_MIN(counts.len, (size_t)a->p.tag_dims - 1);
        m->tags[0] = mq_arena_strdup(&a->arena, DEFAULT_TAG);
        for (int j = 1; j < m->V; j++)
            m->tags[j] = mq_arena_strdup(&a->arena, counts.items[j - 1].tag);
        mq_free(counts.items);
        mq_strmap_destroy(idx);
    }
}

static void index_variant(const slot_model *m, variant_info *v) {
    v->ntags = 0;
    if (v->is_default && m->V > 0 && strcmp(m->tags[0], DEFAULT_TAG) == 0)
        v->tag[v->ntags++] = 0;
    for (uint8_t r = 0; r < v->n_raw && v->ntags < VTAGS; r++)
        for (int j = 0; j < m->V; j++)
            if (strcmp(m->tags[j], v->raw[r]) == 0) {
                bool dup = false;
                for (int q = 0; q < v->ntags; q++)
                    dup |= v->tag[q] == j;
                if (!dup)
                    v->tag[v->ntags++] = (uint8_t)j;
                break;
            }
}

/* The title's variant tags, packed into its place in a->packs. */
static void pack_title(mq_assets *a, title_info *ti) {
    size_t at = (size_t)(ti - a->titles.items) * PACK_STRIDE;
    if (a->packs.len < at + PACK_STRIDE) {
        MQ_VEC_RESERVE(&a->packs, at + PACK_STRIDE);
        memset(a->packs.items + a->packs.len, NO_TAG,
               (at + PACK_STRIDE - a->packs.len) * sizeof(vtags));
        a->packs.len = at + PACK_STRIDE;
    }
    for (int s = 0; s < MQ_SLOT_COUNT; s++) {
        const variant_info *v = slot_variants(a, ti, s);
        for (int i = 0; i < ti->s[s].n; i++) {
            vtags *p = &a->packs.items[at++];
            memset(p->tag, NO_TAG, sizeof p->tag);
            memcpy(p->tag, v[i].tag, v[i].ntags);
            a->m[s].pack_tags = MQ_MAX(a->m[s].pack_tags, (int)v[i].ntags);
        }
    }
}

void features_reindex(mq_assets *a) {
    for (int s = 0; s < MQ_SLOT_COUNT; s++)
        for (size_t i = 0; i < a->m[s].vars.len; i++)
            index_variant(&a->m[s], &a->m[s].vars.items[i]);
    for (int s = 0; s < MQ_SLOT_COUNT; s++)
        a->m[s].pack_tags = 0;
    for (size_t id = 0; id < a->titles.len; id++)
        if (a->titles.items[id].known)
            pack_title(a, &a->titles.items[id]);
}

/* ----------------------------------------------------------------- titles ---- */

static void add_token(mq_assets *a, title_info *ti, const char *prefix, const char *tok) {
    if (ti->n_tok >= MAX_TOKENS)
        return;
    char buf[256];
    int n = snprintf(buf, sizeof buf, "%s%s", prefix, tok);
    if (n < 0)
        return;
    uint64_t h = mq_hash_bytes(buf, (size_t)MQ_MIN(n, (int)sizeof buf - 1));
    ti->tok[ti->n_tok] = (uint16_t)(h % (uint64_t)a->T);
    ti->tok_v[ti->n_tok] = (h >> 63) ? -1.0f : 1.0f;
    ti->n_tok++;
}

static bool same_variants(const mq_assets *a, const title_info *ti, const mq_title *t, int s) {
    uint32_t n = variant_count(t, s);
    if (ti->s[s].n != n)
        return false;
    const variant_info *v = slot_variants(a, ti, s);
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(v[i].id, variant_id(t, s, i)) != 0)
            return false;
    return true;
}

static void drop_pins(mq_assets *a, uint32_t title) {
    uint64_t *keys = u64map_sorted_keys(&a->pins);
    size_t n = a->pins.n;
    for (size_t i = 0; i < n; i++)
        if ((uint32_t)keys[i] == title)
            u64map_del(&a->pins, keys[i]);
    mq_free(keys);
}

void features_put_title(mq_assets *a, const mq_title *t) {
    if (t->id == 0)
        return;
    while (a->titles.len <= t->id) {
        title_info z = {0};
        MQ_VEC_PUSH(&a->titles, z);
    }
    title_info *ti = &a->titles.items[t->id];
    bool was_known = ti->known;
    ti->known = true;
    ti->ext_id = mq_arena_strdup(&a->arena, t->ext_id ? t->ext_id : "");
    ti->n_tok = 0;
    for (uint32_t i = 0; i < t->genres.n; i++)
        add_token(a, ti, "g:", t->genres.items[i]);
    for (uint32_t i = 0; i < t->tags.n; i++)
        add_token(a, ti, "t:", t->tags.items[i]);
    if (ti->n_tok) {
        float w = 1.0f / sqrtf((float)ti->n_tok);
        for (int i = 0; i < ti->n_tok; i++)
            ti->tok_v[i] *= w;
    }
    bool changed = false;
    for (int s = 0; s < MQ_SLOT_COUNT; s++) {
        if (was_known && same_variants(a, ti, t, s))
            continue;
        changed |= was_known;
        slot_model *m = &a->m[s];
        uint32_t n = variant_count(t, s);
        ti->s[s].n = (uint8_t)n;
        ti->s[s].off = (uint32_t)m->vars.len;
        ti->s[s].imp = 0;
        for (uint32_t i = 0; i < n; i++) {
            const char *one = NULL;
            mq_strlist tags = variant_tags(t, s, i, &one);
            variant_info v = {0};
            v.is_default = i == 0;
            v.id = mq_arena_strdup(&a->arena, variant_id(t, s, i));
            v.n_raw = (uint8_t)MQ_MIN(tags.n, 16u);
            v.raw = mq_arena_alloc(&a->arena, (v.n_raw ? v.n_raw : 1) * sizeof(char *));
            for (uint8_t r = 0; r < v.n_raw; r++)
                v.raw[r] = mq_arena_strdup(&a->arena, tags.items[r]);
            index_variant(m, &v);
            MQ_VEC_PUSH(&m->vars, v);
            MQ_VEC_PUSH(&m->var_imp, 0.0);
            MQ_VEC_PUSH(&m->var_rew, 0.0);
        }
    }
    if (!was_known || changed)
        pack_title(a, ti);
    if (changed)
        drop_pins(a, t->id);
}

const title_info *features_title(const mq_assets *a, uint32_t id) {
    return id < a->titles.len && a->titles.items[id].known ? &a->titles.items[id] : NULL;
}

/* ---------------------------------------------------------------- context ---- */

void features_context(const mq_assets *a, const profile_rec *pr, mq_device dev, int weekday,
                      int hour, float *c) {
    memset(c, 0, (size_t)a->C * sizeof(float));
    c[0] = 1.0f;
    if (pr) {
        const float *taste = profile_block(a, pr);
        double nrm = 0;
        for (int k = 0; k < a->T; k++)
            nrm += (double)taste[k] * taste[k];
        if (nrm > 0) {
            float inv = (float)(1.0 / sqrt(nrm));
            for (int k = 0; k < a->T; k++)
                c[1 + k] = taste[k] * inv;
        }
    }
    if (a->i_dev >= 0 && dev >= MQ_DEVICE_TV && dev <= MQ_DEVICE_WEB)
        c[a->i_dev + (int)dev - (int)MQ_DEVICE_TV] = 1.0f;
    if (a->i_slot >= 0 && weekday >= 0 && hour >= 0) {
        /* Weekend or not, evening/night (17:00-04:59) or day. */
        int slot = (weekday >= 5 ? 2 : 0) + (hour >= 17 || hour < 5 ? 1 : 0);
        c[a->i_slot + slot] = 1.0f;
    }
}

double features_affinity(const mq_assets *a, const profile_rec *pr, const title_info *ti) {
    if (!pr || !ti->n_tok)
        return 0;
    const float *taste = profile_block(a, pr);
    double nrm = 0, dot = 0;
    for (int k = 0; k < a->T; k++)
        nrm += (double)taste[k] * taste[k];
    if (nrm <= 0)
        return 0;
    for (int i = 0; i < ti->n_tok; i++)
        dot += (double)taste[ti->tok[i]] * ti->tok_v[i];
    return dot / sqrt(nrm);
}

double features_affinity_n(const float *taste, const title_info *ti) {
    double dot = 0;
    for (int i = 0; i < ti->n_tok; i++)
        dot += (double)taste[ti->tok[i]] * ti->tok_v[i];
    return dot;
}

/* Editors give a title the artwork that suits its audience, so the editorial
 * defaults of what a profile watches say what kind of artwork speaks to it: the
 * decayed weight of its plays by the tags of their titles' default variants
 * (observe.c), as shares. A variant's editorial term is the share of its tags.
 * It is one feature with one learned weight, where the taste x tag crosses are
 * hundreds, so it is useful long before those have enough data. */
void features_editorial(const mq_assets *a, const profile_rec *pr, int slot, float *out) {
    const slot_model *m = &a->m[slot];
    memset(out, 0, (size_t)MQ_MAX(m->V, 1) * sizeof(float));
    if (!a->p.use_editorial || !pr)
        return;
    const float *h = profile_block(a, pr) + a->pers_off[slot] + 2 * m->V;
    double total = 0;
    for (int j = 1; j < m->V; j++)
        total += h[j] > 0 ? h[j] : 0;
    if (total <= 0)
        return;
    for (int j = 1; j < m->V; j++)
        out[j] = h[j] > 0 ? (float)(h[j] / total) : 0.0f;
}

static double logit(double p) {
    return log(p / (1.0 - p));
}

/* The artwork take rate over every finalized impression (Laplace-smoothed). */
double features_global_rate(const mq_assets *a) {
    const slot_model *m = &a->m[MQ_SLOT_ARTWORK];
    return (m->reward_sum + 1.0) / ((double)m->updates + 2.0);
}

/* A profile's own response to tag j, beyond what the shared model predicts: the
 * residuals (observed minus predicted) of its impressions showing the tag over
 * their information, with a N(0, personal_var) prior: the posterior mean of a
 * per-profile random effect (one Newton step from zero). Residuals rather than raw
 * take rates, because a tag's raw rate for one profile mostly says which titles
 * happened to be shown with it. */
void features_personal(const mq_assets *a, const profile_rec *pr, int slot, float *phi) {
    const slot_model *m = &a->m[slot];
    memset(phi, 0, (size_t)MQ_MAX(m->V, 1) * sizeof(float));
    if (!a->p.use_personal || !pr)
        return;
    const double prec = 1.0 / a->p.personal_var;
    const float *blk = profile_block(a, pr) + a->pers_off[slot];
    for (int j = 0; j < m->V; j++)
        phi[j] = (float)(blk[m->V + j] / (blk[j] + prec));
}

double features_title_logit(const mq_assets *a, const title_info *ti) {
    const slot_model *m = &a->m[MQ_SLOT_ARTWORK];
    double imp = 0, rew = 0;
    for (int i = 0; i < ti->s[MQ_SLOT_ARTWORK].n; i++) {
        imp += m->var_imp.items[ti->s[MQ_SLOT_ARTWORK].off + i];
        rew += m->var_rew.items[ti->s[MQ_SLOT_ARTWORK].off + i];
    }
    double k = a->p.personal_prior, g = features_global_rate(a);
    double r = (rew + k * g) / (imp + k);
    r = MQ_MIN(MQ_MAX(r, 1e-4), 1 - 1e-4);
    return logit(r);
}
