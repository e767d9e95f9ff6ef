/*
 * bandit.c: the asset bandits (src/assets) in the server. At start the model is
 * made over the catalogue and restored from its checkpoint (the store blob
 * "assets_bandit"); a learner thread then follows the event log with its own
 * store handle, in commit order: the events after the checkpoint first (the
 * server answers meanwhile, with the editorial defaults), then every event as
 * soon as the writer commits it (or another node does), so what a member plays
 * teaches the next pages within milliseconds, off the write path. Pages and
 * title pages choose their artwork, synopsis and label from it; the dashboard
 * reads its arms. A graceful stop writes the checkpoint.
 *
 * Locking: choosing only reads the model and runs under a read lock, concurrently
 * with other requests; observing (one event at a time) and a title change take a
 * write mutex (one writer at a time) and the write lock. A posterior refresh
 * (every assets.refresh_every updates, ~20 ms) is computed with the write lock
 * released, the mutex still held, and swapped in under the lock again, so pages
 * do not wait for it.
 */
#include "server_impl.h"

#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* A catch-up longer than this many events at start is checkpointed at once. */
#define CHECKPOINT_AFTER 50000
/* What the callbacks return when the server stops. */
#define STOPPED MQ_EBUSY
/* The learner looks at the log at least this often without a nudge (ms). */
#define POLL_MS 250

typedef struct pass {
    mq_server *srv;
    int64_t skip_to; /* events up to this seq are in the checkpoint already */
    uint64_t applied;
} pass;

static int learn(void *ud, const mq_event *e) {
    pass *p = ud;
    mq_server *srv = p->srv;
    if (((p->applied & 1023) == 0) && atomic_load(&srv->assets_stop))
        return STOPPED;
    if (e->seq > 0 && e->seq <= p->skip_to)
        return 0;
    /* The locks per event (uncontended while catching up, when no page reads the
     * model): a title put meanwhile, and pages once online, wait at most one
     * event, and pages not for a posterior refresh (refresh_unlock below). */
    pthread_mutex_lock(&srv->assets_write_mu);
    pthread_rwlock_wrlock(&srv->assets_lock);
    mq_assets_observe(srv->assets, e);
    pthread_rwlock_unlock(&srv->assets_lock);
    pthread_mutex_unlock(&srv->assets_write_mu);
    p->applied++;
    return 0;
}

/* Applies what was committed since the previous pass, in commit order. */
static int follow(pass *p, mq_err *err) {
    return mq_store_follow_events(p->srv->assets_store, learn, p, err);
}

/* The learner thread. It follows the event log with its own store handle, in
 * commit order, as a node follows other nodes: first everything after the
 * checkpoint while the server already answers (with the editorial defaults),
 * then it goes online and applies each new event as soon as the writer says it
 * committed some (or every POLL_MS: other nodes, imports). Learning is off the
 * write path: ingestion does not wait for it. */
