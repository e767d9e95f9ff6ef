/*
 * assets.h: which artwork, synopsis and evidence label each profile sees for each
 * title: contextual bandits that explore, log the propensity of every choice, learn
 * online from the impressions and plays that come back, and are evaluated offline
 * by replay (after "Artwork Personalization at Netflix", Chandrashekar et al. 2017).
 *
 * One model per slot (artwork, synopsis, label), all with the same machinery:
 *
 *   features   a context vector c: a bias, the profile's taste (decayed genre and
 *              tag affinities of what it watched, signed feature hashing), its
 *              device and a weekday/evening slot; a variant's tags t_a (a
 *              vocabulary of the slot's most frequent asset tags, tag 0 marking
 *              the editorial default). The model scores c (x) t_a (every context
 *              feature crossed with every tag), the profile-title affinity crossed
 *              with the tags, an editorial term (the tags' share among the
 *              editorial defaults of what the profile watched) and a personal term
 *              (the profile's own residual response to each tag); when learning,
 *              tag features are centred on the title's variants, and
 *              variant-independent controls soak up how attractive the title
 *              itself was (they cannot change a choice);
 *   model      logistic regression with a Laplace approximation (one Newton step
 *              per rewarded impression into X'WX and X'Wz), or Bayesian linear
 *              regression, shared by every title and profile; the posterior is
 *              refreshed from the statistics every few hundred updates;
 *   policies   Thompson sampling (Agrawal & Goyal 2013) from a bank of K posterior
 *              draws made at each refresh: a request draws one bank member, so its
 *              propensities are exact (the share of the K draws that pick each
 *              variant); LinUCB (Li et al. 2010) on the same shared model; the
 *              posterior mean (greedy); per-title epsilon-greedy, profile-blind;
 *              uniform; the editorial default. Every policy is mixed with
 *              epsilon-uniform exploration, and every choice has its propensity;
 *   rules      a title with fewer than cold_impressions rewarded impressions shows
 *              its editorial default (variant 0, with exploration); once a profile
 *              has played a title shown with some artwork, it keeps that artwork;
 *   reward     a play_start of the title by the profile within reward_window_s of
 *              the impression (the latest pending impression of that pair gets
 *              it), or the minutes watched in that window, capped and scaled to 1;
 *   state      everything learned is a deterministic function of the events
 *              applied, in log order: it is checkpointed in the store (blob
 *              "assets_bandit") with the last sequence number applied, and any
 *              node rebuilds it, or catches up from a checkpoint, with the event
 *              log, reaching the same bytes.
 *
 * Offline evaluation: the replay estimator (Li et al. 2011) and self-normalized
 * IPS (Swaminathan & Joachims 2015), each with a normal-approximation confidence
 * interval (the delta method for the ratio), are here too (replay.c).
 *
 * Thread safety: mq_assets_prepare and mq_assets_choose only read the model and
 * may run concurrently with each other; mq_assets_observe, _advance, _refresh,
 * _put_title, _deserialize, _load and _catch_up write and must be serialized
 * against everything else (a rwlock).
 *
 * Uses util, catalog, events and store. docs/assets.md explains the method and the
 * settings (assets.* in the configuration table).
 */
#ifndef MQ_ASSETS_H
#define MQ_ASSETS_H

#include "store/store.h"

/* ----------------------------------------------------------------- slots ---- */

typedef enum { MQ_SLOT_ARTWORK = 0, MQ_SLOT_SYNOPSIS, MQ_SLOT_LABEL, MQ_SLOT_COUNT } mq_asset_slot;

const char *mq_asset_slot_name(mq_asset_slot s); /* "artwork", "synopsis", "label" */
int mq_asset_slot_parse(const char *s);          /* -1 when unknown */

/* -------------------------------------------------------------- policies ---- */

/* X(ENUM, "name", meaning). */
#define MQ_ASSET_POLICIES(X)                                                                       \
    X(THOMPSON, "thompson", "Thompson sampling from the shared linear model")                      \
    X(LINUCB, "linucb", "LinUCB on the shared linear model")                                       \
    X(GREEDY, "greedy", "the shared linear model's posterior mean")                                \
    X(TITLE, "title", "per-title take rate, ignoring the profile (epsilon-greedy)")                \
    X(UNIFORM, "uniform", "uniformly random")                                                      \
    X(DEFAULT, "default", "the editorial default (variant 0)")

