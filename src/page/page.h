/*
 * page.h: the personalized homepage. Row builders propose candidate rows (a
 * caption, evidence, the titles that fit), the candidate rows are scored for the
 * profile, and the page is assembled greedily, stage-wise, one row at a time, each
 * choice accounting for the rows already chosen (Alvino & Basilico, "Learning a
 * Personalized Homepage", Netflix Technology Blog, 2015): diversity of row types
 * and themes, no title twice within the first screen and limited repetition below
 * it, demotion of rows the profile keeps scrolling past, rotation of a row's
 * titles after a horizontal scroll in it. Titles within each row are ordered by
 * the ranker.
 *
 *   params.c    settings (page.*), device formats, row kinds and page policies
 *   index.c     what the catalogue gives every page: themes (genre and tag
 *               combinations), a word index for searches, the newest titles;
 *               and what a bundle gives: popularity and trending orders,
 *               similar titles (filled lazily)
 *   rank.c      the one place where titles get their score and match: the ranker
 *   choose.c    the one place where an item's artwork, synopsis and label are chosen
 *   builders.c  the row builders
 *   assemble.c  row scoring and the greedy stage-wise assembly, per page policy
 *   cache.c     assembled pages kept for their cursor and for stable refreshes
 *   render.c    the JSON form (docs/openapi.yaml) and the terminal form
 *   service.c   mq_page_service: catalogue and bundle snapshots, the entry points
 *
 * A page is assembled into a compact layout (row kinds, title ids, the chosen
 * asset variants) and rendered from it, so a layout can be kept for a few minutes
 * and served again: `cursor` returns the next rows of the same page, and a quick
 * refresh with nothing new about the profile returns the same rows (with a new
 * page_id). Anything the profile did in between (a play, a thumbs, a list change,
 * a search) changes the page on the next request.
 *
 * Requests use a caller's arena; nothing is allocated per request beyond it and
 * the live state's copy of the profile. Every function is thread-safe.
 *
 * Uses models, state, assets (and below). docs/page.md explains the method and
 * the settings.
 */
#ifndef MQ_PAGE_H
#define MQ_PAGE_H

#include "assets/assets.h"
#include "models/models.h"
#include "rank/rank.h"
#include "state/state.h"

/* -------------------------------------------------------------- row kinds ---- */

/* X(ENUM, "type", caption). The type is the row id's prefix (before ':') and the
 * JSON `type`. A caption with %s takes the row's subject (a title's name, a
 * search query); theme captions are made from the theme. */
#define MQ_PAGE_ROW_KINDS(X)                                                                       \
    X(CONTINUE, "continue-watching", "Continue Watching")                                          \
    X(TOP_PICKS, "top-picks", "Top Picks for you")                                                 \
    X(BECAUSE_WATCHED, "because-you-watched", "Because you watched %s")                            \
    X(THEME, "theme", "%s")                                                                        \
    X(TRENDING, "trending", "Trending Now")                                                        \
    X(NEW, "new-releases", "New Releases")                                                         \
    X(WATCH_AGAIN, "watch-again", "Watch It Again")                                                \
    X(MY_LIST, "my-list", "My List")                                                               \
    X(BECAUSE_SEARCHED, "because-you-searched", "Because you searched \"%s\"")                     \
    X(POPULAR, "popular", "Popular on marquee")

typedef enum {
#define MQ_PAGE_ROW_ENUM(e, type, caption) MQ_ROW_##e,
    MQ_PAGE_ROW_KINDS(MQ_PAGE_ROW_ENUM)
#undef MQ_PAGE_ROW_ENUM
        MQ_ROW_KIND_COUNT
} mq_page_row_kind;

const char *mq_page_row_type(mq_page_row_kind k);
int mq_page_row_kind_parse(const char *type); /* -1 when unknown */

/* ---------------------------------------------------------------- policies ---- */

/* How a page is made. The simulator compares them; the server serves `full`
 * unless asked otherwise (page.policy). */
