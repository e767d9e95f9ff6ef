/* write.c: `mq_synth`, the synthetic world end to end: generate the world and its
 * log, write titles, profiles and events into the store (opened for bulk loading,
 * events in batches, one transaction each), and the ground truth into the data
 * directory and the store; optionally export JSONL. Times each phase, so the cost
 * of the store's insert path can be told apart from the cost of generating. */
#include "sim_impl.h"

#include <errno.h>
#include <string.h>

#define DEFAULT_BATCH 20000
#define STR_SLOT 64

/* A batch of materialized events with copies of the strings that are only valid
 * during mq_sim_log_each's callback. */
typedef struct {
    mq_event *evs;
    char (*strs)[3][STR_SLOT];
    size_t n;
} batch;

static const char *keep(char *slot, const char *s) {
    if (!s)
        return NULL;
    snprintf(slot, STR_SLOT, "%s", s);
    return slot;
}

static int batch_add(void *ud, const mq_event *e) {
    batch *b = ud;
    mq_event *d = &b->evs[b->n];
    *d = *e;
    d->event_id = keep(b->strs[b->n][0], e->event_id);
    d->page_id = keep(b->strs[b->n][1], e->page_id);
    d->row_id = keep(b->strs[b->n][2], e->row_id);
    b->n++;
    return 0;
}

static int write_catalog(const mq_world *w, mq_store *s, mq_err *err) {
    int rc = mq_store_begin(s, err);
    if (rc)
        return rc;
    for (uint32_t t = 0; t < mq_world_n_titles(w) && !rc; t++) {
        mq_title copy = *mq_world_title(w, t);
        rc = mq_store_put_title(s, &copy, err);
    }
    for (uint32_t p = 0; p < mq_world_n_profiles(w) && !rc; p++) {
        mq_profile copy = *mq_world_profile(w, p);
        rc = mq_store_put_profile(s, &copy, err);
    }
    if (rc) {
        mq_store_rollback(s);
        return rc;
    }
    return mq_store_commit(s, err);
}

static int write_events(const mq_world *w, const mq_sim_log *l, mq_store *s, const mq_synth_opts *o,
                        mq_synth_report *r, mq_err *err) {
    size_t bs = o->batch ? o->batch : DEFAULT_BATCH, total = mq_sim_log_count(l);
    batch b = {mq_malloc(bs * sizeof *b.evs), mq_malloc(bs * sizeof *b.strs), 0};
    mq_append_status *status = mq_malloc(bs * sizeof *status);
    mq_progress pb;
    int rc = MQ_OK;
    if (o->progress)
        mq_progress_start(&pb, "writing", "events", total);
    for (size_t from = 0; from < total; from += bs) {
        b.n = 0;
        mq_sim_log_each(w, l, from, bs, batch_add, &b);
        if ((rc = mq_store_begin(s, err)))
            break;
        double t0 = mq_mono_s();
        rc = mq_store_append_events(s, b.evs, b.n, status, err);
        r->append_s += mq_mono_s() - t0;
        if (rc) {
            mq_store_rollback(s);
            break;
        }
        t0 = mq_mono_s();
        rc = mq_store_commit(s, err);
        r->commit_s += mq_mono_s() - t0;
        if (rc)
            break;
        for (size_t i = 0; i < b.n; i++) {
            if (status[i] == MQ_APPEND_OK)
                r->events++;
            else if (status[i] == MQ_APPEND_DUPLICATE)
                r->duplicates++;
            else {
                rc = mq_err_set(err, MQ_ESTORE,
                                "synth: event %s: title \"%s\" was not found in the store",
                                b.evs[i].event_id, b.evs[i].title ? b.evs[i].title : "");
                break;
            }
        }
        if (rc)
            break;
        if (o->progress)
            mq_progress_update(&pb, from + b.n);
    }
    if (o->progress)
        mq_progress_finish(&pb);
    mq_free(b.evs);
    mq_free(b.strs);
    mq_free(status);
    return rc;
}

static int write_file(const char *path, const char *data, size_t len, mq_err *err) {
    FILE *f = fopen(path, "wb");
    if (!f)
        return mq_err_set(err, MQ_EIO, "%s: cannot create: %s", path, strerror(errno));
    bool ok = fwrite(data, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    if (!ok)
        return mq_err_set(err, MQ_EIO, "%s: cannot write: %s", path, strerror(errno));
    return MQ_OK;
}

int mq_synth(const mq_world_params *p, const mq_synth_opts *o, mq_synth_report *r, mq_err *err) {
    memset(r, 0, sizeof *r);
    double t0 = mq_mono_s(), t;
    mq_store *s = NULL;
    mq_world *w = NULL;
    mq_sim_log *l = NULL;
    char *truth = NULL, *path = NULL;
    int rc;
    if ((rc = mq_world_params_check(p, err)))
        goto out;
    if ((rc = mq_store_open(o->store ? o->store : o->data_dir, MQ_STORE_BULK, &s, err)))
        goto out;
    mq_store_stats st;
    if ((rc = mq_store_stats_get(s, &st, err)))
        goto out;
    if (st.events && !o->force) {
        rc = mq_err_set(err, MQ_EBUSY,
                        "%s already holds %llu events; synth writes a world into an empty store "
                        "(use --force to write into this one anyway, or choose another --data "
                        "directory)",
                        mq_store_target(s), (unsigned long long)st.events);
        goto out;
    }

    t = mq_mono_s();
    if ((rc = mq_world_generate(p, &w, err)))
        goto out;
    r->world_s = mq_mono_s() - t;
    t = mq_mono_s();
    if ((rc = mq_sim_generate(w, o->progress, &l, err)))
        goto out;
    r->generate_s = mq_mono_s() - t;
    mq_sim_log_counts(l, r->by_type, &r->sessions, &r->pages);
    r->titles = mq_world_n_titles(w);
    r->profiles = mq_world_n_profiles(w);

    t = mq_mono_s();
    if ((rc = write_catalog(w, s, err)))
        goto out;
    r->catalog_s = mq_mono_s() - t;
    if ((rc = write_events(w, l, s, o, r, err)))
        goto out;
    r->store_s = mq_mono_s() - t;

    t = mq_mono_s();
    truth = mq_sim_truth_json(w, &r->truth_bytes);
    if ((rc = mq_store_put_blob(s, MQ_SIM_TRUTH_BLOB, truth, r->truth_bytes, err)))
        goto out;
    /* With a PostgreSQL store nothing else has created the data directory. */
    if ((rc = mq_mkdirs(o->data_dir, err)))
        goto out;
    size_t n = strlen(o->data_dir) + 32;
    path = mq_malloc(n);
    snprintf(path, n, "%s/ground_truth.json", o->data_dir);
    if ((rc = write_file(path, truth, r->truth_bytes, err)))
        goto out;
    r->truth_s = mq_mono_s() - t;

    if (o->export_dir) {
        t = mq_mono_s();
        if ((rc = mq_sim_export(w, l, o->export_dir, err)))
            goto out;
        r->export_s = mq_mono_s() - t;
    }
out:
    r->total_s = mq_mono_s() - t0;
    mq_free(path);
    mq_free(truth);
    mq_sim_log_destroy(l);
    mq_world_destroy(w);
    mq_store_close(s);
    return rc;
}
