/* test_multinode.c: several `marquee serve` nodes on one PostgreSQL database.
 * MQ_TEST_LABEL: integration
 *
 * Each test runs real nodes (the binary, --store URL, --port 0) against a fresh
 * database on the server named by MQ_TEST_POSTGRES (`make test` starts one with
 * scripts/pg_test_server.sh; without it these tests skip, saying so):
 *   - an event accepted by one node shows in the other node's live state for
 *     that profile within a second, both ways; deletions too;
 *   - bundles published by `marquee train` while both nodes serve a load are
 *     swapped in by both with no failed request; a corrupt one is refused and
 *     the previous one keeps serving;
 *   - the database is stopped (as by a crash) in the middle of a load and
 *     started again: requests meanwhile get a clear 503, nothing unstored is
 *     acknowledged, every acknowledged event is stored once, and serving (and
 *     following the other node) recovers. This test runs its own server, since
 *     it stops it. */
#include "helpers.h"
#include "store/store.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define SCRIPT MQ_SOURCE_DIR "/scripts/pg_test_server.sh"

/* ------------------------------------------------------------- databases ---- */

static const char *server_url(void) {
    const char *u = getenv("MQ_TEST_POSTGRES");
    if (!u || !*u)
        cr_skip_test("MQ_TEST_POSTGRES is not set: several nodes on PostgreSQL are not tested "
                     "(make test starts a server; or set it to a URL where databases may be "
                     "created)");
    return u;
}

static void admin(const char *base, const char *sql) {
    PGconn *c = PQconnectdb(base);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

/* A new database on base's server; returns its URL (caller frees), its name in db. */
static char *new_database(const char *base, char *db, size_t n) {
    static unsigned counter;
    snprintf(db, n, "mq_nodes_%d_%u_%ld", (int)getpid(), counter++, (long)(mq_now_ms() % 1000000));
    char sql[256];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
    admin(base, sql);
    const char *host = strstr(base, "://");
    cr_assert_not_null(host);
    const char *path = strchr(host + 3, '/'), *q = strchr(host + 3, '?');
    size_t keep = path && (!q || path < q) ? (size_t)(path - base)
                  : q                      ? (size_t)(q - base)
                                           : strlen(base);
    char *url;
    cr_assert(asprintf(&url, "%.*s/%s%s", (int)keep, base, db, q ? q : "") > 0);
    return url;
}

static void drop_database(const char *base, const char *db) {
    char sql[256];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
    admin(base, sql);
}

/* ----------------------------------------------------------------- nodes ---- */

typedef struct node {
    pid_t pid;
    int port;
    char *dir;
} node;

static pid_t live[8];

static void track(pid_t pid, bool alive) {
    for (int i = 0; i < 8; i++)
        if (alive ? live[i] == 0 : live[i] == pid) {
            live[i] = alive ? pid : 0;
            return;
        }
}

static char private_pg[4096]; /* a server this test started, stopped by the fini */

static void cleanup(void) {
    for (int i = 0; i < 8; i++)
        if (live[i] > 0) {
            kill(live[i], SIGKILL);
            waitpid(live[i], NULL, 0);
            live[i] = 0;
        }
    if (private_pg[0]) {
        pid_t pid = fork();
        if (pid == 0) {
            execl(SCRIPT, SCRIPT, "stop", private_pg, (char *)NULL);
            _exit(127);
        }
        waitpid(pid, NULL, 0);
        private_pg[0] = '\0';
    }
}

TestSuite(multinode, .fini = cleanup);

static int http_status(int port, const char *method, const char *path, const char *body,
                       char **out);

static void node_start(node *n, const char *url, const char *flag, const char *value) {
    n->dir = th_tmpdir();
    char logpath[4200], line[256];
    snprintf(logpath, sizeof logpath, "%s.log", n->dir);
    pid_t pid = th_serve(&n->port, line, sizeof line, logpath, "--data", n->dir, "--store", url,
                         "serve", "--port", "0", flag, value, NULL);
    cr_assert_geq(pid, 0);
    track(pid, true);
    cr_assert(n->port, "the node did not start: \"%s\" (log: %s)", line, logpath);
    n->pid = pid;
    th_wait_healthy(n->port, 10);
}

static void node_stop(node *n) {
    kill(n->pid, SIGTERM);
    int st;
    waitpid(n->pid, &st, 0);
    track(n->pid, false);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a node did not stop cleanly (log %s.log)",
              n->dir);
    char log[4200];
    snprintf(log, sizeof log, "%s.log", n->dir);
    unlink(log);
    th_rmrf(n->dir);
    free(n->dir);
}