#define MQ_PAGE_POLICIES(X)                                                                        \
    X(POPULAR, "popular", "popularity rows, the same for everyone, titles by popularity")          \
    X(TEMPLATE, "template",                                                                        \
      "the same row types in a fixed order for everyone, titles ordered by the ranker")            \
    X(NO_RANKER, "no-ranker",                                                                      \
      "personalized rows (scored and assembled), titles ordered by popularity")                    \
    X(FULL, "full", "personalized rows, titles ordered by the ranker")

typedef enum {
#define MQ_PAGE_POLICY_ENUM(e, name, doc) MQ_PAGE_POLICY_##e,
    MQ_PAGE_POLICIES(MQ_PAGE_POLICY_ENUM)
#undef MQ_PAGE_POLICY_ENUM
        MQ_PAGE_POLICY_COUNT
} mq_page_policy;

const char *mq_page_policy_name(mq_page_policy p);
const char *mq_page_policy_doc(mq_page_policy p);
int mq_page_policy_parse(const char *s); /* -1 when unknown */

/* ---------------------------------------------------------- device formats ---- */

/* Rows and titles per row a device gets by default, and the titles visible
 * without scrolling along a row. */
typedef struct mq_page_format {
    int rows, items, visible;
} mq_page_format;

mq_page_format mq_page_device_format(mq_device d);

/* -------------------------------------------------------------- parameters ---- */

#define MQ_PAGE_MAX_ROWS 100
#define MQ_PAGE_MAX_ITEMS 100

typedef struct mq_page_params {
    mq_page_policy policy;
    int max_rows, max_items;      /* caps on a request's rows and items */
    int screen_rows, screen_cols; /* the first screen: no title twice within it */
    int max_repeats;              /* appearances of one title on a page, at most */
    int min_items;                /* a row with fewer titles left is dropped */
    double kind_penalty;          /* row score lost per row of the same kind above */
    double theme_penalty;         /* ... per unit of theme overlap with rows above */
    double skip_demotion;         /* ... per ln(1 + times scrolled past) */
    double affinity_weight;       /* row score per unit of the profile's theme share */
    double coverage_weight;       /* row score per unit of new themes, by 1 / (1 + plays) */
    double thumbs_down_damp;      /* match lost by titles similar to a thumbs down */
    double impression_damp;       /* match kept per unplayed impression (fallback ranker) */
    double explore;               /* scale of the session's row-score noise */
    int session_minutes;          /* a refresh within this keeps the session seed */
    int new_days;                 /* New Releases: added within this many days */
    int because_rows;             /* Because you watched: rows proposed */
    int theme_rows;               /* theme rows proposed */
    int theme_min_titles;         /* a genre x tag theme needs this many titles */
    double cw_half_life_days;     /* Continue Watching: recency half-life */
    int cache_pages;              /* layouts kept for cursors and refreshes */
    int cache_ttl_s;              /* ... for this long */
    uint64_t seed;                /* session seeds derive from it */
    const char *url_template;     /* assets.url_template, borrowed */
    mq_semantics sem;             /* thresholds (complete / abandon fractions) */
    mq_rank_settings rank;        /* rank.* request settings */
} mq_page_params;

void mq_page_params_default(mq_page_params *p);
/* page.*, rank.*, assets.url_template and semantics.* from the configuration. A bad
 * page.policy is an error naming the setting. */
int mq_page_params_from_config(mq_page_params *p, const mq_config *c, mq_err *err);
/* NULL when valid, else a message naming the bad parameter. */
const char *mq_page_params_check(const mq_page_params *p);

/* ---------------------------------------------------------------- service ---- */

/* Everything a page needs that outlives one request: the catalogue snapshot and
 * what is derived from it, what is derived from each bundle, the layout cache.
 * The caller destroys it with mq_page_service_destroy. */
typedef struct mq_page_service mq_page_service;

int mq_page_service_create(const mq_page_params *p, mq_page_service **out, mq_err *err);
void mq_page_service_destroy(mq_page_service *s);
const mq_page_params *mq_page_service_params(const mq_page_service *s);
/* Installs a catalogue (ownership is taken, also on failure) and derives the
 * themes and the word index from it. Requests in flight finish on the previous
 * snapshot. */
