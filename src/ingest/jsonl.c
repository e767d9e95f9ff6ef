/* jsonl.c: importers for marquee's own JSON Lines forms, one object per line, for
 * titles, profiles and events (docs/importing.md gives the schemas; the objects
 * are the JSON forms read by mq_title_from_json, mq_profile_from_json and
 * mq_event_from_json). These are how any source other than MovieLens gets in, and
 * how `marquee synth --export` files read back.
 *
 * As for MovieLens: without skip_bad a first pass checks every line (for events,
 * also that each title is in the catalogue) and nothing is written unless all of
 * them are good; then the rows are written in transactions of `batch` rows.
 * Parsing JSON costs more than storing an event, so the checking pass keeps the
 * parsed events (up to CACHE_MAX bytes) and the writing pass stores those instead
 * of parsing the file again. */
#include "ingest_impl.h"

#include <string.h>

#define CACHE_MAX ((size_t)768 << 20)

typedef enum { J_TITLES, J_PROFILES, J_EVENTS } jkind;

/* Events parsed by the checking pass, for the writing pass. */
typedef struct ev_cache {
    bool on; /* every event so far is here */
    MQ_VEC(mq_event) ev;
    MQ_VEC(uint64_t) line;
    mq_arena strings;
    uint64_t rows;
} ev_cache;

static void cache_drop(ev_cache *k) {
    mq_free(k->ev.items);
    mq_free(k->line.items);
    mq_arena_free(&k->strings);
    memset(k, 0, sizeof *k);
}

static bool blank(const char *s) {
    for (; *s; s++)
        if (*s != ' ' && *s != '\t')
            return false;
    return true;
}

/* Copies an event's strings into `a`: the parsed JSON they point into is freed
 * right after. */
static const char *keep(mq_arena *a, const char *s) {
    return s ? mq_arena_strdup(a, s) : NULL;
}

static void copy_event(mq_arena *a, mq_event *dst, const mq_event *src) {
    *dst = *src;
    dst->event_id = keep(a, src->event_id);
    dst->profile = keep(a, src->profile);
    dst->title = keep(a, src->title);
    dst->page_id = keep(a, src->page_id);
    dst->row_id = keep(a, src->row_id);
    dst->artwork_id = keep(a, src->artwork_id);
    dst->synopsis_id = keep(a, src->synopsis_id);
    dst->label = keep(a, src->label);
    dst->query = keep(a, src->query);
}

static void cache_add(ev_cache *k, const mq_event *e, uint64_t line) {
    mq_event copy;
    copy_event(&k->strings, &copy, e);
    MQ_VEC_PUSH(&k->ev, copy);
    MQ_VEC_PUSH(&k->line, line);
    if (k->ev.alloc * (sizeof(mq_event) + sizeof(uint64_t)) + k->strings.used_total > CACHE_MAX)
        cache_drop(k); /* too big: the writing pass parses the file again */
}

/* Commits the open title/profile transaction, if any. */
static int settle(ing_ctx *c, size_t *in_txn) {
    mq_err serr = {0};
    if (!*in_txn)
        return MQ_OK;
    *in_txn = 0;
    int rc = mq_store_commit(c->s, &serr);
    return rc ? mq_err_set(c->err, rc, "%s", serr.msg) : MQ_OK;
}

/* State of one pass over a file. */
typedef struct jpass {
    ing_ctx *c;
    jkind k;
    ing_pass pass;
    ev_cache *cache;
    ing_writer *w; /* events, writing pass */
    mq_arena a;    /* a title's or profile's strings */
    size_t in_txn; /* titles/profiles written in the open transaction */
} jpass;

/* One line's object: checked, and on the writing pass written (titles and
 * profiles) or queued (events). Returns non-zero to stop the import. */
static int one(jpass *jp, const json_t *o, const char *where, uint64_t line) {
    ing_ctx *c = jp->c;
    mq_err row = {0}, serr = {0};
    int rc;
    if (jp->k == J_EVENTS) {
        mq_event e;
        if (mq_event_from_json(o, &e, where, 0, &row))
            return ing_bad_row(c, &row);
        if (jp->pass == ING_VALIDATE) {
            /* The writing pass learns this from the store; checking first keeps a
             * failed import from writing anything. */
            if (e.title && !mq_store_title_id(c->s, e.title)) {
                char got[64];
                ing_quote(e.title, got, sizeof got);
                return ing_bad(c,
                               "%s: expected a title id in the catalogue (import the "
                               "titles first), got %s",
                               where, got);
            }
            if (jp->cache->on)
                cache_add(jp->cache, &e, line);
            return MQ_OK;
        }
        mq_event *slot = ing_writer_slot(jp->w, line);
        if (!slot)
            return MQ_ESTORE; /* the writer failed; ing_writer_finish says why */
        copy_event(&ing_writer_batch(jp->w)->strings, slot, &e);
        return MQ_OK;
    }
    mq_title t;
    mq_profile p;
    mq_arena_reset(&jp->a);
    rc = jp->k == J_TITLES ? mq_title_from_json(o, &t, &jp->a, where, &row)
                           : mq_profile_from_json(o, &p, &jp->a, where, &row);
    if (rc)
        return ing_bad_row(c, &row);
    if (jp->pass == ING_VALIDATE)
        return MQ_OK;
    if (!jp->in_txn && (rc = mq_store_begin(c->s, &serr)))
        return mq_err_set(c->err, rc, "%s", serr.msg);
    jp->in_txn++;
    rc = jp->k == J_TITLES ? mq_store_put_title(c->s, &t, &serr)
                           : mq_store_put_profile(c->s, &p, &serr);
    if (rc) {
        mq_store_rollback(c->s);
        jp->in_txn = 0;
        return mq_err_set(c->err, rc, "%s: %s", where, serr.msg);
    }
    if (jp->k == J_TITLES)
        c->r->titles++;
    else
        c->r->profiles++;
    return jp->in_txn >= c->o.batch ? settle(c, &jp->in_txn) : MQ_OK;
}

