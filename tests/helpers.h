/*
 * helpers.h: what the tests share: temporary directories, writing files, running
 * the marquee binary and capturing its output, and locating the MovieLens data in
 * ../shared (tests that need it skip with a message when it is absent).
 */
#ifndef MQ_TEST_HELPERS_H
#define MQ_TEST_HELPERS_H

#include <stdbool.h>
#include <stddef.h>

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

/* The ml-latest-small directory, or NULL when absent. */
const char *th_movielens_small(void);

#endif
