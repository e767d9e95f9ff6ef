/* bench_get.c: a load generator for GET endpoints (the homepage, recommendations,
 * a profile's state), to measure pages/s on one or several nodes.
 *
 * Usage: bench_get --port P [--port P2 ...] [--path TEMPLATE] [--conns C]
 *                  [--seconds S] [--profiles N | --ids FILE] [--seed X]
 *
 * C threads, each with one keep-alive HTTP/1.1 connection (spread over the given
 * ports, so several nodes share the load), send GET requests one after the other
 * (closed loop) for S seconds. TEMPLATE's "{profile}" is replaced by a profile id
 * drawn uniformly from FILE (one id per line), or else from u0..u(N-1) (the ids
 * bench_ingest writes, not all of which a short run creates). Prints one JSON
 * object: requests, requests/s, statuses other than 200, p50/p99/max latency in
 * milliseconds. */
#include "util/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_PORTS 8
#define MAX_CONNS 256

static int ports[MAX_PORTS], n_ports;
static int n_conns = 16, n_profiles = 100000;
static double seconds = 10;
static const char *path_template = "/v1/profiles/{profile}/homepage";
static uint64_t seed = 1;
static char **ids; /* --ids */
static uint32_t n_ids;

typedef struct worker {
    int port;
    uint64_t stream;
    double *lat; /* seconds, one per request */
    size_t n, cap;
    uint64_t not_ok, io_errors;
    int first_status;
} worker;