/* ---------------------------------------------------------- a tiny client ---- */

/* One request on its own connection; returns the status (0: no answer) and,
 * when out is not NULL, the body (caller frees). */
static int http_status(int port, const char *method, const char *path, const char *body,
                       char **out) {
    th_resp r = th_http(port, method, path, NULL, body, body ? strlen(body) : 0);
    if (out)
        *out = strdup(r.body ? r.body : "");
    int status = r.status;
    th_resp_free(&r);
    return status;
}

static json_t *get_json(int port, const char *path, int *status) {
    char *body;
    *status = http_status(port, "GET", path, NULL, &body);
    json_t *j = body ? json_loads(body, 0, NULL) : NULL;
    free(body);
    return j;
}

/* The number of events in a profile's live state on a node (-1: 404). */
static int state_events(int port, const char *profile) {
    char path[128];
    snprintf(path, sizeof path, "/v1/profiles/%s/state", profile);
    int st;
    json_t *j = get_json(port, path, &st);
    int n = st == 404 ? -1 : (int)json_integer_value(json_object_get(j, "events"));
    cr_assert(st == 200 || st == 404, "GET %s answered %d", path, st);
    json_decref(j);
    return n;
}

static int64_t bundle_version(int port) {
    int st;
    json_t *j = get_json(port, "/v1/bundle", &st);
    cr_assert_eq(st, 200);
    int64_t v = json_integer_value(json_object_get(j, "version"));
    json_decref(j);
    return v;
}

static void post_ok(int port, const char *body) {
    char *out;
    int st = http_status(port, "POST", "/v1/events", body, &out);
    cr_assert_eq(st, 200, "POST /v1/events answered %d: %s", st, out);
    free(out);
}

static void put_title(int port, const char *id) {
    char path[128];
    snprintf(path, sizeof path, "/v1/titles/%s", id);
    int st = http_status(port, "PUT", path, "{\"name\":\"A title\",\"runtime_min\":100}", NULL);
    cr_assert(st == 201 || st == 200, "PUT %s answered %d", path, st);
}

#define EVENT(id, prof, title)                                                                     \
    "{\"event_id\":\"" id "\",\"profile\":\"" prof "\",\"type\":\"play_start\","                   \
    "\"ts\":1714600000000,\"title\":\"" title "\",\"position_s\":0}"

/* ------------------------------------------------------------------ tests ---- */

