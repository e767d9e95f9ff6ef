/* mem.c: allocation that aborts on exhaustion, the arena, and capped buffers. */
#include "util.h"

#include <stdlib.h>
#include <string.h>

static void oom(size_t n) {
    fprintf(stderr, "marquee: out of memory allocating %zu bytes\n", n);
    abort();
}

void *mq_malloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *mq_calloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *mq_realloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *mq_strdup(const char *s) {
    return mq_strndup(s, strlen(s));
}

char *mq_strndup(const char *s, size_t n) {
    char *d = mq_malloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void mq_free(void *p) {
    free(p);
}

/* ------------------------------------------------------------------ arena ---- */

struct mq_arena_block {
    mq_arena_block *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

void mq_arena_init(mq_arena *a, size_t block_size, size_t cap) {
    a->head = NULL;
    a->used_total = 0;
    a->cap = cap;
    a->block_size = block_size ? block_size : 64 * 1024;
}

void *mq_arena_alloc(mq_arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (a->cap && a->used_total + n > a->cap)
        return NULL;
    mq_arena_block *b = a->head;
    if (!b || b->size - b->used < n) {
        size_t sz = n > a->block_size ? n : a->block_size;
        b = mq_malloc(sizeof *b + sz);
        b->size = sz;
        b->used = 0;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    a->used_total += n;
    return p;
}

char *mq_arena_strndup(mq_arena *a, const char *s, size_t n) {
    char *d = mq_arena_alloc(a, n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *mq_arena_strdup(mq_arena *a, const char *s) {
    return mq_arena_strndup(a, s, strlen(s));
}

void mq_arena_reset(mq_arena *a) {
    mq_arena_block *b = a->head;
    if (!b)
        return;
    /* Keep the oldest block (the last in the list): it is the usual working size. */
    while (b->next) {
        mq_arena_block *next = b->next;
        free(b);
        b = next;
    }
    b->used = 0;
    a->head = b;
    a->used_total = 0;
}

void mq_arena_free(mq_arena *a) {
    mq_arena_block *b = a->head;
    while (b) {
        mq_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->used_total = 0;
}

/* -------------------------------------------------------------------- buf ---- */

void mq_buf_init(mq_buf *b, size_t cap) {
    b->data = NULL;
    b->len = b->alloc = 0;
    b->cap = cap;
}

static int buf_reserve(mq_buf *b, size_t extra) {
    size_t need = b->len + extra + 1;
    if (b->cap && need > b->cap + 1)
        return MQ_ETOOBIG;
    if (need > b->alloc) {
        size_t na = b->alloc ? b->alloc * 2 : 256;
        while (na < need)
            na *= 2;
        b->data = mq_realloc(b->data, na);
        b->alloc = na;
    }
    return MQ_OK;
}

int mq_buf_append(mq_buf *b, const void *p, size_t n) {
    int rc = buf_reserve(b, n);
    if (rc)
        return rc;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return MQ_OK;
}

int mq_buf_puts(mq_buf *b, const char *s) {
    return mq_buf_append(b, s, strlen(s));
}

int mq_buf_printf(mq_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return MQ_EINVAL;
    int rc = buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return MQ_OK;
}

void mq_buf_reset(mq_buf *b) {
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *mq_buf_take(mq_buf *b, size_t *len) {
    char *data = b->data;
    *len = b->len;
    b->len = 0;
    b->data = b->alloc ? mq_malloc(b->alloc) : NULL;
    if (b->data)
        b->data[0] = '\0';
    return data;
}

void mq_buf_free(mq_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->alloc = 0;
}
