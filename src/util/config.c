/* config.c: the one configuration table. Each row: name, type, default, minimum,
 * maximum and meaning. Defaults < DIR/marquee.conf < MARQUEE_* environment < flags.
 * `marquee config --markdown` prints this table; docs/configuration.md is that
 * output, so the docs cannot drift from the code. */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { T_NUM, T_STR };

/* X(name, type, default text, min, max, meaning) */
#define MQ_CONFIG_TABLE(X)                                                               \
    X("threads", T_NUM, "0", 0, 1024,                                                    \
      "Thread budget shared by every pool in the process (0 = number of cores).")        \
    X("log_level", T_STR, "info", 0, 0, "Logging threshold: debug, info, warn or error.") \
    X("store", T_STR, "", 0, 0,                                                          \
      "Where the store lives: empty for SQLite in the data directory (--data DIR), or a "  \
      "PostgreSQL URL (postgres://user@host:port/db) that several nodes share "           \
      "(docs/deploying.md). As a flag: --store URL.")                                     \
    X("import.batch", T_NUM, "50000", 1, 10000000,                                       \
      "Rows per transaction when importing; a failed batch rolls back the whole import " \
      "unless --skip-bad.")                                                              \
    X("semantics.half_life_days", T_NUM, "60", 0.1, 36500,                               \
      "Recency half-life: an interaction this many days old counts half.")               \
    X("semantics.rating_positive", T_NUM, "4", 0.5, 5,                                   \
      "A rating at or above this many stars is a positive.")                             \
    X("semantics.rating_negative", T_NUM, "2", 0, 5,                                     \
      "A rating at or below this many stars is a negative.")                             \
    X("semantics.complete_fraction", T_NUM, "0.9", 0.05, 1,                              \
      "A play that reaches this fraction of the duration counts as a completion.")       \
    X("semantics.abandon_fraction", T_NUM, "0.1", 0, 1,                                  \
      "A play stopped before this fraction of the duration is an early abandon.")        \
    X("semantics.w_play", T_NUM, "1", 0, 1000,                                           \
      "Confidence of a play, scaled by its watch fraction.")                             \
    X("semantics.w_complete", T_NUM, "4", 0, 1000, "Confidence added by a completion.")  \
    X("semantics.w_rewatch", T_NUM, "2", 0, 1000, "Confidence added by a rewatch.")      \
    X("semantics.w_thumbs_up", T_NUM, "4", 0, 1000, "Confidence added by a thumbs up.")  \
    X("semantics.w_rating", T_NUM, "1", 0, 1000,                                         \
      "Confidence per star above the positive threshold, plus one, for a positive "      \
      "rating.")                                                                         \
    X("semantics.w_list_add", T_NUM, "1", 0, 1000, "Confidence of adding to My List.")   \
    X("semantics.w_search_click", T_NUM, "1", 0, 1000,                                   \
      "Confidence of clicking a title in search results.")                               \
    X("semantics.w_thumbs_down", T_NUM, "4", 0, 1000,                                    \
      "Strength of a thumbs down as a negative.")                                        \
    X("semantics.w_abandon", T_NUM, "1", 0, 1000, "Strength of an early abandon as a negative.") \
    X("models.recency", T_STR, "profile", 0, 0,                                         \
      "Recency decay of training pairs: relative to the profile's newest event "         \
      "(profile), to the newest event overall (global), or none.")                       \
    X("models.binary", T_NUM, "1", 0, 1,                                                 \
      "1: item-kNN, EASE and content see each usable positive as 1; 0: as its "          \
      "confidence.")                                                                     \
    X("models.popular.half_life_days", T_NUM, "30", 0, 36500,                            \
      "Popularity counts a profile's positive with this half-life from the newest "      \
      "event (0 = no decay).")                                                           \
    X("models.trending.window_days", T_NUM, "7", 0.01, 3650,                             \
      "Trending: the short window of recent starts.")                                    \
    X("models.trending.baseline_days", T_NUM, "90", 0.02, 36500,                         \
      "Trending: the long baseline the short window is compared with.")                  \
    X("models.trending.prior", T_NUM, "5", 0, 1e6,                                       \
      "Trending: pseudo-count in the z-score (s - e) / sqrt(e + prior).")                \
    X("models.knn.neighbours", T_NUM, "100", 1, 100000,                                  \
      "Item-kNN: most similar titles kept per title.")                                   \
    X("models.knn.shrink", T_NUM, "10", 0, 1e9,                                          \
      "Item-kNN: shrinkage added to the cosine denominator.")                            \
    X("models.ials.factors", T_NUM, "64", 1, 1024, "iALS: latent factors.")             \
    X("models.ials.iters", T_NUM, "15", 1, 1000, "iALS: alternating iterations.")        \
    X("models.ials.cg_steps", T_NUM, "2", 0, 1024,                                       \
      "iALS: preconditioned conjugate-gradient steps per solve (0 = exact Cholesky "     \
      "solves).")                                                                        \
    X("models.ials.reg", T_NUM, "0.005", 0, 1e9,                                         \
      "iALS: regularization lambda, scaled by (|I_u| + unobserved * |I|)^reg_exp.")      \
    X("models.ials.reg_exp", T_NUM, "1", 0, 2,                                           \
      "iALS: exponent nu of the frequency-scaled regularization (0 = plain lambda).")    \
    X("models.ials.alpha", T_NUM, "1", 0, 1e9,                                           \
      "iALS: weight per unit of confidence on an observed positive (target 1).")         \
    X("models.ials.unobserved", T_NUM, "0.1", 0, 1e9,                                    \
      "iALS: weight a0 of every unobserved (profile, title) pair (target 0).")          \
    X("models.ials.negative", T_NUM, "1", 0, 1e9,                                        \
      "iALS: weight per unit of negative strength on a negative pair (target 0).")       \
    X("models.ials.init_std", T_NUM, "0.1", 0, 10,                                       \
      "iALS: initial item factors ~ N(0, init_std / sqrt(factors)).")                    \
    X("models.ease.lambda", T_NUM, "500", 0.000001, 1e12, "EASE: L2 regularization.")    \
    X("models.ease.dropout", T_NUM, "0", 0, 0.99,                                        \
      "EASE: emphasized-denoising dropout p (EDLAE, Steck 2020): adds p/(1-p) times "    \
      "each title's own co-count to lambda (0 = plain EASE).")                           \
    X("models.ease.max_titles", T_NUM, "20000", 0, 1000000,                              \
      "EASE is skipped (with a message) above this many titles: it needs titles^2 "      \
      "floats.")                                                                         \
    X("models.ease.keep", T_NUM, "500", 0, 1000000,                                      \
      "EASE: largest weights (by magnitude) kept per title in the bundle (0 = the dense " \
      "matrix, titles^2 floats).")                                                       \
    X("models.content.neighbours", T_NUM, "20", 1, 10000,                                \
      "Cold start: content neighbours a title nobody has watched borrows its score "     \
      "from.")                                                                           \
    X("models.content.cold_weight", T_NUM, "1", 0, 100,                                  \
      "Cold start: scale of a cold title's borrowed score (0 = no cold start).")         \
    X("models.seed", T_NUM, "1", 0, 4294967295, "Seed of model initialization.")        \
    X("models.validation", T_NUM, "0.1", 0, 0.5,                                         \
      "Fraction of profiles `marquee train` holds out to choose the default model "      \
      "(0 = no validation: iALS is the default).")                                       \
    X("server.bind", T_STR, "127.0.0.1", 0, 0,                                           \
      "Address `marquee serve` listens on (IPv4 or IPv6 literal; 0.0.0.0 for every "       \
      "interface).")                                                                     \
    X("server.port", T_NUM, "8080", 0, 65535,                                            \
      "TCP port of `marquee serve` (0 = any free port, printed at start).")              \
    X("server.threads", T_NUM, "0", 0, 1024,                                             \
      "HTTP worker threads (0 = four per thread of the budget: a keep-alive connection " \
      "stays with the worker that accepted it, and with one worker per core a burst of " \
      "connections could all land on one and leave a core idle).")                       \
    X("server.body_limit", T_NUM, "8388608", 1024, 1073741824,                           \
      "Largest request body in bytes; a larger one gets 413 before it is parsed.")       \
    X("server.commit_window_us", T_NUM, "0", 0, 100000,                                  \
      "Group commit: how long the writer waits for more requests before committing a "   \
      "small group (0 = commit whatever is queued; groups still form while a commit's "  \
      "fsync runs).")                                                                    \
    X("server.poll_ms", T_NUM, "1000", 50, 600000,                                       \
      "Several nodes: how often a node looks for events, deletions and a new bundle "    \
      "committed elsewhere, besides reacting to notifications at once (a catch-up for "   \
      "a lost notification).")                                                           \
    X("server.api_key", T_STR, "", 0, 0,                                                \
      "API key that write endpoints (POST, PUT, DELETE) and the dashboard require, sent " \
      "as the X-API-Key header or `Authorization: Bearer KEY` (empty = none; then "      \
      "server.bind must be a loopback address).")                                        \
    X("server.web_dir", T_STR, "", 0, 0,                                                \
      "Directory of the web UI served at / (empty = the web/ folder of the source tree " \
      "the binary was built from).")                                                     \
    X("assets.serve", T_NUM, "1", 0, 1,                                                \
      "1: `marquee serve` chooses artwork, synopses and labels with the bandits and "   \
      "learns from every event; 0: the editorial defaults.")                            \
    X("assets.policy", T_STR, "thompson", 0, 0,                                         \
      "Artwork, synopsis and label bandits: thompson (Thompson sampling, "              \
      "shared linear model), linucb, greedy (posterior mean), title "                   \
      "(per-title take rate, profile-blind), uniform or default (editorial).")          \
    X("assets.model", T_STR, "logistic", 0, 0,                                          \
      "Bandit model shared by every title and profile: logistic (Laplace "              \
      "approximation, updated by one Newton step per impression) or linear "            \
      "(Bayesian linear regression).")                                                  \
    X("assets.epsilon", T_NUM, "0.05", 0, 1,                                            \
      "Share of uniformly random asset choices mixed into every policy "                \
      "(epsilon-uniform exploration).")                                                 \
    X("assets.prior_var", T_NUM, "0.01", 1e-06, 1e6,                                    \
      "Bandit: prior variance of each cross of a profile feature (taste, device, "      \
      "time slot) with an asset tag; they are many, each learned from a thin "          \
      "slice of the data.")                                                             \
    X("assets.prior_var_terms", T_NUM, "1", 1e-06, 1e6,                                 \
      "Bandit: prior variance of every other weight (tags on their own, the "           \
      "affinity, personal and editorial terms, main effects).")                         \
    X("assets.noise_var", T_NUM, "0.05", 1e-06, 1e6,                                    \
      "Bandit: reward noise variance of the linear model (about p(1-p) for a "          \
      "take rate p); the logistic model does not use it.")                              \
    X("assets.ts_scale", T_NUM, "0.5", 0, 100,                                          \
      "Thompson sampling: multiplier of the posterior standard deviation "              \
      "(more or less exploration).")                                                    \
    X("assets.ucb_alpha", T_NUM, "1", 0, 100,                                           \
      "LinUCB: width of the confidence bonus, in posterior standard "                   \
      "deviations.")                                                                    \
    X("assets.draws", T_NUM, "32", 1, 64,                                               \
      "Thompson sampling: posterior draws in the bank made at each refresh; a "         \
      "request uses one, and propensities are exact shares of the bank.")               \
    X("assets.taste_dims", T_NUM, "32", 1, 64,                                          \
      "Bandit: hashed dimensions of a profile's taste (decayed genre and tag "          \
      "affinities).")                                                                   \
    X("assets.tag_dims", T_NUM, "24", 2, 32,                                            \
      "Bandit: most frequent asset tags per slot that are features (the tag "           \
      "vocabulary).")                                                                   \
    X("assets.device", T_NUM, "1", 0, 1,                                                \
      "Bandit: 1 to cross the device with the asset tags.")                             \
    X("assets.timeslot", T_NUM, "1", 0, 1,                                              \
      "Bandit: 1 to cross the weekday/evening slot with the asset tags.")               \
    X("assets.personal", T_NUM, "1", 0, 1,                                              \
      "Bandit: 1 to use each profile's own smoothed response to each asset "            \
      "tag.")                                                                           \
    X("assets.editorial", T_NUM, "1", 0, 1,                                             \
      "Bandit: 1 to use each asset tag's share among the editorial defaults of "        \
      "the titles the profile watched.")                                                \
    X("assets.personal_var", T_NUM, "0.25", 1e-06, 1e6,                                 \
      "Bandit: prior variance of a profile's own response to an asset tag, "            \
      "beyond the shared model (log-odds with the logistic model).")                    \
    X("assets.prior_impressions", T_NUM, "10", 0.001, 1e6,                              \
      "Bandit: pseudo-impressions at the overall take rate that shrink a "              \
      "variant's or a title's take rate.")                                              \
    X("assets.reward", T_STR, "play", 0, 0,                                             \
      "Bandit reward: play (a play of the title within the window) or minutes "         \
      "(minutes watched within the window / assets.minutes_cap, at most 1).")           \
    X("assets.reward_window_s", T_NUM, "1800", 1, 2592000,                              \
      "Bandit: seconds after an impression within which a play of the title "           \
      "is attributed to it.")                                                           \
    X("assets.minutes_cap", T_NUM, "60", 0.01, 100000,                                  \
      "Minutes reward: minutes watched that count as a reward of 1.")                   \
    X("assets.cold_impressions", T_NUM, "20", 0, 1000000000,                            \
      "A title with fewer rewarded impressions shows its editorial default "            \
      "asset (with exploration).")                                                      \
    X("assets.refresh_every", T_NUM, "1000", 1, 100000000,                              \
      "Bandit: largest number of updates between posterior refreshes (early "           \
      "on it refreshes more often).")                                                   \
    X("assets.stable", T_NUM, "1", 0, 1,                                                \
      "1: once a profile played a title shown with some artwork, it keeps "             \
      "seeing that artwork.")                                                           \
    X("assets.slots", T_STR, "artwork,synopsis,label", 0, 0,                            \
      "Asset slots that learn: a comma-separated list of artwork, synopsis, "           \
      "label.")                                                                         \
    X("assets.seed", T_NUM, "1", 0, 4294967295,                                         \
      "Seed of the bandit's posterior draws.")                                          \
    X("assets.url_template", T_STR, "/v1/titles/{title}/artwork/{id}", 0, 0,                  \
      "URL of an asset: {id} is the asset id, {title} the title's external "            \
      "id (the default is marquee's own SVG poster of an artwork variant; point it at "  \
      "your image CDN).")                                                                            \
    X("rank.match_threshold", T_NUM, "50", 0, 100,                                      \
      "Match score: below this percentage the match is hidden (null in the API).")      \
    X("rank.candidates", T_NUM, "200", 1, 1000,                                         \
      "Ranking: each candidate model's top this many titles join the candidate set.")    \
    X("rank.recent", T_NUM, "5", 1, 64,                                                 \
      "Ranking: most recent plays that define the \"similar to recent plays\" "        \
      "feature and \"Because you watched\".")                                          \
    X("rank.new_days", T_NUM, "30", 0, 3650,                                            \
      "A title that joined the catalogue within this many days is \"New\".")           \
    X("rank.trees", T_NUM, "100", 1, 5000, "Ranker: boosting rounds (trees).")           \
    X("rank.depth", T_NUM, "4", 1, 12,                                                  \
      "Ranker: depth of each tree (max_depth; 4 is what the fast evaluator is written "  \
      "for, any depth up to 16 is scored).")                                            \
    X("rank.eta", T_NUM, "0.1", 0.0001, 1, "Ranker: learning rate (eta).")              \
    X("rank.min_child_weight", T_NUM, "1", 0, 1e6,                                      \
      "Ranker: smallest sum of hessians in a leaf (min_child_weight).")                 \
    X("rank.subsample", T_NUM, "0.8", 0.01, 1, "Ranker: share of rows per tree.")       \
    X("rank.colsample", T_NUM, "0.8", 0.01, 1, "Ranker: share of features per tree.")   \
    X("rank.lambda", T_NUM, "1", 0, 1e6, "Ranker: L2 regularization of leaf values.")   \
    X("rank.window", T_NUM, "0.2", 0.01, 0.99,                                          \
      "Ranker: it trains on the last this fraction of the event time span (the "         \
      "candidate models for its features are fitted on what comes before).")            \
    X("rank.calib_frac", T_NUM, "0.25", 0.01, 0.99,                                     \
      "Match score: the latest share of the ranker's window held out to calibrate "     \
      "P(enjoy) (isotonic regression) and validate the ranker.")                        \
    X("rank.max_groups", T_NUM, "200000", 10, 100000000,                                \
      "Ranker: most recent training groups (pages) kept.")                              \
    X("rank.reward_window_s", T_NUM, "1800", 1, 2592000,                                \
      "Ranker labels: a play within this many seconds after an impression of the "      \
      "title is that impression's play.")                                               \
    X("rank.guard", T_NUM, "1", 0, 1,                                                   \
      "1: a trained ranker that does not beat the best single candidate model on its "   \
      "held-out validation groups is not used (that model serves, and `marquee train` "  \
      "says so); 0: always use it.")                                                    \
    X("rank.without_impressions", T_STR, "skip", 0, 0,                                  \
      "Data without impressions (MovieLens): skip (no ranker: the fallback blend serves; " \
      "the match score is still trained on ratings) or profiles (train the ranker on "   \
      "each profile's candidate set, labelled with the titles it rated positively next).") \
    X("rank.eval_requests", T_STR, "pages", 0, 0,                                       \
      "`marquee eval --protocol time`, data with impressions: pages (each page after T "  \
      "with a play, its logged impressions re-ranked) or profiles (each profile's "      \
      "candidate set at T, its new positives after T relevant, as for the candidate "    \
      "models). Data without impressions is always evaluated per profile.")              \
    X("rank.seed", T_NUM, "1", 0, 4294967295, "Ranker: seed of sampling and boosting.") \
    X("rank.threads", T_NUM, "1", 0, 1024,                                             \
      "Ranker: XGBoost's threads; 0 = `threads`. Its fit depends on how many (each "     \
      "count repeats itself), so a fixed count gives the same ranker from the same "     \
      "data on any machine; XGBoost is a small part of the ranker's training time.")    \
    /* the homepage (issue 6; src/page, docs/page.md) */                                \
    X("page.policy", T_STR, "full", 0, 0,                                               \
      "Page policy served: full (personalized rows, ranked titles), no-ranker, "        \
      "template (fixed row order) or popular.")                                         \
    X("page.rows", T_NUM, "40", 1, 100, "Most rows a page has (a request asks for up to this).") \
    X("page.items", T_NUM, "25", 1, 100, "Most titles per row.")                        \
    X("page.screen_rows", T_NUM, "3", 0, 100,                                           \
      "First screen: rows within which no title appears twice.")                        \
    X("page.screen_cols", T_NUM, "6", 0, 100,                                           \
      "First screen: titles per row within which no title appears twice.")              \
    X("page.max_repeats", T_NUM, "2", 1, 100,                                           \
      "Appearances of one title on a page, at most (below the first screen).")          \
    X("page.min_items", T_NUM, "4", 1, 100,                                             \
      "A row left with fewer titles is dropped (Continue Watching, My List, Watch It "  \
      "Again and searches need one).")                                                  \
    X("page.kind_penalty", T_NUM, "0.04", 0, 10,                                        \
      "Row score lost per row of the same kind above it.")                              \
    X("page.theme_penalty", T_NUM, "0.06", 0, 10,                                       \
      "Row score lost per unit of genre/tag overlap with a row above it.")              \
    X("page.skip_demotion", T_NUM, "0.03", 0, 10,                                       \
      "Row score lost per ln(1 + times the profile scrolled past the row).")            \
    X("page.affinity_weight", T_NUM, "0", 0, 10,                                        \
      "Row score per unit of the profile's share of positive weight in the row's theme.") \
    X("page.coverage_weight", T_NUM, "0.3", 0, 10,                                      \
      "Row score per unit of new genres and themes its visible titles bring to the page, " \
      "times 1 / (1 + titles the profile played): the less known the taste, the more "  \
      "the first rows spread over it.")                                                  \
    X("page.thumbs_down_damp", T_NUM, "0.5", 0, 1,                                      \
      "Match lost by the title most similar to a thumbs down (less for less similar).") \
    X("page.impression_damp", T_NUM, "1", 0, 1,                                         \
      "Ordering utility kept per impression without a play (at most 8 counted; 1 = "    \
      "off: the ranker has its own impressions feature).")                              \
    X("page.explore", T_NUM, "0.01", 0, 10,                                             \
      "Scale of the per-session noise on row scores (row order exploration).")          \
    X("page.session_minutes", T_NUM, "30", 1, 1440,                                     \
      "A refresh within the same session, with nothing new done, gets the same rows.")  \
    X("page.new_days", T_NUM, "60", 1, 3650, "New Releases: titles added within this many days.") \
    X("page.because_rows", T_NUM, "3", 0, 20, "Because you watched: rows proposed.")    \
    X("page.theme_rows", T_NUM, "16", 0, 200, "Personalized theme rows proposed.")     \
    X("page.theme_min_titles", T_NUM, "12", 1, 100000,                                  \
      "A genre x tag theme needs at least this many titles.")                           \
    X("page.cw_half_life_days", T_NUM, "7", 0.01, 3650,                                 \
      "Continue Watching: half-life of recency in the resume score.")                   \
    X("page.cache_pages", T_NUM, "4096", 0, 10000000,                                   \
      "Assembled pages kept for cursors and stable refreshes (about 16 bytes per "      \
      "title shown).")                                                                  \
    X("page.cache_ttl_s", T_NUM, "300", 0, 86400, "How long a page's cursor stays valid.") \
    X("page.seed", T_NUM, "1", 0, 4294967295, "Seed of session seeds.")                 \
    X("simulate.sessions", T_NUM, "2000", 1, 10000000,                                  \
      "marquee simulate: sessions per page policy.")                                    \
    X("simulate.seed", T_NUM, "1", 0, 4294967295, "marquee simulate: random seed.")     \
    X("simulate.patience_s", T_NUM, "90", 1, 3600,                                      \
      "Simulated seconds of browsing before a member gives up.")                        \
    X("simulate.target_s", T_NUM, "90", 1, 3600,                                        \
      "The time-to-play target reported (share of sessions that play within it).")      \
    X("simulate.row_glance_s", T_NUM, "3", 0, 600, "Simulated seconds to glance at a row.") \
    X("simulate.title_look_s", T_NUM, "3", 0, 600,                                      \
      "Simulated seconds to look at one title.")                                        \
    X("simulate.along", T_NUM, "0.15", 0, 1,                                            \
      "Probability of scrolling along a row past its visible titles before moving on.") \
    X("simulate.gap_minutes", T_NUM, "20", 0, 100000,                                   \
      "Simulated minutes between two sessions (all members together).")

