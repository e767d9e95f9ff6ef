/* helpers.c: see helpers.h. */
#include "helpers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

char *th_tmpdir(void) {
    const char *base = getenv("TMPDIR");
    char *path;
    if (asprintf(&path, "%s/marquee-test-XXXXXX", base && *base ? base : "/tmp") < 0)
        abort();
    if (!mkdtemp(path))
        abort();
    return path;
}

void th_rmrf(const char *path) {
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", path, (char *)NULL);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
}

char *th_write(const char *dir, const char *name, const char *text) {
    char *path;
    if (asprintf(&path, "%s/%s", dir, name) < 0)
        abort();
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    fputs(text, f);
    fclose(f);
    return path;
}

char *th_read(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    fclose(f);
    if (len)
        *len = got;
    return buf;
}

static char *slurp_fd(int fd) {
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 1 >= cap)
            buf = realloc(buf, cap *= 2);
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return buf;
}

/* argv[] for the marquee binary from arg0 and the rest of a NULL-terminated
 * list (at most 62 arguments). */
static void binary_argv(const char *argv[64], const char *arg0, va_list ap) {
    int argc = 0;
    argv[argc++] = MQ_BINARY;
    for (const char *a = arg0; a && argc < 63; a = va_arg(ap, const char *))
        argv[argc++] = a;
    argv[argc] = NULL;
}

int th_run(char **out, char **errout, const char *arg0, ...) {
    const char *argv[64];
    va_list ap;
    va_start(ap, arg0);
    binary_argv(argv, arg0, ap);
    va_end(ap);

    /* Capture into temporary files: no pipe deadlock on large outputs. */
    char opath[] = "/tmp/mq-out-XXXXXX", epath[] = "/tmp/mq-err-XXXXXX";
    int ofd = mkstemp(opath), efd = mkstemp(epath);
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        dup2(ofd, 1);
        dup2(efd, 2);
        execv(MQ_BINARY, (char *const *)argv);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    lseek(ofd, 0, SEEK_SET);
    lseek(efd, 0, SEEK_SET);
    char *o = slurp_fd(ofd), *e = slurp_fd(efd);
    close(ofd);
    close(efd);
    unlink(opath);
    unlink(epath);
    if (out)
        *out = o;
    else
        free(o);
    if (errout)
        *errout = e;
    else
        free(e);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

const char *th_movielens_small(void) {
    static const char *const dirs[] = {MQ_SOURCE_DIR "/../shared/data/ml-latest-small",
                                       "../shared/data/ml-latest-small"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/ratings.csv", dirs[i]);
        if (access(path, R_OK) == 0)
            return dirs[i];
    }
    return NULL;
}

/* --------------------------------------------------------------- HTTP ---- */

void th_resp_free(th_resp *r) {
    free(r->head);
    r->head = r->body = NULL;
}

int th_dial(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = {60, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

bool th_send_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n) {
        ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
        if (k <= 0)
            return false;
        c += k;
        n -= (size_t)k;
    }
    return true;
}

void th_read_resp(int fd, th_resp *r) {
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 1 >= cap)
            buf = realloc(buf, cap *= 2);
        ssize_t k = recv(fd, buf + len, cap - len - 1, 0);
        if (k <= 0)
            break;
        len += (size_t)k;
    }
    buf[len] = '\0';
    memset(r, 0, sizeof *r);
    r->head = buf;
    char *sep = strstr(buf, "\r\n\r\n");
    if (strncmp(buf, "HTTP/1.1 ", 9) == 0 && sep) {
        r->status = atoi(buf + 9);
        *sep = '\0';
        r->body = sep + 4;
        r->len = len - (size_t)(r->body - buf);
    } else {
        r->body = buf + len;
    }
}

th_resp th_http(int port, const char *method, const char *path, const char *extra_headers,
                const char *body, size_t len) {
    th_resp r = {0};
    int fd = th_dial(port);
    if (fd < 0)
        return r;
    char head[2048];
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s"
                     "Content-Length: %zu\r\n\r\n",
                     method, path, extra_headers ? extra_headers : "", len);
    if (th_send_all(fd, head, (size_t)n) && th_send_all(fd, body ? body : "", len))
        th_read_resp(fd, &r);
    close(fd);
    return r;
}

/* ------------------------------------------------------------ a server ---- */

pid_t th_serve(int *port, char *line, size_t n, const char *logpath, const char *arg0, ...) {
    const char *argv[64];
    va_list ap;
    va_start(ap, arg0);
    binary_argv(argv, arg0, ap);
    va_end(ap);
    *port = 0;
    line[0] = '\0';
    int out[2];
    if (pipe(out) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        int log = logpath ? open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644)
                          : open("/dev/null", O_WRONLY);
        dup2(out[1], 1);
        dup2(log, 2);
        close(out[0]);
        execv(MQ_BINARY, (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    size_t k = 0;
    struct pollfd pfd = {out[0], POLLIN, 0};
    while (pid > 0 && k + 1 < n && poll(&pfd, 1, 120000) == 1) {
        ssize_t r = read(out[0], line + k, 1);
        if (r <= 0 || line[k] == '\n')
            break;
        k++;
    }
    line[k] = '\0';
    close(out[0]);
    const char *colon = strrchr(line, ':');
    if (strncmp(line, "listening on http://", 20) == 0 && colon)
        *port = atoi(colon + 1);
    return pid;
}

int th_wait_healthy(int port, double timeout_s) {
    int st = 0;
    for (int i = 0; i <= (int)(timeout_s * 20); i++) {
        th_resp r = th_http(port, "GET", "/healthz", NULL, NULL, 0);
        st = r.status;
        th_resp_free(&r);
        if (st == 200)
            break;
        usleep(50000);
    }
    return st;
}
