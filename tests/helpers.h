/*
 * helpers.h: what the tests share: temporary directories, writing files, running
 * the marquee binary and capturing its output, and locating the MovieLens data in
 * ../shared (tests that need it skip with a message when it is absent), and a
 * tiny HTTP client for the tests of `marquee serve`.
 */
#ifndef MQ_TEST_HELPERS_H
#define MQ_TEST_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A fresh directory under $TMPDIR (or /tmp); the caller frees the string and
 * removes the tree with th_rmrf. */
char *th_tmpdir(void);
void th_rmrf(const char *path);
/* Writes `text` to dir/name; returns the full path (caller frees). */
char *th_write(const char *dir, const char *name, const char *text);
/* Reads a whole file (caller frees), NULL if absent. */
char *th_read(const char *path, size_t *len);

/* Runs `marquee ARGS...` (a NULL-terminated list), capturing stdout and stderr
 * (caller frees both). Returns the exit code, or -1 if it did not exit normally. */
int th_run(char **out, char **errout, const char *arg0, ...);

/* A tiny HTTP/1.1 client for the tests that run `marquee serve`: one request per
 * connection (Connection: close) to 127.0.0.1. */
typedef struct th_resp {
    int status; /* 0: no answer (refused, reset, timed out) */
    char *head; /* the status line and headers; owns the buffer */
    char *body; /* into the same buffer, NUL-terminated; "" when none */
    size_t len; /* body bytes */
} th_resp;

void th_resp_free(th_resp *r);
/* A connected socket with a 60 s receive timeout, or -1. */
int th_dial(int port);
bool th_send_all(int fd, const void *p, size_t n);
/* Reads a whole answer (until the server closes). */
void th_read_resp(int fd, th_resp *r);
/* extra_headers: "Name: value\r\n" lines, or NULL. */
th_resp th_http(int port, const char *method, const char *path, const char *extra_headers,
                const char *body, size_t len);

/* Starts `marquee ARGS...` (a NULL-terminated list: a `serve --port 0` command
 * line) in the background, stdout piped and stderr appended to logpath (NULL:
 * /dev/null), and reads the first line it prints. When that line is "listening on
 * http://HOST:PORT", *port is the port; otherwise *port is 0 and `line` (n bytes)
 * holds what it printed, for the caller's assertion. Returns the child's pid. */
pid_t th_serve(int *port, char *line, size_t n, const char *logpath, const char *arg0, ...);
/* Polls GET /healthz for up to timeout_s seconds; the last status (200: healthy). */
int th_wait_healthy(int port, double timeout_s);

/* The ml-latest-small directory, or NULL when absent. */
const char *th_movielens_small(void);

#endif
