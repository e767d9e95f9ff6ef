/* server.c: the server's life cycle and its glue to libmicrohttpd. Start opens the
 * store (a writer handle, a read handle and one that listens for other nodes),
 * rebuilds the live state from the event log, loads the store's bundle, starts
 * the writer, the follower (follow.c) and the listener. Each request gets an mq_req on
 * its first callback; the route is chosen there (so 404, 405 and an oversized
 * Content-Length are answered before any body is read), the body is collected
 * under the configured cap, and the route's handler runs once the body is
 * complete. A handler that needs the writer suspends the connection; the writer
 * resumes it, and the handler runs again to answer. Stop is graceful: no new
 * connections, in-flight requests finish, the writer commits what is queued. */
#include "server_impl.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

void mq_server_options_from_config(mq_server_options *o, const mq_config *c,
                                   const char *data_dir) {
    memset(o, 0, sizeof *o);
    o->data_dir = data_dir;
    const char *store = mq_config_str(c, "store");
    o->store = store && *store ? store : NULL;
    o->poll_ms = (int)mq_config_num(c, "server.poll_ms");
    o->bind = mq_config_str(c, "server.bind");
    o->port = (int)mq_config_num(c, "server.port");
    o->threads = (int)mq_config_num(c, "server.threads");
    o->body_limit = (size_t)mq_config_num(c, "server.body_limit");
    o->commit_window_us = (int)mq_config_num(c, "server.commit_window_us");
    o->api_key = mq_config_str(c, "server.api_key");
    o->web_dir = mq_config_str(c, "server.web_dir");
    mq_semantics_from_config(&o->sem, c);
    o->config = c;
}

size_t mq_server_route_count(void) {
    return mq_n_routes;
}

void mq_server_route_info(size_t i, const char **method, const char **pattern,
                          const char **summary) {
    const mq_route *r = i < mq_n_routes ? &mq_routes[i] : NULL;
    if (method)
        *method = r ? r->method : NULL;
    if (pattern)
        *pattern = r ? r->pattern : NULL;
    if (summary)
        *summary = r ? r->summary : NULL;
}

void mq_server_set_title_name(mq_server *srv, uint32_t id, const char *ext_id) {
    pthread_rwlock_wrlock(&srv->names_lock);
    while (srv->title_names.len <= id)
        MQ_VEC_PUSH(&srv->title_names, NULL);
    mq_free(srv->title_names.items[id]);
    srv->title_names.items[id] = ext_id ? mq_strdup(ext_id) : NULL;
    pthread_rwlock_unlock(&srv->names_lock);
    atomic_fetch_add(&srv->titles_version, 1); /* the page's catalogue reloads */
}

/* ---------------------------------------------------------------- replies ---- */

static void queue(mq_req *r, int status, const char *ctype, char *owned, size_t len,
                  const char *allow) {
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, owned, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(owned);
        return;
    }
    if (len || status != MHD_HTTP_NO_CONTENT)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                ctype ? ctype : "application/json");
    if (allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    if (r->cache_control)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, r->cache_control);
    /* Browsers take types as given, and a page or poster runs nothing it did not
     * bring from this server (the UI sets every datum as text, never as markup). */
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (ctype && (strncmp(ctype, "text/html", 9) == 0 || strncmp(ctype, "image/svg", 9) == 0))
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; "
                                "style-src 'self' 'unsafe-inline'; object-src 'none'; "
                                "frame-ancestors 'none'");
    /* While stopping, ask keep-alive clients to go elsewhere. */
    if (atomic_load(&r->srv->stopping))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    r->status = status;
    r->responded = true;
}

void mq_req_reply(mq_req *r, int status, const char *ctype, const char *body, size_t len) {
    char *copy = mq_malloc(len + 1);
    memcpy(copy, body, len);
    queue(r, status, ctype, copy, len, NULL);
}

void mq_req_reply_owned(mq_req *r, int status, const char *ctype, char *owned, size_t len) {
    queue(r, status, ctype, owned, len, NULL);
}

void mq_req_json(mq_req *r, int status, json_t *o) {
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(o);
    queue(r, status, NULL, s, s ? strlen(s) : 0, NULL);
}