int mq_page_service_set_catalog(mq_page_service *s, mq_catalog *cat, mq_err *err);
/* The catalogue being served (NULL before set_catalog), valid until the next
 * set_catalog; for callers that look up titles and profiles. */
const mq_catalog *mq_page_service_catalog(const mq_page_service *s);

/* One page request. */
typedef struct mq_page_request {
    uint32_t profile_id; /* internal id */
    const char *profile; /* external id (for the page) */
    int maturity_limit;  /* highest title maturity shown (18 = every title) */
    mq_device device;
    int64_t now_ms;
    int tz_offset_min;
    const char *country;     /* ISO 3166 alpha-2 of the profile (NULL: unknown) */
    int rows, items;         /* 0 = the device's format */
    int policy;              /* mq_page_policy; -1 = the service's */
    const mq_bundle *bundle; /* NULL: no model yet (pages from the catalogue) */
    int64_t bundle_version;  /* tells bundles at one address apart */
    mq_state *state;         /* live state (may be NULL: a profile with no history) */
    const mq_assets *assets; /* asset bandits (NULL: the editorial defaults) */
    uint64_t seed;           /* extra session-seed input (the simulator's run seed) */
    bool fresh;              /* assemble anew even when a refresh could reuse a page */
} mq_page_request;

/* ------------------------------------------------------------------- pages ---- */

typedef struct mq_page_item {
    uint32_t title_id;
    const mq_title *title;        /* from the page's catalogue snapshot */
    double match;                 /* calibrated probability of a play, 0..1; NaN: no model */
    int artwork, synopsis, label; /* chosen variants (-1: none) */
    double propensity;            /* probability the artwork was chosen with */
    char evidence[96];
} mq_page_item;

typedef struct mq_page_row {
    mq_page_row_kind kind;
    const char *row_id, *caption, *evidence;
    double score; /* the row's score when it was chosen */
    mq_page_item *items;
    size_t n_items;
} mq_page_row;

typedef struct mq_page_stats {
    double assemble_us, score_us, render_us;
    size_t candidates;  /* candidate rows proposed */
    size_t arena_bytes; /* request arena used */
    bool reused;        /* a refresh served the previous layout */
} mq_page_stats;

typedef struct mq_page {
    char page_id[48];
    const char *profile;
    mq_device device;
    mq_page_policy policy;
    int64_t generated_ms;
    size_t total_rows; /* rows of the whole page */
    size_t first_row;  /* index of rows[0] in the page (cursor requests) */
    mq_page_row *rows;
    size_t n_rows;
    char next_cursor[64]; /* "" when no rows follow */
    mq_page_stats stats;
    void *snap; /* private: the catalogue snapshot the page pins */
} mq_page;

/* Assembles a page for rq into `a` (everything it points to lives in `a`, and in
 * the service's catalogue snapshot, which stays valid while `a` does) and returns
 * its first rq->rows rows (the rest are kept for the cursor). */
int mq_page_build(mq_page_service *s, const mq_page_request *rq, mq_arena *a, mq_page *out,
                  mq_err *err);
/* The next `rows` rows of a page after `cursor` (a page's next_cursor): MQ_ENOTFOUND
 * when the page has expired from the cache (the client asks for a new page). The
 * request gives the profile (it must be the page's), the live state and assets. */
int mq_page_next(mq_page_service *s, const mq_page_request *rq, const char *cursor, int rows,
                 mq_arena *a, mq_page *out, mq_err *err);
/* Releases what mq_page_build or mq_page_next pinned (the catalogue snapshot);
 * call it before resetting the arena. */
void mq_page_done(mq_page_service *s, mq_page *p);

/* The JSON form (docs/openapi.yaml, HomePage) into b. */
int mq_page_json(const mq_page *p, const mq_page_params *params, mq_buf *b);
/* A readable form for a terminal: rows, captions, evidence and titles with their
 * match. `width` is the line width; colour when `ansi`. */
void mq_page_print(const mq_page *p, FILE *f, int width, bool ansi);

/* First screen (params' rows x cols) membership: true when title_id is within it. */
bool mq_page_in_first_screen(const mq_page *p, const mq_page_params *params, uint32_t title_id);

#endif
