/*
 * server_impl.h: private to the server module. The server object, the request
 * context every handler receives, the writer's jobs, and the metrics. server.c
 * runs libmicrohttpd and dispatches; routes.c holds the route table and handlers;
 * writer.c the group-commit writer; metrics.c the counters and their exposition;
 * follow.c what other nodes commit, and the bundle being served.
 */
#ifndef MQ_SERVER_IMPL_H
#define MQ_SERVER_IMPL_H

#include "assets/assets.h"
#include "models/models.h"
#include "page/page.h"
#include "rank/rank.h"
#include "server.h"
#include "state/state.h"
#include "store/store.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

/* ---------------------------------------------------------------- metrics ---- */

#define MQ_MAX_ROUTES 24
/* Latency buckets in seconds (upper bounds); the exposition adds +Inf. */
#define MQ_LAT_BUCKETS 15

typedef struct mq_hist {
    _Atomic uint64_t bucket[MQ_LAT_BUCKETS + 1];
    _Atomic uint64_t count;
    _Atomic uint64_t sum_ns;
} mq_hist;

/* HTTP statuses counted separately; others go to the last slot. */
#define MQ_STATUS_SLOTS 14
/* Events ingested per second, for the last this many seconds (the dashboard). */
#define MQ_EV_RING 300

typedef struct mq_metrics {
    /* index MQ_MAX_ROUTES: requests that matched no route */
    _Atomic uint64_t requests[MQ_MAX_ROUTES + 1][MQ_STATUS_SLOTS];
    mq_hist latency[MQ_MAX_ROUTES + 1];
    _Atomic uint64_t events_by_type[MQ_EV_COUNT];
    _Atomic uint64_t events_duplicate, events_rejected;
    mq_hist commit; /* one group commit: begin .. fsync done */
    _Atomic uint64_t commit_groups, commit_jobs, commit_failures;
    /* Several nodes (follow.c) */
    _Atomic uint64_t events_followed, notices, follow_failures;
    _Atomic uint64_t bundle_swaps, bundle_failures;
    _Atomic int store_up; /* 0 while the listening handle cannot reach the store */
    /* Events stored per second (this node's and those followed), by unix second
     * modulo MQ_EV_RING; a slot whose second is stale counts zero. */
    _Atomic int64_t ev_sec[MQ_EV_RING];
    _Atomic uint64_t ev_count[MQ_EV_RING];
} mq_metrics;

void mq_hist_observe(mq_hist *h, double seconds);
void mq_metrics_request(mq_metrics *m, int route, int status, double seconds);
/* n events stored at now_ms (one thread: the writer). */
void mq_metrics_events(mq_metrics *m, int64_t now_ms, uint64_t n);
/* The upper bound of latency bucket i (i < MQ_LAT_BUCKETS). */
double mq_metrics_bound(int i);

/* ------------------------------------------------------------ writer jobs ---- */

typedef enum {
    MQ_JOB_EVENTS,
    MQ_JOB_PUT_TITLE,
    MQ_JOB_DELETE_TITLE,
    MQ_JOB_PUT_PROFILE,
    MQ_JOB_DELETE_PROFILE,
} mq_job_kind;

/* One write, queued by a request thread and run by the writer inside a group
 * transaction. Everything it points to belongs to the request, which stays
 * suspended until the writer is done with it. */
typedef struct mq_job {
    mq_job_kind kind;
    mq_event *evs; /* MQ_JOB_EVENTS */
    size_t n;
    mq_append_status *status;
    mq_title *title;     /* MQ_JOB_PUT_TITLE */
    mq_profile *profile; /* MQ_JOB_PUT_PROFILE */
    const char *ext_id;  /* MQ_JOB_DELETE_* */
    /* Results */
    int rc;
    bool created; /* PUT: the id did not exist before */
    uint32_t id;  /* internal id written or deleted */
    mq_err err;
    /* Completion: `done` is set and the request's connection resumed. */
    struct MHD_Connection *conn;
    bool done;
    struct mq_job *next;
} mq_job;

typedef struct mq_writer {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    mq_job *head, *tail;
    size_t queued_events;
    bool stop, started;
    bool follow_due; /* follow the log (other nodes' commits) before the next group */
    mq_store *store; /* owned by the writer thread once started */
} mq_writer;

int mq_writer_start(mq_server *srv, mq_err *err);
/* Commits what is queued, then joins the thread. */
void mq_writer_stop(mq_server *srv);
void mq_writer_submit(mq_server *srv, mq_job *job);
/* Asks the writer to follow the log (apply other nodes' events) when it is next
 * free; requests made meanwhile are one. */
