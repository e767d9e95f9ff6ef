/* bench_ingest.c: a load generator for POST /v1/events.
 *
 * Usage: bench_ingest --port P [--conns C] [--batch B] [--seconds S]
 *                     [--profiles N] [--titles T] [--setup] [--prefix X]
 *
 * One thread, epoll, C keep-alive HTTP/1.1 connections, each sending a batch of B
 * events and waiting for the answer before the next (closed loop), for S seconds.
 * Every event has a unique event_id (prefix, connection, counter), so every one
 * must be accepted: the run counts what the server acknowledged, and the caller
 * compares that with what the store holds afterwards ("nothing lost"). The mix is
 * a browsing session's: impressions, plays with progress and stop, row scrolls, in
 * sessions of 10-30 events of one profile (as a device sends them), over N
 * profiles and T titles (t1..tT; --setup creates them with PUT first).
 * Prints one JSON object: requests/s, events/s, p50/p99/max latency (ms) and
 * error counts. */
#include "util/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct conn {
    int fd;
    mq_buf out;
    size_t out_off;
    char *in;
    size_t in_len, in_cap;
    double t_sent;
    uint64_t seq;
    uint32_t profile, session_left; /* the session being sent */
    bool busy;
} conn;

static int port = 8080, n_conns = 16, batch = 100, n_profiles = 100000, n_titles = 100;
static double seconds = 10;
static const char *prefix = "b";
static mq_rng rng;
static int64_t base_ms;

