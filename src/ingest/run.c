/* run.c: what every import shares once rows are parsed: the options' defaults,
 * bad-row accounting (fail, or count and log the first few), appending events in
 * batches of one transaction each, a writer thread so that parsing overlaps the
 * store's work, telling which profiles an import created, and the progress bar. */
#include "ingest_impl.h"

#include <string.h>

/* States of a profile in ing_ctx.seen_profiles. */
enum { PROF_KNOWN = 1, PROF_PENDING = 2, PROF_CREATED = 3 };

void mq_import_opts_default(mq_import_opts *o) {
    memset(o, 0, sizeof *o);
    o->batch = 50000;
    o->max_errors_shown = 10;
}

void ing_ctx_init(ing_ctx *c, mq_store *s, const mq_import_opts *o, mq_import_report *r,
                  const char *layout, mq_err *err) {
    memset(c, 0, sizeof *c);
    c->s = s;
    if (o)
        c->o = *o;
    else
        mq_import_opts_default(&c->o);
    if (!c->o.batch)
        c->o.batch = 50000;
    if (c->o.max_errors_shown <= 0)
        c->o.max_errors_shown = 10;
    memset(r, 0, sizeof *r);
    snprintf(r->layout, sizeof r->layout, "%s", layout);
    c->r = r;
    c->err = err ? err : &c->own_err;
    c->t0 = mq_mono_s();
    c->seen_profiles = mq_strmap_create();
    pthread_mutex_init(&c->lock, NULL);
}

void ing_ctx_free(ing_ctx *c) {
    c->r->seconds = mq_mono_s() - c->t0;
    if (c->r->bad_rows > c->shown)
        mq_log(MQ_LOG_WARN, "%llu more bad rows skipped (not shown)",
               (unsigned long long)(c->r->bad_rows - c->shown));
    mq_strmap_destroy(c->seen_profiles);
    c->seen_profiles = NULL;
    pthread_mutex_destroy(&c->lock);
}

