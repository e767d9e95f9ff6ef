/* page_hit.c: the homepage's first-screen hit rate (eval.h, "the homepage"): a
 * bundle fitted before T, one live state per page policy built from the events
 * before T and kept current through the events after it, and before each sampled
 * held-out play, the page the profile would have opened just then. */
#include "eval.h"

#include <math.h>
#include <string.h>

typedef struct {
    mq_state *st[MQ_PAGE_POLICY_COUNT];
    mq_page_service *svc[MQ_PAGE_POLICY_COUNT];
    const mq_page_eval_opts *o;
    mq_page_eval_report *r;
    const mq_bundle *b;
    const mq_catalog *cat;
    size_t stride, seen;
    mq_arena a;
    int rc;
    mq_err *err;
} ph_ctx;

static int count_plays(void *ud, const mq_event *e) {
    (void)e;
    (*(size_t *)ud)++;
    return 0;
}

static int apply_before(void *ud, const mq_event *e) {
    ph_ctx *c = ud;
    for (int k = 0; k < MQ_PAGE_POLICY_COUNT; k++)
        if (c->st[k])
            mq_state_apply(c->st[k], e);
    return 0;
}

/* Did the profile play title t before (its state says so)? */
static bool played_before(mq_state *st, uint32_t profile, uint32_t title, int64_t now) {
    mq_state_view v;
    bool played = false;
    if (mq_state_get(st, profile, now, &v)) {
        for (size_t i = 0; i < v.n_titles && !played; i++)
            played = v.titles[i].title_id == title && v.titles[i].plays > 0;
        mq_state_view_free(&v);
    }
    return played;
}

static int after(void *ud, const mq_event *e) {
    ph_ctx *c = ud;
    if (e->type == MQ_EV_PLAY_START && e->profile_id && e->title_id && c->seen++ % c->stride == 0) {
        const mq_profile *pr = mq_catalog_profile(c->cat, e->profile_id);
        bool fresh = false;
        bool first = true;
        for (size_t i = 0; i < c->r->n; i++) {
            mq_page_eval_row *row = &c->r->rows[i];
            mq_state *st = c->st[row->policy];
            if (first) {
                fresh = !played_before(st, e->profile_id, e->title_id, e->ts_ms);
                first = false;
            }
            mq_page_request rq = {0};
            rq.profile_id = e->profile_id;
            rq.profile = e->profile;
            rq.maturity_limit = pr ? pr->maturity_limit : 18;
            rq.device = c->o->device;
            rq.now_ms = e->ts_ms - 1;
            rq.tz_offset_min = e->tz_offset_min;
            rq.policy = (int)row->policy;
            rq.bundle = c->b;
            rq.bundle_version = 1;
            rq.state = st;
            rq.fresh = true;
            mq_arena_reset(&c->a);
            mq_page pg;
            mq_err err = {0};
            if (mq_page_build(c->svc[row->policy], &rq, &c->a, &pg, &err)) {
                c->rc = mq_err_set(c->err, err.code, "%s", err.msg);
                return 1;
            }
            bool hit = mq_page_in_first_screen(&pg, mq_page_service_params(c->svc[row->policy]),
                                               e->title_id);
            mq_page_done(c->svc[row->policy], &pg);
            row->plays++;
            row->hits += hit;
            if (fresh) {
                row->new_plays++;
                row->new_hits += hit;
            }
        }
    }
    return apply_before(ud, e);
}

