/*
 * state.h: live per-profile state. What the page builder needs to know about a
 * profile right now, updated in memory on every accepted event and rebuilt from
 * the event log at start (the caller replays the log through mq_state_apply):
 *
 *   - the watch history with exponential recency decay (semantics.half_life_days):
 *     per title, the decayed positive confidence and negative strength that the
 *     semantics table (events.h) assigns to what the profile did;
 *   - continue-watching positions;
 *   - thumbs and My List;
 *   - impressions shown without a play, per title;
 *   - rows scrolled past (and along), per row id, grouped by row type;
 *   - device and hour-of-day habits (counted on play starts);
 *   - the latest searches (query, when, the title clicked from it), for the
 *     page's "Because you searched" rows.
 *
 * Derived signals (watch fraction, completion, rewatch, early abandon, impression
 * without play, row skipped) are defined in one table, MQ_STATE_SIGNALS below,
 * computed in one function in state.c and documented in docs/semantics.md; no
 * handler computes them on its own.
 *
 * Profiles are spread over shards by internal id, each with its own lock, so
 * concurrent readers and the writer do not serialize on one mutex. Every function
 * here is thread-safe.
 */
#ifndef MQ_STATE_H
#define MQ_STATE_H

#include "catalog/catalog.h"
#include "events/events.h"
#include "util/util.h"

/* The derived-signal table. X(ENUM, "name", scope, meaning). Scope is 'T' for a
 * signal of one (profile, title), 'R' for one of a (profile, row). */
#define MQ_STATE_SIGNALS(X)                                                              \
    X(WATCH_FRACTION, "watch_fraction", 'T',                                             \
      "furthest position reached in the latest play / the title's duration (0..1); "    \
      "scales the play's confidence (semantics.w_play)")                                 \
    X(COMPLETION, "completion", 'T',                                                     \
      "1 when the latest play reached semantics.complete_fraction or sent `complete`: "  \
      "a positive (semantics.w_complete)")                                               \
    X(REWATCH, "rewatch", 'T',                                                           \
      "1 when the latest play started after an earlier completion: extra confidence "    \
      "(semantics.w_rewatch)")                                                           \
    X(EARLY_ABANDON, "early_abandon", 'T',                                               \
      "1 when the latest play ended before semantics.abandon_fraction: a negative "      \
      "(semantics.w_abandon)")                                                           \
    X(IMPRESSION_NO_PLAY, "impression_without_play", 'T',                                \
      "impressions of the title since its last play (0 when never shown unplayed): "    \
      "a weak implicit negative for ranking")                                            \
    X(ROW_SKIPPED, "row_skipped", 'R',                                                   \
      "times the profile scrolled vertically past the row: the row's theme interests "   \
      "it less")

typedef enum {
#define MQ_SIG_ENUM(e, name, scope, doc) MQ_SIG_##e,
    MQ_STATE_SIGNALS(MQ_SIG_ENUM)
#undef MQ_SIG_ENUM
        MQ_SIG_COUNT
} mq_state_signal;

const char *mq_state_signal_name(mq_state_signal s);
const char *mq_state_signal_doc(mq_state_signal s);
/* 'T' (per title) or 'R' (per row). */
char mq_state_signal_scope(mq_state_signal s);

/* Bounds on one profile's state, so that no input grows it without limit. Past
 * them the least useful entry is evicted (an impression-only title seen longest
 * ago, else the title with the smallest decayed weight; the least-skipped row). */
#define MQ_STATE_MAX_TITLES 512
#define MQ_STATE_MAX_ROWS 256
/* Distinct row ids remembered process-wide; later ones are counted as "other". */
#define MQ_STATE_MAX_ROW_IDS 65536
/* Latest distinct searches kept per profile, and the bytes of a query kept
 * (longer queries are cut at a UTF-8 boundary). */
#define MQ_STATE_MAX_SEARCHES 4
#define MQ_STATE_QUERY_MAX 56

typedef struct mq_state mq_state;

/* `sem` is copied. The caller destroys the state with mq_state_destroy. */
mq_state *mq_state_create(const mq_semantics *sem);
void mq_state_destroy(mq_state *st);

/* Applies one stored event. e->profile_id must be set (and e->title_id for types
 * with a title), as the store sets them; events without a profile id are ignored. */
void mq_state_apply(mq_state *st, const mq_event *e);
/* Drops everything known about a profile (it was deleted). */
void mq_state_forget(mq_state *st, uint32_t profile_id);

/* Profiles with any state, and the bytes the state holds (allocated capacity of
 * every array, not counting allocator overhead). */
size_t mq_state_profile_count(mq_state *st);
size_t mq_state_memory(mq_state *st);

/* ------------------------------------------------------------------ views ---- */

/* A copy of one profile's state, decayed to a given time. Owned by the caller:
 * release with mq_state_view_free. */
typedef struct mq_state_title {
    uint32_t title_id;
    double weight;   /* decayed positive confidence */
    double negative; /* decayed negative strength */
    int64_t last_ms; /* latest event on the title */
    double position_s, duration_s; /* latest playback position; duration 0 = unknown */
    int thumb;                     /* 1 up, -1 down, 0 none */
    bool in_list, playing, completed_ever;
    uint32_t plays;
    double signal[MQ_SIG_COUNT]; /* the 'T' signals; 'R' entries are 0 */
} mq_state_title;

typedef struct mq_state_row {
    const char *row_id; /* lives as long as the mq_state */
    uint32_t past, along;
} mq_state_row;

typedef struct mq_state_search {
    char query[MQ_STATE_QUERY_MAX]; /* as typed (cut), NUL-terminated */
    int64_t last_ms;                /* latest search (or click) with this query */
    uint32_t clicked;               /* latest title clicked from it; 0 = none */
} mq_state_search;

typedef struct mq_state_view {
    uint32_t profile_id;
    uint64_t events;   /* events applied */
    int64_t last_ms;   /* latest event; 0 = none */
    mq_state_title *titles;
    size_t n_titles;
    mq_state_row *rows;
    size_t n_rows;
    uint32_t device[MQ_DEVICE_COUNT]; /* play starts by device */
    uint32_t hour[24];                /* play starts by local hour */
    mq_state_search searches[MQ_STATE_MAX_SEARCHES]; /* newest first */
    size_t n_searches;
} mq_state_view;

/* Fills `out` with profile_id's state decayed to now_ms. Returns false (and an
 * empty view) when the profile has no state. */
bool mq_state_get(mq_state *st, uint32_t profile_id, int64_t now_ms, mq_state_view *out);
void mq_state_view_free(mq_state_view *v);

/* Continue-watching: titles whose latest play has a position and did not complete.
 * Everything else about a title's latest play follows from its signals. */
bool mq_state_title_continue(const mq_state_title *t);

/* The JSON form served by GET /v1/profiles/{id}/state (docs/openapi.yaml).
 * title_name maps an internal title id to its external id (NULL: skip the title,
 * e.g. deleted since). The caller owns the result. */
typedef const char *(*mq_state_title_name_fn)(void *ud, uint32_t title_id);
json_t *mq_state_view_json(const mq_state_view *v, const char *profile_ext,
                           mq_state_title_name_fn title_name, void *ud);

#endif
