/* metrics.c: the server's counters and histograms, updated with relaxed atomics
 * from any thread, and their Prometheus text exposition (format 0.0.4) for
 * GET /metrics: requests by route and status, request latency by route, events
 * ingested by type, duplicates and rejections, store commit latency and group
 * sizes, and the size of the live state. */
#include "server_impl.h"

#include <string.h>

static const double bounds[MQ_LAT_BUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                              0.005,  0.01,    0.025,  0.05,  0.1,
                                              0.25,   0.5,     1,      2.5,   5};

/* Status slots; 0 = the client went away before an answer; the last is "other". */
static const int codes[MQ_STATUS_SLOTS - 1] = {200, 201, 204, 400, 401, 404, 405,
                                               410, 413, 415, 500, 503, 0};

void mq_hist_observe(mq_hist *h, double s) {
    int i = 0;
    while (i < MQ_LAT_BUCKETS && s > bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, (uint64_t)(s > 0 ? s * 1e9 : 0),
                              memory_order_relaxed);
}

double mq_metrics_bound(int i) {
    return bounds[i];
}

void mq_metrics_events(mq_metrics *m, int64_t now_ms, uint64_t n) {
    int64_t sec = now_ms / 1000;
    size_t k = (size_t)(sec % MQ_EV_RING);
    if (atomic_load_explicit(&m->ev_sec[k], memory_order_relaxed) != sec) {
        atomic_store_explicit(&m->ev_count[k], 0, memory_order_relaxed);
        atomic_store_explicit(&m->ev_sec[k], sec, memory_order_release);
    }
    atomic_fetch_add_explicit(&m->ev_count[k], n, memory_order_relaxed);
}

static int status_slot(int status) {
    for (int i = 0; i < MQ_STATUS_SLOTS - 1; i++)
        if (codes[i] == status)
            return i;
    return MQ_STATUS_SLOTS - 1;
}

void mq_metrics_request(mq_metrics *m, int route, int status, double seconds) {
    int r = route >= 0 && route < MQ_MAX_ROUTES ? route : MQ_MAX_ROUTES;
    atomic_fetch_add_explicit(&m->requests[r][status_slot(status)], 1, memory_order_relaxed);
    mq_hist_observe(&m->latency[r], seconds);
}

static void hist_render(mq_buf *b, const char *name, const char *labels, mq_hist *h) {
    uint64_t cum = 0;
    const char *sep = labels[0] ? "," : "";
    for (int i = 0; i <= MQ_LAT_BUCKETS; i++) {
        cum += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
        if (i < MQ_LAT_BUCKETS)
            mq_buf_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, bounds[i],
                          (unsigned long long)cum);
        else
            mq_buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                          (unsigned long long)cum);
    }
    char braced[300] = "";
    if (labels[0])
        snprintf(braced, sizeof braced, "{%s}", labels);
    mq_buf_printf(b, "%s_sum%s %.9f\n", name, braced,
                  (double)atomic_load_explicit(&h->sum_ns, memory_order_relaxed) / 1e9);
    mq_buf_printf(b, "%s_count%s %llu\n", name, braced,
                  (unsigned long long)atomic_load_explicit(&h->count, memory_order_relaxed));
}

static void route_labels(int r, char *out, size_t n) {
    if (r < (int)mq_n_routes)
        snprintf(out, n, "method=\"%s\",route=\"%s\"", mq_routes[r].method, mq_routes[r].pattern);
    else
        snprintf(out, n, "method=\"\",route=\"unmatched\"");
}

