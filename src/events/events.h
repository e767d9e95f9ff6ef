/*
 * events.h: what a profile did or was shown. The event types and the fields each
 * one carries (one spec table feeds validation and docs), parsing and validation
 * of the JSON form, and the semantics table: the one place that says what an event
 * or a derived signal means for training (a positive with some confidence, or a
 * negative). DESIGN.md's event tables are the contract; docs/data-model.md
 * documents the JSON form.
 */
#ifndef MQ_EVENTS_H
#define MQ_EVENTS_H

#include "catalog/catalog.h"
#include "util/util.h"

/* Field groups an event type may carry. */
enum {
    MQ_F_TITLE = 1 << 0,      /* title required */
    MQ_F_PAGE = 1 << 1,       /* page_id, row_id, row_pos, col_pos required */
    MQ_F_ARTWORK = 1 << 2,    /* artwork_id required; synopsis_id, label, propensity optional */
    MQ_F_POSITION = 1 << 3,   /* position_s required */
    MQ_F_DURATION = 1 << 4,   /* duration_s required */
    MQ_F_QUERY = 1 << 5,      /* query required */
    MQ_F_THUMB = 1 << 6,      /* value: "up" | "down" | "none" */
    MQ_F_STARS = 1 << 7,      /* value: 0.5 - 5 */
    MQ_F_DIRECTION = 1 << 8,  /* direction: "past" | "along" */
    MQ_F_ROW = 1 << 9,        /* page_id, row_id, row_pos required; col_pos optional */
};

/* X(ENUM, "name", fields). The enum values are stored in the event log, so new
 * types are only ever appended. */
#define MQ_EVENT_TYPES(X)                                                                \
    X(IMPRESSION, "impression", MQ_F_TITLE | MQ_F_PAGE | MQ_F_ARTWORK)                   \
    X(CLICK, "click", MQ_F_TITLE | MQ_F_PAGE)                                            \
    X(PLAY_START, "play_start", MQ_F_TITLE | MQ_F_POSITION)                              \
    X(PAUSE, "pause", MQ_F_TITLE | MQ_F_POSITION)                                        \
    X(SEEK, "seek", MQ_F_TITLE | MQ_F_POSITION)                                          \
    X(PLAY_PROGRESS, "play_progress", MQ_F_TITLE | MQ_F_POSITION | MQ_F_DURATION)        \
    X(PLAY_STOP, "play_stop", MQ_F_TITLE | MQ_F_POSITION | MQ_F_DURATION)                \
    X(COMPLETE, "complete", MQ_F_TITLE | MQ_F_DURATION)                                  \
    X(SEARCH, "search", MQ_F_QUERY)                                                      \
    X(SEARCH_CLICK, "search_click", MQ_F_TITLE | MQ_F_QUERY)                             \
    X(THUMBS, "thumbs", MQ_F_TITLE | MQ_F_THUMB)                                         \
    X(RATING, "rating", MQ_F_TITLE | MQ_F_STARS)                                         \
    X(ROW_SCROLL, "row_scroll", MQ_F_ROW | MQ_F_DIRECTION)                               \
    X(LIST_ADD, "list_add", MQ_F_TITLE)                                                  \
    X(LIST_REMOVE, "list_remove", MQ_F_TITLE)

typedef enum {
#define MQ_EV_ENUM(e, name, fields) MQ_EV_##e,
    MQ_EVENT_TYPES(MQ_EV_ENUM)
#undef MQ_EV_ENUM
        MQ_EV_COUNT
} mq_event_type;

typedef enum {
    MQ_DEVICE_UNKNOWN = 0,
    MQ_DEVICE_TV,
    MQ_DEVICE_PHONE,
    MQ_DEVICE_TABLET,
    MQ_DEVICE_WEB,
    MQ_DEVICE_COUNT
} mq_device;

typedef enum { MQ_DIR_NONE = 0, MQ_DIR_PAST, MQ_DIR_ALONG } mq_scroll_dir;

/* Thumbs values as stored in mq_event.value. */
#define MQ_THUMB_UP 1.0
#define MQ_THUMB_DOWN -1.0
#define MQ_THUMB_NONE 0.0

