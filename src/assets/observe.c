/* observe.c: events in. An impression records what the bandit needs to learn from
 * it later (the variants shown, the context vector, the personal term and the
 * variant-independent terms, all as they were at that moment) and waits for its
 * reward (reward.c). When the reward is known the impression becomes one update
 * of each slot's model, of the shown variants' counts and of the profile's
 * response to their tags. A play of a title shown with some artwork pins that
 * artwork for the pair. Plays, completions, thumbs and ratings move the
 * profile's taste by the weights of the semantics table, recency-decayed. */
#include "assets_impl.h"

#include <math.h>
#include <string.h>

bool assets_learns(const mq_assets *a, int slot) {
    return (a->p.slots >> slot) & 1u;
}

profile_rec *assets_profile(mq_assets *a, uint32_t id, bool create) {
    if (id < a->prof_index.len && a->prof_index.items[id])
        return &a->profs.items[a->prof_index.items[id] - 1];
    if (!create || id == 0)
        return NULL;
    while (a->prof_index.len <= id)
        MQ_VEC_PUSH(&a->prof_index, 0);
    profile_rec pr;
    memset(&pr, 0, sizeof pr);
    pr.id = id;
    pr.taste_ts = INT64_MIN;
    pr.block = (uint32_t)a->profs.len;
    size_t need = (a->profs.len + 1) * (size_t)a->prof_stride;
    MQ_VEC_RESERVE(&a->prof_pool, need);
    memset(a->prof_pool.items + a->prof_pool.len, 0, (need - a->prof_pool.len) * sizeof(float));
    a->prof_pool.len = need;
    MQ_VEC_PUSH(&a->profs, pr);
    a->prof_index.items[id] = (uint32_t)a->profs.len;
    return &a->profs.items[a->profs.len - 1];
}

const profile_rec *assets_profile_c(const mq_assets *a, uint32_t id) {
    if (id < a->prof_index.len && a->prof_index.items[id])
        return &a->profs.items[a->prof_index.items[id] - 1];
    return NULL;
}

/* ------------------------------------------------------------------ taste ---- */

static void taste_add(mq_assets *a, profile_rec *pr, const title_info *ti, double w, int64_t ts) {
    if (w == 0)
        return;
    float *taste = profile_block(a, pr);
    if (pr->taste_ts == INT64_MIN)
        pr->taste_ts = ts;
    if (ts > pr->taste_ts) {
        /* Decay what is there to the new time rather than the new weight to the
         * old one: the sums stay near the scale of recent weights. */
        float f = (float)mq_semantics_decay(&a->p.sem, ts - pr->taste_ts);
        for (int k = 0; k < a->T; k++)
            taste[k] *= f;
        for (int s = 0; s < MQ_SLOT_COUNT; s++) {
            float *h = taste + a->pers_off[s] + 2 * a->m[s].V;
            for (int j = 0; j < a->m[s].V; j++)
                h[j] *= f;
        }
        pr->taste_ts = ts;
    } else {
        w *= mq_semantics_decay(&a->p.sem, pr->taste_ts - ts);
    }
    for (int i = 0; i < ti->n_tok; i++)
        taste[ti->tok[i]] += (float)(w * ti->tok_v[i]);
    /* what the editors dressed the titles it likes in (the editorial term) */
    if (w > 0)
        for (int s = 0; s < MQ_SLOT_COUNT; s++) {
            const variant_info *v = slot_variants(a, ti, s);
            if (!v)
                continue;
            float *h = taste + a->pers_off[s] + 2 * a->m[s].V;
            for (int q = 0; q < v[0].ntags; q++)
                if (v[0].tag[q] != 0)
                    h[v[0].tag[q]] += (float)w;
        }
}

/* What an event says about the profile's taste for the title: the semantics
 * table's confidence minus its negative strength. */
static double taste_weight(const mq_assets *a, const mq_event *e) {
    mq_signal g = {0};
    switch (e->type) {
    case MQ_EV_PLAY_STOP:
        if (e->duration_s > 0 && e->position_s >= 0)
            g = mq_semantics_play(&a->p.sem, e->position_s / e->duration_s, false);
        break;
    case MQ_EV_COMPLETE:
        g = mq_semantics_play(&a->p.sem, 1.0, false);
        break;
    case MQ_EV_THUMBS:
    case MQ_EV_RATING:
    case MQ_EV_LIST_ADD:
    case MQ_EV_SEARCH_CLICK:
        g = mq_semantics_event(&a->p.sem, e);
        break;
    default:
        break;
    }
    return g.confidence - g.negative;
}

/* ----------------------------------------------------------- impressions ---- */

static uint32_t ctx_alloc(mq_assets *a) {
    if (a->ctx_free.len)
        return a->ctx_free.items[--a->ctx_free.len];
    uint32_t blk = (uint32_t)(a->ctx_pool.len / (size_t)a->C);
    MQ_VEC_RESERVE(&a->ctx_pool, a->ctx_pool.len + (size_t)a->C);
    a->ctx_pool.len += (size_t)a->C;
    return blk;
}

