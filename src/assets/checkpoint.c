/* checkpoint.c: the bandit's learned state as bytes, in the store, and caught up
 * from the event log.
 *
 * Everything learned is a deterministic function of the events applied in log
 * order, so a checkpoint is only a shortcut: a node loads the blob
 * "assets_bandit" and applies the events after its last_seq, and it holds the
 * same bytes as a node that applied the whole log (tests/test_assets.c checks
 * this). The posterior draws are in the checkpoint too, so the two act alike
 * before the next refresh as well.
 *
 * Layout (little-endian as written by this machine; all counts explicit):
 *   "MQASSETS" u32 version, u32 taste dims, u32 context dims, u32 feature flags,
 *   u32 draws, i64 last_seq, u64 events, impressions, rewarded
 *   per slot: vocabulary, statistics (X'X upper triangle, X'r), posterior (mean,
 *             bank, LinUCB covariance when present)
 *   per title (by id): each slot's variant ids with their counts
 *   per profile (by id): taste and tag responses
 *   pins (by key), pending impressions (in queue order, with their context)
 *   u64 checksum of everything before it.
 * A checkpoint from other feature settings (taste dims, device, time slot,
 * personal, draws) is refused with MQ_EVERSION: its weights mean other things. */
#include "assets_impl.h"

#include <string.h>

#define MAGIC "MQASSETS"
#define VERSION 1u

/* ---------------------------------------------------------------- writing ---- */

static void w_raw(mq_buf *b, const void *p, size_t n) {
    mq_buf_append(b, p, n);
}
static void w_u8(mq_buf *b, uint8_t v) {
    w_raw(b, &v, 1);
}
static void w_u32(mq_buf *b, uint32_t v) {
    w_raw(b, &v, 4);
}
static void w_u64(mq_buf *b, uint64_t v) {
    w_raw(b, &v, 8);
}
static void w_i64(mq_buf *b, int64_t v) {
    w_raw(b, &v, 8);
}
static void w_f64(mq_buf *b, double v) {
    w_raw(b, &v, 8);
}
static void w_str(mq_buf *b, const char *s) {
    uint32_t n = (uint32_t)strlen(s);
    w_u32(b, n);
    w_raw(b, s, n);
}

static uint32_t flags_of(const mq_assets_params *p) {
    return (p->use_device ? 1u : 0u) | (p->use_timeslot ? 2u : 0u) | (p->use_personal ? 4u : 0u) |
           (p->use_editorial ? 8u : 0u) | (p->logistic ? 16u : 0u);
}