typedef enum {
#define MQ_APOL_ENUM(e, name, doc) MQ_APOL_##e,
    MQ_ASSET_POLICIES(MQ_APOL_ENUM)
#undef MQ_APOL_ENUM
        MQ_APOL_COUNT
} mq_asset_policy;

const char *mq_asset_policy_name(mq_asset_policy p);
int mq_asset_policy_parse(const char *s); /* -1 when unknown */

typedef enum { MQ_REWARD_PLAY = 0, MQ_REWARD_MINUTES } mq_asset_reward;

/* Limits of the fixed-size, allocation-free request path. */
#define MQ_ASSETS_MAX_VARIANTS 16 /* variants considered per title and slot */
#define MQ_ASSETS_MAX_TAGS 32     /* tag vocabulary per slot */
#define MQ_ASSETS_MAX_TASTE 64    /* hashed taste dimensions */
#define MQ_ASSETS_MAX_DRAWS 64    /* Thompson bank size */

/* ------------------------------------------------------------ parameters ---- */

typedef struct mq_assets_params {
    mq_asset_policy policy;
    bool logistic;          /* the model: logistic (Laplace) or linear (Gaussian) */
    double epsilon;         /* share of uniformly random choices mixed into the policy */
    double prior_var;       /* prior variance of the profile-feature x tag crosses */
    double prior_var_terms; /* prior variance of every other weight */
    double noise_var;       /* reward noise variance of the linear model */
    double ts_scale;        /* Thompson: posterior standard deviation multiplier */
    double ucb_alpha;       /* LinUCB: width of the confidence bonus */
    int draws;              /* Thompson: posterior draws in the bank (K) */
    int taste_dims;         /* hashed taste dimensions (T) */
    int tag_dims;           /* tag vocabulary per slot (V) */
    bool use_device, use_timeslot, use_personal, use_editorial;
    double personal_prior; /* pseudo-impressions at the overall rate shrinking small counts */
    double personal_var;   /* prior variance of a profile's own response to a tag */
    mq_asset_reward reward;
    int64_t reward_window_ms;
    double minutes_cap; /* minutes reward: minutes watched / cap, at most 1 */
    int cold_impressions;
    int refresh_every;        /* posterior refresh: at most this many updates apart; 0 = only
                               * when mq_assets_refresh is called (evaluators) */
    bool stable;              /* keep the artwork of a title the profile played */
    unsigned slots;           /* bit mask of slots that learn (1 << mq_asset_slot) */
    bool counts_only;         /* evaluators: keep the variant counts and profiles but fit no
                               * model (for policies that never read it) */
    uint64_t seed;            /* seed of the posterior draws */
    const char *url_template; /* "{id}" and "{title}" are replaced; borrowed */
    mq_semantics sem;         /* taste weights and recency half-life */
} mq_assets_params;

void mq_assets_params_default(mq_assets_params *p);
/* From the configuration table (assets.* and semantics.*). Strings stay borrowed
 * from the config. A bad policy or reward name is an error naming the setting. */
int mq_assets_params_from_config(mq_assets_params *p, const mq_config *c, mq_err *err);
/* NULL when valid, else a message naming the bad parameter. */
const char *mq_assets_params_check(const mq_assets_params *p);

/* ------------------------------------------------------------------ model ---- */

typedef struct mq_assets mq_assets;

/* A bandit over the catalogue `cat` (titles are copied in: the catalog may go
 * away). Tag vocabularies are the slots' most frequent tags in `cat`. The caller
 * destroys it with mq_assets_destroy. */
int mq_assets_create(const mq_assets_params *p, const mq_catalog *cat, mq_assets **out,
                     mq_err *err);
void mq_assets_destroy(mq_assets *a);
const mq_assets_params *mq_assets_params_get(const mq_assets *a);
/* Adds or replaces a title (a new title, new artwork). t->id must be set. A title
 * whose variants changed starts over (counts, pins). */
void mq_assets_put_title(mq_assets *a, const mq_title *t);

/* ---------------------------------------------------------------- choice ---- */

/* Where and when the request is, and (once prepared) the request's draws from the
 * model. One per page request; ~90 KB, so keep it in the request's arena rather
 * than on a small stack. */