#define MQ_EVENT_ID_MAX 128
#define MQ_QUERY_MAX 512

/* One event. Strings are borrowed (from the parsed JSON, an arena or the store's
 * scan buffer); the struct owns nothing. Absent optional numbers are NaN, absent
 * positions -1, absent strings NULL. */
typedef struct mq_event {
    int64_t seq; /* position in the event log, set by the store; 0 = not stored */
    const char *event_id;
    const char *profile; /* external ids */
    const char *title;   /* NULL for types without a title */
    uint32_t profile_id; /* internal ids, set by the store */
    uint32_t title_id;
    mq_event_type type;
    int64_t ts_ms;
    mq_device device;
    int16_t tz_offset_min;
    char country[4];
    const char *page_id, *row_id, *artwork_id, *synopsis_id, *query;
    const char *label; /* the evidence label shown with an impression (its text) */
    int32_t row_pos, col_pos;
    double propensity;
    double position_s, duration_s;
    double value; /* stars for rating; MQ_THUMB_* for thumbs */
    mq_scroll_dir direction;
} mq_event;

const char *mq_event_type_name(mq_event_type t);
/* Returns -1 when unknown. */
int mq_event_type_parse(const char *s);
unsigned mq_event_type_fields(mq_event_type t);
const char *mq_device_name(mq_device d);
int mq_device_parse(const char *s); /* -1 when unknown */

/* An event with every optional field marked absent. */
void mq_event_init(mq_event *e);

/* Limits applied to timestamps: earliest accepted, and how far past `now` an event
 * may be dated. */
#define MQ_TS_MIN_MS 0LL
#define MQ_TS_FUTURE_SLACK_MS (24LL * 3600 * 1000)

/* Parses and validates one event from its JSON form. `where` prefixes messages
 * ("events[3]", "events.jsonl:12"). Strings point into `o`. `now_ms` bounds the
 * timestamp (0 = no upper bound, for importing old logs). */
int mq_event_from_json(const json_t *o, mq_event *e, const char *where, int64_t now_ms,
                       mq_err *err);
/* The JSON form; the caller owns the result. */
json_t *mq_event_to_json(const mq_event *e);
/* Checks the fields required by e->type are present and in range (what
 * mq_event_from_json does after reading the fields). */
int mq_event_validate(const mq_event *e, const char *where, int64_t now_ms, mq_err *err);

/* Local weekday (0 = Monday) and hour of the event, from ts and tz_offset_min. */
void mq_event_local_time(const mq_event *e, int *weekday, int *hour);

/* ------------------------------------------------------------- semantics ---- */

/* The semantics table: every weight that turns behaviour into training signal. Its
 * values come from the configuration table (semantics.*); no such constant lives
 * anywhere else. docs/semantics.md explains each row. */
typedef struct mq_semantics {
    double half_life_days;
    double rating_positive, rating_negative;
    double complete_fraction, abandon_fraction;
    double w_play, w_complete, w_rewatch, w_thumbs_up, w_rating, w_list_add, w_search_click;
    double w_thumbs_down, w_abandon;
} mq_semantics;

void mq_semantics_defaults(mq_semantics *s);
void mq_semantics_from_config(mq_semantics *s, const mq_config *c);

/* What one event or derived signal says about (profile, title). */
typedef struct mq_signal {
    double confidence; /* > 0: positive evidence with this weight */
    double negative;   /* > 0: negative evidence with this strength */
    bool positive;     /* counts as a positive for evaluation protocols */
} mq_signal;

/* Signals a single event carries on its own: rating, thumbs, complete, list_add,
 * search_click. Play-based signals need the play's extent: mq_semantics_play. */
mq_signal mq_semantics_event(const mq_semantics *s, const mq_event *e);
/* The derived signal of one play of a title: watch fraction (0..1), whether it is a
 * rewatch (the title was completed before). Completion and early abandon follow
 * from the fraction and the table's thresholds. */
mq_signal mq_semantics_play(const mq_semantics *s, double watch_fraction, bool rewatch);
/* Recency weight of an interaction `age_ms` old: 0.5^(age / half-life). */
double mq_semantics_decay(const mq_semantics *s, int64_t age_ms);

#endif
