/*
 * dashboard.c: GET /v1/dashboard, the figures behind the web UI's operator
 * dashboard in one answer: events stored per second over the last five minutes,
 * the request latency histogram (every route), the bundle served with its
 * training report, the asset bandits' arms, catalogue coverage and Effective
 * Catalog Size of what members were shown and played, and the latest `marquee
 * simulate` report. It needs the API key when one is set.
 *
 * Effective Catalog Size (Gomez-Uribe & Hunt 2015): with p(i) the share of the
 * i-th most shown (played) title, ECS = 2 * sum_i p(i) * i - 1: 1 when one title
 * takes everything, N when N titles share evenly.
 */
#include "server_impl.h"
#include "simulate/simulate.h"

#include <stdlib.h>
#include <string.h>

static void count(mq_counts *v, uint32_t id) {
    while (v->len <= id)
        MQ_VEC_PUSH(v, 0);
    v->items[id]++;
}

void mq_server_count_event(mq_server *srv, const mq_event *e) {
    if (!e->title_id || (e->type != MQ_EV_IMPRESSION && e->type != MQ_EV_PLAY_START))
        return;
    pthread_mutex_lock(&srv->cov_mu);
    count(e->type == MQ_EV_IMPRESSION ? &srv->cov_imp : &srv->cov_play, e->title_id);
    pthread_mutex_unlock(&srv->cov_mu);
}

static int desc_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Titles with a count, the total, and the ECS of the counts (sorted in place). */
static json_t *coverage_json(uint32_t *c, size_t n, size_t catalog) {
    qsort(c, n, sizeof *c, desc_u32);
    uint64_t total = 0;
    size_t with = 0;
    for (size_t i = 0; i < n; i++) {
        total += c[i];
        with += c[i] > 0;
    }
    double ecs = 0;
    for (size_t i = 0; i < n && total; i++)
        ecs += (double)c[i] / (double)total * (double)(i + 1);
    json_t *o = json_object();
    json_object_set_new(o, "total", json_integer((json_int_t)total));
    json_object_set_new(o, "titles", json_integer((json_int_t)with));
    json_object_set_new(o, "coverage", json_real(catalog ? (double)with / (double)catalog : 0));
    json_object_set_new(o, "ecs", json_real(total ? 2 * ecs - 1 : 0));
    return o;
}

static json_t *events_json(mq_server *srv) {
    mq_metrics *m = &srv->metrics;
    int64_t now = mq_now_ms() / 1000;
    json_t *per = json_array();
    for (int64_t sec = now - MQ_EV_RING + 1; sec <= now; sec++) {
        size_t k = (size_t)(sec % MQ_EV_RING);
        uint64_t n = atomic_load(&m->ev_sec[k]) == sec ? atomic_load(&m->ev_count[k]) : 0;
        json_t *p = json_object();
        json_object_set_new(p, "t", json_integer(sec));
        json_object_set_new(p, "n", json_integer((json_int_t)n));
        json_array_append_new(per, p);
    }
    json_t *by = json_object();
    uint64_t total = 0;
    for (int t = 0; t < MQ_EV_COUNT; t++) {
        uint64_t n = atomic_load(&m->events_by_type[t]);
        total += n;
        if (n)
            json_object_set_new(by, mq_event_type_name((mq_event_type)t),
                                json_integer((json_int_t)n));
    }
    json_t *o = json_object();
    json_object_set_new(o, "total", json_integer((json_int_t)total));
    json_object_set_new(o, "followed", json_integer((json_int_t)atomic_load(&m->events_followed)));
    json_object_set_new(o, "duplicates",
                        json_integer((json_int_t)atomic_load(&m->events_duplicate)));
    json_object_set_new(o, "rejected", json_integer((json_int_t)atomic_load(&m->events_rejected)));
    json_object_set_new(o, "per_second", per);
    json_object_set_new(o, "by_type", by);
    return o;
}

/* Every route's latency in one histogram, with quantiles read off its buckets
 * (the upper bound of the bucket the quantile falls in). */