static void ctx_release(mq_assets *a, uint32_t blk) {
    if (blk != UINT32_MAX)
        MQ_VEC_PUSH(&a->ctx_free, blk);
}

static int find_variant(const mq_assets *a, const title_info *ti, int slot, const char *id) {
    if (!id)
        return NO_VARIANT;
    const variant_info *v = slot_variants(a, ti, slot);
    for (int i = 0; i < ti->s[slot].n; i++)
        if (strcmp(v[i].id, id) == 0)
            return i;
    return NO_VARIANT;
}

static void on_impression(mq_assets *a, const mq_event *e) {
    const title_info *ti = features_title(a, e->title_id);
    if (!ti)
        return;
    int var[MQ_SLOT_COUNT] = {find_variant(a, ti, MQ_SLOT_ARTWORK, e->artwork_id),
                              find_variant(a, ti, MQ_SLOT_SYNOPSIS, e->synopsis_id),
                              find_variant(a, ti, MQ_SLOT_LABEL, e->label)};
    bool any = false;
    for (int s = 0; s < MQ_SLOT_COUNT; s++)
        any |= var[s] != NO_VARIANT;
    if (!any)
        return;
    profile_rec *pr = assets_profile(a, e->profile_id, true);
    uint32_t blk = ctx_alloc(a);
    float *c = a->ctx_pool.items + (size_t)blk * (size_t)a->C;
    int wd, hr;
    mq_event_local_time(e, &wd, &hr);
    features_context(a, pr, e->device, wd, hr, c);
    uint64_t abs = attrib_push(&a->at, e);
    pending *pd = attrib_at(&a->at, abs);
    pd->ctx = blk;
    for (int s = 0; s < MQ_SLOT_COUNT; s++) {
        pd->var[s] = (int8_t)var[s];
        if (var[s] == NO_VARIANT)
            continue;
        float phi[MQ_ASSETS_MAX_TAGS], ea[MQ_ASSETS_MAX_TAGS];
        features_personal(a, pr, s, phi);
        features_editorial(a, pr, s, ea);
        /* the shown variant's terms, centred on the title's variants like the
         * tags (finalize) */
        const variant_info *all = slot_variants(a, ti, s);
        const int n = ti->s[s].n;
        double sum = 0, sum_ed = 0;
        for (int b = 0; b < n; b++) {
            double w = (b == var[s] ? 1.0 : 0.0) - 1.0 / n;
            for (int q = 0; q < all[b].ntags; q++) {
                sum += w * phi[all[b].tag[q]];
                sum_ed += w * ea[all[b].tag[q]];
            }
        }
        pd->phi[s] = (float)sum;
        pd->ed[s] = (float)sum_ed;
    }
    pd->z[0] = 1.0f;
    pd->z[1] = (float)features_affinity(a, pr, ti);
    pd->z[2] = (float)features_title_logit(a, ti);
    pd->z[3] = (float)log1p(e->row_pos > 0 ? e->row_pos : 0);
    pd->z[4] = (float)log1p(e->col_pos > 0 ? e->col_pos : 0);
    a->impressions++;
}