Test(multinode, events_on_one_node_show_on_the_other_within_a_second, .timeout = 120) {
    const char *base = server_url();
    char db[96];
    char *url = new_database(base, db, sizeof db);
    node a, b;
    node_start(&a, url, NULL, NULL);
    node_start(&b, url, NULL, NULL);
    node *nodes[2] = {&a, &b};
    put_title(a.port, "t1");
    put_title(b.port, "t2"); /* a title created on B, used through A below */
    cr_assert_eq(http_status(b.port, "GET", "/v1/titles/t1", NULL, NULL), 200,
                 "B reads a title A created");

    double worst = 0;
    int counts[4] = {0};
    for (int i = 0; i < 20; i++) {
        node *w = nodes[i % 2], *r = nodes[1 - i % 2];
        int p = (i / 2) % 4;
        char body[512];
        snprintf(body, sizeof body,
                 "[{\"event_id\":\"e%d\",\"profile\":\"p%d\",\"type\":\"play_start\","
                 "\"ts\":1714600000000,\"title\":\"%s\",\"position_s\":0}]",
                 i, p, i % 3 ? "t1" : "t2");
        char prof[8];
        snprintf(prof, sizeof prof, "p%d", p);
        post_ok(w->port, body);
        double t0 = mq_mono_s();
        counts[p]++;
        cr_assert_eq(state_events(w->port, prof), counts[p],
                     "the accepting node reads its own write at once");
        while (state_events(r->port, prof) != counts[p] && mq_mono_s() - t0 < 5)
            usleep(2000);
        double lag = mq_mono_s() - t0;
        cr_assert_eq(state_events(r->port, prof), counts[p],
                     "event %d never reached the other node", i);
        cr_assert_lt(lag, 1.0, "event %d took %.3f s to reach the other node", i, lag);
        worst = MQ_MAX(worst, lag);
    }
    cr_log_info("events reached the other node within %.0f ms (worst of 20)", worst * 1000);

    /* Each node's asset bandits learn from every event, whichever node took it:
     * their learners follow the one log. */
    for (int k = 0; k < 2; k++) {
        json_int_t learned = -1;
        double t0 = mq_mono_s();
        while (learned != 20 && mq_mono_s() - t0 < 5) {
            int st;
            json_t *d = get_json(nodes[k]->port, "/v1/dashboard", &st);
            json_t *band = d ? json_object_get(d, "bandits") : NULL;
            learned =
                json_is_object(band) ? json_integer_value(json_object_get(band, "events")) : -1;
            json_decref(d);
            if (learned != 20)
                usleep(10000);
        }
        cr_assert_eq(learned, 20, "node %c's bandits learned from %lld of the 20 events",
                     k ? 'B' : 'A', (long long)learned);
    }

    /* The other node names a title created on the first (in the state's history). */
    char *out;
    cr_assert_eq(http_status(a.port, "GET", "/v1/profiles/p0/state", NULL, &out), 200);
    cr_assert(strstr(out, "\"t2\""), "A's state names B's title: %s", out);
    free(out);

    /* A deletion on one node takes the profile away on the other. */
    cr_assert_eq(http_status(a.port, "DELETE", "/v1/profiles/p1", NULL, NULL), 204);
    cr_assert_eq(state_events(b.port, "p1"), -1);
    /* ... and the other node's writes do not bring its old id back. */
    post_ok(b.port, "[" EVENT("after-delete", "p1", "t1") "]");
    cr_assert_eq(state_events(b.port, "p1"), 1);
    double t0 = mq_mono_s();
    while (state_events(a.port, "p1") != 1 && mq_mono_s() - t0 < 5)
        usleep(5000);
    cr_assert_eq(state_events(a.port, "p1"), 1, "the new p1 has only its new event");

    node_stop(&a);
    node_stop(&b);
    drop_database(base, db);
    free(url);
}

/* A load on one node: events, the bundle and state, until told to stop. */
typedef struct loader {
    int port, id;
    atomic_bool *stop;
    int ok, failed;
    char first_failure[256];
    int64_t versions_seen[8];
    int n_versions;
} loader;

static void fail_note(loader *l, const char *what, int st, const char *body) {
    if (!l->failed++)
        snprintf(l->first_failure, sizeof l->first_failure, "%s answered %d: %.180s", what, st,
                 body ? body : "");
}

static void *load_main(void *arg) {
    loader *l = arg;
    for (int i = 0; !atomic_load(l->stop); i++) {
        char *out = NULL;
        int st = http_status(l->port, "GET", "/v1/bundle", NULL, &out);
        json_t *j = st == 200 ? json_loads(out, 0, NULL) : NULL;
        int64_t v = j ? json_integer_value(json_object_get(j, "version")) : 0;
        if (st != 200 || !j || v <= 0 || !json_array_size(json_object_get(j, "popular")))
            fail_note(l, "GET /v1/bundle", st, out);
        else {
            l->ok++;
            if (l->n_versions == 0 || l->versions_seen[l->n_versions - 1] != v)
                if (l->n_versions < 8)
                    l->versions_seen[l->n_versions++] = v;
        }
        json_decref(j);
        free(out);
        char body[1024];
        snprintf(body, sizeof body,
                 "[{\"event_id\":\"l%d-%d\",\"profile\":\"load%d\",\"type\":\"play_start\","
                 "\"ts\":1714600000000,\"title\":\"t00001\",\"position_s\":0}]",
                 l->id, i, i % 50);
        st = http_status(l->port, "POST", "/v1/events", body, &out);
        if (st != 200)
            fail_note(l, "POST /v1/events", st, out);
        else
            l->ok++;
        free(out);
        char path[64];
        snprintf(path, sizeof path, "/v1/profiles/load%d/state", i % 50);
        st = http_status(l->port, "GET", path, NULL, &out);
        if (st != 200)
            fail_note(l, path, st, out);
        else
            l->ok++;
        free(out);
    }
    return NULL;
}

