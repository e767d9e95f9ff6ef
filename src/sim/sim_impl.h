/*
 * sim_impl.h: private to the sim module. The vocabulary tables (themes.c), the
 * world's latent structure (world.c), the sampling pools of the logging policy,
 * and the compact event record of the generated log (generate.c).
 */
#ifndef MQ_SIM_IMPL_H
#define MQ_SIM_IMPL_H

#include "sim.h"

#define MQ_SIM_MAX_THEMES 32
#define MQ_SIM_MAX_ART 9
#define MQ_SIM_MAX_SYN 3
#define MQ_SIM_N_COLOURS 8
#define MQ_SIM_N_COUNTRIES 10
#define MQ_SIM_N_NAMES 16

/* ------------------------------------------------------------ vocabulary ---- */

typedef struct sim_theme {
    const char *name;
    const char *query; /* what a member types to find the theme */
    mq_sim_audience audience;
    bool family_ok;    /* may be a secondary theme of a family title */
    double prevalence; /* prior weight among titles and tastes */
    double series_share;
    int movie_min, movie_max; /* runtime range, minutes */
    int ep_min, ep_max;       /* episode length range for series */
    int style;                /* the artwork style its posters lean to */
    const char *genres[3];
    const char *tags[3];
    const char *nouns[8];
    const char *adjs[6];
    const char *motifs[3];
    const char *roles[3];
    const char *goals[3];
    const char *moods[3];
} sim_theme;

extern const sim_theme mq_sim_themes[];
extern const int mq_sim_n_themes_c;
/* Where a theme's titles sit on the tone and pace flavour axes (-1, 0 or 1). */
extern const signed char mq_sim_theme_tone[];
extern const signed char mq_sim_theme_pace[];
extern const char *const mq_sim_colours[MQ_SIM_N_COLOURS];

typedef struct sim_country {
    const char *code;
    int tz_offset_min;
    double share;
} sim_country;

extern const sim_country mq_sim_countries[MQ_SIM_N_COUNTRIES];
extern const char *const mq_sim_first_names[MQ_SIM_N_NAMES];
extern const char *const mq_sim_last_names[MQ_SIM_N_NAMES];

/* ----------------------------------------------------------------- world ---- */

typedef struct sim_title {
    uint8_t n_themes;
    uint8_t theme[3];
    float weight[3];
    float pop;     /* share of popularity (sums to 1) */
    float log_pop; /* standardized log popularity */
    bool family;   /* maturity <= 7 */
    bool is_short; /* runtime (episode) <= 60 min */
    uint8_t n_art, n_syn;
    uint8_t style[MQ_SIM_MAX_ART];
    float flavour[MQ_SIM_N_FLAVOURS];
    uint16_t n_episodes; /* 1 for movies */
    int32_t dur_s;       /* movie or episode length */
    const char *query_word;
} sim_title;

typedef struct sim_profile {
    float taste[MQ_SIM_MAX_THEMES]; /* at the start of the window; sums to 1 */
    float taste_max;
    float flavour[MQ_SIM_N_FLAVOURS]; /* preference on each flavour axis */
    uint8_t drift_theme, top_theme, pref_style;
    bool kids;
    float style_pref[MQ_SIM_N_STYLES];
    float device_p[4]; /* tv, phone, tablet, web */
    float hour_w[24];  /* relative activity by local hour */
    float weekend;     /* activity on Saturday and Sunday relative to weekdays */
    float activity;    /* relative number of sessions (mean 1) */
    int16_t tz_offset_min;
    uint8_t country;
} sim_profile;

/* A set of titles to draw from, with cumulative weights (NULL: uniform). */
typedef struct sim_pool {
    uint32_t *idx;
    double *cdf;
    uint32_t n;
} sim_pool;

enum { POOL_ALL = 0, POOL_KIDS = 1 };

struct mq_world {
    mq_world_params p;
    int64_t start_ms, end_ms;
    uint32_t n_titles, n_profiles;
    mq_title *titles;
    mq_profile *profiles;
    sim_title *tt;
    sim_profile *pp;
    mq_arena arena;
    /* The logging policy's pools, for all profiles and for kids (maturity <= 7). */
    sim_pool popular[2], uniform[2], theme[2][MQ_SIM_MAX_THEMES];
    /* Titles added in the window or the 60 days before it, by added date. */
    uint32_t *recent;
    uint32_t n_recent;
};

/* Draws one title index from a pool; MQ_SIM_NONE when the pool is empty. */
uint32_t mq_sim_pool_draw(const sim_pool *pl, mq_rng *r);

/* ------------------------------------------------------------- event log ---- */

/* Row kinds of the logging policy; theme rows are ROW_THEME + theme index. */
enum { ROW_NONE = 0, ROW_POPULAR, ROW_NEW, ROW_EXPLORE, ROW_THEME };
/* Query kinds: a theme's query word, or a word of a title's name. */
enum { Q_NONE = 0, Q_THEME, Q_TITLE };

/* One event, compactly. Strings are derived when the event is materialized. */
typedef struct sim_rec {
    int64_t ts_ms;
    uint32_t profile; /* world index */
    uint32_t title;   /* world index + 1; 0 = none */
    uint32_t page;    /* page view number within the profile (1-based); 0 = none */
    uint32_t query;   /* theme or title index, per query_kind */
    int32_t pos_s;    /* position_s; -1 = absent */
    int32_t dur_s;    /* duration_s; -1 = absent */
    uint8_t type;
    uint8_t device;
    uint8_t row_kind;
    uint8_t row_pos, col_pos;  /* 0xff = absent */
    uint8_t artwork, synopsis; /* 0xff = absent */
    uint8_t query_kind;
    int8_t value; /* thumbs: -1, 0, 1 */
    uint8_t direction;
} sim_rec;

#define SIM_NA 0xff

struct mq_sim_log {
    sim_rec *recs; /* in log order */
    size_t n;
    uint64_t seed;
    uint64_t sessions, pages;
};

#endif
