/* params.c: the bandit's settings (assets.* in the configuration table), read and
 * checked in one place, and the names of slots and policies. */
#include "assets_impl.h"

#include <string.h>

static const char *const slot_names[MQ_SLOT_COUNT] = {"artwork", "synopsis", "label"};

const char *mq_asset_slot_name(mq_asset_slot s) {
    return (unsigned)s < MQ_SLOT_COUNT ? slot_names[s] : "unknown";
}

int mq_asset_slot_parse(const char *s) {
    for (int i = 0; i < MQ_SLOT_COUNT; i++)
        if (strcmp(slot_names[i], s) == 0)
            return i;
    return -1;
}

static const char *const policy_names[MQ_APOL_COUNT] = {
#define MQ_APOL_NAME(e, name, doc) name,
    MQ_ASSET_POLICIES(MQ_APOL_NAME)
#undef MQ_APOL_NAME
};

const char *mq_asset_policy_name(mq_asset_policy p) {
    return (unsigned)p < MQ_APOL_COUNT ? policy_names[p] : "unknown";
}

int mq_asset_policy_parse(const char *s) {
    for (int i = 0; i < MQ_APOL_COUNT; i++)
        if (strcmp(policy_names[i], s) == 0)
            return i;
    return -1;
}

void mq_assets_params_default(mq_assets_params *p) {
    mq_config *c = mq_config_create();
    mq_assets_params_from_config(p, c, NULL);
    mq_config_destroy(c);
    /* The defaults' url_template would point into the freed config. */
    p->url_template = "/v1/titles/{title}/artwork/{id}";
}

/* "artwork,synopsis" -> a slot mask. */
static int parse_slots(const char *s, unsigned *mask, mq_err *err) {
    *mask = 0;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        char name[32];
        if (len == 0 || len >= sizeof name)
            return mq_err_set(err, MQ_EINVAL,
                              "assets.slots: expected a comma-separated list of artwork, "
                              "synopsis, label, got an empty or overlong entry");
        memcpy(name, s, len);
        name[len] = '\0';
        int k = mq_asset_slot_parse(name);
        if (k < 0)
            return mq_err_set(err, MQ_EINVAL,
                              "assets.slots: expected artwork, synopsis or label, got \"%s\"",
                              name);
        *mask |= 1u << k;
        s += len + (e ? 1 : 0);
    }
    return MQ_OK;
}

int mq_assets_params_from_config(mq_assets_params *p, const mq_config *c, mq_err *err) {
    memset(p, 0, sizeof *p);
    const char *pol = mq_config_str(c, "assets.policy");
    int k = mq_asset_policy_parse(pol);
    if (k < 0)
        return mq_err_set(err, MQ_EINVAL,
                          "assets.policy: expected thompson, linucb, greedy, title, uniform or "
                          "default, got \"%s\"",
                          pol);
    p->policy = (mq_asset_policy)k;
    const char *model = mq_config_str(c, "assets.model");
    if (strcmp(model, "logistic") == 0)
        p->logistic = true;
    else if (strcmp(model, "linear") == 0)
        p->logistic = false;
    else
        return mq_err_set(err, MQ_EINVAL, "assets.model: expected logistic or linear, got \"%s\"",
                          model);
    p->epsilon = mq_config_num(c, "assets.epsilon");
    p->prior_var = mq_config_num(c, "assets.prior_var");
    p->prior_var_terms = mq_config_num(c, "assets.prior_var_terms");
    p->noise_var = mq_config_num(c, "assets.noise_var");
    p->ts_scale = mq_config_num(c, "assets.ts_scale");
    p->ucb_alpha = mq_config_num(c, "assets.ucb_alpha");
    p->draws = (int)mq_config_num(c, "assets.draws");
    p->taste_dims = (int)mq_config_num(c, "assets.taste_dims");
    p->tag_dims = (int)mq_config_num(c, "assets.tag_dims");
    p->use_device = mq_config_num(c, "assets.device") != 0;
    p->use_timeslot = mq_config_num(c, "assets.timeslot") != 0;
    p->use_personal = mq_config_num(c, "assets.personal") != 0;
    p->use_editorial = mq_config_num(c, "assets.editorial") != 0;
    p->personal_prior = mq_config_num(c, "assets.prior_impressions");
    p->personal_var = mq_config_num(c, "assets.personal_var");
    const char *rw = mq_config_str(c, "assets.reward");
    if (strcmp(rw, "play") == 0)
        p->reward = MQ_REWARD_PLAY;
    else if (strcmp(rw, "minutes") == 0)
        p->reward = MQ_REWARD_MINUTES;
    else
        return mq_err_set(err, MQ_EINVAL, "assets.reward: expected play or minutes, got \"%s\"",
                          rw);
    p->reward_window_ms = (int64_t)(mq_config_num(c, "assets.reward_window_s") * 1000.0);
    p->minutes_cap = mq_config_num(c, "assets.minutes_cap");
    p->cold_impressions = (int)mq_config_num(c, "assets.cold_impressions");
    p->refresh_every = (int)mq_config_num(c, "assets.refresh_every");
    p->stable = mq_config_num(c, "assets.stable") != 0;
    int rc = parse_slots(mq_config_str(c, "assets.slots"), &p->slots, err);
    if (rc)
        return rc;
    p->seed = (uint64_t)mq_config_num(c, "assets.seed");
    p->url_template = mq_config_str(c, "assets.url_template");
    mq_semantics_from_config(&p->sem, c);
    return MQ_OK;
}

const char *mq_assets_params_check(const mq_assets_params *p) {
    if ((unsigned)p->policy >= MQ_APOL_COUNT)
        return "assets.policy: unknown policy";
    if (!(p->epsilon >= 0 && p->epsilon <= 1))
        return "assets.epsilon: expected a probability from 0 to 1";
    if (!(p->prior_var > 0))
        return "assets.prior_var: expected a positive variance";
    if (!(p->prior_var_terms > 0))
        return "assets.prior_var_terms: expected a positive variance";
    if (!(p->noise_var > 0))
        return "assets.noise_var: expected a positive variance";
    if (!(p->ts_scale >= 0))
        return "assets.ts_scale: expected a non-negative scale";
    if (!(p->ucb_alpha >= 0))
        return "assets.ucb_alpha: expected a non-negative width";
    if (p->draws < 1 || p->draws > MQ_ASSETS_MAX_DRAWS)
        return "assets.draws: expected 1 to 64 posterior draws";
    if (p->taste_dims < 1 || p->taste_dims > MQ_ASSETS_MAX_TASTE)
        return "assets.taste_dims: expected 1 to 64 dimensions";
    if (p->tag_dims < 2 || p->tag_dims > MQ_ASSETS_MAX_TAGS)
        return "assets.tag_dims: expected 2 to 32 tags (one is the editorial default)";
    if (!(p->personal_var > 0))
        return "assets.personal_var: expected a positive variance";
    if (!(p->personal_prior > 0))
        return "assets.prior_impressions: expected a positive count";
    if (p->reward_window_ms < 1000)
        return "assets.reward_window_s: expected at least 1 second";
    if (!(p->minutes_cap > 0))
        return "assets.minutes_cap: expected a positive number of minutes";
    if (p->cold_impressions < 0)
        return "assets.cold_impressions: expected a non-negative count";
    if (p->refresh_every < 0)
        return "assets.refresh_every: expected a non-negative number of updates";
    if (!p->url_template)
        return "assets.url_template: expected a template";
    return NULL;
}