static void train(const char *dir, const char *url) {
    char *out, *err;
    int rc = th_run(&out, &err, "--data", dir, "--store", url, "train", "--no-validation",
                    "--models", "popular,knn,ials", NULL);
    cr_assert_eq(rc, 0, "train failed: %s %s", out, err);
    free(out);
    free(err);
}

/* Waits until both nodes serve version v (or 10 s). */
static void wait_version(node *a, node *b, int64_t v) {
    double t0 = mq_mono_s();
    while ((bundle_version(a->port) != v || bundle_version(b->port) != v) && mq_mono_s() - t0 < 10)
        usleep(20000);
    cr_assert_eq(bundle_version(a->port), v, "node A serves version %lld", (long long)v);
    cr_assert_eq(bundle_version(b->port), v, "node B serves version %lld", (long long)v);
}

static int metric(int port, const char *name) {
    char *out;
    cr_assert_eq(http_status(port, "GET", "/metrics", NULL, &out), 200);
    char needle[128];
    snprintf(needle, sizeof needle, "\n%s ", name);
    const char *p = strstr(out, needle);
    int v = p ? atoi(p + strlen(needle)) : -1;
    free(out);
    return v;
}

Test(multinode, bundle_hot_swap_under_load_fails_no_request, .timeout = 300) {
    const char *base = server_url();
    char db[96];
    char *url = new_database(base, db, sizeof db);
    char *dir = th_tmpdir();
    char *out, *err;
    int rc = th_run(&out, &err, "--data", dir, "--store", url, "synth", "--titles", "100",
                    "--profiles", "300", "--days", "10", NULL);
    cr_assert_eq(rc, 0, "synth failed: %s %s", out, err);
    free(out);
    free(err);
    train(dir, url); /* version 1 */

    node a, b;
    node_start(&a, url, NULL, NULL);
    node_start(&b, url, NULL, NULL);
    wait_version(&a, &b, 1);

    atomic_bool stop = false;
    loader la = {.port = a.port, .id = 0, .stop = &stop},
           lb = {.port = b.port, .id = 1, .stop = &stop};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, load_main, &la);
    pthread_create(&tb, NULL, load_main, &lb);
    usleep(300000);
    train(dir, url); /* version 2, swapped in under load */
    wait_version(&a, &b, 2);

    /* A torn bundle is refused; version 2 keeps serving. */
    mq_store *s;
    mq_err e = {0};
    cr_assert_eq(mq_store_open(url, MQ_STORE_DEFAULT, &s, &e), MQ_OK, "%s", e.msg);
    void *data;
    size_t len;
    cr_assert_eq(mq_store_get_blob(s, "bundle", &data, &len, &e), MQ_OK, "%s", e.msg);
    cr_assert_eq(mq_store_put_blob(s, "bundle", data, len / 2, &e), MQ_OK, "%s", e.msg);
    mq_free(data);
    mq_store_close(s);
    double t0 = mq_mono_s();
    while ((metric(a.port, "marquee_bundle_failures_total") != 1 ||
            metric(b.port, "marquee_bundle_failures_total") != 1) &&
           mq_mono_s() - t0 < 10)
        usleep(20000);
    cr_assert_eq(metric(a.port, "marquee_bundle_failures_total"), 1, "A refused the torn bundle");
    cr_assert_eq(metric(b.port, "marquee_bundle_failures_total"), 1, "B refused the torn bundle");
    cr_assert_eq(bundle_version(a.port), 2);
    cr_assert_eq(bundle_version(b.port), 2);

    train(dir, url); /* version 4 */
    wait_version(&a, &b, 4);
    usleep(300000);
    atomic_store(&stop, true);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    cr_log_info("hot swaps under load: %d + %d requests answered, %d + %d failed", la.ok, lb.ok,
                la.failed, lb.failed);
    cr_assert_eq(la.failed, 0, "node A failed %d requests; the first: %s", la.failed,
                 la.first_failure);
    cr_assert_eq(lb.failed, 0, "node B failed %d requests; the first: %s", lb.failed,
                 lb.first_failure);
    cr_assert_gt(la.ok + lb.ok, 100, "the load ran");
    cr_assert(la.n_versions >= 2 && lb.n_versions >= 2,
              "requests were served by old and new bundles alike");
    cr_assert_eq(metric(a.port, "marquee_bundle_swaps_total"), 3);

    node_stop(&a);
    node_stop(&b);
    th_rmrf(dir);
    free(dir);
    drop_database(base, db);
    free(url);
}