static void *learner_main(void *arg) {
    mq_server *srv = arg;
    mq_assets *a = srv->assets;
    pthread_setname_np(pthread_self(), "mq-bandits");
    /* Learning may lag; ingestion and pages may not: on a busy machine this thread
     * yields the cores to them (Linux: a thread's own nice value). */
    if (setpriority(PRIO_PROCESS, (id_t)gettid(), 10) != 0)
        mq_log(MQ_LOG_DEBUG, "asset bandits: cannot lower the learner's priority");
    double t0 = mq_mono_s();
    mq_assets_stats st0, st;
    mq_assets_stats_get(a, &st0);
    pass p = {srv, st0.last_seq, 0};
    mq_err err = {0};
    int rc = follow(&p, &err);
    if (!rc) {
        pthread_mutex_lock(&srv->assets_write_mu);
        pthread_rwlock_wrlock(&srv->assets_lock);
        mq_assets_advance(a, mq_now_ms());
        atomic_store(&srv->assets_online, true);
        pthread_rwlock_unlock(&srv->assets_lock);
        pthread_mutex_unlock(&srv->assets_write_mu);
    }
    if (rc == STOPPED)
        return NULL;
    if (rc) {
        mq_log(MQ_LOG_WARN,
               "asset bandits: catching up with the event log: %s; serving the editorial "
               "defaults",
               err.msg);
        return NULL;
    }
    mq_assets_stats_get(a, &st);
    mq_log(MQ_LOG_INFO,
           "asset bandits online: %s, %llu events applied after seq %lld in %.2f s (%llu "
           "impressions learned from)",
           mq_asset_policy_name(mq_assets_params_get(a)->policy), (unsigned long long)p.applied,
           (long long)st0.last_seq, mq_mono_s() - t0,
           (unsigned long long)st.updates[MQ_SLOT_ARTWORK]);
    if (p.applied > CHECKPOINT_AFTER) {
        pthread_rwlock_rdlock(&srv->assets_lock);
        if (mq_assets_save(a, srv->assets_store, &err))
            mq_log(MQ_LOG_WARN, "asset bandits: writing the checkpoint: %s", err.msg);
        pthread_rwlock_unlock(&srv->assets_lock);
    }
    p.skip_to = 0;
    pthread_mutex_lock(&srv->assets_mu);
    while (!atomic_load(&srv->assets_stop)) {
        if (!srv->assets_nudged) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += (long)POLL_MS * 1000000L;
            ts.tv_sec += ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&srv->assets_wake, &srv->assets_mu, &ts);
        }
        srv->assets_nudged = false;
        pthread_mutex_unlock(&srv->assets_mu);
        if (follow(&p, &err) && !atomic_load(&srv->assets_stop))
            mq_log(MQ_LOG_DEBUG, "asset bandits: following the log: %s", err.msg);
        pthread_mutex_lock(&srv->assets_mu);
    }
    pthread_mutex_unlock(&srv->assets_mu);
    return NULL;
}

/* A due posterior refresh is computed with the write lock released (pages go on
 * choosing with the current posterior) and swapped in under it; the write mutex,
 * held throughout, keeps every other writer out. */
static void refresh_unlock(void *ud) {
    pthread_rwlock_unlock(&((mq_server *)ud)->assets_lock);
}

static void refresh_relock(void *ud) {
    pthread_rwlock_wrlock(&((mq_server *)ud)->assets_lock);
}

int mq_server_assets_start(mq_server *srv, mq_err *err) {
    if (srv->opt.config && mq_config_num(srv->opt.config, "assets.serve") == 0) {
        mq_log(MQ_LOG_INFO, "asset bandits: off (assets.serve = 0): editorial defaults");
        return MQ_OK;
    }
    mq_assets_params p;
    int rc;
    if (srv->opt.config) {
        if ((rc = mq_assets_params_from_config(&p, srv->opt.config, err)))
            return rc;
    } else {
        mq_assets_params_default(&p);
    }
    const mq_catalog *cat = mq_page_service_catalog(srv->pages);
    if ((rc = mq_assets_create(&p, cat, &srv->assets, err)))
        return mq_err_prefix(err, "asset bandits");
    mq_assets_set_refresh_lock(srv->assets, refresh_unlock, refresh_relock, srv);
    const char *target = srv->opt.store ? srv->opt.store : srv->opt.data_dir;
    if ((rc = mq_store_open(target, MQ_STORE_DEFAULT, &srv->assets_store, err)))
        return mq_err_prefix(err, "asset bandits");
    mq_err lerr = {0};
    rc = mq_assets_load(srv->assets, srv->assets_store, &lerr);
    if (rc && rc != MQ_ENOTFOUND)
        /* A refused checkpoint leaves the fresh model as it was. */
        mq_log(MQ_LOG_WARN, "asset bandits: checkpoint refused (%s); rebuilding from the log",
               lerr.msg);
    if (pthread_create(&srv->assets_thread, NULL, learner_main, srv) != 0)
        return mq_err_set(err, MQ_EIO, "asset bandits: cannot start the learner thread");
    srv->assets_thread_started = true;
    mq_log(MQ_LOG_INFO, "asset bandits: catching up with the event log in the background");
    return MQ_OK;
}

void mq_server_assets_nudge(mq_server *srv) {
    if (!srv->assets_thread_started)
        return;
    pthread_mutex_lock(&srv->assets_mu);
    srv->assets_nudged = true;
    pthread_cond_signal(&srv->assets_wake);
    pthread_mutex_unlock(&srv->assets_mu);
}