void mq_writer_request_follow(mq_server *srv);
/* Applies one followed event to the live state (the writer's callback). */
int mq_server_apply_followed(void *srv, const mq_event *e);

/* -------------------------------------------------------- several nodes ---- */

/* The bundle being served. Requests take a reference (acquire) and drop it when
 * done (release); a swap replaces the pointer and drops the server's reference,
 * so the old bundle is freed by whichever request finishes with it last. */
typedef struct mq_served_bundle {
    mq_bundle *b;
    int64_t version; /* of the store blob "bundle" */
    int64_t loaded_ms;
    size_t bytes;
    _Atomic long refs;
} mq_served_bundle;

/* NULL when no bundle is served. */
mq_served_bundle *mq_server_bundle_acquire(mq_server *srv);
void mq_server_bundle_release(mq_served_bundle *sb);
/* Loads the store's bundle if its version is new: verified, then swapped in; a
 * corrupt one is refused (logged, counted) and the current one stays. */
void mq_server_bundle_refresh(mq_server *srv, mq_store *s);
/* Starts and stops the thread that listens for other nodes' commits. */
int mq_follow_start(mq_server *srv, mq_err *err);
void mq_follow_stop(mq_server *srv);

/* ----------------------------------------------------------------- server ---- */

typedef MQ_VEC(uint32_t) mq_counts;

struct mq_server {
    mq_server_options opt;
    char *bind;
    int port;
    struct MHD_Daemon *daemon;
    mq_writer writer;
    /* The read handle: GETs and listings, one at a time. */
    pthread_mutex_t read_mu;
    mq_store *reader;
    mq_state *state;
    /* Internal title id -> external id, for rendering the live state. Written by
     * the writer after a commit, read by handlers. */
    pthread_rwlock_t names_lock;
    MQ_VEC(char *) title_names;
    mq_metrics metrics;
    _Atomic int active;    /* requests between first call and completion */
    _Atomic bool stopping; /* /healthz answers 503 */
    _Atomic uint64_t id_seq;
    int64_t boot_ms;
    /* Several nodes (follow.c) */
    mq_store *listener; /* LISTENs; owned by the follow thread once started */
    pthread_t follow_thread;
    bool follow_started;
    _Atomic bool follow_stop;
    pthread_mutex_t bundle_mu; /* guards `bundle` (the pointer) */
    mq_served_bundle *bundle;
    _Atomic int64_t bundle_version, bundle_refused; /* 0 = none */
    /* The homepage (api_page.c): page assembly over a catalogue snapshot, which
     * is reloaded (at most once a second) after titles change. */
    mq_page_service *pages;
    _Atomic uint64_t titles_version;  /* bumped whenever a title changes */
    _Atomic uint64_t pages_titles_version; /* the version the snapshot was loaded at */
    _Atomic int64_t pages_reload_ms;
    pthread_mutex_t pages_mu;         /* one reload at a time */
    /* Coverage (dashboard.c): impressions and plays per title id, from the log. */
    pthread_mutex_t cov_mu;
    mq_counts cov_imp, cov_play;
    /* The asset bandits (bandit.c); NULL when assets.serve is 0. */
    mq_assets *assets;
    pthread_rwlock_t assets_lock;
    _Atomic bool assets_online; /* caught up: choosing (before: the defaults) */
    _Atomic bool assets_stop;
    mq_store *assets_store; /* the learner's handle: it follows the log */
    pthread_t assets_thread;
    bool assets_thread_started;
    pthread_mutex_t assets_write_mu; /* one writer of the model at a time (bandit.c) */
    pthread_mutex_t assets_mu; /* with assets_wake: the writer nudges the learner */
    pthread_cond_t assets_wake;
    bool assets_nudged;
};

/* bandit.c: the asset bandits in the server (after the page service: it reads
 * its catalogue). stop writes the checkpoint (before the writer's store closes). */
int mq_server_assets_start(mq_server *srv, mq_err *err);
void mq_server_assets_stop(mq_server *srv);
/* The writer committed events: the learner follows the log now. */
void mq_server_assets_nudge(mq_server *srv);
void mq_server_assets_put_title(mq_server *srv, const mq_title *t);
/* The model for choosing, under the read lock (NULL: none; release it anyway). */
const mq_assets *mq_server_assets_acquire(mq_server *srv);
void mq_server_assets_release(mq_server *srv, const mq_assets *a);
/* GET /v1/dashboard's "bandits": policy, counts and each slot's arms; null when off. */
json_t *mq_server_assets_dashboard(mq_server *srv);

/* dashboard.c: coverage counts of a stored event (any thread). */
void mq_server_count_event(mq_server *srv, const mq_event *e);
/* routes.c: what GET /v1/bundle answers. */
json_t *mq_server_bundle_json(mq_server *srv);