static json_t *error_json(const char *fmt, va_list ap) {
    char msg[MQ_ERR_MSG_MAX + 256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    json_t *o = json_object();
    /* Messages quote user input, which may not be valid UTF-8 after truncation. */
    json_t *s = json_string(msg);
    json_object_set_new(o, "error", s ? s : json_string("invalid input (not UTF-8)"));
    return o;
}

void mq_req_error(mq_req *r, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    json_t *o = error_json(fmt, ap);
    va_end(ap);
    mq_req_json(r, status, o);
}

const char *mq_req_header(mq_req *r, const char *name) {
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* Ids may contain '/': a client sends it as %2F, which must not split a path
 * segment. libmicrohttpd unescapes the path before it reaches us, so this
 * unescape callback decodes every %HH but %2F; the router matches segments, and
 * decode_slashes() turns %2F into '/' in a matched parameter or a query value. */
static int hexval(char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static size_t unescape_keep_slash(void *cls, struct MHD_Connection *c, char *s) {
    char *w = s;
    for (const char *p = s; *p;) {
        int hi, lo;
        if (p[0] == '%' && (hi = hexval(p[1])) >= 0 && (lo = hexval(p[2])) >= 0 &&
            !(hi == 2 && lo == 15)) {
            *w++ = (char)(hi * 16 + lo);
            p += 3;
        } else {
            *w++ = *p++;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

/* %2F (or %2f) to '/', in place. */
static void decode_slashes(char *s) {
    char *w = s;
    for (const char *p = s; *p;) {
        if (p[0] == '%' && p[1] == '2' && (p[2] == 'F' || p[2] == 'f')) {
            *w++ = '/';
            p += 3;
        } else {
            *w++ = *p++;
        }
    }
    *w = '\0';
}

const char *mq_req_query(mq_req *r, const char *name) {
    const char *v = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
    if (!v || !strchr(v, '%'))
        return v;
    char *copy = mq_arena_strdup(&r->arena, v);
    decode_slashes(copy);
    return copy;
}

/* --------------------------------------------------------------- dispatch ---- */

/* Matches a path against a pattern whose "{...}" segments match one non-empty
 * segment, copied to param. */
static bool match(const char *pattern, const char *url, char *param, char *param2, size_t n) {
    const char *p = pattern, *u = url;
    int k = 0; /* the first {...} goes to param, the second to param2 */
    param2[0] = '\0';
    while (*p && *u) {
        if (*p == '{') {
            const char *pe = strchr(p, '}');
            const char *ue = strchrnul(u, '/');
            size_t len = (size_t)(ue - u);
            if (!pe || len == 0 || len >= n)
                return false;
            char *dst = k++ ? param2 : param;
            memcpy(dst, u, len);
            dst[len] = '\0';
            p = pe + 1;
            u = ue;
        } else if (*p++ != *u++) {
            return false;
        }
    }
    return !*p && !*u;
}

/* Route index; -1 when no pattern matches (404), -2 when the path matches but
 * not the method (405, `allow` lists the methods that would). */
static int find_route(const char *url, const char *method, char *param, char *param2,
                      char *allow, size_t allow_n) {
    bool path_ok = false;
    allow[0] = '\0';
    for (size_t i = 0; i < mq_n_routes; i++) {
        char tmp[MQ_PARAM_MAX], tmp2[MQ_PARAM_MAX];
        if (!match(mq_routes[i].pattern, url, tmp, tmp2, sizeof tmp))
            continue;
        if (strcmp(mq_routes[i].method, method) == 0) {
            decode_slashes(tmp);
            decode_slashes(tmp2);
            strcpy(param, tmp);
            strcpy(param2, tmp2);
            return (int)i;
        }
        path_ok = true;
        size_t k = strlen(allow);
        snprintf(allow + k, allow_n - k, "%s%s", k ? ", " : "", mq_routes[i].method);
    }
    return path_ok ? -2 : -1;
}

/* Compares in time independent of where the strings differ. */
static bool same_secret(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = la != lb;
    for (size_t i = 0; i < la; i++)
        d |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
    return d == 0;
}

bool mq_req_authorized(mq_req *r) {
    const char *key = r->srv->opt.api_key;
    if (!key || !*key)
        return true;
    const char *got = mq_req_header(r, "X-API-Key");
    const char *auth = mq_req_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!got && auth && strncasecmp(auth, "Bearer ", 7) == 0)
        got = auth + 7;
    if (got && same_secret(got, key))
        return true;
    mq_req_error(r, MHD_HTTP_UNAUTHORIZED,
                 "%s: this endpoint needs the API key (server.api_key), sent as the "
                 "X-API-Key header or Authorization: Bearer KEY; %s",
                 mq_routes[r->route].pattern, got ? "the key sent is wrong" : "none was sent");
    return false;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls) {
    mq_server *srv = cls;
    mq_req *r = *con_cls;
    if (!r) {
        r = mq_calloc(1, sizeof *r);
        r->srv = srv;
        r->conn = conn;
        r->t0 = mq_mono_s();
        r->route = -1;
        mq_buf_init(&r->body, srv->opt.body_limit);
        mq_arena_init(&r->arena, 4096, 0);
        mq_arena_init(&r->json_arena, 4096, 0);
        atomic_fetch_add(&srv->active, 1);
        *con_cls = r;
        char allow[128];
        int route = find_route(url, method, r->param, r->param2, allow, sizeof allow);
        if (route == -1) {
            mq_req_error(r, MHD_HTTP_NOT_FOUND,
                         "%s: no such endpoint (docs/openapi.yaml lists the API)", url);
            return MHD_YES;
        }
        if (route == -2) {
            json_t *o = json_object();
            char msg[256];
            snprintf(msg, sizeof msg, "%s %s: method not allowed; expected %s", method, url,
                     allow);
            json_object_set_new(o, "error", json_string(msg));
            char *s = json_dumps(o, JSON_COMPACT);
            json_decref(o);
            queue(r, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, s, strlen(s), allow);
            return MHD_YES;
        }
        r->route = route;
        if (strcmp(method, "GET") != 0 && !mq_req_authorized(r))
            return MHD_YES;
        if (atomic_load(&srv->stopping)) {
            mq_req_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "the server is shutting down");
            return MHD_YES;
        }
        /* An oversized body is refused before a byte of it is read. */
        const char *cl = mq_req_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
        int64_t len;
        if (cl && mq_parse_i64(cl, &len) && len > (int64_t)srv->opt.body_limit)
            mq_req_error(r, 413,
                         "body: expected at most %zu bytes (server.body_limit), got %lld",
                         srv->opt.body_limit, (long long)len);
        return MHD_YES;
    }
    if (*upload_size) {
        /* Past the cap (a chunked body with no Content-Length), the rest is read
         * and dropped, never stored, and the answer is 413. */
        if (!r->responded && !r->too_big && mq_buf_append(&r->body, upload, *upload_size))
            r->too_big = true;
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->responded)
        return MHD_YES;
    if (r->too_big) {
        mq_req_error(r, 413,
                     "body: expected at most %zu bytes (server.body_limit), got more",
                     srv->opt.body_limit);
        return MHD_YES;
    }
    mq_routes[r->route].handler(r);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    mq_server *srv = cls;
    mq_req *r = *con_cls;
    if (!r)
        return;
    mq_metrics_request(&srv->metrics, r->route, r->responded ? r->status : 0,
                       mq_mono_s() - r->t0);
    mq_arena_free(&r->json_arena); /* the body's JSON tree (jsonmem.c) */
    mq_buf_free(&r->body);
    mq_arena_free(&r->arena);
    mq_free(r->evs);
    mq_free(r->ev_index);
    mq_free(r->status_v);
    for (size_t i = 0; i < r->rejected.len; i++)
        mq_free(r->rejected.items[i].msg);
    mq_free(r->rejected.items);
    mq_free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&srv->active, 1);
}

/* libmicrohttpd's own messages (client protocol errors, mostly) at debug level;
 * the last one is kept for a start-up failure's message. */
static __thread char mhd_last[256];

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    vsnprintf(mhd_last, sizeof mhd_last, fmt, ap);
    size_t n = strlen(mhd_last);
    while (n && (mhd_last[n - 1] == '\n' || mhd_last[n - 1] == '\r'))
        mhd_last[--n] = '\0';
    mq_log(MQ_LOG_DEBUG, "http: %s", mhd_last);
}

/* ---------------------------------------------------------------- startup ---- */

static int load_title_name(void *ud, const mq_title *t) {
    mq_server_set_title_name(ud, t->id, t->ext_id);
    return 0;
}

static int replay_event(void *ud, const mq_event *e) {
    mq_server *srv = ud;
    mq_state_apply(srv->state, e);
    mq_server_count_event(srv, e);
    if (e->title_id && e->title && (e->title_id >= srv->title_names.len ||
                                    !srv->title_names.items[e->title_id]))
        mq_server_set_title_name(srv, e->title_id, e->title);
    return 0;
}

static int listen_addr(const char *bind, int port, struct sockaddr_storage *ss, bool *v6,
                       mq_err *err) {
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, bind, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *v6 = false;
        return MQ_OK;
    }
    if (inet_pton(AF_INET6, bind, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *v6 = true;
        return MQ_OK;
    }
    return mq_err_set(err, MQ_EINVAL,
                      "server.bind: expected an IPv4 or IPv6 address, got \"%s\"", bind);
}

static bool is_loopback(const struct sockaddr_storage *ss) {
    if (ss->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
    return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

int mq_server_start(const mq_server_options *o, mq_server **out, mq_err *err) {
    *out = NULL;
    mq_jsonmem_install();
    mq_server *srv = mq_calloc(1, sizeof *srv);
    srv->opt = *o;
    srv->bind = mq_strdup(o->bind ? o->bind : "127.0.0.1");
    srv->opt.bind = srv->bind;
    srv->boot_ms = mq_now_ms();
    pthread_mutex_init(&srv->read_mu, NULL);
    pthread_rwlock_init(&srv->names_lock, NULL);
    pthread_mutex_init(&srv->writer.mu, NULL);
    pthread_cond_init(&srv->writer.wake, NULL);
    pthread_mutex_init(&srv->bundle_mu, NULL);
    pthread_mutex_init(&srv->pages_mu, NULL);
    pthread_rwlock_init(&srv->assets_lock, NULL);
    pthread_mutex_init(&srv->cov_mu, NULL);
    pthread_mutex_init(&srv->assets_mu, NULL);
    pthread_mutex_init(&srv->assets_write_mu, NULL);
    pthread_cond_init(&srv->assets_wake, NULL);
    int rc;
    struct sockaddr_storage ss;
    bool v6 = false;
    if ((rc = listen_addr(srv->bind, o->port, &ss, &v6, err)))
        goto fail;
    if ((!o->api_key || !*o->api_key) && !is_loopback(&ss)) {
        rc = mq_err_set(err, MQ_EINVAL,
                        "server.api_key: expected a key when server.bind is not a loopback "
                        "address (got bind \"%s\" and no key): writes and the dashboard "
                        "would be open to the network",
                        srv->bind);
        goto fail;
    }
    const char *target = o->store ? o->store : o->data_dir;
    if ((rc = mq_store_open(target, MQ_STORE_DEFAULT, &srv->writer.store, err)) ||
        (rc = mq_store_open(target, MQ_STORE_DEFAULT, &srv->reader, err)) ||
        (rc = mq_store_open(target, MQ_STORE_DEFAULT, &srv->listener, err)))
        goto fail;
    mq_log(MQ_LOG_INFO, "store: %s (%s)", mq_store_target(srv->writer.store),
           mq_store_backend(srv->writer.store));

    /* The live state is not persisted: it is rebuilt from the log, in commit
     * order. Following the log from nothing visits every event; later follows
     * (follow.c) visit what other nodes commit after this. */
    double t0 = mq_mono_s();
    srv->state = mq_state_create(&o->sem);
    if ((rc = mq_store_each_title(srv->writer.store, load_title_name, srv, err)) ||
        (rc = mq_store_follow_events(srv->writer.store, replay_event, srv, err))) {
        mq_err_prefix(err, "rebuilding the live state");
        goto fail;
    }
    mq_log(MQ_LOG_INFO, "live state: %zu profiles rebuilt from the event log in %.2f s",
           mq_state_profile_count(srv->state), mq_mono_s() - t0);
    mq_server_bundle_refresh(srv, srv->listener);
    if (!atomic_load(&srv->bundle_version))
        mq_log(MQ_LOG_INFO, "no bundle served yet: `marquee train` publishes one");

    if ((rc = mq_server_pages_start(srv, err)) || (rc = mq_server_assets_start(srv, err)) ||
        (rc = mq_writer_start(srv, err)) ||
        (rc = mq_follow_start(srv, err)))
        goto fail;
    /* libmicrohttpd keeps each connection on the worker that accepted it, and a
     * worker accepts up to ten at a time: with one worker per core, the 16
     * keep-alive connections of a load test were seen all on one worker in about
     * half of the runs, the other core idle (half the pages/s). Four workers per
     * core make an idle core unlikely; each costs its request arena and ranker
     * workspace. */
    unsigned threads = (unsigned)(o->threads > 0 ? o->threads : 4 * mq_threads_budget());
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (v6)
        flags |= MHD_USE_IPv6;
    mhd_last[0] = '\0';
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)o->port, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, &ss,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv, MHD_OPTION_UNESCAPE_CALLBACK,
        unescape_keep_slash, srv, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)16 * 1024, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_END);
    if (!srv->daemon) {
        rc = mq_err_set(err, MQ_EIO, "cannot listen on %s port %d: %s", srv->bind, o->port,
                        mhd_last[0] ? mhd_last : "libmicrohttpd refused to start");
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? di->port : o->port;
    *out = srv;
    return MQ_OK;
fail:
    mq_server_stop(srv);
    return rc;
}

int mq_server_port(const mq_server *s) {
    return s->port;
}

void mq_server_stop(mq_server *srv) {
    if (!srv)
        return;
    atomic_store(&srv->stopping, true);
    MHD_socket lfd = MHD_INVALID_SOCKET;
    if (srv->daemon)
        lfd = MHD_quiesce_daemon(srv->daemon);
    /* In-flight requests finish: their writes are committed and answered. New
     * requests on open keep-alive connections get 503 with Connection: close. */
    double t0 = mq_mono_s();
    while (atomic_load(&srv->active) > 0 && mq_mono_s() - t0 < 30)
        usleep(2000);
    if (atomic_load(&srv->active) > 0)
        mq_log(MQ_LOG_WARN, "stopping with %d requests still open after 30 s",
               atomic_load(&srv->active));
    mq_follow_stop(srv);
    mq_writer_stop(srv);
    if (srv->daemon)
        MHD_stop_daemon(srv->daemon);
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd);
    mq_server_assets_stop(srv); /* its checkpoint, once the writer has applied everything */
    mq_store_close(srv->writer.store);
    mq_store_close(srv->reader);
    mq_store_close(srv->listener);
    mq_server_bundle_release(srv->bundle);
    mq_server_pages_stop(srv);
    mq_state_destroy(srv->state);
    for (size_t i = 0; i < srv->title_names.len; i++)
        mq_free(srv->title_names.items[i]);
    mq_free(srv->title_names.items);
    pthread_mutex_destroy(&srv->read_mu);
    pthread_rwlock_destroy(&srv->names_lock);
    pthread_mutex_destroy(&srv->writer.mu);
    pthread_cond_destroy(&srv->writer.wake);
    pthread_mutex_destroy(&srv->bundle_mu);
    pthread_mutex_destroy(&srv->pages_mu);
    pthread_rwlock_destroy(&srv->assets_lock);
    pthread_mutex_destroy(&srv->cov_mu);
    pthread_mutex_destroy(&srv->assets_mu);
    pthread_mutex_destroy(&srv->assets_write_mu);
    pthread_cond_destroy(&srv->assets_wake);
    mq_free(srv->cov_imp.items);
    mq_free(srv->cov_play.items);
    mq_free(srv->bind);
    mq_free(srv);
}
