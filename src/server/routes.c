/* routes.c: the route table and its handlers. One row per endpoint feeds
 * dispatch (server.c), the metrics' labels and the test that keeps
 * docs/openapi.yaml true. A handler runs once the request body is complete;
 * handlers that write queue a job for the writer and suspend (submit below),
 * and run again once it is committed, to answer.
 *
 * Every answer is JSON; errors are {"error": "..."} with a message naming the
 * input (body, events[3], a query parameter), what was expected and what was
 * found. Bad input is always a 4xx; 5xx means the store failed. */
#include "server_impl.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LIST_DEFAULT 100
#define LIST_MAX 1000
/* Events per POST /v1/events: bounds what one request can make the server hold
 * (its events, their rejections, the answer), whatever the body limit. */
#define BATCH_MAX 100000

/* Suspends the connection, then queues the job: the writer can resume the
 * connection only after it is suspended. */
static mq_hres submit(mq_req *r, mq_job_kind kind) {
    r->job.kind = kind;
    r->job.conn = r->conn;
    r->job_queued = true;
    MHD_suspend_connection(r->conn);
    mq_writer_submit(r->srv, &r->job);
    return MQ_H_SUSPEND;
}

/* A failed write: not found, invalid, or the store failing (503: the client may
 * retry; the write was not acknowledged). */
static mq_hres job_error(mq_req *r) {
    int st = r->job.rc == MQ_ENOTFOUND ? 404 : r->job.rc == MQ_EINVAL ? 400 : 503;
    mq_req_error(r, st, "%s", r->job.err.msg[0] ? r->job.err.msg : mq_strerror(r->job.rc));
    return MQ_H_DONE;
}

static void reject(mq_req *r, size_t index, const char *msg) {
    mq_reject rj = {index, mq_strdup(msg)};
    MQ_VEC_PUSH(&r->rejected, rj);
}

/* A tree takes a few times its text: one arena block for most bodies, and a cap
 * far above any real body's needs (past it, jansson reports "out of memory"). */
static void size_arena(mq_req *r) {
    r->json_arena.block_size =
        MQ_MAX(r->json_arena.block_size, MQ_MIN(r->body.len * 4, (size_t)4 << 20));
    r->json_arena.cap = r->body.len * 32 + ((size_t)1 << 20);
}

/* The body as one JSON value; answers 400 and returns NULL when it is absent or
 * does not parse. jansson refuses invalid UTF-8, NUL bytes, numbers that do not
 * fit, and nesting deeper than 2048, each with line and column. */
static json_t *parse_body(mq_req *r, const char *expected) {
    if (r->body.len == 0) {
        mq_req_error(r, 400, "body: expected %s, got an empty body", expected);
        return NULL;
    }
    json_error_t je;
    size_arena(r);
    mq_jsonmem_begin(&r->json_arena);
    json_t *v = json_loadb(r->body.data, r->body.len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                           &je);
    mq_jsonmem_end();
    if (!v)
        mq_req_error(r, 400, "body: invalid JSON at line %d, column %d: %s (expected %s)",
                     je.line, je.column, je.text, expected);
    return v;
}

static json_t *parse_object(mq_req *r, const char *expected) {
    json_t *v = parse_body(r, expected);
    if (v && !json_is_object(v)) {
        char got[64];
        mq_json_describe(v, got, sizeof got);
        mq_req_error(r, 400, "body: expected %s, got %s", expected, got);
        return NULL; /* v lives in the request's arena */
    }
    return v;
}

static bool valid_path_id(mq_req *r, const char *what) {
    if (mq_ext_id_valid(r->param))
        return true;
    mq_req_error(r, 400, "path: %s id: expected 1-128 bytes without control characters", what);
    return false;
}

/* The body's "id", when present, must be the path's. */
static bool id_matches_path(mq_req *r, json_t *o) {
    json_t *id = json_object_get(o, "id");
    if (!id || json_is_null(id)) {
        mq_jsonmem_begin(&r->json_arena); /* o is the body's tree */
        json_object_set_new(o, "id", json_string(r->param));
        mq_jsonmem_end();
        return true;
    }
    if (json_is_string(id) && strcmp(json_string_value(id), r->param) == 0)
        return true;
    char got[64];
    mq_json_describe(id, got, sizeof got);
    mq_req_error(r, 400, "body.id: expected \"%s\" (the id in the path) or nothing, got %s",
                 r->param, got);
    return false;
}

