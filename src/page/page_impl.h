/*
 * page_impl.h: private to the page module. The catalogue snapshot and what is
 * derived from it (themes, word index, newest titles), what is derived from a
 * bundle (popularity and trending orders, similar titles), one request's working
 * set, candidate rows, and the compact page layout that the cache keeps and the
 * renderers read.
 */
#ifndef MQ_PAGE_IMPL_H
#define MQ_PAGE_IMPL_H

#include "page.h"

#include <pthread.h>
#include <stdatomic.h>

/* ---------------------------------------------------------------- snapshot ---- */

/* A theme: one genre, or a genre and a tag ("Feel-good comedies"). */
typedef struct pg_theme {
    int genre, tag;      /* vocabulary indices; tag -1 for a genre alone */
    const char *caption; /* "Feel-good comedies" */
    const char *row_id;  /* "theme:comedy+feel-good" */
    uint32_t *members;   /* title ids */
    uint32_t n;
} pg_theme;

typedef struct pg_bdata pg_bdata;

/* What the catalogue gives every page; immutable once built, refcounted. */
typedef struct pg_snap {
    _Atomic long refs;
    uint64_t version;
    mq_catalog *cat;
    uint32_t end;           /* one past the largest title id */
    const mq_title **title; /* by id; NULL when absent */
    /* By id: the title's maturity clamped to [-1, 100] (the same comparisons with
     * any limit from 1 to 18), PG_ABSENT when there is no title: every request
     * filters the whole catalogue by it, and this is a byte per title where the
     * titles themselves are a cache line each. */
    int8_t *maturity;
    /* By id: how many artworks, synopses and labels the title has (at most 255),
     * for the same reason: choosing an item's assets need not read the title. */
    uint8_t (*n_assets)[3];
    /* vocabulary */
    mq_strmap *genre_ids, *tag_ids;
    MQ_VEC(const char *) genres;
    MQ_VEC(const char *) tags;
    /* themes, and each title's themes (CSR by title id) */
    pg_theme *themes;
    uint32_t n_themes;
    uint32_t *tt_ptr, *tt_idx;
    uint32_t *genre_theme; /* genre -> its genre-alone theme (UINT32_MAX: none) */
    uint32_t *by_size;     /* genre-alone themes, largest first */
    uint32_t n_by_size;
    /* search: word -> titles (CSR over word ids) */
    mq_strmap *words;
    uint32_t *w_ptr, *w_idx;
    /* titles by date added, newest first */
    uint32_t *newest;
    uint32_t n_newest;
    int64_t newest_ms;
    mq_arena arena; /* strings and arrays above */
    /* what each bundle gives (one at a time, replaced when the bundle changes) */
    pthread_mutex_t bd_mu;
    pg_bdata *bd;
    /* Each title's JSON pieces (render.c), written on first use: a title's name,
     * assets and labels are the same on every page, and escaping them again for
     * every item was most of the cost of a page's JSON. By title id; owned. */
    char *url_template; /* the assets.url_template the pieces were written with */
    _Atomic(struct pg_json_title *) *json;
} pg_snap;

/* render.c: frees a title's JSON pieces. */
void pg_json_title_free(struct pg_json_title *j);

#define PG_ABSENT INT8_MIN
void pg_snap_release(pg_snap *s);
int pg_snap_build(mq_catalog *cat, const mq_page_params *p, uint64_t version, pg_snap **out,
                  mq_err *err);

/* What a bundle (or its absence) gives: per snapshot, refcounted. */
struct pg_bdata {
    _Atomic long refs;
    const mq_bundle *b; /* key: pointer and version (NULL: no bundle) */
    int64_t version;
    uint32_t n_cols;
    uint32_t *col;       /* title id -> bundle column (UINT32_MAX: not in it) */
    float *pop;          /* title id -> popularity percentile, 0..1 */
    uint32_t *pop_order; /* title ids, most popular first */
    uint32_t n_pop;
    uint32_t *trend_order; /* title ids, most trending first */
    uint32_t n_trend;
    float *theme_pop;   /* theme -> mean popularity percentile of its top titles */
    float *theme_share; /* theme -> its titles' share of all plays, / the largest */
    /* Each theme's members, most popular first (pop descending): CSR over themes,
     * theme_ptr NULL when it could not be built. A title the ranker did not score
     * is ordered by its popularity, so a short theme row is completed from here
     * instead of by sorting all its members. */
    uint32_t *theme_ptr, *theme_by_pop;
    uint32_t end;                 /* title ids covered */
    _Atomic(uint32_t *) *similar; /* title id -> [n, ids...], filled on first use */
};