/* A load of event batches with unique ids; remembers which were acknowledged. */
#define OUTAGE_BATCH 20
#define MAX_BATCHES 100000

typedef struct poster {
    int port, id;
    atomic_bool *stop;
    atomic_int *phase; /* 0 before the outage, 1 during, 2 after the restart */
    bool *acked;       /* [MAX_BATCHES] */
    int batches, ok, unavailable, unexpected, ok_after;
    char first_unexpected[256], first_503[256];
} poster;

static void *post_main(void *arg) {
    poster *p = arg;
    mq_buf b;
    mq_buf_init(&b, 0);
    for (int i = 0; i < MAX_BATCHES && !atomic_load(p->stop); i++) {
        mq_buf_reset(&b);
        mq_buf_puts(&b, "[");
        for (int k = 0; k < OUTAGE_BATCH; k++)
            mq_buf_printf(&b,
                          "%s{\"event_id\":\"o%d-%d-%d\",\"profile\":\"u%d\",\"type\":"
                          "\"play_start\",\"ts\":1714600000000,\"title\":\"t1\","
                          "\"position_s\":0}",
                          k ? "," : "", p->id, i, k, (i * 7 + k) % 40);
        mq_buf_puts(&b, "]");
        int phase = atomic_load(p->phase);
        char *out;
        int st = http_status(p->port, "POST", "/v1/events", b.data, &out);
        p->batches = i + 1;
        if (st == 200) {
            json_t *j = json_loads(out, 0, NULL);
            int acc = (int)json_integer_value(json_object_get(j, "accepted"));
            json_decref(j);
            if (acc == OUTAGE_BATCH) {
                p->acked[i] = true;
                p->ok++;
                p->ok_after += phase == 2;
            } else if (!p->unexpected++) {
                snprintf(p->first_unexpected, sizeof p->first_unexpected,
                         "200 without every event accepted: %.200s", out);
            }
        } else if (st == 503 && strstr(out, "\"error\"")) {
            if (!p->unavailable++)
                snprintf(p->first_503, sizeof p->first_503, "%.250s", out);
            usleep(20000); /* a client backing off */
        } else if (!p->unexpected++) {
            snprintf(p->first_unexpected, sizeof p->first_unexpected, "%d: %.200s", st,
                     out ? out : "");
        }
        free(out);
    }
    mq_buf_free(&b);
    return NULL;
}

typedef struct {
    mq_strmap *ids;
    int rows;
} stored;

static int collect_id(void *ud, const mq_event *e) {
    stored *s = ud;
    mq_strmap_put(s->ids, e->event_id, 1);
    s->rows++;
    return 0;
}

static void script(const char *cmd, const char *dir, char **out) {
    char *argv_out = NULL;
    int pipefd[2];
    cr_assert_eq(pipe(pipefd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        /* Only stdout is the pipe: the server the script starts must not hold it. */
        dup2(pipefd[1], 1);
        close(pipefd[0]);
        close(pipefd[1]);
        execl(SCRIPT, SCRIPT, cmd, dir, (char *)NULL);
        _exit(127);
    }
    close(pipefd[1]);
    size_t cap = 4096, len = 0;
    argv_out = malloc(cap);
    for (ssize_t k; (k = read(pipefd[0], argv_out + len, cap - len - 1)) > 0;)
        len += (size_t)k;
    argv_out[len] = '\0';
    close(pipefd[0]);
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        free(argv_out);
        if (strcmp(cmd, "start") == 0) {
            private_pg[0] = '\0';
            cr_skip_test("cannot start a private PostgreSQL server for the outage test (%s): "
                         "it needs PostgreSQL 15 and root or a user that may run initdb",
                         SCRIPT);
        }
        cr_assert_fail("%s %s %s failed", SCRIPT, cmd, dir);
    }
    if (out)
        *out = argv_out;
    else
        free(argv_out);
}