static int dial(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        fprintf(stderr, "bench_ingest: cannot connect to port %d: %s\n", port, strerror(errno));
        exit(1);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* One event of the mix; `k` is its global position, which picks its type. */
static void event_json(mq_buf *b, conn *c, int ci, uint64_t k) {
    /* Clients send what one device did: sessions of 10-30 events of one profile,
     * each on one connection, for profiles drawn uniformly. */
    if (!c->session_left) {
        c->profile = mq_rng_below(&rng, (uint32_t)n_profiles);
        c->session_left = 10 + mq_rng_below(&rng, 21);
    }
    c->session_left--;
    uint32_t prof = c->profile;
    uint32_t title = 1 + mq_rng_below(&rng, (uint32_t)n_titles);
    int64_t ts = base_ms + (int64_t)(k % 86400000);
    mq_buf_printf(b, "{\"event_id\":\"%s-%d-%llu\",\"profile\":\"u%u\",\"ts\":%lld,", prefix, ci,
                  (unsigned long long)c->seq++, prof, (long long)ts);
    switch (k % 10) {
    case 6:
        mq_buf_printf(b, "\"type\":\"play_start\",\"title\":\"t%u\",\"position_s\":0,"
                         "\"context\":{\"device\":\"tv\",\"tz_offset_min\":60}}", title);
        break;
    case 7:
        mq_buf_printf(b, "\"type\":\"play_progress\",\"title\":\"t%u\",\"position_s\":%u,"
                         "\"duration_s\":5400}", title, mq_rng_below(&rng, 5400));
        break;
    case 8:
        mq_buf_printf(b, "\"type\":\"play_stop\",\"title\":\"t%u\",\"position_s\":%u,"
                         "\"duration_s\":5400}", title, mq_rng_below(&rng, 5400));
        break;
    case 9:
        mq_buf_printf(b, "\"type\":\"row_scroll\",\"page_id\":\"pg%u\",\"row_id\":\"genre:%u\","
                         "\"row_pos\":%u,\"direction\":\"past\"}",
                      prof, title % 20, mq_rng_below(&rng, 40));
        break;
    default:
        mq_buf_printf(b, "\"type\":\"impression\",\"title\":\"t%u\",\"page_id\":\"pg%u\","
                         "\"row_id\":\"genre:%u\",\"row_pos\":%u,\"col_pos\":%u,"
                         "\"artwork_id\":\"a%u\",\"context\":{\"device\":\"tv\"}}",
                      title, prof, title % 20, mq_rng_below(&rng, 40), mq_rng_below(&rng, 10),
                      title % 3);
        break;
    }
}

static uint64_t event_counter;

static void build_request(conn *c, int ci) {
    static mq_buf body;
    mq_buf_reset(&body);
    mq_buf_puts(&body, "[");
    for (int i = 0; i < batch; i++) {
        if (i)
            mq_buf_puts(&body, ",");
        event_json(&body, c, ci, event_counter++);
    }
    mq_buf_puts(&body, "]");
    mq_buf_reset(&c->out);
    mq_buf_printf(&c->out,
                  "POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  "Content-Length: %zu\r\n\r\n",
                  body.len);
    mq_buf_append(&c->out, body.data, body.len);
    c->out_off = 0;
}

/* Blocking PUT of one title, for --setup. */
static void put_title(int i) {
    int fd = dial();
    char body[128], req[512];
    int bn = snprintf(body, sizeof body, "{\"name\":\"Title %d\",\"runtime_min\":90}", i);
    int n = snprintf(req, sizeof req,
                     "PUT /v1/titles/t%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     "Content-Length: %d\r\n\r\n%s",
                     i, bn, body);
    if (write(fd, req, (size_t)n) != n)
        exit(1);
    char buf[4096];
    ssize_t k = read(fd, buf, sizeof buf - 1);
    if (k < 12 || (strncmp(buf + 9, "200", 3) != 0 && strncmp(buf + 9, "201", 3) != 0)) {
        fprintf(stderr, "bench_ingest: PUT /v1/titles/t%d failed\n", i);
        exit(1);
    }
    close(fd);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* A complete answer in c->in? Returns its total length, or 0. */
static size_t complete(conn *c, int *status, long *accepted) {
    if (c->in_len < 12)
        return 0;
    c->in[c->in_len] = '\0';
    char *end = strstr(c->in, "\r\n\r\n");
    if (!end)
        return 0;
    size_t head = (size_t)(end - c->in) + 4;
    char *cl = strcasestr(c->in, "\r\nContent-Length:");
    size_t len = cl && cl < end ? (size_t)strtoul(cl + 17, NULL, 10) : 0;
    if (c->in_len < head + len)
        return 0;
    *status = atoi(c->in + 9);
    char *acc = strstr(c->in + head, "\"accepted\":");
    *accepted = acc ? strtol(acc + 11, NULL, 10) : 0;
    return head + len;
}

int main(int argc, char **argv) {
    bool setup = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--setup") == 0) {
            setup = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "bench_ingest: %s: expected a value\n", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--port") == 0)
            port = atoi(v);
        else if (strcmp(a, "--conns") == 0)
            n_conns = atoi(v);
        else if (strcmp(a, "--batch") == 0)
            batch = atoi(v);
        else if (strcmp(a, "--seconds") == 0)
            seconds = atof(v);
        else if (strcmp(a, "--profiles") == 0)
            n_profiles = atoi(v);
        else if (strcmp(a, "--titles") == 0)
            n_titles = atoi(v);
        else if (strcmp(a, "--prefix") == 0)
            prefix = v;
        else {
            fprintf(stderr, "bench_ingest: unknown flag %s\n", a);
            return 2;
        }
    }
    if (n_conns < 1 || batch < 1 || n_profiles < 1 || n_titles < 1 || seconds <= 0) {
        fprintf(stderr, "bench_ingest: expected positive --conns, --batch, --profiles, "
                        "--titles and --seconds\n");
        return 2;
    }
    mq_rng_seed(&rng, 42, (uint64_t)batch);
    base_ms = mq_now_ms() - 86400000LL;
    if (setup)
        for (int i = 1; i <= n_titles; i++)
            put_title(i);

    int ep = epoll_create1(0);
    conn *cs = mq_calloc((size_t)n_conns, sizeof *cs);
    for (int i = 0; i < n_conns; i++) {
        cs[i].fd = dial();
        fcntl(cs[i].fd, F_SETFL, O_NONBLOCK);
        mq_buf_init(&cs[i].out, 0);
        cs[i].in_cap = 65536;
        cs[i].in = mq_malloc(cs[i].in_cap + 1);
        struct epoll_event e = {EPOLLIN | EPOLLOUT | EPOLLET, {.u32 = (uint32_t)i}};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &e);
    }
    MQ_VEC(double) lat = {0};
    uint64_t requests = 0, events = 0, accepted_total = 0, errors = 0, busy = 0;
    double t0 = mq_mono_s(), t_end = t0 + seconds;
    for (int i = 0; i < n_conns; i++) {
        build_request(&cs[i], i);
        cs[i].busy = true;
        cs[i].t_sent = mq_mono_s();
        busy++;
    }
    struct epoll_event evs[256];
    while (busy) {
        /* Send what is pending on every connection (edge-triggered writes). */
        for (int i = 0; i < n_conns; i++) {
            conn *c = &cs[i];
            while (c->busy && c->out_off < c->out.len) {
                ssize_t k = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
                                 MSG_NOSIGNAL);
                if (k <= 0)
                    break;
                c->out_off += (size_t)k;
            }
        }
        int n = epoll_wait(ep, evs, 256, 1000);
        if (mq_mono_s() > t_end + 60) {
            fprintf(stderr, "bench_ingest: answers stopped coming\n");
            return 1;
        }
        for (int k = 0; k < n; k++) {
            conn *c = &cs[evs[k].data.u32];
            int ci = (int)evs[k].data.u32;
            for (;;) {
                if (c->in_len == c->in_cap) {
                    c->in_cap *= 2;
                    c->in = mq_realloc(c->in, c->in_cap + 1);
                }
                ssize_t got = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
                if (got == 0) {
                    fprintf(stderr, "bench_ingest: the server closed a connection\n");
                    return 1;
                }
                if (got < 0)
                    break;
                c->in_len += (size_t)got;
            }
            int status;
            long accepted;
            size_t used;
            while (c->busy && (used = complete(c, &status, &accepted)) > 0) {
                double now = mq_mono_s();
                MQ_VEC_PUSH(&lat, (now - c->t_sent) * 1000);
                requests++;
                events += (uint64_t)batch;
                if (status != 200 || accepted != batch)
                    errors++;
                accepted_total += (uint64_t)(accepted > 0 ? accepted : 0);
                memmove(c->in, c->in + used, c->in_len - used);
                c->in_len -= used;
                c->busy = false;
                busy--;
                if (now < t_end) {
                    build_request(c, ci);
                    c->busy = true;
                    c->t_sent = now;
                    busy++;
                }
            }
        }
    }
    double dt = mq_mono_s() - t0;
    qsort(lat.items, lat.len, sizeof *lat.items, cmp_double);
    double p50 = lat.len ? lat.items[lat.len / 2] : 0;
    double p99 = lat.len ? lat.items[(size_t)((double)lat.len * 0.99)] : 0;
    double mx = lat.len ? lat.items[lat.len - 1] : 0;
    printf("{\"batch\": %d, \"conns\": %d, \"seconds\": %.2f, \"requests\": %llu, "
           "\"events_sent\": %llu, \"events_accepted\": %llu, \"errors\": %llu, "
           "\"requests_per_s\": %.0f, \"events_per_s\": %.0f, \"p50_ms\": %.3f, "
           "\"p99_ms\": %.3f, \"max_ms\": %.3f}\n",
           batch, n_conns, dt, (unsigned long long)requests, (unsigned long long)events,
           (unsigned long long)accepted_total, (unsigned long long)errors,
           (double)requests / dt, (double)accepted_total / dt, p50, p99, mx);
    for (int i = 0; i < n_conns; i++) {
        close(cs[i].fd);
        mq_buf_free(&cs[i].out);
        mq_free(cs[i].in);
    }
    mq_free(cs);
    mq_free(lat.items);
    return errors ? 1 : 0;
}