/* The bundle data for (snap, b, version), built on first use. The caller releases it. */
pg_bdata *pg_bdata_get(pg_snap *s, const mq_bundle *b, int64_t version);
void pg_bdata_release(pg_bdata *bd);
/* Titles similar to title t (at most PG_SIMILAR), most similar first: item-kNN,
 * else iALS factors, else shared themes. Computed once per bundle and title. */
#define PG_SIMILAR 48
/* The models' workspace of this thread, for bundle b. */
mq_model_ws *pg_model_ws(const mq_bundle *b, int64_t version);
const uint32_t *pg_similar(const pg_snap *s, pg_bdata *bd, uint32_t t, mq_arena *a, uint32_t *n);

/* ---------------------------------------------------------------- layout ---- */

/* Why an item is there (the ranker's strongest reason, compact). */
enum {
    PG_WHY_NONE = 0,
    PG_WHY_WATCHED,
    PG_WHY_LIKED,
    PG_WHY_GENRE,
    PG_WHY_TRENDING,
    PG_WHY_POPULAR,
    PG_WHY_NEW,
    PG_WHY_LIST,
    PG_WHY_COUNTRY
};

typedef struct pg_item {
    uint32_t title;
    uint32_t why_title; /* evidence title for PG_WHY_WATCHED / LIKED */
    float propensity;
    uint16_t match; /* match x 10000; 0xFFFF: none */
    uint16_t aux;   /* per row kind: minutes left, days, rank; 0xFFFF: none */
    int8_t art, syn, label;
    uint8_t why;        /* PG_WHY_* */
    uint16_t why_genre; /* snapshot genre index + 1 for PG_WHY_GENRE */
    uint16_t pad;
} pg_item;

typedef struct pg_row {
    uint8_t kind;
    uint8_t pad;
    uint16_t n;     /* items */
    uint32_t first; /* index of the first item */
    uint32_t ref;   /* theme index, subject title id, ... */
    uint32_t str;   /* offset of row_id, caption, evidence (3 NUL-terminated) */
    float score;
} pg_row;

/* One assembled page: what the cache keeps and the renderers read. */
typedef struct pg_layout {
    uint64_t seq;
    uint32_t profile;
    uint8_t device, policy;
    uint16_t n_rows;
    uint32_t n_items, str_len;
    int64_t created_ms, session;
    uint64_t signature, snap_version;
    int64_t bundle_version;
    const void *bundle;
    int rows_req, items_req;
    pg_row *rows;
    pg_item *items;
    char *strs;
} pg_layout;

/* ------------------------------------------------------------------ cache ---- */

typedef struct pg_cache pg_cache;
pg_cache *pg_cache_create(int pages, int ttl_s);
void pg_cache_destroy(pg_cache *c);
/* Keeps a copy of l (under l->seq). */
void pg_cache_put(pg_cache *c, const pg_layout *l, int64_t now_ms);
/* Copies the layout with this seq into `a`; false when it expired or was evicted. */
bool pg_cache_get(pg_cache *c, uint64_t seq, int64_t now_ms, mq_arena *a, pg_layout *out);
/* The seq of the profile's latest layout, 0 when none. */
uint64_t pg_cache_latest(pg_cache *c, uint32_t profile);

/* ---------------------------------------------------------------- service ---- */

struct mq_page_service {
    mq_page_params p;
    pthread_mutex_t snap_mu;
    pg_snap *snap;
    uint64_t snap_versions;
    pg_cache *cache;
    _Atomic uint64_t seq;
    uint32_t boot; /* distinguishes this process's page ids */
};

/* ---------------------------------------------------------------- request ---- */

/* Per-title flags of one request. */
enum {
    PG_OK = 1 << 0,       /* may be shown (exists, maturity, no thumbs down) */
    PG_FINISHED = 1 << 1, /* completed and not in progress: only CW / Watch It Again */
    PG_HIST = 1 << 2,     /* in the profile's state */
    PG_RANKED = 1 << 3,   /* scored by the ranker (else ordered by popularity) */
    PG_PLAYED = 1 << 4,
};