/* ----------------------------------------------------------------- health ---- */

static mq_hres h_healthz(mq_req *r) {
    if (atomic_load(&r->srv->stopping)) {
        mq_req_error(r, 503, "the server is shutting down");
        return MQ_H_DONE;
    }
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string("ok"));
    json_object_set_new(o, "uptime_s",
                        json_integer((mq_now_ms() - r->srv->boot_ms) / 1000));
    mq_req_json(r, 200, o);
    return MQ_H_DONE;
}

static mq_hres h_metrics(mq_req *r) {
    mq_buf b;
    mq_buf_init(&b, 0);
    mq_metrics_render(r->srv, &b);
    mq_req_reply(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.data ? b.data : "",
                 b.len);
    mq_buf_free(&b);
    return MQ_H_DONE;
}

/* ----------------------------------------------------------------- events ---- */

static int by_index(const void *a, const void *b) {
    const mq_reject *x = a, *y = b;
    return x->index < y->index ? -1 : x->index > y->index;
}

static void events_reply(mq_req *r, size_t accepted, size_t duplicates) {
    if (r->rejected.len == 0) {
        /* The common answer, without building a JSON tree for it. */
        char buf[96];
        int n = snprintf(buf, sizeof buf, "{\"accepted\":%zu,\"duplicates\":%zu,\"rejected\":[]}",
                         accepted, duplicates);
        mq_req_reply(r, 200, NULL, buf, (size_t)n);
        return;
    }
    qsort(r->rejected.items, r->rejected.len, sizeof *r->rejected.items, by_index);
    atomic_fetch_add(&r->srv->metrics.events_rejected, r->rejected.len);
    json_t *o = json_object(), *rej = json_array();
    for (size_t i = 0; i < r->rejected.len; i++) {
        json_t *e = json_object();
        json_t *msg = json_string(r->rejected.items[i].msg);
        json_object_set_new(e, "index", json_integer((json_int_t)r->rejected.items[i].index));
        json_object_set_new(e, "error", msg ? msg : json_string("invalid event"));
        json_array_append_new(rej, e);
    }
    int status = accepted + duplicates > 0 ? 200 : 400;
    if (status == 400) {
        char msg[MQ_ERR_MSG_MAX + 64];
        if (r->rejected.len == 1)
            snprintf(msg, sizeof msg, "no valid event in the batch: %s", r->rejected.items[0].msg);
        else
            snprintf(msg, sizeof msg, "no valid event in the batch of %zu; the first error: %s",
                     r->rejected.len, r->rejected.items[0].msg);
        json_t *m = json_string(msg);
        json_object_set_new(o, "error", m ? m : json_string("no valid event in the batch"));
    }
    json_object_set_new(o, "accepted", json_integer((json_int_t)accepted));
    json_object_set_new(o, "duplicates", json_integer((json_int_t)duplicates));
    json_object_set_new(o, "rejected", rej);
    mq_req_json(r, status, o);
}

/* After the writer: count what was stored, reject events naming unknown titles. */
static mq_hres events_done(mq_req *r) {
    if (r->job.rc)
        return job_error(r);
    size_t accepted = 0, duplicates = 0;
    for (size_t k = 0; k < r->job.n; k++) {
        const mq_event *e = &r->evs[k];
        switch (r->status_v[k]) {
        case MQ_APPEND_OK:
            accepted++;
            break;
        case MQ_APPEND_DUPLICATE:
            duplicates++;
            break;
        case MQ_APPEND_UNKNOWN_TITLE: {
            char msg[MQ_ERR_MSG_MAX];
            snprintf(msg, sizeof msg,
                     "events[%zu].title: expected a title in the catalogue, got \"%s\"",
                     r->ev_index[k], e->title);
            reject(r, r->ev_index[k], msg);
            break;
        }
        }
    }
    events_reply(r, accepted, duplicates);
    return MQ_H_DONE;
}

