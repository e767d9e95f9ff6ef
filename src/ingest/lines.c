/* lines.c: a buffered line reader for import files. It reads the file in large
 * chunks with read(2) and hands out lines in place (NUL-terminated where the
 * newline was), so the importers parse without copying or allocating per row. The
 * buffer grows only for a line longer than itself, up to ING_LINE_MAX; a longer
 * line is skipped and reported, so that with --skip-bad the import goes on. */
#include "ingest_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK (1u << 20)

int ing_lines_open(ing_lines *r, const char *path, mq_err *err) {
    memset(r, 0, sizeof *r);
    r->path = path;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0)
        return mq_err_set(err, MQ_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(r->fd, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            close(r->fd);
            r->fd = -1;
            return mq_err_set(err, MQ_EIO, "%s: expected a file, got a directory", path);
        }
        if (S_ISREG(st.st_mode))
            r->size = (uint64_t)st.st_size;
    }
#ifdef POSIX_FADV_SEQUENTIAL
    posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    r->alloc = CHUNK;
    r->buf = mq_malloc(r->alloc + 1); /* + 1: room for the NUL after a last line */
    return MQ_OK;
}

void ing_lines_close(ing_lines *r) {
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    mq_free(r->buf);
    r->buf = NULL;
}

/* Reads more of the file after what is buffered, first moving the unreturned
 * bytes to the front, and growing the buffer when a single line fills it. */
static int fill(ing_lines *r, mq_err *err) {
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (r->end == r->alloc) {
        if (r->alloc >= ING_LINE_MAX) {
            /* An overlong line: drop what is buffered and the rest of the line
             * as it is read, and report it once its end is found. */
            r->too_long = true;
            r->consumed += r->end;
            r->end = 0;
        } else {
            r->alloc = MQ_MIN((size_t)r->alloc * 2, (size_t)ING_LINE_MAX);
            r->buf = mq_realloc(r->buf, r->alloc + 1);
        }
    }
    for (;;) {
        ssize_t n = read(r->fd, r->buf + r->end, r->alloc - r->end);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return mq_err_set(err, MQ_EIO, "%s:%llu: read error: %s", r->path,
                              (unsigned long long)r->line + 1, strerror(errno));
        if (n == 0)
            r->eof = true;
        r->end += (size_t)n;
        return MQ_OK;
    }
}

int ing_lines_next(ing_lines *r, char **line, size_t *len, mq_err *err) {
    *line = NULL;
    *len = 0;
    size_t scanned = 0; /* bytes after start already known to hold no newline */
    for (;;) {
        char *p = r->buf + r->start;
        size_t avail = r->end - r->start;
        char *nl = avail > scanned ? memchr(p + scanned, '\n', avail - scanned) : NULL;
        size_t n;
        if (nl) {
            n = (size_t)(nl - p);
            r->start += n + 1;
            r->consumed += n + 1;
        } else if (r->eof) {
            if (!avail && !r->too_long)
                return MQ_OK;
            n = avail;
            r->start += n;
            r->consumed += n;
        } else {
            int rc = fill(r, err);
            if (rc)
                return rc;
            scanned = r->too_long ? 0 : avail;
            continue;
        }
        if (r->too_long) {
            r->too_long = false;
            r->line++;
            return mq_err_set(err, MQ_ETOOBIG,
                              "%s:%llu: expected a line shorter than %u MiB, got a longer one",
                              r->path, (unsigned long long)r->line, ING_LINE_MAX >> 20);
        }
        if (r->line == 0 && n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
            p += 3;
            n -= 3;
        }
        if (n && p[n - 1] == '\r')
            n--;
        p[n] = '\0';
        r->line++;
        *line = p;
        *len = n;
        return MQ_OK;
    }
}
