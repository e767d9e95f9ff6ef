/*
 * sim.h: marquee's synthetic world. A deterministic generator (same seed, same bytes)
 * of a catalogue with latent structure (themes, popularity, artwork styles), of
 * profiles with latent tastes and habits, and of months of events drawn from a
 * ground-truth behaviour model; plus the model itself as pure functions, so that a
 * later online simulator can show marquee's own pages to the same simulated members
 * and ask whether they would play.
 *
 * The parts, one file each:
 *   params.c     the table of world parameters (every effect size, with its default)
 *   themes.c     the fixed vocabulary: themes, genres, tags, word lists, artwork styles
 *   world.c      titles and profiles with their latent structure (mq_world)
 *   behaviour.c  the ground-truth behaviour model (attraction, browsing, watching)
 *   generate.c   sessions -> an in-memory, time-ordered event log (mq_sim_log)
 *   write.c      the log, titles and profiles into the store; `mq_synth` end to end
 *   truth.c      the ground truth as documented JSON (docs/synthetic-world.md)
 *   export.c     the world as JSONL files that `marquee import` reads back
 *
 * Indices: titles and profiles are numbered 0..n-1 in the world ("world index");
 * their external ids are "t00001".. and "p00001".. (index + 1, at least 5 digits).
 * Store ids are the store's business: map a store id to an external id with the
 * store, then to a world index with mq_world_title_index / mq_world_profile_index.
 */
#ifndef MQ_SIM_H
#define MQ_SIM_H

#include "catalog/catalog.h"
#include "events/events.h"
#include "store/store.h"
#include "util/util.h"

#define MQ_SIM_NONE UINT32_MAX

/* ------------------------------------------------------------ parameters ---- */

/* X(kind, C type, name, default, min, max, meaning). kind is I (integer) or R (real).
 * One table feeds the struct, the defaults, validation, the "params" object of the
 * ground truth JSON and the table in docs/synthetic-world.md. Logit effects are in
 * units of the attraction logit (docs/synthetic-world.md, "Attraction"). */
