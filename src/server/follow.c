/* follow.c: what other nodes commit, for nodes sharing one store, and the bundle
 * this node serves.
 *
 * A thread (mq-follow) owns a third store handle that waits for notices
 * (PostgreSQL LISTEN/NOTIFY; SQLite has none and is polled):
 *   - events committed elsewhere: the writer is asked to follow the log
 *     (mq_store_follow_events, commit order, each event once) and fold the
 *     events into the live state, so the profile's next read on this node shows
 *     them. After such a notice the log is followed every 50 ms for a second,
 *     since an event becomes visible to followers only once the transactions
 *     older than its own have ended;
 *   - a profile or title deleted elsewhere: forgotten here;
 *   - the blob "bundle" put (by `marquee train` anywhere): loaded, verified and
 *     swapped in;
 *   - every server.poll_ms, and after the connection comes back, all of the
 *     above is done anyway: a notice lost with a connection costs at most one
 *     poll interval.
 * The consistency this gives: a node reads its own writes at once (its writer
 * applies them before answering); another node's within about 50 ms when
 * notices flow, within server.poll_ms when one is lost, and later only while a
 * writing transaction older than the event stays open on the database server
 * (docs/deploying.md).
 *
 * The bundle is swapped by pointer under a mutex held for a few instructions;
 * each request holds a reference, so one in flight finishes on the bundle it
 * started with and the last reference frees it. */
#include "server_impl.h"

#include <string.h>
#include <time.h>

/* ----------------------------------------------------------------- bundle ---- */

mq_served_bundle *mq_server_bundle_acquire(mq_server *srv) {
    pthread_mutex_lock(&srv->bundle_mu);
    mq_served_bundle *sb = srv->bundle;
    if (sb)
        atomic_fetch_add(&sb->refs, 1);
    pthread_mutex_unlock(&srv->bundle_mu);
    return sb;
}

void mq_server_bundle_release(mq_served_bundle *sb) {
    if (sb && atomic_fetch_sub(&sb->refs, 1) == 1) {
        mq_bundle_destroy(sb->b);
        mq_free(sb);
    }
}

static void swap_in(mq_server *srv, mq_served_bundle *sb) {
    pthread_mutex_lock(&srv->bundle_mu);
    mq_served_bundle *old = srv->bundle;
    srv->bundle = sb;
    atomic_store(&srv->bundle_version, sb ? sb->version : 0);
    pthread_mutex_unlock(&srv->bundle_mu);
    mq_server_bundle_release(old);
}

void mq_server_bundle_refresh(mq_server *srv, mq_store *s) {
    int64_t v = 0;
    mq_err err = {0};
    int rc = mq_store_get_blob_version(s, "bundle", &v, NULL, NULL, &err);
    if (rc == MQ_ENOTFOUND)
        return; /* nothing trained yet */
    if (rc) {
        mq_log(MQ_LOG_DEBUG, "bundle: %s", err.msg);
        return;
    }
    if (v == atomic_load(&srv->bundle_version) || v == atomic_load(&srv->bundle_refused))
        return;
    void *data = NULL;
    size_t len = 0;
    if ((rc = mq_store_get_blob_version(s, "bundle", &v, &data, &len, &err))) {
        if (rc != MQ_ENOTFOUND)
            mq_log(MQ_LOG_WARN, "bundle: %s", err.msg);
        return;
    }
    char name[96];
    snprintf(name, sizeof name, "the store's bundle (version %lld)", (long long)v);
    mq_bundle *b = NULL;
    double t0 = mq_mono_s();
    rc = mq_bundle_open_bytes(data, len, name, &b, &err);
    mq_free(data);
    if (rc) {
        int64_t cur = atomic_load(&srv->bundle_version);
        atomic_store(&srv->bundle_refused, v);
        atomic_fetch_add(&srv->metrics.bundle_failures, 1);
        if (cur)
            mq_log(MQ_LOG_ERROR, "%s; still serving version %lld", err.msg, (long long)cur);
        else
            mq_log(MQ_LOG_ERROR, "%s; serving no bundle", err.msg);
        return;
    }
    mq_served_bundle *sb = mq_calloc(1, sizeof *sb);
    sb->b = b;
    sb->version = v;
    sb->loaded_ms = mq_now_ms();
    sb->bytes = len;
    atomic_store(&sb->refs, 1); /* the server's own reference */
    swap_in(srv, sb);
    atomic_fetch_add(&srv->metrics.bundle_swaps, 1);
    mq_log(MQ_LOG_INFO, "serving bundle version %lld (%zu bytes, verified in %.2f s)",
           (long long)v, len, mq_mono_s() - t0);
}