static int dial(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/* Reads one response (headers, then Content-Length bytes); returns the status,
 * 0 on a broken connection. `close` says the server asked to close. */
static int read_response(int fd, char *buf, size_t cap, bool *close_after) {
    size_t len = 0;
    char *end = NULL;
    while (!end) {
        if (len + 1 >= cap)
            return 0;
        ssize_t k = recv(fd, buf + len, cap - len - 1, 0);
        if (k <= 0)
            return 0;
        len += (size_t)k;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    int status = strncmp(buf, "HTTP/1.1 ", 9) == 0 ? atoi(buf + 9) : 0;
    size_t body = 0;
    const char *cl = strcasestr(buf, "\r\ncontent-length:");
    if (cl)
        body = strtoul(cl + 17, NULL, 10);
    *close_after = strcasestr(buf, "\r\nconnection: close") != NULL;
    size_t have = len - (size_t)(end + 4 - buf);
    while (have < body) {
        ssize_t k = recv(fd, buf, MQ_MIN(cap, body - have), 0);
        if (k <= 0)
            return 0;
        have += (size_t)k;
    }
    return status;
}

static void *work(void *arg) {
    worker *w = arg;
    mq_rng rng;
    mq_rng_seed(&rng, seed, w->stream);
    char *buf = mq_malloc(1 << 16);
    char path[512], req[1024];
    int fd = dial(w->port);
    double stop = mq_mono_s() + seconds;
    while (mq_mono_s() < stop) {
        if (fd < 0 && (fd = dial(w->port)) < 0) {
            w->io_errors++;
            usleep(10000);
            continue;
        }
        char prof[160];
        if (n_ids)
            snprintf(prof, sizeof prof, "%s", ids[mq_rng_below(&rng, n_ids)]);
        else
            snprintf(prof, sizeof prof, "u%u", mq_rng_below(&rng, (uint32_t)n_profiles));
        const char *at = strstr(path_template, "{profile}");
        if (at)
            snprintf(path, sizeof path, "%.*s%s%s", (int)(at - path_template), path_template, prof,
                     at + 9);
        else
            snprintf(path, sizeof path, "%s", path_template);
        int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
        double t0 = mq_mono_s();
        bool close_after = false;
        int status = send(fd, req, (size_t)n, MSG_NOSIGNAL) == n
                         ? read_response(fd, buf, 1 << 16, &close_after)
                         : 0;
        double dt = mq_mono_s() - t0;
        if (!status) {
            w->io_errors++;
            close(fd);
            fd = -1;
            continue;
        }
        if (w->n == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 4096;
            w->lat = mq_realloc(w->lat, w->cap * sizeof *w->lat);
        }
        w->lat[w->n++] = dt;
        if (status != 200 && !w->not_ok++)
            w->first_status = status;
        if (close_after) {
            close(fd);
            fd = -1;
        }
    }
    if (fd >= 0)
        close(fd);
    mq_free(buf);
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "bench_get: %s: expected a value\n", a);
            return 2;
        }
        if (strcmp(a, "--port") == 0 && n_ports < MAX_PORTS)
            ports[n_ports++] = atoi(v);
        else if (strcmp(a, "--path") == 0)
            path_template = v;
        else if (strcmp(a, "--conns") == 0)
            n_conns = MQ_MAX(1, MQ_MIN(atoi(v), MAX_CONNS));
        else if (strcmp(a, "--seconds") == 0)
            seconds = atof(v);
        else if (strcmp(a, "--profiles") == 0)
            n_profiles = MQ_MAX(1, atoi(v));
        else if (strcmp(a, "--ids") == 0) {
            FILE *f = fopen(v, "r");
            if (!f) {
                fprintf(stderr, "bench_get: --ids %s: cannot open\n", v);
                return 2;
            }
            char line[256];
            size_t cap = 0;
            while (fgets(line, sizeof line, f)) {
                line[strcspn(line, "\r\n")] = '\0';
                if (!line[0])
                    continue;
                if (n_ids == cap) {
                    cap = cap ? cap * 2 : 1024;
                    ids = mq_realloc(ids, cap * sizeof *ids);
                }
                ids[n_ids++] = mq_strdup(line);
            }
            fclose(f);
            if (!n_ids) {
                fprintf(stderr, "bench_get: --ids %s: no ids\n", v);
                return 2;
            }
        } else if (strcmp(a, "--seed") == 0)
            seed = strtoull(v, NULL, 10);
        else {
            fprintf(stderr, "bench_get: unknown flag %s\n", a);
            return 2;
        }
        i++;
    }
    if (!n_ports) {
        fprintf(stderr, "usage: bench_get --port P [--port P2] [--path TEMPLATE] [--conns C] "
                        "[--seconds S] [--profiles N]\n");
        return 2;
    }
    worker *w = mq_calloc((size_t)n_conns, sizeof *w);
    pthread_t *t = mq_malloc((size_t)n_conns * sizeof *t);
    double t0 = mq_mono_s();
    for (int i = 0; i < n_conns; i++) {
        w[i].port = ports[i % n_ports];
        w[i].stream = (uint64_t)i;
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    size_t total = 0;
    uint64_t not_ok = 0, io = 0;
    int first_status = 0;
    for (int i = 0; i < n_conns; i++) {
        pthread_join(t[i], NULL);
        total += w[i].n;
        not_ok += w[i].not_ok;
        io += w[i].io_errors;
        if (!first_status)
            first_status = w[i].first_status;
    }
    double elapsed = mq_mono_s() - t0;
    double *all = mq_malloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < n_conns; i++) {
        memcpy(all + k, w[i].lat, w[i].n * sizeof *all);
        k += w[i].n;
        mq_free(w[i].lat);
    }
    qsort(all, total, sizeof *all, cmp_double);
    double p50 = total ? all[total / 2] : 0, p99 = total ? all[(size_t)(total * 0.99)] : 0,
           max = total ? all[total - 1] : 0;
    printf("{\"path\": \"%s\", \"conns\": %d, \"nodes\": %d, \"seconds\": %.2f, \"requests\": %zu, "
           "\"requests_per_s\": %.0f, \"not_ok\": %llu, \"first_not_ok_status\": %d, "
           "\"io_errors\": %llu, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"max_ms\": %.3f}\n",
           path_template, n_conns, n_ports, elapsed, total, total / elapsed,
           (unsigned long long)not_ok, first_status, (unsigned long long)io, p50 * 1000,
           p99 * 1000, max * 1000);
    mq_free(all);
    mq_free(w);
    mq_free(t);
    for (uint32_t i = 0; i < n_ids; i++)
        mq_free(ids[i]);
    mq_free(ids);
    return 0;
}