#define MQ_WORLD_PARAMS(X)                                                                         \
    /* size */                                                                                     \
    X(I, uint64_t, seed, 1, 0, 9007199254740991.0, "random seed")                                  \
    X(I, uint32_t, n_titles, 5000, 10, 1000000, "titles in the catalogue")                         \
    X(I, uint32_t, n_profiles, 20000, 1, 10000000, "profiles")                                     \
    X(I, uint32_t, days, 90, 1, 3650, "days of history, ending 2026-10-01T00:00:00Z")              \
    X(R, double, sessions, 7.0, 0.1, 10000,                                                        \
      "mean sessions per profile over the window (about 15 events each)")                          \
    /* catalogue */                                                                                \
    X(R, double, pop_sigma, 1.3, 0, 5,                                                             \
      "standard deviation of log popularity (log-normal: heavy-tailed)")                           \
    X(R, double, new_title_share, 0.08, 0, 1, "share of titles added during the window")           \
    /* profiles */                                                                                 \
    X(R, double, kids_share, 0.12, 0, 1, "share of kids profiles (maturity limit 7)")              \
    X(R, double, new_profile_share, 0.15, 0, 1, "share of profiles created during the window")     \
    X(R, double, activity_sigma, 1.0, 0, 4,                                                        \
      "standard deviation of log activity (sessions per profile are heavy-tailed)")                \
    X(R, double, taste_background, 0.08, 0, 1,                                                     \
      "share of a profile's taste spread over every theme (the rest is on 1-3 themes)")            \
    X(R, double, flavour_weight, 0.5, 0, 1,                                                        \
      "share of affinity that depends on the flavour match (tone, pace, era, depth)")              \
    X(R, double, affinity_noise, 0.05, 0, 1,                                                       \
      "standard deviation of the per-(profile, title) idiosyncratic affinity term")                \
    X(R, double, drift, 0.25, 0, 1,                                                                \
      "taste drift: share of taste moved to the drift theme by the end of the window")             \
    X(R, double, art_taste_link, 0.5, 0, 1,                                                        \
      "probability that a profile's preferred artwork style is its top theme's style")             \
    /* attraction logit */                                                                         \
    X(R, double, bias, -5.5, -20, 20, "attraction logit intercept")                                \
    X(R, double, beta_affinity, 8, 0, 50, "logit per unit of true affinity (0..1)")                \
    X(R, double, beta_popularity, 0.3, 0, 10, "logit per unit of standardized log popularity")     \
    X(R, double, pos_row, 0.3, 0, 10, "logit lost per ln(1 + row_pos)")                            \
    X(R, double, pos_col, 0.45, 0, 10, "logit lost per ln(1 + col_pos)")                           \
    X(R, double, art_match, 0.8, -10, 10,                                                          \
      "logit gained when the shown artwork has the profile's preferred style")                     \
    X(R, double, art_sd, 0.2, 0, 5,                                                                \
      "standard deviation of a profile's response to its other artwork styles")                    \
    X(R, double, ctx_family_weekend_tv, 1.0, -10, 10,                                              \
      "logit gained by family titles (maturity <= 7) on TV on weekend mornings "                   \
      "(Sat/Sun, 07:00-11:59 local)")                                                              \
    X(R, double, ctx_short_phone, 0.8, -10, 10,                                                    \
      "logit gained by short titles (runtime or episode <= 60 min) on phones")                     \
    /* browsing */                                                                                 \
    X(R, double, browse_along, 0.7, 0, 0.99,                                                       \
      "probability of looking at the next title in a row after one that did not attract")          \
    X(R, double, browse_leave, 0.15, 0, 1, "probability of leaving the page after a row")          \
    X(R, double, continue_rate, 0.3, 0, 0.95, "probability of going back to browse after a play")  \
    X(R, double, search_rate, 0.15, 0, 1,                                                          \
      "probability that looking for something new starts with a search (else a page)")             \
    X(R, double, search_abandon, 0.2, 0, 1, "probability that a search ends without a click")      \
    X(R, double, resume_rate, 0.5, 0, 1,                                                           \
      "probability that a session resumes something in progress first")                            \
    X(R, double, rewatch_rate, 0.04, 0, 1,                                                         \
      "probability that a session starts by rewatching a completed, liked title")                  \
    /* watching */                                                                                 \
    X(R, double, abandon_bias, 0.6, -20, 20, "early-abandon logit intercept")                      \
    X(R, double, abandon_affinity, 4.5, 0, 50, "early-abandon logit lost per unit affinity")       \
    X(R, double, complete_bias, -0.3, -20, 20, "completion logit intercept (when not abandoned)")  \
    X(R, double, complete_affinity, 2.5, 0, 50, "completion logit per unit affinity")              \
    X(R, double, phone_long_penalty, 1.0, 0, 20,                                                   \
      "completion logit lost by titles over 90 min on phones")                                     \
    X(R, double, binge_rate, 0.35, 0, 1,                                                           \
      "base probability of autoplaying the next episode (plus 0.4 x affinity)")                    \
    X(R, double, pause_rate, 0.15, 0, 1, "probability of a pause during a play")                   \
    X(R, double, seek_rate, 0.05, 0, 1, "probability of a forward seek during a play")             \
    X(R, double, thumbs_rate, 0.08, 0, 1, "probability of a thumbs rating after a play")           \
    X(R, double, thumbs_slope, 6, 0, 100, "P(up) = sigmoid(thumbs_slope x (affinity - 0.5))")      \
    /* logging policy */                                                                           \
    X(R, double, policy_taste_mix, 0.5, 0, 1,                                                      \
      "probability that a theme row's theme is drawn from the profile's taste (else "              \
      "uniformly)")                                                                                \
    X(I, uint32_t, row_length, 12, 2, 60, "titles per row")

typedef struct mq_world_params {
#define MQ_WP_FIELD(kind, type, name, dflt, lo, hi, doc) type name;
    MQ_WORLD_PARAMS(MQ_WP_FIELD)
#undef MQ_WP_FIELD
} mq_world_params;

/* The window always ends here (never "now"), so the same seed gives the same bytes. */
#define MQ_SIM_WINDOW_END_MS 1790812800000LL /* 2026-10-01T00:00:00Z */