/* NDJSON: one event per line; a line that does not parse rejects that event only.
 * Blank lines are skipped and do not count as indices. Sets bad[i] for lines
 * already rejected. */
typedef MQ_VEC(bool) bool_vec;

static json_t *parse_ndjson(mq_req *r, bool_vec *bad) {
    size_arena(r);
    mq_jsonmem_begin(&r->json_arena);
    json_t *arr = json_array();
    const char *p = r->body.data, *end = r->body.data + r->body.len;
    /* Past BATCH_MAX lines the request is refused anyway: stop reading there. */
    while (p < end && json_array_size(arr) <= BATCH_MAX) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *s = p;
        while (s < le && (*s == ' ' || *s == '\t' || *s == '\r'))
            s++;
        if (s < le) {
            size_t idx = json_array_size(arr);
            json_error_t je;
            json_t *v = json_loadb(p, (size_t)(le - p), JSON_REJECT_DUPLICATES, &je);
            MQ_VEC_PUSH(bad, v == NULL);
            if (!v) {
                char msg[MQ_ERR_MSG_MAX];
                snprintf(msg, sizeof msg, "events[%zu]: invalid JSON at column %d: %s", idx,
                         je.column, je.text);
                reject(r, idx, msg);
                v = json_null();
            }
            json_array_append_new(arr, v);
        }
        p = le + 1;
    }
    mq_jsonmem_end();
    return arr;
}

static mq_hres h_post_events(mq_req *r) {
    if (r->job_queued)
        return events_done(r);
    const char *ct = mq_req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    bool ndjson = ct && strncasecmp(ct, "application/x-ndjson", 20) == 0;
    bool_vec bad = {0};
    if (r->body.len == 0) {
        mq_req_error(r, 400, "body: expected a JSON array of events%s, got an empty body",
                     ndjson ? " (or one event per line)" : "");
        return MQ_H_DONE;
    }
    if (ndjson) {
        r->json = parse_ndjson(r, &bad);
    } else {
        r->json = parse_body(r, "a JSON array of events");
        if (!r->json)
            return MQ_H_DONE;
        if (!json_is_array(r->json)) {
            char got[64];
            mq_json_describe(r->json, got, sizeof got);
            mq_req_error(r, 400, "body: expected a JSON array of events, got %s", got);
            return MQ_H_DONE;
        }
    }
    size_t n = json_array_size(r->json);
    if (n == 0 || n > BATCH_MAX) {
        mq_free(bad.items);
        for (size_t i = 0; i < r->rejected.len; i++)
            mq_free(r->rejected.items[i].msg);
        r->rejected.len = 0;
        if (n == 0)
            mq_req_error(r, 400, "body: expected at least one event, got %s",
                         ndjson ? "no lines" : "an empty array");
        else
            mq_req_error(r, 400, "body: expected at most %d events per request, got %s%zu",
                         BATCH_MAX, ndjson ? "at least " : "", n);
        return MQ_H_DONE;
    }
    int64_t now = mq_now_ms();
    r->evs = mq_malloc(n * sizeof *r->evs);
    r->ev_index = mq_malloc(n * sizeof *r->ev_index);
    size_t k = 0;
    mq_err err = {0};
    for (size_t i = 0; i < n; i++) {
        if (ndjson && bad.items[i])
            continue;
        char where[48];
        snprintf(where, sizeof where, "events[%zu]", i);
        if (mq_event_from_json(json_array_get(r->json, i), &r->evs[k], where, now, &err)) {
            reject(r, i, err.msg);
            continue;
        }
        r->ev_index[k++] = i;
    }
    mq_free(bad.items);
    if (k == 0) {
        events_reply(r, 0, 0);
        return MQ_H_DONE;
    }
    r->status_v = mq_malloc(k * sizeof *r->status_v);
    r->job.evs = r->evs;
    r->job.n = k;
    r->job.status = r->status_v;
    return submit(r, MQ_JOB_EVENTS);
}

/* ----------------------------------------------------------------- titles ---- */