typedef struct {
    const char *name;
    int type;
    const char *def;
    double min, max;
    const char *doc;
} setting;

static const setting table[] = {
#define X(n, t, d, lo, hi, doc) {n, t, d, lo, hi, doc},
    MQ_CONFIG_TABLE(X)
#undef X
};
enum { N_SETTINGS = sizeof table / sizeof table[0] };

struct mq_config {
    double num[N_SETTINGS];
    char *str[N_SETTINGS];
};

static int lookup(const char *name) {
    for (int i = 0; i < N_SETTINGS; i++)
        if (strcmp(table[i].name, name) == 0)
            return i;
    return -1;
}

bool mq_config_has(const char *name) {
    return lookup(name) >= 0;
}

static int set_index(mq_config *c, int i, const char *value, const char *origin, mq_err *err) {
    const setting *s = &table[i];
    if (s->type == T_STR) {
        mq_free(c->str[i]);
        c->str[i] = mq_strdup(value);
        return MQ_OK;
    }
    double v;
    if (!mq_parse_double(value, &v))
        return mq_err_set(err, MQ_EINVAL, "%s: %s: expected a number, got \"%s\"", origin,
                          s->name, value);
    if (v < s->min || v > s->max)
        return mq_err_set(err, MQ_EINVAL, "%s: %s: expected a number from %g to %g, got %s",
                          origin, s->name, s->min, s->max, value);
    c->num[i] = v;
    return MQ_OK;
}