void mq_world_params_default(mq_world_params *p);
/* Checks every value against the table's range; the message names the parameter. */
int mq_world_params_check(const mq_world_params *p, mq_err *err);
/* Sets one parameter by name ("beta_affinity"). */
int mq_world_params_set(mq_world_params *p, const char *name, double value, mq_err *err);
/* Reads the parameters present in a JSON object (others keep their values); unknown
 * names are errors. `where` prefixes messages ("params.json"). */
int mq_world_params_from_json(mq_world_params *p, const json_t *o, const char *where, mq_err *err);
/* Every parameter as a JSON object; the caller owns the result. */
json_t *mq_world_params_to_json(const mq_world_params *p);
/* The table as Markdown (name, default, range, meaning), for the docs. */
void mq_world_params_print_markdown(FILE *f);

/* --------------------------------------------------------- vocabulary ---- */

/* The fixed latent vocabulary (themes.c). A theme's audience decides maturity and
 * the family context effect. */
typedef enum { MQ_AUD_GENERAL = 0, MQ_AUD_FAMILY, MQ_AUD_KIDS } mq_sim_audience;

int mq_sim_n_themes(void);
const char *mq_sim_theme_name(int k);
mq_sim_audience mq_sim_theme_audience(int k);
/* What a member types to search for the theme ("heist", "space"). */
const char *mq_sim_theme_query(int k);
int mq_sim_theme_index(const char *name); /* -1 when unknown */

/* Flavour axes: a small continuous latent space within themes. Titles and profiles
 * have a position / preference on each: "tone" (light to dark), "pace" (slow to
 * fast), "era" (classic to recent), "depth" (easy to demanding). */
#define MQ_SIM_N_FLAVOURS 4
const char *mq_sim_flavour_name(int f);

#define MQ_SIM_N_STYLES 8
/* "close-up", "action-scene", "landscape", "ensemble", "dark", "bright", "minimal",
 * "text-heavy". */
const char *mq_sim_style_name(int s);
int mq_sim_style_index(const char *name); /* -1 when unknown */

/* ---------------------------------------------------------------- world ---- */

typedef struct mq_world mq_world;

/* Generates titles and profiles with their latent structure. Deterministic in the
 * parameters. The caller destroys the world with mq_world_destroy. */
int mq_world_generate(const mq_world_params *p, mq_world **out, mq_err *err);
void mq_world_destroy(mq_world *w);
/* The blob `marquee synth` leaves in the store: the world's parameters and truth. */
#define MQ_SIM_TRUTH_BLOB "ground_truth"
/* Regenerates the world a store was made from, from the parameters in its blob
 * MQ_SIM_TRUTH_BLOB. MQ_ENOTFOUND, saying that `who` needs a world made by
 * `marquee synth`, when the store has none. */
int mq_world_from_store(mq_store *s, const char *who, mq_world **out, mq_err *err);

const mq_world_params *mq_world_params_get(const mq_world *w);
uint32_t mq_world_n_titles(const mq_world *w);
uint32_t mq_world_n_profiles(const mq_world *w);
int64_t mq_world_start_ms(const mq_world *w);
int64_t mq_world_end_ms(const mq_world *w);

/* The catalogue forms (what goes into the store). Owned by the world. */
const mq_title *mq_world_title(const mq_world *w, uint32_t t);
const mq_profile *mq_world_profile(const mq_world *w, uint32_t p);
/* External id -> world index; MQ_SIM_NONE when not an id of this world. */
uint32_t mq_world_title_index(const mq_world *w, const char *ext_id);
uint32_t mq_world_profile_index(const mq_world *w, const char *ext_id);
/* Artwork / synopsis asset id -> variant index of title t; -1 when unknown. */
int mq_world_artwork_index(const mq_world *w, uint32_t t, const char *asset_id);

/* Latent structure of a title. */
/* Theme weights (up to 3 themes, weights sum to 1): fills themes[] and weights[],
 * returns how many. The first is the dominant theme. */
