/*
 * simulate.h: simulated members browsing marquee's homepages, to measure how fast
 * they find something to play under each page policy (the time-to-play metric of
 * Alvino & Basilico 2015: a member who finds nothing within a minute or two gives
 * up).
 *
 * The members are those of a synthetic world (src/sim), regenerated from the
 * store's ground truth, with the world's true tastes and its ground-truth
 * behaviour model. A session: at a simulated time, on a device drawn from the
 * member's habits, the member opens the homepage that marquee assembles for it
 * (in process, the same mq_page_build the server calls, on a live state rebuilt
 * from the store's log) and browses it top to bottom, each row left to right up
 * to the device's visible titles, sometimes scrolling along a row for more; a row
 * glance and a title look each cost simulated seconds; at each look it plays the
 * title with the ground truth's probability of attraction (position, artwork and
 * context included) when it never played it, resumes a title in progress at the
 * world's resume_rate and rewatches a finished one it liked at its rewatch_rate
 * (the world's own pages never show played titles: these are how its members
 * come back to them); past its patience it gives up. Its impressions, scrolls, and
 * its play with how far it watched (and thumbs) go back into that policy's live
 * state, so later pages learn from earlier sessions.
 *
 * Every policy sees the same sessions (member, time, device) and the same random
 * draws in the same order (common random numbers), so differences come from the
 * pages. Deterministic in the seed. Nothing is written to the store.
 *
 * Uses page, sim (and below).
 */
#ifndef MQ_SIMULATE_H
#define MQ_SIMULATE_H

#include "page/page.h"
#include "sim/sim.h"

typedef struct mq_simulate_opts {
    size_t sessions; /* per policy */
    uint64_t seed;
    unsigned policies; /* mask of 1 << mq_page_policy */
    double patience_s; /* gives up after this many simulated seconds */
    double target_s;   /* reported: share of sessions that play within it */
    double row_glance_s, title_look_s;
    double along;       /* probability of scrolling along a row for more */
    double gap_minutes; /* simulated minutes between two sessions */
    int threads;        /* 0 = the thread budget */
    bool progress;      /* progress bar on a terminal */
} mq_simulate_opts;

/* simulate.* from the configuration; every policy. */
void mq_simulate_opts_from_config(mq_simulate_opts *o, const mq_config *c);

typedef struct mq_simulate_result {
    mq_page_policy policy;
    size_t sessions, played, played_target;
    double share_target; /* played within target_s / sessions */
    double median_s;     /* median time to play of the sessions that played */
    double mean_s;
    double impressions, plays, take_rate; /* plays / impressions */
    double watch_minutes;                 /* per session */
    double ecs;                           /* Effective Catalog Size of the plays */
    double page_ms;                       /* mean time to assemble a page */
    double *ttp;                          /* times to play (seconds), ascending; n_ttp = played */
    size_t n_ttp;
    /* Per scheduled session, in schedule order (the same member, time and device
     * for every policy): 1 played within target_s, 0 not, MQ_SIMULATE_NO_PAGE when
     * no page could be built. */
    uint8_t *within;
    size_t n_within;
    /* Against the fixed template on the same sessions (common random numbers):
     * the difference of share_target, in points, and its paired bootstrap 95%
     * interval (1,000 resamples of the sessions both policies ran). NaN for the
     * template itself, or when it was not simulated. */
    double vs_template, vs_template_lo, vs_template_hi;
} mq_simulate_result;

#define MQ_SIMULATE_NO_PAGE 0xFF

typedef struct mq_simulate_report {
    mq_simulate_opts opts;
    uint32_t titles, profiles;
    size_t n;
    mq_simulate_result res[MQ_PAGE_POLICY_COUNT];
    double seconds;
    bool ranker_trained; /* reserved: the ranker served a trained model */
} mq_simulate_report;

/* Runs the simulation on the store `s` (a world written by `marquee synth`,
 * whose ground truth it holds) with bundle b (NULL: pages without a model) and
 * the page settings pp. The caller frees the report with mq_simulate_free. */
int mq_simulate_run(mq_store *s, const mq_bundle *b, const mq_page_params *pp,
                    const mq_semantics *sem, const mq_simulate_opts *o, mq_simulate_report *r,
                    mq_err *err);
void mq_simulate_free(mq_simulate_report *r);

void mq_simulate_print(FILE *f, const mq_simulate_report *r);
json_t *mq_simulate_json(const mq_simulate_report *r);

/* `marquee simulate` keeps its latest report (mq_simulate_json, compact) in this
 * store blob; the server's dashboard shows it. */
#define MQ_SIMULATION_BLOB "simulation"
/* The share of sessions that have played by each second, one line per policy. */
int mq_simulate_svg(const mq_simulate_report *r, const char *path, mq_err *err);

#endif