mq_config *mq_config_create(void) {
    mq_config *c = mq_calloc(1, sizeof *c);
    for (int i = 0; i < N_SETTINGS; i++)
        set_index(c, i, table[i].def, "default", NULL);
    return c;
}

void mq_config_destroy(mq_config *c) {
    if (!c)
        return;
    for (int i = 0; i < N_SETTINGS; i++)
        mq_free(c->str[i]);
    mq_free(c);
}

int mq_config_set(mq_config *c, const char *name, const char *value, const char *origin,
                  mq_err *err) {
    int i = lookup(name);
    if (i < 0)
        return mq_err_set(err, MQ_EINVAL,
                          "%s: unknown setting \"%s\" (`marquee config` lists them)", origin,
                          name);
    return set_index(c, i, value, origin, err);
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

int mq_config_load_file(mq_config *c, const char *path, mq_err *err) {
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return MQ_OK;
        return mq_err_set(err, MQ_EIO, "%s: cannot open: %s", path, strerror(errno));
    }
    char line[1024], origin[1100];
    int lineno = 0, rc = MQ_OK;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        snprintf(origin, sizeof origin, "%s:%d", path, lineno);
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = mq_err_set(err, MQ_EINVAL, "%s: expected `name = value`, got \"%s\"", origin, s);
            break;
        }
        *eq = '\0';
        if ((rc = mq_config_set(c, trim(s), trim(eq + 1), origin, err)))
            break;
    }
    fclose(f);
    return rc;
}