int mq_world_title_themes(const mq_world *w, uint32_t t, int themes[3], double weights[3]);
double mq_world_title_theme_weight(const mq_world *w, uint32_t t, int k);
/* Popularity share (sums to 1 over titles) and standardized log popularity. */
double mq_world_title_popularity(const mq_world *w, uint32_t t);
double mq_world_title_log_pop(const mq_world *w, uint32_t t);
/* Family: maturity <= 7 (the family context effect applies). Short: runtime (or
 * episode length) <= 60 minutes (the phone context effect applies). */
bool mq_world_title_family(const mq_world *w, uint32_t t);
bool mq_world_title_short(const mq_world *w, uint32_t t);
/* Position of title t on the flavour axes (MQ_SIM_N_FLAVOURS values). */
void mq_world_title_flavour(const mq_world *w, uint32_t t, double *out);
/* Style (MQ_SIM_N_STYLES) of artwork variant a of title t. */
int mq_world_artwork_style(const mq_world *w, uint32_t t, int a);

/* Latent structure of a profile. */
/* Taste over themes at time ts_ms (drift applied), into out[mq_sim_n_themes()]. */
void mq_world_taste(const mq_world *w, uint32_t p, int64_t ts_ms, double *out);
/* The theme with the largest weight at the start of the window. */
int mq_world_top_theme(const mq_world *w, uint32_t p);
int mq_world_preferred_style(const mq_world *w, uint32_t p);
void mq_world_profile_flavour(const mq_world *w, uint32_t p, double *out);
/* Flavour match of profile p and title t, in (0, 1): sigmoid(2 g.f / sqrt(4)). */
double mq_world_flavour_match(const mq_world *w, uint32_t p, uint32_t t);
/* The profile's response (logit) to artwork style s. */
double mq_world_style_pref(const mq_world *w, uint32_t p, int s);
int mq_world_tz_offset(const mq_world *w, uint32_t p);
bool mq_world_profile_kids(const mq_world *w, uint32_t p);

/* ------------------------------------------------------------ behaviour ---- */

/* When and where a member is: the device, local weekday (0 = Monday) and hour,
 * and the time (for taste drift). */
typedef struct mq_sim_context {
    mq_device device;
    int weekday, hour;
    int64_t ts_ms;
} mq_sim_context;

/* The context of profile p at ts_ms on a device (local time from the profile's
 * time zone). */
void mq_sim_context_at(const mq_world *w, uint32_t p, int64_t ts_ms, mq_device device,
                       mq_sim_context *out);

/* True affinity of profile p for title t at ts_ms, in [0, 1]: the profile's taste
 * (with drift) dotted with the title's theme mixture, divided by the profile's
 * largest theme weight, scaled by the flavour match, plus a small per-pair term
 * (docs/synthetic-world.md). */
double mq_behaviour_affinity(const mq_world *w, uint32_t p, uint32_t t, int64_t ts_ms);

/* The terms of the attraction logit, each one a stated effect. */
double mq_behaviour_position_term(const mq_world *w, int row_pos, int col_pos);
/* artwork_idx < 0: no artwork shown (0). */
double mq_behaviour_artwork_term(const mq_world *w, uint32_t p, uint32_t t, int artwork_idx);
double mq_behaviour_context_term(const mq_world *w, uint32_t t, const mq_sim_context *ctx);
/* The whole logit: bias + beta_affinity x affinity + beta_popularity x log_pop +
 * position + artwork + context. Titles above the profile's maturity limit: -inf. */
double mq_behaviour_logit(const mq_world *w, uint32_t p, uint32_t t, int artwork_idx, int row_pos,
                          int col_pos, const mq_sim_context *ctx);
/* Probability that the member, looking at title t shown at (row_pos, col_pos) with
 * artwork variant artwork_idx, is attracted to it (and clicks it). */
double mq_behaviour_attraction(const mq_world *w, uint32_t p, uint32_t t, int artwork_idx,
                               int row_pos, int col_pos, const mq_sim_context *ctx);

/* Browsing: after looking at a title that did not attract, the probability of
 * looking at the next one in the row; after a row, the probability of leaving. */
