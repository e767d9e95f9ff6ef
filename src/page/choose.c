/* choose.c: the one place where an item's artwork, synopsis and label are
 * chosen. With the asset bandits (src/assets) the choice is theirs, drawn in the
 * request's prepared context with the session's random stream, and its
 * propensity is logged back with the impression; without them, the editorial
 * defaults (artwork[0], synopses[0], every label) with propensity 1. */
#include "page_impl.h"

#include <string.h>

struct pg_choice_ctx {
    mq_asset_context ctx; /* ~90 KB: lives in the request's arena */
    /* By title id, the distributions drawn from (in the arena): a title shown
     * again on the page (a third of a page's items) is drawn again, not scored
     * again. */
    mq_asset_dists **dists;
};

pg_choice_ctx *pg_choice_prepare(pg_req *q) {
    if (!q->rq->assets)
        return NULL;
    pg_choice_ctx *c = mq_arena_alloc(q->a, sizeof *c);
    if (!c)
        return NULL;
    memset(&c->ctx, 0, sizeof c->ctx);
    c->ctx.profile_id = q->rq->profile_id;
    c->ctx.device = q->rq->device;
    c->ctx.ts_ms = q->rq->now_ms;
    mq_time_local(q->rq->now_ms, q->rq->tz_offset_min, &c->ctx.weekday, &c->ctx.hour);
    mq_assets_prepare(q->rq->assets, &c->ctx);
    c->dists = mq_arena_alloc(q->a, ((size_t)q->end + 1) * sizeof *c->dists);
    if (c->dists)
        memset(c->dists, 0, ((size_t)q->end + 1) * sizeof *c->dists);
    return c;
}

/* The choice of title t for one item, from its distributions d (NULL: drawn
 * afresh). */
static void choose_one(pg_req *q, pg_choice_ctx *c, const mq_asset_dists *d, pg_item *it) {
    const uint8_t *na = q->snap->n_assets[it->title];
    const mq_title *t = q->snap->title[it->title];
    mq_asset_choice ch;
    if (d)
        mq_assets_draw_variants(q->rq->assets, d, t, &q->rng, &ch);
    else if (mq_assets_choose(q->rq->assets, &c->ctx, t, &q->rng, &ch) != MQ_OK)
        return;
    if (ch.slot[MQ_SLOT_ARTWORK].variant >= 0 &&
        (uint32_t)ch.slot[MQ_SLOT_ARTWORK].variant < na[0]) {
        it->art = (int8_t)ch.slot[MQ_SLOT_ARTWORK].variant;
        it->propensity = (float)ch.slot[MQ_SLOT_ARTWORK].propensity;
    }
    if (ch.slot[MQ_SLOT_SYNOPSIS].variant >= 0 &&
        (uint32_t)ch.slot[MQ_SLOT_SYNOPSIS].variant < na[1])
        it->syn = (int8_t)ch.slot[MQ_SLOT_SYNOPSIS].variant;
    if (ch.slot[MQ_SLOT_LABEL].variant >= 0 && (uint32_t)ch.slot[MQ_SLOT_LABEL].variant < na[2])
        it->label = (int8_t)ch.slot[MQ_SLOT_LABEL].variant;
}

/* Titles whose distributions are computed together (mq_assets_dists_n). */
#define BATCH 32

void pg_choose_row(pg_req *q, pg_choice_ctx *c, pg_item *items, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        /* The snapshot's counts, not the title itself: a cache miss per item saved. */
        const uint8_t *na = q->snap->n_assets[items[i].title];
        items[i].art = na[0] ? 0 : -1;
        items[i].syn = na[1] ? 0 : -1;
        items[i].label = -1;
        items[i].propensity = 1.0f;
    }
    if (!c)
        return;
    for (uint32_t from = 0; from < n; from += BATCH) {
        uint32_t to = MQ_MIN(n, from + BATCH), m = 0;
        /* The distributions of the titles new to the page, all at once; no
         * random draw is made meanwhile, so the draws below come in item order
         * as if each title had been scored just before its draw. */
        uint32_t ids[BATCH];
        mq_asset_dists *ds[BATCH];
        for (uint32_t i = from; c->dists && i < to; i++) {
            uint32_t t = items[i].title;
            if (c->dists[t] || !(ds[m] = mq_arena_alloc(q->a, sizeof *ds[m])))
                continue;
            c->dists[t] = ds[m];
            ids[m++] = t;
        }
        if (mq_assets_dists_n(q->rq->assets, &c->ctx, ids, m, ds) != MQ_OK) {
            for (uint32_t k = 0; k < m; k++)
                c->dists[ids[k]] = NULL;
            return; /* not prepared: the editorial defaults */
        }
        for (uint32_t i = from; i < to; i++)
            choose_one(q, c, c->dists ? c->dists[items[i].title] : NULL, &items[i]);
    }
}