/* "semantics.w_play" -> "MARQUEE_SEMANTICS_W_PLAY" */
static void env_name(const char *name, char *out, size_t n) {
    size_t k = (size_t)snprintf(out, n, "MARQUEE_");
    for (const char *p = name; *p && k + 1 < n; p++)
        out[k++] = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
    out[k] = '\0';
}

int mq_config_load_env(mq_config *c, mq_err *err) {
    for (int i = 0; i < N_SETTINGS; i++) {
        char env[128];
        env_name(table[i].name, env, sizeof env);
        const char *v = getenv(env);
        if (v) {
            int rc = set_index(c, i, v, env, err);
            if (rc)
                return rc;
        }
    }
    return MQ_OK;
}

double mq_config_num(const mq_config *c, const char *name) {
    int i = lookup(name);
    if (i < 0 || table[i].type != T_NUM) {
        mq_log(MQ_LOG_ERROR, "internal: no numeric setting \"%s\"", name);
        abort();
    }
    return c->num[i];
}

const char *mq_config_str(const mq_config *c, const char *name) {
    int i = lookup(name);
    if (i < 0 || table[i].type != T_STR) {
        mq_log(MQ_LOG_ERROR, "internal: no string setting \"%s\"", name);
        abort();
    }
    return c->str[i];
}