/* api_page.c: GET /v1/profiles/{id}/homepage, and the page service's life cycle. */
int mq_server_pages_start(mq_server *srv, mq_err *err);
void mq_server_pages_stop(mq_server *srv);

void mq_server_set_title_name(mq_server *srv, uint32_t id, const char *ext_id);

/* --------------------------------------------------------------- requests ---- */

#define MQ_PARAM_MAX (MQ_ID_MAX_LEN * 3 + 1)

typedef struct mq_req mq_req;

/* An event of a batch that was not stored, and why. */
typedef struct mq_reject {
    size_t index;
    char *msg;
} mq_reject;

typedef enum { MQ_H_DONE, MQ_H_SUSPEND } mq_hres;
typedef mq_hres (*mq_handler)(mq_req *r);
/* api_page.c */
mq_hres mq_h_homepage(mq_req *r);
/* api_rank.c: ranked recommendations and a title's match for a profile (issue 5) */
mq_hres mq_h_recommendations(mq_req *r);
mq_hres mq_h_profile_title(mq_req *r);
/* web.c: the web UI's files and SVG posters */
mq_hres mq_h_ui_index(mq_req *r);
mq_hres mq_h_ui_file(mq_req *r);
mq_hres mq_h_artwork(mq_req *r);
/* dashboard.c: GET /v1/dashboard */
mq_hres mq_h_dashboard(mq_req *r);

typedef struct mq_route {
    const char *method;
    const char *pattern;
    mq_handler handler;
    const char *summary;
} mq_route;

extern const mq_route mq_routes[];
extern const size_t mq_n_routes;

struct mq_req {
    mq_server *srv;
    struct MHD_Connection *conn;
    int route; /* index into mq_routes, -1 = none */
    char param[MQ_PARAM_MAX]; /* the {id} path segment */
    char param2[MQ_PARAM_MAX]; /* a second {...} segment ({title} in .../titles/{title}) */
    mq_buf body;
    bool too_big;
    double t0;
    int status;
    bool responded;
    const char *cache_control; /* a Cache-Control header for the reply (static string) */
    /* Handler state, freed when the request completes. */
    mq_job job;
    bool job_queued;
    json_t *json; /* the parsed body, in json_arena: never json_decref'ed */
    mq_arena arena;
    mq_arena json_arena;
    mq_event *evs;
    size_t *ev_index; /* evs[k] is body element ev_index[k] */
    mq_append_status *status_v;
    MQ_VEC(mq_reject) rejected;
};

/* The artwork, synopsis and label the bandits choose for profile and title t in
 * context rc (the same all day for the pair), as "artwork", "synopsis" and
 * "label" of o; the editorial defaults without bandits. */
void mq_server_assets_title_json(mq_server *srv, mq_req *r, uint32_t profile_id,
                                 const mq_rank_context *rc, const mq_title *t, json_t *o);

/* Queue a response. `body` is copied; ctype NULL means application/json. */
void mq_req_reply(mq_req *r, int status, const char *ctype, const char *body, size_t len);
/* The same without the copy: the response takes `owned` (from mq_malloc) and
 * frees it once sent. */
void mq_req_reply_owned(mq_req *r, int status, const char *ctype, char *owned, size_t len);
/* Replies with the compact JSON of `o` and releases it. */
void mq_req_json(mq_req *r, int status, json_t *o);
/* Reads a title from the store (the read handle); when it cannot, replies 404 or
 * 503 and returns false. Strings live in the request's arena. */
bool mq_req_read_title(mq_req *r, const char *ext_id, mq_title *t);
/* The same for the profile of the path's {id}. */
bool mq_req_read_profile(mq_req *r, mq_profile *p);
/* {"error": "..."} */
void mq_req_error(mq_req *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *mq_req_header(mq_req *r, const char *name);
/* With server.api_key set, whether the request carries it; when it does not, the
 * 401 answer is queued and false returned. Writes are checked before dispatch;
 * GET handlers that need the key (the dashboard) call this. */
bool mq_req_authorized(mq_req *r);
const char *mq_req_query(mq_req *r, const char *name);

/* jsonmem.c: JSON made between begin and end is allocated in `a`, and frees there
 * do nothing; such values are never json_decref'ed and die with the arena.
 * install() runs once, when the first server starts. */
void mq_jsonmem_install(void);
void mq_jsonmem_begin(mq_arena *a);
void mq_jsonmem_end(void);

/* Prometheus text exposition of srv's metrics into b. */
void mq_metrics_render(mq_server *srv, mq_buf *b);

#endif
