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

void pg_choose(pg_req *q, pg_choice_ctx *c, uint32_t title, pg_item *it) {
    /* The snapshot's counts, not the title itself: a cache miss per item saved. */
    const uint8_t *na = q->snap->n_assets[title];
    const mq_title *t = q->snap->title[title];
    it->art = na[0] ? 0 : -1;
    it->syn = na[1] ? 0 : -1;
    it->label = -1;
    it->propensity = 1.0f;
    if (!c)
        return;
    mq_asset_choice ch;
    mq_asset_dists *d = c->dists ? c->dists[title] : NULL;
    if (!d && c->dists && (d = mq_arena_alloc(q->a, sizeof *d))) {
        if (mq_assets_dists(q->rq->assets, &c->ctx, title, d) != MQ_OK)
            return;
        c->dists[title] = d;
    }
    if (d)
        mq_assets_draw(q->rq->assets, d, t, &q->rng, &ch);
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
