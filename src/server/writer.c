/* writer.c: the one thread that writes to the store, with group commit. Request
 * threads queue jobs (an event batch, a title or profile put or delete) and
 * suspend their connection; the writer takes everything queued, runs it in one
 * transaction and commits it with one fsync (synchronous=FULL in WAL mode), then
 * applies the effects to the live state and resumes the requests. Jobs queued
 * while a commit's fsync runs form the next group, so under load the cost of
 * durability is shared by every request in a group (the classic group commit of
 * database logs: Gawlick & Kinkade, "Varieties of concurrency control in IMS/VS
 * Fast Path", IEEE Database Engineering 1985).
 *
 * Because one thread owns the writing handle, the store's id caches always see
 * the latest titles and profiles, and jobs take effect in the order queued: a
 * title created by a PUT is known to the next batch of events. Between groups
 * the same thread follows the log for what other nodes committed (follow.c), so
 * the handle that knows which events are its own is the one that reads them. */
#include "server_impl.h"

#include <errno.h>
#include <string.h>
#include <time.h>

/* With server.commit_window_us set, the writer waits for a group of at least this
 * many events (or the window's end) before committing. */
#define GROUP_TARGET_EVENTS 1000

static bool store_failure(int rc) {
    return rc != MQ_OK && rc != MQ_ENOTFOUND && rc != MQ_EINVAL;
}

static int run_job(mq_store *s, mq_job *j) {
    mq_err_clear(&j->err);
    j->rc = MQ_OK;
    switch (j->kind) {
    case MQ_JOB_EVENTS:
        j->rc = mq_store_append_events(s, j->evs, j->n, j->status, &j->err);
        break;
    case MQ_JOB_PUT_TITLE:
        j->created = mq_store_title_id(s, j->title->ext_id) == 0;
        j->rc = mq_store_put_title(s, j->title, &j->err);
        j->id = j->title->id;
        break;
    case MQ_JOB_DELETE_TITLE:
        j->id = mq_store_title_id(s, j->ext_id);
        j->rc = mq_store_delete_title(s, j->ext_id, &j->err);
        break;
    case MQ_JOB_PUT_PROFILE:
        j->created = mq_store_profile_id(s, j->profile->ext_id) == 0;
        if (!j->profile->created_ms) {
            /* No "created" given: now for a new profile; kept for an existing one. */
            mq_profile old;
            if (j->created)
                j->profile->created_ms = mq_now_ms();
            else if (mq_store_get_profile(s, j->profile->ext_id, &old, NULL, NULL) == MQ_OK)
                j->profile->created_ms = old.created_ms;
        }
        j->rc = mq_store_put_profile(s, j->profile, &j->err);
        j->id = j->profile->id;
        break;
    case MQ_JOB_DELETE_PROFILE:
        j->id = mq_store_profile_id(s, j->ext_id);
        j->rc = mq_store_delete_profile(s, j->ext_id, &j->err);
        break;
    }
    return j->rc;
}

/* What a committed job changes outside the store. */
static void apply_effects(mq_server *srv, mq_job *j) {
    if (j->rc)
        return;
    switch (j->kind) {
    case MQ_JOB_EVENTS: {
        uint64_t stored = 0;
        for (size_t i = 0; i < j->n; i++) {
            if (j->status[i] == MQ_APPEND_OK) {
                stored++;
                mq_state_apply(srv->state, &j->evs[i]);
                mq_server_count_event(srv, &j->evs[i]);
                atomic_fetch_add(&srv->metrics.events_by_type[j->evs[i].type], 1);
            } else if (j->status[i] == MQ_APPEND_DUPLICATE) {
                atomic_fetch_add(&srv->metrics.events_duplicate, 1);
            }
        }
        mq_metrics_events(&srv->metrics, mq_now_ms(), stored);
        if (stored)
            mq_server_assets_nudge(srv);
        break;
    }
    case MQ_JOB_PUT_TITLE:
        mq_server_set_title_name(srv, j->id, j->title->ext_id);
        mq_server_assets_put_title(srv, j->title);
        break;
    case MQ_JOB_DELETE_TITLE:
        mq_server_set_title_name(srv, j->id, NULL);
        break;
    case MQ_JOB_DELETE_PROFILE:
        mq_state_forget(srv->state, j->id);
        break;
    case MQ_JOB_PUT_PROFILE:
        break;
    }
}

static void complete(mq_job *j) {
    j->done = true;
    /* The request may complete and free the job as soon as it is resumed. */
    MHD_resume_connection(j->conn);
}

/* Consecutive event batches [first, end) appended as one: on PostgreSQL one
 * statement for the run instead of a round trip per request. The result is the
 * same as appending them one after the other (an event_id repeated in a later
 * request is its duplicate). */
static int run_events(mq_store *s, mq_job *first, mq_job *end) {
    size_t total = 0, k = 0;
    for (mq_job *j = first; j != end; j = j->next)
        total += j->n;
    mq_event *all = mq_malloc(total * sizeof *all);
    mq_append_status *status = mq_malloc(total * sizeof *status);
    for (mq_job *j = first; j != end; k += j->n, j = j->next)
        memcpy(all + k, j->evs, j->n * sizeof *all);
    mq_err err = {0};
    int rc = mq_store_append_events(s, all, total, status, &err);
    k = 0;
    for (mq_job *j = first; j != end; k += j->n, j = j->next) {
        j->rc = rc;
        j->err = err;
        if (!rc) {
            memcpy(j->evs, all + k, j->n * sizeof *all);
            memcpy(j->status, status + k, j->n * sizeof *status);
        }
    }
    mq_free(all);
    mq_free(status);
    return rc;
}

