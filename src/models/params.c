/* params.c: the model table (names for the CLI, tables and the bundle's mask) and
 * the hyperparameters: read from the configuration table (models.*), checked in
 * one function that names the bad setting. */
#include "models_impl.h"

#include <stdlib.h>

static const struct {
    const char *name, *doc;
} kinds[] = {
#define MQ_MODEL_ROW(e, name, doc) {name, doc},
    MQ_MODEL_KINDS(MQ_MODEL_ROW)
#undef MQ_MODEL_ROW
};

const char *mq_model_name(mq_model_kind k) {
    return (unsigned)k < MQ_MODEL_COUNT ? kinds[k].name : "unknown";
}

const char *mq_model_doc(mq_model_kind k) {
    return (unsigned)k < MQ_MODEL_COUNT ? kinds[k].doc : "";
}

int mq_model_parse(const char *name) {
    for (int k = 0; k < MQ_MODEL_COUNT; k++)
        if (strcmp(kinds[k].name, name) == 0)
            return k;
    return -1;
}

int mq_model_parse_list(const char *list, unsigned *mask, mq_err *err) {
    *mask = 0;
    if (strcmp(list, "all") == 0) {
        *mask = MQ_MODEL_ALL;
        return MQ_OK;
    }
    const char *s = list;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        char name[32];
        if (len == 0 || len >= sizeof name)
            return mq_err_set(err, MQ_EINVAL,
                              "models \"%s\": expected a comma-separated list of model names, "
                              "got an empty or overlong entry",
                              list);
        memcpy(name, s, len);
        name[len] = '\0';
        int k = mq_model_parse(name);
        if (k < 0) {
            char names[160] = "";
            for (int i = 0; i < MQ_MODEL_COUNT; i++)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                         kinds[i].name);
            return mq_err_set(err, MQ_EINVAL,
                              "models \"%s\": expected one of %s or all, got \"%s\"", list, names,
                              name);
        }
        *mask |= 1u << k;
        s += len + (e ? 1 : 0);
    }
    if (!*mask)
        return mq_err_set(err, MQ_EINVAL, "models: expected at least one model name, got \"\"");
    return MQ_OK;
}

void mq_train_params_from_config(mq_train_params *p, const mq_config *c) {
    memset(p, 0, sizeof *p);
    p->models = MQ_MODEL_ALL;
    p->binary = mq_config_num(c, "models.binary") != 0;
    p->pop.half_life_days = mq_config_num(c, "models.popular.half_life_days");
    p->pop.trending_window_days = mq_config_num(c, "models.trending.window_days");
    p->pop.trending_baseline_days = mq_config_num(c, "models.trending.baseline_days");
    p->pop.trending_prior = mq_config_num(c, "models.trending.prior");
    p->knn.neighbours = (int)mq_config_num(c, "models.knn.neighbours");
    p->knn.shrink = mq_config_num(c, "models.knn.shrink");
    p->ials.factors = (int)mq_config_num(c, "models.ials.factors");
    p->ials.iters = (int)mq_config_num(c, "models.ials.iters");
    p->ials.cg_steps = (int)mq_config_num(c, "models.ials.cg_steps");
    p->ials.reg = mq_config_num(c, "models.ials.reg");
    p->ials.reg_exp = mq_config_num(c, "models.ials.reg_exp");
    p->ials.alpha = mq_config_num(c, "models.ials.alpha");
    p->ials.unobserved = mq_config_num(c, "models.ials.unobserved");
    p->ials.negative = mq_config_num(c, "models.ials.negative");
    p->ials.init_std = mq_config_num(c, "models.ials.init_std");
    p->ease.lambda = mq_config_num(c, "models.ease.lambda");
    p->ease.dropout = mq_config_num(c, "models.ease.dropout");
    p->ease.max_titles = (int)mq_config_num(c, "models.ease.max_titles");
    p->ease.keep = (int)mq_config_num(c, "models.ease.keep");
    p->content.neighbours = (int)mq_config_num(c, "models.content.neighbours");
    p->content.cold_weight = mq_config_num(c, "models.content.cold_weight");
    p->seed = (uint64_t)mq_config_num(c, "models.seed");
    p->threads = (int)mq_config_num(c, "threads");
}

const char *mq_train_params_check(const mq_train_params *p) {
    if (!(p->models & MQ_MODEL_ALL))
        return "models: no model selected";
    if (p->pop.half_life_days < 0)
        return "models.popular.half_life_days: expected >= 0";
    if (!(p->pop.trending_window_days > 0) ||
        !(p->pop.trending_baseline_days > p->pop.trending_window_days))
        return "models.trending.window_days / baseline_days: expected 0 < window < baseline";
    if (p->pop.trending_prior < 0)
        return "models.trending.prior: expected >= 0";
    if (p->knn.neighbours < 1)
        return "models.knn.neighbours: expected >= 1";
    if (p->knn.shrink < 0)
        return "models.knn.shrink: expected >= 0";
    if (p->ials.factors < 1 || p->ials.factors > 1024)
        return "models.ials.factors: expected 1 to 1024";
    if (p->ials.iters < 1)
        return "models.ials.iters: expected >= 1";
    if (p->ials.cg_steps < 0)
        return "models.ials.cg_steps: expected >= 0 (0 = exact solves)";
    if (!(p->ials.reg > 0) && !(p->ials.unobserved > 0))
        return "models.ials.reg: expected > 0 when models.ials.unobserved is 0 (the normal "
               "equations would be singular)";
    if (p->ials.reg < 0 || p->ials.reg_exp < 0 || p->ials.alpha < 0 || p->ials.unobserved < 0 ||
        p->ials.negative < 0 || p->ials.init_std < 0)
        return "models.ials.*: expected non-negative values";
    if (!(p->ease.lambda > 0))
        return "models.ease.lambda: expected > 0";
    if (!(p->ease.dropout >= 0 && p->ease.dropout < 1))
        return "models.ease.dropout: expected 0 <= p < 1";
    if (p->ease.keep < 0)
        return "models.ease.keep: expected >= 0 (0 = dense)";
    if (p->content.neighbours < 1)
        return "models.content.neighbours: expected >= 1";
    if (p->content.cold_weight < 0)
        return "models.content.cold_weight: expected >= 0";
    return NULL;
}