Test(multinode, database_outage_mid_load_loses_no_acknowledged_event, .timeout = 300) {
    server_url(); /* skips like the others when there is no PostgreSQL for the tests */
    char *pgdir = th_tmpdir();
    snprintf(private_pg, sizeof private_pg, "%s", pgdir);
    th_rmrf(pgdir);
    char *vars;
    script("start", pgdir, &vars);
    char *u = strstr(vars, "MQ_TEST_POSTGRES=");
    cr_assert_not_null(u, "%s", vars);
    u += strlen("MQ_TEST_POSTGRES=");
    *strchrnul(u, '\n') = '\0';
    char db[96];
    char *url = new_database(u, db, sizeof db);

    node a, b;
    node_start(&a, url, NULL, NULL);
    node_start(&b, url, NULL, NULL);
    put_title(a.port, "t1");

    atomic_bool stop = false;
    atomic_int phase = 0;
    poster pa = {.port = a.port, .id = 0, .stop = &stop, .phase = &phase},
           pb = {.port = b.port, .id = 1, .stop = &stop, .phase = &phase};
    pa.acked = calloc(MAX_BATCHES, 1);
    pb.acked = calloc(MAX_BATCHES, 1);
    pthread_t ta, tb;
    pthread_create(&ta, NULL, post_main, &pa);
    pthread_create(&tb, NULL, post_main, &pb);
    usleep(1500000);
    atomic_store(&phase, 1);
    script("pause", pgdir, NULL); /* immediate: as a crash */
    usleep(2000000);
    script("resume", pgdir, NULL);
    atomic_store(&phase, 2);
    usleep(3000000);
    atomic_store(&stop, true);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    cr_log_info("outage: node A %d batches acknowledged (%d after the restart), %d refused "
                "with 503; node B %d (%d), %d",
                pa.ok, pa.ok_after, pa.unavailable, pb.ok, pb.ok_after, pb.unavailable);
    cr_assert_eq(pa.unexpected + pb.unexpected, 0, "unexpected answers: %s %s", pa.first_unexpected,
                 pb.first_unexpected);
    cr_assert_gt(pa.unavailable + pb.unavailable, 0, "the outage was seen");
    cr_assert(strstr(pa.first_503, "connection") || strstr(pb.first_503, "connection"),
              "the 503 says what happened: %s / %s", pa.first_503, pb.first_503);
    cr_assert_gt(pa.ok_after, 0, "node A serves again after the restart");
    cr_assert_gt(pb.ok_after, 0, "node B serves again after the restart");

    /* Every acknowledged event is stored, once. */
    mq_store *s;
    mq_err e = {0};
    cr_assert_eq(mq_store_open(url, MQ_STORE_READONLY, &s, &e), MQ_OK, "%s", e.msg);
    stored got = {mq_strmap_create(), 0};
    cr_assert_eq(mq_store_each_event(s, &MQ_EVENT_FILTER_ALL, collect_id, &got, &e), MQ_OK, "%s",
                 e.msg);
    cr_assert_eq((size_t)got.rows, mq_strmap_count(got.ids), "an event stored twice");
    poster *ps[2] = {&pa, &pb};
    int acked = 0;
    for (int n = 0; n < 2; n++)
        for (int i = 0; i < ps[n]->batches; i++) {
            if (!ps[n]->acked[i])
                continue;
            for (int k = 0; k < OUTAGE_BATCH; k++) {
                char id[64];
                snprintf(id, sizeof id, "o%d-%d-%d", n, i, k);
                uint32_t v;
                cr_assert(mq_strmap_get(got.ids, id, &v), "acknowledged event %s is missing", id);
                acked++;
            }
        }
    cr_log_info("outage: %d acknowledged events all stored (%d rows in all)", acked, got.rows);
    cr_assert_gt(acked, 0);

    /* Both nodes follow each other again: their live states agree with the store. */
    mq_event_filter f = MQ_EVENT_FILTER_ALL;
    f.profile_id = mq_store_profile_id(s, "u3");
    stored u3 = {mq_strmap_create(), 0};
    cr_assert_eq(mq_store_each_event(s, &f, collect_id, &u3, &e), MQ_OK);
    double t0 = mq_mono_s();
    while ((state_events(a.port, "u3") != u3.rows || state_events(b.port, "u3") != u3.rows) &&
           mq_mono_s() - t0 < 5)
        usleep(20000);
    cr_assert_eq(state_events(a.port, "u3"), u3.rows, "node A's live state matches the store");
    cr_assert_eq(state_events(b.port, "u3"), u3.rows, "node B's live state matches the store");
    mq_strmap_destroy(u3.ids);
    mq_strmap_destroy(got.ids);
    mq_store_close(s);

    node_stop(&a);
    node_stop(&b);
    free(pa.acked);
    free(pb.acked);
    free(url);
    free(vars);
    free(pgdir);
}