typedef struct mq_asset_context {
    uint32_t profile_id; /* internal id; 0 = anonymous */
    mq_device device;
    int weekday, hour; /* local; weekday 0 = Monday */
    int64_t ts_ms;
    /* Private: filled by mq_assets_prepare. Per slot and tag j, the weight of the
     * tag (w) and of its cross with the profile-title affinity (u), under the
     * posterior mean and under each draw of the Thompson bank; for LinUCB the
     * covariances of (w, u) over tag pairs. Row MQ_ASSETS_MAX_TAGS of w and u
     * is zero: the tag a variant with fewer tags than the slot's most pads with. */
    struct {
        bool ready;
        uint64_t version; /* mq_assets_version when it was prepared */
        int n_draws;
        double share[MQ_ASSETS_MAX_DRAWS + 1]; /* c draws' share: 1/K added c times */
        float taste[MQ_ASSETS_MAX_TASTE];      /* normalized */
        float w[MQ_SLOT_COUNT][MQ_ASSETS_MAX_TAGS + 1][MQ_ASSETS_MAX_DRAWS];
        float u[MQ_SLOT_COUNT][MQ_ASSETS_MAX_TAGS + 1][MQ_ASSETS_MAX_DRAWS];
        float w_mean[MQ_SLOT_COUNT][MQ_ASSETS_MAX_TAGS];
        float u_mean[MQ_SLOT_COUNT][MQ_ASSETS_MAX_TAGS];
        float cov_ww[MQ_SLOT_COUNT][MQ_ASSETS_MAX_TAGS][MQ_ASSETS_MAX_TAGS];
        float cov_wu[MQ_SLOT_COUNT][MQ_ASSETS_MAX_TAGS][MQ_ASSETS_MAX_TAGS];
        float cov_uu[MQ_SLOT_COUNT][MQ_ASSETS_MAX_TAGS][MQ_ASSETS_MAX_TAGS];
    } prep;
} mq_asset_context;

/* Why a variant was chosen. */
typedef enum {
    MQ_ASSET_NONE = 0, /* the title has no variant for the slot */
    MQ_ASSET_POLICY,   /* the policy's choice */
    MQ_ASSET_EXPLORE,  /* the epsilon-uniform draw */
    MQ_ASSET_COLD,     /* a cold title's editorial default */
    MQ_ASSET_PINNED,   /* the artwork the profile played the title with */
} mq_asset_reason;

typedef struct mq_asset_pick {
    int variant;       /* index into artwork[], synopses[] or labels.items[]; -1 none */
    const char *id;    /* the asset id (label: its text); owned by the model (or, for
                        * a title the model was never given, by the title) */
    double propensity; /* probability that this variant was chosen; 0 when none */
    mq_asset_reason reason;
} mq_asset_pick;

typedef struct mq_asset_choice {
    mq_asset_pick slot[MQ_SLOT_COUNT];
} mq_asset_choice;

/* Changes whenever a posterior does: a context prepared at another version is
 * stale (still valid to choose with, one refresh behind). */
uint64_t mq_assets_version(const mq_assets *a);
/* Prepares a request, once for every title of the page: reads the profile's
 * taste and folds the context into each slot's per-tag weights, under the
 * posterior mean and under each of the K posterior draws of the Thompson bank
 * (and LinUCB's per-tag covariance). Allocation-free. */
void mq_assets_prepare(const mq_assets *a, mq_asset_context *ctx);
/* Chooses the variant of every slot for title t in a prepared context, drawing
 * from rng. Allocation-free and cheap (a few dot products per variant): the page
 * builder calls it for every title it shows. MQ_EINVAL when ctx is not prepared. */
int mq_assets_choose(const mq_assets *a, const mq_asset_context *ctx, const mq_title *t,
                     mq_rng *rng, mq_asset_choice *out);
/* What mq_assets_choose draws from for title t, every slot: the policy's
 * distribution and why. A title shown several times on a page is drawn for as
 * many times, from the same distributions: mq_assets_dists once, mq_assets_draw
 * each time (the same choices, draws and propensities as mq_assets_choose each
 * time). */
/* Private: a slot's variants, why, and its distribution in a few bytes (a page
 * keeps one per slot and title it shows): one sure variant, uniform, or per
 * variant the number of the bank's draws it wins. */