void mq_metrics_render(mq_server *srv, mq_buf *b) {
    mq_metrics *m = &srv->metrics;
    char labels[256];
    int routes[MQ_MAX_ROUTES + 1], nr = 0;
    for (size_t i = 0; i < mq_n_routes && i < MQ_MAX_ROUTES; i++)
        routes[nr++] = (int)i;
    routes[nr++] = MQ_MAX_ROUTES;

    mq_buf_puts(b, "# HELP marquee_http_requests_total HTTP requests by route and status "
                   "(status 0: the client left before an answer).\n"
                   "# TYPE marquee_http_requests_total counter\n");
    for (int k = 0; k < nr; k++) {
        int r = routes[k];
        route_labels(r == MQ_MAX_ROUTES ? (int)mq_n_routes : r, labels, sizeof labels);
        for (int s = 0; s < MQ_STATUS_SLOTS; s++) {
            uint64_t v = atomic_load_explicit(&m->requests[r][s], memory_order_relaxed);
            char st[16] = "other";
            if (s < MQ_STATUS_SLOTS - 1)
                snprintf(st, sizeof st, "%d", codes[s]);
            if (v)
                mq_buf_printf(b, "marquee_http_requests_total{%s,status=\"%s\"} %llu\n",
                              labels, st, (unsigned long long)v);
        }
    }
    mq_buf_puts(b, "# HELP marquee_http_request_duration_seconds Time from a request's "
                   "headers to its answer being sent.\n"
                   "# TYPE marquee_http_request_duration_seconds histogram\n");
    for (int k = 0; k < nr; k++) {
        int r = routes[k];
        route_labels(r == MQ_MAX_ROUTES ? (int)mq_n_routes : r, labels, sizeof labels);
        hist_render(b, "marquee_http_request_duration_seconds", labels, &m->latency[r]);
    }
    mq_buf_puts(b, "# HELP marquee_events_ingested_total Events stored, by type.\n"
                   "# TYPE marquee_events_ingested_total counter\n");
    for (int t = 0; t < MQ_EV_COUNT; t++)
        mq_buf_printf(b, "marquee_events_ingested_total{type=\"%s\"} %llu\n",
                      mq_event_type_name((mq_event_type)t),
                      (unsigned long long)atomic_load(&m->events_by_type[t]));
    mq_buf_printf(b,
                  "# HELP marquee_events_duplicate_total Events not stored again: their "
                  "event_id was already stored.\n"
                  "# TYPE marquee_events_duplicate_total counter\n"
                  "marquee_events_duplicate_total %llu\n"
                  "# HELP marquee_events_rejected_total Events refused as invalid or naming "
                  "an unknown title.\n"
                  "# TYPE marquee_events_rejected_total counter\n"
                  "marquee_events_rejected_total %llu\n",
                  (unsigned long long)atomic_load(&m->events_duplicate),
                  (unsigned long long)atomic_load(&m->events_rejected));
    mq_buf_puts(b, "# HELP marquee_store_commit_duration_seconds One group commit: "
                   "transaction begin to fsync done.\n"
                   "# TYPE marquee_store_commit_duration_seconds histogram\n");
    hist_render(b, "marquee_store_commit_duration_seconds", "", &m->commit);
    mq_buf_printf(b,
                  "# HELP marquee_store_commit_groups_total Group commits.\n"
                  "# TYPE marquee_store_commit_groups_total counter\n"
                  "marquee_store_commit_groups_total %llu\n"
                  "# HELP marquee_store_commit_requests_total Writes (requests) committed "
                  "in groups; divided by the groups, the mean group size.\n"
                  "# TYPE marquee_store_commit_requests_total counter\n"
                  "marquee_store_commit_requests_total %llu\n"
                  "# HELP marquee_store_commit_failures_total Groups whose commit failed "
                  "and were retried write by write.\n"
                  "# TYPE marquee_store_commit_failures_total counter\n"
                  "marquee_store_commit_failures_total %llu\n",
                  (unsigned long long)atomic_load(&m->commit_groups),
                  (unsigned long long)atomic_load(&m->commit_jobs),
                  (unsigned long long)atomic_load(&m->commit_failures));
    mq_buf_printf(b,
                  "# HELP marquee_live_profiles Profiles with live state.\n"
                  "# TYPE marquee_live_profiles gauge\n"
                  "marquee_live_profiles %zu\n"
                  "# HELP marquee_live_state_bytes Bytes held by the live state.\n"
                  "# TYPE marquee_live_state_bytes gauge\n"
                  "marquee_live_state_bytes %zu\n",
                  mq_state_profile_count(srv->state), mq_state_memory(srv->state));
    mq_buf_printf(b,
                  "# HELP marquee_events_followed_total Events other nodes (or processes) "
                  "committed, folded into this node's live state.\n"
                  "# TYPE marquee_events_followed_total counter\n"
                  "marquee_events_followed_total %llu\n"
                  "# HELP marquee_store_notices_total Notices received from the store "
                  "(PostgreSQL LISTEN/NOTIFY).\n"
                  "# TYPE marquee_store_notices_total counter\n"
                  "marquee_store_notices_total %llu\n"
                  "# HELP marquee_store_follow_failures_total Failed attempts to wait for "
                  "notices or to follow the log (the store unreachable).\n"
                  "# TYPE marquee_store_follow_failures_total counter\n"
                  "marquee_store_follow_failures_total %llu\n"
                  "# HELP marquee_store_up 1 while the store answers this node's follower.\n"
                  "# TYPE marquee_store_up gauge\n"
                  "marquee_store_up %d\n"
                  "# HELP marquee_bundle_version Version of the store blob \"bundle\" being "
                  "served (0: none).\n"
                  "# TYPE marquee_bundle_version gauge\n"
                  "marquee_bundle_version %lld\n"
                  "# HELP marquee_bundle_swaps_total Bundles loaded, verified and swapped in.\n"
                  "# TYPE marquee_bundle_swaps_total counter\n"
                  "marquee_bundle_swaps_total %llu\n"
                  "# HELP marquee_bundle_failures_total Bundles refused as torn or corrupt "
                  "(the previous one kept serving).\n"
                  "# TYPE marquee_bundle_failures_total counter\n"
                  "marquee_bundle_failures_total %llu\n",
                  (unsigned long long)atomic_load(&m->events_followed),
                  (unsigned long long)atomic_load(&m->notices),
                  (unsigned long long)atomic_load(&m->follow_failures),
                  atomic_load(&m->store_up), (long long)atomic_load(&srv->bundle_version),
                  (unsigned long long)atomic_load(&m->bundle_swaps),
                  (unsigned long long)atomic_load(&m->bundle_failures));
}