/* The start of a PUT of a title or a profile: a valid {id} and a JSON object
 * whose "id", if any, is the path's. NULL when it has replied. */
static json_t *put_body(mq_req *r, const char *kind) {
    if (!valid_path_id(r, kind))
        return NULL;
    char expect[64];
    snprintf(expect, sizeof expect, "a %s object (docs/data-model.md)", kind);
    json_t *o = parse_object(r, expect);
    if (!o)
        return NULL;
    r->json = o;
    return id_matches_path(r, o) ? o : NULL;
}

static mq_hres h_put_title(mq_req *r) {
    if (r->job_queued) {
        if (r->job.rc)
            return job_error(r);
        mq_req_json(r, r->job.created ? 201 : 200, mq_title_to_json(r->job.title));
        return MQ_H_DONE;
    }
    json_t *o = put_body(r, "title");
    if (!o)
        return MQ_H_DONE;
    mq_title *t = mq_arena_alloc(&r->arena, sizeof *t);
    mq_err err = {0};
    if (mq_title_from_json(o, t, &r->arena, "body", &err)) {
        mq_req_error(r, 400, "%s", err.msg);
        return MQ_H_DONE;
    }
    r->job.title = t;
    return submit(r, MQ_JOB_PUT_TITLE);
}

bool mq_req_read_profile(mq_req *r, mq_profile *p) {
    mq_err err = {0};
    pthread_mutex_lock(&r->srv->read_mu);
    int rc = mq_store_get_profile(r->srv->reader, r->param, p, &r->arena, &err);
    pthread_mutex_unlock(&r->srv->read_mu);
    if (rc)
        mq_req_error(r, rc == MQ_ENOTFOUND ? 404 : 503, "%s", err.msg);
    return rc == MQ_OK;
}

bool mq_req_read_title(mq_req *r, const char *ext_id, mq_title *t) {
    mq_err err = {0};
    pthread_mutex_lock(&r->srv->read_mu);
    int rc = mq_store_get_title(r->srv->reader, ext_id, t, &r->arena, &err);
    pthread_mutex_unlock(&r->srv->read_mu);
    if (rc)
        mq_req_error(r, rc == MQ_ENOTFOUND ? 404 : 503, "%s", err.msg);
    return rc == MQ_OK;
}

static mq_hres h_get_title(mq_req *r) {
    mq_title t;
    if (mq_req_read_title(r, r->param, &t))
        mq_req_json(r, 200, mq_title_to_json(&t));
    return MQ_H_DONE;
}

/* DELETE of a title or a profile: queued to the writer, 204 once committed. */
static mq_hres delete_by_path(mq_req *r, mq_job_kind job) {
    if (r->job_queued) {
        if (r->job.rc)
            return job_error(r);
        mq_req_reply(r, 204, NULL, "", 0);
        return MQ_H_DONE;
    }
    r->job.ext_id = r->param;
    return submit(r, job);
}

static mq_hres h_delete_title(mq_req *r) {
    return delete_by_path(r, MQ_JOB_DELETE_TITLE);
}

/* ---------------------------------------------------------------- listing ---- */

/* ?limit= (1..LIST_MAX) and ?cursor= (from the previous page's next_cursor). */
static bool page_args(mq_req *r, size_t *limit, uint32_t *after) {
    const char *l = mq_req_query(r, "limit"), *c = mq_req_query(r, "cursor");
    int64_t v;
    *limit = LIST_DEFAULT;
    *after = 0;
    if (l) {
        if (!mq_parse_i64(l, &v) || v < 1 || v > LIST_MAX) {
            mq_req_error(r, 400, "limit: expected an integer from 1 to %d, got \"%.64s\"",
                         LIST_MAX, l);
            return false;
        }
        *limit = (size_t)v;
    }
    if (c && *c) {
        if (!mq_parse_i64(c, &v) || v < 0 || v > UINT32_MAX) {
            mq_req_error(r, 400,
                         "cursor: expected the next_cursor of a previous page, got \"%.64s\"", c);
            return false;
        }
        *after = (uint32_t)v;
    }
    return true;
}

/* Returned by the page callbacks to stop the scan; error codes are positive. */
#define PAGE_FULL (-1)