/* ------------------------------------------------------------- following ---- */

int mq_server_apply_followed(void *ud, const mq_event *e) {
    mq_server *srv = ud;
    mq_state_apply(srv->state, e);
    mq_server_count_event(srv, e);
    mq_metrics_events(&srv->metrics, mq_now_ms(), 1);
    atomic_fetch_add(&srv->metrics.events_followed, 1);
    if (e->title_id && e->title) {
        /* A title created on another node: learn its name for rendering. */
        pthread_rwlock_rdlock(&srv->names_lock);
        bool known = e->title_id < srv->title_names.len && srv->title_names.items[e->title_id];
        pthread_rwlock_unlock(&srv->names_lock);
        if (!known)
            mq_server_set_title_name(srv, e->title_id, e->title);
    }
    return 0;
}

static bool sleep_ms(mq_server *srv, int ms) {
    for (; ms > 0 && !atomic_load(&srv->follow_stop); ms -= 50) {
        struct timespec ts = {0, (long)MQ_MIN(ms, 50) * 1000000L};
        nanosleep(&ts, NULL);
    }
    return !atomic_load(&srv->follow_stop);
}

/* After an "events" notice, follow this often for this long. */
#define FAST_MS 50
#define FAST_FOR_MS 1000

static void *follow_main(void *arg) {
    mq_server *srv = arg;
    pthread_setname_np(pthread_self(), "mq-follow");
    int poll_ms = srv->opt.poll_ms > 0 ? srv->opt.poll_ms : 1000;
    int64_t next_poll = mq_now_ms() + poll_ms, fast_until = 0;
    bool down = false;
    int backoff = 100;
    while (!atomic_load(&srv->follow_stop)) {
        int64_t now = mq_now_ms();
        int64_t wait = MQ_MIN(next_poll - now, 250); /* wake up for a stop */
        if (now < fast_until)
            wait = MQ_MIN(wait, FAST_MS);
        mq_store_notice n[32];
        size_t got = 0;
        mq_err err = {0};
        if (mq_store_wait_notices(srv->listener, (int)MQ_MAX(wait, 0), n, 32, &got, &err)) {
            atomic_fetch_add(&srv->metrics.follow_failures, 1);
            if (!down)
                mq_log(MQ_LOG_WARN, "following other nodes: %s", err.msg);
            down = true;
            atomic_store(&srv->metrics.store_up, 0);
            sleep_ms(srv, backoff);
            backoff = MQ_MIN(backoff * 2, 2000);
            continue;
        }
        bool follow = false, bundle = false;
        if (down) {
            mq_log(MQ_LOG_INFO, "following other nodes again");
            down = false;
            backoff = 100;
            atomic_store(&srv->metrics.store_up, 1);
            follow = bundle = true; /* whatever was announced meanwhile */
        }
        now = mq_now_ms();
        atomic_fetch_add(&srv->metrics.notices, got);
        for (size_t i = 0; i < got; i++) {
            switch (n[i].kind) {
            case MQ_NOTICE_EVENTS:
                follow = true;
                fast_until = now + FAST_FOR_MS;
                break;
            case MQ_NOTICE_PROFILE_DELETED:
                mq_state_forget(srv->state, n[i].id);
                break;
            case MQ_NOTICE_TITLE_DELETED:
                mq_server_set_title_name(srv, n[i].id, NULL);
                break;
            case MQ_NOTICE_BLOB:
                bundle |= strcmp(n[i].name, "bundle") == 0;
                break;
            case MQ_NOTICE_RESYNC:
                follow = bundle = true;
                break;
            }
        }
        if (now < fast_until)
            follow = true;
        if (now >= next_poll) {
            follow = bundle = true;
            next_poll = now + poll_ms;
        }
        if (follow)
            mq_writer_request_follow(srv);
        if (bundle)
            mq_server_bundle_refresh(srv, srv->listener);
    }
    return NULL;
}

int mq_follow_start(mq_server *srv, mq_err *err) {
    atomic_store(&srv->metrics.store_up, 1);
    int rc = pthread_create(&srv->follow_thread, NULL, follow_main, srv);
    if (rc)
        return mq_err_set(err, MQ_ENOMEM, "cannot start the follow thread: %s", strerror(rc));
    srv->follow_started = true;
    return MQ_OK;
}

void mq_follow_stop(mq_server *srv) {
    if (!srv->follow_started)
        return;
    atomic_store(&srv->follow_stop, true);
    pthread_join(srv->follow_thread, NULL);
    srv->follow_started = false;
}