typedef struct mq_asset_slot_dist {
    uint8_t n, why, form, sure;
    uint8_t wins[MQ_ASSETS_MAX_VARIANTS];
} mq_asset_slot_dist;
typedef struct mq_asset_dists {
    const void *ti;      /* private: the model's title (NULL: the model does not have it) */
    const double *share; /* private: the context's shares of the bank's draws */
    mq_asset_slot_dist s[MQ_SLOT_COUNT];
} mq_asset_dists;
/* For the title with internal id title_id (t->id). MQ_EINVAL when ctx is not
 * prepared. Allocation-free. d reads ctx's draws: draw from it while ctx is
 * there. */
int mq_assets_dists(const mq_assets *a, const mq_asset_context *ctx, uint32_t title_id,
                    mq_asset_dists *out);
/* mq_assets_dists for n titles at once, out[i] for ids[i]: the same
 * distributions, with the titles' descriptors fetched from memory together (their
 * cache misses overlap) rather than one title after another. */
int mq_assets_dists_n(const mq_assets *a, const mq_asset_context *ctx, const uint32_t *ids,
                      size_t n, mq_asset_dists *const *out);
/* A choice for t drawn from d (made by mq_assets_dists for t) with rng; t is
 * read only for a title the model does not have (its editorial defaults). */
void mq_assets_draw(const mq_assets *a, const mq_asset_dists *d, const mq_title *t, mq_rng *rng,
                    mq_asset_choice *out);
/* The same draw without the asset ids (every pick's id NULL), for a caller that
 * keeps its own by variant index: the same variants, propensities and reasons,
 * without a cache miss per slot on the model's variant records. */
void mq_assets_draw_variants(const mq_assets *a, const mq_asset_dists *d, const mq_title *t,
                             mq_rng *rng, mq_asset_choice *out);
/* The policy's whole distribution over the slot's variants of t (what
 * mq_assets_choose draws from): probs[i] for i < the returned count, summing to 1.
 * Returns 0 when the title has no variant for the slot. */
int mq_assets_distribution(const mq_assets *a, const mq_asset_context *ctx, const mq_title *t,
                           mq_asset_slot slot, double *probs);
/* The URL of an asset from assets.url_template ("{id}", "{title}" replaced).
 * Writes at most n bytes; returns the length it needed. */
size_t mq_assets_url(const mq_assets *a, const mq_title *t, const char *asset_id, char *out,
                     size_t n);
/* The same from a template, for callers without a bandit (title: external id). */
size_t mq_asset_url_format(const char *tmpl, const char *title, const char *asset_id, char *out,
                           size_t n);

/* ---------------------------------------------------------------- update ---- */

/* Applies one stored event (e->profile_id and e->title_id set, as the store sets
 * them), in log order. Impressions wait for their reward window; a play_start
 * attributes a reward to the latest pending impression of the pair; plays,
 * completions, thumbs and ratings move the profile's taste. Events of unknown
 * titles or profiles are ignored. */
void mq_assets_observe(mq_assets *a, const mq_event *e);
/* Closes every reward window that ends before now_ms (an impression that got no
 * play by then is a zero reward). observe does this with each event's time; call
 * it at the end of a log (INT64_MAX closes every window). */
void mq_assets_advance(mq_assets *a, int64_t now_ms);
/* Refreshes the posterior of every slot with new updates now (observe does it on
 * its own schedule). */
void mq_assets_refresh(mq_assets *a);
/* Changes the refresh schedule (0: only mq_assets_refresh); evaluators that do not
 * act while they learn from a log skip the refreshes they would not use. */
void mq_assets_set_refresh_every(mq_assets *a, int every);
/* For a caller that observes under a write lock shared with readers that choose:
 * a posterior refresh that observe (or advance) makes due is computed between
 * release(ud) and reacquire(ud), from statistics only the observing thread
 * changes, and swapped in once the lock is back, so choosing goes on meanwhile
 * (a refresh of the default 1,056-dimension model takes ~20 ms). The caller must
 * keep every other writer (mq_assets_put_title) out across the whole observe.
 * The result is the same bytes as without. */
void mq_assets_set_refresh_lock(mq_assets *a, void (*release)(void *), void (*reacquire)(void *),
                                void *ud);

typedef struct mq_assets_stats {
    int64_t last_seq; /* last event applied */
    uint64_t events, impressions, rewarded, pending, profiles, pins;
    uint64_t updates[MQ_SLOT_COUNT]; /* model updates (finalized impressions) */
    uint64_t refreshes[MQ_SLOT_COUNT];
    double reward_sum[MQ_SLOT_COUNT];
    int dims[MQ_SLOT_COUNT];  /* model dimension per slot */
    int vocab[MQ_SLOT_COUNT]; /* tags in the slot's vocabulary */
} mq_assets_stats;