typedef struct {
    json_t *items;
    size_t limit;
    uint32_t last_id;
    bool more;
} page;

static int page_title(void *ud, const mq_title *t) {
    page *p = ud;
    if (json_array_size(p->items) == p->limit) {
        p->more = true;
        return PAGE_FULL;
    }
    json_array_append_new(p->items, mq_title_to_json(t));
    p->last_id = t->id;
    return 0;
}

static int page_profile(void *ud, const mq_profile *pr) {
    page *p = ud;
    if (json_array_size(p->items) == p->limit) {
        p->more = true;
        return PAGE_FULL;
    }
    json_array_append_new(p->items, mq_profile_to_json(pr));
    p->last_id = pr->id;
    return 0;
}

static mq_hres list(mq_req *r, bool titles) {
    size_t limit;
    uint32_t after;
    if (!page_args(r, &limit, &after))
        return MQ_H_DONE;
    page p = {json_array(), limit, 0, false};
    mq_err err = {0};
    pthread_mutex_lock(&r->srv->read_mu);
    /* One row past the page says whether there is a next one. */
    int rc = titles ? mq_store_list_titles(r->srv->reader, after, limit + 1, page_title, &p, &err)
                    : mq_store_list_profiles(r->srv->reader, after, limit + 1, page_profile, &p,
                                             &err);
    pthread_mutex_unlock(&r->srv->read_mu);
    if (rc != MQ_OK && rc != PAGE_FULL) {
        json_decref(p.items);
        mq_req_error(r, 503, "%s", err.msg);
        return MQ_H_DONE;
    }
    json_t *o = json_object();
    json_object_set_new(o, "items", p.items);
    if (p.more) {
        char cur[16];
        snprintf(cur, sizeof cur, "%u", p.last_id);
        json_object_set_new(o, "next_cursor", json_string(cur));
    } else {
        json_object_set_new(o, "next_cursor", json_null());
    }
    mq_req_json(r, 200, o);
    return MQ_H_DONE;
}

static mq_hres h_list_titles(mq_req *r) {
    return list(r, true);
}

static mq_hres h_list_profiles(mq_req *r) {
    return list(r, false);
}

/* --------------------------------------------------------------- profiles ---- */

static mq_hres h_put_profile(mq_req *r) {
    if (r->job_queued) {
        if (r->job.rc)
            return job_error(r);
        mq_req_json(r, r->job.created ? 201 : 200, mq_profile_to_json(r->job.profile));
        return MQ_H_DONE;
    }
    json_t *o = put_body(r, "profile");
    if (!o)
        return MQ_H_DONE;
    mq_profile *p = mq_arena_alloc(&r->arena, sizeof *p);
    mq_err err = {0};
    if (mq_profile_from_json(o, p, &r->arena, "body", &err)) {
        mq_req_error(r, 400, "%s", err.msg);
        return MQ_H_DONE;
    }
    r->job.profile = p;
    return submit(r, MQ_JOB_PUT_PROFILE);
}

static mq_hres h_get_profile(mq_req *r) {
    mq_profile p;
    if (mq_req_read_profile(r, &p))
        mq_req_json(r, 200, mq_profile_to_json(&p));
    return MQ_H_DONE;
}

static mq_hres h_delete_profile(mq_req *r) {
    return delete_by_path(r, MQ_JOB_DELETE_PROFILE);
}

/* POST /v1/profiles/{id}/thumbs {title, value, [ts], [event_id], [context]}: a
 * thumbs event like any other (stored, idempotent on event_id, applied to the
 * live state before the answer). Without event_id the server makes one. */