int ing_bad_row_to(ing_ctx *c, const mq_err *row, mq_err *dst) {
    int rc = MQ_OK;
    pthread_mutex_lock(&c->lock);
    if (!c->o.skip_bad) {
        /* With writes done, only reachable when the input changed between the
         * checking pass and the writing pass. */
        if (c->kept)
            rc = mq_err_set(dst, MQ_EINVAL,
                            "%s (the %llu events of earlier batches of this import were "
                            "kept; re-running the import is idempotent)",
                            row->msg, (unsigned long long)c->kept);
        else
            rc = mq_err_set(dst, MQ_EINVAL, "%s", row->msg);
    } else {
        c->r->bad_rows++;
        if (c->shown < (uint64_t)c->o.max_errors_shown) {
            c->shown++;
            mq_log(MQ_LOG_WARN, "%s (row skipped)", row->msg);
        }
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int ing_bad_row(ing_ctx *c, const mq_err *row) {
    return ing_bad_row_to(c, row, c->err);
}

int ing_bad(ing_ctx *c, const char *fmt, ...) {
    mq_err row = {MQ_EINVAL, ""};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(row.msg, sizeof row.msg, fmt, ap);
    va_end(ap);
    return ing_bad_row(c, &row);
}

/* ------------------------------------------------------------------ batch ---- */

void ing_batch_init(ing_batch *b, const char *path, size_t cap) {
    memset(b, 0, sizeof *b);
    b->path = path;
    b->cap = cap ? cap : 1;
    b->ev = mq_malloc(b->cap * sizeof *b->ev);
    b->line = mq_malloc(b->cap * sizeof *b->line);
    b->status = mq_malloc(b->cap * sizeof *b->status);
    b->maybe_new = mq_malloc(b->cap);
    mq_arena_init(&b->strings, 1u << 20, 0);
}

void ing_batch_free(ing_batch *b) {
    mq_free(b->ev);
    mq_free(b->line);
    mq_free(b->status);
    mq_free(b->maybe_new);
    mq_arena_free(&b->strings);
    memset(b, 0, sizeof *b);
}

mq_event *ing_batch_slot(ing_batch *b, uint64_t line) {
    if (b->n == b->cap)
        return NULL;
    mq_event *e = &b->ev[b->n];
    mq_event_init(e);
    b->line[b->n++] = line;
    return e;
}

/* Marks the events whose profile the store does not know yet, so that after the
 * append the profiles it created can be counted. The store creates a profile
 * only when one of its events is accepted, so the count is taken afterwards. */
static void mark_new_profiles(ing_ctx *c, ing_batch *b) {
    const char *prev = NULL;
    uint8_t prev_new = 0;
    for (size_t i = 0; i < b->n; i++) {
        const char *p = b->ev[i].profile;
        if (prev && strcmp(prev, p) == 0) { /* imports are usually sorted by profile */
            b->maybe_new[i] = prev_new;
            continue;
        }
        uint32_t st;
        if (!mq_strmap_get(c->seen_profiles, p, &st)) {
            st = mq_store_profile_id(c->s, p) ? PROF_KNOWN : PROF_PENDING;
            mq_strmap_put(c->seen_profiles, p, st);
        }
        prev = p;
        prev_new = b->maybe_new[i] = st == PROF_PENDING;
    }
}

int ing_batch_flush(ing_ctx *c, ing_batch *b) {
    if (!b->n)
        return MQ_OK;
    double t = mq_mono_s();
    mq_err serr = {0};
    int rc;
    uint64_t stored = 0, dups = 0, profiles = 0;
    mark_new_profiles(c, b);
    if ((rc = mq_store_begin(c->s, &serr)))
        goto store_failed;
    if ((rc = mq_store_append_events(c->s, b->ev, b->n, b->status, &serr))) {
        mq_store_rollback(c->s);
        goto store_failed;
    }
    for (size_t i = 0; i < b->n; i++) {
        if (b->status[i] == MQ_APPEND_UNKNOWN_TITLE) {
            char got[64];
            mq_err row = {MQ_EINVAL, ""};
            ing_quote(b->ev[i].title, got, sizeof got);
            snprintf(row.msg, sizeof row.msg,
                     "%s:%llu: expected a title id in the catalogue (import the titles first), "
                     "got %s",
                     b->path, (unsigned long long)b->line[i], got);
            if ((rc = ing_bad_row_to(c, &row, &b->err))) {
                mq_store_rollback(c->s);
                goto out;
            }
            continue;
        }
        if (b->status[i] == MQ_APPEND_OK)
            stored++;
        else
            dups++;
        uint32_t st;
        if (b->maybe_new[i] && mq_strmap_get(c->seen_profiles, b->ev[i].profile, &st) &&
            st == PROF_PENDING) {
            mq_strmap_put(c->seen_profiles, b->ev[i].profile, PROF_CREATED);
            profiles++;
        }
    }
    if ((rc = mq_store_commit(c->s, &serr)))
        goto store_failed;
    pthread_mutex_lock(&c->lock);
    c->r->events += stored;
    c->r->duplicates += dups;
    c->r->profiles += profiles;
    c->kept += stored;
    pthread_mutex_unlock(&c->lock);
    goto out;
store_failed:
    /* A store error (disk full, I/O): this batch is rolled back; earlier batches of
     * this import are committed, and the message says so. */
    pthread_mutex_lock(&c->lock);
    if (c->kept)
        mq_err_set(&b->err, rc,
                   "%s (the %llu events of earlier batches of this import were "
                   "kept; re-running the import is idempotent)",
                   serr.msg, (unsigned long long)c->kept);
    else
        mq_err_set(&b->err, rc, "%s", serr.msg);
    pthread_mutex_unlock(&c->lock);
out:
    b->store_s += mq_mono_s() - t;
    pthread_mutex_lock(&c->lock);
    c->r->store_seconds += mq_mono_s() - t;
    pthread_mutex_unlock(&c->lock);
    b->n = 0;
    mq_arena_reset(&b->strings);
    return rc;
}

/* ----------------------------------------------------------------- writer ---- */

/* The writer thread: writes each batch handed over, until told to stop. After a
 * failure it writes nothing more (the caller stops at its next hand-over). */
static void *writer_main(void *arg) {
    ing_writer *w = arg;
    ing_ctx *c = w->c;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (!w->todo && !w->stopping)
            pthread_cond_wait(&w->cv, &c->lock);
        if (!w->todo)
            break;
        ing_batch *b = w->todo;
        bool failed = w->rc != 0;
        pthread_mutex_unlock(&c->lock);
        int rc = failed ? MQ_OK : ing_batch_flush(c, b);
        b->n = 0;
        pthread_mutex_lock(&c->lock);
        if (rc && !w->rc) {
            w->rc = rc;
            w->err = b->err;
        }
        w->todo = NULL;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

void ing_writer_start(ing_writer *w, ing_ctx *c, const char *path) {
    memset(w, 0, sizeof *w);
    w->c = c;
    ing_batch_init(&w->b[0], path, c->o.batch);
    ing_batch_init(&w->b[1], path, c->o.batch);
    pthread_cond_init(&w->cv, NULL);
    w->threaded = mq_threads_budget() >= 2 && pthread_create(&w->th, NULL, writer_main, w) == 0;
}

ing_batch *ing_writer_batch(ing_writer *w) {
    return &w->b[w->fill];
}

/* Hands the filled batch over (or writes it here, unthreaded). Returns the
 * writer's failure, if any. */
static int submit(ing_writer *w) {
    ing_batch *b = &w->b[w->fill];
    if (!w->threaded) {
        int rc = ing_batch_flush(w->c, b);
        if (rc && !w->rc) {
            w->rc = rc;
            w->err = b->err;
        }
        return w->rc;
    }
    pthread_mutex_lock(&w->c->lock);
    while (w->todo)
        pthread_cond_wait(&w->cv, &w->c->lock);
    int rc = w->rc;
    if (!rc && b->n) {
        w->todo = b;
        w->fill ^= 1;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->c->lock);
    return rc;
}

mq_event *ing_writer_slot(ing_writer *w, uint64_t line) {
    mq_event *e = ing_batch_slot(&w->b[w->fill], line);
    if (e)
        return e;
    if (submit(w)) {
        w->failed_first = true;
        return NULL;
    }
    return ing_batch_slot(&w->b[w->fill], line);
}

int ing_writer_finish(ing_writer *w, int rc) {
    if (!rc && submit(w))
        w->failed_first = true;
    if (w->threaded) {
        pthread_mutex_lock(&w->c->lock);
        while (w->todo)
            pthread_cond_wait(&w->cv, &w->c->lock);
        w->stopping = true;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->c->lock);
        pthread_join(w->th, NULL);
    }
    /* The writer's failure is the import's when it is what stopped the caller. */
    if (w->rc && (!rc || w->failed_first)) {
        *w->c->err = w->err;
        rc = w->rc;
    }
    pthread_cond_destroy(&w->cv);
    ing_batch_free(&w->b[0]);
    ing_batch_free(&w->b[1]);
    return rc;
}

/* --------------------------------------------------------------- progress ---- */

void ing_progress_start(ing_progress *pr, const ing_ctx *c, const ing_lines *r, const char *label) {
    memset(pr, 0, sizeof *pr);
    pr->on = c->o.progress;
    if (pr->on)
        mq_progress_start(&pr->p, label, "rows", 0);
}

void ing_progress_row(ing_progress *pr, const ing_lines *r) {
    if (!pr->on || (++pr->rows & 4095))
        return;
    /* Quick files get no bar at all: it appears once a file takes a while. */
    if (!pr->drawn && mq_mono_s() - pr->p.t0 < 0.25)
        return;
    pr->drawn = true;
    /* The bar runs over the file's bytes; the row total is estimated from the
     * bytes per row so far, so the count, rate and ETA read in rows. */
    if (r->size && r->consumed)
        pr->p.total =
            MQ_MAX(pr->rows, (uint64_t)((double)pr->rows * (double)r->size / (double)r->consumed));
    mq_progress_update(&pr->p, pr->rows);
}

void ing_progress_finish(ing_progress *pr) {
    if (!pr->drawn)
        return;
    pr->p.total = pr->p.done = pr->rows;
    mq_progress_finish(&pr->p);
}