static json_t *latency_json(mq_server *srv) {
    uint64_t b[MQ_LAT_BUCKETS + 1] = {0}, n = 0, sum_ns = 0;
    for (int r = 0; r <= MQ_MAX_ROUTES; r++) {
        mq_hist *h = &srv->metrics.latency[r];
        for (int i = 0; i <= MQ_LAT_BUCKETS; i++)
            b[i] += atomic_load(&h->bucket[i]);
        n += atomic_load(&h->count);
        sum_ns += atomic_load(&h->sum_ns);
    }
    json_t *le = json_array(), *counts = json_array();
    for (int i = 0; i <= MQ_LAT_BUCKETS; i++) {
        if (i < MQ_LAT_BUCKETS)
            json_array_append_new(le, json_real(mq_metrics_bound(i)));
        json_array_append_new(counts, json_integer((json_int_t)b[i]));
    }
    json_t *o = json_object();
    json_object_set_new(o, "le", le);
    json_object_set_new(o, "counts", counts);
    json_object_set_new(o, "count", json_integer((json_int_t)n));
    json_object_set_new(o, "mean_ms",
                        n ? json_real((double)sum_ns / (double)n / 1e6) : json_null());
    static const struct {
        const char *name;
        double q;
    } qs[] = {{"p50_ms", 0.5}, {"p90_ms", 0.9}, {"p99_ms", 0.99}};
    for (size_t k = 0; k < MQ_ARRAY_LEN(qs); k++) {
        uint64_t cum = 0, want = (uint64_t)(qs[k].q * (double)n + 0.5);
        json_t *v = json_null();
        for (int i = 0; i <= MQ_LAT_BUCKETS && n; i++) {
            cum += b[i];
            if (cum >= want && want) {
                v = i < MQ_LAT_BUCKETS ? json_real(mq_metrics_bound(i) * 1e3) : json_null();
                break;
            }
        }
        json_object_set_new(o, qs[k].name, v);
    }
    return o;
}

static json_t *simulation_json(mq_server *srv) {
    void *data = NULL;
    size_t len = 0;
    mq_err err = {0};
    pthread_mutex_lock(&srv->read_mu);
    int rc = mq_store_get_blob(srv->reader, MQ_SIMULATION_BLOB, &data, &len, &err);
    pthread_mutex_unlock(&srv->read_mu);
    if (rc)
        return json_null();
    json_t *j = json_loadb(data, len, 0, NULL);
    mq_free(data);
    return j ? j : json_null();
}

mq_hres mq_h_dashboard(mq_req *r) {
    if (!mq_req_authorized(r))
        return MQ_H_DONE;
    mq_server *srv = r->srv;
    json_t *o = json_object();
    json_object_set_new(o, "uptime_s", json_integer((mq_now_ms() - srv->boot_ms) / 1000));
    json_object_set_new(o, "events", events_json(srv));
    json_object_set_new(o, "latency", latency_json(srv));
    json_object_set_new(o, "bundle", mq_server_bundle_json(srv));
    json_object_set_new(o, "bandits", mq_server_assets_dashboard(srv));

    size_t n_cat = 0; /* titles now (the pages' snapshot may be a second behind) */
    pthread_rwlock_rdlock(&srv->names_lock);
    for (size_t i = 0; i < srv->title_names.len; i++)
        n_cat += srv->title_names.items[i] != NULL;
    pthread_rwlock_unlock(&srv->names_lock);
    pthread_mutex_lock(&srv->cov_mu);
    size_t ni = srv->cov_imp.len, np = srv->cov_play.len;
    uint32_t *imp = mq_malloc((ni + 1) * sizeof *imp), *play = mq_malloc((np + 1) * sizeof *play);
    if (ni)
        memcpy(imp, srv->cov_imp.items, ni * sizeof *imp);
    if (np)
        memcpy(play, srv->cov_play.items, np * sizeof *play);
    pthread_mutex_unlock(&srv->cov_mu);
    json_t *cov = json_object();
    json_object_set_new(cov, "catalog_titles", json_integer((json_int_t)n_cat));
    json_object_set_new(cov, "impressions", coverage_json(imp, ni, n_cat));
    json_object_set_new(cov, "plays", coverage_json(play, np, n_cat));
    mq_free(imp);
    mq_free(play);
    json_object_set_new(o, "coverage", cov);
    json_object_set_new(o, "simulation", simulation_json(srv));
    mq_req_json(r, 200, o);
    return MQ_H_DONE;
}
