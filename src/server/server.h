/*
 * server.h: `marquee serve`, the HTTP JSON API on libmicrohttpd. Versioned under
 * /v1 and described by docs/openapi.yaml, which a test keeps equal to the route
 * table (routes.c): one row per endpoint, feeding dispatch, metrics and that test.
 *
 * Threads: libmicrohttpd's pool (server.threads) parses and validates requests;
 * one writer thread owns the store handle that writes and group-commits every
 * write queued while the previous commit's fsync ran (writer.c), then updates the
 * live profile state (src/state) and resumes the suspended requests. An event is
 * acknowledged only after the commit that stored it (synchronous=FULL in WAL
 * mode). Reads use a second store handle.
 *
 * Several nodes (follow.c): nodes that share one PostgreSQL store learn what the
 * others committed from a third handle that LISTENs for notices and polls every
 * server.poll_ms: the writer then follows the log (mq_store_follow_events) and
 * applies other nodes' events to its live state, deletions elsewhere are
 * forgotten, and a new bundle (the store blob "bundle") is loaded, verified and
 * swapped in while requests in flight finish on the one they started with.
 */
#ifndef MQ_SERVER_H
#define MQ_SERVER_H

#include "events/events.h"
#include "util/util.h"

typedef struct mq_server_options {
    const char *data_dir;
    const char *store; /* the store's target when not data_dir (a PostgreSQL URL); NULL = data_dir */
    int poll_ms;       /* several nodes: catch-up interval (server.poll_ms) */
    const char *bind; /* IPv4 or IPv6 address literal */
    int port;         /* 0 = any free port (mq_server_port tells which) */
    int threads;      /* HTTP worker threads; 0 = the thread budget */
    size_t body_limit;    /* bytes; a larger body gets 413 */
    int commit_window_us; /* see server.commit_window_us */
    mq_semantics sem;
    const char *api_key; /* server.api_key: required by writes and the dashboard; NULL/"" = none */
    const char *web_dir; /* server.web_dir: the web UI; NULL/"" = MQ_WEB_DIR (the source tree's) */
    const mq_config *config; /* every other setting (page.*), borrowed; NULL = defaults */
} mq_server_options;

/* Options from the configuration table (server.*, semantics.*). The strings point
 * into `c` and data_dir. */
void mq_server_options_from_config(mq_server_options *o, const mq_config *c,
                                   const char *data_dir);

typedef struct mq_server mq_server;

/* Opens the store, rebuilds the live state from the event log, starts the writer
 * and the HTTP listener. The caller stops it with mq_server_stop. */
int mq_server_start(const mq_server_options *o, mq_server **out, mq_err *err);
/* The port actually bound (useful with port 0). */
int mq_server_port(const mq_server *s);
/* Graceful stop: stops accepting connections, lets in-flight requests finish,
 * lets the writer commit everything queued, then frees the server. */
void mq_server_stop(mq_server *s);

/* The route table, for documentation and tests: method ("GET"), path pattern
 * ("/v1/titles/{id}") and a one-line summary. */
size_t mq_server_route_count(void);
void mq_server_route_info(size_t i, const char **method, const char **pattern,
                          const char **summary);

#endif