void mq_assets_serialize(const mq_assets *a, mq_buf *out) {
    mq_buf_reset(out);
    w_raw(out, MAGIC, 8);
    w_u32(out, VERSION);
    w_u32(out, (uint32_t)a->T);
    w_u32(out, (uint32_t)a->C);
    w_u32(out, flags_of(&a->p));
    w_u32(out, (uint32_t)a->p.draws);
    w_i64(out, a->last_seq);
    w_u64(out, a->events);
    w_u64(out, a->impressions);
    w_u64(out, a->rewarded);
    for (int s = 0; s < MQ_SLOT_COUNT; s++) {
        const slot_model *m = &a->m[s];
        const size_t d = (size_t)m->d;
        w_u32(out, (uint32_t)m->V);
        for (int j = 0; j < m->V; j++)
            w_str(out, m->tags[j]);
        w_u32(out, (uint32_t)d);
        w_u64(out, m->updates);
        w_u64(out, m->since);
        w_u64(out, m->refreshes);
        w_u64(out, m->version);
        w_f64(out, m->reward_sum);
        for (size_t i = 0; i < d; i++)
            w_raw(out, m->A + i * d + i, (d - i) * sizeof(double));
        w_raw(out, m->b, d * sizeof(double));
        w_raw(out, m->mean, d * sizeof(float));
        w_raw(out, m->bank, d * (size_t)a->p.draws * sizeof(float));
        w_u8(out, m->have_cov);
        if (m->have_cov)
            for (size_t i = 0; i < d; i++)
                w_raw(out, m->cov + i * d + i, (d - i) * sizeof(double));
    }
    uint32_t nt = 0;
    for (size_t id = 0; id < a->titles.len; id++)
        nt += a->titles.items[id].known;
    w_u32(out, nt);
    for (size_t id = 0; id < a->titles.len; id++) {
        const title_info *ti = &a->titles.items[id];
        if (!ti->known)
            continue;
        w_u32(out, (uint32_t)id);
        for (int s = 0; s < MQ_SLOT_COUNT; s++) {
            const slot_model *m = &a->m[s];
            w_u8(out, ti->s[s].n);
            for (int i = 0; i < ti->s[s].n; i++) {
                size_t o = ti->s[s].off + (size_t)i;
                w_str(out, m->vars.items[o].id);
                w_f64(out, m->var_imp.items[o]);
                w_f64(out, m->var_rew.items[o]);
            }
        }
    }
    w_u32(out, (uint32_t)a->profs.len);
    for (size_t id = 0; id < a->prof_index.len; id++) {
        if (!a->prof_index.items[id])
            continue;
        const profile_rec *pr = &a->profs.items[a->prof_index.items[id] - 1];
        w_u32(out, pr->id);
        w_i64(out, pr->taste_ts);
        for (int s = 0; s < MQ_SLOT_COUNT; s++) {
            w_f64(out, pr->n_tot[s]);
            w_f64(out, pr->r_tot[s]);
        }
        w_raw(out, profile_block(a, pr), (size_t)a->prof_stride * sizeof(float));
    }
    uint64_t *keys = u64map_sorted_keys(&a->pins);
    w_u64(out, a->pins.n);
    for (size_t i = 0; i < a->pins.n; i++) {
        uint64_t v = 0;
        u64map_get(&a->pins, keys[i], &v);
        w_u64(out, keys[i]);
        w_u8(out, (uint8_t)v);
    }
    mq_free(keys);
    const attrib *at = &a->at;
    w_i64(out, at->clock);
    uint64_t live = 0;
    for (size_t i = at->head; i < at->q.len; i++)
        live += !at->q.items[i].consumed;
    w_u64(out, live);
    for (size_t i = at->head; i < at->q.len; i++) {
        const pending *pd = &at->q.items[i];
        if (pd->consumed)
            continue;
        uint64_t cur;
        bool open =
            u64map_get(&at->open, pair_key(pd->profile, pd->title), &cur) && cur == at->base + i;
        w_i64(out, pd->seq);
        w_i64(out, pd->ts);
        w_u32(out, pd->profile);
        w_u32(out, pd->title);
        for (int s = 0; s < MQ_SLOT_COUNT; s++)
            w_u8(out, (uint8_t)pd->var[s]);
        w_u8(out, (uint8_t)(pd->played | (open ? 2 : 0)));
        w_f64(out, pd->watched_s);
        w_f64(out, pd->last_pos);
        w_raw(out, pd->phi, sizeof pd->phi);
        w_raw(out, pd->ed, sizeof pd->ed);
        w_raw(out, pd->z, sizeof pd->z);
        w_u8(out, pd->ctx != UINT32_MAX);
        if (pd->ctx != UINT32_MAX)
            w_raw(out, a->ctx_pool.items + (size_t)pd->ctx * (size_t)a->C,
                  (size_t)a->C * sizeof(float));
    }
    w_u64(out, mq_hash_bytes(out->data, out->len));
}

/* ---------------------------------------------------------------- reading ---- */

typedef struct {
    const uint8_t *p;
    size_t len, pos;
    bool bad;
} reader;

static const void *r_raw(reader *r, size_t n) {
    if (r->bad || n > r->len - r->pos) {
        r->bad = true;
        return NULL;
    }
    const void *p = r->p + r->pos;
    r->pos += n;
    return p;
}

#define R_SCALAR(name, T)                                                                          \
    static T name(reader *r) {                                                                     \
        T v = 0;                                                                                   \
        const void *p = r_raw(r, sizeof(T));                                                       \
        if (p)                                                                                     \
            memcpy(&v, p, sizeof(T));                                                              \
        return v;                                                                                  \
    }
R_SCALAR(r_u8, uint8_t)
R_SCALAR(r_u32, uint32_t)
R_SCALAR(r_u64, uint64_t)
R_SCALAR(r_i64, int64_t)
R_SCALAR(r_f64, double)