/* One finished impression: an update of every slot that showed a variant. */
static void finalize(mq_assets *a, const pending *pd, double reward) {
    const title_info *ti = features_title(a, pd->title);
    profile_rec *pr = assets_profile(a, pd->profile, false);
    const float *c =
        pd->ctx != UINT32_MAX ? a->ctx_pool.items + (size_t)pd->ctx * (size_t)a->C : NULL;
    if (reward > 0)
        a->rewarded++;
    for (int s = 0; ti && pr && c && s < MQ_SLOT_COUNT; s++) {
        int v = pd->var[s];
        if (v == NO_VARIANT || v >= ti->s[s].n || !assets_learns(a, s))
            continue;
        slot_model *m = &a->m[s];
        const variant_info *all = slot_variants(a, ti, s), *vi = &all[v];
        if (a->titles.items[pd->title].s[s].imp < UINT32_MAX)
            a->titles.items[pd->title].s[s].imp++;
        if (a->p.counts_only) {
            m->updates++;
            m->reward_sum += reward;
            m->var_imp.items[ti->s[s].off + (size_t)v] += 1;
            m->var_rew.items[ti->s[s].off + (size_t)v] += reward;
            continue;
        }
        /* The tag features, centred on the title's variants: delta_j = [j in the
         * shown variant] - (share of the title's variants with tag j); the
         * personal and editorial terms likewise (on_impression). Under uniform
         * logging their mean is zero for every title, so they cannot stand in for
         * how attractive the title itself is to the profile: a title of a theme
         * carries its theme's style on its default artwork, and the profiles who
         * like the theme click it more whatever it shows, so uncentred features
         * learn "the default of a title I like" and little about which artwork
         * wins. The comparison is between the variants of each title, which is
         * what a choice is (the fixed-effects "within" transformation). A
         * title-constant shift changes no choice, so choose scores uncentred. */
        int ut[MQ_ASSETS_MAX_TAGS], nu = 0;
        double delta[MQ_ASSETS_MAX_TAGS];
        const int n = ti->s[s].n;
        for (int b = 0; b < n; b++)
            for (int q = 0; q < all[b].ntags; q++) {
                int j = all[b].tag[q], u = 0;
                while (u < nu && ut[u] != j)
                    u++;
                if (u == nu) {
                    ut[nu] = j;
                    delta[nu++] = 0;
                }
                delta[u] -= 1.0 / n;
            }
        for (int q = 0; q < vi->ntags; q++)
            for (int u = 0; u < nu; u++)
                if (ut[u] == vi->tag[q])
                    delta[u] += 1;
        int idx[(MQ_ASSETS_MAX_TASTE + 10) * MQ_ASSETS_MAX_TAGS + 2 + NZ + MQ_ASSETS_MAX_TASTE + 9];
        double
            val[(MQ_ASSETS_MAX_TASTE + 10) * MQ_ASSETS_MAX_TAGS + 2 + NZ + MQ_ASSETS_MAX_TASTE + 9];
        int nnz = 0;
        for (int k = 0; k < a->C; k++) {
            if (c[k] == 0)
                continue;
            for (int u = 0; u < nu; u++)
                if (delta[u] != 0) {
                    idx[nnz] = k * m->V + ut[u];
                    val[nnz++] = c[k] * delta[u];
                }
        }
        /* how well the title suits the profile, crossed with the variant's tags */
        if (pd->z[1] != 0)
            for (int u = 0; u < nu; u++)
                if (delta[u] != 0) {
                    idx[nnz] = m->i_aff + ut[u];
                    val[nnz++] = pd->z[1] * delta[u];
                }
        if (a->p.use_personal && pd->phi[s] != 0) {
            idx[nnz] = m->i_phi;
            val[nnz++] = pd->phi[s];
        }
        if (pd->ed[s] != 0) {
            idx[nnz] = m->i_ed;
            val[nnz++] = pd->ed[s];
        }
        for (int i = 0; i < NZ; i++) {
            idx[nnz] = m->i_ed + 1 + i;
            val[nnz++] = pd->z[i];
        }
        /* The context's main effects (how much this kind of profile, on this
         * device, plays at all) are learned from every impression, so that the
         * tag crosses are left to learn only how the variants differ; without
         * them each tag's crosses would estimate the same main effect from its own
         * share of the data, and the noise would decide the choice. */
        for (int k = 1; k < a->C; k++)
            if (c[k] != 0) {
                idx[nnz] = m->i_main + k;
                val[nnz++] = c[k];
            }
        double info, resid = model_update(m, idx, val, nnz, reward, &a->p, &info);
        size_t o = ti->s[s].off + (size_t)v;
        m->var_imp.items[o] += 1;
        m->var_rew.items[o] += reward;
        /* the profile's residual on each tag shown (the personal term's data) */
        float *blk = profile_block(a, pr) + a->pers_off[s];
        for (int q = 0; q < vi->ntags; q++) {
            blk[vi->tag[q]] += (float)info;
            blk[m->V + vi->tag[q]] += (float)resid;
        }
        pr->n_tot[s] += 1;
        pr->r_tot[s] += reward;
        if (model_due(m, &a->p))
            assets_refresh_slot(a, s);
    }
    ctx_release(a, pd->ctx);
}

static void pin(mq_assets *a, const pending *pd) {
    int v = pd->var[MQ_SLOT_ARTWORK];
    if (a->p.stable && v != NO_VARIANT) {
        u64map_put(&a->pins, pair_key(pd->profile, pd->title), (uint64_t)v);
        assets_pin_note(a, pd->profile, pd->title);
    }
}

void mq_assets_advance(mq_assets *a, int64_t now_ms) {
    pending pd;
    while (attrib_pop(&a->at, now_ms, &pd))
        finalize(a, &pd, attrib_reward(&a->at, &pd));
}

void mq_assets_observe(mq_assets *a, const mq_event *e) {
    a->events++;
    if (e->seq > a->last_seq)
        a->last_seq = e->seq;
    if (!e->profile_id)
        return;
    switch (e->type) {
    case MQ_EV_IMPRESSION:
        if (e->title_id)
            on_impression(a, e);
        break;
    case MQ_EV_PLAY_START:
    case MQ_EV_PLAY_PROGRESS:
    case MQ_EV_PAUSE:
    case MQ_EV_SEEK:
    case MQ_EV_PLAY_STOP:
    case MQ_EV_COMPLETE: {
        uint64_t done, pinned;
        bool fin = attrib_play(&a->at, e, &done, &pinned);
        if (pinned != UINT64_MAX)
            pin(a, attrib_at(&a->at, pinned));
        if (fin) {
            pending *pd = attrib_at(&a->at, done);
            pending copy = *pd;
            pd->consumed = true;
            finalize(a, &copy, attrib_reward(&a->at, &copy));
        }
        break;
    }
    default:
        break;
    }
    double w = e->title_id ? taste_weight(a, e) : 0;
    if (w != 0) {
        const title_info *ti = features_title(a, e->title_id);
        if (ti)
            taste_add(a, assets_profile(a, e->profile_id, true), ti, w, e->ts_ms);
    }
    mq_assets_advance(a, a->at.clock);
}