static mq_hres h_thumbs(mq_req *r) {
    if (r->job_queued) {
        if (r->job.rc)
            return job_error(r);
        if (r->status_v[0] == MQ_APPEND_UNKNOWN_TITLE) {
            mq_req_error(r, 400, "body.title: expected a title in the catalogue, got \"%s\"",
                         r->evs[0].title);
            return MQ_H_DONE;
        }
        json_t *o = json_object();
        json_object_set_new(o, "accepted", json_integer(r->status_v[0] == MQ_APPEND_OK));
        json_object_set_new(o, "duplicates",
                            json_integer(r->status_v[0] == MQ_APPEND_DUPLICATE));
        json_object_set_new(o, "event_id", json_string(r->evs[0].event_id));
        mq_req_json(r, 200, o);
        return MQ_H_DONE;
    }
    if (!valid_path_id(r, "profile"))
        return MQ_H_DONE;
    json_t *body = parse_object(r, "an object {\"title\": ..., \"value\": \"up\" | \"down\" | "
                                   "\"none\"}");
    if (!body)
        return MQ_H_DONE;
    int64_t now = mq_now_ms();
    /* The event is built in the body's arena, beside it (jsonmem.c). */
    mq_jsonmem_begin(&r->json_arena);
    json_t *ev = json_object();
    static const char *const copied[] = {"title", "value", "ts", "event_id", "context"};
    for (size_t i = 0; i < MQ_ARRAY_LEN(copied); i++) {
        json_t *v = json_object_get(body, copied[i]);
        if (v)
            json_object_set(ev, copied[i], v);
    }
    r->json = ev;
    json_object_set_new(ev, "type", json_string("thumbs"));
    json_object_set_new(ev, "profile", json_string(r->param));
    if (!json_object_get(ev, "ts"))
        json_object_set_new(ev, "ts", json_integer(now));
    if (!json_object_get(ev, "event_id")) {
        char id[64];
        snprintf(id, sizeof id, "thumbs-%llx-%llx", (unsigned long long)r->srv->boot_ms,
                 (unsigned long long)atomic_fetch_add(&r->srv->id_seq, 1));
        json_object_set_new(ev, "event_id", json_string(id));
    }
    mq_jsonmem_end();
    r->evs = mq_malloc(sizeof *r->evs);
    r->status_v = mq_malloc(sizeof *r->status_v);
    mq_err err = {0};
    if (mq_event_from_json(ev, r->evs, "body", now, &err)) {
        mq_req_error(r, 400, "%s", err.msg);
        return MQ_H_DONE;
    }
    r->job.evs = r->evs;
    r->job.n = 1;
    r->job.status = r->status_v;
    return submit(r, MQ_JOB_EVENTS);
}

static const char *title_name(void *ud, uint32_t id) {
    mq_server *srv = ud;
    return id < srv->title_names.len ? srv->title_names.items[id] : NULL;
}

static mq_hres h_state(mq_req *r) {
    mq_profile p;
    if (!mq_req_read_profile(r, &p))
        return MQ_H_DONE;
    mq_state_view v;
    mq_state_get(r->srv->state, p.id, mq_now_ms(), &v);
    pthread_rwlock_rdlock(&r->srv->names_lock);
    json_t *o = mq_state_view_json(&v, r->param, title_name, r->srv);
    pthread_rwlock_unlock(&r->srv->names_lock);
    mq_state_view_free(&v);
    mq_req_json(r, 200, o);
    return MQ_H_DONE;
}

/* ----------------------------------------------------------------- bundle ---- */

/* GET /v1/bundle: which bundle this node serves (its store version, when it was
 * loaded, its models and metadata) and its ten most popular titles, read from
 * the bundle itself. The request holds a reference for its whole duration, so a
 * swap in the middle changes nothing for it. */