/* A string into buf (truncated to the buffer; the length is checked by callers). */
static const char *r_str(reader *r, char *buf, size_t n) {
    uint32_t len = r_u32(r);
    const char *p = r_raw(r, len);
    if (!p || len >= n) {
        r->bad = true;
        buf[0] = '\0';
        return buf;
    }
    memcpy(buf, p, len);
    buf[len] = '\0';
    return buf;
}

static void r_copy(reader *r, void *dst, size_t n, bool commit) {
    const void *p = r_raw(r, n);
    if (p && commit)
        memcpy(dst, p, n);
}

/* One pass over the bytes: validates (commit false) or replaces a's state (commit
 * true, only after a validating pass succeeded). */
static int parse(mq_assets *a, reader *r, bool commit, mq_err *err) {
    char buf[1024];
    r_raw(r, 8);
    r_u32(r); /* version: checked by the caller */
    r_u32(r);
    r_u32(r);
    r_u32(r);
    r_u32(r);
    int64_t last_seq = r_i64(r);
    uint64_t events = r_u64(r), imps = r_u64(r), rewarded = r_u64(r);
    const size_t K = (size_t)a->p.draws;
    int V[MQ_SLOT_COUNT];
    for (int s = 0; s < MQ_SLOT_COUNT && !r->bad; s++) {
        slot_model *m = &a->m[s];
        V[s] = (int)r_u32(r);
        if (V[s] > MQ_ASSETS_MAX_TAGS) {
            r->bad = true;
            break;
        }
        if (commit)
            m->V = V[s];
        for (int j = 0; j < V[s]; j++) {
            r_str(r, buf, sizeof buf);
            if (commit)
                m->tags[j] = mq_arena_strdup(&a->arena, buf);
        }
        uint32_t d = r_u32(r);
        if (d != (uint32_t)slot_dims(a->C, V[s])) {
            r->bad = true;
            break;
        }
        if (commit) {
            slot_model keep = *m;
            mq_free(m->A);
            mq_free(m->b);
            mq_free(m->mean);
            mq_free(m->bank);
            mq_free(m->cov);
            model_init(m, (int)d, (int)K);
            m->V = keep.V;
            memcpy(m->tags, keep.tags, sizeof m->tags);
            m->vars = keep.vars;
            m->var_imp = keep.var_imp;
            m->var_rew = keep.var_rew;
        }
        uint64_t updates = r_u64(r), since = r_u64(r), refreshes = r_u64(r), version = r_u64(r);
        double reward_sum = r_f64(r);
        if (commit) {
            m->updates = updates;
            m->since = since;
            m->refreshes = refreshes;
            m->version = version;
            m->reward_sum = reward_sum;
        }
        for (size_t i = 0; i < d && !r->bad; i++)
            r_copy(r, commit ? m->A + i * d + i : NULL, (d - i) * sizeof(double), commit);
        r_copy(r, commit ? m->b : NULL, d * sizeof(double), commit);
        r_copy(r, commit ? m->mean : NULL, d * sizeof(float), commit);
        r_copy(r, commit ? m->bank : NULL, d * K * sizeof(float), commit);
        bool have_cov = r_u8(r);
        if (have_cov) {
            if (commit)
                m->cov = mq_malloc((size_t)d * d * sizeof(double));
            for (size_t i = 0; i < d && !r->bad; i++) {
                r_copy(r, commit ? m->cov + i * d + i : NULL, (d - i) * sizeof(double), commit);
                if (commit)
                    for (size_t j = i + 1; j < d; j++)
                        m->cov[j * d + i] = m->cov[i * d + j];
            }
            if (commit)
                m->have_cov = true;
        }
    }
    if (commit) {
        features_layout(a);
        features_reindex(a);
        for (int s = 0; s < MQ_SLOT_COUNT; s++)
            for (size_t i = 0; i < a->m[s].var_imp.len; i++)
                a->m[s].var_imp.items[i] = a->m[s].var_rew.items[i] = 0;
        for (size_t id = 0; id < a->titles.len; id++)
            for (int s = 0; s < MQ_SLOT_COUNT; s++)
                a->titles.items[id].s[s].imp = 0;
    }
    /* titles */
    uint32_t nt = r_u32(r);
    for (uint32_t t = 0; t < nt && !r->bad; t++) {
        uint32_t id = r_u32(r);
        const title_info *ti = features_title(a, id);
        for (int s = 0; s < MQ_SLOT_COUNT && !r->bad; s++) {
            uint8_t n = r_u8(r);
            slot_model *m = &a->m[s];
            for (uint8_t i = 0; i < n && !r->bad; i++) {
                r_str(r, buf, sizeof buf);
                double imp = r_f64(r), rew = r_f64(r);
                if (!commit || !ti)
                    continue;
                /* Counts follow the variant id: a title whose artwork changed since
                 * keeps the counts of the variants it still has. */
                const variant_info *v = slot_variants(a, ti, s);
                for (int q = 0; q < ti->s[s].n; q++)
                    if (strcmp(v[q].id, buf) == 0) {
                        m->var_imp.items[ti->s[s].off + (size_t)q] = imp;
                        m->var_rew.items[ti->s[s].off + (size_t)q] = rew;
                        a->titles.items[id].s[s].imp += (uint32_t)MQ_MIN(imp, 4e9);
                        break;
                    }
            }
        }
    }
    /* profiles */
    uint32_t np = r_u32(r);
    if (commit) {
        a->prof_index.len = 0;
        a->profs.len = 0;
        a->prof_pool.len = 0;
    }
    for (uint32_t i = 0; i < np && !r->bad; i++) {
        uint32_t id = r_u32(r);
        int64_t taste_ts = r_i64(r);
        double nt_[MQ_SLOT_COUNT], rt_[MQ_SLOT_COUNT];
        for (int s = 0; s < MQ_SLOT_COUNT; s++) {
            nt_[s] = r_f64(r);
            rt_[s] = r_f64(r);
        }
        size_t bytes = (size_t)a->prof_stride * sizeof(float);
        if (!commit) {
            /* prof_stride is the committed layout's; compute the checkpoint's. */
            int stride = a->T;
            for (int s = 0; s < MQ_SLOT_COUNT; s++)
                stride += 3 * V[s];
            bytes = (size_t)stride * sizeof(float);
        }
        const void *blk = r_raw(r, bytes);
        if (!commit || !blk || id == 0)
            continue;
        profile_rec *pr = assets_profile(a, id, true);
        pr->taste_ts = taste_ts;
        for (int s = 0; s < MQ_SLOT_COUNT; s++) {
            pr->n_tot[s] = nt_[s];
            pr->r_tot[s] = rt_[s];
        }
        memcpy(profile_block(a, pr), blk, bytes);
    }
    /* pins */
    uint64_t npins = r_u64(r);
    if (commit) {
        u64map_free(&a->pins);
    }
    for (uint64_t i = 0; i < npins && !r->bad; i++) {
        uint64_t key = r_u64(r);
        uint8_t v = r_u8(r);
        if (commit)
            u64map_put(&a->pins, key, v);
    }
    if (commit)
        assets_pin_rebuild(a);
    /* pending impressions */
    int64_t clock = r_i64(r);
    uint64_t live = r_u64(r);
    if (commit) {
        attrib_free(&a->at);
        attrib_init(&a->at, &a->p);
        a->at.clock = clock;
        a->ctx_pool.len = 0;
        a->ctx_free.len = 0;
    }
    for (uint64_t i = 0; i < live && !r->bad; i++) {
        pending pd;
        memset(&pd, 0, sizeof pd);
        pd.seq = r_i64(r);
        pd.ts = r_i64(r);
        pd.profile = r_u32(r);
        pd.title = r_u32(r);
        for (int s = 0; s < MQ_SLOT_COUNT; s++)
            pd.var[s] = (int8_t)r_u8(r);
        uint8_t fl = r_u8(r);
        pd.played = fl & 1;
        pd.watched_s = r_f64(r);
        pd.last_pos = r_f64(r);
        r_copy(r, pd.phi, sizeof pd.phi, true);
        r_copy(r, pd.ed, sizeof pd.ed, true);
        r_copy(r, pd.z, sizeof pd.z, true);
        pd.ctx = UINT32_MAX;
        bool has_ctx = r_u8(r);
        const void *c = has_ctx ? r_raw(r, (size_t)a->C * sizeof(float)) : NULL;
        if (!commit || r->bad)
            continue;
        if (c) {
            pd.ctx = (uint32_t)(a->ctx_pool.len / (size_t)a->C);
            MQ_VEC_RESERVE(&a->ctx_pool, a->ctx_pool.len + (size_t)a->C);
            memcpy(a->ctx_pool.items + a->ctx_pool.len, c, (size_t)a->C * sizeof(float));
            a->ctx_pool.len += (size_t)a->C;
        }
        MQ_VEC_PUSH(&a->at.q, pd);
        if (fl & 2)
            u64map_put(&a->at.open, pair_key(pd.profile, pd.title), a->at.q.len - 1);
    }
    r_u64(r); /* checksum, verified by the caller */
    if (r->bad || r->pos != r->len)
        return mq_err_set(err, MQ_ECORRUPT,
                          "assets checkpoint: malformed at byte %zu of %zu (its checksum matched, "
                          "so it was written by an incompatible build)",
                          r->pos, r->len);
    if (commit) {
        a->last_seq = last_seq;
        a->events = events;
        a->impressions = imps;
        a->rewarded = rewarded;
    }
    return MQ_OK;
}