void mq_config_print_markdown(FILE *f) {
    fprintf(f, "# Configuration\n\n"
               "<!-- Generated by `marquee config --markdown` (make docs); a test keeps it true. "
               "-->\n\n"
               "Every setting has a default. Each layer overrides the one before it:\n\n"
               "1. the defaults below;\n"
               "2. the file `DIR/marquee.conf` in the data directory, `name = value` per line, "
               "`#` starts a comment;\n"
               "3. the environment: `MARQUEE_` followed by the name in upper case, dots as "
               "underscores;\n"
               "4. command-line flags: `--name value` or `--name=value`, before or after the "
               "command.\n\n"
               "The data directory itself comes from `--data DIR`, else `$MARQUEE_DATA`, else "
               "`./marquee-data`. `marquee config` prints the effective values. A bad value "
               "is an error that names where it came from (`marquee.conf:3`, "
               "`MARQUEE_THREADS`, `--threads`) and the range expected.\n\n");
    fprintf(f, "| setting | environment | default | range | meaning |\n|---|---|---|---|---|\n");
    for (int i = 0; i < N_SETTINGS; i++) {
        const setting *s = &table[i];
        char env[128];
        env_name(s->name, env, sizeof env);
        if (s->type == T_NUM)
            fprintf(f, "| `%s` | `%s` | %s | %.10g – %.10g | %s |\n", s->name, env, s->def, s->min,
                    s->max, s->doc);
        else
            fprintf(f, "| `%s` | `%s` | `%s` | text | %s |\n", s->name, env, s->def, s->doc);
    }
}

void mq_config_print(const mq_config *c, FILE *f) {
    for (int i = 0; i < N_SETTINGS; i++) {
        if (table[i].type == T_NUM)
            fprintf(f, "%s = %g\n", table[i].name, c->num[i]);
        else
            fprintf(f, "%s = %s\n", table[i].name, c->str[i]);
    }
}