int mq_eval_first_screen(mq_store *s, const mq_train_params *p, const mq_matrix_opts *mo,
                         const mq_page_params *pp, const mq_page_eval_opts *o,
                         mq_page_eval_report *r, mq_err *err) {
    memset(r, 0, sizeof *r);
    double t0 = mq_mono_s();
    ph_ctx c = {0};
    c.o = o;
    c.r = r;
    c.err = err;
    mq_arena_init(&c.a, (size_t)4 << 20, 0);
    mq_matrix *m = NULL;
    mq_bundle *b = NULL;
    mq_catalog *cat = NULL;
    int rc;
    int64_t T = o->time_ms;
    if (!T && (rc = mq_store_time_quantile(s, o->quantile > 0 ? o->quantile : 0.9, &T, err)))
        goto out;
    r->time_ms = T;
    mq_matrix_opts mo2 = *mo;
    mo2.to_ms = T;
    if ((rc = mq_matrix_from_store(s, &mo2, &m, err)) ||
        (rc = mq_train(m, p, NULL, NULL, NULL, &b, err)))
        goto out;
    r->train_seconds = mq_mono_s() - t0;
    c.b = b;
    if ((rc = mq_store_load_catalog(s, &cat, err)))
        goto out;
    c.cat = cat;
    mq_page_params pq = *pp;
    pq.cache_pages = 0; /* every page fresh */
    for (int k = 0; k < MQ_PAGE_POLICY_COUNT; k++) {
        if (!(o->policies & (1u << k)))
            continue;
        mq_catalog *own = NULL;
        c.st[k] = mq_state_create(&mo->sem);
        if ((rc = mq_page_service_create(&pq, &c.svc[k], err)) ||
            (rc = mq_store_load_catalog(s, &own, err)) ||
            (rc = mq_page_service_set_catalog(c.svc[k], own, err)))
            goto out;
        r->rows[r->n++].policy = (mq_page_policy)k;
    }
    mq_event_filter f = MQ_EVENT_FILTER_ALL;
    f.from_ms = T;
    f.type = MQ_EV_PLAY_START;
    size_t held = 0;
    if ((rc = mq_store_each_event(s, &f, count_plays, &held, err)))
        goto out;
    r->held_out = held;
    size_t max = o->max_plays ? o->max_plays : 3000;
    c.stride = held > max ? (held + max - 1) / max : 1;
    f = MQ_EVENT_FILTER_ALL;
    f.to_ms = T;
    if ((rc = mq_store_each_event(s, &f, apply_before, &c, err)))
        goto out;
    f = MQ_EVENT_FILTER_ALL;
    f.from_ms = T;
    rc = mq_store_each_event(s, &f, after, &c, err);
    if (c.rc)
        rc = c.rc;
    if (rc)
        goto out;
    for (size_t i = 0; i < r->n; i++) {
        mq_page_eval_row *row = &r->rows[i];
        row->hit_rate = row->plays ? (double)row->hits / (double)row->plays : NAN;
        row->new_hit_rate = row->new_plays ? (double)row->new_hits / (double)row->new_plays : NAN;
    }
out:
    for (int k = 0; k < MQ_PAGE_POLICY_COUNT; k++) {
        mq_state_destroy(c.st[k]);
        mq_page_service_destroy(c.svc[k]);
    }
    mq_arena_free(&c.a);
    mq_catalog_destroy(cat);
    mq_bundle_destroy(b);
    mq_matrix_destroy(m);
    r->seconds = mq_mono_s() - t0;
    return rc;
}

void mq_page_eval_print(FILE *f, const mq_page_eval_report *r, const mq_page_params *pp) {
    char t[40];
    mq_time_format_rfc3339(r->time_ms, t, sizeof t);
    fprintf(f,
            "first-screen hit rate (%d rows x %d titles) on the global time split at %s: %zu "
            "held-out plays, %zu scored (%.1f s, training %.1f s)\n\n",
            pp->screen_rows, pp->screen_cols, t, r->held_out, r->n ? r->rows[0].plays : 0,
            r->seconds, r->train_seconds);
    fprintf(f, "%-10s %10s %10s %12s %10s\n", "policy", "hit rate", "plays", "new titles", "plays");
    for (size_t i = 0; i < r->n; i++) {
        const mq_page_eval_row *x = &r->rows[i];
        fprintf(f, "%-10s %9.1f%% %10zu %11.1f%% %10zu\n", mq_page_policy_name(x->policy),
                100 * x->hit_rate, x->plays, 100 * x->new_hit_rate, x->new_plays);
    }
}

json_t *mq_page_eval_json(const mq_page_eval_report *r, const mq_page_params *pp) {
    json_t *o = json_object(), *rows = json_array();
    char t[40];
    mq_time_format_rfc3339(r->time_ms, t, sizeof t);
    json_object_set_new(o, "metric", json_string("first_screen_hit_rate"));
    json_object_set_new(o, "screen_rows", json_integer(pp->screen_rows));
    json_object_set_new(o, "screen_cols", json_integer(pp->screen_cols));
    json_object_set_new(o, "time", json_string(t));
    json_object_set_new(o, "held_out_plays", json_integer((json_int_t)r->held_out));
    for (size_t i = 0; i < r->n; i++) {
        const mq_page_eval_row *x = &r->rows[i];
        json_t *j = json_object();
        json_object_set_new(j, "policy", json_string(mq_page_policy_name(x->policy)));
        json_object_set_new(j, "plays", json_integer((json_int_t)x->plays));
        json_object_set_new(j, "hit_rate",
                            isnan(x->hit_rate) ? json_null() : json_real(x->hit_rate));
        json_object_set_new(j, "new_plays", json_integer((json_int_t)x->new_plays));
        json_object_set_new(j, "new_hit_rate",
                            isnan(x->new_hit_rate) ? json_null() : json_real(x->new_hit_rate));
        json_array_append_new(rows, j);
    }
    json_object_set_new(o, "policies", rows);
    json_object_set_new(o, "seconds", json_real(r->seconds));
    return o;
}
