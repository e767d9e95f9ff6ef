/* params.c: the page settings (page.* in the configuration table), the device
 * formats, and the names of row kinds and page policies. */
#include "page_impl.h"

#include <stdarg.h>
#include <string.h>

static const struct {
    const char *type, *caption;
} kinds[] = {
#define MQ_PAGE_ROW_ROW(e, type, caption) {type, caption},
    MQ_PAGE_ROW_KINDS(MQ_PAGE_ROW_ROW)
#undef MQ_PAGE_ROW_ROW
};

const char *mq_page_row_type(mq_page_row_kind k) {
    return (unsigned)k < MQ_ROW_KIND_COUNT ? kinds[k].type : "unknown";
}

int mq_page_row_kind_parse(const char *type) {
    for (int k = 0; k < MQ_ROW_KIND_COUNT; k++)
        if (strcmp(kinds[k].type, type) == 0)
            return k;
    return -1;
}

static const struct {
    const char *name, *doc;
} policies[] = {
#define MQ_PAGE_POLICY_ROW(e, name, doc) {name, doc},
    MQ_PAGE_POLICIES(MQ_PAGE_POLICY_ROW)
#undef MQ_PAGE_POLICY_ROW
};

const char *mq_page_policy_name(mq_page_policy p) {
    return (unsigned)p < MQ_PAGE_POLICY_COUNT ? policies[p].name : "unknown";
}

const char *mq_page_policy_doc(mq_page_policy p) {
    return (unsigned)p < MQ_PAGE_POLICY_COUNT ? policies[p].doc : "";
}

int mq_page_policy_parse(const char *s) {
    for (int p = 0; p < MQ_PAGE_POLICY_COUNT; p++)
        if (strcmp(policies[p].name, s) == 0)
            return p;
    return -1;
}

/* Rows and titles per row by device. A TV shows six titles of a row and browses
 * with a remote (long pages are cheap to scroll); a phone shows two and a half,
 * and its members scroll less far down. */
mq_page_format mq_page_device_format(mq_device d) {
    switch (d) {
    case MQ_DEVICE_PHONE:
        return (mq_page_format){25, 15, 2};
    case MQ_DEVICE_TABLET:
        return (mq_page_format){30, 20, 4};
    case MQ_DEVICE_WEB:
        return (mq_page_format){40, 25, 6};
    case MQ_DEVICE_TV:
    default:
        return (mq_page_format){40, 25, 6};
    }
}

void mq_page_params_default(mq_page_params *p) {
    memset(p, 0, sizeof *p);
    p->policy = MQ_PAGE_POLICY_FULL;
    p->max_rows = 40;
    p->max_items = 25;
    p->screen_rows = 3;
    p->screen_cols = 6;
    p->max_repeats = 2;
    p->min_items = 4;
    p->kind_penalty = 0.04;
    p->theme_penalty = 0.06;
    p->skip_demotion = 0.03;
    p->affinity_weight = 0;
    p->coverage_weight = 0.3;
    p->thumbs_down_damp = 0.5;
    p->impression_damp = 1;
    p->explore = 0.01;
    p->session_minutes = 30;
    p->new_days = 60;
    p->because_rows = 3;
    p->theme_rows = 16;
    p->theme_min_titles = 12;
    p->cw_half_life_days = 7;
    p->cache_pages = 4096;
    p->cache_ttl_s = 300;
    p->seed = 1;
    p->url_template = "/v1/titles/{title}/artwork/{id}";
    mq_semantics_defaults(&p->sem);
    mq_rank_settings_default(&p->rank);
}

int mq_page_params_from_config(mq_page_params *p, const mq_config *c, mq_err *err) {
    mq_page_params_default(p);
    const char *pol = mq_config_str(c, "page.policy");
    int k = pol ? mq_page_policy_parse(pol) : MQ_PAGE_POLICY_FULL;
    if (k < 0)
        return mq_err_set(err, MQ_EINVAL,
                          "page.policy: expected popular, template, no-ranker or full, got \"%s\"",
                          pol);
    p->policy = (mq_page_policy)k;
    p->max_rows = (int)mq_config_num(c, "page.rows");
    p->max_items = (int)mq_config_num(c, "page.items");
    p->screen_rows = (int)mq_config_num(c, "page.screen_rows");
    p->screen_cols = (int)mq_config_num(c, "page.screen_cols");
    p->max_repeats = (int)mq_config_num(c, "page.max_repeats");
    p->min_items = (int)mq_config_num(c, "page.min_items");
    p->kind_penalty = mq_config_num(c, "page.kind_penalty");
    p->theme_penalty = mq_config_num(c, "page.theme_penalty");
    p->skip_demotion = mq_config_num(c, "page.skip_demotion");
    p->affinity_weight = mq_config_num(c, "page.affinity_weight");
    p->coverage_weight = mq_config_num(c, "page.coverage_weight");
    p->thumbs_down_damp = mq_config_num(c, "page.thumbs_down_damp");
    p->impression_damp = mq_config_num(c, "page.impression_damp");
    p->explore = mq_config_num(c, "page.explore");
    p->session_minutes = (int)mq_config_num(c, "page.session_minutes");
    p->new_days = (int)mq_config_num(c, "page.new_days");
    p->because_rows = (int)mq_config_num(c, "page.because_rows");
    p->theme_rows = (int)mq_config_num(c, "page.theme_rows");
    p->theme_min_titles = (int)mq_config_num(c, "page.theme_min_titles");
    p->cw_half_life_days = mq_config_num(c, "page.cw_half_life_days");
    p->cache_pages = (int)mq_config_num(c, "page.cache_pages");
    p->cache_ttl_s = (int)mq_config_num(c, "page.cache_ttl_s");
    p->seed = (uint64_t)mq_config_num(c, "page.seed");
    const char *url = mq_config_str(c, "assets.url_template");
    if (url && *url)
        p->url_template = url;
    mq_semantics_from_config(&p->sem, c);
    mq_rank_settings_from_config(&p->rank, c);
    const char *bad = mq_page_params_check(p);
    if (bad)
        return mq_err_set(err, MQ_EINVAL, "%s", bad);
    return MQ_OK;
}

const char *mq_page_params_check(const mq_page_params *p) {
    if (p->max_rows < 1 || p->max_rows > MQ_PAGE_MAX_ROWS)
        return "page.rows: expected 1 to 100";
    if (p->max_items < 1 || p->max_items > MQ_PAGE_MAX_ITEMS)
        return "page.items: expected 1 to 100";
    if (p->screen_rows < 0 || p->screen_cols < 0)
        return "page.screen_rows, page.screen_cols: expected >= 0";
    if (p->max_repeats < 1)
        return "page.max_repeats: expected >= 1";
    if (p->min_items < 1)
        return "page.min_items: expected >= 1";
    if (p->cache_pages < 0 || p->cache_ttl_s < 0)
        return "page.cache_pages, page.cache_ttl_s: expected >= 0";
    if (p->session_minutes < 1)
        return "page.session_minutes: expected >= 1";
    if (!(p->cw_half_life_days > 0))
        return "page.cw_half_life_days: expected > 0";
    return NULL;
}

/* splitmix64's finalizer: session seeds and per-row noise are hashes, so the same
 * inputs give the same page. */
uint64_t pg_mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

char *pg_strdupf(mq_arena *a, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return mq_arena_strdup(a, buf);
}