void mq_server_assets_stop(mq_server *srv) {
    if (srv->assets_thread_started) {
        pthread_mutex_lock(&srv->assets_mu);
        atomic_store(&srv->assets_stop, true);
        pthread_cond_signal(&srv->assets_wake);
        pthread_mutex_unlock(&srv->assets_mu);
        pthread_join(srv->assets_thread, NULL);
        srv->assets_thread_started = false;
    }
    if (srv->assets && atomic_load(&srv->assets_online)) {
        /* What the writer committed last (it has stopped), then the checkpoint. */
        pass p = {srv, 0, 0};
        atomic_store(&srv->assets_stop, false);
        mq_err err = {0};
        if (follow(&p, &err) || mq_assets_save(srv->assets, srv->assets_store, &err))
            mq_log(MQ_LOG_WARN, "asset bandits: writing the checkpoint: %s", err.msg);
    }
    mq_store_close(srv->assets_store);
    srv->assets_store = NULL;
    mq_assets_destroy(srv->assets);
    srv->assets = NULL;
}

void mq_server_assets_put_title(mq_server *srv, const mq_title *t) {
    if (!srv->assets || !t->id)
        return;
    pthread_mutex_lock(&srv->assets_write_mu);
    pthread_rwlock_wrlock(&srv->assets_lock);
    mq_assets_put_title(srv->assets, t);
    pthread_rwlock_unlock(&srv->assets_lock);
    pthread_mutex_unlock(&srv->assets_write_mu);
}

const mq_assets *mq_server_assets_acquire(mq_server *srv) {
    if (!srv->assets || !atomic_load(&srv->assets_online))
        return NULL;
    pthread_rwlock_rdlock(&srv->assets_lock);
    return srv->assets;
}

void mq_server_assets_release(mq_server *srv, const mq_assets *a) {
    if (a)
        pthread_rwlock_unlock(&srv->assets_lock);
}

static json_t *pick_json(const char *url_template, const mq_title *t, mq_asset_slot slot,
                         const mq_asset_pick *pk) {
    if (pk->variant < 0)
        return json_null();
    json_t *o = json_object();
    if (slot == MQ_SLOT_ARTWORK) {
        char url[512];
        json_object_set_new(o, "id", json_string(pk->id));
        mq_asset_url_format(url_template, t->ext_id, pk->id, url, sizeof url);
        json_object_set_new(o, "url", json_string(url));
    } else if (slot == MQ_SLOT_SYNOPSIS) {
        json_object_set_new(o, "id", json_string(t->synopses[pk->variant].id));
        json_object_set_new(
            o, "text",
            json_string(t->synopses[pk->variant].text ? t->synopses[pk->variant].text : ""));
    } else {
        json_object_set_new(o, "text", json_string(pk->id));
    }
    json_object_set_new(o, "propensity", json_real(pk->propensity));
    static const char *const why[] = {"none", "policy", "explore", "cold", "pinned"};
    json_object_set_new(o, "reason", json_string(why[pk->reason]));
    return o;
}