/* A candidate row while the page is assembled. */
typedef struct pg_cand {
    mq_page_row_kind kind;
    uint32_t ref;
    const char *row_id, *caption, *evidence;
    uint32_t *list; /* ordered titles */
    uint32_t n;
    uint32_t rotate;         /* start offset (horizontal scrolls) */
    double prior;            /* kind prior and personal evidence */
    double affinity;         /* the profile's share of weight in the row's theme */
    int facets[4], n_facets; /* genre/tag ids (genres >= 0, tags encoded -2 - tag) */
    uint32_t skipped;        /* times scrolled past (this row, and its type / 2) */
    bool chosen;
    bool keep_order; /* Continue Watching: resume order, not the ranker's */
    bool deferred;   /* a theme row waiting for fill_themes */
    uint16_t *aux;   /* per list entry, or NULL */
    float *val;      /* per list entry: the value for row quality (else u) */
    /* assemble.c: the row's exploration noise and its demotion for scrolls past
     * it (fixed for the request), and its largest facet overlap with the rows
     * chosen so far (grows as rows are) */
    double noise, skip_cost, overlap_above;
} pg_cand;

typedef struct pg_req {
    mq_page_service *svc;
    const mq_page_params *p;
    pg_snap *snap;
    pg_bdata *bd;
    const mq_page_request *rq;
    mq_page_policy policy;
    mq_page_format fmt;
    int rows, items;
    mq_arena *a;
    mq_state_view view;
    bool have_view;
    uint32_t end;
    float *u;               /* ordering score per title (higher first) */
    float *match;           /* match per title, NaN when unknown */
    float *key;             /* ordering key: 1 + u when ranked, else popularity */
    const uint32_t *ranked; /* title ids in decreasing key order, when known */
    uint32_t n_ranked;
    bool ranked_all; /* every title flagged PG_RANKED is in ranked[] */
    uint8_t *flags;
    uint8_t *use;       /* appearances on the page; bit 7: in the first screen */
    double *theme_aff;  /* per theme: the profile's share of positive weight */
    double hist_weight; /* total positive weight */
    uint32_t played;    /* titles the profile played */
    uint8_t *covered;   /* per theme: shown in the visible places of a chosen row */
    /* assemble.c, per title: the share of its themes not covered yet, as of
     * cover_gen (bumped by a row's commit that covers a theme); a title
     * stands in several candidate rows, scored at every position. */
    uint32_t cover_gen;
    uint16_t *fresh_gen;
    double *fresh;
    double disc_sum; /* assemble.c: the position weights of the visible places */
    int64_t session;
    uint64_t seed;
    mq_rng rng;
    MQ_VEC(pg_cand) cands;
    bool have_model;
} pg_req;

/* score.c: fills u, match, flags (PG_RANKED) and the reasons. */
int pg_score(pg_req *q, mq_err *err);
/* The genre of title t the profile likes best (snapshot index + 1; 0: none). */
uint16_t pg_best_genre(const pg_req *q, uint32_t t);
/* The match of titles placed on the page that the ranker did not score. */
void pg_score_placed(pg_req *q, pg_item *items, size_t n);
/* choose.c: the artwork, synopsis and label of the items. */
typedef struct pg_choice_ctx pg_choice_ctx;
pg_choice_ctx *pg_choice_prepare(pg_req *q);
/* Chooses the assets of n placed items (title set), in item order. */
void pg_choose_row(pg_req *q, pg_choice_ctx *c, pg_item *items, uint32_t n);
/* builders.c: proposes every candidate row for the request's policy. */
void pg_build_candidates(pg_req *q);
/* The ordering keys of every title (after pg_score). */
void pg_keys(pg_req *q);
/* Sorts a list of titles by key (ranked first, then by popularity). */
void pg_order(pg_req *q, uint32_t *list, uint32_t n);
/* assemble.c: chooses and fills the rows into a layout (in q->a). */
int pg_assemble(pg_req *q, pg_layout *out, mq_err *err);
/* render.c */
void pg_render_rows(const pg_layout *l, const pg_snap *s, mq_arena *a, size_t from, size_t n,
                    mq_page *out);
/* snprintf's "%.4f" of x and "%.4g" of p (p in (0, 1)) into out (24 bytes), when
 * the value is a float's; false, nothing written, otherwise. */
bool pg_fmt_f4(double x, char *out);
bool pg_fmt_g4(double p, char *out);

/* Small helpers */
uint64_t pg_mix(uint64_t x);
char *pg_strdupf(mq_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* render.c: snprintf(out, n, "%s%s%u%s", a, b, v, c) and snprintf(out, n, "%s%s", a, b)
 * without the format machinery (evidence strings, hundreds per page). */
void pg_cat_u(char *out, size_t n, const char *a, const char *b, unsigned v, const char *c);
void pg_cat2(char *out, size_t n, const char *a, const char *b);

#endif