double mq_behaviour_browse_along(const mq_world *w, const mq_sim_context *ctx);
double mq_behaviour_browse_leave(const mq_world *w, const mq_sim_context *ctx);
/* Rows per page and titles visible without scrolling along, per device. */
int mq_behaviour_rows_per_page(mq_device d);
int mq_behaviour_visible_cols(mq_device d);

/* One play of title t starting at fraction `from` (0 = the start). */
typedef struct mq_sim_watch {
    double to;      /* fraction reached, in [from, 1] */
    bool abandoned; /* stopped early (before 10% of what remained) */
    bool complete;  /* reached the end */
} mq_sim_watch;

void mq_behaviour_watch(const mq_world *w, uint32_t p, uint32_t t, const mq_sim_context *ctx,
                        double from, mq_rng *rng, mq_sim_watch *out);
/* After a play: +1 thumbs up, -1 thumbs down, 0 no rating given. */
int mq_behaviour_thumbs(const mq_world *w, uint32_t p, uint32_t t, const mq_sim_context *ctx,
                        const mq_sim_watch *watch, mq_rng *rng);
/* Probability of autoplaying the next episode of series t after completing one. */
double mq_behaviour_binge(const mq_world *w, uint32_t p, uint32_t t, const mq_sim_context *ctx);

/* ------------------------------------------------------------- event log ---- */

/* The generated events, time-ordered (ties by profile, then by order within the
 * profile), held compactly in memory. */
typedef struct mq_sim_log mq_sim_log;

/* Simulates every profile's sessions. `progress` draws a bar on a terminal. */
int mq_sim_generate(const mq_world *w, bool progress, mq_sim_log **out, mq_err *err);
void mq_sim_log_destroy(mq_sim_log *l);
size_t mq_sim_log_count(const mq_sim_log *l);
/* Counts by event type, sessions and page views. */
void mq_sim_log_counts(const mq_sim_log *l, uint64_t by_type[MQ_EV_COUNT], uint64_t *sessions,
                       uint64_t *pages);
/* Materializes events [from, from + n) in log order as mq_event, calling cb for each
 * (strings valid during the callback only). A non-zero return stops and is returned. */
int mq_sim_log_each(const mq_world *w, const mq_sim_log *l, size_t from, size_t n, mq_event_cb cb,
                    void *ud);

/* -------------------------------------------------------------- outputs ---- */

/* The ground truth (docs/synthetic-world.md): compact JSON, caller frees with mq_free. */
char *mq_sim_truth_json(const mq_world *w, size_t *len);
/* titles.jsonl, profiles.jsonl and events.jsonl in dir (created if needed). */
int mq_sim_export(const mq_world *w, const mq_sim_log *l, const char *dir, mq_err *err);

typedef struct mq_synth_opts {
    const char *data_dir;   /* the store, and DATA_DIR/ground_truth.json */
    const char *store;      /* the store when not data_dir (a PostgreSQL URL); NULL = data_dir */
    const char *export_dir; /* NULL: no JSONL export */
    bool force;             /* write even when the store already holds events */
    bool progress;          /* progress bars on a terminal */
    size_t batch;           /* events per transaction (0 = 20,000) */
} mq_synth_opts;

typedef struct mq_synth_report {
    uint64_t titles, profiles, events, duplicates, sessions, pages;
    uint64_t by_type[MQ_EV_COUNT];
    /* seconds: world, simulation, store (catalog, then events: materializing,
     * mq_store_append_events, commits), ground truth, export, total */
    double world_s, generate_s, store_s, catalog_s, append_s, commit_s, truth_s, export_s, total_s;
    size_t truth_bytes;
} mq_synth_report;

/* Generates the world and its events and writes them into the store at
 * opts->data_dir (opened for bulk loading), the ground truth into
 * DATA_DIR/ground_truth.json and the store blob "ground_truth", and with
 * opts->export_dir the JSONL files. Fails with MQ_EBUSY, writing nothing, when the
 * store already holds events and !opts->force. */
int mq_synth(const mq_world_params *p, const mq_synth_opts *opts, mq_synth_report *r, mq_err *err);

#endif