static int pass_over(ing_ctx *c, const char *path, jkind k, ing_pass pass, ev_cache *cache) {
    ing_lines r;
    ing_progress pr;
    ing_writer w;
    jpass jp = {c, k, pass, cache, &w, {0}, 0};
    char label[64], where[4200];
    int rc = ing_lines_open(&r, path, c->err);
    if (rc)
        return rc;
    const char *base = strrchr(path, '/');
    snprintf(label, sizeof label, "%s%s", pass == ING_VALIDATE ? "check " : "",
             base ? base + 1 : path);
    ing_progress_start(&pr, c, &r, label);
    bool writer = k == J_EVENTS && pass == ING_WRITE;
    if (writer)
        ing_writer_start(&w, c, path);
    mq_arena_init(&jp.a, 64 * 1024, 0);
    char *line;
    size_t len;
    for (;;) {
        mq_err lerr = {0};
        if ((rc = ing_lines_next(&r, &line, &len, &lerr))) {
            if (rc == MQ_ETOOBIG && pass == ING_WRITE)
                c->r->rows++;
            if (rc == MQ_ETOOBIG && !(rc = ing_bad_row(c, &lerr)))
                continue; /* an overlong line, skipped */
            if (rc != MQ_EINVAL)
                *c->err = lerr;
            break;
        }
        if (!line)
            break;
        if (blank(line))
            continue;
        ing_progress_row(&pr, &r);
        if (pass == ING_WRITE)
            c->r->rows++;
        else
            cache->rows++;
        snprintf(where, sizeof where, "%s:%llu", path, (unsigned long long)r.line);
        json_error_t je;
        json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
        if (!o) {
            if ((rc = ing_bad(c, "%s: expected a JSON object, got invalid JSON at column %d: %s",
                              where, je.column, je.text)))
                break;
            continue;
        }
        rc = one(&jp, o, where, r.line);
        json_decref(o);
        if (rc)
            break;
    }
    if (writer)
        rc = ing_writer_finish(&w, rc);
    if (!rc)
        rc = settle(c, &jp.in_txn);
    else if (jp.in_txn)
        mq_store_rollback(c->s);
    ing_progress_finish(&pr);
    mq_arena_free(&jp.a);
    ing_lines_close(&r);
    return rc;
}

/* The writing pass over the events the checking pass kept. */
static int write_cached(ing_ctx *c, const char *path, ev_cache *k) {
    ing_writer w;
    mq_progress p = {0};
    bool drawn = false;
    const char *base = strrchr(path, '/');
    if (c->o.progress)
        mq_progress_start(&p, base ? base + 1 : path, "rows", k->ev.len);
    ing_writer_start(&w, c, path);
    int rc = MQ_OK;
    for (size_t i = 0; i < k->ev.len; i++) {
        mq_event *slot = ing_writer_slot(&w, k->line.items[i]);
        if (!slot) {
            rc = MQ_ESTORE;
            break;
        }
        *slot = k->ev.items[i]; /* its strings stay in the cache until the end */
        if (c->o.progress && !(i & 4095) && (drawn || mq_mono_s() - p.t0 > 0.25)) {
            drawn = true;
            mq_progress_update(&p, i);
        }
    }
    rc = ing_writer_finish(&w, rc);
    if (drawn) {
        p.done = k->ev.len;
        mq_progress_finish(&p);
    }
    c->r->rows = k->rows;
    return rc;
}

static int import_jsonl(mq_store *s, const char *path, jkind k, const mq_import_opts *o,
                        mq_import_report *r, mq_err *err) {
    mq_import_report own_r;
    ing_ctx c;
    ev_cache cache = {0};
    ing_ctx_init(&c, s, o, r ? r : &own_r, "jsonl", err);
    int rc = MQ_OK;
    if (!c.o.skip_bad) {
        cache.on = k == J_EVENTS;
        mq_arena_init(&cache.strings, 1u << 20, 0);
        rc = pass_over(&c, path, k, ING_VALIDATE, &cache);
    }
    if (!rc && cache.on)
        rc = write_cached(&c, path, &cache);
    else if (!rc)
        rc = pass_over(&c, path, k, ING_WRITE, &cache);
    cache_drop(&cache);
    ing_ctx_free(&c);
    return rc;
}

int mq_import_titles_jsonl(mq_store *s, const char *path, const mq_import_opts *o,
                           mq_import_report *r, mq_err *err) {
    return import_jsonl(s, path, J_TITLES, o, r, err);
}

int mq_import_profiles_jsonl(mq_store *s, const char *path, const mq_import_opts *o,
                             mq_import_report *r, mq_err *err) {
    return import_jsonl(s, path, J_PROFILES, o, r, err);
}

int mq_import_events_jsonl(mq_store *s, const char *path, const mq_import_opts *o,
                           mq_import_report *r, mq_err *err) {
    return import_jsonl(s, path, J_EVENTS, o, r, err);
}
