/* semantics.c: the semantics table. What each event and derived signal means for
 * training, with every weight taken from the configuration (semantics.*). This is
 * the only file that decides that a rating of 4 is a positive or that stopping at
 * 5% is an early abandon. docs/semantics.md is the human version of this file. */
#include "events.h"

#include <math.h>

void mq_semantics_from_config(mq_semantics *s, const mq_config *c) {
    s->half_life_days = mq_config_num(c, "semantics.half_life_days");
    s->rating_positive = mq_config_num(c, "semantics.rating_positive");
    s->rating_negative = mq_config_num(c, "semantics.rating_negative");
    s->complete_fraction = mq_config_num(c, "semantics.complete_fraction");
    s->abandon_fraction = mq_config_num(c, "semantics.abandon_fraction");
    s->w_play = mq_config_num(c, "semantics.w_play");
    s->w_complete = mq_config_num(c, "semantics.w_complete");
    s->w_rewatch = mq_config_num(c, "semantics.w_rewatch");
    s->w_thumbs_up = mq_config_num(c, "semantics.w_thumbs_up");
    s->w_rating = mq_config_num(c, "semantics.w_rating");
    s->w_list_add = mq_config_num(c, "semantics.w_list_add");
    s->w_search_click = mq_config_num(c, "semantics.w_search_click");
    s->w_thumbs_down = mq_config_num(c, "semantics.w_thumbs_down");
    s->w_abandon = mq_config_num(c, "semantics.w_abandon");
}

void mq_semantics_defaults(mq_semantics *s) {
    mq_config *c = mq_config_create();
    mq_semantics_from_config(s, c);
    mq_config_destroy(c);
}

mq_signal mq_semantics_event(const mq_semantics *s, const mq_event *e) {
    mq_signal g = {0};
    switch (e->type) {
    case MQ_EV_RATING:
        /* Explicit stars: at or above the threshold is a positive whose confidence
         * grows with each star above it; at or below the negative threshold is a
         * negative; in between carries a weak positive (they chose to watch it). */
        if (e->value >= s->rating_positive) {
            g.positive = true;
            g.confidence = s->w_rating * (1.0 + e->value - s->rating_positive);
        } else if (e->value <= s->rating_negative) {
            g.negative = s->w_rating * (1.0 + s->rating_negative - e->value);
        }
        break;
    case MQ_EV_THUMBS:
        if (e->value > 0) {
            g.positive = true;
            g.confidence = s->w_thumbs_up;
        } else if (e->value < 0) {
            g.negative = s->w_thumbs_down;
        }
        break;
    case MQ_EV_COMPLETE:
        g.positive = true;
        g.confidence = s->w_complete;
        break;
    case MQ_EV_LIST_ADD:
        g.confidence = s->w_list_add;
        break;
    case MQ_EV_SEARCH_CLICK:
        g.confidence = s->w_search_click;
        break;
    default:
        break;
    }
    return g;
}

mq_signal mq_semantics_play(const mq_semantics *s, double frac, bool rewatch) {
    mq_signal g = {0};
    if (!(frac >= 0))
        frac = 0;
    if (frac > 1)
        frac = 1;
    if (frac < s->abandon_fraction) {
        g.negative = s->w_abandon;
        return g;
    }
    g.confidence = s->w_play * frac;
    if (frac >= s->complete_fraction) {
        g.positive = true;
        g.confidence += s->w_complete;
    }
    if (rewatch)
        g.confidence += s->w_rewatch;
    return g;
}

double mq_semantics_decay(const mq_semantics *s, int64_t age_ms) {
    if (age_ms <= 0)
        return 1.0;
    double days = (double)age_ms / 86400000.0;
    return pow(0.5, days / s->half_life_days);
}