static void run_group(mq_server *srv, mq_job *jobs) {
    mq_store *s = srv->writer.store;
    double t0 = mq_mono_s();
    mq_err err = {0};
    size_t n = 0;
    bool ok = mq_store_begin(s, &err) == MQ_OK;
    if (ok) {
        for (mq_job *j = jobs; j && ok;) {
            mq_job *end = j->next;
            if (j->kind == MQ_JOB_EVENTS) {
                while (end && end->kind == MQ_JOB_EVENTS)
                    end = end->next;
                if (store_failure(end == j->next ? run_job(s, j) : run_events(s, j, end)))
                    ok = false;
            } else if (store_failure(run_job(s, j))) {
                ok = false;
            }
            j = end;
        }
        if (ok)
            ok = mq_store_commit(s, &err) == MQ_OK; /* a failed commit rolls back */
        else
            mq_store_rollback(s);
    }
    if (!ok) {
        /* Something failed (a full disk, an I/O error, a lost database
         * connection): nothing of the group was kept. Run each job alone so that
         * one failure does not fail the rest. During an outage this happens for
         * every group: say so once a second, not once a group. */
        static double last_log;
        static uint64_t unlogged;
        atomic_fetch_add(&srv->metrics.commit_failures, 1);
        if (mq_mono_s() - last_log >= 1) {
            mq_log(MQ_LOG_WARN, "group commit failed (%s); retrying its writes one by one%s",
                   err.msg[0] ? err.msg : "a write failed",
                   unlogged ? " (and so did earlier groups since the last message)" : "");
            last_log = mq_mono_s();
            unlogged = 0;
        } else {
            unlogged++;
        }
        for (mq_job *j = jobs; j; j = j->next) {
            if (mq_store_begin(s, &j->err)) {
                j->rc = MQ_ESTORE;
                continue;
            }
            if (store_failure(run_job(s, j))) {
                mq_store_rollback(s);
                continue;
            }
            int rc = mq_store_commit(s, &j->err);
            if (rc)
                j->rc = rc;
        }
    }
    for (mq_job *j = jobs; j; j = j->next, n++)
        apply_effects(srv, j);
    mq_hist_observe(&srv->metrics.commit, mq_mono_s() - t0);
    atomic_fetch_add(&srv->metrics.commit_groups, 1);
    atomic_fetch_add(&srv->metrics.commit_jobs, n);
    for (mq_job *j = jobs, *next; j; j = next) {
        next = j->next;
        complete(j);
    }
}

/* Folds what other nodes committed into the live state (follow.c asks). */
static void run_follow(mq_server *srv) {
    mq_err err = {0};
    if (mq_store_follow_events(srv->writer.store, mq_server_apply_followed, srv, &err)) {
        atomic_fetch_add(&srv->metrics.follow_failures, 1);
        mq_log(MQ_LOG_DEBUG, "following the log: %s", err.msg);
    }
}

void mq_writer_request_follow(mq_server *srv) {
    mq_writer *w = &srv->writer;
    pthread_mutex_lock(&w->mu);
    w->follow_due = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mu);
}

static void *writer_main(void *arg) {
    mq_server *srv = arg;
    mq_writer *w = &srv->writer;
    pthread_setname_np(pthread_self(), "mq-writer");
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->head && !w->stop && !w->follow_due)
            pthread_cond_wait(&w->wake, &w->mu);
        if (w->follow_due && !w->stop) {
            w->follow_due = false;
            pthread_mutex_unlock(&w->mu);
            run_follow(srv);
            pthread_mutex_lock(&w->mu);
            continue;
        }
        if (!w->head)
            break; /* stopping, and everything queued is committed */
        if (srv->opt.commit_window_us > 0 && !w->stop &&
            w->queued_events < GROUP_TARGET_EVENTS) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            long ns = until.tv_nsec + (long)srv->opt.commit_window_us * 1000;
            until.tv_sec += ns / 1000000000L;
            until.tv_nsec = ns % 1000000000L;
            while (!w->stop && w->queued_events < GROUP_TARGET_EVENTS &&
                   pthread_cond_timedwait(&w->wake, &w->mu, &until) != ETIMEDOUT)
                ;
        }
        mq_job *jobs = w->head;
        w->head = w->tail = NULL;
        w->queued_events = 0;
        pthread_mutex_unlock(&w->mu);
        run_group(srv, jobs);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int mq_writer_start(mq_server *srv, mq_err *err) {
    mq_writer *w = &srv->writer;
    int rc = pthread_create(&w->thread, NULL, writer_main, srv);
    if (rc)
        return mq_err_set(err, MQ_ENOMEM, "cannot start the writer thread: %s", strerror(rc));
    w->started = true;
    return MQ_OK;
}

void mq_writer_stop(mq_server *srv) {
    mq_writer *w = &srv->writer;
    if (!w->started)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    w->started = false;
}

void mq_writer_submit(mq_server *srv, mq_job *job) {
    mq_writer *w = &srv->writer;
    job->next = NULL;
    job->done = false;
    pthread_mutex_lock(&w->mu);
    if (w->stop || !w->started) {
        /* Only after a stop that timed out: refuse rather than never answer. */
        pthread_mutex_unlock(&w->mu);
        job->rc = mq_err_set(&job->err, MQ_EBUSY, "the server is shutting down");
        complete(job);
        return;
    }
    if (w->tail)
        w->tail->next = job;
    else
        w->head = job;
    w->tail = job;
    w->queued_events += job->kind == MQ_JOB_EVENTS ? job->n : 1;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mu);
}