void mq_server_assets_title_json(mq_server *srv, mq_req *r, uint32_t profile_id,
                                 const mq_rank_context *rc, const mq_title *t, json_t *o) {
    mq_asset_choice ch;
    memset(&ch, 0, sizeof ch);
    for (int s = 0; s < MQ_SLOT_COUNT; s++)
        ch.slot[s].variant = -1;
    /* Without a bandit (or for a title it does not know), the editorial defaults. */
    if (t->n_artwork)
        ch.slot[MQ_SLOT_ARTWORK] = (mq_asset_pick){0, t->artwork[0].id, 1.0, MQ_ASSET_POLICY};
    if (t->n_synopses)
        ch.slot[MQ_SLOT_SYNOPSIS] = (mq_asset_pick){0, t->synopses[0].id, 1.0, MQ_ASSET_POLICY};
    const char *tmpl = mq_page_service_params(srv->pages)->url_template;
    const mq_assets *a = mq_server_assets_acquire(srv);
    if (a) {
        mq_asset_context *ctx = mq_arena_alloc(&r->arena, sizeof *ctx);
        memset(ctx, 0, sizeof *ctx);
        ctx->profile_id = profile_id;
        ctx->device = rc->device;
        ctx->ts_ms = rc->now_ms ? rc->now_ms : mq_now_ms();
        mq_time_local(ctx->ts_ms, rc->tz_offset_min, &ctx->weekday, &ctx->hour);
        mq_assets_prepare(a, ctx);
        /* The same choice all day for this profile and title: a title page that
         * changes its face on every visit would confuse. */
        uint64_t seed = ((uint64_t)profile_id << 32 | t->id) ^
                        (uint64_t)(ctx->ts_ms / 86400000) * 0x9E3779B97F4A7C15ull;
        mq_rng rng;
        mq_rng_seed(&rng, seed, 17);
        mq_asset_choice got;
        if (mq_assets_choose(a, ctx, t, &rng, &got) == MQ_OK)
            for (int s = 0; s < MQ_SLOT_COUNT; s++)
                if (got.slot[s].variant >= 0)
                    ch.slot[s] = got.slot[s];
    }
    json_object_set_new(o, "artwork",
                        pick_json(tmpl, t, MQ_SLOT_ARTWORK, &ch.slot[MQ_SLOT_ARTWORK]));
    json_object_set_new(o, "synopsis",
                        pick_json(tmpl, t, MQ_SLOT_SYNOPSIS, &ch.slot[MQ_SLOT_SYNOPSIS]));
    json_object_set_new(o, "label", pick_json(tmpl, t, MQ_SLOT_LABEL, &ch.slot[MQ_SLOT_LABEL]));
    mq_server_assets_release(srv, a);
}

json_t *mq_server_assets_dashboard(mq_server *srv) {
    const mq_assets *a = mq_server_assets_acquire(srv);
    if (!a)
        return json_null();
    mq_assets_stats st;
    mq_assets_stats_get(a, &st);
    json_t *o = json_object();
    json_object_set_new(o, "policy",
                        json_string(mq_asset_policy_name(mq_assets_params_get(a)->policy)));
    json_object_set_new(o, "events", json_integer((json_int_t)st.events));
    json_object_set_new(o, "impressions", json_integer((json_int_t)st.impressions));
    json_object_set_new(o, "rewarded", json_integer((json_int_t)st.rewarded));
    json_object_set_new(o, "pending", json_integer((json_int_t)st.pending));
    json_object_set_new(o, "profiles", json_integer((json_int_t)st.profiles));
    json_object_set_new(o, "last_seq", json_integer(st.last_seq));
    json_t *slots = json_array();
    for (int s = 0; s < MQ_SLOT_COUNT; s++) {
        json_t *so = json_object();
        json_object_set_new(so, "slot", json_string(mq_asset_slot_name((mq_asset_slot)s)));
        json_object_set_new(so, "updates", json_integer((json_int_t)st.updates[s]));
        json_object_set_new(so, "refreshes", json_integer((json_int_t)st.refreshes[s]));
        json_object_set_new(so, "reward_sum", json_real(st.reward_sum[s]));
        json_object_set_new(so, "dims", json_integer(st.dims[s]));
        mq_asset_arm arms[MQ_ASSETS_MAX_TAGS];
        int n = mq_assets_arms(a, (mq_asset_slot)s, arms, MQ_ASSETS_MAX_TAGS);
        json_t *ja = json_array();
        for (int j = 0; j < n; j++) {
            json_t *ao = json_object();
            json_object_set_new(ao, "tag", json_string(arms[j].tag ? arms[j].tag : ""));
            json_object_set_new(ao, "impressions", json_real(arms[j].impressions));
            json_object_set_new(ao, "rewards", json_real(arms[j].rewards));
            json_object_set_new(ao, "rate",
                                arms[j].impressions > 0
                                    ? json_real(arms[j].rewards / arms[j].impressions)
                                    : json_null());
            json_object_set_new(ao, "weight", json_real(arms[j].weight));
            json_array_append_new(ja, ao);
        }
        json_object_set_new(so, "arms", ja);
        json_array_append_new(slots, so);
    }
    json_object_set_new(o, "slots", slots);
    mq_server_assets_release(srv, a);
    return o;
}