json_t *mq_server_bundle_json(mq_server *srv) {
    mq_served_bundle *sb = mq_server_bundle_acquire(srv);
    json_t *o = json_object();
    if (!sb) {
        json_object_set_new(o, "version", json_null());
        json_object_set_new(o, "message",
                            json_string("no bundle is served yet: `marquee train` publishes one "
                                        "and every node loads it"));
        return o;
    }
    const mq_bundle *b = sb->b;
    char when[32];
    mq_time_format_rfc3339(sb->loaded_ms, when, sizeof when);
    json_object_set_new(o, "version", json_integer(sb->version));
    json_object_set_new(o, "loaded_at", json_string(when));
    json_object_set_new(o, "bytes", json_integer((json_int_t)sb->bytes));
    json_object_set_new(o, "titles", json_integer(mq_bundle_n_titles(b)));
    json_t *models = json_array();
    for (int k = 0; k < MQ_MODEL_COUNT; k++)
        if (mq_bundle_has(b, (mq_model_kind)k))
            json_array_append_new(models, json_string(mq_model_name((mq_model_kind)k)));
    json_object_set_new(o, "models", models);
    json_object_set_new(o, "default_model",
                        json_string(mq_model_name(mq_bundle_default_model(b))));
    json_t *meta = json_loads(mq_bundle_meta(b), 0, NULL);
    json_object_set_new(o, "meta", meta ? meta : json_null());
    uint32_t n = mq_bundle_n_titles(b), cols[10];
    float scores[10];
    const float *pop = mq_bundle_popularity(b);
    json_t *top = json_array();
    size_t k = pop && n ? mq_topk(pop, n, 10, cols, scores) : 0;
    for (size_t i = 0; i < k; i++) {
        const char *ext = mq_bundle_title_ext(b, cols[i]);
        json_array_append_new(top, json_string(ext ? ext : ""));
    }
    json_object_set_new(o, "popular", top);
    mq_server_bundle_release(sb);
    return o;
}

static mq_hres h_bundle(mq_req *r) {
    mq_req_json(r, 200, mq_server_bundle_json(r->srv));
    return MQ_H_DONE;
}

/* ------------------------------------------------------------ route table ---- */

const mq_route mq_routes[] = {
    {"GET", "/", mq_h_ui_index, "The web UI (web/index.html)"},
    {"GET", "/ui/{file}", mq_h_ui_file, "A file of the web UI (web/)"},
    {"GET", "/healthz", h_healthz, "Liveness: 200 while serving, 503 while shutting down"},
    {"GET", "/metrics", h_metrics, "Metrics in the Prometheus text format"},
    {"POST", "/v1/events", h_post_events,
     "Ingest a batch of events (JSON array, or NDJSON); durable before the answer"},
    {"GET", "/v1/titles", h_list_titles, "List titles, a page at a time"},
    {"GET", "/v1/titles/{id}", h_get_title, "Read a title"},
    {"GET", "/v1/titles/{id}/artwork/{artwork}", mq_h_artwork,
     "An SVG poster drawn from the artwork variant's tags (\"default\": the editorial one)"},
    {"PUT", "/v1/titles/{id}", h_put_title, "Create or replace a title"},
    {"DELETE", "/v1/titles/{id}", h_delete_title, "Delete a title"},
    {"GET", "/v1/profiles", h_list_profiles, "List profiles, a page at a time"},
    {"GET", "/v1/profiles/{id}", h_get_profile, "Read a profile"},
    {"PUT", "/v1/profiles/{id}", h_put_profile, "Create or replace a profile"},
    {"DELETE", "/v1/profiles/{id}", h_delete_profile,
     "Delete a profile and all of its events (a privacy request)"},
    {"POST", "/v1/profiles/{id}/thumbs", h_thumbs,
     "Thumbs up, down or none on a title; effective at once"},
    {"GET", "/v1/profiles/{id}/state", h_state, "The profile's live state"},
    {"GET", "/v1/profiles/{id}/recommendations", mq_h_recommendations,
     "The profile's ranked titles with score, match and reasons (api_rank.c)"},
    {"GET", "/v1/profiles/{id}/titles/{title}", mq_h_profile_title,
     "One title for one profile: match, reasons, labels, more like this (api_rank.c)"},
    {"GET", "/v1/profiles/{id}/homepage", mq_h_homepage,
     "The profile's personalized homepage: rows of titles with match, assets and evidence"},
    {"GET", "/v1/dashboard", mq_h_dashboard,
     "The operator dashboard's figures: ingestion, latency, bundle, bandits, coverage"},
    {"GET", "/v1/bundle", h_bundle,
     "The bundle this node serves: store version, models, metadata, most popular titles"},
};

const size_t mq_n_routes = MQ_ARRAY_LEN(mq_routes);

_Static_assert(MQ_ARRAY_LEN(mq_routes) <= MQ_MAX_ROUTES, "raise MQ_MAX_ROUTES");