int mq_assets_deserialize(mq_assets *a, const void *data, size_t len, mq_err *err) {
    const uint8_t *p = data;
    if (len < 8 + 5 * 4 + 4 * 8 + 8 || memcmp(p, MAGIC, 8) != 0)
        return mq_err_set(err, MQ_ECORRUPT,
                          "assets checkpoint: expected a marquee bandit checkpoint (\"%s\" "
                          "header), got %zu bytes without it",
                          MAGIC, len);
    uint64_t sum;
    memcpy(&sum, p + len - 8, 8);
    if (mq_hash_bytes(p, len - 8) != sum)
        return mq_err_set(err, MQ_ECORRUPT,
                          "assets checkpoint: checksum mismatch over %zu bytes (torn or "
                          "corrupted); rebuild it from the event log",
                          len);
    uint32_t hdr[5];
    memcpy(hdr, p + 8, sizeof hdr);
    if (hdr[0] != VERSION)
        return mq_err_set(err, MQ_EVERSION, "assets checkpoint: expected format version %u, got %u",
                          VERSION, hdr[0]);
    if (hdr[1] != (uint32_t)a->T || hdr[2] != (uint32_t)a->C || hdr[3] != flags_of(&a->p) ||
        hdr[4] != (uint32_t)a->p.draws)
        return mq_err_set(err, MQ_EVERSION,
                          "assets checkpoint: made with other feature settings (taste dims %u, "
                          "context dims %u, flags %u, draws %u; these settings give %d, %d, %u, "
                          "%d); rebuild it from the event log",
                          hdr[1], hdr[2], hdr[3], hdr[4], a->T, a->C, flags_of(&a->p), a->p.draws);
    reader r = {p, len, 0, false};
    int rc = parse(a, &r, false, err);
    if (rc)
        return rc;
    r = (reader){p, len, 0, false};
    return parse(a, &r, true, err);
}

/* ------------------------------------------------------------------ store ---- */

int mq_assets_save(const mq_assets *a, mq_store *s, mq_err *err) {
    mq_buf b;
    mq_buf_init(&b, 0);
    mq_assets_serialize(a, &b);
    int rc = mq_store_put_blob(s, MQ_ASSETS_BLOB, b.data, b.len, err);
    mq_buf_free(&b);
    return rc;
}

int mq_assets_load(mq_assets *a, mq_store *s, mq_err *err) {
    void *data = NULL;
    size_t len = 0;
    int rc = mq_store_get_blob(s, MQ_ASSETS_BLOB, &data, &len, err);
    if (rc)
        return rc;
    rc = mq_assets_deserialize(a, data, len, err);
    mq_free(data);
    return rc;
}

static int observe_cb(void *ud, const mq_event *e) {
    mq_assets_observe(ud, e);
    return 0;
}

int mq_assets_catch_up(mq_assets *a, mq_store *s, mq_err *err) {
    mq_event_filter f = MQ_EVENT_FILTER_ALL;
    f.after_seq = a->last_seq;
    return mq_store_each_event(s, &f, observe_cb, a, err);
}