void mq_assets_stats_get(const mq_assets *a, mq_assets_stats *st);
/* One tag of a slot's vocabulary as an arm: what the variants carrying it were
 * shown and earned (finalized impressions and rewards), and the posterior mean of
 * its main effect (the bias x tag cross; log-odds for the logistic model). */
typedef struct mq_asset_arm {
    const char *tag;
    double impressions, rewards;
    double weight;
} mq_asset_arm;

/* The slot's arms, one per vocabulary tag (at most max); returns how many. */
int mq_assets_arms(const mq_assets *a, mq_asset_slot slot, mq_asset_arm *out, int max);
/* The pinned artwork of (profile, title), or -1. */
int mq_assets_pinned(const mq_assets *a, uint32_t profile_id, uint32_t title_id);
/* Tag j of the slot's vocabulary; NULL past its end. */
const char *mq_assets_tag(const mq_assets *a, mq_asset_slot slot, int j);

/* ------------------------------------------------------------ checkpoint ---- */

#define MQ_ASSETS_BLOB "assets_bandit"

/* The whole learned state (statistics, posterior, profiles, pins, pending
 * impressions, the last sequence number), deterministic bytes with a header
 * (magic, version, dimensions) and a checksum. */
void mq_assets_serialize(const mq_assets *a, mq_buf *out);
/* Replaces a's state with a serialized one. A torn, corrupt or incompatible
 * (other dimensions) checkpoint is refused with MQ_ECORRUPT or MQ_EVERSION and a
 * leaves a unchanged. */
int mq_assets_deserialize(mq_assets *a, const void *data, size_t len, mq_err *err);
/* The blob MQ_ASSETS_BLOB in the store. load: MQ_ENOTFOUND when there is none. */
int mq_assets_save(const mq_assets *a, mq_store *s, mq_err *err);
int mq_assets_load(mq_assets *a, mq_store *s, mq_err *err);
/* Applies every stored event after the last one applied (all of them for a fresh
 * model): a rebuild from the log, or catching up from a checkpoint. */
int mq_assets_catch_up(mq_assets *a, mq_store *s, mq_err *err);

/* ------------------------------------------------------- reward labels ---- */

/* The reward rule on its own, for evaluators: feed events in log order; each
 * impression comes back once, with its reward, when its window has closed (or at
 * flush). */
typedef struct mq_asset_rewards mq_asset_rewards;

mq_asset_rewards *mq_asset_rewards_create(const mq_assets_params *p);
void mq_asset_rewards_destroy(mq_asset_rewards *r);
void mq_asset_rewards_add(mq_asset_rewards *r, const mq_event *e);
void mq_asset_rewards_flush(mq_asset_rewards *r);
/* Pops one finished impression: its sequence number and reward. */
bool mq_asset_rewards_next(mq_asset_rewards *r, int64_t *seq, double *reward);

/* --------------------------------------------------- offline evaluation ---- */

/* Accumulates, over logged impressions, the replay estimator of Li et al. 2011 (the
 * mean reward of the impressions where the evaluated policy chose what the
 * logging policy showed: unbiased when the log chose uniformly at random) and
 * self-normalized IPS (sum w r / sum w with w = pi(logged) / logged propensity). */
typedef struct mq_replay {
    double logged, matched;           /* impressions seen, and matched */
    double sum_r, sum_r2;             /* matched rewards */
    double sw, swr, sw2, sw2r, sw2r2; /* SNIPS moments */
} mq_replay;

typedef struct mq_estimate {
    double value, se, lo, hi; /* estimate, standard error, confidence interval */
    double n;                 /* impressions used (replay: matched; SNIPS: effective n) */
} mq_estimate;

void mq_replay_init(mq_replay *r);
/* One logged impression: the variant shown and its logged propensity, the policy's
 * choice and its probability of the shown variant (pi(logged)), the reward. */
void mq_replay_add(mq_replay *r, int logged, double logged_prob, int chosen, double pi_logged,
                   double reward);
/* Normal-approximation intervals at z (1.96 for 95%): replay, the standard error of
 * a mean; SNIPS, the delta method for a ratio. */
mq_estimate mq_replay_estimate(const mq_replay *r, double z);
mq_estimate mq_snips_estimate(const mq_replay *r, double z);

#endif
