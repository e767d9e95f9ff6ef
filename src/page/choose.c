/* choose.c: the one place where an item's artwork, synopsis and label are
 * chosen. With the asset bandits (src/assets) the choice is theirs, drawn in the
 * request's prepared context with the session's random stream, and its
 * propensity is logged back with the impression; without them, the editorial
 * defaults (artwork[0], synopses[0], every label) with propensity 1. */
#include "page_impl.h"

#include <string.h>

struct pg_choice_ctx {
    mq_asset_context ctx; /* ~90 KB: lives in the request's arena */
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
    return c;
}

void pg_choose(pg_req *q, pg_choice_ctx *c, const mq_title *t, pg_item *it) {
    it->art = t->n_artwork ? 0 : -1;
    it->syn = t->n_synopses ? 0 : -1;
    it->label = -1;
    it->propensity = 1.0f;
    if (!c)
        return;
    mq_asset_choice ch;
    if (mq_assets_choose(q->rq->assets, &c->ctx, t, &q->rng, &ch) != MQ_OK)
        return;
    if (ch.slot[MQ_SLOT_ARTWORK].variant >= 0 &&
        (uint32_t)ch.slot[MQ_SLOT_ARTWORK].variant < t->n_artwork) {
        it->art = (int8_t)ch.slot[MQ_SLOT_ARTWORK].variant;
        it->propensity = (float)ch.slot[MQ_SLOT_ARTWORK].propensity;
    }
    if (ch.slot[MQ_SLOT_SYNOPSIS].variant >= 0 &&
        (uint32_t)ch.slot[MQ_SLOT_SYNOPSIS].variant < t->n_synopses)
        it->syn = (int8_t)ch.slot[MQ_SLOT_SYNOPSIS].variant;
    if (ch.slot[MQ_SLOT_LABEL].variant >= 0 &&
        (uint32_t)ch.slot[MQ_SLOT_LABEL].variant < t->labels.n)
        it->label = (int8_t)ch.slot[MQ_SLOT_LABEL].variant;
}
